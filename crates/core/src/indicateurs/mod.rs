//! Open data: monthly indicators per département (`/open-data/indicateurs-departements.csv`
//! and `.json`). One row per département of the official list (Corsica `2A`/`2B` and overseas
//! included) and per month, from the first month with any activity to the current month;
//! rows with nothing are kept (zeros). No personal data; a count from 1 to 4 is suppressed
//! (statistical secrecy) and published as empty (CSV) or `null` (JSON).
//! The Pass Numérique per département and public, and Aidants Connect per
//! month and démarche, are in the submodules, with the same rules.

pub mod aidants_connect;
pub mod pass_numerique;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::db::Db;
use crate::error::Result;
use crate::on_db;

/// Counts below this (and above zero) are not published.
pub const SECRET_THRESHOLD: i64 = 5;

/// The columns, with their meaning (the data dictionary of `/open-data/`).
pub const COLUMNS: [(&str, &str); 7] = [
    (
        "departement",
        "code officiel du département (INSEE ; 2A, 2B, 971 à 976 compris)",
    ),
    (
        "mois",
        "mois, au format AAAA-MM (heure de Paris)",
    ),
    (
        "cheques_encaisses",
        "chèques Pass Numérique encaissés dans les lieux du département ce mois-là (annulations déduites)",
    ),
    (
        "lieux_qualifies_nouveaux",
        "lieux du département qualifiés pour le Pass Numérique ce mois-là",
    ),
    (
        "lieux_qualifies_fin_de_mois",
        "lieux du département dont la qualification accordée avant la fin du mois est toujours active aujourd'hui",
    ),
    (
        "accompagnements",
        "accompagnements enregistrés au journal d'activité des conseillers numériques et médiateurs, pour des personnes résidant dans le département (commune INSEE), ce mois-là",
    ),
    (
        "heures_accompagnement",
        "heures d'accompagnement correspondantes (arrondies à l'heure inférieure ; non publiées quand le nombre d'accompagnements ne l'est pas)",
    ),
];

/// One published row; `None` = suppressed (1 to 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Row {
    pub departement: String,
    pub mois: String,
    pub cheques_encaisses: Option<i64>,
    pub lieux_qualifies_nouveaux: Option<i64>,
    pub lieux_qualifies_fin_de_mois: Option<i64>,
    pub accompagnements: Option<i64>,
    pub heures_accompagnement: Option<i64>,
}

/// Secondary suppression in a group of cells whose sum is published
/// elsewhere: when exactly one cell is hidden, the smallest other non-zero
/// shown cell must be hidden too (else the hidden one is the total minus the
/// others). `raw`: the true counts; `shown`: whether each is published.
/// Returns the index of the cell to hide, if any.
pub fn second_cell(raw: &[i64], shown: &[bool]) -> Option<usize> {
    if shown.iter().filter(|s| !**s).count() != 1 {
        return None;
    }
    raw.iter()
        .enumerate()
        .filter(|(i, v)| **v > 0 && shown.get(*i).copied().unwrap_or(false))
        .min_by_key(|(_, v)| **v)
        .map(|(i, _)| i)
}

/// A count as published: zero and ≥ 5 as they are, 1 to 4 suppressed.
pub fn publish(n: i64) -> Option<i64> {
    if n > 0 && n < SECRET_THRESHOLD {
        None
    } else {
        Some(n)
    }
}

fn month_of(micros: i64) -> String {
    crate::dates_fr::mois_paris(micros)
}

/// The months from `first` to `last` included (`AAAA-MM`).
fn months(first: &str, last: &str) -> Vec<String> {
    let parse = |m: &str| -> Option<(i32, u32)> {
        let (y, mo) = m.split_once('-')?;
        Some((y.parse().ok()?, mo.parse().ok()?))
    };
    let (Some((mut y, mut m)), Some(end)) = (parse(first), parse(last)) else {
        return vec![last.to_string()];
    };
    let mut out = Vec::new();
    while (y, m) <= end && out.len() < 1200 {
        out.push(format!("{y:04}-{m:02}"));
        m += 1;
        if m > 12 {
            m = 1;
            y += 1;
        }
    }
    out
}

/// The raw counts per (département, month), before suppression.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub cheques: BTreeMap<(String, String), i64>,
    pub qualified_new: BTreeMap<(String, String), i64>,
    /// Active qualifications: (département, month of grant).
    pub qualified_active: Vec<(String, String)>,
    /// Accompaniments: (count, minutes) per (département, month).
    pub accompaniments: BTreeMap<(String, String), (i64, i64)>,
    pub departements: BTreeSet<String>,
    /// The latest change of the underlying data (µs), for `Last-Modified`.
    pub last_modified: Option<i64>,
}

/// Reads the counts from the database.
pub async fn counts(db: &Db) -> Result<Counts> {
    let mut c = Counts::default();
    let deps: Vec<String> =
        on_db!(db, x => sqlx::query_scalar("SELECT code FROM territoires_departements").fetch_all(&mut *x).await?);
    c.departements.extend(deps);
    let cheques: Vec<(String, String, i64)> = on_db!(db, x => {
        sqlx::query_as(
            "SELECT l.departement, SUBSTR(e.jour, 1, 7), COUNT(*) FROM encaissements e JOIN lieux l ON l.id = e.lieu_id \
             WHERE e.annule_at IS NULL AND l.departement <> '' GROUP BY l.departement, SUBSTR(e.jour, 1, 7)",
        )
        .fetch_all(&mut *x).await?
    });
    for (d, m, n) in cheques {
        c.departements.insert(d.clone());
        c.cheques.insert((d, m), n);
    }
    let quals: Vec<(String, i64, crate::qualification::model::QualificationState)> = on_db!(db, x => {
        sqlx::query_as(
            "SELECT l.departement, q.created_at, q.etat FROM qualifications q JOIN lieux l ON l.id = q.lieu_id \
             WHERE l.departement <> ''",
        )
        .fetch_all(&mut *x).await?
    });
    for (d, at, etat) in quals {
        let m = month_of(at);
        c.departements.insert(d.clone());
        *c.qualified_new.entry((d.clone(), m.clone())).or_default() += 1;
        if etat == crate::qualification::model::QualificationState::Active {
            c.qualified_active.push((d, m));
        }
    }
    let activity: Vec<(String, String, i64, i64)> = on_db!(db, x => {
        sqlx::query_as(
            "SELECT departement, mois, COUNT(*), CAST(SUM(duree_minutes) AS BIGINT) FROM activites \
             WHERE departement <> '' GROUP BY departement, mois",
        )
        .fetch_all(&mut *x).await?
    });
    for (d, m, n, minutes) in activity {
        c.departements.insert(d.clone());
        c.accompaniments.insert((d, m), (n, minutes));
    }
    let latest: (Option<i64>, Option<i64>, Option<i64>) = on_db!(db, x => {
        sqlx::query_as(
            "SELECT (SELECT MAX(COALESCE(annule_at, at)) FROM encaissements), (SELECT MAX(updated_at) FROM qualifications), \
             (SELECT MAX(updated_at) FROM activites)",
        )
        .fetch_one(&mut *x).await?
    });
    c.last_modified = latest.0.max(latest.1).max(latest.2);
    Ok(c)
}

/// The latest change of the directory (µs), for the open-data page.
pub async fn lieux_last_modified(db: &Db) -> Result<Option<i64>> {
    Ok(on_db!(db, x => sqlx::query_scalar("SELECT MAX(updated_at) FROM lieux").fetch_one(&mut *x).await?))
}

/// The published rows for months up to `current` (`AAAA-MM`).
pub fn rows(c: &Counts, current: &str) -> Vec<Row> {
    let first = c
        .cheques
        .keys()
        .chain(c.qualified_new.keys())
        .chain(c.accompaniments.keys())
        .map(|(_, m)| m.as_str())
        .min()
        .unwrap_or(current)
        .min(current)
        .to_string();
    let all_months = months(&first, current);
    // Months of grant of the active qualifications, sorted, per département.
    let mut granted: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (dep, m) in &c.qualified_active {
        granted.entry(dep.as_str()).or_default().push(m.as_str());
    }
    for v in granted.values_mut() {
        v.sort_unstable();
    }
    let mut out = Vec::with_capacity(c.departements.len() * all_months.len());
    for d in &c.departements {
        let grants = granted.get(d.as_str()).map(Vec::as_slice).unwrap_or_default();
        for m in &all_months {
            let key = (d.clone(), m.clone());
            let cumulative = grants.partition_point(|g| *g <= m.as_str()) as i64;
            let (n, minutes) = c.accompaniments.get(&key).copied().unwrap_or((0, 0));
            let accompagnements = publish(n);
            out.push(Row {
                accompagnements,
                heures_accompagnement: accompagnements.map(|_| minutes / 60),
                departement: d.clone(),
                mois: m.clone(),
                cheques_encaisses: publish(c.cheques.get(&key).copied().unwrap_or(0)),
                lieux_qualifies_nouveaux: publish(c.qualified_new.get(&key).copied().unwrap_or(0)),
                lieux_qualifies_fin_de_mois: publish(cumulative),
            });
        }
    }
    // Secondary suppression: each month, the départements add up to the
    // national figure of the dashboard; one hidden cell alone would be found
    // by subtraction.
    let mut by_month: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in out.iter().enumerate() {
        by_month.entry(r.mois.as_str()).or_default().push(i);
    }
    let mut hide_cheques = Vec::new();
    let mut hide_accompaniments = Vec::new();
    for idx in by_month.values() {
        let key = |i: usize| (out[i].departement.clone(), out[i].mois.clone());
        let raw: Vec<i64> = idx
            .iter()
            .map(|&i| c.cheques.get(&key(i)).copied().unwrap_or(0))
            .collect();
        let shown: Vec<bool> = idx.iter().map(|&i| out[i].cheques_encaisses.is_some()).collect();
        hide_cheques.extend(second_cell(&raw, &shown).map(|k| idx[k]));
        let raw: Vec<i64> = idx
            .iter()
            .map(|&i| c.accompaniments.get(&key(i)).map_or(0, |x| x.0))
            .collect();
        let shown: Vec<bool> = idx.iter().map(|&i| out[i].accompagnements.is_some()).collect();
        hide_accompaniments.extend(second_cell(&raw, &shown).map(|k| idx[k]));
    }
    for i in hide_cheques {
        out[i].cheques_encaisses = None;
    }
    for i in hide_accompaniments {
        out[i].accompagnements = None;
        out[i].heures_accompagnement = None;
    }
    out
}

/// The current month in Paris (`AAAA-MM`).
pub fn current_month(horloge: &crate::Horloge) -> String {
    crate::dates_fr::mois_de(horloge.today_paris())
}

/// A published count as a CSV cell: empty when suppressed.
pub fn cell(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

/// A CSV file (comma-separated, UTF-8) with the header of `columns`.
pub fn write_csv(columns: &[(&str, &str)], records: impl IntoIterator<Item = Vec<String>>) -> Result<Vec<u8>> {
    let mut w = crate::tableur::Csv::new(Vec::new());
    let io = |e: csv::Error| crate::error::CoreError::Io(format!("écriture CSV : {e}"));
    w.write_record(columns.iter().map(|(k, _)| *k)).map_err(io)?;
    for r in records {
        w.write_record(r).map_err(io)?;
    }
    w.into_inner()
        .map_err(|e| crate::error::CoreError::Io(format!("écriture CSV : {e}")))
}

/// The CSV file of the indicators (header of [`COLUMNS`]).
pub fn to_csv(rows: &[Row]) -> Result<Vec<u8>> {
    write_csv(
        &COLUMNS,
        rows.iter().map(|r| {
            vec![
                r.departement.clone(),
                r.mois.clone(),
                cell(r.cheques_encaisses),
                cell(r.lieux_qualifies_nouveaux),
                cell(r.lieux_qualifies_fin_de_mois),
                cell(r.accompagnements),
                cell(r.heures_accompagnement),
            ]
        }),
    )
}

/// The published indicators and their date, kept as a shared snapshot.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Published {
    pub rows: Vec<Row>,
    pub last_modified: Option<i64>,
}

/// Name of the snapshot in `agregats`.
pub const SNAPSHOT: &str = "indicateurs-departements";

/// Counts and builds the published rows now.
pub async fn compute(core: crate::Core) -> Result<Published> {
    let c = counts(&core.db).await?;
    Ok(Published {
        rows: rows(&c, &current_month(core.db.horloge())),
        last_modified: c.last_modified,
    })
}

/// The published indicators, at most `max_age` old (see [`crate::agregats::get`]).
pub async fn published(core: &crate::Core, max_age: std::time::Duration) -> Result<Published> {
    Ok(crate::agregats::get(core, SNAPSHOT, max_age, compute).await?.data)
}

/// The months from `first` to `last` included, for the submodules.
pub(crate) fn month_range(first: &str, last: &str) -> Vec<String> {
    months(first, last)
}

/// The month (`AAAA-MM`, UTC) of an instant, for the submodules.
pub(crate) fn month_of_micros(micros: i64) -> String {
    month_of(micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_counts_are_suppressed_zero_is_kept() {
        assert_eq!(publish(0), Some(0));
        assert_eq!(publish(1), None);
        assert_eq!(publish(4), None);
        assert_eq!(publish(5), Some(5));
    }

    #[test]
    fn one_hidden_cell_alone_gets_a_companion() {
        // 3 is hidden; the smallest other non-zero (7) is hidden with it.
        assert_eq!(second_cell(&[3, 9, 0, 7], &[false, true, true, true]), Some(3));
        // Two hidden already, or none: nothing more.
        assert_eq!(second_cell(&[3, 2, 9], &[false, false, true]), None);
        assert_eq!(second_cell(&[5, 9], &[true, true]), None);
        // Nothing else to hide: the total is itself small (and hidden).
        assert_eq!(second_cell(&[3, 0], &[false, true]), None);
    }

    #[test]
    fn months_cross_years() {
        assert_eq!(
            months("2025-11", "2026-02"),
            ["2025-11", "2025-12", "2026-01", "2026-02"]
        );
    }

    proptest! {
        /// Every département × month is present once, and each published cheque
        /// count equals the direct recount (or is suppressed when 1 to 4).
        #[test]
        fn rows_recount_the_events(events in proptest::collection::vec((0usize..4, 0u32..14), 0..200)) {
            let deps = ["01", "2A", "971", "75"];
            let mut c = Counts::default();
            c.departements.extend(deps.iter().map(|d| d.to_string()));
            let month = |i: u32| format!("{:04}-{:02}", 2025 + (i / 12) as i32, i % 12 + 1);
            for (d, m) in &events {
                *c.cheques.entry((deps[*d].to_string(), month(*m))).or_default() += 1;
            }
            let rows = rows(&c, "2026-02");
            let first = events.iter().map(|(_, m)| *m).min().unwrap_or(13).min(13);
            prop_assert_eq!(rows.len(), deps.len() * (14 - first as usize));
            // No month leaves exactly one cell hidden.
            for m in 0..14u32 {
                // (unless the month's total is itself small: hidden too, nothing to subtract from).
                let hidden = rows.iter().filter(|r| r.mois == month(m) && r.cheques_encaisses.is_none()).count();
                let total = events.iter().filter(|(_, x)| *x == m).count() as i64;
                prop_assert!(hidden != 1 || publish(total).is_none(), "{}", month(m));
            }
            for r in &rows {
                let direct = events.iter().filter(|(d, m)| deps[*d] == r.departement && month(*m) == r.mois).count() as i64;
                // Shown: the recount. Hidden: 1 to 4, or a companion of a hidden cell.
                match r.cheques_encaisses {
                    Some(n) => prop_assert_eq!(Some(n), publish(direct)),
                    None => prop_assert!(direct > 0),
                }
            }
        }
    }
}
