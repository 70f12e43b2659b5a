//! `passerelle oidc …`: the online services registered with the OpenID
//! Connect provider of Aidants Connect, and its signing keys.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use passerelle_core::journal::Actor;
use passerelle_core::oidc_provider::{clients, keys};
use serde_json::json;

use crate::config::DataArgs;

#[derive(Subcommand, Debug)]
pub enum OidcCommand {
    /// Services en ligne clients du fournisseur d'identité.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Clés de signature des jetons d'identité (ES256).
    Cles {
        #[command(subcommand)]
        command: ClesCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClientsCommand {
    /// Enregistre un service : affiche son client_id et son secret, une seule fois (seule son empreinte est gardée).
    Creer {
        /// Nom du service, montré à l'aidant.
        #[arg(long)]
        nom: String,
        /// Adresse de retour exacte (https ; http seulement sur localhost) ; répétable.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Adresse de retour après déconnexion ; répétable.
        #[arg(long = "post-logout-uri")]
        post_logout_uris: Vec<String>,
        /// Démarches acceptées par le service (rep_scope), séparées par des virgules ; toutes par défaut.
        #[arg(long, value_delimiter = ',')]
        demarches: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Liste les services enregistrés.
    Liste {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClesCommand {
    /// Crée une nouvelle clé de signature ; la précédente reste publiée pour vérifier les jetons qu'elle a signés.
    Rotation,
}

pub async fn run(data: &DataArgs, command: OidcCommand) -> Result<ExitCode> {
    let core = super::open(data).await?;
    let result = run_on(&core, command).await;
    core.db.close().await;
    result
}

async fn run_on(core: &passerelle_core::Core, command: OidcCommand) -> Result<ExitCode> {
    match command {
        OidcCommand::Clients {
            command:
                ClientsCommand::Creer {
                    nom,
                    redirect_uris,
                    post_logout_uris,
                    demarches,
                    json,
                },
        } => {
            let (client, secret) = clients::register(
                core,
                &Actor::System,
                &nom,
                &redirect_uris,
                &post_logout_uris,
                &demarches,
            )
            .await?;
            if json {
                println!(
                    "{}",
                    json!({ "client_id": client.client_id, "client_secret": secret, "nom": client.nom, "redirect_uris": client.redirect_uris })
                );
            } else {
                println!("client_id : {}", client.client_id);
                println!("client_secret : {secret}");
                eprintln!("Notez le secret maintenant : il ne sera plus jamais affiché.");
            }
        }
        OidcCommand::Clients {
            command: ClientsCommand::Liste { json },
        } => {
            let all = clients::list(&core.db).await?;
            if json {
                println!("{}", serde_json::to_string(&all)?);
            } else {
                for c in all {
                    println!("{}  {}  {}", c.client_id, c.nom, c.redirect_uris.join(" "));
                }
            }
        }
        OidcCommand::Cles {
            command: ClesCommand::Rotation,
        } => {
            let kid = keys::rotate(core, &Actor::System).await?;
            println!("Nouvelle clé de signature active : {kid} (la précédente reste publiée).");
        }
    }
    Ok(ExitCode::SUCCESS)
}
