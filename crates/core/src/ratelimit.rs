//! Counters kept in the database, so that limits hold across instances.

use crate::db::{now_micros, Db};
use crate::error::CoreResult;
use crate::on_db;

/// Counts one hit for `key` in a fixed window of `window_secs`; returns true when
/// the hit is within `limit`.
pub async fn hit(db: &Db, key: &str, limit: i64, window_secs: i64) -> CoreResult<bool> {
    let now = now_micros();
    let window_floor = now - window_secs * 1_000_000;
    let hits: i64 = on_db!(db, c => {
        sqlx::query_scalar(
            "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               hits = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.hits + 1 END, \
               window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END \
             RETURNING hits",
        )
        .bind(key)
        .bind(now)
        .bind(window_floor)
        .fetch_one(&mut *c)
        .await?
    });
    Ok(hits <= limit)
}

/// Failures counted in advance by [`count_failure`], on one or several counters.
#[derive(Debug)]
#[must_use = "a counted failure that did not happen must be refunded"]
pub struct Counted(Vec<(String, i64)>);

/// For limits on failures: counts the coming request as a failure on every
/// `(key, limit)` **before** it is evaluated, each in one atomic statement that
/// counts only below the limit, so that parallel requests cannot get more
/// evaluations than the limit between them. `None` when one counter is at its
/// limit (nothing stays counted then). A request that turns out not to fail
/// gives its count back with [`Counted::refund`].
pub async fn count_failure(db: &Db, keys: &[(&str, i64)], window_secs: i64) -> CoreResult<Option<Counted>> {
    let mut counted = Counted(Vec::with_capacity(keys.len()));
    for (key, limit) in keys {
        match count_below(db, key, *limit, window_secs).await {
            Ok(Some(window_start)) => counted.0.push(((*key).to_string(), window_start)),
            Ok(None) => {
                counted.refund(db).await?;
                return Ok(None);
            }
            Err(e) => {
                // The counts already taken go back, whatever the error.
                let _ = counted.refund(db).await;
                return Err(e);
            }
        }
    }
    Ok(Some(counted))
}

/// One more hit on `key` if it is below `limit` in its window (a window that
/// has ended starts again at 1): the start of the window counted in, or `None`.
async fn count_below(db: &Db, key: &str, limit: i64, window_secs: i64) -> CoreResult<Option<i64>> {
    let now = now_micros();
    let window_floor = now - window_secs * 1_000_000;
    Ok(on_db!(db, c => {
        sqlx::query_scalar(
            "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               hits = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.hits + 1 END, \
               window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END \
             WHERE rate_limits.window_start <= $3 OR rate_limits.hits < $4 \
             RETURNING window_start",
        )
        .bind(key)
        .bind(now)
        .bind(window_floor)
        .bind(limit)
        .fetch_optional(&mut *c)
        .await?
    }))
}

impl Counted {
    /// Gives the counts back (the request did not fail), in the windows they were
    /// taken in: a window that has started again since is left alone.
    pub async fn refund(self, db: &Db) -> CoreResult<()> {
        for (key, window_start) in &self.0 {
            on_db!(db, c => {
                sqlx::query("UPDATE rate_limits SET hits = hits - 1 WHERE key = $1 AND window_start = $2 AND hits > 0")
                    .bind(key)
                    .bind(*window_start)
                    .execute(&mut *c)
                    .await?;
            });
        }
        Ok(())
    }

    /// The failure happened: the counts stay.
    pub fn keep(self) {}
}

/// Removes counters whose window ended long ago (housekeeping).
pub async fn purge(db: &Db, older_than_secs: i64) -> CoreResult<u64> {
    let floor = now_micros() - older_than_secs * 1_000_000;
    Ok(on_db!(db, c => {
        sqlx::query("DELETE FROM rate_limits WHERE window_start < $1").bind(floor).execute(&mut *c).await?.rows_affected()
    }))
}
