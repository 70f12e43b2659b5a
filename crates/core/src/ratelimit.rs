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

/// Whether `key` is still below `limit` in its current window, without counting a hit
/// (for limits on failures: check first, count only what failed).
pub async fn below(db: &Db, key: &str, limit: i64, window_secs: i64) -> CoreResult<bool> {
    let window_floor = now_micros() - window_secs * 1_000_000;
    let hits: Option<i64> = on_db!(db, c => {
        sqlx::query_scalar("SELECT hits FROM rate_limits WHERE key = $1 AND window_start > $2")
            .bind(key)
            .bind(window_floor)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(hits.unwrap_or(0) < limit)
}

/// Removes counters whose window ended long ago (housekeeping).
pub async fn purge(db: &Db, older_than_secs: i64) -> CoreResult<u64> {
    let floor = now_micros() - older_than_secs * 1_000_000;
    Ok(on_db!(db, c => {
        sqlx::query("DELETE FROM rate_limits WHERE window_start < $1").bind(floor).execute(&mut *c).await?.rows_affected()
    }))
}
