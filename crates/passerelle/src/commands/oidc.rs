//! `passerelle oidc …`: the online services registered with the OpenID
//! Connect provider of Aidants Connect, and its signing keys.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use passerelle_core::aidants_connect::oidc_provider::{clients, keys};
use passerelle_core::journal::Actor;
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
    /// Enregistre un service : affiche son client_id et son secret, une seule fois (seule son empreinte est gardée) ;
    /// avec --cle-publique, le service s'authentifie par private_key_jwt (ES256) et n'a pas de secret.
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
        /// Fichier de la clé publique EC P-256 du service (PEM, ou JWKS d'une seule clé) : authentification private_key_jwt.
        #[arg(long = "cle-publique", value_name = "FICHIER")]
        cle_publique: Option<std::path::PathBuf>,
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
                    cle_publique,
                    json,
                },
        } => {
            let key = match &cle_publique {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("clé publique {} illisible : {e}", path.display()))?,
                ),
                None => None,
            };
            let (client, secret) = clients::register(
                core,
                &Actor::System,
                &nom,
                &redirect_uris,
                &post_logout_uris,
                &demarches,
                key.as_deref(),
            )
            .await?;
            match (json, secret) {
                (true, Some(secret)) => println!(
                    "{}",
                    json!({ "client_id": client.client_id, "client_secret": secret, "nom": client.nom, "redirect_uris": client.redirect_uris, "token_endpoint_auth_method": client.token_endpoint_auth_method })
                ),
                (true, None) => println!(
                    "{}",
                    json!({ "client_id": client.client_id, "nom": client.nom, "redirect_uris": client.redirect_uris, "token_endpoint_auth_method": client.token_endpoint_auth_method })
                ),
                (false, Some(secret)) => {
                    println!("client_id : {}", client.client_id);
                    println!("client_secret : {secret}");
                    eprintln!("Notez le secret maintenant : il ne sera plus jamais affiché.");
                }
                (false, None) => {
                    println!("client_id : {}", client.client_id);
                    println!("authentification : private_key_jwt (ES256, clé publique enregistrée)");
                }
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
