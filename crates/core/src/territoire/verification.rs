//! Places of a hub's territory whose data looks stale or wrong: `date_maj`
//! older than twelve months, fictitious or in the future, missing coordinates
//! or coordinates outside the place's territory, a pivot that is no SIRET, SIREN
//! or RNA number, an INSEE code that is not a commune of the département, a
//! postcode of no commune or not one of the commune's. These are Passerelle's
//! own checks, stricter than the standard: an import keeps such places with a
//! warning, and this list is where they wait for the hub to check or correct.

use std::collections::{HashMap, HashSet};

use jiff::civil::Date;
use jiff::ToSpan;

use super::authz::{authorize, Action};
use super::indicateurs::IN_TERRITORY;
use crate::accounts::Principal;
use crate::dates_fr::jour_fr;
use crate::db::Db;
use crate::error::Result;
use crate::{on_db, Core};

/// A place to check, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ToCheck {
    pub ext_id: String,
    pub nom: String,
    pub commune: String,
    pub departement: String,
    pub raisons: Vec<String>,
}

/// The codes are read as stored text, not as [`crate::identifiants::CodePostal`]
/// and [`crate::identifiants::CodeInsee`]: this list is where a code the one
/// rule refuses (written by an older import) is reported, so it must not fail.
#[derive(sqlx::FromRow)]
struct Row {
    ext_id: String,
    pivot: String,
    nom: String,
    commune: String,
    code_postal: String,
    code_insee: String,
    departement: String,
    date_maj: String,
    latitude: Option<f64>,
    longitude: Option<f64>,
}

/// The places of the caller's territory (hubs only) with something to check,
/// optionally in one département (`""`: all), by département and name.
pub async fn list(core: &Core, who: &Principal, departement: &str, today: Date) -> Result<Vec<ToCheck>> {
    authorize(who, Action::SeeTerritory)?;
    compute(&core.db, who.organisation_id, departement, today).await
}

pub async fn compute(db: &Db, hub: i64, departement: &str, today: Date) -> Result<Vec<ToCheck>> {
    let rows: Vec<Row> = on_db!(db, c => {
        sqlx::query_as(&format!(
            "SELECT ext_id, pivot, nom, commune, code_postal, code_insee, departement, date_maj, latitude, longitude \
             FROM lieux WHERE departement {IN_TERRITORY} AND ($2 = '' OR departement = $2) ORDER BY departement, nom, ext_id"
        ))
        .bind(hub)
        .bind(departement)
        .fetch_all(&mut *c)
        .await?
    });
    let communes: Vec<(String, String, String, String)> = on_db!(db, c => {
        sqlx::query_as(&format!(
            "SELECT code, nom, departement, codes_postaux FROM territoires_communes WHERE departement {IN_TERRITORY}"
        ))
        .bind(hub)
        .fetch_all(&mut *c)
        .await?
    });
    let communes: HashMap<String, (String, String, Vec<String>)> = communes
        .into_iter()
        .map(|(code, nom, dep, cp)| (code, (nom, dep, cp.split('|').map(str::to_string).collect())))
        .collect();
    // Every postcode of France: a place near a border may have a neighbouring département's.
    let postcodes: Vec<String> = on_db!(db, c => {
        sqlx::query_scalar("SELECT codes_postaux FROM territoires_communes").fetch_all(&mut *c).await?
    });
    let postcodes: HashSet<&str> = postcodes.iter().flat_map(|p| p.split('|')).collect();
    let iso = crate::dates_fr::iso;
    let limits = Limits {
        stale: iso(today.checked_sub(12.months()).unwrap_or(today)),
        future: iso(today.checked_add(1.day()).unwrap_or(today)),
        postcodes,
    };
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let raisons = reasons(&r, &limits, &communes);
            (!raisons.is_empty()).then_some(ToCheck {
                ext_id: r.ext_id,
                nom: r.nom,
                commune: r.commune,
                departement: r.departement,
                raisons,
            })
        })
        .collect())
}

/// What the reasons are measured against.
struct Limits<'a> {
    /// `date_maj` before this day is stale (ISO).
    stale: String,
    /// `date_maj` after this day is in the future (ISO).
    future: String,
    /// Every postcode of the official communes (empty when the territories are not loaded).
    postcodes: HashSet<&'a str>,
}

/// « Coordonnées … » with a capital, for a line of the list.
fn capitalised(message: &str) -> String {
    let mut chars = message.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn reasons(r: &Row, limits: &Limits<'_>, communes: &HashMap<String, (String, String, Vec<String>)>) -> Vec<String> {
    let mut out = Vec::new();
    if r.date_maj.is_empty() {
        out.push("Date de mise à jour absente".to_string());
    } else if r.date_maj.as_str() < "1971-01-01" {
        out.push(format!(
            "Date de mise à jour fictive ({}) : la date réelle est inconnue",
            jour_fr(&r.date_maj)
        ));
    } else if r.date_maj < limits.stale {
        out.push(format!(
            "Données non mises à jour depuis plus de 12 mois (dernière mise à jour le {})",
            jour_fr(&r.date_maj)
        ));
    } else if r.date_maj > limits.future {
        out.push(format!("Date de mise à jour dans le futur ({})", jour_fr(&r.date_maj)));
    }
    match (r.latitude, r.longitude) {
        (Some(lat), Some(lon)) => {
            if let Some(message) = crate::lieux::emprise::hors_territoire(&r.departement, lat, lon) {
                out.push(capitalised(&message));
            }
        }
        _ => out.push("Coordonnées géographiques absentes".to_string()),
    }
    if let Err(e) = crate::identifiants::Pivot::parse(&r.pivot) {
        out.push(format!("Pivot à vérifier : {e}"));
    }
    if let Err(e) = crate::identifiants::CodePostal::parse(&r.code_postal) {
        out.push(format!("Code postal à corriger : {e}"));
    } else if !limits.postcodes.is_empty() && !limits.postcodes.contains(r.code_postal.as_str()) {
        out.push(format!(
            "Le code postal {} n'est celui d'aucune commune du référentiel officiel",
            r.code_postal
        ));
    }
    if !r.code_insee.is_empty() {
        match communes.get(&r.code_insee) {
            Some((nom, dep, postcodes)) if *dep == r.departement => {
                // An unknown postcode is named once, above.
                if !postcodes.contains(&r.code_postal) && limits.postcodes.contains(r.code_postal.as_str()) {
                    out.push(format!(
                        "Le code postal {} n'est pas un code postal de {nom} (code INSEE {}) : {}",
                        r.code_postal,
                        r.code_insee,
                        postcodes.join(", ")
                    ));
                }
            }
            _ => out.push(format!(
                "Le code INSEE {} n'est pas celui d'une commune du département {}",
                r.code_insee, r.departement
            )),
        }
    }
    out
}
