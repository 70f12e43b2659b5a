//! `passerelle taches …` and `passerelle courriels …`: what the service does on
//! its own, run by hand (after an outage, or from a scheduler of its own).

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use passerelle_core::dates_fr;
use passerelle_core::format_fr::nombre;
use serde_json::json;

use crate::config::DataArgs;

#[derive(Subcommand, Debug)]
pub enum TachesCommand {
    /// Tâches du jour (expiration des chèques, alertes de fin de validité aux commanditaires,
    /// avertissement et désactivation des comptes d'aidants et de référents inutilisés,
    /// conservation des données personnelles ;
    /// les premiers jours du mois, récapitulatifs du mois précédent),
    /// chacune une seule fois par jour, quelle que soit l'instance qui la lance.
    Quotidiennes {
        /// Jour (AAAA-MM-JJ, heure de Paris) ; par défaut aujourd'hui.
        #[arg(long)]
        date: Option<String>,
        /// Adresse publique du service, pour les liens des courriels.
        #[arg(long, env = "PASSERELLE_BASE_URL", default_value = "http://localhost:8080")]
        url_base: String,
    },
    /// Conservation des données personnelles : supprime ou pseudonymise ce qui a dépassé sa durée
    /// de conservation (voir docs/DONNEES-PERSONNELLES.md), une seule fois par jour quelle que soit
    /// l'instance (le service la lance aussi chaque jour).
    Conservation {
        /// Jour (AAAA-MM-JJ, heure de Paris) de la réservation ; par défaut aujourd'hui.
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum CourrielsCommand {
    /// Envoie les courriels en attente dont l'heure est venue.
    Envoyer {
        #[arg(long, env = "PASSERELLE_SMTP_URL", hide_env_values = true)]
        smtp_url: String,
        #[arg(
            long,
            env = "PASSERELLE_COURRIEL_EXPEDITEUR",
            default_value = "Passerelle <ne-pas-repondre@localhost>"
        )]
        courriel_expediteur: String,
        #[arg(long, default_value_t = 500)]
        max: i64,
        #[arg(long)]
        json: bool,
    },
    /// Nombre de courriels en attente d'envoi.
    Attente,
}

pub async fn taches(data: &DataArgs, command: TachesCommand) -> Result<ExitCode> {
    let core = super::open(data).await?;
    match command {
        TachesCommand::Quotidiennes { date, url_base } => {
            let today = match date {
                Some(d) => passerelle_core::reglements::run::parse_day(&d, "--date")?,
                None => core.db.horloge().today_paris(),
            };
            super::serve::daily_jobs(&core, &url_base, today).await;
            println!(
                "Tâches du {} faites (ou déjà faites par une autre instance).",
                dates_fr::jj_mm_aaaa(today)
            );
        }
        TachesCommand::Conservation { date, json } => {
            let today = match date {
                Some(d) => passerelle_core::reglements::run::parse_day(&d, "--date")?,
                None => core.db.horloge().today_paris(),
            };
            super::rgpd::conservation(&core, &today.strftime("%Y-%m-%d").to_string(), json).await?;
        }
    }
    core.db.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn courriels(data: &DataArgs, command: CourrielsCommand) -> Result<ExitCode> {
    let core = super::open(data).await?;
    let result = match command {
        CourrielsCommand::Envoyer {
            smtp_url,
            courriel_expediteur,
            max,
            json,
        } => {
            let mailer = passerelle_core::mail::Mailer::new(&smtp_url, &courriel_expediteur)?;
            let sent = passerelle_core::mail::send_due(&core, &mailer, max).await?;
            if json {
                println!("{}", json!(sent));
            } else {
                println!(
                    "{}, {}.",
                    nombre(
                        i64::try_from(sent.envoyes).unwrap_or(i64::MAX),
                        "courriel envoyé",
                        "courriels envoyés"
                    ),
                    nombre(i64::try_from(sent.echecs).unwrap_or(i64::MAX), "échec", "échecs")
                );
            }
            if sent.echecs > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        CourrielsCommand::Attente => {
            println!("{}", passerelle_core::mail::pending(&core.db).await?);
            ExitCode::SUCCESS
        }
    };
    core.db.close().await;
    Ok(result)
}
