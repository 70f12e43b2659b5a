//! Scheduled jobs shared by several instances: a job runs once per period,
//! whichever instance claims it first (a row per job and period; the primary
//! key refuses the second claim).

use crate::db::Tx;
use crate::error::Result;
use crate::{on_db, on_tx, Db};

/// Claims `name` for `period` (e.g. `2026-11-30`); false when it was already claimed.
pub async fn claim(db: &Db, name: &str, period: &str) -> Result<bool> {
    let inserted = on_db!(db, c => {
        sqlx::query("INSERT INTO taches_planifiees (nom, periode, started_at) VALUES ($1, $2, $3) ON CONFLICT (nom, periode) DO NOTHING")
            .bind(name)
            .bind(period)
            .bind(db.now_micros())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(inserted == 1)
}

/// Claims `name` for `period` inside the caller's transaction, so that the
/// claim and the job's work commit (or vanish) together. Another transaction
/// claiming the same period waits for this one, then finds it taken.
pub async fn claim_in(tx: &mut Tx, name: &str, period: &str) -> Result<bool> {
    let inserted = on_tx!(tx, c => {
        sqlx::query("INSERT INTO taches_planifiees (nom, periode, started_at) VALUES ($1, $2, $3) ON CONFLICT (nom, periode) DO NOTHING")
            .bind(name)
            .bind(period)
            .bind(tx.horloge.now_micros())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(inserted == 1)
}
