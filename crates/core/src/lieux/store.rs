//! SQL of the places directory (both engines).

use std::collections::HashMap;

use sqlx::Row;

use super::model::{departement, Lieu};
use super::schema::standard;
use crate::db::{Db, Tx};
use crate::error::Result;
use crate::{on_db, on_tx};

/// Rows per multi-row INSERT: 40 columns × 500 rows stays under both engines'
/// parameter limits (32,766 for SQLite, 65,535 for PostgreSQL).
const INSERT_BATCH: usize = 500;

/// A place already in the directory, as the importer needs it.
#[derive(Debug, Clone)]
pub struct Known {
    pub id: i64,
    pub digest: String,
    pub dedup_key: String,
    /// `date_maj` as stored (`AAAA-MM-JJ`).
    pub date_maj: String,
    /// Last written by an edit in Passerelle, not by an import.
    pub edited: bool,
    /// One of the sources of a merged record (see `lieux::fusion`): `digest` is what this
    /// source last sent, and its rows update only the fields it gave.
    pub fusion: bool,
}

/// Database column of a standard field (the standard's `id` is stored as `ext_id`).
pub fn column(field: &str) -> &str {
    if field == "id" {
        "ext_id"
    } else {
        field
    }
}

pub async fn known(tx: &mut Tx) -> Result<HashMap<String, Known>> {
    let rows: Vec<(i64, String, String, String, String, String)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id, ext_id, digest, dedup_key, date_maj, import_source FROM lieux").fetch_all(&mut *c).await?
    });
    let sources = super::fusion::sources(tx).await?;
    let mut known: HashMap<String, Known> = rows
        .into_iter()
        .map(|(id, ext, digest, dedup_key, date_maj, source)| {
            let edited = source == EDIT_SOURCE;
            (
                ext,
                Known {
                    id,
                    digest,
                    dedup_key,
                    date_maj,
                    edited,
                    fusion: false,
                },
            )
        })
        .collect();
    // Every source id of a merged record, its own included, leads to that record.
    let by_id: HashMap<i64, Known> = known.values().map(|k| (k.id, k.clone())).collect();
    for (ext_id, (id, digest)) in sources {
        if let Some(target) = by_id.get(&id) {
            known.insert(
                ext_id,
                Known {
                    digest,
                    fusion: true,
                    ..target.clone()
                },
            );
        }
    }
    Ok(known)
}

/// The source recorded for a record last written by an edit in Passerelle.
pub const EDIT_SOURCE: &str = "edition";

/// What is written besides the standard's values: digest, dedup key and provenance.
pub struct Extra<'a> {
    pub digest: &'a str,
    pub dedup_key: &'a str,
    pub source: &'a str,
    /// None for an edit made in Passerelle.
    pub import_id: Option<i64>,
    pub line: usize,
}

/// Records an import run; returns its id (the provenance of the records it writes).
pub async fn insert_import_run(
    tx: &mut Tx,
    source: &str,
    file: &str,
    lines: usize,
    created: usize,
    updated: usize,
) -> Result<i64> {
    let now = tx.horloge.now_micros();
    Ok(on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO lieux_imports (source, fichier, lignes, crees, mis_a_jour, at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(source)
        .bind(file)
        .bind(lines as i64)
        .bind(created as i64)
        .bind(updated as i64)
        .bind(now)
        .fetch_one(&mut *c)
        .await?
    }))
}

/// Records the final counts of an import run.
pub async fn finish_import_run(tx: &mut Tx, id: i64, created: usize, updated: usize) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE lieux_imports SET crees = $2, mis_a_jour = $3 WHERE id = $1")
            .bind(id)
            .bind(created as i64)
            .bind(updated as i64)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Inserts places; returns (ext_id, new id).
pub async fn insert_many(tx: &mut Tx, lieux: &[(&Lieu, Extra<'_>)]) -> Result<Vec<(String, i64)>> {
    let now = tx.horloge.now_micros();
    let std_cols: Vec<&str> = standard().names().map(column).collect();
    let mut ids = Vec::with_capacity(lieux.len());
    for chunk in lieux.chunks(INSERT_BATCH) {
        let sql_head = format!(
            "INSERT INTO lieux ({}, digest, dedup_key, departement, import_source, import_id, import_ligne, created_at, updated_at) ",
            std_cols.join(", ")
        );
        let rows: Vec<(String, i64)> = on_tx!(tx, c => {
            let mut qb = sqlx::QueryBuilder::new(sql_head.as_str());
            qb.push_values(chunk, |mut b, (lieu, extra)| {
                for (name, value) in lieu.standard_values() {
                    match name {
                        "latitude" => { b.push_bind(lieu.latitude); }
                        "longitude" => { b.push_bind(lieu.longitude); }
                        "code_postal" => { b.push_bind(lieu.code_postal.clone()); }
                        _ => { b.push_bind(value); }
                    }
                }
                b.push_bind(extra.digest.to_string())
                    .push_bind(extra.dedup_key.to_string())
                    .push_bind(departement(lieu.code_insee.as_ref(), &lieu.code_postal).to_string())
                    .push_bind(extra.source.to_string())
                    .push_bind(extra.import_id)
                    .push_bind(extra.line as i64)
                    .push_bind(now)
                    .push_bind(now);
            });
            qb.push(" RETURNING ext_id, id");
            qb.build_query_as::<(String, i64)>().fetch_all(&mut *c).await?
        });
        ids.extend(rows);
    }
    Ok(ids)
}

/// Replaces the standard's values of place `id`.
pub async fn update(tx: &mut Tx, id: i64, lieu: &Lieu, extra: Extra<'_>) -> Result<()> {
    let now = tx.horloge.now_micros();
    let std_cols: Vec<&str> = standard().names().map(column).collect();
    let sets: Vec<String> = std_cols
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 2))
        .collect();
    let n = std_cols.len();
    let sql = format!(
        "UPDATE lieux SET {}, digest = ${}, dedup_key = ${}, departement = ${}, import_source = ${}, import_id = ${}, import_ligne = ${}, updated_at = ${} WHERE id = $1",
        sets.join(", "),
        n + 2,
        n + 3,
        n + 4,
        n + 5,
        n + 6,
        n + 7,
        n + 8
    );
    on_tx!(tx, c => {
        let mut q = sqlx::query(&sql).bind(id);
        for (name, value) in lieu.standard_values() {
            q = match name {
                "latitude" => q.bind(lieu.latitude),
                "longitude" => q.bind(lieu.longitude),
                "code_postal" => q.bind(&lieu.code_postal),
                _ => q.bind(value),
            };
        }
        q.bind(extra.digest)
            .bind(extra.dedup_key)
            .bind(departement(lieu.code_insee.as_ref(), &lieu.code_postal).to_string())
            .bind(extra.source)
            .bind(extra.import_id)
            .bind(extra.line as i64)
            .bind(now)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Places' addresses as people read them (« 1 rue X, 33000 Bordeaux »), by standard id.
pub async fn adresses(db: &Db, ext_ids: &[String]) -> Result<HashMap<String, String>> {
    let mut out = HashMap::with_capacity(ext_ids.len());
    for chunk in ext_ids.chunks(INSERT_BATCH) {
        let rows: Vec<(String, String, String, String)> = on_db!(db, c => {
            let mut qb = sqlx::QueryBuilder::new("SELECT ext_id, adresse, code_postal, commune FROM lieux WHERE ext_id IN (");
            let mut list = qb.separated(", ");
            for id in chunk {
                list.push_bind(id.clone());
            }
            qb.push(")");
            qb.build_query_as().fetch_all(&mut *c).await?
        });
        for (id, adresse, cp, commune) in rows {
            out.insert(id, format!("{adresse}, {cp} {commune}"));
        }
    }
    Ok(out)
}

/// A value of the standard as stored: text, or a number for the coordinates.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(Option<f64>),
}

/// Every place's standard values, in the schema's order, sorted by id.
pub async fn standard_rows(db: &Db) -> Result<Vec<Vec<Value>>> {
    let fields: Vec<&str> = standard().names().collect();
    let select: Vec<String> = fields.iter().map(|f| column(f).to_string()).collect();
    let sql = format!("SELECT {} FROM lieux ORDER BY ext_id", select.join(", "));
    Ok(on_db!(db, c => {
        let rows = sqlx::query(&sql).fetch_all(&mut *c).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(fields.len());
            for (i, f) in fields.iter().enumerate() {
                values.push(if matches!(*f, "latitude" | "longitude") {
                    Value::Number(row.try_get::<Option<f64>, _>(i)?)
                } else {
                    Value::Text(row.try_get::<String, _>(i)?)
                });
            }
            out.push(values);
        }
        out
    }))
}

/// One place's standard values (schema order) and Passerelle's own data, by the standard's id.
pub async fn by_ext_id(db: &Db, ext_id: &str) -> Result<Option<(Vec<Value>, Own)>> {
    let fields: Vec<&str> = standard().names().collect();
    let select: Vec<String> = fields.iter().map(|f| column(f).to_string()).collect();
    let sql = format!(
        "SELECT {}, pass_numerique, departement, labels, updated_at, id, organisation_id FROM lieux WHERE ext_id = $1",
        select.join(", ")
    );
    Ok(on_db!(db, c => {
        match sqlx::query(&sql).bind(ext_id).fetch_optional(&mut *c).await? {
            None => None,
            Some(row) => {
                let mut values = Vec::with_capacity(fields.len());
                for (i, f) in fields.iter().enumerate() {
                    values.push(if matches!(*f, "latitude" | "longitude") {
                        Value::Number(row.try_get::<Option<f64>, _>(i)?)
                    } else {
                        Value::Text(row.try_get::<String, _>(i)?)
                    });
                }
                let n = fields.len();
                let own = Own {
                    pass_numerique: row.try_get(n)?,
                    departement: row.try_get(n + 1)?,
                    labels: row.try_get(n + 2)?,
                    updated_at: row.try_get(n + 3)?,
                    id: row.try_get(n + 4)?,
                    organisation_id: row.try_get(n + 5)?,
                };
                Some((values, own))
            }
        }
    }))
}

/// What Passerelle adds to a place.
#[derive(Debug, Clone)]
pub struct Own {
    pub pass_numerique: bool,
    pub departement: String,
    pub labels: String,
    pub updated_at: i64,
    pub id: i64,
    /// The organisation (of kind lieu) whose staff may edit the place.
    pub organisation_id: Option<i64>,
}

/// Sets the organisation responsible for a place.
pub async fn set_owner(tx: &mut Tx, id: i64, organisation_id: Option<i64>) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE lieux SET organisation_id = $2 WHERE id = $1").bind(id).bind(organisation_id).execute(&mut *c).await?;
    });
    Ok(())
}
