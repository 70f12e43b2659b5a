//! `passerelle recapitulatifs …`: the monthly digests to funders and hubs, by hand
//! (after an outage longer than the first days of the month, or to check a month).

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use passerelle_core::format_fr::{entier, nombre};
use passerelle_core::recapitulatifs::{self, Mois};
use serde_json::json;

use crate::config::DataArgs;

#[derive(Subcommand, Debug)]
pub enum RecapitulatifsCommand {
    /// Met en file le récapitulatif d'un mois pour chaque compte abonné des commanditaires et des hubs.
    /// Idempotent : un compte ne reçoit jamais deux fois le récapitulatif d'un même mois.
    Envoyer {
        /// Mois récapitulé (AAAA-MM) ; par défaut le mois précédent (heure de Paris).
        #[arg(long)]
        mois: Option<String>,
        /// Adresse publique du service, pour les liens des courriels.
        #[arg(long, env = "PASSERELLE_BASE_URL", default_value = "http://localhost:8080")]
        url_base: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(data: &DataArgs, command: RecapitulatifsCommand) -> Result<ExitCode> {
    let core = super::open(data).await?;
    match command {
        RecapitulatifsCommand::Envoyer { mois, url_base, json } => {
            let m = match mois {
                Some(m) => Mois::parse(&m)?,
                None => Mois::precedent(core.db.horloge().today_paris())?,
            };
            let e = recapitulatifs::envoyer(&core, &m, &url_base).await?;
            if json {
                println!("{}", json!({ "mois": m.cle, "envoi": e }));
            } else {
                println!(
                    "Récapitulatif de {} : {} mis en file, {} déjà en file ({}).",
                    m.libelle(),
                    nombre(count(e.mis_en_file), "courriel", "courriels"),
                    entier(count(e.deja_en_file)),
                    nombre(count(e.destinataires), "destinataire abonné", "destinataires abonnés")
                );
            }
        }
    }
    core.db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// A count of things as `format_fr::nombre` takes it.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
