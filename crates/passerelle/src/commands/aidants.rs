//! `passerelle aidants cartes importer FICHIER.csv`: the physical TOTP cards.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use passerelle_core::accounts::Principal;
use passerelle_core::aidants_connect::cards;
use passerelle_core::format_fr::nombre;
use serde_json::json;

use crate::config::DataArgs;

#[derive(Subcommand, Debug)]
pub enum AidantsCommand {
    /// Cartes TOTP physiques des aidants.
    Cartes {
        #[command(subcommand)]
        command: CartesCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum CartesCommand {
    /// Importe les cartes du fabricant : colonnes `numero_serie,graine` (base32) et, en option,
    /// `duree` (30). Tout ou rien : une ligne fausse et rien n'est importé (code 1), avec la liste
    /// de toutes les lignes fausses. Les graines sont chiffrées en base et jamais affichées.
    Importer {
        fichier: std::path::PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(data: &DataArgs, command: AidantsCommand) -> Result<ExitCode> {
    let AidantsCommand::Cartes {
        command: CartesCommand::Importer { fichier, json },
    } = command;
    let bytes = std::fs::read(&fichier).with_context(|| format!("lecture de « {} » impossible", fichier.display()))?;
    let core = super::open(data).await?;
    let report = cards::import(&core, &Principal::SYSTEME, &bytes).await;
    core.db.close().await;
    let report = report?;
    if json {
        println!("{}", json!(report));
    } else if report.erreurs.is_empty() {
        println!(
            "{}.",
            nombre(count(report.importees), "carte importée", "cartes importées")
        );
    } else {
        eprintln!(
            "Aucune carte importée : {}.",
            nombre(count(report.erreurs.len()), "ligne en erreur", "lignes en erreur")
        );
        for (line, message) in &report.erreurs {
            eprintln!("ligne {line} : {message}");
        }
    }
    Ok(if report.erreurs.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A count of things as `format_fr::nombre` takes it.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
