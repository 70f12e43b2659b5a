//! Search in the directory: nearest places first (great-circle distance),
//! combinable filters, pagination.
//!
//! Places are searched in an in-memory snapshot, rebuilt when the directory's
//! version (a value in the `deployment` table, changed in the same transaction
//! as every import or edit) differs from the snapshot's. Every instance checks
//! the version on each search, so several instances never serve stale data
//! after a change has committed.

use std::sync::{Arc, RwLock};

use sqlx::Row;

use super::model::fold;
use super::vocabulaires::{DispositifProgrammesNationaux, PublicsSpecifiquementAdresses, Services};
use crate::db::{deployment_get, Db, Tx};
use crate::error::CoreResult;
use crate::{on_db, on_tx};

const VERSION_KEY: &str = "lieux_version";
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Marks the directory as changed (call inside the transaction of the change).
pub async fn bump_version(tx: &mut Tx) -> CoreResult<()> {
    let v = format!("{}-{}", crate::db::now_micros(), rand::random::<u32>());
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

fn mask<T: Copy + PartialEq>(all: &[T], text: &str, from: fn(&str) -> Option<T>) -> u32 {
    text.split('|')
        .filter_map(from)
        .filter_map(|v| all.iter().position(|x| *x == v))
        .fold(0, |m, i| m | (1 << i))
}

/// One place, as the search needs it.
#[derive(Debug, Clone)]
struct Entry {
    ext_id: String,
    nom: String,
    adresse: String,
    code_postal: String,
    commune: String,
    latitude: Option<f64>,
    longitude: Option<f64>,
    services: u32,
    publics: u32,
    dispositifs: u32,
    pass_numerique: bool,
    horaires: String,
    ouverture: Option<super::horaires::Horaires>,
    telephone: String,
    folded: String,
    commune_folded: String,
}

/// A snapshot of the directory.
#[derive(Debug, Default)]
pub struct Index {
    version: Option<String>,
    entries: Vec<Entry>,
    /// What the filters and the distance need, packed beside `entries` (same
    /// order) so that a search scans a few bytes per place, not whole entries.
    keys: Vec<Key>,
}

#[derive(Debug, Clone, Copy)]
struct Key {
    /// NaN when unknown.
    lat: f64,
    lon: f64,
    services: u32,
    publics: u32,
    dispositifs: u32,
    pass_numerique: bool,
}

impl Index {
    fn new(version: Option<String>, mut entries: Vec<Entry>) -> Index {
        sort_by_latitude(&mut entries);
        let keys = entries
            .iter()
            .map(|e| Key {
                lat: e.latitude.filter(|_| e.longitude.is_some()).unwrap_or(f64::NAN),
                lon: e.longitude.filter(|_| e.latitude.is_some()).unwrap_or(f64::NAN),
                services: e.services,
                publics: e.publics,
                dispositifs: e.dispositifs,
                pass_numerique: e.pass_numerique,
            })
            .collect();
        Index { version, entries, keys }
    }
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
    /// Only places open at this local time (Europe/Paris).
    pub open_at: Option<chrono::NaiveDateTime>,
    /// The local time at which `ouvert_maintenant` / `etat` are computed in results.
    pub now: Option<chrono::NaiveDateTime>,
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

fn labels<T: Copy>(all: &[T], m: u32, label: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter()
        .enumerate()
        .filter(|(i, _)| m & (1 << i) != 0)
        .map(|(_, v)| label(*v))
        .collect()
}

fn sort_by_latitude(entries: &mut [Entry]) {
    entries.sort_by(|a, b| match (a.latitude, b.latitude) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

impl Index {
    async fn load(db: &Db, version: Option<String>) -> CoreResult<Index> {
        let sql = "SELECT ext_id, nom, adresse, code_postal, commune, latitude, longitude, services, \
                   publics_specifiquement_adresses, dispositif_programmes_nationaux, pass_numerique, horaires, telephone FROM lieux";
        // Places often share the same hours: each distinct text is parsed once.
        let mut parsed: std::collections::HashMap<String, Option<super::horaires::Horaires>> = Default::default();
        let entries = on_db!(db, c => {
            // Streamed, so that the rows are never all held at once.
            let mut rows = sqlx::query(sql).fetch(&mut *c);
            let mut out = Vec::new();
            while let Some(r) = futures_util::TryStreamExt::try_next(&mut rows).await? {
                let nom: String = r.try_get(1)?;
                let code_postal: String = r.try_get(3)?;
                let commune: String = r.try_get(4)?;
                let folded = format!("{} {} {}", fold(&nom), fold(&commune), code_postal);
                let commune_folded = fold(&commune);
                out.push(Entry {
                    ext_id: r.try_get(0)?,
                    adresse: r.try_get(2)?,
                    latitude: r.try_get(5)?,
                    longitude: r.try_get(6)?,
                    services: mask(Services::ALL, &r.try_get::<String, _>(7)?, Services::from_label),
                    publics: mask(PublicsSpecifiquementAdresses::ALL, &r.try_get::<String, _>(8)?, PublicsSpecifiquementAdresses::from_label),
                    dispositifs: mask(DispositifProgrammesNationaux::ALL, &r.try_get::<String, _>(9)?, DispositifProgrammesNationaux::from_label),
                    pass_numerique: r.try_get(10)?,
                    ouverture: {
                        let h: String = r.try_get(11)?;
                        if h.is_empty() {
                            None
                        } else {
                            parsed.entry(h).or_insert_with_key(|h| super::horaires::Horaires::parse(h).ok()).clone()
                        }
                    },
                    horaires: r.try_get(11)?,
                    telephone: r.try_get(12)?,
                    nom,
                    code_postal,
                    commune,
                    folded,
                    commune_folded,
                });
            }
            out
        });
        // Sorted by latitude (places without coordinates last), so that a search
        // around a point only scans the band of latitudes its radius covers.
        Ok(Index::new(version, entries))
    }

    /// Where a commune (name or postcode) is, from the places located in it:
    /// the mean of their coordinates. The official territories have no
    /// coordinates; places' communes were checked against them on import.
    pub fn centre_of(&self, commune_or_postcode: &str) -> Option<(f64, f64)> {
        let wanted = fold(commune_or_postcode);
        let postcode = commune_or_postcode.trim();
        let is_postcode = postcode.len() == 5 && postcode.bytes().all(|b| b.is_ascii_digit());
        let (mut n, mut lat, mut lon) = (0.0, 0.0, 0.0);
        for e in &self.entries {
            let hit = if is_postcode {
                e.code_postal == postcode
            } else {
                !wanted.is_empty() && e.commune_folded == wanted
            };
            if let (true, Some(a), Some(o)) = (hit, e.latitude, e.longitude) {
                n += 1.0;
                lat += a;
                lon += o;
            }
        }
        (n > 0.0).then(|| (lat / n, lon / n))
    }

    pub fn search(&self, q: &Query) -> Results {
        let want_services = q
            .services
            .iter()
            .filter_map(|s| Services::ALL.iter().position(|x| x == s))
            .fold(0u32, |m, i| m | (1 << i));
        let want_publics = q
            .publics
            .iter()
            .filter_map(|s| PublicsSpecifiquementAdresses::ALL.iter().position(|x| x == s))
            .fold(0u32, |m, i| m | (1 << i));
        let want_dispositifs = q
            .dispositifs
            .iter()
            .filter_map(|s| DispositifProgrammesNationaux::ALL.iter().position(|x| x == s))
            .fold(0u32, |m, i| m | (1 << i));
        let text = q.text.as_deref().map(fold).filter(|t| !t.is_empty());
        let radius_m = q.radius_km.map(|r| r * 1000.0);
        // Degrees of latitude/longitude that certainly contain the radius: a cheap first cut.
        let window = match (q.near, radius_m) {
            (Some((lat, _)), Some(r)) => {
                let dlat = r / 111_000.0 + 0.01;
                let dlon = r / (111_000.0 * lat.to_radians().cos().abs().max(0.01)) + 0.01;
                Some((dlat, dlon))
            }
            _ => None,
        };
        let range = match (q.near, window) {
            (Some((lat, _)), Some((dlat, _))) => {
                let lo = self
                    .entries
                    .partition_point(|e| e.latitude.is_some_and(|l| l < lat - dlat));
                let hi = self
                    .entries
                    .partition_point(|e| e.latitude.is_some_and(|l| l <= lat + dlat));
                lo..hi.max(lo)
            }
            _ => 0..self.entries.len(),
        };
        let mut hits: Vec<(f64, &Entry)> = Vec::new();
        for (k, e) in self.keys[range.clone()].iter().zip(&self.entries[range]) {
            if k.services & want_services != want_services
                || k.publics & want_publics != want_publics
                || k.dispositifs & want_dispositifs != want_dispositifs
                || q.pass_numerique.is_some_and(|p| p != k.pass_numerique)
            {
                continue;
            }
            let d = match q.near {
                Some((lat, lon)) => {
                    // NaN (no coordinates) fails every comparison below: such places cannot be placed.
                    if let Some((dlat, dlon)) = window {
                        if !((k.lat - lat).abs() <= dlat && (k.lon - lon).abs() <= dlon) {
                            continue;
                        }
                    }
                    let d = distance_m(lat, lon, k.lat, k.lon);
                    if d.is_nan() || d > radius_m.unwrap_or(f64::INFINITY) {
                        continue;
                    }
                    d
                }
                None => 0.0,
            };
            if let Some(t) = &text {
                if !e.folded.contains(t.as_str()) {
                    continue;
                }
            }
            if let Some(at) = q.open_at {
                if !e.ouverture.as_ref().is_some_and(|h| h.is_open(at)) {
                    continue;
                }
            }
            hits.push((d, e));
        }
        if q.near.is_some() {
            hits.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.ext_id.cmp(&b.1.ext_id)));
        } else {
            hits.sort_by(|a, b| a.1.nom.cmp(&b.1.nom).then_with(|| a.1.ext_id.cmp(&b.1.ext_id)));
        }
        let total = hits.len();
        let per_page = q.per_page.clamp(1, 100);
        let page = q.page.max(1);
        let shown: Vec<(f64, &Entry)> = hits.into_iter().skip((page - 1) * per_page).take(per_page).collect();
        // Opening state, computed once per shown place.
        // Opening state, computed once per distinct hours text (places often share them).
        let mut memo: std::collections::HashMap<&str, Option<(bool, String)>> = Default::default();
        let states: Vec<Option<(bool, String)>> = shown
            .iter()
            .map(|(_, e)| {
                memo.entry(e.horaires.as_str())
                    .or_insert_with(|| {
                        let now = q.now?;
                        let etat = e.ouverture.as_ref()?.etat(now);
                        let open = matches!(etat, super::horaires::Etat::Ouvert { .. });
                        Some((open, super::horaires::en_clair(&etat, now)))
                    })
                    .clone()
            })
            .collect();
        let resultats = shown
            .into_iter()
            .enumerate()
            .map(|(k, (d, e))| Hit {
                id: e.ext_id.clone(),
                nom: e.nom.clone(),
                adresse: e.adresse.clone(),
                code_postal: e.code_postal.clone(),
                commune: e.commune.clone(),
                latitude: e.latitude,
                longitude: e.longitude,
                distance_m: q.near.map(|_| d.round() as u64),
                services: labels(Services::ALL, e.services, Services::label),
                dispositif_programmes_nationaux: labels(
                    DispositifProgrammesNationaux::ALL,
                    e.dispositifs,
                    DispositifProgrammesNationaux::label,
                ),
                pass_numerique: e.pass_numerique,
                horaires: Some(e.horaires.clone()).filter(|h| !h.is_empty()),
                ouvert_maintenant: states.get(k).and_then(|s| s.as_ref()).map(|(open, _)| *open),
                etat: states.get(k).and_then(|s| s.as_ref()).map(|(_, words)| words.clone()),
                telephone: Some(e.telephone.clone()).filter(|t| !t.is_empty()),
            })
            .collect();
        Results {
            total,
            page,
            par_page: per_page,
            resultats,
        }
    }
}

/// The snapshot shared by the requests of one instance. It is checked against
/// the database version at most every `max_age` (every request when zero): a
/// change committed by any instance is served everywhere within that delay.
#[derive(Debug, Clone)]
pub struct Cache {
    current: Arc<RwLock<Arc<Index>>>,
    checked: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    max_age: std::time::Duration,
}

impl Default for Cache {
    fn default() -> Self {
        Cache::new(std::time::Duration::ZERO)
    }
}

impl Cache {
    pub fn new(max_age: std::time::Duration) -> Self {
        Cache {
            current: Default::default(),
            checked: Default::default(),
            max_age,
        }
    }

    fn snapshot(&self) -> CoreResult<Arc<Index>> {
        Ok(self
            .current
            .read()
            .map_err(|_| crate::CoreError::Io("index des lieux verrouillé".into()))?
            .clone())
    }

    pub async fn get(&self, db: &Db) -> CoreResult<Arc<Index>> {
        if !self.max_age.is_zero() {
            let fresh_enough = self
                .checked
                .lock()
                .map(|c| c.is_some_and(|t| t.elapsed() < self.max_age))
                .unwrap_or(false);
            if fresh_enough {
                return self.snapshot();
            }
        }
        let version = deployment_get(db, VERSION_KEY).await?;
        let current = self.snapshot()?;
        let index = if current.version == version && (version.is_some() || current.entries.is_empty()) {
            current
        } else {
            let fresh = Arc::new(Index::load(db, version).await?);
            if let Ok(mut w) = self.current.write() {
                *w = fresh.clone();
            }
            fresh
        };
        if let Ok(mut c) = self.checked.lock() {
            *c = Some(std::time::Instant::now());
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(i: usize, lat: Option<f64>, lon: Option<f64>) -> Entry {
        Entry {
            ext_id: format!("l{i:04}"),
            nom: format!("Lieu {i}"),
            adresse: String::new(),
            code_postal: "33000".into(),
            commune: "Bordeaux".into(),
            latitude: lat,
            longitude: lon,
            services: (i % 7) as u32,
            publics: 0,
            dispositifs: 0,
            pass_numerique: i.is_multiple_of(2),
            horaires: String::new(),
            ouverture: None,
            telephone: String::new(),
            folded: String::new(),
            commune_folded: String::new(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The latitude band gives exactly what a scan of every place within the radius gives, in the same order.
        #[test]
        fn band_search_equals_brute_force(
            points in proptest::collection::vec((proptest::option::weighted(0.9, 41.0f64..51.5), -5.0f64..9.5), 1..300),
            center in (41.0f64..51.5, -5.0f64..9.5),
            radius in 1.0f64..400.0,
        ) {
            let entries: Vec<Entry> = points.iter().enumerate().map(|(i, (lat, lon))| entry(i, *lat, lat.map(|_| *lon))).collect();
            let expected: Vec<String> = {
                let mut v: Vec<(f64, &Entry)> = entries
                    .iter()
                    .filter_map(|e| Some((distance_m(center.0, center.1, e.latitude?, e.longitude?), e)))
                    .filter(|(d, _)| *d <= radius * 1000.0)
                    .collect();
                v.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.ext_id.cmp(&b.1.ext_id)));
                v.into_iter().map(|(_, e)| e.ext_id.clone()).collect()
            };
            let index = Index::new(None, entries);
            let q = Query { near: Some(center), radius_km: Some(radius), page: 1, per_page: 100, ..Default::default() };
            let r = index.search(&q);
            prop_assert_eq!(r.total, expected.len());
            let got: Vec<String> = r.resultats.iter().map(|h| h.id.clone()).collect();
            prop_assert_eq!(&got[..], &expected[..expected.len().min(100)]);
        }
    }

    #[test]
    fn haversine_paris_lyon() {
        // Paris (48.8566, 2.3522) – Lyon (45.7640, 4.8357): ~391.5 km.
        let d = super::distance_m(48.8566, 2.3522, 45.7640, 4.8357);
        assert!((d - 391_500.0).abs() < 1_500.0, "{d}");
        assert_eq!(super::distance_m(44.0, -0.5, 44.0, -0.5), 0.0);
    }
}
