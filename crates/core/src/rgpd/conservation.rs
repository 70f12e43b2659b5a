//! The retention job: deletes or pseudonymises what is past its period (see
//! [`super::durees`] and `docs/DONNEES-PERSONNELLES.md`), in one transaction
//! with its claim (`jobs::claim_in`, once a day across instances) and one
//! journal entry that holds counts only.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use super::durees::*;
use super::effacement::{self, Bilan};
use super::{ACTION_RETENTION, DAY, JOB};
use crate::db::Tx;
use crate::error::Result;
use crate::journal::{self, Actor, NewEntry};
use crate::{jobs, on_tx, Core};

/// What one run did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Rapport {
    /// Rows deleted (or fields cleared, `table.colonne`), per table.
    pub supprime: BTreeMap<String, u64>,
    /// Rows pseudonymised, per table.
    pub pseudonymise: BTreeMap<String, u64>,
    pub usagers_effaces: u64,
    pub comptes_effaces: u64,
}

impl Rapport {
    /// Total of rows touched.
    pub fn total(&self) -> u64 {
        self.supprime.values().sum::<u64>() + self.pseudonymise.values().sum::<u64>()
    }
}

/// Runs the job for `period` (AAAA-MM-JJ) as of `now` (µs), unless another run
/// (any instance) already claimed that period: then `None` and nothing is written.
pub async fn run_claimed(core: &Core, period: &str, now: i64) -> Result<Option<Rapport>> {
    let mut tx = core.db.begin().await?;
    if !jobs::claim_in(&mut tx, JOB, period).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    let rapport = apply(&mut tx, core, now).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(Actor::System, ACTION_RETENTION).details(json!({
            "periode": period,
            "supprime": rapport.supprime,
            "pseudonymise": rapport.pseudonymise,
            "usagers_effaces": rapport.usagers_effaces,
            "comptes_effaces": rapport.comptes_effaces,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(rapport))
}

/// Simple deletions: table, condition on `$1` (a limit instant, µs).
const DELETIONS: &[(&str, &str, i64)] = &[
    ("sessions", "expires_at < $1", 0),
    ("usagers_sessions", "expires_at < $1", 0),
    ("liens_connexion", "expires_at < $1", JETONS_EXPIRES),
    ("franceconnect_etats", "created_at < $1", PARCOURS_FRANCECONNECT),
    ("fc_simulateur_codes", "expires_at < $1", JETONS_EXPIRES),
    ("fc_simulateur_jetons", "expires_at < $1", JETONS_EXPIRES),
    ("oidc_codes", "expire_at < $1", JETONS_EXPIRES),
    ("oidc_jetons", "expire_at < $1", JETONS_EXPIRES),
    ("oidc_assertions_jti", "expire_at < $1", 0),
    ("oidc_deconnexions", "created_at < $1", JETONS_EXPIRES),
    ("fc_simulateur_federation", "expires_at < $1", JETONS_EXPIRES),
    ("proconnect_etats", "expires_at < $1", JETONS_EXPIRES),
    ("proconnect_liaisons", "expires_at < $1", JETONS_EXPIRES),
    ("pc_simulateur_codes", "expires_at < $1", JETONS_EXPIRES),
    ("pc_simulateur_jetons", "expires_at < $1", JETONS_EXPIRES),
    ("courriels", "created_at < $1", COURRIELS),
    ("rate_limits", "window_start < $1", COMPTEURS),
];

async fn exec(tx: &mut Tx, sql: &str, limit: i64) -> Result<u64> {
    Ok(on_tx!(tx, c => {
        sqlx::query(sql).bind(limit).execute(&mut *c).await?.rows_affected()
    }))
}

async fn ids(tx: &mut Tx, sql: &str, a: i64, b: i64) -> Result<Vec<i64>> {
    Ok(on_tx!(tx, c => {
        sqlx::query_scalar(sql).bind(a).bind(b).fetch_all(&mut *c).await?
    }))
}

fn put(map: &mut BTreeMap<String, u64>, k: &str, n: u64) {
    if n > 0 {
        *map.entry(k.to_string()).or_default() += n;
    }
}

/// The work of a run, in `tx`, without claim nor journal.
async fn apply(tx: &mut Tx, core: &Core, now: i64) -> Result<Rapport> {
    let mut r = Rapport::default();
    for (table, condition, days) in DELETIONS {
        let n = exec(tx, &format!("DELETE FROM {table} WHERE {condition}"), now - days * DAY).await?;
        put(&mut r.supprime, table, n);
    }
    // A lockout is kept while it holds, then for COMPTEURS days.
    let n = on_tx!(tx, c => {
        sqlx::query("DELETE FROM login_throttle WHERE updated_at < $1 AND locked_until < $2")
            .bind(now - COMPTEURS * DAY).bind(now).execute(&mut *c).await?.rows_affected()
    });
    put(&mut r.supprime, "login_throttle", n);
    // A beneficiary's contact serves reminders while the cheques are valid.
    let day = super::day_of(now - CONTACT_BENEFICIAIRE * DAY);
    let n = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE carnets SET contact = NULL WHERE contact IS NOT NULL \
             AND commande_id IN (SELECT id FROM commandes WHERE fin < $1)",
        )
        .bind(&day).execute(&mut *c).await?.rows_affected()
    });
    put(&mut r.supprime, "carnets.contact", n);

    let proof_limit = now - PREUVE_MANDAT * DAY;
    let mut people = Bilan::default();
    // Usagers: asked for erasure, or identified long ago; and no mandate whose proof is still due.
    let usagers = ids(
        tx,
        "SELECT id FROM usagers u WHERE efface_at IS NULL \
         AND (effacement_demande_at IS NOT NULL OR updated_at < $2) \
         AND NOT EXISTS (SELECT 1 FROM mandats m WHERE m.usager_id = u.id AND m.expires_at > $1) ORDER BY id",
        proof_limit,
        now - USAGER_SANS_MANDAT * DAY,
    )
    .await?;
    for id in &usagers {
        people.add(effacement::usager_in(tx, *id, now, false).await?);
    }
    // Accounts: asked for erasure, or deactivated long ago; and no mandate they concluded still to prove.
    let comptes = ids(
        tx,
        "SELECT id FROM accounts a WHERE efface_at IS NULL \
         AND (effacement_demande_at IS NOT NULL OR (active = FALSE AND updated_at < $2)) \
         AND NOT EXISTS (SELECT 1 FROM mandats m WHERE m.aidant_id = a.id AND m.expires_at > $1) ORDER BY id",
        proof_limit,
        now - COMPTE_DESACTIVE * DAY,
    )
    .await?;
    for id in &comptes {
        people.add(effacement::compte_in(tx, &core.keys, *id, now, false).await?);
    }
    for (k, v) in people.supprime {
        put(&mut r.supprime, &k, v);
    }
    for (k, v) in people.pseudonymise {
        put(&mut r.pseudonymise, &k, v);
    }
    r.usagers_effaces = usagers.len() as u64;
    r.comptes_effaces = comptes.len() as u64;
    Ok(r)
}
