//! Everything the dashboards show, computed in one go from the database and
//! stored as the shared snapshot `tableau-de-bord` ([`crate::agregats`]).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::agregats::{self, Snapshot};
use crate::db::datetime_of;
use crate::error::Result;
use crate::identifiants::Centimes;
use crate::{on_db, Core};

use super::National;

/// Name of the snapshot in `agregats`.
pub const SNAPSHOT: &str = "tableau-de-bord";

/// Months of the trend charts.
pub const MONTHS: usize = 24;

/// One month of the trends (`AAAA-MM`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mois {
    pub mois: String,
    pub cheques_emis: i64,
    pub valeur_emise_centimes: Centimes,
    pub cheques_encaisses: i64,
    pub valeur_encaissee_centimes: Centimes,
    pub accompagnements: i64,
    pub personnes_accompagnees: i64,
    pub minutes_accompagnement: i64,
    pub mandats_conclus: i64,
    pub utilisations_mandats: i64,
}

/// The figures of one département (all time; qualified places: active now).
/// Population: communes of the reference (the arrondissements of Paris, Lyon
/// and Marseille not counted twice).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Departement {
    pub nom: String,
    pub population: i64,
    pub lieux: i64,
    pub lieux_qualifies: i64,
    pub cheques_encaisses: i64,
    pub accompagnements: i64,
    pub minutes_accompagnement: i64,
}

/// The dashboards' data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Donnees {
    pub national: National,
    pub valeur_emise_centimes: Centimes,
    pub valeur_encaissee_centimes: Centimes,
    /// The last [`MONTHS`] months, oldest first, the current month included.
    pub mois: Vec<Mois>,
    /// Every département of the official list (and any code found in the data).
    pub departements: BTreeMap<String, Departement>,
}

fn month_of(micros: i64) -> String {
    crate::dates_fr::mois_paris(micros)
}

/// Midnight UTC of the first day of `month` (`AAAA-MM`), in µs.
fn month_start_micros(month: &str) -> i64 {
    month
        .split_once('-')
        .and_then(|(y, m)| Some(utc_midnight_micros(y.parse().ok()?, m.parse().ok()?)))
        .unwrap_or(0)
}

/// Midnight UTC of the first day of month `m` of year `y`, in µs (0 when not a month).
fn utc_midnight_micros(y: i16, m: i8) -> i64 {
    jiff::civil::Date::new(y, m, 1)
        .and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC))
        .map_or(0, |z| z.timestamp().as_microsecond())
}

/// The `n` months up to `current` (`AAAA-MM`), oldest first.
fn last_months(current: &str, n: usize) -> Vec<String> {
    let (y, m) = current
        .split_once('-')
        .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<i32>().ok()?)))
        .unwrap_or((1970, 1));
    let index = y * 12 + (m - 1);
    (0..n as i32)
        .rev()
        .map(|k| {
            let i = index - k;
            format!("{:04}-{:02}", i.div_euclid(12), i.rem_euclid(12) + 1)
        })
        .collect()
}

/// Counts everything now (a few full scans: run in the background, see [`get`]).
pub async fn compute(core: Core) -> Result<Donnees> {
    let db = &core.db;
    let now = db.now_micros();
    let today = core.db.horloge().today_paris();
    let since = crate::dates_fr::iso(today.saturating_sub(jiff::Span::new().days(90)));
    let year_start = utc_midnight_micros(datetime_of(now).year(), 1);
    let national = super::national(db, year_start, now, &since).await?;
    let months = last_months(&crate::dates_fr::mois_de(today), MONTHS);
    let first = months.first().cloned().unwrap_or_default();
    let mut by_month: BTreeMap<String, Mois> = months
        .iter()
        .map(|m| {
            (
                m.clone(),
                Mois {
                    mois: m.clone(),
                    ..Mois::default()
                },
            )
        })
        .collect();

    // Issued: orders are few (thousands); bucket them by month of issue here.
    let orders: Vec<(i64, i64, i64, Centimes)> = on_db!(db, c => {
        sqlx::query_as(
            "SELECT emise_at, carnets, cheques_par_carnet, valeur_centimes FROM commandes WHERE emise_at IS NOT NULL",
        )
        .fetch_all(&mut *c)
        .await?
    });
    let (mut value_issued, mut value_redeemed) = (Centimes::ZERO, Centimes::ZERO);
    for (at, booklets, per_booklet, value) in orders {
        let count = booklets.saturating_mul(per_booklet);
        value_issued = value_issued.saturating_add(value.saturating_mul(count));
        if let Some(m) = by_month.get_mut(&month_of(at)) {
            m.cheques_emis += count;
            m.valeur_emise_centimes = m.valeur_emise_centimes.saturating_add(value.saturating_mul(count));
        }
    }
    let redeemed: Vec<(String, i64, Centimes)> = on_db!(db, c => {
        sqlx::query_as(
            "SELECT SUBSTR(jour, 1, 7) AS mois, COUNT(*), CAST(COALESCE(SUM(valeur_centimes), 0) AS BIGINT) \
             FROM encaissements WHERE annule_at IS NULL GROUP BY SUBSTR(jour, 1, 7)",
        )
        .fetch_all(&mut *c)
        .await?
    });
    for (mois, n, value) in redeemed {
        value_redeemed = value_redeemed.saturating_add(value);
        if let Some(m) = by_month.get_mut(&mois) {
            m.cheques_encaisses = n;
            m.valeur_encaissee_centimes = value;
        }
    }
    let activity: Vec<(String, i64, i64, i64)> = on_db!(db, c => {
        sqlx::query_as(
            "SELECT mois, COUNT(*), CAST(SUM(participants) AS BIGINT), CAST(SUM(duree_minutes) AS BIGINT) \
             FROM activites WHERE mois >= $1 GROUP BY mois",
        )
        .bind(&first)
        .fetch_all(&mut *c)
        .await?
    });
    for (mois, n, people, minutes) in activity {
        if let Some(m) = by_month.get_mut(&mois) {
            m.accompagnements = n;
            m.personnes_accompagnees = people;
            m.minutes_accompagnement = minutes;
        }
    }
    // Mandates and their uses carry instants: bucket the recent ones here.
    // A day early: the window starts at a Paris month, instants are UTC.
    let window_start = month_start_micros(&first).saturating_sub(86_400 * 1_000_000);
    let mandates: Vec<i64> = on_db!(db, c => {
        sqlx::query_scalar("SELECT created_at FROM mandats WHERE created_at >= $1")
            .bind(window_start)
            .fetch_all(&mut *c)
            .await?
    });
    for at in mandates {
        if let Some(m) = by_month.get_mut(&month_of(at)) {
            m.mandats_conclus += 1;
        }
    }
    let uses: Vec<i64> = on_db!(db, c => {
        sqlx::query_scalar("SELECT at FROM mandats_utilisations WHERE at >= $1")
            .bind(window_start)
            .fetch_all(&mut *c)
            .await?
    });
    for at in uses {
        if let Some(m) = by_month.get_mut(&month_of(at)) {
            m.utilisations_mandats += 1;
        }
    }

    let mut departements: BTreeMap<String, Departement> = on_db!(db, c => {
        sqlx::query_as::<_, (String, String, i64)>(
            "SELECT d.code, d.nom, CAST(COALESCE(SUM(co.population), 0) AS BIGINT) FROM territoires_departements d \
             LEFT JOIN territoires_communes co ON co.departement = d.code AND co.commune_parente = '' \
             GROUP BY d.code, d.nom",
        )
        .fetch_all(&mut *c)
        .await?
    })
    .into_iter()
    .map(|(code, nom, population)| {
        (
            code,
            Departement {
                nom,
                population,
                ..Departement::default()
            },
        )
    })
    .collect();
    for (code, nom) in crate::carte::OVERSEAS {
        departements.entry(code.to_string()).or_insert_with(|| Departement {
            nom: nom.to_string(),
            ..Departement::default()
        });
    }
    let places: Vec<(String, i64)> = on_db!(db, c => {
        sqlx::query_as("SELECT departement, COUNT(*) FROM lieux WHERE departement <> '' GROUP BY departement")
            .fetch_all(&mut *c)
            .await?
    });
    for (d, n) in places {
        departements.entry(d).or_default().lieux = n;
    }
    let qualified: Vec<(String, i64)> = on_db!(db, c => {
        sqlx::query_as(
            "SELECT l.departement, COUNT(*) FROM qualifications q JOIN lieux l ON l.id = q.lieu_id \
             WHERE q.etat = 'active' AND l.departement <> '' GROUP BY l.departement",
        )
        .fetch_all(&mut *c)
        .await?
    });
    for (d, n) in qualified {
        departements.entry(d).or_default().lieux_qualifies = n;
    }
    // Redemptions per place first (one pass on the redemptions), then per département.
    let per_place: Vec<(String, i64)> = on_db!(db, c => {
        sqlx::query_as(
            "SELECT l.departement, CAST(SUM(e.n) AS BIGINT) FROM \
             (SELECT lieu_id, COUNT(*) AS n FROM encaissements WHERE annule_at IS NULL GROUP BY lieu_id) e \
             JOIN lieux l ON l.id = e.lieu_id WHERE l.departement <> '' GROUP BY l.departement",
        )
        .fetch_all(&mut *c)
        .await?
    });
    for (d, n) in per_place {
        departements.entry(d).or_default().cheques_encaisses = n;
    }
    let activity: Vec<(String, i64, i64)> = on_db!(db, c => {
        sqlx::query_as(
            "SELECT departement, COUNT(*), CAST(SUM(duree_minutes) AS BIGINT) FROM activites \
             WHERE departement <> '' GROUP BY departement",
        )
        .fetch_all(&mut *c)
        .await?
    });
    for (d, n, minutes) in activity {
        let e = departements.entry(d).or_default();
        e.accompagnements = n;
        e.minutes_accompagnement = minutes;
    }
    Ok(Donnees {
        national,
        valeur_emise_centimes: value_issued,
        valeur_encaissee_centimes: value_redeemed,
        mois: by_month.into_values().collect(),
        departements,
    })
}

/// The dashboards' data, at most `max_age` old (see [`crate::agregats::get`]).
pub async fn get(core: &Core, max_age: Duration) -> Result<Snapshot<Donnees>> {
    agregats::get(core, SNAPSHOT, max_age, compute).await
}

#[cfg(test)]
mod tests {
    use super::last_months;

    #[test]
    fn months_cross_years() {
        assert_eq!(last_months("2026-02", 3), ["2025-12", "2026-01", "2026-02"]);
        assert_eq!(last_months("2026-12", 1), ["2026-12"]);
        assert_eq!(last_months("2026-01", 24).first().map(String::as_str), Some("2024-02"));
    }
}
