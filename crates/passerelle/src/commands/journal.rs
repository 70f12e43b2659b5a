//! `passerelle journal verify | checkpoint`.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use passerelle_core::journal::{self, VerifyReport};
use passerelle_core::{Db, Keys};
use serde_json::json;

use crate::config::DataArgs;

#[derive(Subcommand, Debug)]
pub enum JournalCommand {
    /// Recalcule toute la chaîne et vérifie les points de contrôle signés.
    /// Code de sortie : 0 intact, 1 altéré (le premier numéro fautif est affiché), 2 erreur.
    Verify {
        /// Sortie JSON, pour les scripts.
        #[arg(long)]
        json: bool,
    },
    /// Signe la tête actuelle du journal (fait aussi chaque jour par le service).
    Checkpoint {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(data: &DataArgs, command: JournalCommand) -> Result<ExitCode> {
    match command {
        JournalCommand::Verify { json } => verify(data, json).await,
        JournalCommand::Checkpoint { json } => {
            let core = super::open(data).await?;
            let seq = journal::checkpoint_head(&core.db, &core.keys).await?;
            match (seq, json) {
                (Some(s), true) => println!(
                    "{}",
                    json!({ "point_de_controle": s, "cle": core.keys.journal_key_id() })
                ),
                (None, true) => println!("{}", json!({ "point_de_controle": null })),
                (Some(s), false) => println!("Point de contrôle signé sur l'entrée n° {s}."),
                (None, false) => {
                    println!("Rien à signer : le journal est vide ou sa tête est déjà signée.")
                }
            }
            core.db.close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn verify(data: &DataArgs, json: bool) -> Result<ExitCode> {
    // Verification only reads: no migration, and the key must already exist.
    if !data.data_dir.join("journal-ed25519.pem").exists() {
        anyhow::bail!(
            "clé du journal introuvable dans « {} » : indiquez le dossier de données du déploiement (PASSERELLE_DATA_DIR)",
            data.data_dir.display()
        );
    }
    let keys = Keys::load_or_create(&data.data_dir)?;
    let db = Db::connect(&data.database_url()).await?;
    let bar = if std::io::stderr().is_terminal() && !json {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {pos} entrées vérifiées ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let started = std::time::Instant::now();
    let progress = bar.clone();
    let report = journal::verify(&db, keys.journal_verifying(), move |n| progress.set_position(n)).await?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    db.close().await;
    match report {
        VerifyReport::Intact { entries, checkpoints } => {
            if json {
                println!(
                    "{}",
                    json!({ "intact": true, "entrees": entries, "points_de_controle": checkpoints, "secondes": secs })
                );
            } else {
                println!(
                    "Journal intact : {entries} entrées vérifiées, {checkpoints} points de contrôle signés vérifiés (clé {}), en {secs:.2} s.",
                    keys.journal_key_id()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        VerifyReport::Broken(b) => {
            if json {
                println!(
                    "{}",
                    json!({ "intact": false, "premiere_entree_fautive": b.seq, "raison": b.reason })
                );
            } else {
                println!("Journal ALTÉRÉ : première entrée fautive n° {} : {}", b.seq, b.reason);
            }
            Ok(ExitCode::from(1))
        }
    }
}
