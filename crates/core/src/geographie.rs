//! Official territories: régions, départements and communes with their INSEE
//! codes, loaded from the reference dataset `@etalab/decoupage-administratif`
//! (installed by npm beside the DSFR). Used to check places' codes on import
//! and to attach each place to its département.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::db::Db;
use crate::error::{CoreError, Result};
use crate::{on_db, on_tx};

/// Where `npm ci` puts the dataset in a checkout (tests and benchmarks; the
/// binary carries its own copy, see [`load_embedded`]).
pub const DEFAULT_DIR: &str = "node_modules/@etalab/decoupage-administratif/data";

#[derive(Deserialize)]
struct RawRegion {
    code: String,
    nom: String,
}

#[derive(Deserialize)]
struct RawDepartement {
    code: String,
    nom: String,
    region: String,
}

#[derive(Deserialize)]
struct RawCommune {
    code: String,
    nom: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    departement: Option<String>,
    region: Option<String>,
    #[serde(rename = "codesPostaux", default)]
    codes_postaux: Vec<String>,
    population: Option<i64>,
    /// For a municipal arrondissement: its commune (Paris, Lyon, Marseille).
    commune: Option<String>,
}

#[derive(Deserialize)]
struct RawEpci {
    code: String,
    nom: String,
    #[serde(default)]
    membres: Vec<RawMembre>,
}

#[derive(Deserialize)]
struct RawMembre {
    code: String,
}

/// Where the dataset is read from: the files embedded in the binary, or the
/// `data` folder of the npm package (`--dossier`, `PASSERELLE_TERRITOIRES_DIR`),
/// whose history is the `decoupage-administratif-historique` package beside it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    Embedded,
    Dir(&'a Path),
}

impl Source<'_> {
    /// `file` of today's list, or the history (`communes_historiques::FILE`); None when a
    /// folder has no history beside it (then the history is not loaded).
    fn bytes(self, file: &str) -> Result<Option<std::borrow::Cow<'static, [u8]>>> {
        let history = file == crate::communes_historiques::FILE;
        match self {
            Source::Embedded => {
                let b = if history {
                    passerelle_assets::territoires::HISTORIQUE
                } else {
                    passerelle_assets::territoires::fichier(file).ok_or_else(|| {
                        CoreError::Io(format!("référentiel des territoires : « {file} » absent du binaire"))
                    })?
                };
                Ok(Some(std::borrow::Cow::Borrowed(b)))
            }
            Source::Dir(dir) => {
                let path = if history {
                    crate::communes_historiques::dir_beside(dir).join(file)
                } else {
                    dir.join(file)
                };
                if history && !path.exists() {
                    return Ok(None);
                }
                std::fs::read(&path).map(|b| Some(b.into())).map_err(|e| {
                    CoreError::Io(format!(
                        "référentiel des territoires introuvable ({}) : {e} ; indiquez le dossier `data` \
                         du paquet @etalab/decoupage-administratif, ou aucun pour prendre celui du binaire",
                        path.display()
                    ))
                })
            }
        }
    }

    fn describe(self, file: &str) -> String {
        match self {
            Source::Embedded => format!("{file} embarqué"),
            Source::Dir(d) => d.join(file).display().to_string(),
        }
    }
}

/// The records of `file` (None: a folder without the history beside it).
pub(crate) fn read_opt<T: for<'de> Deserialize<'de>>(source: Source<'_>, file: &str) -> Result<Option<Vec<T>>> {
    let Some(bytes) = source.bytes(file)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        CoreError::Io(format!(
            "référentiel des territoires illisible ({}) : {e}",
            source.describe(file)
        ))
    })
}

fn read<T: for<'de> Deserialize<'de>>(source: Source<'_>, file: &str) -> Result<Vec<T>> {
    Ok(read_opt(source, file)?.unwrap_or_default())
}

/// Number of communes loaded.
pub async fn count(db: &Db) -> Result<i64> {
    Ok(on_db!(db, c => sqlx::query_scalar("SELECT COUNT(*) FROM territoires_communes").fetch_one(&mut *c).await?))
}

/// Whether the territories must be loaded: none yet, or loaded by a version
/// that did not keep the intercommunalités (EPCI).
pub async fn needs_load(db: &Db) -> Result<bool> {
    let (communes, epci): (i64, i64) = on_db!(db, c => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM territoires_communes), (SELECT COUNT(*) FROM territoires_epci)"
    ).fetch_one(&mut *c).await?);
    Ok(communes == 0 || epci == 0 || crate::communes_historiques::needs_load(db).await?)
}

/// Replaces the territories with those embedded in the binary. Returns (régions, départements, communes).
pub async fn load_embedded(db: &Db) -> Result<(usize, usize, usize)> {
    load_from(db, Source::Embedded).await
}

/// Replaces the territories with those of the dataset in `dir` (the `data` folder of
/// `@etalab/decoupage-administratif`). Returns (régions, départements, communes).
pub async fn load(db: &Db, dir: &Path) -> Result<(usize, usize, usize)> {
    load_from(db, Source::Dir(dir)).await
}

/// Replaces the territories, in one transaction (the history in a second one).
async fn load_from(db: &Db, dir: Source<'_>) -> Result<(usize, usize, usize)> {
    let regions: Vec<RawRegion> = read(dir, "regions.json")?;
    let departements: Vec<RawDepartement> = read(dir, "departements.json")?;
    // Current communes and the municipal arrondissements of Paris, Lyon and
    // Marseille (valid INSEE codes in the standard); not delegated or associated
    // communes, whose codes are historical.
    let (communes, delegated): (Vec<RawCommune>, Vec<RawCommune>) = read::<RawCommune>(dir, "communes.json")?
        .into_iter()
        .filter(|c| {
            matches!(
                c.kind.as_deref(),
                None | Some("commune-actuelle" | "arrondissement-municipal" | "commune-deleguee" | "commune-associee")
            )
        })
        .partition(|c| {
            matches!(
                c.kind.as_deref(),
                None | Some("commune-actuelle" | "arrondissement-municipal")
            )
        });
    let epcis: Vec<RawEpci> = read(dir, "epci.json")?;
    // Each commune's EPCI; a municipal arrondissement belongs to its commune's.
    let epci_of: HashMap<&str, &str> = epcis
        .iter()
        .flat_map(|e| e.membres.iter().map(move |m| (m.code.as_str(), e.code.as_str())))
        .collect();
    let epci_of_commune = |co: &RawCommune| -> String {
        let own = co.commune.as_deref().unwrap_or(&co.code);
        epci_of.get(own).map(|e| e.to_string()).unwrap_or_default()
    };
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query("DELETE FROM territoires_communes").execute(&mut *c).await?;
        sqlx::query("DELETE FROM territoires_departements").execute(&mut *c).await?;
        sqlx::query("DELETE FROM territoires_regions").execute(&mut *c).await?;
        sqlx::query("DELETE FROM territoires_epci").execute(&mut *c).await?;
    });
    on_tx!(&mut tx, c => {
        for chunk in regions.chunks(500) {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO territoires_regions (code, nom) ");
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.code.clone()).push_bind(r.nom.clone());
            });
            qb.build().execute(&mut *c).await?;
        }
        for chunk in departements.chunks(500) {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO territoires_departements (code, nom, region) ");
            qb.push_values(chunk, |mut b, d| {
                b.push_bind(d.code.clone()).push_bind(d.nom.clone()).push_bind(d.region.clone());
            });
            qb.build().execute(&mut *c).await?;
        }
        for chunk in epcis.chunks(500) {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO territoires_epci (code, nom) ");
            qb.push_values(chunk, |mut b, e| {
                b.push_bind(e.code.clone()).push_bind(e.nom.clone());
            });
            qb.build().execute(&mut *c).await?;
        }
        for chunk in communes.chunks(2000) {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO territoires_communes (code, nom, departement, region, codes_postaux, population, commune_parente, epci) ",
            );
            qb.push_values(chunk, |mut b, co| {
                b.push_bind(co.code.clone())
                    .push_bind(co.nom.clone())
                    .push_bind(co.departement.clone().unwrap_or_default())
                    .push_bind(co.region.clone().unwrap_or_default())
                    .push_bind(co.codes_postaux.join("|"))
                    .push_bind(co.population)
                    .push_bind(co.commune.clone().unwrap_or_default())
                    .push_bind(epci_of_commune(co));
            });
            qb.build().execute(&mut *c).await?;
        }
    });
    // The search index knows the communes: it is rebuilt with the new ones.
    crate::lieux::search::bump_version(&mut tx).await?;
    tx.commit().await?;
    // The names communes bore in the past (births), from the history; the delegated and
    // associated communes of today's list join them, without dates.
    let delegated = delegated.into_iter().map(|c| (c.code, c.nom)).collect();
    crate::communes_historiques::load(db, dir, delegated).await?;
    Ok((regions.len(), departements.len(), communes.len()))
}

/// A commune of the reference, as checks need it.
#[derive(Debug, Clone)]
pub struct Commune {
    pub nom: String,
    pub departement: String,
    pub codes_postaux: Vec<String>,
}

/// All communes by INSEE code (loaded once per import).
pub async fn communes(db: &Db) -> Result<HashMap<String, Commune>> {
    let rows: Vec<(String, String, String, String)> = on_db!(db, c => {
        sqlx::query_as("SELECT code, nom, departement, codes_postaux FROM territoires_communes").fetch_all(&mut *c).await?
    });
    Ok(rows
        .into_iter()
        .map(|(code, nom, departement, cp)| {
            (
                code,
                Commune {
                    nom,
                    departement,
                    codes_postaux: cp.split('|').map(str::to_string).collect(),
                },
            )
        })
        .collect())
}
