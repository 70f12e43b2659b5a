//! `passerelle territoires charger`: the official territories from the reference dataset.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use passerelle_core::geographie;

use crate::config::DataArgs;

#[derive(Subcommand, Debug)]
pub enum TerritoiresCommand {
    /// (Re)charge régions, départements, communes et EPCI depuis @etalab/decoupage-administratif
    /// (la version embarquée dans le binaire, ou celle d'un dossier).
    Charger {
        /// Dossier `data` du paquet npm à la place des territoires du binaire.
        #[arg(long, env = "PASSERELLE_TERRITOIRES_DIR")]
        dossier: Option<PathBuf>,
    },
}

pub async fn run(data: &DataArgs, command: TerritoiresCommand) -> Result<ExitCode> {
    match command {
        TerritoiresCommand::Charger { dossier } => {
            let core = super::open(data).await?;
            let ((r, d, c), origine) = match &dossier {
                Some(dir) => (geographie::load(&core.db, dir).await?, format!("« {} »", dir.display())),
                None => (
                    geographie::load_embedded(&core.db).await?,
                    "le binaire (@etalab/decoupage-administratif épinglé)".to_string(),
                ),
            };
            println!("{r} régions, {d} départements et {c} communes chargés depuis {origine}.");
            core.db.close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}
