//! The opérateur's writes: create, edit, publish or unpublish, delete an
//! article; attach or remove a file. Each one is a transaction with its
//! journal entry.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::authz::{authorize, Action};
use super::model::{self, Input, Valid};
use crate::accounts::Principal;
use crate::db::Tx;
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, NewEntry};
use crate::{on_tx, Core};

/// A refused field: (field name, French message).
pub type FieldError = (&'static str, String);

/// The article's number, or the refused fields.
pub type Written = Result<i64, Vec<FieldError>>;

const TAKEN: &str = "Une autre ressource a déjà cette adresse : choisissez-en une autre.";

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

async fn slug_taken(tx: &mut Tx, slug: &str, except: i64) -> Result<bool> {
    let n: i64 = on_tx!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM ressources WHERE slug = $1 AND id <> $2")
        .bind(slug).bind(except).fetch_one(&mut *c).await?);
    Ok(n > 0)
}

async fn set_tags(tx: &mut Tx, id: i64, tags: &[String]) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM ressources_tags WHERE ressource_id = $1").bind(id).execute(&mut *c).await?;
        for t in tags {
            sqlx::query("INSERT INTO ressources_tags (ressource_id, tag) VALUES ($1, $2)")
                .bind(id).bind(t).execute(&mut *c).await?;
        }
    });
    Ok(())
}

async fn journal_entry(
    tx: &mut Tx,
    core: &Core,
    who: &Principal,
    action: &'static str,
    id: i64,
    details: serde_json::Value,
) -> Result<()> {
    journal::append(
        tx,
        &core.keys,
        NewEntry::new(who.actor(), action)
            .subject("ressource", id)
            .details(details),
    )
    .await?;
    Ok(())
}

/// What the form for a new article starts with; the opérateur only.
pub fn blank(who: &Principal) -> Result<Input> {
    authorize(who, Action::Manage)?;
    Ok(Input::default())
}

/// The preview of a body being written, as sanitised HTML; the opérateur only.
pub fn preview(who: &Principal, corps: &str) -> Result<String> {
    authorize(who, Action::Manage)?;
    Ok(super::markdown::to_html(corps))
}

/// Creates a draft article.
pub async fn create(core: &Core, who: &Principal, input: &Input) -> Result<Written> {
    authorize(who, Action::Manage)?;
    let v: Valid = match model::validate(input) {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let mut tx = core.db.begin().await?;
    if slug_taken(&mut tx, &v.slug, 0).await? {
        return Ok(Err(vec![("slug", TAKEN.into())]));
    }
    let now = tx.horloge.now_micros();
    let inserted: Result<i64, sqlx::Error> = on_tx!(&mut tx, c => sqlx::query_scalar(
        "INSERT INTO ressources (slug, titre, resume, corps, texte_recherche, publie_at, auteur_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $7) RETURNING id",
    )
    .bind(&v.slug).bind(&v.titre).bind(&v.resume).bind(&v.corps).bind(&v.texte_recherche)
    .bind(who.account_id).bind(now)
    .fetch_one(&mut *c)
    .await);
    let id = match inserted {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => return Ok(Err(vec![("slug", TAKEN.into())])),
        Err(e) => return Err(e.into()),
    };
    set_tags(&mut tx, id, &v.tags).await?;
    journal_entry(
        &mut tx,
        core,
        who,
        actions::RESSOURCE_CREATED,
        id,
        json!({ "slug": v.slug }),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// Edits an article (published or not).
pub async fn update(core: &Core, who: &Principal, id: i64, input: &Input) -> Result<Written> {
    authorize(who, Action::Manage)?;
    let v: Valid = match model::validate(input) {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let mut tx = core.db.begin().await?;
    if slug_taken(&mut tx, &v.slug, id).await? {
        return Ok(Err(vec![("slug", TAKEN.into())]));
    }
    let changed: Result<u64, sqlx::Error> = on_tx!(&mut tx, c => sqlx::query(
        "UPDATE ressources SET slug = $2, titre = $3, resume = $4, corps = $5, texte_recherche = $6, updated_at = $7 \
         WHERE id = $1",
    )
    .bind(id).bind(&v.slug).bind(&v.titre).bind(&v.resume).bind(&v.corps).bind(&v.texte_recherche).bind(tx.horloge.now_micros())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()));
    match changed {
        Ok(1) => {}
        Ok(_) => return Err(CoreError::NotFound("ressource".into())),
        Err(e) if is_unique_violation(&e) => return Ok(Err(vec![("slug", TAKEN.into())])),
        Err(e) => return Err(e.into()),
    }
    set_tags(&mut tx, id, &v.tags).await?;
    journal_entry(
        &mut tx,
        core,
        who,
        actions::RESSOURCE_EDITED,
        id,
        json!({ "slug": v.slug }),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// Publishes (visible to all) or unpublishes (back to draft) an article.
pub async fn set_published(core: &Core, who: &Principal, id: i64, publish: bool) -> Result<()> {
    authorize(who, Action::Manage)?;
    let mut tx = core.db.begin().await?;
    let now = tx.horloge.now_micros();
    let changed = on_tx!(&mut tx, c => {
        if publish {
            sqlx::query("UPDATE ressources SET publie_at = $2 WHERE id = $1 AND publie_at IS NULL")
                .bind(id).bind(now).execute(&mut *c).await?.rows_affected()
        } else {
            sqlx::query("UPDATE ressources SET publie_at = NULL WHERE id = $1 AND publie_at IS NOT NULL")
                .bind(id).execute(&mut *c).await?.rows_affected()
        }
    });
    if changed == 0 {
        // Unknown, or already in that state: nothing to record.
        let exists: i64 = on_tx!(&mut tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM ressources WHERE id = $1")
            .bind(id).fetch_one(&mut *c).await?);
        return if exists == 0 {
            Err(CoreError::NotFound("ressource".into()))
        } else {
            Ok(())
        };
    }
    let action = if publish {
        actions::RESSOURCE_PUBLISHED
    } else {
        actions::RESSOURCE_UNPUBLISHED
    };
    journal_entry(&mut tx, core, who, action, id, json!({})).await?;
    tx.commit().await
}

/// Deletes an article and its files.
pub async fn delete(core: &Core, who: &Principal, id: i64) -> Result<()> {
    authorize(who, Action::Manage)?;
    let mut tx = core.db.begin().await?;
    let slug: Option<String> = on_tx!(&mut tx, c => {
        sqlx::query("DELETE FROM ressources_fichiers WHERE ressource_id = $1").bind(id).execute(&mut *c).await?;
        sqlx::query("DELETE FROM ressources_tags WHERE ressource_id = $1").bind(id).execute(&mut *c).await?;
        sqlx::query_scalar("DELETE FROM ressources WHERE id = $1 RETURNING slug").bind(id).fetch_optional(&mut *c).await?
    });
    let Some(slug) = slug else {
        return Err(CoreError::NotFound("ressource".into()));
    };
    journal_entry(
        &mut tx,
        core,
        who,
        actions::RESSOURCE_DELETED,
        id,
        json!({ "slug": slug }),
    )
    .await?;
    tx.commit().await
}

/// Attaches a file: its type is read from its content, 10 Mio at most.
pub async fn attach(core: &Core, who: &Principal, id: i64, name: &str, bytes: &[u8]) -> Result<i64> {
    authorize(who, Action::Manage)?;
    if bytes.is_empty() {
        return Err(CoreError::invalid("Choisissez un fichier à joindre."));
    }
    if bytes.len() > model::MAX_FILE_BYTES {
        return Err(CoreError::invalid(format!(
            "Fichier trop volumineux : {} Mo au plus.",
            model::MAX_FILE_BYTES >> 20
        )));
    }
    let kind = model::sniff(name, bytes).ok_or_else(|| CoreError::invalid(model::REFUSED_TYPE))?;
    let nom = model::display_name(name);
    let sha = hex::encode(Sha256::digest(bytes));
    let size = bytes.len() as i64;
    let mut tx = core.db.begin().await?;
    let (exists, count): (i64, i64) = on_tx!(&mut tx, c => {
        let exists = sqlx::query_scalar("SELECT COUNT(*) FROM ressources WHERE id = $1").bind(id).fetch_one(&mut *c).await?;
        let count = sqlx::query_scalar("SELECT COUNT(*) FROM ressources_fichiers WHERE ressource_id = $1").bind(id).fetch_one(&mut *c).await?;
        (exists, count)
    });
    if exists == 0 {
        return Err(CoreError::NotFound("ressource".into()));
    }
    if count >= model::MAX_FILES {
        return Err(CoreError::invalid(format!(
            "Une ressource a au plus {} fichiers joints : retirez-en un d’abord.",
            model::MAX_FILES
        )));
    }
    let file_id: i64 = on_tx!(&mut tx, c => sqlx::query_scalar(
        "INSERT INTO ressources_fichiers (ressource_id, nom, type_mime, taille, sha256, contenu, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(id).bind(&nom).bind(kind.0).bind(size).bind(&sha).bind(bytes).bind(tx.horloge.now_micros())
    .fetch_one(&mut *c)
    .await?);
    journal_entry(
        &mut tx,
        core,
        who,
        actions::RESSOURCE_FILE_ADDED,
        id,
        json!({ "fichier": file_id, "type": kind.0, "taille": size, "sha256": sha }),
    )
    .await?;
    tx.commit().await?;
    Ok(file_id)
}

/// Removes an attached file.
pub async fn detach(core: &Core, who: &Principal, id: i64, file_id: i64) -> Result<()> {
    authorize(who, Action::Manage)?;
    let mut tx = core.db.begin().await?;
    let sha: Option<String> = on_tx!(&mut tx, c => sqlx::query_scalar(
        "DELETE FROM ressources_fichiers WHERE id = $1 AND ressource_id = $2 RETURNING sha256",
    )
    .bind(file_id).bind(id)
    .fetch_optional(&mut *c)
    .await?);
    let Some(sha) = sha else {
        return Err(CoreError::NotFound("fichier".into()));
    };
    journal_entry(
        &mut tx,
        core,
        who,
        actions::RESSOURCE_FILE_REMOVED,
        id,
        json!({ "fichier": file_id, "sha256": sha }),
    )
    .await?;
    tx.commit().await
}
