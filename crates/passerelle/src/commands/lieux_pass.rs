//! `passerelle lieux qualifier | cle-api | revoquer-cle`: places in the Pass Numérique.

use std::process::ExitCode;

use anyhow::Result;
use passerelle_core::pass_numerique::authz::Caller;
use passerelle_core::pass_numerique::places;
use passerelle_core::Core;
use serde_json::json;

use super::lieux::LieuxCommand;

pub async fn run(core: &Core, command: LieuxCommand) -> Result<ExitCode> {
    match command {
        LieuxCommand::Qualifier { lieu_id, json } => {
            let place = places::qualify(core, Caller::CommandLine, &lieu_id).await?;
            if json {
                println!("{}", json!({ "lieu": place.ext_id, "qualifie": true }));
            } else {
                println!("Lieu « {} » qualifié : il accepte le Pass Numérique.", place.nom);
            }
        }
        LieuxCommand::CleApi { lieu_id, json } => {
            let (place, prefix, key) = places::new_api_key(core, Caller::CommandLine, &lieu_id).await?;
            if json {
                println!("{}", json!({ "lieu": place.ext_id, "prefixe": prefix, "cle": key }));
            } else {
                eprintln!(
                    "Clé d'API du lieu « {} » (affichée une seule fois ; révocation : passerelle lieux revoquer-cle {prefix}) :",
                    place.nom
                );
                println!("{key}");
            }
        }
        LieuxCommand::RevoquerCle { prefixe } => {
            places::revoke_api_key(core, Caller::CommandLine, &prefixe).await?;
            println!("Clé {prefixe} révoquée.");
        }
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}
