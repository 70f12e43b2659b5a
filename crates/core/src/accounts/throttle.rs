//! Lockout with back-off after repeated login or TOTP failures, stored in the
//! database so that it holds across instances.

use crate::db::{now_micros, Db, Tx};
use crate::error::CoreResult;
use crate::{on_db, on_tx};

/// Failures allowed before the first lock.
pub const FREE_FAILURES: i64 = 5;
/// The first lock lasts this long, then doubles at each further failure.
const FIRST_LOCK_SECS: i64 = 60;
const MAX_LOCK_SECS: i64 = 3600;

/// Seconds left before `key` may try again, if it is locked.
pub async fn locked_for(db: &Db, key: &str) -> CoreResult<Option<i64>> {
    let until: Option<i64> = on_db!(db, c => {
        sqlx::query_scalar("SELECT locked_until FROM login_throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut *c)
            .await?
    });
    let now = now_micros();
    Ok(until.filter(|u| *u > now).map(|u| (u - now + 999_999) / 1_000_000))
}

/// Records a failure; returns the lock duration in seconds if this failure locks `key`.
pub async fn record_failure(tx: &mut Tx, key: &str) -> CoreResult<Option<i64>> {
    let now = now_micros();
    let failures: i64 = on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO login_throttle (key, failures, locked_until, updated_at) VALUES ($1, 1, 0, $2) \
             ON CONFLICT (key) DO UPDATE SET failures = login_throttle.failures + 1, updated_at = $2 \
             RETURNING failures",
        )
        .bind(key)
        .bind(now)
        .fetch_one(&mut *c)
        .await?
    });
    if failures < FREE_FAILURES {
        return Ok(None);
    }
    let secs = lock_secs(failures);
    on_tx!(tx, c => {
        sqlx::query("UPDATE login_throttle SET locked_until = $2 WHERE key = $1")
            .bind(key)
            .bind(now + secs * 1_000_000)
            .execute(&mut *c)
            .await?;
    });
    Ok(Some(secs))
}

/// The lock after the n-th consecutive failure: 1 min at the 5th, doubling, at most 1 h.
pub fn lock_secs(failures: i64) -> i64 {
    let doublings = (failures - FREE_FAILURES).clamp(0, 12) as u32;
    (FIRST_LOCK_SECS << doublings).min(MAX_LOCK_SECS)
}

/// Forgets the failures of `key` (after a success).
pub async fn reset(tx: &mut Tx, key: &str) -> CoreResult<()> {
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(key).execute(&mut *c).await?;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn back_off_doubles_and_is_capped() {
        assert_eq!(super::lock_secs(5), 60);
        assert_eq!(super::lock_secs(6), 120);
        assert_eq!(super::lock_secs(7), 240);
        assert_eq!(super::lock_secs(50), 3600);
    }
}
