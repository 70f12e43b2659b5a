//! `passerelle organisations creer`, `territoire` and `instruction`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use passerelle_core::accounts;
use passerelle_core::accounts::Principal;
use passerelle_core::journal::Actor;
use serde_json::json;

use crate::config::DataArgs;

#[derive(Subcommand, Debug)]
pub enum OrgCommand {
    /// Crée une organisation et affiche son numéro.
    Creer {
        /// operateur, commanditaire, prescripteur, lieu, hub ou structure_habilitee (accents et espaces acceptés).
        #[arg(long = "type")]
        kind: String,
        /// Nom de l'organisation.
        #[arg(long)]
        nom: String,
        /// SIRET (14 chiffres, clé de Luhn vérifiée).
        #[arg(long)]
        siret: Option<String>,
        /// Sortie JSON, pour les scripts.
        #[arg(long)]
        json: bool,
    },
    /// Fixe les départements couverts par un hub territorial (remplace son territoire).
    Territoire {
        /// Numéro de l'organisation (de type hub).
        #[arg(long)]
        organisation: i64,
        /// Codes INSEE des départements, séparés par des virgules (ex. 33,40,47,2A,971).
        #[arg(long, value_delimiter = ',', required = true)]
        departements: Vec<String>,
        /// Sortie JSON, pour les scripts.
        #[arg(long)]
        json: bool,
    },
    /// Délègue au hub (ou lui reprend) l'instruction des demandes de qualification de son territoire.
    Instruction {
        /// Numéro de l'organisation (de type hub).
        #[arg(long)]
        organisation: i64,
        /// Le hub instruit les demandes de son territoire.
        #[arg(long, conflicts_with = "reprendre", required_unless_present = "reprendre")]
        deleguer: bool,
        /// L'opérateur reprend l'instruction.
        #[arg(long)]
        reprendre: bool,
    },
}

pub async fn run(data: &DataArgs, command: OrgCommand) -> Result<ExitCode> {
    match command {
        OrgCommand::Creer { kind, nom, siret, json } => {
            let core = super::open(data).await?;
            let org = accounts::create_organisation(&core, &Principal::SYSTEME, &kind, &nom, siret.as_deref()).await?;
            if json {
                println!(
                    "{}",
                    json!({ "id": org.id, "type": org.kind, "nom": org.name, "siret": org.siret })
                );
            } else {
                eprintln!("Organisation « {} » ({}) créée.", org.name, org.kind_label());
                println!("{}", org.id);
            }
            core.db.close().await;
            Ok(ExitCode::SUCCESS)
        }
        OrgCommand::Territoire {
            organisation,
            departements,
            json,
        } => {
            let core = super::open(data).await?;
            let set = passerelle_core::hubs::set_departements(&core, &Actor::System, organisation, &departements).await;
            core.db.close().await;
            let set = set?;
            if json {
                println!("{}", json!({ "organisation": organisation, "departements": set }));
            } else {
                println!(
                    "Le hub {organisation} couvre {} département{} : {}.",
                    set.len(),
                    if set.len() > 1 { "s" } else { "" },
                    set.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        OrgCommand::Instruction {
            organisation, deleguer, ..
        } => {
            let core = super::open(data).await?;
            let done =
                passerelle_core::qualification::decisions::delegate(&core, &Actor::System, organisation, deleguer)
                    .await;
            core.db.close().await;
            done?;
            if deleguer {
                println!("Le hub {organisation} instruit désormais les demandes de qualification de son territoire.");
            } else {
                println!("L'opérateur instruit de nouveau les demandes du territoire du hub {organisation}.");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
