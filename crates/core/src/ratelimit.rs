//! Counters kept in the database, so that limits hold across instances.

use crate::db::{Db, Tx};
use crate::error::Result;
use crate::{on_db, on_tx};

/// Counts one hit for `key` in a fixed window of `window_secs`; returns true when
/// the hit is within `limit`.
pub async fn hit(db: &Db, key: &str, limit: i64, window_secs: i64) -> Result<bool> {
    let now = db.now_micros();
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
#[must_use = "a counted failure must be kept or refunded"]
pub struct Counted {
    /// Each counter and the start of the window it was counted in.
    keys: Vec<(String, i64)>,
    window_secs: i64,
}

/// How long a request may wait for the checks in flight on its counter to end
/// (their counts given back) before it is refused.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The counter of the failures that really happened, beside the one that also
/// holds the checks in flight.
fn confirmed_key(key: &str) -> String {
    format!("{key}#echecs")
}

/// For limits on failures: counts the coming request as a failure on every
/// `(key, limit)` **before** it is evaluated, each in one atomic statement that
/// counts only below the limit, so that parallel requests cannot get more
/// evaluations than the limit between them. A request that turns out not to
/// fail gives its count back ([`Counted::refund`]); a failure stays
/// ([`Counted::keep`]).
///
/// `None` when the limit is reached by failures (nothing stays counted then).
/// When it is reached only because other checks are in flight (legitimate
/// parallel requests, most of which will give their count back), the request
/// waits for them, up to [`MAX_WAIT`], instead of being refused.
pub async fn count_failure(db: &Db, keys: &[(&str, i64)], window_secs: i64) -> Result<Option<Counted>> {
    let deadline = std::time::Instant::now() + MAX_WAIT;
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        let blocked = match count_all(db, keys, window_secs).await? {
            Ok(counted) => return Ok(Some(counted)),
            Err(blocked) => blocked,
        };
        let (key, limit) = keys[blocked];
        let failed = current(db, &confirmed_key(key), window_secs).await?;
        if failed >= limit || std::time::Instant::now() + pause > deadline {
            return Ok(None);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(100));
    }
}

/// One try of [`count_failure`]: all counted, or the index of the key at its limit.
async fn count_all(db: &Db, keys: &[(&str, i64)], window_secs: i64) -> Result<Result<Counted, usize>> {
    let mut counted = Counted {
        keys: Vec::with_capacity(keys.len()),
        window_secs,
    };
    for (i, (key, limit)) in keys.iter().enumerate() {
        match count_below(db, key, *limit, window_secs).await {
            Ok(Some(window_start)) => counted.keys.push(((*key).to_string(), window_start)),
            Ok(None) => {
                counted.refund(db).await?;
                return Ok(Err(i));
            }
            Err(e) => {
                // The counts already taken go back, whatever the error.
                let _ = counted.refund(db).await;
                return Err(e);
            }
        }
    }
    Ok(Ok(counted))
}

/// The hits of `key` in its current window.
async fn current(db: &Db, key: &str, window_secs: i64) -> Result<i64> {
    let window_floor = db.now_micros() - window_secs * 1_000_000;
    let hits: Option<i64> = on_db!(db, c => {
        sqlx::query_scalar("SELECT hits FROM rate_limits WHERE key = $1 AND window_start > $2")
            .bind(key)
            .bind(window_floor)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(hits.unwrap_or(0))
}

/// One more hit on `key` if it is below `limit` in its window (a window that
/// has ended starts again at 1): the start of the window counted in, or `None`.
async fn count_below(db: &Db, key: &str, limit: i64, window_secs: i64) -> Result<Option<i64>> {
    let now = db.now_micros();
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
    pub async fn refund(self, db: &Db) -> Result<()> {
        for (key, window_start) in &self.keys {
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

    /// The failure happened: the counts stay, and the failure is recorded as such
    /// (so that requests waiting on the counter know they must give up).
    pub async fn keep(self, db: &Db) -> Result<()> {
        for (key, _) in &self.keys {
            hit(db, &confirmed_key(key), i64::MAX, self.window_secs).await?;
        }
        Ok(())
    }
}

/// Removes counters whose window ended long ago (housekeeping).
pub async fn purge(db: &Db, older_than_secs: i64) -> Result<u64> {
    let floor = db.now_micros() - older_than_secs * 1_000_000;
    Ok(on_db!(db, c => {
        sqlx::query("DELETE FROM rate_limits WHERE window_start < $1").bind(floor).execute(&mut *c).await?.rows_affected()
    }))
}

/// Reads and locks the failure counters `keys` inside a write transaction
/// (the counter of cheques), in one statement: their failures in the current
/// window of `window_secs` (a window that has ended starts again at 0).
///
/// Nothing is counted in advance: the same transaction records the failures
/// it finds ([`add_failures`]) before it commits, and parallel requests on the
/// same counter wait for it (SQLite write transactions are serial; PostgreSQL
/// holds the counter's row lock until the commit), so a burst gets no more
/// evaluations than the limit. Keys are locked in sorted order.
pub async fn hold(tx: &mut Tx, keys: &[&str], window_secs: i64) -> Result<std::collections::HashMap<String, i64>> {
    let mut keys: Vec<&str> = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(Default::default());
    }
    let now = tx.now_micros();
    let floor = now - window_secs * 1_000_000;
    let values: Vec<String> = (0..keys.len()).map(|i| format!("(${}, $1, 0)", i + 3)).collect();
    let sql = format!(
        "INSERT INTO rate_limits (key, window_start, hits) VALUES {} \
         ON CONFLICT (key) DO UPDATE SET \
           hits = CASE WHEN rate_limits.window_start <= $2 THEN 0 ELSE rate_limits.hits END, \
           window_start = CASE WHEN rate_limits.window_start <= $2 THEN $1 ELSE rate_limits.window_start END \
         RETURNING key, hits",
        values.join(", ")
    );
    let rows: Vec<(String, i64)> = on_tx!(tx, c => {
        let mut q = sqlx::query_as(&sql).bind(now).bind(floor);
        for key in &keys {
            q = q.bind(*key);
        }
        q.fetch_all(&mut *c).await?
    });
    Ok(rows.into_iter().collect())
}

/// Adds failures to counters held by [`hold`] in the same transaction.
pub async fn add_failures(tx: &mut Tx, failures: &[(&str, i64)]) -> Result<()> {
    for (key, n) in failures {
        on_tx!(tx, c => {
            sqlx::query("UPDATE rate_limits SET hits = hits + $2 WHERE key = $1")
                .bind(*key)
                .bind(*n)
                .execute(&mut *c)
                .await?;
        });
    }
    Ok(())
}
