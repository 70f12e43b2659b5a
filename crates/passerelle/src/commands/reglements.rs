//! `passerelle reglements …` (settlement of places) and `passerelle controle`
//! (the money rules checked on the whole database).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use passerelle_core::accounts::Principal;
use passerelle_core::dates_fr::jour_fr;
use passerelle_core::format_fr::nombre;
use passerelle_core::pass_numerique::reports;
use passerelle_core::pdf::Fonts;
use passerelle_core::reglements::{self, batches, documents, run};
use passerelle_core::Core;
use serde_json::json;

use crate::config::DataArgs;

#[derive(Subcommand, Debug)]
pub enum ReglementsCommand {
    /// Règle les lieux : un relevé par lieu pour les encaissements antérieurs à la date limite et
    /// pas encore réglés, et un fichier de virements SEPA (pain.001.001.09). Idempotent.
    Generer {
        /// Date limite (exclue), AAAA-MM-JJ ; par défaut le premier jour du mois en cours (heure de Paris).
        #[arg(long = "jusqu-au")]
        jusqu_au: Option<String>,
        /// Écrit le fichier SEPA du lot créé.
        #[arg(long)]
        sepa: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Enregistre le compte de l'opérateur, débité par les virements.
    Compte {
        #[arg(long)]
        nom: String,
        #[arg(long)]
        iban: String,
        #[arg(long)]
        bic: String,
    },
    /// Liste les lots de virements.
    Lots {
        #[arg(long)]
        json: bool,
    },
    /// Réécrit le fichier SEPA d'un lot, identique à celui produit par son règlement.
    Sepa { lot: i64, fichier: PathBuf },
    /// Le fichier du lot a été remis à la banque.
    Envoye { lot: i64 },
    /// La banque a exécuté les virements du lot.
    Execute { lot: i64 },
    /// La banque a rejeté le virement d'un relevé : ses encaissements seront repris au prochain règlement.
    Rejeter {
        releve: String,
        #[arg(long)]
        motif: String,
    },
    /// Écrit un relevé en PDF et/ou en CSV.
    Releve {
        numero: String,
        #[arg(long)]
        pdf: Option<PathBuf>,
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Dossier de polices DejaVu (dossier `ttf` du paquet npm dejavu-fonts-ttf) à la place de celles du binaire.
        #[arg(long, env = "PASSERELLE_FONTS_DIR")]
        polices: Option<PathBuf>,
    },
}

pub async fn run(data: &DataArgs, command: ReglementsCommand) -> Result<ExitCode> {
    let core = super::open(data).await?;
    let result = run_with(&core, command).await;
    core.db.close().await;
    result
}

/// Writes a file through a temporary name, so that a crash never leaves half a file.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partiel");
    std::fs::write(&tmp, bytes).with_context(|| format!("impossible d'écrire « {} »", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("impossible d'écrire « {} »", path.display()))
}

async fn run_with(core: &Core, command: ReglementsCommand) -> Result<ExitCode> {
    match command {
        ReglementsCommand::Generer { jusqu_au, sepa, json } => {
            let today = core.db.horloge().today_paris();
            let cutoff = match jusqu_au {
                Some(d) => run::parse_day(&d, "--jusqu-au")?,
                None => run::default_cutoff(today),
            };
            let created = core
                .db
                .horloge()
                .maintenant_paris()
                .strftime("%Y-%m-%dT%H:%M:%S")
                .to_string();
            let outcome = run::generate(core, &Principal::SYSTEME, cutoff, today, &created).await?;
            if let (Some(path), Some(lot)) = (&sepa, outcome.lot) {
                write_whole(
                    path,
                    batches::sepa_xml(core, &Principal::SYSTEME, lot).await?.as_bytes(),
                )?;
            }
            if json {
                println!("{}", serde_json::to_string(&outcome)?);
            } else {
                match (&outcome.lot, &outcome.msg_id) {
                    (Some(lot), Some(msg)) => println!(
                        "Lot {lot} ({msg}) : {}, {} € à virer, encaissements antérieurs au {}.",
                        nombre(count(outcome.releves.len()), "relevé", "relevés"),
                        outcome.total_centimes.euros(),
                        jour_fr(&outcome.jusqu_au)
                    ),
                    _ => println!(
                        "Rien de nouveau à régler avant le {} : aucun relevé, aucun virement.",
                        jour_fr(&outcome.jusqu_au)
                    ),
                }
                for h in &outcome.en_attente {
                    println!(
                        "En attente : « {} » ({}, {} €) : {}.",
                        h.lieu,
                        nombre(h.encaissements, "encaissement", "encaissements"),
                        h.total_centimes.euros(),
                        h.motif
                    );
                }
                if let (Some(path), Some(_)) = (&sepa, outcome.lot) {
                    println!("Fichier SEPA écrit : {}", path.display());
                }
            }
        }
        ReglementsCommand::Compte { nom, iban, bic } => {
            let d = reglements::set_debtor(core, &Principal::SYSTEME, &nom, &iban, &bic).await?;
            println!("Compte de l'opérateur enregistré : {} — {} — {}", d.nom, d.iban, d.bic);
        }
        ReglementsCommand::Lots { json } => {
            let lots = batches::lots(core, &Principal::SYSTEME).await?;
            if json {
                println!("{}", serde_json::to_string(&lots)?);
            } else {
                for l in lots {
                    println!(
                        "{}\t{}\t{}\t{} €\t{}",
                        l.id,
                        l.msg_id,
                        nombre(l.virements, "virement", "virements"),
                        l.total_centimes.euros(),
                        l.etat.label()
                    );
                }
            }
        }
        ReglementsCommand::Sepa { lot, fichier } => {
            write_whole(
                &fichier,
                batches::sepa_xml(core, &Principal::SYSTEME, lot).await?.as_bytes(),
            )?;
            println!("Fichier SEPA du lot {lot} écrit : {}", fichier.display());
        }
        ReglementsCommand::Envoye { lot } => {
            let l = batches::mark_sent(core, &Principal::SYSTEME, lot).await?;
            println!("Lot {} : {}.", l.msg_id, l.etat.label());
        }
        ReglementsCommand::Execute { lot } => {
            let l = batches::mark_executed(core, &Principal::SYSTEME, lot).await?;
            println!("Lot {} : {}.", l.msg_id, l.etat.label());
        }
        ReglementsCommand::Rejeter { releve, motif } => {
            let s = batches::reject(core, &Principal::SYSTEME, &releve, &motif).await?;
            println!(
                "Virement du relevé {} rejeté : {}, {} €, repris au prochain règlement.",
                s.numero,
                nombre(s.lignes, "encaissement", "encaissements"),
                s.total_centimes.euros()
            );
        }
        ReglementsCommand::Releve {
            numero,
            pdf,
            csv,
            polices,
        } => {
            let (s, lines) = batches::statement_with_lines(core, &Principal::SYSTEME, &numero).await?;
            if let Some(path) = csv {
                write_whole(&path, &documents::csv(&s, &lines)?)?;
            }
            if let Some(path) = pdf {
                let fonts = Fonts::of(polices.as_deref())?;
                let operator = reports::operator_name(core).await?;
                write_whole(&path, &documents::pdf(&fonts, &operator, &s, &lines)?)?;
            }
            println!(
                "Relevé {} : {} — {}, {} € — {}",
                s.numero,
                s.lieu,
                nombre(s.lignes, "ligne", "lignes"),
                s.total_centimes.euros(),
                s.etat.label()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A count of things as `format_fr::nombre` takes it.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `passerelle controle`: exit 0 when every rule holds, 1 otherwise.
pub async fn controle(data: &DataArgs, json: bool) -> Result<ExitCode> {
    let core = super::open(data).await?;
    let done = passerelle_core::controle::run_with_sirets(&core).await;
    let codes = match done {
        Ok(_) => passerelle_core::controle::codes_lieux_a_reprendre(&core, &Principal::SYSTEME).await,
        Err(_) => Ok(Vec::new()),
    };
    core.db.close().await;
    let ((checks, sirets), codes) = (done?, codes?);
    let broken = checks.iter().filter(|c| c.ecarts != 0).count();
    if json {
        println!(
            "{}",
            json!({ "ok": broken == 0, "regles": checks, "sirets_a_reprendre": sirets, "codes_lieux_a_reprendre": codes })
        );
    } else {
        for c in &checks {
            let mark = if c.ecarts == 0 { "ok    " } else { "ÉCART " };
            println!(
                "{mark} {:<28} {} ({})",
                c.cle,
                c.regle,
                nombre(c.ecarts, "ligne", "lignes")
            );
        }
        for s in &sirets {
            println!(
                "       SIRET à reprendre : {} n° {} ({}) « {} » : {}",
                s.objet, s.id, s.table, s.siret, s.motif
            );
        }
        for c in &codes {
            println!(
                "       Code à reprendre : lieu « {} » ({}) {} « {} » : {}",
                c.lieu_ext_id, c.nom, c.champ, c.valeur, c.motif
            );
        }
        if broken == 0 {
            println!(
                "Toutes les règles sont respectées ({}).",
                nombre(count(checks.len()), "contrôle", "contrôles")
            );
        } else {
            println!(
                "{} : voir ci-dessus.",
                nombre(count(broken), "règle non respectée", "règles non respectées")
            );
        }
    }
    Ok(if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
