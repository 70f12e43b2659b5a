//! Business counters for monitoring (`/metrics`): what an operations team
//! watches besides request rates — cheques by state, redemptions, mandates,
//! the journal's head and last checkpoint, the e-mail queue, the last run of
//! each scheduled job. They are counted from the database and kept as a shared
//! snapshot ([`crate::agregats`]), so that scraping several instances every few
//! seconds costs one count per [`MAX_AGE`], not one per scrape and instance.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::agregats;
use crate::error::Result;
use crate::identifiants::Centimes;
use crate::{on_db, Core};

/// Name of the snapshot in the table `agregats`.
const SNAPSHOT: &str = "metriques";

/// How old the counters may be (a scrape interval is typically 15 to 60 s).
pub const MAX_AGE: Duration = Duration::from_secs(30);

/// The counters, as of [`Compteurs::calcule_at`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compteurs {
    /// Cheques by state (`emis`, `remis`, `encaisse`, …).
    pub cheques_par_etat: Vec<(String, i64)>,
    /// Redemptions not cancelled, and their value.
    pub encaissements: i64,
    pub encaissements_centimes: Centimes,
    pub encaissements_annules: i64,
    pub lieux: i64,
    pub lieux_qualifies: i64,
    /// Mandates with at least one authorisation neither revoked nor expired.
    pub mandats_actifs: i64,
    pub utilisations_mandats: i64,
    /// Highest sequence number of the journal (0 when empty).
    pub journal_entrees: i64,
    /// Sequence number and time (µs) of the last signed checkpoint.
    pub journal_point_de_controle: i64,
    pub journal_point_de_controle_at: i64,
    /// E-mails waiting to be sent, and those among them that already failed once.
    pub courriels_en_attente: i64,
    pub courriels_en_echec: i64,
    /// Sessions of staff accounts not yet expired.
    pub sessions_actives: i64,
    /// Last start (µs) of each scheduled job, by name.
    pub taches: Vec<(String, i64)>,
}

/// The counters, at most [`MAX_AGE`] old (or older while one instance
/// recomputes them), with the time they were counted (µs since the epoch).
pub async fn compteurs(core: &Core, max_age: Duration) -> Result<(Compteurs, i64)> {
    let snapshot = agregats::get(core, SNAPSHOT, max_age, |core| async move { compter(&core).await }).await?;
    Ok((snapshot.data, snapshot.computed_at))
}

/// Counts everything now.
pub async fn compter(core: &Core) -> Result<Compteurs> {
    let now = core.db.now_micros();
    type R = (i64, Centimes, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
    let r: R = on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT \
             (SELECT COUNT(*) FROM encaissements WHERE annule_at IS NULL), \
             (SELECT CAST(COALESCE(SUM(valeur_centimes), 0) AS BIGINT) FROM encaissements WHERE annule_at IS NULL), \
             (SELECT COUNT(*) FROM encaissements WHERE annule_at IS NOT NULL), \
             (SELECT COUNT(*) FROM lieux), \
             (SELECT COUNT(*) FROM qualifications WHERE etat = 'active'), \
             (SELECT COUNT(DISTINCT a.mandat_id) FROM autorisations a JOIN mandats m ON m.id = a.mandat_id \
                WHERE a.revoquee_at IS NULL AND m.expires_at > $1), \
             (SELECT COUNT(*) FROM mandats_utilisations), \
             (SELECT COALESCE(MAX(seq), 0) FROM journal), \
             (SELECT COALESCE(MAX(seq), 0) FROM journal_checkpoints), \
             (SELECT COALESCE(MAX(at), 0) FROM journal_checkpoints), \
             (SELECT COUNT(*) FROM courriels WHERE envoye_at IS NULL), \
             (SELECT COUNT(*) FROM courriels WHERE envoye_at IS NULL AND tentatives > 0), \
             (SELECT COUNT(*) FROM sessions WHERE expires_at > $1)",
        )
        .bind(now)
        .fetch_one(&mut *c)
        .await?
    });
    let cheques_par_etat: Vec<(String, i64)> = on_db!(&core.db, c => {
        sqlx::query_as("SELECT etat, COUNT(*) FROM cheques GROUP BY etat ORDER BY etat")
            .fetch_all(&mut *c)
            .await?
    });
    let taches: Vec<(String, i64)> = on_db!(&core.db, c => {
        sqlx::query_as("SELECT nom, MAX(started_at) FROM taches_planifiees GROUP BY nom ORDER BY nom")
            .fetch_all(&mut *c)
            .await?
    });
    Ok(Compteurs {
        cheques_par_etat,
        encaissements: r.0,
        encaissements_centimes: r.1,
        encaissements_annules: r.2,
        lieux: r.3,
        lieux_qualifies: r.4,
        mandats_actifs: r.5,
        utilisations_mandats: r.6,
        journal_entrees: r.7,
        journal_point_de_controle: r.8,
        journal_point_de_controle_at: r.9,
        courriels_en_attente: r.10,
        courriels_en_echec: r.11,
        sessions_actives: r.12,
        taches,
    })
}
