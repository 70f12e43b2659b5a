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
use passerelle_core::Core;

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

pub async fn migrate(data: &DataArgs) -> Result<ExitCode> {
    let core = open(data).await?;
    println!(
        "Migrations appliquées ({}).",
        passerelle_core::db::redact_url(&data.database_url())
    );
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
