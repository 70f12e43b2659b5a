//! `passerelle lieux qualifier | cle-api | revoquer-cle`: places in the Pass Numérique.

use std::process::ExitCode;

use anyhow::{Context, Result};
use passerelle_core::accounts::Principal;
use passerelle_core::format_fr::nombre;
use passerelle_core::pass_numerique::places;
use passerelle_core::Core;
use passerelle_core::CoreError;
use serde_json::json;

use super::lieux::{LieuxCommand, QualificationsCommand};

pub async fn run(core: &Core, command: LieuxCommand) -> Result<ExitCode> {
    match command {
        LieuxCommand::Qualifier { lieu_id, json } => {
            let place = places::qualify(core, &Principal::SYSTEME, &lieu_id).await?;
            if json {
                println!("{}", json!({ "lieu": place.ext_id, "qualifie": true }));
            } else {
                println!("Lieu « {} » qualifié : il accepte le Pass Numérique.", place.nom);
            }
        }
        LieuxCommand::CleApi { lieu_id, json } => {
            let (place, prefix, key) = places::new_api_key(core, &Principal::SYSTEME, &lieu_id).await?;
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
            places::revoke_api_key(core, &Principal::SYSTEME, &prefixe).await?;
            println!("Clé {prefixe} révoquée.");
        }
        LieuxCommand::Qualifications {
            command: QualificationsCommand::Importer { fichier, json },
        } => {
            let bytes =
                std::fs::read(&fichier).with_context(|| format!("impossible de lire « {} »", fichier.display()))?;
            match passerelle_core::qualification::import::import(core, &Principal::SYSTEME, &bytes).await {
                Ok(report) => {
                    if json {
                        println!("{}", json!({ "applique": true, "rapport": report }));
                    } else {
                        println!(
                            "{} : {}, {} ; coordonnées bancaires validées : {}, {}.",
                            nombre(count(report.lignes), "ligne importée", "lignes importées"),
                            nombre(count(report.qualifies), "lieu qualifié", "lieux qualifiés"),
                            nombre(count(report.deja_qualifies), "déjà qualifié", "déjà qualifiés"),
                            nombre(count(report.coordonnees_enregistrees), "enregistrée", "enregistrées"),
                            nombre(count(report.coordonnees_inchangees), "inchangée", "inchangées")
                        );
                    }
                }
                Err(CoreError::Invalid(message)) => {
                    if json {
                        println!("{}", json!({ "applique": false, "erreur": message }));
                    } else {
                        eprintln!("{message}");
                    }
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            }
        }
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// A count of things as `format_fr::nombre` takes it.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
