//! Coverage indicators of a hub's territory, per département and in total:
//! population (INSEE, from the reference dataset), places and qualified
//! places (and per 10,000 inhabitants), accompaniments of the activity log
//! and cheques redeemed over the last twelve months.

use std::collections::HashMap;

use jiff::civil::Date;

use super::authz::{authorize, Action};
use super::{last_twelve_months, per_ten_thousand};
use crate::accounts::Principal;
use crate::db::Db;
use crate::error::Result;
use crate::identifiants::Centimes;
use crate::{on_db, Core};

/// Places of the caller's territory (a hub's départements), as SQL on a
/// `departement` column; `$1` is the hub's organisation. The same rule as the
/// qualification review's lists.
pub const IN_TERRITORY: &str = "IN (SELECT departement FROM hub_departements WHERE organisation_id = $1)";

/// The figures of one département (or of the whole territory).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Figures {
    pub code: String,
    pub nom: String,
    /// Sum of the communes' populations (arrondissements not counted twice).
    pub population: i64,
    pub lieux: i64,
    pub lieux_qualifies: i64,
    /// Accompaniments recorded in the last twelve months, their minutes, and
    /// the people who recorded them.
    pub accompagnements: i64,
    pub minutes: i64,
    pub conseillers: i64,
    /// Cheques redeemed (not cancelled) in the last twelve months, and their value.
    pub cheques: i64,
    pub montant_centimes: Centimes,
}

impl Figures {
    /// Places per 10,000 inhabitants, in hundredths (`None` without population).
    pub fn lieux_pour_10000(&self) -> Option<i64> {
        per_ten_thousand(self.lieux, self.population)
    }

    pub fn qualifies_pour_10000(&self) -> Option<i64> {
        per_ten_thousand(self.lieux_qualifies, self.population)
    }
}

/// One month of the territory's activity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Month {
    pub mois: String,
    pub accompagnements: i64,
    pub minutes: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Territory {
    pub departements: Vec<Figures>,
    pub total: Figures,
    /// The twelve months of the window, oldest first (zeros included).
    pub mois: Vec<Month>,
    /// First day of the window (`AAAA-MM-JJ`).
    pub depuis: String,
}

/// The indicators of the caller's territory (hubs only), `today` in Europe/Paris.
pub async fn territory(core: &Core, who: &Principal, today: Date) -> Result<Territory> {
    authorize(who, Action::SeeTerritory)?;
    compute(&core.db, who.organisation_id, today).await
}

type Pairs = Vec<(String, i64)>;

/// The indicators of hub `hub` (no authorisation: callers check).
pub async fn compute(db: &Db, hub: i64, today: Date) -> Result<Territory> {
    let months = last_twelve_months(today);
    let (first, last) = (months[0].clone(), months[11].clone());
    let since = format!("{first}-01");
    let deps: Vec<(String, Option<String>)> = on_db!(db, c => {
        sqlx::query_as(
            "SELECT h.departement, d.nom FROM hub_departements h LEFT JOIN territoires_departements d ON d.code = h.departement \
             WHERE h.organisation_id = $1 ORDER BY h.departement",
        )
        .bind(hub)
        .fetch_all(&mut *c)
        .await?
    });
    let population: Pairs = on_db!(db, c => {
        sqlx::query_as(&format!(
            "SELECT departement, CAST(COALESCE(SUM(population), 0) AS BIGINT) FROM territoires_communes \
             WHERE commune_parente = '' AND departement {IN_TERRITORY} GROUP BY departement"
        ))
        .bind(hub)
        .fetch_all(&mut *c)
        .await?
    });
    let places: Pairs = on_db!(db, c => {
        sqlx::query_as(&format!("SELECT departement, COUNT(*) FROM lieux WHERE departement {IN_TERRITORY} GROUP BY departement"))
            .bind(hub)
            .fetch_all(&mut *c)
            .await?
    });
    let qualified: Pairs = on_db!(db, c => {
        sqlx::query_as(&format!(
            "SELECT l.departement, COUNT(DISTINCT q.lieu_id) FROM qualifications q JOIN lieux l ON l.id = q.lieu_id \
             WHERE q.etat = 'active' AND l.departement {IN_TERRITORY} GROUP BY l.departement"
        ))
        .bind(hub)
        .fetch_all(&mut *c)
        .await?
    });
    let activity: Vec<(String, i64, i64, i64)> = on_db!(db, c => {
        sqlx::query_as(&format!(
            "SELECT departement, COUNT(*), CAST(COALESCE(SUM(duree_minutes), 0) AS BIGINT), COUNT(DISTINCT compte_id) \
             FROM activites WHERE mois >= $2 AND mois <= $3 AND departement {IN_TERRITORY} GROUP BY departement"
        ))
        .bind(hub)
        .bind(&first)
        .bind(&last)
        .fetch_all(&mut *c)
        .await?
    });
    let (monthly, people): (Vec<(String, i64, i64)>, i64) = on_db!(db, c => {
        let monthly = sqlx::query_as(&format!(
            "SELECT mois, COUNT(*), CAST(COALESCE(SUM(duree_minutes), 0) AS BIGINT) \
             FROM activites WHERE mois >= $2 AND mois <= $3 AND departement {IN_TERRITORY} GROUP BY mois"
        ))
        .bind(hub)
        .bind(&first)
        .bind(&last)
        .fetch_all(&mut *c)
        .await?;
        let people = sqlx::query_scalar(&format!(
            "SELECT COUNT(DISTINCT compte_id) FROM activites WHERE mois >= $2 AND mois <= $3 AND departement {IN_TERRITORY}"
        ))
        .bind(hub)
        .bind(&first)
        .bind(&last)
        .fetch_one(&mut *c)
        .await?;
        (monthly, people)
    });
    let cheques: Vec<(String, i64, Centimes)> = on_db!(db, c => {
        sqlx::query_as(&format!(
            "SELECT l.departement, COUNT(*), CAST(COALESCE(SUM(e.valeur_centimes), 0) AS BIGINT) \
             FROM encaissements e JOIN lieux l ON l.id = e.lieu_id \
             WHERE e.annule_at IS NULL AND e.jour >= $2 AND l.departement {IN_TERRITORY} GROUP BY l.departement"
        ))
        .bind(hub)
        .bind(&since)
        .fetch_all(&mut *c)
        .await?
    });
    let map = |v: Pairs| v.into_iter().collect::<HashMap<_, _>>();
    let (population, places, qualified) = (map(population), map(places), map(qualified));
    let activity: HashMap<String, (i64, i64, i64)> = activity.into_iter().map(|(d, a, m, p)| (d, (a, m, p))).collect();
    let cheques: HashMap<String, (i64, Centimes)> = cheques.into_iter().map(|(d, n, v)| (d, (n, v))).collect();
    let mut total = Figures {
        code: String::new(),
        nom: "Total du territoire".into(),
        conseillers: people,
        ..Default::default()
    };
    let departements: Vec<Figures> = deps
        .into_iter()
        .map(|(code, nom)| {
            let (accompagnements, minutes, conseillers) = activity.get(&code).copied().unwrap_or_default();
            let (n_cheques, montant) = cheques.get(&code).copied().unwrap_or_default();
            let f = Figures {
                population: population.get(&code).copied().unwrap_or_default(),
                lieux: places.get(&code).copied().unwrap_or_default(),
                lieux_qualifies: qualified.get(&code).copied().unwrap_or_default(),
                accompagnements,
                minutes,
                conseillers,
                cheques: n_cheques,
                montant_centimes: montant,
                nom: nom.unwrap_or_default(),
                code,
            };
            total.population += f.population;
            total.lieux += f.lieux;
            total.lieux_qualifies += f.lieux_qualifies;
            total.accompagnements += f.accompagnements;
            total.minutes += f.minutes;
            total.cheques += f.cheques;
            total.montant_centimes += f.montant_centimes;
            f
        })
        .collect();
    let monthly: HashMap<String, (i64, i64)> = monthly.into_iter().map(|(m, a, d)| (m, (a, d))).collect();
    let mois = months
        .into_iter()
        .map(|m| {
            let (accompagnements, minutes) = monthly.get(&m).copied().unwrap_or_default();
            Month {
                mois: m,
                accompagnements,
                minutes,
            }
        })
        .collect();
    Ok(Territory {
        departements,
        total,
        mois,
        depuis: since,
    })
}
