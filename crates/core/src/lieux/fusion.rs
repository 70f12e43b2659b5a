//! One place, several sources: merging two records of one place into one, and keeping them
//! merged through later imports.
//!
//! The kept record (`garde`) keeps its values; each field it lacks is taken from the merged one
//! (`fusionne`), and the kept record notes that source id for the field (`provenance`). Both
//! source ids then point to the kept record (`lieux_fusions`): a later import of either one
//! updates the fields that source gave (and fills empty ones), never recreating the duplicate and
//! never overwriting what the other source gave.
//!
//! Money and commitments are never moved: a record with a qualification, redemptions, API keys,
//! bank details, statements, a qualification request or a responsible organisation can only be
//! the kept one. Activities and the hub's correction proposals follow the kept record.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use serde_json::json;
use sqlx::Row as _;

use super::authz::{authorize, Action};
use super::model::Lieu;
use super::schema::standard;
use super::store::{self, column, Extra};
use super::validate::check_map;
use crate::accounts::Principal;
use crate::db::Tx;
use crate::error::{CoreError, Result};
use crate::journal::{self, NewEntry};
use crate::{on_tx, Core};

/// What a merge did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Resultat {
    pub garde: String,
    pub fusionne: String,
    /// The fields the kept record took from the merged one.
    pub champs_repris: Vec<String>,
}

/// A record as a merge needs it.
struct Record {
    id: i64,
    ext_id: String,
    /// Standard field → value as text (numbers written out).
    values: BTreeMap<String, String>,
    /// Field → source id, for the fields not given by the record's own source.
    provenance: BTreeMap<String, String>,
    digest: String,
    import_source: String,
}

fn provenance_of(text: &str) -> BTreeMap<String, String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// A record by its standard id or its database id.
async fn record(tx: &mut Tx, ext_id: Option<&str>, id: Option<i64>) -> Result<Option<Record>> {
    let names: Vec<&str> = standard().names().collect();
    let select: Vec<String> = names.iter().map(|f| column(f).to_string()).collect();
    let sql = format!(
        "SELECT {}, id, provenance, digest, import_source FROM lieux WHERE ext_id = $1 OR id = $2",
        select.join(", ")
    );
    let n = names.len();
    let row = on_tx!(tx, c => {
        match sqlx::query(&sql).bind(ext_id.unwrap_or_default()).bind(id.unwrap_or(-1)).fetch_optional(&mut *c).await? {
            None => None,
            Some(r) => {
                let mut values = BTreeMap::new();
                for (i, name) in names.iter().enumerate() {
                    let v = if matches!(*name, "latitude" | "longitude") {
                        r.try_get::<Option<f64>, _>(i)?.map(|x| x.to_string()).unwrap_or_default()
                    } else {
                        r.try_get::<String, _>(i)?
                    };
                    values.insert(name.to_string(), v);
                }
                Some(Record {
                    id: r.try_get(n)?,
                    ext_id: values.get("id").cloned().unwrap_or_default(),
                    values,
                    provenance: provenance_of(&r.try_get::<String, _>(n + 1)?),
                    digest: r.try_get(n + 2)?,
                    import_source: r.try_get(n + 3)?,
                })
            }
        }
    });
    Ok(row)
}

/// The place a set of values describes, through the one validation of the directory.
fn lieu_of(values: &BTreeMap<String, String>, today: Date) -> Result<Lieu> {
    check_map(0, values, today).map(|c| c.lieu).map_err(|errors| {
        CoreError::invalid(
            errors
                .iter()
                .map(|e| format!("{} : {}", e.champ, e.message))
                .collect::<Vec<_>>()
                .join(" ; "),
        )
    })
}

/// Writes the merged values of record `id` (and its provenance).
async fn write(
    tx: &mut Tx,
    id: i64,
    lieu: &Lieu,
    provenance: &BTreeMap<String, String>,
    source: &str,
    import: Option<(i64, usize)>,
) -> Result<()> {
    let (digest, dedup) = (lieu.digest(), lieu.dedup_key());
    store::update(
        tx,
        id,
        lieu,
        Extra {
            digest: &digest,
            dedup_key: &dedup,
            source,
            import_id: import.map(|i| i.0),
            line: import.map_or(0, |i| i.1),
        },
    )
    .await?;
    let provenance = serde_json::to_string(provenance).map_err(|e| CoreError::Io(e.to_string()))?;
    on_tx!(tx, c => {
        sqlx::query("UPDATE lieux SET provenance = $2 WHERE id = $1").bind(id).bind(&provenance).execute(&mut *c).await?;
    });
    Ok(())
}

/// What keeps a record from being the merged one: Passerelle's own data on it, in words.
async fn commitments(tx: &mut Tx, id: i64) -> Result<Vec<&'static str>> {
    const TABLES: &[(&str, &str)] = &[
        ("qualifications", "une qualification au Pass Numérique"),
        ("demandes_qualification", "une demande de qualification"),
        ("encaissements", "des chèques encaissés"),
        ("cles_api", "des clés d'API"),
        ("coordonnees_bancaires", "des coordonnées bancaires"),
        ("releves", "des relevés de règlement"),
    ];
    let mut found = Vec::new();
    for (table, words) in TABLES {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE lieu_id = $1");
        let n: i64 = on_tx!(tx, c => sqlx::query_scalar(&sql).bind(id).fetch_one(&mut *c).await?);
        if n > 0 {
            found.push(*words);
        }
    }
    let owner: Option<i64> = on_tx!(tx, c => sqlx::query_scalar("SELECT organisation_id FROM lieux WHERE id = $1").bind(id).fetch_one(&mut *c).await?);
    if owner.is_some() {
        found.push("une organisation responsable (un compte de lieu)");
    }
    Ok(found)
}

/// Merges record `fusionne` into record `garde` (opérateur only), in one transaction with its
/// journal entry.
pub async fn fusionner(core: &Core, who: &Principal, garde: &str, fusionne: &str) -> Result<Resultat> {
    authorize(who, Action::Administer)?;
    if garde.trim() == fusionne.trim() {
        return Err(CoreError::invalid("un lieu ne se fusionne pas avec lui-même"));
    }
    let today = core.db.horloge().today_utc();
    let mut tx = core.db.begin().await?;
    let missing = |id: &str| CoreError::invalid(format!("lieu « {id} » introuvable dans l'annuaire"));
    let kept = record(&mut tx, Some(garde), None)
        .await?
        .ok_or_else(|| missing(garde))?;
    let merged = record(&mut tx, Some(fusionne), None)
        .await?
        .ok_or_else(|| missing(fusionne))?;
    let held = commitments(&mut tx, merged.id).await?;
    if !held.is_empty() {
        return Err(CoreError::invalid(format!(
            "le lieu « {fusionne} » porte {} : il ne peut pas disparaître ; gardez-le et fusionnez « {garde} » dans lui",
            held.join(", ")
        )));
    }
    let mut values = kept.values.clone();
    let mut provenance = kept.provenance.clone();
    let mut taken = Vec::new();
    for (field, theirs) in &merged.values {
        let ours = values.get(field).map(String::as_str).unwrap_or_default();
        if field != "id" && ours.is_empty() && !theirs.is_empty() {
            values.insert(field.clone(), theirs.clone());
            let from = merged
                .provenance
                .get(field)
                .cloned()
                .unwrap_or_else(|| merged.ext_id.clone());
            provenance.insert(field.clone(), from);
            taken.push(field.clone());
        }
    }
    let lieu = lieu_of(&values, today)?;
    write(&mut tx, kept.id, &lieu, &provenance, &kept.import_source, None).await?;
    let now = tx.horloge.now_micros();
    on_tx!(&mut tx, c => {
        // The kept record's own source, with what it last sent (unless it was merged before).
        sqlx::query("INSERT INTO lieux_fusions (ext_id, lieu_id, digest, fusionne_le) VALUES ($1, $2, $3, $4) ON CONFLICT (ext_id) DO NOTHING")
            .bind(&kept.ext_id).bind(kept.id).bind(&kept.digest).bind(now).execute(&mut *c).await?;
        sqlx::query("UPDATE lieux_fusions SET lieu_id = $1 WHERE lieu_id = $2").bind(kept.id).bind(merged.id).execute(&mut *c).await?;
        sqlx::query("INSERT INTO lieux_fusions (ext_id, lieu_id, digest, fusionne_le) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (ext_id) DO UPDATE SET lieu_id = $2")
            .bind(&merged.ext_id).bind(kept.id).bind(&merged.digest).bind(now).execute(&mut *c).await?;
        sqlx::query("UPDATE activites SET lieu_id = $1 WHERE lieu_id = $2").bind(kept.id).bind(merged.id).execute(&mut *c).await?;
        sqlx::query("UPDATE corrections_lieux SET lieu_id = $1 WHERE lieu_id = $2").bind(kept.id).bind(merged.id).execute(&mut *c).await?;
        sqlx::query("DELETE FROM lieux WHERE id = $1").bind(merged.id).execute(&mut *c).await?;
    });
    super::search::bump_version(&mut tx).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), journal::actions::LIEUX_MERGE)
            .subject("lieu", kept.id)
            .details(json!({ "garde": kept.ext_id, "fusionne": merged.ext_id, "champs": taken })),
    )
    .await?;
    tx.commit().await?;
    Ok(Resultat {
        garde: kept.ext_id,
        fusionne: merged.ext_id,
        champs_repris: taken,
    })
}

/// The id of the record that `ext_id` was merged into, if it was (for old links).
pub async fn fusionne_dans(db: &crate::db::Db, ext_id: &str) -> Result<Option<String>> {
    Ok(crate::on_db!(db, c => sqlx::query_scalar(
        "SELECT l.ext_id FROM lieux_fusions f JOIN lieux l ON l.id = f.lieu_id WHERE f.ext_id = $1 AND l.ext_id <> $1"
    ).bind(ext_id).fetch_optional(&mut *c).await?))
}

/// The source ids of merged records: source id → (record id, digest of what it last sent).
pub(super) async fn sources(tx: &mut Tx) -> Result<HashMap<String, (i64, String)>> {
    let rows: Vec<(String, i64, String)> =
        on_tx!(tx, c => sqlx::query_as("SELECT ext_id, lieu_id, digest FROM lieux_fusions").fetch_all(&mut *c).await?);
    Ok(rows.into_iter().map(|(e, id, d)| (e, (id, d))).collect())
}

/// An import row from `row.id`, one of the sources of merged record `id`: the fields that source
/// gave (and the empty ones) take the row's values; the others stay.
pub(super) async fn apply(
    tx: &mut Tx,
    id: i64,
    row: &Lieu,
    row_digest: &str,
    source: &str,
    import: (i64, usize),
    today: Date,
) -> Result<()> {
    let Some(current) = record(tx, None, Some(id)).await? else {
        return Ok(());
    };
    let mut values = current.values.clone();
    let mut provenance = current.provenance.clone();
    for (field, theirs) in row.standard_values() {
        if field == "id" {
            continue;
        }
        let owner = provenance.get(field).cloned().unwrap_or_else(|| current.ext_id.clone());
        let ours_empty = values.get(field).is_none_or(|v| v.is_empty());
        if owner == row.id {
            values.insert(field.to_string(), theirs.into_owned());
        } else if ours_empty && !theirs.is_empty() {
            values.insert(field.to_string(), theirs.into_owned());
            provenance.insert(field.to_string(), row.id.clone());
        }
    }
    // A field the kept record's own source gives is not noted.
    provenance.retain(|_, from| *from != current.ext_id);
    let lieu = lieu_of(&values, today)?;
    write(tx, id, &lieu, &provenance, source, Some(import)).await?;
    on_tx!(tx, c => {
        sqlx::query("UPDATE lieux_fusions SET digest = $2 WHERE ext_id = $1").bind(&row.id).bind(row_digest).execute(&mut *c).await?;
    });
    Ok(())
}
