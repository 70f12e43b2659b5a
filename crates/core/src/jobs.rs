//! Scheduled jobs shared by several instances: a job runs once per period,
//! whichever instance claims it first (a row per job and period; the primary
//! key refuses the second claim).

use crate::db::now_micros;
use crate::error::CoreResult;
use crate::{on_db, Db};

/// Claims `name` for `period` (e.g. `2026-11-30`); false when it was already claimed.
pub async fn claim(db: &Db, name: &str, period: &str) -> CoreResult<bool> {
    let inserted = on_db!(db, c => {
        sqlx::query("INSERT INTO taches_planifiees (nom, periode, started_at) VALUES ($1, $2, $3) ON CONFLICT (nom, periode) DO NOTHING")
            .bind(name)
            .bind(period)
            .bind(now_micros())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(inserted == 1)
}
