//! `passerelle rgpd exporter|effacer`: a person's right of access and right
//! to erasure, for the opérateur (both journaled), and the retention job by
//! hand (`passerelle taches conservation`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{ArgGroup, Args, Subcommand};
use passerelle_core::dates_fr::jour_fr;
use passerelle_core::journal::Actor;
use passerelle_core::rgpd::{self, effacement, export, ResolveInput};

use crate::config::DataArgs;

#[derive(Subcommand, Debug)]
pub enum RgpdCommand {
    /// Écrit en JSON tout ce que Passerelle détient sur une personne, groupé par table, avec les
    /// entrées du journal qui la nomment (inscrit au journal : `rgpd.export`).
    Exporter {
        #[command(flatten)]
        personne: PersonneArgs,
        /// Fichier à écrire (droits 0600) ; par défaut la sortie standard.
        #[arg(long)]
        sortie: Option<PathBuf>,
    },
    /// Efface ou pseudonymise les données d'une personne, en gardant ce que la loi impose
    /// (preuve des mandats) ; sans --confirmer, dit seulement ce qui serait fait.
    Effacer {
        #[command(flatten)]
        personne: PersonneArgs,
        /// Efface vraiment (sinon simulation : rien n'est écrit).
        #[arg(long)]
        confirmer: bool,
        #[arg(long)]
        json: bool,
    },
}

/// Exactly one of: an usager, the beneficiary of a booklet, an account.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("personne").required(true).args(["usager", "beneficiaire", "compte"])))]
pub struct PersonneArgs {
    /// Numéro de l'usager d'Aidants Connect.
    #[arg(long)]
    usager: Option<i64>,
    /// Numéro du carnet remis au bénéficiaire (Pass Numérique).
    #[arg(long)]
    beneficiaire: Option<i64>,
    /// Numéro du compte, ou son adresse électronique.
    #[arg(long)]
    compte: Option<String>,
}

impl PersonneArgs {
    fn input(&self) -> Result<ResolveInput> {
        Ok(match (self.usager, self.beneficiaire, &self.compte) {
            (Some(id), _, _) => ResolveInput::Usager(id),
            (_, Some(n), _) => ResolveInput::Beneficiaire(n),
            (_, _, Some(c)) => ResolveInput::Compte(rgpd::parse_compte(c)?),
            _ => anyhow::bail!("indiquez --usager, --beneficiaire ou --compte"),
        })
    }
}

pub async fn run(data: &DataArgs, command: RgpdCommand) -> Result<ExitCode> {
    let core = super::open(data).await?;
    let result = match command {
        RgpdCommand::Exporter { personne, sortie } => {
            let (doc, person) = export::export(&core, &Actor::System, personne.input()?).await?;
            let text = serde_json::to_string_pretty(&doc)?;
            match sortie {
                Some(path) => {
                    write_private(&path, &text)?;
                    eprintln!(
                        "Export de {} écrit dans {} (inscrit au journal).",
                        person.label(),
                        path.display()
                    );
                }
                None => println!("{text}"),
            }
            ExitCode::SUCCESS
        }
        RgpdCommand::Effacer {
            personne,
            confirmer,
            json,
        } => {
            let (bilan, person) = effacement::erase(&core, &Actor::System, personne.input()?, confirmer).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "personne": person.reference(), "confirme": confirmer, "bilan": bilan })
                );
            } else {
                print_bilan(&person.label(), &bilan, confirmer);
            }
            ExitCode::SUCCESS
        }
    };
    core.db.close().await;
    Ok(result)
}

fn print_bilan(label: &str, b: &effacement::Bilan, confirmed: bool) {
    if confirmed {
        println!("Données de {label} effacées (inscrit au journal : rgpd.effacement).");
    } else {
        println!("Simulation pour {label} : rien n'est effacé ; relancez avec --confirmer.");
    }
    let (deleted, pseudonymised, revoked) = if confirmed {
        ("supprimé", "pseudonymisé", "révoquées")
    } else {
        ("à supprimer", "à pseudonymiser", "à révoquer")
    };
    if b.supprime.is_empty() && b.pseudonymise.is_empty() && b.autorisations_revoquees == 0 {
        println!("- rien à supprimer ni à pseudonymiser");
    }
    for (table, n) in &b.supprime {
        println!("- {deleted} : {table} ({n})");
    }
    for (table, n) in &b.pseudonymise {
        println!("- {pseudonymised} : {table} ({n})");
    }
    if b.autorisations_revoquees > 0 {
        println!("- autorisations en cours {revoked} : {}", b.autorisations_revoquees);
    }
    for c in &b.conserve {
        match &c.jusqu_au {
            Some(d) => println!("Conservé jusqu'au {} : {} — {}.", jour_fr(d), c.quoi, c.raison),
            None => println!("Conservé : {} — {}.", c.quoi, c.raison),
        }
    }
}

/// Writes `text` to `path` readable by its owner only, through a temporary file renamed at the end.
fn write_private(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("en-cours");
    // A leftover temporary file would keep its own permissions: start afresh.
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(&tmp)
        .with_context(|| format!("impossible d'écrire « {} »", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.write_all(b"\n"))
        .and_then(|_| f.sync_all())
        .with_context(|| format!("écriture de « {} » impossible", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("impossible d'écrire « {} »", path.display()))?;
    Ok(())
}

/// `passerelle taches conservation [--date AAAA-MM-JJ] [--json]`.
pub async fn conservation(core: &passerelle_core::Core, period: &str, json: bool) -> Result<()> {
    let done = rgpd::conservation::run_claimed(core, period, core.db.now_micros()).await?;
    match (done, json) {
        (Some(r), true) => println!(
            "{}",
            serde_json::json!({ "periode": period, "fait": true, "rapport": r })
        ),
        (None, true) => println!("{}", serde_json::json!({ "periode": period, "fait": false })),
        (Some(r), false) => {
            println!("Conservation des données du {period} faite (inscrite au journal : rgpd.conservation).");
            for (table, n) in &r.supprime {
                println!("- supprimé : {table} ({n})");
            }
            for (table, n) in &r.pseudonymise {
                println!("- pseudonymisé : {table} ({n})");
            }
            println!(
                "Usagers effacés : {} ; comptes effacés : {} ; lignes touchées : {}.",
                r.usagers_effaces,
                r.comptes_effaces,
                r.total()
            );
        }
        (None, false) => println!(
            "Conservation des données du {period} déjà faite (par cette instance ou une autre) : rien à faire."
        ),
    }
    Ok(())
}
