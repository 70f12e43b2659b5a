//! The national dashboard (`/tableau-de-bord`, and the opérateur's richer
//! `/operateur/tableau-de-bord`): the plan's indicators against its targets,
//! trends by month and figures by département. Everything the pages show is
//! computed by [`donnees::compute`] and kept as a shared snapshot
//! ([`crate::agregats`]), so the pages stay fast with millions of rows.

pub mod donnees;

use crate::db::Db;
use crate::error::Result;
use crate::on_db;

/// Targets of the plan (brief: "Numbers from the plan").
pub const TARGET_QUALIFIED_PLACES: i64 = 1_000;
pub const TARGET_PASSES: i64 = 2_000_000;
pub const TARGET_CONSEILLERS: i64 = 4_000;

/// The national figures, counted now.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct National {
    pub lieux: i64,
    pub lieux_qualifies: i64,
    pub cheques_emis: i64,
    pub cheques_encaisses: i64,
    pub structures_aidants_connect: i64,
    pub aidants_actifs: i64,
    pub mandats_actifs: i64,
    pub utilisations_annee: i64,
    /// Minutes of accompaniment recorded in the activity log (all time).
    pub minutes_accompagnement: i64,
    /// People who recorded an accompaniment in the last 90 days.
    pub conseillers_actifs: i64,
}

/// Counts every indicator (each a direct count; indexes keep them cheap).
/// `active_since`: the first day (`AAAA-MM-JJ`) of the activity window.
pub async fn national(db: &Db, year_start_micros: i64, now_micros: i64, active_since: &str) -> Result<National> {
    type R = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
    let r: R = on_db!(db, c => {
        sqlx::query_as(
            "SELECT \
             (SELECT COUNT(*) FROM lieux), \
             (SELECT COUNT(*) FROM qualifications WHERE etat = 'active'), \
             (SELECT COUNT(*) FROM cheques), \
             (SELECT COUNT(*) FROM encaissements WHERE annule_at IS NULL), \
             (SELECT COUNT(*) FROM organisations WHERE kind = 'structure_habilitee'), \
             (SELECT COUNT(DISTINCT m.account_id) FROM aidants_membres m JOIN accounts a ON a.id = m.account_id \
                WHERE m.actif = TRUE AND a.active = TRUE), \
             (SELECT COUNT(DISTINCT a.mandat_id) FROM autorisations a JOIN mandats m ON m.id = a.mandat_id \
                WHERE a.revoquee_at IS NULL AND m.expires_at > $2), \
             (SELECT COUNT(*) FROM mandats_utilisations WHERE at >= $1), \
             (SELECT CAST(COALESCE(SUM(duree_minutes), 0) AS BIGINT) FROM activites), \
             (SELECT COUNT(DISTINCT compte_id) FROM activites WHERE jour >= $3)",
        )
        .bind(year_start_micros)
        .bind(now_micros)
        .bind(active_since)
        .fetch_one(&mut *c)
        .await?
    });
    Ok(National {
        lieux: r.0,
        lieux_qualifies: r.1,
        cheques_emis: r.2,
        cheques_encaisses: r.3,
        structures_aidants_connect: r.4,
        aidants_actifs: r.5,
        mandats_actifs: r.6,
        utilisations_annee: r.7,
        minutes_accompagnement: r.8,
        conseillers_actifs: r.9,
    })
}

/// A share of a target, in per-mille, for a progress display (capped at 1000).
pub fn per_mille(value: i64, target: i64) -> i64 {
    if target <= 0 {
        0
    } else {
        (i128::from(value.max(0)) * 1000 / i128::from(target)).min(1000) as i64
    }
}

/// Who may see the detailed dashboard (unsuppressed figures per département,
/// amounts) and force its recomputation: the opérateur only.
pub fn authorize_detail(who: &crate::accounts::Principal) -> crate::error::Result<()> {
    if who.role == crate::accounts::Role::Operateur {
        Ok(())
    } else {
        Err(crate::error::CoreError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::per_mille;

    #[test]
    fn progress_is_capped_and_safe() {
        assert_eq!(per_mille(500, 1000), 500);
        assert_eq!(per_mille(5_000, 1000), 1000);
        assert_eq!(per_mille(1, 0), 0);
        assert_eq!(per_mille(i64::MAX, 2_000_000), 1000);
    }
}
