//! Consistent online backup of the embedded SQLite database (`VACUUM INTO`:
//! one read transaction, so the copy is a single instant of the base even
//! while the service writes), written beside the target then renamed, and
//! checked (`PRAGMA integrity_check`) before it replaces anything. PostgreSQL
//! deployments use `pg_dump` (README, « Sauvegarde »).

use std::path::{Path, PathBuf};

use serde_json::json;
use sqlx::ConnectOptions;

use crate::db::Pool;
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, Actor, NewEntry};
use crate::Core;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sauvegarde {
    pub fichier: PathBuf,
    pub octets: u64,
}

fn io(what: &str, path: &Path, e: impl std::fmt::Display) -> CoreError {
    CoreError::Io(format!("{what} « {} » : {e}", path.display()))
}

/// Copies the SQLite database to `dest` (refused if it exists, unless `overwrite`).
pub async fn sqlite(core: &Core, actor: &Actor, dest: &Path, overwrite: bool) -> Result<Sauvegarde> {
    let Pool::Sqlite(pool) = &core.db.pool else {
        return Err(CoreError::invalid(
            "la sauvegarde intégrée ne concerne que SQLite ; pour PostgreSQL, utilisez pg_dump \
             (pg_dump --format=custom --file=passerelle.dump BASE), voir la section « Sauvegarde » du README",
        ));
    };
    if dest.exists() && !overwrite {
        return Err(CoreError::invalid(format!(
            "le fichier « {} » existe déjà : choisissez un autre nom, ou ajoutez --ecraser",
            dest.display()
        )));
    }
    let mut name = dest.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    if name.is_empty() {
        return Err(CoreError::invalid("indiquez un nom de fichier pour la sauvegarde"));
    }
    name.push(".en-cours");
    let partial = dest.with_file_name(name);
    if partial.exists() {
        std::fs::remove_file(&partial).map_err(|e| io("fichier partiel d'une sauvegarde précédente", &partial, e))?;
    }
    let target = partial
        .to_str()
        .ok_or_else(|| CoreError::invalid("le chemin de la sauvegarde doit être en UTF-8"))?
        .to_string();
    sqlx::query("VACUUM INTO $1").bind(&target).execute(pool).await?;
    // The copy must open and be whole before it replaces anything.
    let check: Result<String> = async {
        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&partial)
            .read_only(true)
            .connect()
            .await?;
        Ok(sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut c).await?)
    }
    .await;
    match check {
        Ok(ok) if ok == "ok" => {}
        Ok(other) => {
            let _ = std::fs::remove_file(&partial);
            return Err(CoreError::Io(format!(
                "la copie est abîmée ({other}) : rien n'a été remplacé"
            )));
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    }
    std::fs::rename(&partial, dest).map_err(|e| io("sauvegarde impossible à écrire", dest, e))?;
    let octets = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    let mut tx = core.db.begin().await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::BACKUP)
            .details(json!({ "fichier": dest.display().to_string(), "octets": octets })),
    )
    .await?;
    tx.commit().await?;
    Ok(Sauvegarde {
        fichier: dest.to_path_buf(),
        octets,
    })
}
