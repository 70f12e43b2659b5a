//! `passerelle lieux import | export`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use passerelle_core::accounts::Principal;
use passerelle_core::format_fr::nombre;
use passerelle_core::lieux::{export, import, read::Format};

use crate::config::DataArgs;

#[derive(Subcommand, Debug)]
pub enum LieuxCommand {
    /// Importe un fichier au standard des lieux de médiation numérique (CSV ou JSON).
    /// Code de sortie : 0 importé, 1 lignes invalides (rien n'est modifié sans --ignorer-invalides), 2 erreur.
    Import {
        /// Fichier à importer.
        file: PathBuf,
        /// csv ou json (par défaut : d'après l'extension).
        #[arg(long)]
        format: Option<String>,
        /// Nom de la source, gardé dans la provenance de chaque fiche (par défaut : le nom du fichier).
        #[arg(long)]
        source: Option<String>,
        /// Importe les lignes valides même si d'autres sont invalides, et écrit le rapport des rejets.
        #[arg(long = "ignorer-invalides")]
        ignorer_invalides: bool,
        /// Vérifie et compte sans rien écrire.
        #[arg(long = "dry-run")]
        dry_run: bool,
        /// Fichier CSV du rapport des lignes rejetées (par défaut : FICHIER.rejets.csv).
        #[arg(long)]
        rapport: Option<PathBuf>,
        /// Rapport complet en JSON sur la sortie standard.
        #[arg(long)]
        json: bool,
    },
    /// Exporte l'annuaire au standard (exactement ses champs, dans son ordre), ou au schéma
    /// data·inclusion v1 (structures.json et services.json dans un dossier).
    Export {
        /// csv, json ou data-inclusion.
        #[arg(long)]
        format: String,
        /// Fichier de sortie (par défaut : la sortie standard) ; pour data-inclusion, le dossier
        /// où écrire structures.json et services.json (obligatoire).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Adresse publique du service, pour le lien de chaque lieu (data-inclusion : lien_source).
        #[arg(long, env = "PASSERELLE_BASE_URL")]
        base_url: Option<String>,
    },
    /// Liste les fiches qui décrivent probablement un même lieu (même SIRET et même adresse, ou
    /// noms presque identiques à moins de 50 m), meilleur score d'abord.
    Doublons {
        /// Liste complète en JSON sur la sortie standard.
        #[arg(long)]
        json: bool,
    },
    /// Fusionne deux fiches d'un même lieu : ID_GARDE reste et reprend les champs qu'il n'a pas ;
    /// ID_FUSIONNE disparaît, et un prochain import de l'une ou l'autre source met à jour la fiche
    /// gardée.
    Fusionner {
        /// Identifiant (colonne id) de la fiche gardée.
        id_garde: String,
        /// Identifiant (colonne id) de la fiche fusionnée dans la première.
        id_fusionne: String,
        /// Résultat en JSON sur la sortie standard.
        #[arg(long)]
        json: bool,
    },
    /// Qualifie directement un lieu pour le Pass Numérique (par exemple déjà qualifié par un ancien opérateur).
    Qualifier {
        /// Identifiant du lieu dans le standard (colonne id).
        lieu_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Crée une clé d'API pour le logiciel d'un lieu et l'affiche une seule fois.
    CleApi {
        /// Identifiant du lieu dans le standard (colonne id).
        lieu_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Révoque la clé d'API de ce préfixe (les 8 caractères après « pn_ »).
    RevoquerCle { prefixe: String },
    /// Qualifications pour le Pass Numérique (reprise d'un ancien opérateur).
    Qualifications {
        #[command(subcommand)]
        command: QualificationsCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum QualificationsCommand {
    /// Qualifie les lieux d'un fichier CSV `lieu_id,siret,iban,bic,titulaire` et enregistre leurs
    /// coordonnées bancaires validées, tout ou rien. Code de sortie : 0 importé, 1 lignes refusées (rien n'est écrit), 2 erreur.
    Importer {
        fichier: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(data: &DataArgs, command: LieuxCommand) -> Result<ExitCode> {
    match command {
        LieuxCommand::Qualifier { .. }
        | LieuxCommand::CleApi { .. }
        | LieuxCommand::RevoquerCle { .. }
        | LieuxCommand::Qualifications { .. } => {
            let core = super::open(data).await?;
            let result = super::lieux_pass::run(&core, command).await;
            core.db.close().await;
            result
        }
        LieuxCommand::Import {
            file,
            format,
            source,
            ignorer_invalides,
            dry_run,
            rapport,
            json,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("lecture de « {} » impossible", file.display()))?;
            let file_name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let format = match format {
                Some(f) => Format::parse(&f)?,
                None => Format::guess(&file_name),
            };
            let options = import::Options {
                source: source.unwrap_or_else(|| file_name.clone()),
                file_name: file_name.clone(),
                ignore_invalid: ignorer_invalides,
                dry_run,
            };
            let core = super::open(data).await?;
            let bar = super::progression::Progression::new(
                json,
                "{bar:40} {pos}/{len} fiches écrites ({per_sec}, reste {eta})",
                "fiches lues et écrites",
            );
            let report = import::import(&core, &Principal::SYSTEME, &bytes, format, &options, |done, total| {
                bar.step(done, total)
            })
            .await?;
            bar.finish();
            core.db.close().await;
            let report_path = if !report.erreurs.is_empty() {
                let path = rapport.unwrap_or_else(|| {
                    let mut p = file.clone().into_os_string();
                    p.push(".rejets.csv");
                    PathBuf::from(p)
                });
                write_rejects(&path, &report.erreurs)?;
                Some(path)
            } else {
                None
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&report, report_path.as_deref(), dry_run, ignorer_invalides);
            }
            Ok(if report.invalides > 0 && !ignorer_invalides {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        LieuxCommand::Doublons { json } => {
            let core = super::open(data).await?;
            let found = passerelle_core::lieux::doublons::candidats(&core.db).await?;
            core.db.close().await;
            if json {
                println!("{}", serde_json::to_string_pretty(&found)?);
            } else if found.is_empty() {
                println!("Aucun doublon probable.");
            } else {
                for c in &found {
                    println!(
                        "{:>3}  « {} » ({}) et « {} » ({}) : {}",
                        c.score,
                        c.a.id,
                        c.a.nom,
                        c.b.id,
                        c.b.nom,
                        c.raisons.join(" ; ")
                    );
                }
                println!(
                    "{} doublon{} probable{}. Pour fusionner : passerelle lieux fusionner ID_GARDE ID_FUSIONNE",
                    found.len(),
                    if found.len() > 1 { "s" } else { "" },
                    if found.len() > 1 { "s" } else { "" }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        LieuxCommand::Fusionner {
            id_garde,
            id_fusionne,
            json,
        } => {
            let core = super::open(data).await?;
            let done =
                passerelle_core::lieux::fusion::fusionner(&core, &Principal::SYSTEME, &id_garde, &id_fusionne).await;
            core.db.close().await;
            let done = done?;
            if json {
                println!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                println!(
                    "« {} » fusionné dans « {} »{}.",
                    done.fusionne,
                    done.garde,
                    if done.champs_repris.is_empty() {
                        String::new()
                    } else {
                        format!(" (champs repris : {})", done.champs_repris.join(", "))
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        LieuxCommand::Export {
            format,
            output,
            base_url,
        } if format == "data-inclusion" => {
            let Some(dir) = output else {
                anyhow::bail!("--format data-inclusion écrit deux fichiers : indiquez le dossier avec -o DOSSIER");
            };
            export_data_inclusion(data, &dir, base_url.as_deref()).await
        }
        LieuxCommand::Export { format, output, .. } => {
            let format = Format::parse(&format)?;
            let core = super::open(data).await?;
            let count = match &output {
                Some(path) => {
                    let tmp = path.with_extension("partiel");
                    let f = std::fs::File::create(&tmp)
                        .with_context(|| format!("création de « {} » impossible", tmp.display()))?;
                    let w = std::io::BufWriter::new(f);
                    let n = match format {
                        Format::Csv => export::write_csv(&core.db, w).await?,
                        Format::Json => export::write_json(&core.db, w).await?,
                    };
                    std::fs::rename(&tmp, path)
                        .with_context(|| format!("écriture de « {} » impossible", path.display()))?;
                    n
                }
                None => {
                    let w = std::io::BufWriter::new(std::io::stdout().lock());
                    match format {
                        Format::Csv => export::write_csv(&core.db, w).await?,
                        Format::Json => export::write_json(&core.db, w).await?,
                    }
                }
            };
            core.db.close().await;
            if let Some(path) = output {
                eprintln!(
                    "{} dans « {} ».",
                    nombre(
                        i64::try_from(count).unwrap_or(i64::MAX),
                        "lieu exporté",
                        "lieux exportés"
                    ),
                    path.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn write_rejects(path: &std::path::Path, issues: &[passerelle_core::lieux::validate::Issue]) -> Result<()> {
    let mut w = passerelle_core::tableur::Csv::create(path)
        .with_context(|| format!("écriture du rapport « {} » impossible", path.display()))?;
    w.write_record(["ligne", "champ", "message"])?;
    for i in issues {
        w.write_record([i.ligne.to_string(), i.champ.clone(), i.message.clone()])?;
    }
    w.flush()?;
    Ok(())
}

fn print_report(r: &import::Report, rejects: Option<&std::path::Path>, dry_run: bool, ignore_invalid: bool) {
    println!("{}", r.lecture());
    for (old, new) in &r.colonnes_renommees {
        println!("  colonne « {old} » lue comme « {new} » (ancien nom du standard)");
    }
    if !r.colonnes_ignorees.is_empty() {
        let shown: Vec<&str> = r.colonnes_ignorees.iter().take(10).map(String::as_str).collect();
        let more = r.colonnes_ignorees.len().saturating_sub(10);
        println!(
            "  colonnes hors standard ignorées : {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" (et {more} autres)")
            } else {
                String::new()
            }
        );
    }
    for (label, n) in &r.normalisations {
        println!("  normalisé : {label} ({n} ligne{})", if *n > 1 { "s" } else { "" });
    }
    for (translation, n) in &r.valeurs_traduites {
        println!("    {translation} ({n} fois)");
    }
    for w in r.avertissements.iter().take(20) {
        println!("  avertissement ligne {} [{}] : {}", w.ligne, w.champ, w.message);
    }
    if r.avertissements.len() > 20 {
        println!(
            "  … et {} autres avertissements (voir --json)",
            r.avertissements.len() - 20
        );
    }
    for e in r.erreurs.iter().take(50) {
        let champ = if e.champ.is_empty() {
            String::new()
        } else {
            format!(" [{}]", e.champ)
        };
        println!("  erreur ligne {}{champ} : {}", e.ligne, e.message);
    }
    if r.erreurs.len() > 50 {
        println!(
            "  … et {}",
            nombre(
                i64::try_from(r.erreurs.len() - 50).unwrap_or(i64::MAX),
                "autre erreur",
                "autres erreurs"
            )
        );
    }
    if let Some(p) = rejects {
        println!("Rapport complet des rejets : {}", p.display());
    }
    for d in &r.doublons_probables {
        println!("  doublon probable ligne {} : « {} » ressemble à la fiche existante « {} » (importée séparément, à vérifier)", d.ligne, d.id, d.id_existant);
    }
    for k in &r.modifications_conservees {
        let (passerelle, fichier) = k.dates_fr();
        println!(
            "  ligne {} : « {} » a été modifié dans Passerelle (mise à jour du {passerelle}) après la source (du {fichier}) : la modification est conservée",
            k.ligne, k.id
        );
    }
    if r.applique {
        println!("{}", r.resume());
    } else if r.invalides > 0 && !ignore_invalid {
        println!("Rien n'a été importé : corrigez les lignes invalides, ou relancez avec --ignorer-invalides pour importer les lignes valides.");
    } else if dry_run {
        println!(
            "Essai à blanc, rien n'est écrit : {} seraient créés, {} mis à jour, {} inchangés.",
            r.crees, r.mis_a_jour, r.inchanges
        );
    } else {
        println!("Rien à changer : les {} fiches valides sont déjà à jour.", r.inchanges);
    }
}

/// `lieux export --format data-inclusion -o DOSSIER`: structures.json and services.json, each
/// written beside and renamed into place, so that a reader never sees half a file.
async fn export_data_inclusion(data: &DataArgs, dir: &std::path::Path, base_url: Option<&str>) -> Result<ExitCode> {
    let core = super::open(data).await?;
    let today = passerelle_core::lieux::data_inclusion::latest_day(core.db.horloge());
    let export = passerelle_core::lieux::data_inclusion::build(&core.db, base_url, today).await?;
    core.db.close().await;
    std::fs::create_dir_all(dir).with_context(|| format!("création du dossier « {} » impossible", dir.display()))?;
    for (name, json) in [
        ("structures.json", serde_json::to_vec_pretty(&export.structures)?),
        ("services.json", serde_json::to_vec_pretty(&export.services)?),
    ] {
        let path = dir.join(name);
        let tmp = path.with_extension("partiel");
        std::fs::write(&tmp, json).with_context(|| format!("écriture de « {} » impossible", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("écriture de « {} » impossible", path.display()))?;
    }
    eprintln!(
        "{} structures et {} services exportés au schéma data·inclusion dans « {} ».",
        export.structures.len(),
        export.services.len(),
        dir.display()
    );
    for (id, why) in &export.ecartes {
        eprintln!("  lieu « {id} » écarté : {why}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use passerelle_core::lieux::validate::Issue;

    /// The rejects file is opened in a spreadsheet next to the source file: no cell runs.
    #[test]
    fn the_rejects_file_never_holds_a_formula() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lieux.csv.rejets.csv");
        let issues = [Issue {
            ligne: 3,
            champ: "nom".into(),
            message: "=HYPERLINK(\"http://x\")".into(),
        }];
        super::write_rejects(&path, &issues).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "ligne,champ,message\n3,nom,\"'=HYPERLINK(\"\"http://x\"\")\"\n"
        );
    }
}
