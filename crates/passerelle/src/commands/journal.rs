//! `passerelle journal verify | export-checkpoints | exporter-tete | checkpoint`.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use passerelle_core::format_fr::nombre;
use passerelle_core::journal::{self, tete, CheckpointRef, VerifyReport};
use passerelle_core::{Db, Keys};
use serde_json::json;

use crate::config::DataArgs;

#[derive(Subcommand, Debug)]
pub enum JournalCommand {
    /// Recalcule toute la chaîne et vérifie les points de contrôle signés (numérotés et chaînés).
    /// Code de sortie : 0 intact, 1 altéré (le premier numéro fautif est affiché), 2 erreur
    /// (clé absente, base injoignable, fichier ou témoin illisible ou mal signé).
    Verify {
        /// Sortie JSON, pour les scripts.
        #[arg(long)]
        json: bool,
        /// Points de contrôle exportés auparavant (`journal export-checkpoints`) et gardés hors
        /// de la base : vérifiés avec la clé publique du fichier, ils révèlent une chaîne réécrite
        /// avec sa table de points de contrôle.
        #[arg(long)]
        checkpoints: Option<std::path::PathBuf>,
        /// Tête signée gardée par un témoin (`journal exporter-tete`, ou l'adresse publique
        /// /open-data/journal-tete.json) : fichier ou adresse http(s), option répétable. Le journal
        /// doit contenir exactement ce point de contrôle et le prolonger.
        #[arg(long = "temoin", value_name = "FICHIER|URL")]
        temoin: Vec<String>,
    },
    /// Exporte les points de contrôle signés et la clé publique, à garder hors de la base
    /// (publication, archivage), pour `journal verify --checkpoints`.
    ExportCheckpoints {
        /// Fichier de sortie (par défaut : la sortie standard).
        #[arg(short = 'o', long = "output")]
        output: Option<std::path::PathBuf>,
    },
    /// Écrit la tête signée du journal (son dernier point de contrôle numéroté), en JSON, pour un
    /// témoin extérieur ; le même document est publié à l'adresse /open-data/journal-tete.json.
    #[command(name = "exporter-tete")]
    ExporterTete {
        /// Fichier de sortie (par défaut : la sortie standard).
        #[arg(long = "sortie", value_name = "FICHIER")]
        sortie: Option<std::path::PathBuf>,
    },
    /// Signe la tête actuelle du journal (fait aussi au démarrage et chaque jour par le service).
    Checkpoint {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(data: &DataArgs, command: JournalCommand) -> Result<ExitCode> {
    match command {
        JournalCommand::Verify {
            json,
            checkpoints,
            temoin,
        } => verify(data, json, checkpoints.as_deref(), &temoin).await,
        JournalCommand::ExportCheckpoints { output } => {
            let core = super::open(data).await?;
            let points = journal::checkpoints(&core.db).await?;
            let doc = json!({
                "format": "passerelle-points-de-controle-v2",
                "cle": core.keys.journal_key_id(),
                "cle_publique": hex_encode(core.keys.journal_verifying().as_bytes()),
                "points": points.iter().map(tete::point_json).collect::<Vec<_>>(),
            });
            write_out(output.as_deref(), &doc)?;
            if let Some(path) = output {
                eprintln!(
                    "{} points de contrôle exportés dans « {} ».",
                    points.len(),
                    path.display()
                );
            }
            core.db.close().await;
            Ok(ExitCode::SUCCESS)
        }
        JournalCommand::ExporterTete { sortie } => {
            let core = super::open(data).await?;
            let latest = journal::latest_checkpoint(&core.db).await?;
            core.db.close().await;
            let Some(cp) = latest else {
                anyhow::bail!(
                    "aucun point de contrôle numéroté : lancez « passerelle journal checkpoint » (le service en signe un à chaque démarrage)"
                );
            };
            write_out(sortie.as_deref(), &tete::tete_json(&cp, &core.keys.journal_verifying()))?;
            if let Some(path) = sortie {
                eprintln!(
                    "Tête signée du journal (point de contrôle n° {}, entrée n° {}) écrite dans « {} ».",
                    cp.n.unwrap_or_default(),
                    cp.seq,
                    path.display()
                );
            }
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

/// Writes `doc` (pretty JSON) to `path`, or to the standard output.
fn write_out(path: Option<&std::path::Path>, doc: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(doc)?;
    match path {
        Some(path) => {
            std::fs::write(path, text + "\n").with_context(|| format!("écriture de « {} » impossible", path.display()))
        }
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

fn hex_encode(b: &[u8]) -> String {
    hex::encode(b)
}

/// Reads an exported checkpoint file (format v1 or v2); its public key must be
/// the deployment's and every point must be validly signed.
fn read_checkpoints(path: &std::path::Path, keys: &Keys) -> Result<Vec<(CheckpointRef, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("lecture de « {} » impossible", path.display()))?;
    let source = format!("le fichier « {} »", path.display());
    let bad = || anyhow::anyhow!("fichier de points de contrôle « {} » illisible", path.display());
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|_| bad())?;
    let key = keys.journal_verifying();
    tete::check_public_key(&doc, &key, &source).map_err(anyhow::Error::msg)?;
    let points = doc["points"]
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(tete::parse_point)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    for p in &points {
        p.check_signature(&key, &keys.journal_key_id())
            .map_err(|e| anyhow::anyhow!("{source}, point de l'entrée n° {} : {e}", p.seq))?;
    }
    Ok(points.into_iter().map(|p| (p, source.clone())).collect())
}

/// Reads the signed heads kept by witnesses: files, or http(s) addresses.
async fn read_witnesses(witnesses: &[String], keys: &Keys) -> Result<Vec<(CheckpointRef, String)>> {
    let mut out = Vec::with_capacity(witnesses.len());
    for w in witnesses {
        let remote = w.starts_with("http://") || w.starts_with("https://");
        let source = format!("le témoin « {w} »");
        let text = if remote {
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .context("client HTTP")?;
            let response = client
                .get(w)
                .send()
                .await
                .with_context(|| format!("{source} est injoignable"))?;
            if !response.status().is_success() {
                anyhow::bail!("{source} répond {}", response.status());
            }
            response
                .text()
                .await
                .with_context(|| format!("{source} : réponse illisible"))?
        } else {
            std::fs::read_to_string(w).with_context(|| format!("lecture de « {w} » impossible"))?
        };
        let cp = tete::parse_tete(&text, &keys.journal_verifying(), &source).map_err(anyhow::Error::msg)?;
        out.push((cp, source));
    }
    Ok(out)
}

async fn verify(
    data: &DataArgs,
    json: bool,
    external: Option<&std::path::Path>,
    witnesses: &[String],
) -> Result<ExitCode> {
    // Verification only reads: no migration, and the key must already exist.
    if !data.data_dir.join("journal-ed25519.pem").exists() {
        anyhow::bail!(
            "clé du journal introuvable dans « {} » : indiquez le dossier de données du déploiement (PASSERELLE_DATA_DIR)",
            data.data_dir.display()
        );
    }
    let keys = Keys::load_or_create(&data.data_dir)?;
    let mut external = match external {
        Some(path) => read_checkpoints(path, &keys)?,
        None => Vec::new(),
    };
    external.extend(read_witnesses(witnesses, &keys).await?);
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
                    json!({ "intact": true, "entrees": entries, "points_de_controle": checkpoints,
                            "temoins": witnesses.len(), "secondes": secs })
                );
            } else {
                let temoins = match witnesses.len() {
                    0 => String::new(),
                    1 => ", conforme au témoin".to_string(),
                    n => format!(", conforme aux {n} témoins"),
                };
                let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                // The decimal comma: « en 0,35 s ».
                let secondes = format!("{secs:.2}").replace('.', ",");
                println!(
                    "Journal intact : {}, {} (clé {}){temoins}, en {secondes} s.",
                    nombre(count(entries), "entrée vérifiée", "entrées vérifiées"),
                    nombre(
                        count(checkpoints),
                        "point de contrôle signé vérifié",
                        "points de contrôle signés vérifiés"
                    ),
                    keys.journal_key_id()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        VerifyReport::Broken(b) => {
            if json {
                println!(
                    "{}",
                    json!({ "intact": false, "premiere_entree_fautive": b.seq, "exacte": b.exact(),
                            "au_plus_tard": b.last, "garanties_jusqu_a": b.proven_until, "raison": b.reason })
                );
            } else {
                let bound = if b.exact() { "" } else { " au plus tôt" };
                println!(
                    "Journal ALTÉRÉ : première entrée fautive n° {}{bound} : {}",
                    b.seq, b.reason
                );
            }
            Ok(ExitCode::from(1))
        }
    }
}
