//! `passerelle territoires charger`: the official territories from the reference dataset.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use passerelle_core::geographie;

use crate::config::DataArgs;

#[derive(Subcommand, Debug)]
pub enum TerritoiresCommand {
    /// (Re)charge régions, départements et communes depuis @etalab/decoupage-administratif.
    Charger {
        /// Dossier `data` du paquet npm.
        #[arg(long, env = "PASSERELLE_TERRITOIRES_DIR", default_value = geographie::DEFAULT_DIR)]
        dossier: PathBuf,
    },
}

pub async fn run(data: &DataArgs, command: TerritoiresCommand) -> Result<ExitCode> {
    match command {
        TerritoiresCommand::Charger { dossier } => {
            let core = super::open(data).await?;
            let (r, d, c) = geographie::load(&core.db, &dossier).await?;
            println!(
                "{r} régions, {d} départements et {c} communes chargés depuis « {} ».",
                dossier.display()
            );
            core.db.close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}
