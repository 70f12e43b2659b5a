//! Aggregates computed from millions of rows, kept in the database and shared
//! by every instance (table `agregats`): a page reads one small row instead of
//! counting again. A snapshot older than its maximum age is served as it is
//! while **one** instance recomputes it in the background (it claims the
//! recomputation with a conditional update, so two instances never do it at
//! once); a missing snapshot, or a maximum age of zero, is computed at once.

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::db::now_micros;
use crate::error::{CoreError, CoreResult};
use crate::{on_db, Core};

/// How long a claim to recompute lasts: after it, another instance may try
/// (the first one crashed or is stuck).
const CLAIM_MICROS: i64 = 120 * 1_000_000;

/// A stored snapshot and when it was computed (µs since the epoch).
#[derive(Debug, Clone)]
pub struct Snapshot<T> {
    pub data: T,
    pub computed_at: i64,
}

async fn read<T: DeserializeOwned>(core: &Core, name: &str) -> CoreResult<Option<Snapshot<T>>> {
    let row: Option<(String, i64)> = on_db!(&core.db, c => {
        sqlx::query_as("SELECT contenu, calcule_at FROM agregats WHERE nom = $1")
            .bind(name)
            .fetch_optional(&mut *c)
            .await?
    });
    let Some((json, computed_at)) = row else {
        return Ok(None);
    };
    match serde_json::from_str(&json) {
        Ok(data) => Ok(Some(Snapshot { data, computed_at })),
        // A snapshot from an older version of the program: recompute it.
        Err(e) => {
            tracing::info!(agregat = name, erreur = %e, "agrégat d'une autre version : recalcul");
            Ok(None)
        }
    }
}

async fn write<T: Serialize>(core: &Core, name: &str, data: &T, computed_at: i64) -> CoreResult<()> {
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

/// Claims the recomputation of `name`; false when another instance holds it.
async fn claim(core: &Core, name: &str, now: i64) -> CoreResult<bool> {
    let n = on_db!(&core.db, c => {
        sqlx::query(
            "UPDATE agregats SET recalcul_jusqu_a = $2 WHERE nom = $1 \
             AND (recalcul_jusqu_a IS NULL OR recalcul_jusqu_a < $3)",
        )
        .bind(name)
        .bind(now + CLAIM_MICROS)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// Computes `name` now and stores it.
pub async fn refresh<T, F, Fut>(core: &Core, name: &str, compute: F) -> CoreResult<Snapshot<T>>
where
    T: Serialize,
    F: FnOnce(Core) -> Fut,
    Fut: Future<Output = CoreResult<T>>,
{
    let computed_at = now_micros();
    let data = compute(core.clone()).await?;
    write(core, name, &data, computed_at).await?;
    Ok(Snapshot { data, computed_at })
}

/// The snapshot `name`, at most `max_age` old — or older while one instance
/// recomputes it in the background.
pub async fn get<T, F, Fut>(core: &Core, name: &'static str, max_age: Duration, compute: F) -> CoreResult<Snapshot<T>>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    F: FnOnce(Core) -> Fut + Send + 'static,
    Fut: Future<Output = CoreResult<T>> + Send + 'static,
{
    let now = now_micros();
    let max = i64::try_from(max_age.as_micros()).unwrap_or(i64::MAX);
    let Some(current) = read::<T>(core, name).await? else {
        return refresh(core, name, compute).await;
    };
    if max == 0 {
        return refresh(core, name, compute).await;
    }
    if now.saturating_sub(current.computed_at) > max && claim(core, name, now).await? {
        let core = core.clone();
        tokio::spawn(async move {
            if let Err(e) = refresh(&core, name, compute).await {
                tracing::warn!(agregat = name, erreur = %e, "recalcul de l'agrégat en échec");
            }
        });
    }
    Ok(current)
}
