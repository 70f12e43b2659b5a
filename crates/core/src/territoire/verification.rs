//! Places of a hub's territory whose data looks stale or wrong: `date_maj`
//! older than twelve months, missing coordinates, an INSEE code that is not a
//! commune of the département, a postcode that is not one of the commune's.
//! Each with its reasons, in French, for the hub to check or correct.

use std::collections::HashMap;

use jiff::civil::Date;
use jiff::ToSpan;

use super::authz::{authorize, Action};
use super::indicateurs::IN_TERRITORY;
use crate::accounts::Principal;
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
            "SELECT ext_id, nom, commune, code_postal, code_insee, departement, date_maj, latitude, longitude \
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
    let limit = today
        .checked_sub(12.months())
        .unwrap_or(today)
        .strftime("%Y-%m-%d")
        .to_string();
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let raisons = reasons(&r, &limit, &communes);
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

/// `2024-03-12` → `12/03/2024`.
fn date_fr(iso: &str) -> String {
    match Date::strptime("%Y-%m-%d", iso) {
        Ok(d) => d.strftime("%d/%m/%Y").to_string(),
        Err(_) => iso.to_string(),
    }
}

fn reasons(r: &Row, limit: &str, communes: &HashMap<String, (String, String, Vec<String>)>) -> Vec<String> {
    let mut out = Vec::new();
    if r.date_maj.is_empty() {
        out.push("Date de mise à jour absente".to_string());
    } else if r.date_maj.as_str() < limit {
        out.push(format!(
            "Données non mises à jour depuis plus de 12 mois (dernière mise à jour le {})",
            date_fr(&r.date_maj)
        ));
    }
    if r.latitude.is_none() || r.longitude.is_none() {
        out.push("Coordonnées géographiques absentes".to_string());
    }
    if let Err(e) = crate::identifiants::CodePostal::parse(&r.code_postal) {
        out.push(format!("Code postal à corriger : {e}"));
    }
    if !r.code_insee.is_empty() {
        match communes.get(&r.code_insee) {
            Some((nom, dep, postcodes)) if *dep == r.departement => {
                if !postcodes.contains(&r.code_postal) {
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
