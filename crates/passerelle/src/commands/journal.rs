//! `passerelle journal verify | checkpoint`.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use passerelle_core::journal::{self, CheckpointRef, VerifyReport};
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
        /// Points de contrôle exportés auparavant (`journal export-checkpoints`) et gardés hors
        /// de la base : vérifiés avec la clé publique du fichier, ils révèlent une chaîne réécrite
        /// avec sa table de points de contrôle.
        #[arg(long)]
        checkpoints: Option<std::path::PathBuf>,
    },
    /// Exporte les points de contrôle signés et la clé publique, à garder hors de la base
    /// (publication, archivage), pour `journal verify --checkpoints`.
    ExportCheckpoints {
        /// Fichier de sortie (par défaut : la sortie standard).
        #[arg(short = 'o', long = "output")]
        output: Option<std::path::PathBuf>,
    },
    /// Signe la tête actuelle du journal (fait aussi chaque jour par le service).
    Checkpoint {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(data: &DataArgs, command: JournalCommand) -> Result<ExitCode> {
    match command {
        JournalCommand::Verify { json, checkpoints } => verify(data, json, checkpoints.as_deref()).await,
        JournalCommand::ExportCheckpoints { output } => {
            let core = super::open(data).await?;
            let points = journal::checkpoints(&core.db).await?;
            let doc = json!({
                "format": "passerelle-points-de-controle-v1",
                "cle": core.keys.journal_key_id(),
                "cle_publique": hex_encode(core.keys.journal_verifying().as_bytes()),
                "points": points.iter().map(|p| json!({
                    "seq": p.seq,
                    "empreinte": hex_encode(&p.head_hash),
                    "at": p.at,
                    "cle": p.key_id,
                    "signature": hex_encode(&p.signature),
                })).collect::<Vec<_>>(),
            });
            let text = serde_json::to_string_pretty(&doc)?;
            match output {
                Some(path) => {
                    std::fs::write(&path, text + "\n")
                        .with_context(|| format!("écriture de « {} » impossible", path.display()))?;
                    eprintln!(
                        "{} points de contrôle exportés dans « {} ».",
                        points.len(),
                        path.display()
                    );
                }
                None => println!("{text}"),
            }
            core.db.close().await;
            Ok(ExitCode::SUCCESS)
        }
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

fn hex_encode(b: &[u8]) -> String {
    hex::encode(b)
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    hex::decode(s).ok()
}

/// Reads an exported checkpoint file; its public key must be the deployment's.
fn read_checkpoints(path: &std::path::Path, keys: &Keys) -> Result<Vec<CheckpointRef>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("lecture de « {} » impossible", path.display()))?;
    let bad = || anyhow::anyhow!("fichier de points de contrôle « {} » illisible", path.display());
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|_| bad())?;
    let public = doc["cle_publique"].as_str().and_then(hex_decode).ok_or_else(bad)?;
    if public.as_slice() != keys.journal_verifying().as_bytes() {
        anyhow::bail!(
            "les points de contrôle de « {} » sont signés par une autre clé que celle du dossier de données : \
             la clé du déploiement a été remplacée, ou ce fichier vient d'un autre déploiement",
            path.display()
        );
    }
    doc["points"]
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|p| {
            Some(CheckpointRef {
                seq: p["seq"].as_i64()?,
                head_hash: hex_decode(p["empreinte"].as_str()?)?,
                at: p["at"].as_i64()?,
                key_id: p["cle"].as_str()?.to_string(),
                signature: hex_decode(p["signature"].as_str()?)?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)
}

async fn verify(data: &DataArgs, json: bool, external: Option<&std::path::Path>) -> Result<ExitCode> {
    // Verification only reads: no migration, and the key must already exist.
    if !data.data_dir.join("journal-ed25519.pem").exists() {
        anyhow::bail!(
            "clé du journal introuvable dans « {} » : indiquez le dossier de données du déploiement (PASSERELLE_DATA_DIR)",
            data.data_dir.display()
        );
    }
    let keys = Keys::load_or_create(&data.data_dir)?;
    let external = match external {
        Some(path) => read_checkpoints(path, &keys)?,
        None => Vec::new(),
    };
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
    let report = journal::verify(&db, keys.journal_verifying(), external, move |n| {
        progress.set_position(n)
    })
    .await?;
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
