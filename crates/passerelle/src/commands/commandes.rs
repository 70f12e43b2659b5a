//! `passerelle commandes …` and `passerelle carnets …`: the opérateur's bulk
//! work on the Pass Numérique.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use passerelle_core::accounts::Principal;
use passerelle_core::format_fr::nombre;
use passerelle_core::identifiants::Centimes;
use passerelle_core::lieux::model::ListeServices;
use passerelle_core::pass_numerique::booklets::{self, HandOut};
use passerelle_core::pass_numerique::model::{Perimetre, Public};
use passerelle_core::pass_numerique::orders::{self, parse_date, NewOrder};
use passerelle_core::pass_numerique::{issue, print};
use passerelle_core::pdf::Fonts;
use serde_json::json;

use crate::config::DataArgs;

#[derive(Subcommand, Debug)]
pub enum CommandesCommand {
    /// Crée une commande et son devis ; affiche le numéro de la commande.
    Creer {
        /// Numéro de l'organisation commanditaire.
        #[arg(long)]
        commanditaire: i64,
        /// Nombre de carnets.
        #[arg(long)]
        carnets: i64,
        #[arg(long, default_value_t = 10)]
        cheques_par_carnet: i64,
        /// Valeur d'un chèque, en centimes.
        #[arg(long, default_value_t = 1000)]
        valeur_centimes: i64,
        /// Premier jour d'utilisation (AAAA-MM-JJ, heure de Paris).
        #[arg(long)]
        debut: String,
        /// Dernier jour d'utilisation (AAAA-MM-JJ).
        #[arg(long)]
        fin: String,
        /// Jours de tolérance après la fin.
        #[arg(long, default_value_t = 30)]
        tolerance_jours: i64,
        /// Codes INSEE : 2 ou 3 caractères pour un département, 5 pour une commune.
        #[arg(long, value_delimiter = ',', required = true)]
        perimetre: Vec<String>,
        /// Prescripteurs autorisés (numéros d'organisation) ; tous si absent.
        #[arg(long, value_delimiter = ',')]
        prescripteurs: Vec<i64>,
        /// Publics : tout-public, jeunes, etudiants, familles, seniors, femmes, demandeurs-emploi,
        /// personnes-handicapees, minima-sociaux.
        #[arg(long, value_delimiter = ',')]
        publics: Vec<String>,
        /// Services autorisés (libellés du standard, séparés par « | ») ; tous si absent.
        #[arg(long)]
        services: Option<String>,
        /// Chèques d'un même carnet encaissables par jour dans un même lieu.
        #[arg(long, default_value_t = 2)]
        plafond_jour: i64,
        /// Texte imprimé sur les carnets (nom du commanditaire par défaut).
        #[arg(long, default_value = "")]
        marque: String,
        /// Frais de l'opérateur en pour dix mille de la valeur faciale (400 = 4 %).
        #[arg(long, default_value_t = 400)]
        frais_pour_dix_mille: i64,
        #[arg(long)]
        json: bool,
    },
    /// Enregistre le paiement d'une commande (devis accepté et facture émise au besoin) :
    /// ses chèques deviennent actifs.
    Payer {
        id: i64,
        /// Référence du virement reçu.
        #[arg(long)]
        reference: String,
        #[arg(long)]
        json: bool,
    },
    /// Émet les carnets et chèques d'une commande (tout ou rien) et écrit le fichier des codes.
    Emettre {
        id: i64,
        /// Fichier CSV pour l'imprimeur : carnet,rang,code,url (un chèque par ligne).
        #[arg(long)]
        codes: Option<PathBuf>,
        /// Carnets à imprimer (PDF A4 : une couverture et une page de chèques par carnet).
        #[arg(long)]
        pdf: Option<PathBuf>,
        /// Adresse publique du service, pour l'URL des QR codes.
        #[arg(long, env = "PASSERELLE_BASE_URL")]
        url_base: Option<String>,
        /// Dossier de polices DejaVu (dossier `ttf` du paquet npm dejavu-fonts-ttf) à la place de celles du binaire.
        #[arg(long, env = "PASSERELLE_FONTS_DIR")]
        polices: Option<PathBuf>,
        /// Traits de coupe aux coins de chaque chèque (PDF), pour le massicot de l'imprimeur.
        #[arg(long = "traits-de-coupe")]
        traits_de_coupe: bool,
        #[arg(long)]
        json: bool,
    },
    /// Réécrit le fichier des codes et/ou le PDF d'une commande (réimpression), éventuellement d'une plage de carnets.
    Codes {
        id: i64,
        #[arg(long)]
        codes: Option<PathBuf>,
        #[arg(long)]
        pdf: Option<PathBuf>,
        #[arg(long)]
        de: Option<i64>,
        #[arg(long)]
        a: Option<i64>,
        #[arg(long, env = "PASSERELLE_BASE_URL")]
        url_base: Option<String>,
        /// Dossier de polices DejaVu (dossier `ttf` du paquet npm dejavu-fonts-ttf) à la place de celles du binaire.
        #[arg(long, env = "PASSERELLE_FONTS_DIR")]
        polices: Option<PathBuf>,
        /// Traits de coupe aux coins de chaque chèque (PDF), pour le massicot de l'imprimeur.
        #[arg(long = "traits-de-coupe")]
        traits_de_coupe: bool,
    },
    /// Rapport d'une commande : chèques émis, remis, encaissés, non utilisés, expirés, annulés ;
    /// encaissements par mois, lieu, commune, département et public.
    Rapport {
        id: i64,
        /// Écrit aussi le rapport en CSV (dimension,cle,libelle,carnets_remis,cheques,valeur_centimes,valeur_euros).
        #[arg(long)]
        csv: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// État des chèques expirés d'une commande, joint à ses avoirs : chèques expirés et annulés par
    /// carnet, valeur faciale, avoirs qu'ils justifient (aucun code de chèque).
    Expires {
        id: i64,
        #[arg(long)]
        pdf: Option<PathBuf>,
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Dossier de polices DejaVu (dossier `ttf` du paquet npm dejavu-fonts-ttf) à la place de celles du binaire.
        #[arg(long, env = "PASSERELLE_FONTS_DIR")]
        polices: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum CarnetsCommand {
    /// Attribue les carnets N à M d'une commande à un prescripteur.
    Attribuer {
        #[arg(long)]
        commande: i64,
        #[arg(long)]
        prescripteur: i64,
        #[arg(long)]
        de: i64,
        #[arg(long)]
        a: i64,
        #[arg(long)]
        json: bool,
    },
    /// Enregistre la remise d'un carnet à un bénéficiaire (sans nom).
    Remettre {
        numero: i64,
        /// Public (clé, par exemple seniors).
        #[arg(long)]
        public: String,
        /// Code INSEE de la commune de résidence.
        #[arg(long)]
        commune: String,
        /// Tranche d'âge : 15-24, 25-34, 35-44, 45-54, 55-64, 65-74, 75-et-plus.
        #[arg(long)]
        tranche_age: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Déclare un carnet perdu : ses chèques non utilisés sont annulés.
    Perdu {
        numero: i64,
        #[arg(long)]
        json: bool,
    },
}

fn base_url(url: Option<String>) -> Result<String> {
    let raw = url.context(
        "adresse publique du service absente : --url-base ou PASSERELLE_BASE_URL (par exemple https://passerelle.exemple.gouv.fr)",
    )?;
    let parsed = url::Url::parse(raw.trim()).with_context(|| format!("adresse publique invalide « {raw} »"))?;
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// Writes the print house's CSV and/or the booklets' PDF; returns the number of cheques.
async fn write_files(
    core: &passerelle_core::Core,
    order: i64,
    range: Option<(i64, i64)>,
    base: &str,
    csv: Option<&PathBuf>,
    pdf: Option<(&PathBuf, Option<&Path>)>,
    traits_de_coupe: bool,
) -> Result<usize> {
    let mut count = 0;
    if let Some(path) = csv {
        let printed = issue::codes_for_print(core, &Principal::SYSTEME, order, range, issue::Support::Csv).await?;
        let file = create_private(path)?;
        issue::codes_csv(base, &printed, std::io::BufWriter::new(file))?;
        count = printed.len();
    }
    if let Some((path, fonts_dir)) = pdf {
        let fonts = Fonts::of(fonts_dir)?;
        let printed = issue::codes_for_print(core, &Principal::SYSTEME, order, range, issue::Support::Pdf).await?;
        count = printed.len();
        let mut face = print::face_of(core, &orders::one(core, &Principal::SYSTEME, order).await?, base).await?;
        face.traits_de_coupe = traits_de_coupe;
        let bytes = print::booklets(&fonts, &face, &printed)?;
        std::io::Write::write_all(&mut create_private(path)?, &bytes)
            .with_context(|| format!("impossible d'écrire « {} »", path.display()))?;
    }
    Ok(count)
}

/// The codes file holds usable codes: readable by its owner only.
fn create_private(path: &PathBuf) -> Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
        .with_context(|| format!("impossible d'écrire « {} »", path.display()))
}

pub async fn run(data: &DataArgs, command: CommandesCommand) -> Result<ExitCode> {
    let core = super::open(data).await?;
    let result = run_with(&core, command).await;
    core.db.close().await;
    result
}

async fn run_with(core: &passerelle_core::Core, command: CommandesCommand) -> Result<ExitCode> {
    match command {
        CommandesCommand::Creer {
            commanditaire,
            carnets,
            cheques_par_carnet,
            valeur_centimes,
            debut,
            fin,
            tolerance_jours,
            perimetre,
            prescripteurs,
            publics,
            services,
            plafond_jour,
            marque,
            frais_pour_dix_mille,
            json,
        } => {
            let mut new = NewOrder::new(
                commanditaire,
                carnets,
                parse_date(&debut, "--debut")?,
                parse_date(&fin, "--fin")?,
            );
            new.cheques_par_carnet = cheques_par_carnet;
            new.valeur_centimes = Centimes::new(valeur_centimes);
            new.tolerance_jours = tolerance_jours;
            new.perimetre = Perimetre::parse(&perimetre.join(","))?;
            new.prescripteurs = prescripteurs;
            if !publics.is_empty() {
                new.publics = publics.iter().map(|p| Public::parse(p)).collect::<Result<_, _>>()?;
            }
            if let Some(s) = services.filter(|s| !s.trim().is_empty()) {
                new.services = ListeServices::parse(&s)?;
            }
            new.plafond_jour = plafond_jour;
            new.marque = marque;
            new.frais_pour_dix_mille = frais_pour_dix_mille;
            let (order, quote) = orders::create(core, &Principal::SYSTEME, &new).await?;
            if json {
                println!("{}", json!({ "id": order.id, "etat": order.etat, "devis": quote }));
            } else {
                eprintln!(
                    "Commande {} créée : devis {} de {} € ({} € de chèques + {} € de frais).",
                    order.id,
                    quote.numero,
                    quote.total_centimes.euros(),
                    quote.valeur_centimes.euros(),
                    quote.frais_centimes.euros()
                );
                println!("{}", order.id);
            }
        }
        CommandesCommand::Payer { id, reference, json } => {
            let invoice = orders::pay(core, &Principal::SYSTEME, id, &reference).await?;
            if json {
                println!("{}", json!({ "id": id, "etat": "payee", "facture": invoice }));
            } else {
                println!(
                    "Commande {id} payée (facture {}, {} €) : ses chèques émis sont actifs.",
                    invoice.numero,
                    invoice.total_centimes.euros()
                );
            }
        }
        CommandesCommand::Emettre {
            id,
            codes,
            pdf,
            url_base,
            polices,
            traits_de_coupe,
            json,
        } => {
            let base = if codes.is_some() || pdf.is_some() {
                Some(base_url(url_base)?)
            } else {
                None
            };
            if pdf.is_some() {
                // Checked before issuing: a missing font must not leave an issued order without its PDF.
                Fonts::of(polices.as_deref())?;
            }
            let bar = super::progression::Progression::new(
                json,
                "{bar:40} {pos}/{len} chèques émis ({per_sec}, reste {eta})",
                "chèques écrits",
            );
            let issued = issue::issue(core, &Principal::SYSTEME, id, |done, total| bar.step(done, total)).await?;
            bar.finish();
            let written = match &base {
                Some(base) => Some(
                    write_files(
                        core,
                        id,
                        None,
                        base,
                        codes.as_ref(),
                        pdf.as_ref().map(|p| (p, polices.as_deref())),
                        traits_de_coupe,
                    )
                    .await?,
                ),
                None => None,
            };
            if json {
                println!("{}", json!({ "emission": issued, "codes_ecrits": written }));
            } else {
                println!(
                    "Commande {id} émise : carnets {} à {}, {} chèques ({}).",
                    issued.premier_carnet,
                    issued.dernier_carnet,
                    issued.cheques,
                    if issued.etat_des_cheques == "actif" {
                        "actifs"
                    } else {
                        "en attente du paiement"
                    }
                );
                if let (Some(path), Some(n)) = (&codes, written) {
                    println!(
                        "{n} codes écrits dans {} (à transmettre à l'imprimeur, puis à supprimer).",
                        path.display()
                    );
                }
                if let Some(path) = &pdf {
                    println!("Carnets à imprimer : {}.", path.display());
                }
            }
        }
        CommandesCommand::Codes {
            id,
            codes,
            pdf,
            de,
            a,
            url_base,
            polices,
            traits_de_coupe,
        } => {
            if codes.is_none() && pdf.is_none() {
                anyhow::bail!("rien à écrire : --codes FICHIER et/ou --pdf FICHIER");
            }
            let base = base_url(url_base)?;
            let range = match (de, a) {
                (None, None) => None,
                (de, a) => Some((de.unwrap_or(i64::MIN), a.unwrap_or(i64::MAX))),
            };
            let n = write_files(
                core,
                id,
                range,
                &base,
                codes.as_ref(),
                pdf.as_ref().map(|p| (p, polices.as_deref())),
                traits_de_coupe,
            )
            .await?;
            println!(
                "{}.",
                nombre(
                    i64::try_from(n).unwrap_or(i64::MAX),
                    "chèque réimprimé",
                    "chèques réimprimés"
                )
            );
        }
        CommandesCommand::Rapport { id, csv, json } => super::rapports::order(core, id, csv.as_deref(), json).await?,
        CommandesCommand::Expires {
            id,
            pdf,
            csv,
            polices,
            json,
        } => {
            let files = super::rapports::Files {
                pdf: pdf.as_deref(),
                csv: csv.as_deref(),
                fonts: polices.as_deref(),
            };
            super::rapports::expired(core, id, files, json).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_carnets(data: &DataArgs, command: CarnetsCommand) -> Result<ExitCode> {
    let core = super::open(data).await?;
    let result = carnets_with(&core, command).await;
    core.db.close().await;
    result
}

async fn carnets_with(core: &passerelle_core::Core, command: CarnetsCommand) -> Result<ExitCode> {
    match command {
        CarnetsCommand::Attribuer {
            commande,
            prescripteur,
            de,
            a,
            json,
        } => {
            let n = booklets::allot(core, &Principal::SYSTEME, commande, prescripteur, de, a).await?;
            if json {
                println!(
                    "{}",
                    json!({ "commande": commande, "prescripteur": prescripteur, "de": de, "a": a, "attribues": n })
                );
            } else {
                println!(
                    "{} au prescripteur {prescripteur} (carnets {de} à {a}).",
                    nombre(
                        i64::try_from(n).unwrap_or(i64::MAX),
                        "carnet attribué",
                        "carnets attribués"
                    )
                );
            }
        }
        CarnetsCommand::Remettre {
            numero,
            public,
            commune,
            tranche_age,
            json,
        } => {
            let h = HandOut {
                public,
                commune,
                tranche_age,
                ..Default::default()
            };
            let b = booklets::hand_out(core, &Principal::SYSTEME, numero, &h).await?;
            if json {
                println!("{}", json!({ "carnet": b }));
            } else {
                println!("Carnet n° {numero} remis.");
            }
        }
        CarnetsCommand::Perdu { numero, json } => {
            let n = booklets::declare_lost(core, &Principal::SYSTEME, numero).await?;
            if json {
                println!("{}", json!({ "carnet": numero, "cheques_annules": n }));
            } else {
                println!(
                    "Carnet n° {numero} déclaré perdu : {}.",
                    nombre(
                        i64::try_from(n).unwrap_or(i64::MAX),
                        "chèque non utilisé annulé",
                        "chèques non utilisés annulés"
                    )
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
