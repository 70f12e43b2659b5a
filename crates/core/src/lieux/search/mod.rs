//! Search in the directory: nearest places first (great-circle distance),
//! combinable filters, pagination.
//!
//! Places are searched in an in-memory snapshot ([`Index`]), rebuilt when the
//! directory's version (a value in the `deployment` table, changed in the same
//! transaction as every import or edit) differs from the snapshot's. Every
//! instance checks the version (see [`Cache`]), so several instances never
//! serve stale data for longer than the cache's `max_age` after a change has
//! committed.

mod cache;
pub mod communes;
mod index;

pub use cache::Cache;
pub use communes::{Communes, Compris};
pub use index::Index;

use serde::Serialize;
use serde_json::value::RawValue;

use super::vocabulaires::{DispositifProgrammesNationaux, PublicsSpecifiquementAdresses, Services};
use crate::db::Tx;
use crate::error::Result;
use crate::on_tx;

const VERSION_KEY: &str = "lieux_version";
pub(crate) const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Marks the directory as changed (call inside the transaction of the change).
pub async fn bump_version(tx: &mut Tx) -> Result<()> {
    let v = format!("{}-{}", tx.horloge.now_micros(), rand::random::<u32>());
    on_tx!(tx, c => {
        sqlx::query("INSERT INTO deployment (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
            .bind(VERSION_KEY)
            .bind(&v)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Great-circle distance in metres (haversine).
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// What a search asks for. Lists combine with AND (a place must offer every listed service).
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub near: Option<(f64, f64)>,
    pub radius_km: Option<f64>,
    pub services: Vec<Services>,
    pub publics: Vec<PublicsSpecifiquementAdresses>,
    pub dispositifs: Vec<DispositifProgrammesNationaux>,
    pub pass_numerique: Option<bool>,
    pub text: Option<String>,
    /// Only places open at this instant, each in its own local time (see `lieux::fuseau`).
    pub open_at: Option<jiff::Timestamp>,
    /// The instant at which `ouvert_maintenant` / `etat` are computed in results, each place in
    /// its own local time.
    pub now: Option<jiff::Timestamp>,
    pub page: usize,
    pub per_page: usize,
}

/// One result.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hit {
    pub id: String,
    pub nom: String,
    pub adresse: String,
    pub code_postal: String,
    pub commune: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Metres from the searched point, rounded.
    pub distance_m: Option<u64>,
    pub services: Vec<&'static str>,
    pub dispositif_programmes_nationaux: Vec<&'static str>,
    pub pass_numerique: bool,
    pub horaires: Option<String>,
    /// Open at the time of the search (None when the hours are unknown or unreadable).
    pub ouvert_maintenant: Option<bool>,
    /// In words: « Ouvert maintenant, ferme à 17 h 30 ».
    pub etat: Option<String>,
    pub telephone: Option<String>,
}

/// A page of results.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Results {
    pub total: usize,
    pub page: usize,
    pub par_page: usize,
    pub resultats: Vec<Hit>,
}

/// A page of results as found in a snapshot, before it is copied out
/// ([`Page::results`]) or written as JSON ([`Page::to_json`]).
#[derive(Debug)]
pub struct Page<'a> {
    index: &'a Index,
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    shown: Vec<Shown>,
    /// Opening states in words, computed once per distinct hours text.
    states: Vec<(bool, String)>,
}

#[derive(Debug)]
struct Shown {
    entry: usize,
    distance_m: Option<u64>,
    state: Option<usize>,
}

/// The JSON of a result, borrowed from the snapshot: the same fields as
/// [`Hit`], without copying strings, and with the label lists written from
/// JSON prepared when the snapshot was built.
#[derive(Serialize)]
struct HitRef<'a> {
    id: &'a RawValue,
    nom: &'a RawValue,
    adresse: &'a RawValue,
    code_postal: &'a RawValue,
    commune: &'a RawValue,
    latitude: Option<f64>,
    longitude: Option<f64>,
    distance_m: Option<u64>,
    services: &'a RawValue,
    dispositif_programmes_nationaux: &'a RawValue,
    pass_numerique: bool,
    horaires: Option<&'a RawValue>,
    ouvert_maintenant: Option<bool>,
    etat: Option<&'a str>,
    telephone: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct ResultsRef<'a> {
    total: usize,
    page: usize,
    par_page: usize,
    resultats: Vec<HitRef<'a>>,
}

fn non_empty(s: &str) -> Option<&str> {
    Some(s).filter(|s| !s.is_empty())
}

impl Page<'_> {
    fn state(&self, s: &Shown) -> Option<&(bool, String)> {
        s.state.and_then(|i| self.states.get(i))
    }

    /// The page as owned values (for pages rendered from templates).
    pub fn results(&self) -> Results {
        let resultats = self
            .shown
            .iter()
            .map(|s| {
                let e = self.index.entry(s.entry);
                Hit {
                    id: e.ext_id.clone(),
                    nom: e.nom.clone(),
                    adresse: e.adresse.clone(),
                    code_postal: e.code_postal.clone(),
                    commune: e.commune.clone(),
                    latitude: e.latitude,
                    longitude: e.longitude,
                    distance_m: s.distance_m,
                    services: index::labels(Services::ALL, e.services, Services::label),
                    dispositif_programmes_nationaux: index::labels(
                        DispositifProgrammesNationaux::ALL,
                        e.dispositifs,
                        DispositifProgrammesNationaux::label,
                    ),
                    pass_numerique: e.pass_numerique,
                    horaires: non_empty(self.index.hours_text(e)).map(str::to_string),
                    ouvert_maintenant: self.state(s).map(|(open, _)| *open),
                    etat: self.state(s).map(|(_, words)| words.clone()),
                    telephone: non_empty(&e.telephone).map(str::to_string),
                }
            })
            .collect();
        Results {
            total: self.total,
            page: self.page,
            par_page: self.per_page,
            resultats,
        }
    }

    /// The page in JSON, the same document as `results()` serialised, written
    /// straight from the snapshot (the search API's hot path).
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let resultats = self
            .shown
            .iter()
            .filter_map(|s| {
                let e = self.index.entry(s.entry);
                let (services, dispositifs) = self.index.label_json(e);
                let json = e.json.as_deref()?;
                Some(HitRef {
                    id: &json.id,
                    nom: &json.nom,
                    adresse: &json.adresse,
                    code_postal: &json.code_postal,
                    commune: &json.commune,
                    latitude: e.latitude,
                    longitude: e.longitude,
                    distance_m: s.distance_m,
                    services,
                    dispositif_programmes_nationaux: dispositifs,
                    pass_numerique: e.pass_numerique,
                    horaires: self.index.hours_json(e),
                    ouvert_maintenant: self.state(s).map(|(open, _)| *open),
                    etat: self.state(s).map(|(_, words)| words.as_str()),
                    telephone: json.telephone.as_deref(),
                })
            })
            .collect();
        let doc = ResultsRef {
            total: self.total,
            page: self.page,
            par_page: self.per_page,
            resultats,
        };
        let mut out = Vec::with_capacity(512 * (self.shown.len() + 1));
        serde_json::to_writer(&mut out, &doc)?;
        Ok(out)
    }
}
