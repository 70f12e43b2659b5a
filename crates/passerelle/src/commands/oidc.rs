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
        /// standard : un service en ligne (sub par paire, nonce facultatif) ; franceconnect : FranceConnect
        /// lui-même, dont Aidants Connect est un fournisseur d'identité (sub stable de l'usager, nonce exigé,
        /// rep_scope en liste, userinfo signée par défaut).
        #[arg(long, value_enum, default_value_t = ProfilArg::Standard)]
        profil: ProfilArg,
        /// Signature du jeton d'identité : ES256 (nos clés, JWKS ; par défaut) ou HS256 (le secret du service,
        /// schéma de FranceConnect v1).
        #[arg(long, value_enum)]
        signature: Option<AlgArg>,
        /// Userinfo signée (application/jwt) : ES256, HS256, ou non (JSON). Par défaut : non pour un service
        /// standard, ES256 pour le profil franceconnect.
        #[arg(long = "userinfo-signee", value_enum)]
        userinfo_signee: Option<UserinfoArg>,
        /// Déconnexion par canal direct (Back-Channel Logout 1.0) : adresse où poster le jeton de déconnexion.
        #[arg(long = "backchannel-logout-uri", value_name = "URI")]
        backchannel_logout_uri: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Liste les services enregistrés.
    Liste {
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ProfilArg {
    Standard,
    Franceconnect,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum AlgArg {
    #[value(name = "ES256")]
    Es256,
    #[value(name = "HS256")]
    Hs256,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum UserinfoArg {
    #[value(name = "ES256")]
    Es256,
    #[value(name = "HS256")]
    Hs256,
    #[value(name = "non")]
    Non,
}

fn alg(a: AlgArg) -> clients::Alg {
    match a {
        AlgArg::Es256 => clients::Alg::ES256,
        AlgArg::Hs256 => clients::Alg::HS256,
    }
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
                    profil,
                    signature,
                    userinfo_signee,
                    backchannel_logout_uri,
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
            let registration = clients::Registration {
                post_logout_uris,
                demarches,
                public_key: key,
                profil: match profil {
                    ProfilArg::Standard => clients::Profil::Standard,
                    ProfilArg::Franceconnect => clients::Profil::FranceConnect,
                },
                id_token_alg: signature.map(alg),
                userinfo_alg: userinfo_signee.map(|u| match u {
                    UserinfoArg::Es256 => Some(clients::Alg::ES256),
                    UserinfoArg::Hs256 => Some(clients::Alg::HS256),
                    UserinfoArg::Non => None,
                }),
                backchannel_logout_uri,
                ..clients::Registration::new(&nom, &redirect_uris)
            };
            let (client, secret) = clients::register(core, &Actor::System, &registration).await?;
            if json {
                let mut v = json!({
                    "client_id": client.client_id, "nom": client.nom, "redirect_uris": client.redirect_uris,
                    "token_endpoint_auth_method": client.token_endpoint_auth_method,
                    "profil": client.profil.key(),
                    "id_token_signed_response_alg": client.id_token_alg.key(),
                    "userinfo_signed_response_alg": client.userinfo_alg.map(clients::Alg::key),
                    "backchannel_logout_uri": client.backchannel_logout_uri,
                });
                if let Some(secret) = secret {
                    v["client_secret"] = secret.into();
                }
                println!("{v}");
                return Ok(ExitCode::SUCCESS);
            }
            println!("client_id : {}", client.client_id);
            match secret {
                Some(secret) => {
                    println!("client_secret : {secret}");
                    eprintln!("Notez le secret maintenant : il ne sera plus jamais affiché.");
                }
                None => println!("authentification : private_key_jwt (ES256, clé publique enregistrée)"),
            }
            println!("profil : {}", client.profil.key());
            println!("jeton d'identité : {}", client.id_token_alg.key());
            println!(
                "userinfo : {}",
                client.userinfo_alg.map_or("JSON (non signée)", clients::Alg::key)
            );
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
