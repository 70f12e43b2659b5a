//! Open data: Aidants Connect per month and démarche
//! (`/open-data/aidants-connect.csv` and `.json`): mandates concluded and
//! their uses by online services, for every démarche found and every month
//! from the first with data (zero rows kept), and the structures and aidants
//! at the time of computation. Counts from 1 to 4 are suppressed. National
//! figures only: structures have no département of record.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{cell, current_month, month_of_micros, month_range, publish, write_csv};
use crate::error::Result;
use crate::{on_db, Core};

/// The columns and their meaning.
pub const COLUMNS: [(&str, &str); 4] = [
    ("mois", "mois, au format AAAA-MM (heure de Paris)"),
    (
        "demarche",
        "domaine de démarches du mandat (papiers, famille, social, travail, logement, argent, transports…)",
    ),
    (
        "mandats_conclus",
        "mandats conclus ce mois-là couvrant ce domaine (un mandat couvrant plusieurs domaines compte dans chacun)",
    ),
    (
        "utilisations",
        "utilisations de ces mandats par un service en ligne ce mois-là (chaque accès aux informations de l'usager pour cette démarche)",
    ),
];

/// One published row; `None` = suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub mois: String,
    pub demarche: String,
    pub mandats_conclus: Option<i64>,
    pub utilisations: Option<i64>,
}

/// The published rows, the national totals now, and their date.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Published {
    pub rows: Vec<Row>,
    pub structures_habilitees: Option<i64>,
    pub aidants_actifs: Option<i64>,
    pub last_modified: Option<i64>,
}

/// Name of the snapshot in `agregats`.
pub const SNAPSHOT: &str = "aidants-connect";

/// Raw counts per (month, démarche).
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub mandates: BTreeMap<(String, String), i64>,
    pub uses: BTreeMap<(String, String), i64>,
    pub demarches: BTreeSet<String>,
}

/// The published rows for months up to `current`.
pub fn rows(c: &Counts, current: &str) -> Vec<Row> {
    let first = c
        .mandates
        .keys()
        .chain(c.uses.keys())
        .map(|(m, _)| m.as_str())
        .min()
        .unwrap_or(current)
        .min(current)
        .to_string();
    let mut out = Vec::new();
    for m in month_range(&first, current) {
        for d in &c.demarches {
            let key = (m.clone(), d.clone());
            out.push(Row {
                mois: m.clone(),
                demarche: d.clone(),
                mandats_conclus: publish(c.mandates.get(&key).copied().unwrap_or(0)),
                utilisations: publish(c.uses.get(&key).copied().unwrap_or(0)),
            });
        }
    }
    out
}

/// Counts and builds the published rows now.
pub async fn compute(core: Core) -> Result<Published> {
    let db = &core.db;
    let mut c = Counts::default();
    let mandates: Vec<(i64, String)> = on_db!(db, x => {
        sqlx::query_as("SELECT m.created_at, a.demarche FROM autorisations a JOIN mandats m ON m.id = a.mandat_id")
            .fetch_all(&mut *x)
            .await?
    });
    for (at, d) in mandates {
        c.demarches.insert(d.clone());
        *c.mandates.entry((month_of_micros(at), d)).or_default() += 1;
    }
    let uses: Vec<(i64, String)> = on_db!(db, x => {
        sqlx::query_as("SELECT at, demarche FROM mandats_utilisations")
            .fetch_all(&mut *x)
            .await?
    });
    for (at, d) in uses {
        c.demarches.insert(d.clone());
        *c.uses.entry((month_of_micros(at), d)).or_default() += 1;
    }
    let totals: (i64, i64, Option<i64>, Option<i64>) = on_db!(db, x => {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM organisations WHERE kind = 'structure_habilitee'), \
             (SELECT COUNT(DISTINCT m.account_id) FROM aidants_membres m JOIN accounts a ON a.id = m.account_id \
                WHERE m.actif = TRUE AND a.active = TRUE), \
             (SELECT MAX(created_at) FROM mandats), (SELECT MAX(at) FROM mandats_utilisations)",
        )
        .fetch_one(&mut *x)
        .await?
    });
    Ok(Published {
        rows: rows(&c, &current_month(core.db.horloge())),
        structures_habilitees: publish(totals.0),
        aidants_actifs: publish(totals.1),
        last_modified: totals.2.max(totals.3),
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
                r.mois.clone(),
                r.demarche.clone(),
                cell(r.mandats_conclus),
                cell(r.utilisations),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_month_and_demarche_is_there_and_small_counts_are_hidden() {
        let mut c = Counts::default();
        c.demarches.extend(["papiers".to_string(), "social".to_string()]);
        c.mandates.insert(("2026-01".into(), "papiers".into()), 7);
        c.uses.insert(("2026-02".into(), "social".into()), 3);
        let rows = rows(&c, "2026-03");
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0].mandats_conclus, Some(7));
        assert_eq!(rows[1].mandats_conclus, Some(0));
        let social_feb = rows
            .iter()
            .find(|r| r.mois == "2026-02" && r.demarche == "social")
            .map(|r| r.utilisations);
        assert_eq!(social_feb, Some(None), "3 uses: suppressed");
    }
}
