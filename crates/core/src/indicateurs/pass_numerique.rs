//! Open data: the Pass Numérique per département, public and month
//! (`/open-data/pass-numerique-departements-publics.csv` and `.json`). Every
//! département of the official list × every public of the vocabulary (and
//! `non-renseigne`) × every month from the first with data, zero rows kept;
//! counts from 1 to 4 suppressed, and the value redeemed with them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{cell, current_month, month_of_micros, month_range, publish, write_csv};
use crate::error::Result;
use crate::identifiants::Centimes;
use crate::pass_numerique::model::Public;
use crate::{on_db, Core};

/// The public of booklets handed out without one.
pub const UNKNOWN_PUBLIC: &str = "non-renseigne";

/// The columns and their meaning.
pub const COLUMNS: [(&str, &str); 6] = [
    ("departement", "code officiel du département (INSEE ; 2A, 2B, 971 à 976 compris)"),
    (
        "public",
        "public du bénéficiaire déclaré à la remise du carnet (tout-public, jeunes, etudiants, familles, seniors, femmes, demandeurs-emploi, personnes-handicapees, minima-sociaux ; non-renseigne sinon)",
    ),
    ("mois", "mois, au format AAAA-MM (heure de Paris)"),
    (
        "carnets_remis",
        "carnets remis ce mois-là à des bénéficiaires de ce public résidant dans le département (commune déclarée à la remise)",
    ),
    (
        "cheques_encaisses",
        "chèques de carnets de ce public encaissés ce mois-là (heure de Paris) dans les lieux du département, annulations déduites",
    ),
    (
        "valeur_encaissee_euros",
        "valeur faciale de ces chèques, en euros (non publiée quand le nombre de chèques ne l'est pas)",
    ),
];

/// One published row; `None` = suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub departement: String,
    pub public: String,
    pub mois: String,
    pub carnets_remis: Option<i64>,
    pub cheques_encaisses: Option<i64>,
    /// Euros with two decimals and a dot ("12.50").
    pub valeur_encaissee_euros: Option<String>,
}

/// The published rows and their date (shared snapshot).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Published {
    pub rows: Vec<Row>,
    pub last_modified: Option<i64>,
}

/// Name of the snapshot in `agregats`.
pub const SNAPSHOT: &str = "pass-numerique-departements-publics";

/// Raw counts per (département, public, month).
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub handed_out: BTreeMap<(String, String, String), i64>,
    /// (count, face value)
    pub redeemed: BTreeMap<(String, String, String), (i64, Centimes)>,
    pub departements: BTreeSet<String>,
    pub last_modified: Option<i64>,
}

fn public_key(p: Option<String>) -> String {
    match p {
        Some(p) if Public::ALL.iter().any(|x| x.key() == p) => p,
        _ => UNKNOWN_PUBLIC.to_string(),
    }
}

/// Reads the counts from the database.
pub async fn counts(core: &Core) -> Result<Counts> {
    let db = &core.db;
    let mut c = Counts::default();
    let deps: Vec<String> =
        on_db!(db, x => sqlx::query_scalar("SELECT code FROM territoires_departements").fetch_all(&mut *x).await?);
    c.departements.extend(deps);
    let redeemed: Vec<(String, Option<String>, String, i64, Centimes)> = on_db!(db, x => {
        sqlx::query_as(
            "SELECT l.departement, k.public, SUBSTR(e.jour, 1, 7), COUNT(*), CAST(SUM(e.valeur_centimes) AS BIGINT) \
             FROM encaissements e JOIN lieux l ON l.id = e.lieu_id JOIN carnets k ON k.numero = e.carnet_id \
             WHERE e.annule_at IS NULL AND l.departement <> '' \
             GROUP BY l.departement, k.public, SUBSTR(e.jour, 1, 7)",
        )
        .fetch_all(&mut *x)
        .await?
    });
    for (d, p, m, n, cents) in redeemed {
        c.departements.insert(d.clone());
        let e = c.redeemed.entry((d, public_key(p), m)).or_default();
        e.0 += n;
        e.1 += cents;
    }
    let handed: Vec<(String, Option<String>, i64)> = on_db!(db, x => {
        sqlx::query_as(
            "SELECT co.departement, k.public, k.remis_at FROM carnets k JOIN territoires_communes co ON co.code = k.commune \
             WHERE k.remis_at IS NOT NULL",
        )
        .fetch_all(&mut *x)
        .await?
    });
    for (d, p, at) in handed {
        c.departements.insert(d.clone());
        *c.handed_out.entry((d, public_key(p), month_of_micros(at))).or_default() += 1;
    }
    let latest: (Option<i64>, Option<i64>) = on_db!(db, x => {
        sqlx::query_as("SELECT (SELECT MAX(COALESCE(annule_at, at)) FROM encaissements), (SELECT MAX(remis_at) FROM carnets)")
            .fetch_one(&mut *x)
            .await?
    });
    c.last_modified = latest.0.max(latest.1);
    Ok(c)
}

/// The published rows for months up to `current`.
pub fn rows(c: &Counts, current: &str) -> Vec<Row> {
    let first = c
        .handed_out
        .keys()
        .chain(c.redeemed.keys())
        .map(|(_, _, m)| m.as_str())
        .min()
        .unwrap_or(current)
        .min(current)
        .to_string();
    let months = month_range(&first, current);
    let publics: Vec<&str> = Public::ALL.iter().map(|p| p.key()).chain([UNKNOWN_PUBLIC]).collect();
    let mut out = Vec::with_capacity(c.departements.len() * publics.len() * months.len());
    for d in &c.departements {
        for p in &publics {
            for m in &months {
                let key = (d.clone(), p.to_string(), m.clone());
                let (n, cents) = c.redeemed.get(&key).copied().unwrap_or_default();
                let redeemed = publish(n);
                out.push(Row {
                    departement: d.clone(),
                    public: p.to_string(),
                    mois: m.clone(),
                    carnets_remis: publish(c.handed_out.get(&key).copied().unwrap_or(0)),
                    cheques_encaisses: redeemed,
                    valeur_encaissee_euros: redeemed.map(|_| cents.decimal()),
                });
            }
        }
    }
    // Secondary suppression: in each département and month, the publics add
    // up to the cheques of the monthly indicators file.
    let mut groups: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, r) in out.iter().enumerate() {
        groups
            .entry((r.departement.as_str(), r.mois.as_str()))
            .or_default()
            .push(i);
    }
    let mut hide = Vec::new();
    for idx in groups.values() {
        let raw: Vec<i64> = idx
            .iter()
            .map(|&i| {
                let r = &out[i];
                c.redeemed
                    .get(&(r.departement.clone(), r.public.clone(), r.mois.clone()))
                    .map_or(0, |x| x.0)
            })
            .collect();
        let shown: Vec<bool> = idx.iter().map(|&i| out[i].cheques_encaisses.is_some()).collect();
        hide.extend(super::second_cell(&raw, &shown).map(|k| idx[k]));
    }
    for i in hide {
        out[i].cheques_encaisses = None;
        out[i].valeur_encaissee_euros = None;
    }
    out
}

/// Counts and builds the published rows now.
pub async fn compute(core: Core) -> Result<Published> {
    let c = counts(&core).await?;
    Ok(Published {
        rows: rows(&c, &current_month(core.db.horloge())),
        last_modified: c.last_modified,
    })
}

/// The published rows, at most `max_age` old.
pub async fn published(core: &Core, max_age: std::time::Duration) -> Result<Published> {
    Ok(crate::agregats::get(core, SNAPSHOT, max_age, compute).await?.data)
}

/// The CSV file (header of [`COLUMNS`]).
pub fn to_csv(rows: &[Row]) -> Result<Vec<u8>> {
    write_csv(
        &COLUMNS,
        rows.iter().map(|r| {
            vec![
                r.departement.clone(),
                r.public.clone(),
                r.mois.clone(),
                cell(r.carnets_remis),
                cell(r.cheques_encaisses),
                r.valeur_encaissee_euros.clone().unwrap_or_default(),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every département × public × month is there once; each published
        /// count equals the direct recount or is suppressed (1 to 4), and so is its value.
        #[test]
        fn rows_recount_the_redemptions(events in proptest::collection::vec((0usize..3, 0usize..3, 0u32..6, 1i64..5000), 0..120)) {
            let deps = ["2A", "971", "33"];
            let publics = ["seniors", "jeunes", "inconnu"];
            let month = |i: u32| format!("2026-{:02}", i + 1);
            let mut c = Counts::default();
            c.departements.extend(deps.iter().map(|d| d.to_string()));
            for (d, p, m, cents) in &events {
                let e = c.redeemed.entry((deps[*d].to_string(), public_key(Some(publics[*p].to_string())), month(*m))).or_default();
                e.0 += 1;
                e.1 += Centimes::new(*cents);
            }
            let rows = rows(&c, "2026-06");
            let first = events.iter().map(|e| e.2).min().unwrap_or(5);
            prop_assert_eq!(rows.len(), deps.len() * (Public::ALL.len() + 1) * (6 - first as usize));
            for r in &rows {
                let mine: Vec<_> = events.iter().filter(|(d, p, m, _)| {
                    deps[*d] == r.departement && public_key(Some(publics[*p].to_string())) == r.public && month(*m) == r.mois
                }).collect();
                let n = mine.len() as i64;
                let cents: i64 = mine.iter().map(|e| e.3).sum();
                // Shown: the recount. Hidden: 1 to 4, or the companion of a hidden cell.
                match r.cheques_encaisses {
                    Some(shown) => {
                        prop_assert_eq!(Some(shown), publish(n));
                        prop_assert_eq!(r.valeur_encaissee_euros.clone(), Some(Centimes::new(cents).decimal()));
                    }
                    None => {
                        prop_assert!(n > 0);
                        prop_assert!(r.valeur_encaissee_euros.is_none());
                    }
                }
            }
            for d in deps {
                for m in 0..6 {
                    let hidden = rows.iter().filter(|r| r.departement == d && r.mois == month(m) && r.cheques_encaisses.is_none()).count();
                    let total = events.iter().filter(|e| deps[e.0] == d && e.2 == m).count() as i64;
                    prop_assert!(hidden != 1 || publish(total).is_none(), "{} {}", d, month(m));
                }
            }
        }
    }
}
