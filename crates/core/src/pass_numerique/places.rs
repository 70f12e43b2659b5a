//! Places in the Pass Numérique: direct qualification by the opérateur, and
//! the API keys of their software (only a SHA-256 of a key is kept).

use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::authz::{authorize, Action};
use super::code::ALPHABET;
use crate::accounts::Principal;
use crate::db::{is_unique_violation, Db};
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, NewEntry};
use crate::{on_db, on_tx, Core};

/// A place as the Pass Numérique needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Place {
    pub id: i64,
    pub ext_id: String,
    pub nom: String,
    /// As stored (empty when unknown), only compared with an order's perimeter:
    /// a code written by an older import that the rule of
    /// [`crate::identifiants::CodeInsee`] refuses matches no commune, and must
    /// not keep the place's other Pass Numérique actions from working
    /// (`passerelle controle` lists it, rule `codes_lieux_valides`).
    pub code_insee: String,
    pub departement: String,
    pub services: crate::lieux::model::ListeServices,
    pub organisation_id: Option<i64>,
}

const PLACE_SQL: &str = "SELECT id, ext_id, nom, code_insee, departement, services, organisation_id FROM lieux";

/// The place of a valid API key (`pn_…`) and the key's id, in one query; `None`
/// for a wrong or revoked key.
pub async fn of_api_key(db: &Db, key: &str) -> Result<Option<(i64, Place)>> {
    if key.len() > 100 || !key.starts_with("pn_") {
        return Ok(None);
    }
    #[derive(sqlx::FromRow)]
    struct Row {
        key_id: i64,
        #[sqlx(flatten)]
        place: Place,
    }
    let row: Option<Row> = on_db!(db, c => {
        sqlx::query_as(
            "SELECT k.id AS key_id, l.id, l.ext_id, l.nom, l.code_insee, l.departement, l.services, l.organisation_id \
             FROM cles_api k JOIN lieux l ON l.id = k.lieu_id WHERE k.empreinte = $1 AND k.revoquee_at IS NULL",
        )
        .bind(key_hash(key))
        .fetch_optional(&mut *c)
        .await?
    });
    Ok(row.map(|r| (r.key_id, r.place)))
}

/// A place by its id in the national standard.
pub async fn by_ext_id(db: &Db, ext_id: &str) -> Result<Place> {
    let sql = format!("{PLACE_SQL} WHERE ext_id = $1");
    let p: Option<Place> = on_db!(db, c => {
        sqlx::query_as(&sql).bind(ext_id.trim()).fetch_optional(&mut *c).await?
    });
    p.ok_or_else(|| CoreError::NotFound(format!("lieu « {} »", ext_id.trim())))
}

pub async fn by_id(db: &Db, id: i64) -> Result<Place> {
    let sql = format!("{PLACE_SQL} WHERE id = $1");
    let p: Option<Place> = on_db!(db, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?);
    p.ok_or_else(|| CoreError::NotFound(format!("lieu {id}")))
}

/// The qualified places in a perimeter, by name (50 at most): (id in the standard, name, commune).
pub async fn accepting(db: &Db, perimeter: &super::model::Perimetre) -> Result<Vec<(String, String, String)>> {
    use super::model::Territory;
    let mut conditions = Vec::new();
    let mut codes = Vec::new();
    for t in perimeter {
        codes.push(t.code().to_string());
        let column = match t {
            Territory::Departement(_) => "departement",
            Territory::Commune(_) => "code_insee",
        };
        conditions.push(format!("{column} = ${}", codes.len()));
    }
    if conditions.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT ext_id, nom, commune FROM lieux WHERE id IN (SELECT lieu_id FROM qualifications WHERE etat = 'active') \
         AND ({}) ORDER BY nom LIMIT 50",
        conditions.join(" OR ")
    );
    Ok(on_db!(db, c => {
        let mut q = sqlx::query_as(&sql);
        for code in &codes {
            q = q.bind(code);
        }
        q.fetch_all(&mut *c).await?
    }))
}

/// The places whose responsible organisation is `organisation_id`, by name.
pub async fn of_organisation(db: &Db, organisation_id: i64) -> Result<Vec<Place>> {
    let sql = format!("{PLACE_SQL} WHERE organisation_id = $1 ORDER BY nom");
    Ok(on_db!(db, c => sqlx::query_as(&sql).bind(organisation_id).fetch_all(&mut *c).await?))
}

/// Whether a place holds an active qualification.
pub async fn is_qualified(db: &Db, place_id: i64) -> Result<bool> {
    let n: i64 = on_db!(db, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM qualifications WHERE lieu_id = $1 AND etat = 'active'")
            .bind(place_id)
            .fetch_one(&mut *c)
            .await?
    });
    Ok(n > 0)
}

/// The opérateur qualifies a place directly (e.g. already qualified under a
/// former operator); the place then shows "Accepte le Pass Numérique".
pub async fn qualify(core: &Core, who: &Principal, ext_id: &str) -> Result<Place> {
    authorize(who, Action::Administer)?;
    let place = by_ext_id(&core.db, ext_id).await?;
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    let inserted = on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO qualifications (lieu_id, etat, motif, created_at, updated_at) VALUES ($1, 'active', 'qualification directe', $2, $2)")
            .bind(place.id)
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    });
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(CoreError::Conflict(format!(
                "le lieu « {} » est déjà qualifié",
                place.nom
            )))
        }
        Err(e) => return Err(e.into()),
    }
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE lieux SET pass_numerique = TRUE, updated_at = $2 WHERE id = $1").bind(place.id).bind(now).execute(&mut *c).await?;
    });
    crate::lieux::search::bump_version(&mut tx).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::PLACE_QUALIFIED)
            .subject("lieu", place.id)
            .details(json!({ "id": place.ext_id, "motif": "qualification directe" })),
    )
    .await?;
    tx.commit().await?;
    Ok(place)
}

fn random_symbols(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| ALPHABET[(b & 0x1f) as usize] as char).collect()
}

fn key_hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.trim().as_bytes()).to_vec()
}

/// A new API key for a place, returned once: `pn_PREFIXE_SECRET` (160 random bits).
pub async fn new_api_key(core: &Core, who: &Principal, ext_id: &str) -> Result<(Place, String, String)> {
    authorize(who, Action::Administer)?;
    let place = by_ext_id(&core.db, ext_id).await?;
    let prefix = random_symbols(8);
    let key = format!("pn_{prefix}_{}", random_symbols(32));
    let mut tx = core.db.begin().await?;
    let id: i64 = on_tx!(&mut tx, c => {
        sqlx::query_scalar("INSERT INTO cles_api (lieu_id, prefixe, empreinte, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(place.id)
            .bind(&prefix)
            .bind(key_hash(&key))
            .bind(tx.horloge.now_micros())
            .fetch_one(&mut *c)
            .await?
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::API_KEY_CREATED)
            .subject("lieu", place.id)
            .subject("cle_api", id)
            .details(json!({ "prefixe": prefix })),
    )
    .await?;
    tx.commit().await?;
    Ok((place, prefix, key))
}

/// Revokes the key with this prefix.
pub async fn revoke_api_key(core: &Core, who: &Principal, prefix: &str) -> Result<()> {
    authorize(who, Action::Administer)?;
    let mut tx = core.db.begin().await?;
    let row: Option<(i64, i64)> = on_tx!(&mut tx, c => {
        sqlx::query_as("UPDATE cles_api SET revoquee_at = $2 WHERE prefixe = $1 AND revoquee_at IS NULL RETURNING id, lieu_id")
            .bind(prefix.trim())
            .bind(tx.horloge.now_micros())
            .fetch_optional(&mut *c)
            .await?
    });
    let Some((id, place)) = row else {
        return Err(CoreError::NotFound(format!("clé d'API active « {} »", prefix.trim())));
    };
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::API_KEY_REVOKED)
            .subject("lieu", place)
            .subject("cle_api", id),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The (key id, place id) of a valid, unrevoked key.
pub async fn authenticate(db: &Db, key: &str) -> Result<Option<(i64, i64)>> {
    if key.len() > 100 || !key.starts_with("pn_") {
        return Ok(None);
    }
    Ok(on_db!(db, c => {
        sqlx::query_as("SELECT id, lieu_id FROM cles_api WHERE empreinte = $1 AND revoquee_at IS NULL")
            .bind(key_hash(key))
            .fetch_optional(&mut *c)
            .await?
    }))
}
