//! `passerelle`: the web service and the command-line tool.

mod commands;
mod config;
mod configuration;
mod connexions;
mod server;
mod telemetry;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc rather than the system allocator: the service allocates many small,
/// short-lived buffers per request (measured in BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use config::{DataArgs, ServeArgs};

/// `passerelle --version`: the version of the workspace (CHANGELOG.md) and the commit built.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("PASSERELLE_COMMIT"), ")");

#[derive(Parser, Debug)]
#[command(
    name = "passerelle",
    version = VERSION,
    about = "Passerelle : Pass Numérique, lieux de médiation numérique et Aidants Connect"
)]
struct Cli {
    #[command(flatten)]
    data: DataArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Lance le service web.
    Serve(ServeArgs),
    /// Applique les migrations de la base et s'arrête (toutes ou aucune ; SQLite : copie de la base avant).
    Migrate {
        /// Dit quelles migrations sont en attente, sans rien appliquer ni écrire.
        /// Code de sortie : 0 à jour, 1 migrations en attente, 2 base incompatible ou injoignable.
        #[arg(long)]
        verifier: bool,
        #[arg(long)]
        json: bool,
    },
    /// Copie cohérente de la base SQLite, service en marche (PostgreSQL : pg_dump).
    Sauvegarde {
        /// Fichier de la copie (une base SQLite complète, à garder avec le dossier des clés).
        fichier: std::path::PathBuf,
        /// Remplace le fichier s'il existe (la copie est vérifiée avant de le remplacer).
        #[arg(long)]
        ecraser: bool,
    },
    /// Administration des comptes opérateur.
    Admin {
        #[command(subcommand)]
        command: commands::admin::AdminCommand,
    },
    /// Organisations (opérateur, commanditaire, prescripteur, lieu, hub, structure habilitée).
    Organisations {
        #[command(subcommand)]
        command: commands::organisations::OrgCommand,
    },
    /// Annuaire des lieux de médiation numérique (import, export au standard national et au schéma data·inclusion).
    Lieux {
        #[command(subcommand)]
        command: commands::lieux::LieuxCommand,
    },
    /// Territoires officiels (codes INSEE) : référentiel chargé depuis @etalab/decoupage-administratif.
    Territoires {
        #[command(subcommand)]
        command: commands::territoires::TerritoiresCommand,
    },
    /// Pass Numérique : commandes des commanditaires (devis, paiement, émission des carnets).
    Commandes {
        #[command(subcommand)]
        command: commands::commandes::CommandesCommand,
    },
    /// Pass Numérique : carnets (attribution aux prescripteurs, remise, perte).
    Carnets {
        #[command(subcommand)]
        command: commands::commandes::CarnetsCommand,
    },
    /// Pass Numérique : règlement des lieux (relevés, fichier de virements SEPA, suivi des lots).
    Reglements {
        #[command(subcommand)]
        command: commands::reglements::ReglementsCommand,
    },
    /// Vérifie les règles de la monnaie sur toute la base. Code de sortie : 0 respectées, 1 écart.
    Controle {
        #[arg(long)]
        json: bool,
    },
    /// Tâches planifiées, lancées à la main.
    Taches {
        #[command(subcommand)]
        command: commands::taches::TachesCommand,
    },
    /// Courriels sortants (file d'attente).
    Courriels {
        #[command(subcommand)]
        command: commands::taches::CourrielsCommand,
    },
    /// Récapitulatifs mensuels par courriel aux commanditaires et aux hubs.
    Recapitulatifs {
        #[command(subcommand)]
        command: commands::recapitulatifs::RecapitulatifsCommand,
    },
    /// Aidants Connect : fournisseur d'identité OpenID Connect (services clients, clés de signature).
    Oidc {
        #[command(subcommand)]
        command: commands::oidc::OidcCommand,
    },
    /// Aidants Connect : cartes TOTP des aidants.
    Aidants {
        #[command(subcommand)]
        command: commands::aidants::AidantsCommand,
    },
    /// Données personnelles (RGPD) : export et effacement des données d'une personne.
    Rgpd {
        #[command(subcommand)]
        command: commands::rgpd::RgpdCommand,
    },
    /// Journal des actions sensibles.
    Journal {
        #[command(subcommand)]
        command: commands::journal::JournalCommand,
    },
    /// Écrit la page de manuel (format roff, `man 1 passerelle`) sur la sortie standard.
    #[command(hide = true)]
    Manuel,
}

/// The manual page, from the same definitions as `--help` (clap_mangen).
fn manuel() -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    std::io::Write::write_all(&mut std::io::stdout(), &out)?;
    Ok(ExitCode::SUCCESS)
}

/// Exit codes: 0 success, 1 the journal is altered, 2 any other error.
fn main() -> ExitCode {
    configuration::load();
    let cli = Cli::parse();
    telemetry::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("erreur : impossible de démarrer le moteur asynchrone : {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => commands::serve::run(&cli.data, args).await,
            Command::Migrate { verifier, json } => commands::migrate(&cli.data, verifier, json).await,
            Command::Sauvegarde { fichier, ecraser } => commands::sauvegarde(&cli.data, &fichier, ecraser).await,
            Command::Admin { command } => commands::admin::run(&cli.data, command).await,
            Command::Organisations { command } => commands::organisations::run(&cli.data, command).await,
            Command::Journal { command } => commands::journal::run(&cli.data, command).await,
            Command::Rgpd { command } => commands::rgpd::run(&cli.data, command).await,
            Command::Oidc { command } => commands::oidc::run(&cli.data, command).await,
            Command::Aidants { command } => commands::aidants::run(&cli.data, command).await,
            Command::Reglements { command } => commands::reglements::run(&cli.data, command).await,
            Command::Taches { command } => commands::taches::taches(&cli.data, command).await,
            Command::Recapitulatifs { command } => commands::recapitulatifs::run(&cli.data, command).await,
            Command::Courriels { command } => commands::taches::courriels(&cli.data, command).await,
            Command::Controle { json } => commands::reglements::controle(&cli.data, json).await,
            Command::Lieux { command } => commands::lieux::run(&cli.data, command).await,
            Command::Territoires { command } => commands::territoires::run(&cli.data, command).await,
            Command::Commandes { command } => commands::commandes::run(&cli.data, command).await,
            Command::Carnets { command } => commands::commandes::run_carnets(&cli.data, command).await,
            Command::Manuel => manuel(),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("erreur : {e:#}");
            ExitCode::from(2)
        }
    }
}
