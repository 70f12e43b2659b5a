//! The in-memory snapshot of the directory that searches run on.
//!
//! Located places are kept in a grid of latitude rows (0.05°, about 5.5 km),
//! sorted by longitude inside each row: a search around a point reads, in
//! each row its radius covers, only the slice of longitudes the radius can
//! reach. Distances are compared as chords between unit vectors (no
//! trigonometry per place); the great-circle distance is computed for the
//! shown results only.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;

use jiff::civil::DateTime;
use jiff::Timestamp;

use serde_json::value::RawValue;

use super::{Communes, Compris, Page, Query, Shown, EARTH_RADIUS_M};
use crate::identifiants::CodePostal;
use crate::lieux::fuseau;
use crate::lieux::horaires::{self, Horaires};
use crate::lieux::model::fold;
use crate::lieux::vocabulaires::{DispositifProgrammesNationaux, PublicsSpecifiquementAdresses, Services};

/// Height of a grid row, in degrees of latitude.
const ROW_DEG: f64 = 0.05;
const NROWS: usize = 3600;
/// Margin added to the search window, in degrees (rounding only: the chord test is exact).
const MARGIN_DEG: f64 = 1e-9;

fn mask<T: Copy + PartialEq>(all: &[T], text: &str, from: fn(&str) -> Option<T>) -> u32 {
    text.split('|')
        .filter_map(from)
        .filter_map(|v| all.iter().position(|x| *x == v))
        .fold(0, |m, i| m | (1 << i))
}

fn wanted<T: PartialEq>(all: &[T], wanted: &[T]) -> u32 {
    wanted
        .iter()
        .filter_map(|s| all.iter().position(|x| x == s))
        .fold(0u32, |m, i| m | (1 << i))
}

pub(super) fn labels<T: Copy>(all: &[T], m: u32, label: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter()
        .enumerate()
        .filter(|(i, _)| m & (1 << i) != 0)
        .map(|(_, v)| label(*v))
        .collect()
}

fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (p, l) = (lat.to_radians(), lon.to_radians());
    [p.cos() * l.cos(), p.cos() * l.sin(), p.sin()]
}

fn row_of(lat: f64) -> usize {
    (((lat + 90.0) / ROW_DEG).floor().max(0.0) as usize).min(NROWS - 1)
}

/// One place, as the search needs it.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub ext_id: String,
    pub nom: String,
    pub adresse: String,
    /// The stored text, not a [`CodePostal`]: the index holds every place, and
    /// one row written by an older, looser import (`00100`) must not keep the
    /// whole directory from being searched; `passerelle controle` lists such
    /// rows (rule `codes_lieux_valides`). Only shown and compared, never parsed.
    pub code_postal: String,
    pub commune: String,
    /// Empty when the place does not give it (the standard makes it optional).
    pub code_insee: String,
    /// Both or neither.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub services: u32,
    pub dispositifs: u32,
    pub pass_numerique: bool,
    /// Index in `Index::hours` (places often share the same hours).
    pub hours: usize,
    /// The time zone its hours are read in, from the postcode (the index keeps no INSEE code).
    pub zone: fuseau::Fuseau,
    /// Indexes in `Index::label_json` of the JSON arrays of labels.
    services_json: usize,
    dispositifs_json: usize,
    pub telephone: String,
    folded: String,
    commune_folded: String,
    /// The texts of the place as JSON strings, escaped once.
    pub json: Option<Box<EntryJson>>,
}

#[derive(Debug, Clone)]
pub(super) struct EntryJson {
    pub id: Box<RawValue>,
    pub nom: Box<RawValue>,
    pub adresse: Box<RawValue>,
    pub code_postal: Box<RawValue>,
    pub commune: Box<RawValue>,
    pub telephone: Option<Box<RawValue>>,
}

fn json_string(s: &str) -> Box<RawValue> {
    serde_json::to_string(s)
        .ok()
        .and_then(|s| RawValue::from_string(s).ok())
        .unwrap_or_else(|| RawValue::NULL.to_owned())
}

impl EntryJson {
    fn of(e: &Entry) -> EntryJson {
        EntryJson {
            id: json_string(&e.ext_id),
            nom: json_string(&e.nom),
            adresse: json_string(&e.adresse),
            code_postal: json_string(&e.code_postal),
            commune: json_string(&e.commune),
            telephone: (!e.telephone.is_empty()).then(|| json_string(&e.telephone)),
        }
    }
}

/// What the filters and the distance need, packed beside `entries` (same
/// order) so that a search scans a few bytes per place, not whole entries.
#[derive(Debug, Clone, Copy)]
struct Key {
    lon: f64,
    /// Unit vector of the position (NaN when unknown).
    v: [f64; 3],
    services: u32,
    publics: u32,
    dispositifs: u32,
    pass_numerique: bool,
    /// Index in `Index::hours` and in `Index::zones`: whether a place is open is decided once
    /// per distinct hours text and time zone in a search, then read here per place.
    hours: u32,
    zone: u8,
}

/// Opening states of one minute (UTC), by (index in `Index::hours`, time zone): (open, in words).
type Etats = (Option<i64>, HashMap<(usize, &'static str), (bool, String)>);

/// The local time of one instant in each time zone met during a search (a handful at most).
struct LocalTimes {
    at: Timestamp,
    seen: Vec<(&'static str, DateTime)>,
}

impl LocalTimes {
    fn new(at: Timestamp) -> Self {
        LocalTimes { at, seen: Vec::new() }
    }

    /// The zone of a place and its local time.
    fn of(&mut self, e: &Entry) -> (&'static str, DateTime) {
        let f = e.zone;
        if let Some((_, t)) = self.seen.iter().find(|(z, _)| *z == f.iana) {
            return (f.iana, *t);
        }
        let t = f.local(self.at);
        self.seen.push((f.iana, t));
        (f.iana, t)
    }
}

/// A place ready to be sorted into the grid: its (row, longitude) when located.
type Placed = (Option<(usize, f64)>, Entry, Key);

/// A snapshot of the directory.
#[derive(Debug)]
pub struct Index {
    pub(super) version: Option<String>,
    pub(super) entries: Vec<Entry>,
    keys: Vec<Key>,
    /// `rows[r]..rows[r + 1]`: the places of grid row `r`, by longitude.
    /// Places without coordinates come after `rows[NROWS]`.
    rows: Vec<usize>,
    /// Distinct hours texts (as is, and as JSON strings), parsed once.
    hours: Vec<(String, Box<RawValue>, Option<Horaires>)>,
    /// Distinct time zones of the places (a handful: Paris and the overseas ones).
    zones: Vec<fuseau::Fuseau>,
    /// The distinct JSON arrays of labels (services, dispositifs), written once.
    label_json: Vec<Box<RawValue>>,
    /// Opening states of the current minute, by hours text (see `etat`).
    etats: Mutex<Etats>,
    /// The official communes, placed by the places listed in them.
    communes: Communes,
    /// The places by the trigrams of their folded texts (`q=`).
    text: TextIndex,
    /// The filters as bitsets, for the text index's candidates.
    filters: FilterBits,
    /// Sums of the coordinates of the located places (latitude, longitude, count), by folded
    /// commune name and by postcode: where a commune is when the territories are not loaded.
    centres: HashMap<String, (f64, f64, f64)>,
}

/// A place as read from the database, before it goes into a snapshot.
pub(super) struct Row {
    pub entry: Entry,
    pub publics: u32,
    pub horaires: String,
}

fn json_labels(labels: Vec<&'static str>) -> Box<RawValue> {
    serde_json::to_string(&labels)
        .ok()
        .and_then(|s| RawValue::from_string(s).ok())
        .unwrap_or_else(|| RawValue::NULL.to_owned())
}

/// The snapshot of an empty directory (before the first load): built like any
/// other, so that its grid has its rows (a search near a point finds nothing
/// instead of indexing an empty grid).
impl Default for Index {
    fn default() -> Self {
        Index::new(None, Vec::new())
    }
}

impl Index {
    pub(super) fn new(version: Option<String>, rows: Vec<Row>) -> Index {
        let mut hours: Vec<(String, Box<RawValue>, Option<Horaires>)> = Vec::new();
        let mut hours_ids: HashMap<String, usize> = HashMap::new();
        let mut zones: Vec<fuseau::Fuseau> = Vec::new();
        let mut placed: Vec<Placed> = Vec::with_capacity(rows.len());
        for Row {
            mut entry,
            publics,
            horaires,
        } in rows
        {
            entry.hours = *hours_ids.entry(horaires).or_insert_with_key(|h| {
                let parsed = (!h.is_empty()).then(|| Horaires::parse(h).ok()).flatten();
                hours.push((h.clone(), json_string(h), parsed));
                hours.len() - 1
            });
            let zone = match zones.iter().position(|z| z.iana == entry.zone.iana) {
                Some(z) => z,
                None => {
                    zones.push(entry.zone);
                    zones.len() - 1
                }
            };
            let position = entry.latitude.zip(entry.longitude);
            let key = Key {
                hours: u32::try_from(entry.hours).unwrap_or(u32::MAX),
                zone: u8::try_from(zone).unwrap_or(u8::MAX),
                lon: position.map_or(f64::NAN, |p| p.1),
                v: position.map_or([f64::NAN; 3], |(lat, lon)| unit_vector(lat, lon)),
                services: entry.services,
                publics,
                dispositifs: entry.dispositifs,
                pass_numerique: entry.pass_numerique,
            };
            placed.push((position.map(|(lat, lon)| (row_of(lat), lon)), entry, key));
        }
        // By grid row then longitude; places without coordinates last.
        placed.sort_by(|a, b| match (a.0, b.0) {
            (Some(x), Some(y)) => x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
        let mut starts = vec![0usize; NROWS + 1];
        for (cell, _, _) in &placed {
            if let Some((row, _)) = cell {
                starts[row + 1] += 1;
            }
        }
        for r in 0..NROWS {
            starts[r + 1] += starts[r];
        }
        let mut centres: HashMap<String, (f64, f64, f64)> = HashMap::new();
        for (_, e, _) in &placed {
            if let (Some(lat), Some(lon)) = (e.latitude, e.longitude) {
                for k in [format!("c:{}", e.commune_folded), format!("p:{}", e.code_postal)] {
                    let c = centres.entry(k).or_insert((0.0, 0.0, 0.0));
                    *c = (c.0 + lat, c.1 + lon, c.2 + 1.0);
                }
            }
        }
        let (mut entries, mut keys) = (Vec::with_capacity(placed.len()), Vec::with_capacity(placed.len()));
        let mut label_json = Vec::new();
        let (mut service_ids, mut dispositif_ids) = (HashMap::new(), HashMap::new());
        for (_, mut e, k) in placed {
            e.services_json = *service_ids.entry(e.services).or_insert_with(|| {
                label_json.push(json_labels(labels(Services::ALL, e.services, Services::label)));
                label_json.len() - 1
            });
            e.dispositifs_json = *dispositif_ids.entry(e.dispositifs).or_insert_with(|| {
                let l = labels(
                    DispositifProgrammesNationaux::ALL,
                    e.dispositifs,
                    DispositifProgrammesNationaux::label,
                );
                label_json.push(json_labels(l));
                label_json.len() - 1
            });
            e.json = Some(Box::new(EntryJson::of(&e)));
            entries.push(e);
            keys.push(k);
        }
        let text = TextIndex::build(&entries);
        let filters = FilterBits::build(&keys);
        Index {
            version,
            entries,
            keys,
            rows: starts,
            hours,
            zones,
            label_json,
            etats: Mutex::default(),
            communes: Communes::default(),
            text,
            filters,
            centres,
        }
    }

    /// The same snapshot, knowing the official communes and placing them by its places.
    pub(super) fn with_communes(mut self, mut communes: Communes) -> Index {
        for e in &self.entries {
            if let (Some(lat), Some(lon)) = (e.latitude, e.longitude) {
                communes.locate(&e.code_insee, &e.commune, &e.code_postal, lat, lon);
            }
        }
        self.communes = communes;
        self
    }

    /// Whether the snapshot knows the official communes (the territories are loaded).
    pub fn knows_communes(&self) -> bool {
        !self.communes.is_empty()
    }

    /// The commune that a searched text names, if it names one (see [`Communes::comprendre`]).
    pub fn comprendre(&self, text: &str, choisie: Option<&str>) -> Option<Compris<'_>> {
        self.communes.comprendre(text, choisie)
    }

    pub(super) fn entry(&self, i: usize) -> &Entry {
        &self.entries[i]
    }

    pub(super) fn hours_text(&self, e: &Entry) -> &str {
        self.hours.get(e.hours).map_or("", |h| h.0.as_str())
    }

    pub(super) fn hours_json(&self, e: &Entry) -> Option<&RawValue> {
        self.hours.get(e.hours).filter(|h| !h.0.is_empty()).map(|h| &*h.1)
    }

    fn opening(&self, e: &Entry) -> Option<&Horaires> {
        self.hours.get(e.hours).and_then(|h| h.2.as_ref())
    }

    /// Whether a place is open at `now` (its local time in `zone`), and that in words. Hours
    /// have a precision of a minute, so the answer is the same for the whole minute and is kept,
    /// per distinct hours text and zone, until the minute changes.
    fn etat(&self, e: &Entry, zone: &'static str, now: DateTime, at: Timestamp) -> Option<(bool, String)> {
        let opening = self.opening(e)?;
        let minute = now.with().second(0).subsec_nanosecond(0).build().unwrap_or(now);
        let utc_minute = at.as_second().div_euclid(60);
        let compute = || {
            let etat = opening.etat(minute);
            (
                matches!(etat, horaires::Etat::Ouvert { .. }),
                horaires::en_clair(&etat, minute),
            )
        };
        let Ok(mut cache) = self.etats.lock() else {
            return Some(compute());
        };
        if cache.0 != Some(utc_minute) {
            *cache = (Some(utc_minute), HashMap::new());
        }
        Some(cache.1.entry((e.hours, zone)).or_insert_with(compute).clone())
    }

    pub(super) fn label_json(&self, e: &Entry) -> (&RawValue, &RawValue) {
        let get = |i: usize| self.label_json.get(i).map_or(RawValue::NULL, |v| &**v);
        (get(e.services_json), get(e.dispositifs_json))
    }

    /// Where a commune (name or postcode) is, from the places located in it:
    /// the mean of their coordinates. The official territories have no
    /// coordinates; places' communes were checked against them on import.
    pub fn centre_of(&self, commune_or_postcode: &str) -> Option<(f64, f64)> {
        // Free text typed by a person: a postcode when the one rule reads it so.
        let key = match CodePostal::parse(commune_or_postcode) {
            Ok(postcode) => format!("p:{}", postcode.as_str()),
            Err(_) => {
                let wanted = fold(commune_or_postcode);
                if wanted.is_empty() {
                    return None;
                }
                format!("c:{wanted}")
            }
        };
        let &(lat, lon, n) = self.centres.get(&key)?;
        (n > 0.0).then(|| (lat / n, lon / n))
    }

    /// The slices of `keys` that can hold places within `radius_m` of a point.
    fn window(&self, lat: f64, lon: f64, radius_m: f64) -> Vec<Range<usize>> {
        let located = self.rows[NROWS];
        let rho = radius_m / EARTH_RADIUS_M;
        if rho >= std::f64::consts::PI {
            return std::iter::once(0..located).collect();
        }
        let rho_deg = rho.to_degrees();
        let (south, north) = (lat - rho_deg - MARGIN_DEG, lat + rho_deg + MARGIN_DEG);
        // Widest longitude difference on a circle of angular radius rho: asin(sin rho / cos lat),
        // every longitude when the circle holds a pole.
        let (s, c) = (rho.sin(), lat.to_radians().cos());
        let dlon = if south <= -90.0 || north >= 90.0 || s >= c {
            None
        } else {
            Some((s / c).asin().to_degrees() + MARGIN_DEG)
        };
        let lons: Vec<(f64, f64)> = match dlon {
            None => vec![(f64::NEG_INFINITY, f64::INFINITY)],
            Some(d) if lon - d < -180.0 => vec![(lon - d + 360.0, 180.0), (-180.0, lon + d)],
            Some(d) if lon + d > 180.0 => vec![(lon - d, 180.0), (-180.0, lon + d - 360.0)],
            Some(d) => vec![(lon - d, lon + d)],
        };
        let mut out = Vec::new();
        for r in row_of(south)..=row_of(north) {
            let row = &self.keys[self.rows[r]..self.rows[r + 1]];
            for &(west, east) in &lons {
                let from = row.partition_point(|k| k.lon < west);
                let to = row.partition_point(|k| k.lon <= east);
                if from < to {
                    out.push(self.rows[r] + from..self.rows[r] + to);
                }
            }
        }
        out
    }

    pub fn search(&self, q: &Query) -> Page<'_> {
        let want_services = wanted(Services::ALL, &q.services);
        let want_publics = wanted(PublicsSpecifiquementAdresses::ALL, &q.publics);
        let want_dispositifs = wanted(DispositifProgrammesNationaux::ALL, &q.dispositifs);
        let text = q.text.as_deref().map(fold).filter(|t| !t.is_empty());
        let centre = q.near.map(|(lat, lon)| unit_vector(lat, lon));
        let mut open_now = q.open_at.map(|at| OpenNow::new(self, at));
        // The radius as a squared chord between unit vectors.
        let max_chord2 = match q.radius_km {
            Some(r) => {
                let half_angle = (r * 1000.0 / EARTH_RADIUS_M / 2.0).min(std::f64::consts::FRAC_PI_2);
                (2.0 * half_angle.sin()).powi(2)
            }
            None => f64::INFINITY,
        };
        let ranges = match (q.near, q.radius_km) {
            (Some((lat, lon)), Some(r)) => self.window(lat, lon, r * 1000.0),
            (Some(_), None) => std::iter::once(0..self.rows[NROWS]).collect(),
            _ => std::iter::once(0..self.entries.len()).collect(),
        };
        // (squared chord, place), the chord being 0 when no point was given.
        let mut hits: Vec<(f64, usize)> = Vec::new();
        let mut consider = |i: usize| {
            let k = &self.keys[i];
            if k.services & want_services != want_services
                || k.publics & want_publics != want_publics
                || k.dispositifs & want_dispositifs != want_dispositifs
                || q.pass_numerique.is_some_and(|p| p != k.pass_numerique)
            {
                return;
            }
            let chord2 = match centre {
                Some(c) => {
                    let d2 = (k.v[0] - c[0]).powi(2) + (k.v[1] - c[1]).powi(2) + (k.v[2] - c[2]).powi(2);
                    // NaN (no coordinates) fails this comparison: such places cannot be placed.
                    if d2.is_nan() || d2 > max_chord2 {
                        return;
                    }
                    d2
                }
                None => 0.0,
            };
            if text
                .as_ref()
                .is_some_and(|t| !self.entries[i].folded.contains(t.as_str()))
            {
                return;
            }
            if open_now.as_mut().is_some_and(|o| !o.is_open(self, k)) {
                return;
            }
            hits.push((chord2, i));
        };
        // A text: only the places the text index names can hold it (they are checked above);
        // otherwise the slices of the grid the radius covers.
        match text.as_deref().and_then(|t| self.text.candidates(t)) {
            Some(candidates) => match self.filters.required(want_services, want_publics, want_dispositifs) {
                Some(bits) => candidates
                    .iter()
                    .map(|&i| i as usize)
                    .filter(|&i| filtres::has(&bits, i))
                    .for_each(&mut consider),
                None => candidates.iter().for_each(|&i| consider(i as usize)),
            },
            None => ranges.into_iter().flatten().for_each(&mut consider),
        }
        let order = |a: &(f64, usize), b: &(f64, usize)| {
            let (x, y) = (&self.entries[a.1], &self.entries[b.1]);
            if q.near.is_some() {
                a.0.total_cmp(&b.0).then_with(|| x.ext_id.cmp(&y.ext_id))
            } else {
                x.nom.cmp(&y.nom).then_with(|| x.ext_id.cmp(&y.ext_id))
            }
        };
        let total = hits.len();
        let per_page = q.per_page.clamp(1, 100);
        let page = q.page.max(1);
        let skip = (page - 1).saturating_mul(per_page);
        let end = skip.saturating_add(per_page).min(total);
        // Only the places up to the end of the page need ordering.
        if end > 0 && end < total {
            hits.select_nth_unstable_by(end - 1, order);
        }
        hits.truncate(end);
        hits.sort_unstable_by(order);
        let mut states: Vec<(bool, String)> = Vec::new();
        let mut state_of_hours: Vec<((usize, &'static str), Option<usize>)> = Vec::new();
        let mut now_local = q.now.map(LocalTimes::new);
        let shown = hits
            .into_iter()
            .skip(skip)
            .map(|(chord2, i)| {
                let e = &self.entries[i];
                // Opening state, computed once per distinct hours text and time zone.
                let local = now_local.as_mut().map(|l| (l.of(e), l.at));
                let zone = local.map_or("", |((z, _), _)| z);
                let state = match state_of_hours.iter().find(|(k, _)| *k == (e.hours, zone)) {
                    Some((_, s)) => *s,
                    None => {
                        let s = local.and_then(|((z, now), at)| self.etat(e, z, now, at)).map(|state| {
                            states.push(state);
                            states.len() - 1
                        });
                        state_of_hours.push(((e.hours, zone), s));
                        s
                    }
                };
                Shown {
                    entry: i,
                    distance_m: q
                        .near
                        .map(|_| (2.0 * EARTH_RADIUS_M * (chord2.sqrt() / 2.0).min(1.0).asin()).round() as u64),
                    state,
                }
            })
            .collect();
        Page {
            index: self,
            total,
            page,
            per_page,
            shown,
            states,
        }
    }
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;

#[path = "index_ouverture.rs"]
mod ouverture;
use ouverture::OpenNow;

#[path = "index_texte.rs"]
mod texte;
use texte::TextIndex;

#[path = "index_filtres.rs"]
mod filtres;
use filtres::FilterBits;

#[path = "index_chargement.rs"]
mod chargement;
