//! Places that two sources describe twice: the candidates for a merge, with a score.
//!
//! Two records are candidates when they share a SIRET and an address (score 100), or when
//! their names are nearly the same and they are within 50 m of each other (score: 95 times the
//! names' similarity, so from 81 to 95: a name alone is never as sure as a SIRET and an address).
//! The opérateur decides; nothing is merged automatically.

use std::collections::HashMap;

use serde::Serialize;

use super::model::fold;
use super::search::distance_m;
use crate::db::Db;
use crate::error::Result;
use crate::identifiants::Pivot;
use crate::on_db;

/// Places farther apart are never candidates by name.
pub const DISTANCE_MAX_M: f64 = 50.0;
/// Names less similar than this (normalised Levenshtein, on folded names) are not candidates.
pub const SIMILARITE_MIN: f64 = 0.85;

/// One side of a candidate pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fiche {
    pub id: String,
    pub nom: String,
    pub adresse: String,
    pub code_postal: String,
    pub commune: String,
    /// The `source` field of the standard (who published it), else the import's source.
    pub source: String,
    pub date_maj: String,
}

/// Two records that may be one place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidat {
    pub score: u8,
    pub raisons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<u64>,
    pub a: Fiche,
    pub b: Fiche,
}

impl Candidat {
    /// Both records, in order.
    pub fn fiches(&self) -> [&Fiche; 2] {
        [&self.a, &self.b]
    }

    /// The two ways to merge them: (the record kept, the record merged into it).
    pub fn sens(&self) -> [(&str, &str); 2] {
        [(&self.a.id, &self.b.id), (&self.b.id, &self.a.id)]
    }
}

struct Row {
    fiche: Fiche,
    siret: Option<String>,
    address_key: String,
    name_key: String,
    position: Option<(f64, f64)>,
}

/// Grid cell of about 110 m (latitude) for the search by distance.
fn cell(lat: f64, lon: f64) -> (i64, i64) {
    ((lat / 0.001).floor() as i64, (lon / 0.001).floor() as i64)
}

/// Every candidate pair of the directory, best score first.
pub async fn candidats(db: &Db) -> Result<Vec<Candidat>> {
    type Raw = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<f64>,
        Option<f64>,
    );
    let raw: Vec<Raw> = on_db!(db, c => sqlx::query_as(
        "SELECT ext_id, nom, adresse, code_postal, commune, source, import_source, date_maj, pivot, latitude, longitude \
         FROM lieux ORDER BY ext_id"
    ).fetch_all(&mut *c).await?);
    let rows: Vec<Row> = raw
        .into_iter()
        .map(
            |(id, nom, adresse, cp, commune, source, import_source, date_maj, pivot, lat, lon)| Row {
                siret: match Pivot::parse(&pivot) {
                    Ok(Pivot::Siret(s)) => Some(s.as_str().to_string()),
                    _ => None,
                },
                address_key: format!("{}|{cp}", fold(&adresse)),
                name_key: fold(&nom),
                position: lat.zip(lon),
                fiche: Fiche {
                    id,
                    nom,
                    adresse,
                    code_postal: cp,
                    commune,
                    source: if source.is_empty() { import_source } else { source },
                    date_maj,
                },
            },
        )
        .collect();
    Ok(pairs(&rows))
}

/// What makes a pair a candidate: (score, reasons, distance in metres).
type Evidence = (u8, Vec<String>, Option<u64>);

fn pairs(rows: &[Row]) -> Vec<Candidat> {
    // (i, j) with i < j → (score, reasons, distance).
    let mut found: HashMap<(usize, usize), Evidence> = HashMap::new();
    let mut by_siret: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if let Some(s) = &r.siret {
            by_siret
                .entry((s.as_str(), r.address_key.as_str()))
                .or_default()
                .push(i);
        }
    }
    for group in by_siret.values() {
        for (k, &i) in group.iter().enumerate() {
            for &j in &group[k + 1..] {
                let e = found.entry((i, j)).or_insert((0, Vec::new(), None));
                e.0 = 100;
                e.1.push("même SIRET et même adresse".into());
            }
        }
    }
    let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if let Some((lat, lon)) = r.position {
            grid.entry(cell(lat, lon)).or_default().push(i);
        }
    }
    for (i, r) in rows.iter().enumerate() {
        let Some((lat, lon)) = r.position else { continue };
        let (cy, cx) = cell(lat, lon);
        for dy in -1..=1 {
            for dx in -1..=1 {
                for &j in grid.get(&(cy + dy, cx + dx)).map(Vec::as_slice).unwrap_or_default() {
                    if j <= i {
                        continue;
                    }
                    let Some((lat2, lon2)) = rows[j].position else { continue };
                    let d = distance_m(lat, lon, lat2, lon2);
                    if d > DISTANCE_MAX_M {
                        continue;
                    }
                    let similar = strsim::normalized_levenshtein(&r.name_key, &rows[j].name_key);
                    if similar < SIMILARITE_MIN {
                        continue;
                    }
                    let e = found.entry((i, j)).or_insert((0, Vec::new(), None));
                    e.0 = e.0.max((similar * 95.0).round() as u8);
                    e.1.push(format!(
                        "noms semblables à {} % et lieux à {} m l'un de l'autre",
                        (similar * 100.0).round(),
                        d.round()
                    ));
                    e.2 = Some(d.round() as u64);
                }
            }
        }
    }
    let mut out: Vec<Candidat> = found
        .into_iter()
        .map(|((i, j), (score, raisons, distance_m))| Candidat {
            score,
            raisons,
            distance_m,
            a: rows[i].fiche.clone(),
            b: rows[j].fiche.clone(),
        })
        .collect();
    out.sort_by(|x, y| {
        y.score
            .cmp(&x.score)
            .then_with(|| (&x.a.id, &x.b.id).cmp(&(&y.a.id, &y.b.id)))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, nom: &str, adresse: &str, siret: Option<&str>, position: Option<(f64, f64)>) -> Row {
        Row {
            fiche: Fiche {
                id: id.into(),
                nom: nom.into(),
                adresse: adresse.into(),
                code_postal: "33000".into(),
                commune: "Bordeaux".into(),
                source: String::new(),
                date_maj: String::new(),
            },
            siret: siret.map(str::to_string),
            address_key: format!("{}|33000", fold(adresse)),
            name_key: fold(nom),
            position,
        }
    }

    #[test]
    fn same_siret_and_address_or_near_identical_names_close_by() {
        let rows = vec![
            row(
                "a",
                "Médiathèque Mériadeck",
                "85 cours du Maréchal Juin",
                Some("21330063500017"),
                Some((44.8378, -0.5885)),
            ),
            // Same SIRET, same address written differently, far away coordinates (a bad geocoding).
            row(
                "b",
                "Bibliothèque de Bordeaux",
                "85, Cours du Maréchal-Juin",
                Some("21330063500017"),
                Some((44.90, -0.60)),
            ),
            // Nearly the same name, 18 m away, no SIRET in common.
            row(
                "c",
                "Mediatheque Meriadeck.",
                "Cours Maréchal Juin",
                None,
                Some((44.83795, -0.5886)),
            ),
            // Same name, 2 km away: another place.
            row(
                "d",
                "Médiathèque Mériadeck",
                "1 rue ailleurs",
                None,
                Some((44.85, -0.57)),
            ),
            // Close by, another name.
            row(
                "e",
                "Espace numérique du quartier",
                "85 cours du Maréchal Juin",
                None,
                Some((44.8378, -0.5885)),
            ),
        ];
        let found = pairs(&rows);
        let ids: Vec<(&str, &str, u8)> = found
            .iter()
            .map(|c| (c.a.id.as_str(), c.b.id.as_str(), c.score))
            .collect();
        assert_eq!(ids, [("a", "b", 100), ("a", "c", 95)], "{found:#?}");
        assert_eq!(found[1].distance_m, Some(18));
        assert!(found[1].raisons[0].starts_with("noms semblables à 100 %"), "{found:#?}");
    }
}
