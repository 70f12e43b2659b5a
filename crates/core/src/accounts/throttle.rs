//! Lockout with back-off after repeated login or TOTP failures, stored in the
//! database so that it holds across instances.

use crate::db::Tx;
use crate::error::Result;
use crate::on_tx;

/// Failures allowed before the first lock.
pub const FREE_FAILURES: i64 = 5;
/// The first lock lasts this long, then doubles at each further failure.
const FIRST_LOCK_SECS: i64 = 60;
const MAX_LOCK_SECS: i64 = 3600;

/// What an attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Go on; if `locks_for` is set, this attempt used the last free try and a
    /// lock of that many seconds now applies to the following ones (unless it succeeds).
    Allowed { locks_for: Option<i64> },
    /// Refused without checking anything: locked for this many more seconds.
    Locked(i64),
}

/// Counts an attempt for `key` **before** it is checked, in its own short
/// transaction, so that a burst of parallel requests cannot get more tries
/// than allowed. A success calls [`reset`] afterwards.
pub async fn attempt(db: &crate::db::Db, key: &str) -> Result<Attempt> {
    let now = db.now_micros();
    let mut tx = db.begin().await?;
    let (failures, locked_until): (i64, i64) = on_tx!(&mut tx, c => {
        sqlx::query_as(
            "INSERT INTO login_throttle (key, failures, locked_until, updated_at) VALUES ($1, 1, 0, $2) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN login_throttle.locked_until > $2 THEN login_throttle.failures ELSE login_throttle.failures + 1 END, \
               updated_at = $2 \
             RETURNING failures, locked_until",
        )
        .bind(key)
        .bind(now)
        .fetch_one(&mut *c)
        .await?
    });
    if locked_until > now {
        tx.commit().await?;
        return Ok(Attempt::Locked((locked_until - now + 999_999) / 1_000_000));
    }
    let locks_for = if failures >= FREE_FAILURES {
        let secs = lock_secs(failures);
        on_tx!(&mut tx, c => {
            sqlx::query("UPDATE login_throttle SET locked_until = $2 WHERE key = $1")
                .bind(key)
                .bind(now + secs * 1_000_000)
                .execute(&mut *c)
                .await?;
        });
        Some(secs)
    } else {
        None
    };
    tx.commit().await?;
    Ok(Attempt::Allowed { locks_for })
}

/// The lock after the n-th consecutive failure: 1 min at the 5th, doubling, at most 1 h.
pub fn lock_secs(failures: i64) -> i64 {
    let doublings = (failures - FREE_FAILURES).clamp(0, 12) as u32;
    (FIRST_LOCK_SECS << doublings).min(MAX_LOCK_SECS)
}

/// What a locked person reads (login page, account forms), in French.
pub fn lock_message(secs: i64) -> String {
    format!(
        "Trop de tentatives infructueuses. Par sécurité, réessayez dans {} minute{}.",
        secs.div_euclid(60).max(1) + i64::from(secs % 60 > 0 && secs > 60),
        if secs > 60 { "s" } else { "" }
    )
}

/// Forgets the failures of `key` (after a success).
pub async fn reset(tx: &mut Tx, key: &str) -> Result<()> {
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
