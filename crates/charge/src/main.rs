//! `passerelle-charge`: load generator for Passerelle, loopback only.
//!
//! - `preparer`: a test database filled through passerelle-core (places with
//!   API keys, handed-out cheques, accounts) and the private file describing it;
//! - `charger`: an open-loop mixed load spread over several instances, with
//!   latency percentiles per kind of request;
//! - `verifier`: what must hold across instances (one redemption, shared
//!   sessions, lockouts and limits).

mod charge;
mod cible;
mod client;
mod jeu;
mod preparer;
mod rapport;
mod verifier;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "passerelle-charge",
    version,
    about = "Générateur de charge de Passerelle (boucle locale seulement)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Prépare une base de test neuve : lieux et clés d'API, chèques remis, comptes ; écrit le jeu de données.
    Preparer(preparer::PreparerArgs),
    /// Envoie une charge mêlée à débit fixe (boucle ouverte) et mesure les latences par genre de requête.
    Charger(charge::ChargerArgs),
    /// Vérifie ce qui doit tenir entre instances : encaissement unique, sessions, verrouillages, limites.
    Verifier(verifier::VerifierArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Preparer(a) => preparer::run(a).await.map(|()| true),
        Command::Charger(a) => charger(a).await,
        Command::Verifier(a) => verifier::run(a).await,
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("Erreur : {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn charger(a: charge::ChargerArgs) -> anyhow::Result<bool> {
    let json = a.json.clone();
    let strict = a.exiger_zero_erreur;
    let r = charge::run(a).await?;
    print!("{}", r.text());
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_vec_pretty(&r)?)
            .map_err(|e| anyhow::anyhow!("écriture de « {} » : {e}", path.display()))?;
        println!("Rapport JSON écrit dans {}.", path.display());
    }
    let bad = r.total.erreurs_5xx + r.total.erreurs_transport;
    if strict && bad > 0 {
        println!("ÉCHEC  {bad} réponse(s) 5xx ou erreur(s) de transport (attendu : aucune).");
        return Ok(false);
    }
    if strict {
        println!(
            "OK     charge : {} requêtes ({} abandonnées au plafond en vol), aucune réponse 5xx ni erreur de transport.",
            r.total.requetes, r.abandonnees
        );
    }
    Ok(true)
}
