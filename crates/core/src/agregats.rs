//! Aggregates computed from millions of rows, kept in the database and shared
//! by every instance (table `agregats`): a page reads one small row instead of
//! counting again. A snapshot older than its maximum age is served as it is
//! while **one** instance recomputes it in the background (it claims the
//! recomputation with a conditional update, so two instances never do it at
//! once). A missing snapshot (new database, or one written by another version
//! of the program) is computed at once by the instance that claims it, while
//! the others wait for it; a maximum age of zero (tests) computes every time.

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{CoreError, Result};
use crate::{on_db, Core};

/// How long a claim to recompute lasts: after it, another instance may try
/// (the first one crashed or is stuck). Far above the few seconds a
/// recomputation takes at national scale (`BENCHMARKS.md`).
const CLAIM_MICROS: i64 = 600 * 1_000_000;

/// How long a caller waits for another instance computing a missing snapshot
/// before computing it itself.
const WAIT: Duration = Duration::from_secs(30);

/// A stored snapshot and when it was computed (µs since the epoch).
#[derive(Debug, Clone)]
pub struct Snapshot<T> {
    pub data: T,
    pub computed_at: i64,
}

/// What the table holds for a name.
enum Stored<T> {
    Missing,
    /// A placeholder being computed, or a snapshot of another version
    /// (with the `calcule_at` read).
    Unusable(i64),
    Ready(Snapshot<T>),
}

async fn read<T: DeserializeOwned>(core: &Core, name: &str) -> Result<Stored<T>> {
    let row: Option<(String, i64)> = on_db!(&core.db, c => {
        sqlx::query_as("SELECT contenu, calcule_at FROM agregats WHERE nom = $1")
            .bind(name)
            .fetch_optional(&mut *c)
            .await?
    });
    let Some((json, computed_at)) = row else {
        return Ok(Stored::Missing);
    };
    if json.is_empty() {
        return Ok(Stored::Unusable(computed_at));
    }
    match serde_json::from_str(&json) {
        Ok(data) => Ok(Stored::Ready(Snapshot { data, computed_at })),
        Err(e) => {
            tracing::info!(agregat = name, erreur = %e, "agrégat d'une autre version : recalcul");
            Ok(Stored::Unusable(computed_at))
        }
    }
}

/// Creates the placeholder of a missing snapshot, claimed by this caller;
/// false when another caller created it first.
async fn create_claimed(core: &Core, name: &str, now: i64) -> Result<bool> {
    let created: Option<String> = on_db!(&core.db, c => {
        sqlx::query_scalar(
            "INSERT INTO agregats (nom, contenu, calcule_at, recalcul_jusqu_a) VALUES ($1, '', 0, $2) \
             ON CONFLICT (nom) DO NOTHING RETURNING nom",
        )
        .bind(name)
        .bind(now + CLAIM_MICROS)
        .fetch_optional(&mut *c)
        .await?
    });
    Ok(created.is_some())
}

/// Gives the claim back after a failed computation.
async fn release(core: &Core, name: &str) {
    let r: Result<()> = async {
        on_db!(&core.db, c => {
            sqlx::query("UPDATE agregats SET recalcul_jusqu_a = NULL WHERE nom = $1")
                .bind(name)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }
    .await;
    if let Err(e) = r {
        tracing::warn!(agregat = name, erreur = %e, "réservation du recalcul non rendue");
    }
}

async fn write<T: Serialize>(core: &Core, name: &str, data: &T, computed_at: i64) -> Result<()> {
    let json = serde_json::to_string(data).map_err(|e| CoreError::Io(format!("agrégat {name} : {e}")))?;
    on_db!(&core.db, c => {
        sqlx::query(
            "INSERT INTO agregats (nom, contenu, calcule_at, recalcul_jusqu_a) VALUES ($1, $2, $3, NULL) \
             ON CONFLICT (nom) DO UPDATE SET contenu = excluded.contenu, calcule_at = excluded.calcule_at, \
             recalcul_jusqu_a = NULL",
        )
        .bind(name)
        .bind(json)
        .bind(computed_at)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// Claims the recomputation of `name`, as read when computed at `seen`;
/// false when another instance holds it, or has just stored a newer one.
async fn claim(core: &Core, name: &str, now: i64, seen: i64) -> Result<bool> {
    let n = on_db!(&core.db, c => {
        sqlx::query(
            "UPDATE agregats SET recalcul_jusqu_a = $2 WHERE nom = $1 AND calcule_at = $4 \
             AND (recalcul_jusqu_a IS NULL OR recalcul_jusqu_a < $3)",
        )
        .bind(name)
        .bind(now + CLAIM_MICROS)
        .bind(now)
        .bind(seen)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// Computes `name` now and stores it.
pub async fn refresh<T, F, Fut>(core: &Core, name: &str, compute: F) -> Result<Snapshot<T>>
where
    T: Serialize,
    F: FnOnce(Core) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let computed_at = core.db.now_micros();
    let data = match compute(core.clone()).await {
        Ok(d) => d,
        Err(e) => {
            release(core, name).await;
            return Err(e);
        }
    };
    write(core, name, &data, computed_at).await?;
    Ok(Snapshot { data, computed_at })
}

/// The snapshot `name`, at most `max_age` old — or older while one instance
/// recomputes it in the background.
pub async fn get<T, F, Fut>(core: &Core, name: &'static str, max_age: Duration, compute: F) -> Result<Snapshot<T>>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    F: FnOnce(Core) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    let max = i64::try_from(max_age.as_micros()).unwrap_or(i64::MAX);
    if max == 0 {
        return refresh(core, name, compute).await;
    }
    let started = std::time::Instant::now();
    loop {
        let now = core.db.now_micros();
        match read::<T>(core, name).await? {
            Stored::Ready(current) => {
                if now.saturating_sub(current.computed_at) > max && claim(core, name, now, current.computed_at).await? {
                    let core = core.clone();
                    tokio::spawn(async move {
                        if let Err(e) = refresh(&core, name, compute).await {
                            tracing::warn!(agregat = name, erreur = %e, "recalcul de l'agrégat en échec");
                        }
                    });
                }
                return Ok(current);
            }
            Stored::Missing if create_claimed(core, name, now).await? => {
                return refresh(core, name, compute).await;
            }
            Stored::Unusable(seen) if claim(core, name, now, seen).await? => {
                return refresh(core, name, compute).await;
            }
            // Another caller is computing it: wait for it, up to a point.
            _ if started.elapsed() < WAIT => tokio::time::sleep(Duration::from_millis(200)).await,
            _ => return refresh(core, name, compute).await,
        }
    }
}
