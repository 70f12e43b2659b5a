//! One module per command family.

pub mod admin;
pub mod aidants;
pub mod commandes;
pub mod journal;
pub mod lieux;
pub mod lieux_pass;
pub mod oidc;
pub mod organisations;
pub mod progression;
pub mod rapports;
pub mod recapitulatifs;
pub mod reglements;
pub mod rgpd;
pub mod serve;
pub mod taches;
pub mod territoires;

use std::process::ExitCode;

use anyhow::Result;
use passerelle_core::{Backend, Core};

use crate::config::DataArgs;

/// Opens the database (creating the data directory), applies migrations and loads the keys.
pub async fn open(data: &DataArgs) -> Result<Core> {
    open_with(data, passerelle_core::db::PoolSettings::default()).await
}

/// [`open`] with other pool settings.
pub async fn open_with(data: &DataArgs, pool: passerelle_core::db::PoolSettings) -> Result<Core> {
    let url = data.database_url();
    passerelle_core::Backend::from_url(&url)?;
    let horloge = data.horloge()?;
    if let Some(r) = horloge.texte() {
        tracing::warn!(reglage = %r, "horloge réglée : l'heure n'est pas celle du système");
    }
    create_private_dir(&data.data_dir)?;
    Ok(Core::open_with(&url, &data.data_dir, pool).await?.with_horloge(horloge))
}

/// The data directory, readable by its owner only.
fn create_private_dir(dir: &std::path::Path) -> Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| anyhow::anyhow!("impossible de créer le dossier de données « {} » : {e}", dir.display()))
}

/// `passerelle migrate [--verifier] [--json]`.
pub async fn migrate(data: &DataArgs, verifier: bool, json: bool) -> Result<ExitCode> {
    use passerelle_core::db::Db;
    use passerelle_core::migrations;
    let url = data.database_url();
    passerelle_core::Backend::from_url(&url)?;
    let shown = passerelle_core::db::redact_url(&url);
    if verifier {
        // Nothing is created or written: a missing SQLite file has every migration pending.
        let (etat, absente) = if Db::sqlite_file_exists(&url) == Some(false) {
            let all = migrations::compare_to_nothing(Backend::Sqlite);
            (all, true)
        } else {
            let db = Db::connect(&url).await?;
            let etat = migrations::etat(&db).await?;
            db.close().await;
            (etat, false)
        };
        let probleme = etat.probleme();
        if json {
            let v = serde_json::json!({
                "base": shown,
                "a_jour": etat.a_jour(),
                "base_absente": absente,
                "appliquees": etat.appliquees.len(),
                "derniere_appliquee": etat.appliquees.last(),
                "en_attente": etat.en_attente.iter().map(|(v, d)| serde_json::json!({"version": v, "description": d})).collect::<Vec<_>>(),
                "inconnues": etat.inconnues,
                "probleme": probleme,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else if let Some(p) = &probleme {
            println!("Base {shown} : {p}.");
        } else if etat.en_attente.is_empty() {
            println!(
                "Base {shown} à jour : {} migrations appliquées, aucune en attente.",
                etat.appliquees.len()
            );
        } else {
            if absente {
                println!("Base {shown} absente : elle sera créée.");
            }
            println!(
                "Base {shown} : {} migrations appliquées, {} en attente (rien n'a été appliqué) :",
                etat.appliquees.len(),
                etat.en_attente.len()
            );
            for (v, d) in &etat.en_attente {
                println!("  {v:04} {d}");
            }
        }
        return Ok(ExitCode::from(match (probleme, etat.en_attente.is_empty()) {
            (Some(_), _) => 2,
            (None, true) => 0,
            (None, false) => 1,
        }));
    }
    create_private_dir(&data.data_dir)?;
    let db = Db::connect(&url).await?;
    let rapport = db.migrate().await?;
    db.close().await;
    if let Some(copy) = &rapport.sauvegarde {
        println!("Copie de la base avant migration : {}", copy.display());
    }
    match rapport.appliquees.len() {
        0 => println!("Base {shown} déjà à jour : aucune migration à appliquer."),
        n => {
            let s = if n > 1 { "s" } else { "" };
            println!("{n} migration{s} appliquée{s} ({shown}), en une transaction :");
            for (v, d) in &rapport.appliquees {
                println!("  {v:04} {d}");
            }
        }
    }
    // The keys of the data directory are checked (or created for a new database) as by every command.
    let core = open(data).await?;
    core.db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `passerelle sauvegarde FICHIER [--ecraser]`.
pub async fn sauvegarde(data: &DataArgs, fichier: &std::path::Path, ecraser: bool) -> Result<ExitCode> {
    let core = open(data).await?;
    let s =
        passerelle_core::sauvegarde::sqlite(&core, &passerelle_core::journal::Actor::System, fichier, ecraser).await?;
    println!(
        "Sauvegarde écrite : {} ({} octets), vérifiée (PRAGMA integrity_check). Gardez-la avec le dossier des clés ({}) : sans lui, le journal ne se vérifie pas et les secrets chiffrés ne se lisent pas.",
        s.fichier.display(),
        s.octets,
        data.data_dir.display()
    );
    core.db.close().await;
    Ok(ExitCode::SUCCESS)
}
