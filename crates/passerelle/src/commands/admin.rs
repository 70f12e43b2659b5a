//! `passerelle admin create`: the first opérateur account.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use passerelle_core::accounts::Principal;
use passerelle_core::accounts::{self, store, NewAccount, OrgKind};
use passerelle_core::Core;
use serde_json::json;

use crate::config::DataArgs;

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Crée un compte opérateur (mot de passe : PASSERELLE_ADMIN_PASSWORD ou saisi au terminal).
    Create {
        /// Adresse électronique du compte.
        #[arg(long)]
        email: String,
        /// Prénom et nom affichés.
        #[arg(long, default_value = "Administrateur")]
        nom: String,
        /// Sortie JSON, pour les scripts.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(data: &DataArgs, command: AdminCommand) -> Result<ExitCode> {
    match command {
        AdminCommand::Create { email, nom, json } => {
            let password = match std::env::var("PASSERELLE_ADMIN_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => ask_password()?,
            };
            let core = super::open(data).await?;
            let org_id = operator_organisation(&core).await?;
            let created = accounts::create_account(
                &core,
                &Principal::SYSTEME,
                NewAccount {
                    organisation_id: org_id,
                    email: &email,
                    display_name: &nom,
                    role: Some("operateur"),
                    password: Some(&password),
                    with_totp: true,
                },
            )
            .await?;
            let uri = created.otpauth_uri.unwrap_or_default();
            if json {
                println!(
                    "{}",
                    json!({ "id": created.account.id, "email": created.account.email, "organisation_id": org_id, "otpauth_uri": uri })
                );
            } else {
                println!(
                    "Compte opérateur n° {} créé pour {}.",
                    created.account.id, created.account.email
                );
                println!("Enregistrez ce lien dans une application d'authentification (il ne sera plus affiché) :");
                println!("{uri}");
            }
            core.db.close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The deployment's opérateur organisation, created on first use.
async fn operator_organisation(core: &Core) -> Result<i64> {
    let existing = store::organisations(&core.db)
        .await?
        .into_iter()
        .find(|o| o.kind == OrgKind::Operateur.key());
    Ok(match existing {
        Some(o) => o.id,
        None => {
            accounts::create_organisation(core, &Principal::SYSTEME, "operateur", "Opérateur Passerelle", None)
                .await?
                .id
        }
    })
}

fn ask_password() -> Result<String> {
    let first = rpassword::prompt_password("Mot de passe du compte opérateur (12 caractères au moins) : ")
        .context("lecture du mot de passe impossible : définissez PASSERELLE_ADMIN_PASSWORD ou lancez la commande dans un terminal")?;
    let second = rpassword::prompt_password("Confirmation : ").context("lecture du mot de passe impossible")?;
    if first != second {
        bail!("les deux saisies ne correspondent pas");
    }
    Ok(first)
}
