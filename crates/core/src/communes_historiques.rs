//! The names a commune code has borne, with their dates. FranceConnect's
//! `birthplace` is the INSEE code of the commune of birth *on the birth
//! date*: for an older usager, often a commune merged since (59298
//! Hellemmes-Lille, associated with Lille in 1977; 01015 Arbignieu, delegated
//! commune of Arboys en Bugey since 2016). The attestation names that commune.
//!
//! Sources, both from npm and pinned: the history of the Code officiel
//! géographique from 1943 to 2019 of `@etalab/decoupage-administratif` 0.8.0
//! (installed as `decoupage-administratif-historique`: later versions no
//! longer ship it), and the delegated and associated communes of the current
//! version (6.0.0), without dates.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::db::Db;
use crate::error::{CoreError, Result};
use crate::{on_db, on_tx};

/// The history file, beside the current dataset in `node_modules`.
pub const FILE: &str = "historique-communes.json";

/// The last day the history file describes: after it, the current list wins.
const HISTORY_ENDS: &str = "2019-01-01";

#[derive(Deserialize)]
struct RawHistory {
    code: String,
    nom: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "dateDebut")]
    debut: Option<String>,
    #[serde(rename = "dateFin")]
    fin: Option<String>,
}

/// Where npm puts the history, given the current dataset's directory
/// (`node_modules/@etalab/decoupage-administratif/data`).
pub fn dir_beside(current: &Path) -> PathBuf {
    current.join("../../../decoupage-administratif-historique/data")
}

fn rank(kind: &str) -> i64 {
    match kind {
        "COM" => 0,
        "COMA" | "COMD" => 1,
        _ => 2,
    }
}

/// Whether nothing is loaded yet.
pub async fn needs_load(db: &Db) -> Result<bool> {
    let n: i64 = on_db!(db, c => sqlx::query_scalar("SELECT COUNT(*) FROM territoires_communes_historique").fetch_one(&mut *c).await?);
    Ok(n == 0)
}

/// Replaces the history with the file of `source` and `delegated`, the
/// (code, name) of today's delegated and associated communes (read by
/// [`crate::geographie::load`] with the current communes). Returns the rows;
/// a folder without the history package beside it leaves the history as it is.
pub(crate) async fn load(
    db: &Db,
    source: crate::geographie::Source<'_>,
    delegated: Vec<(String, String)>,
) -> Result<usize> {
    let Some(history) = crate::geographie::read_opt::<RawHistory>(source, FILE)? else {
        return Ok(0);
    };
    let mut rows: Vec<(String, String, String, String, i64)> = history
        .into_iter()
        .map(|h| {
            let r = rank(&h.kind);
            (h.code, h.nom, h.debut.unwrap_or_default(), h.fin.unwrap_or_default(), r)
        })
        .collect();
    rows.extend(
        delegated
            .into_iter()
            .map(|(code, nom)| (code, nom, String::new(), String::new(), 3)),
    );
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query("DELETE FROM territoires_communes_historique").execute(&mut *c).await?;
        for chunk in rows.chunks(2000) {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO territoires_communes_historique (code, nom, debut, fin, rang) ");
            qb.push_values(chunk, |mut b, (code, nom, debut, fin, rang)| {
                b.push_bind(code.clone())
                    .push_bind(nom.clone())
                    .push_bind(debut.clone())
                    .push_bind(fin.clone())
                    .push_bind(*rang);
            });
            qb.build().execute(&mut *c).await?;
        }
    });
    tx.commit().await?;
    Ok(rows.len())
}

/// The name of commune `code` on `day` (`AAAA-MM-JJ`): the name it bore
/// that day when the history knows it (born before 2019), else its name in
/// the current list, else any name it bore (the latest). Empty when unknown.
pub async fn name_on(db: &Db, code: &str, day: &str) -> Result<String> {
    if code.is_empty() {
        return Ok(String::new());
    }
    let dated = || async {
        let n: Option<String> = on_db!(db, c => {
            sqlx::query_scalar(
                "SELECT nom FROM territoires_communes_historique WHERE code = $1 AND rang < 3 \
                 AND (debut = '' OR debut <= $2) AND (fin = '' OR $2 < fin) ORDER BY rang, debut DESC LIMIT 1",
            )
            .bind(code)
            .bind(day)
            .fetch_optional(&mut *c)
            .await?
        });
        Ok::<_, CoreError>(n)
    };
    let current = || async {
        let n: Option<String> = on_db!(db, c => {
            sqlx::query_scalar("SELECT nom FROM territoires_communes WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut *c)
                .await?
        });
        Ok::<_, CoreError>(n)
    };
    let found = if day < HISTORY_ENDS {
        match dated().await? {
            Some(n) => Some(n),
            None => current().await?,
        }
    } else {
        match current().await? {
            Some(n) => Some(n),
            None => dated().await?,
        }
    };
    if let Some(n) = found {
        return Ok(n);
    }
    let any: Option<String> = on_db!(db, c => {
        sqlx::query_scalar(
            "SELECT nom FROM territoires_communes_historique WHERE code = $1 \
             ORDER BY CASE WHEN fin = '' THEN 1 ELSE 0 END DESC, fin DESC, rang LIMIT 1",
        )
        .bind(code)
        .fetch_optional(&mut *c)
        .await?
    });
    Ok(any.unwrap_or_default())
}
