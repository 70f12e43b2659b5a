//! Configuration from flags and environment variables, with defaults that need
//! nothing for a local demonstration.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

/// Where the data lives: database and key files.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Adresse de la base : `sqlite:chemin` (par défaut `sqlite:<dossier de données>/passerelle.db`) ou `postgres://…`.
    #[arg(long, env = "PASSERELLE_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Dossier des clés (journal, secrets) et de la base SQLite par défaut.
    #[arg(long, env = "PASSERELLE_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Réglage de l'horloge (essais) : un instant qui l'arrête (`2027-01-31T23:59:00+01:00[Europe/Paris]`)
    /// ou un décalage de l'horloge du système (`+72h`). Sans réglage : l'horloge du système.
    #[arg(long, env = "PASSERELLE_HORLOGE", global = true, hide = true)]
    pub horloge: Option<String>,
}

impl DataArgs {
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) if !u.trim().is_empty() => u.trim().to_string(),
            _ => format!("sqlite:{}?mode=rwc", self.data_dir.join("passerelle.db").display()),
        }
    }

    /// The clock: the system's, unless `--horloge` / `PASSERELLE_HORLOGE` sets it.
    pub fn horloge(&self) -> passerelle_core::Result<passerelle_core::Horloge> {
        match self.horloge.as_deref().map(str::trim) {
            Some(r) if !r.is_empty() => passerelle_core::Horloge::parse(r),
            _ => Ok(passerelle_core::Horloge::systeme()),
        }
    }
}

/// Settings of `passerelle serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Adresse d'écoute, par exemple 0.0.0.0:8080.
    #[arg(long, env = "PASSERELLE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// URL publique du service (https obligatoire hors démonstration et hors localhost).
    #[arg(long, env = "PASSERELLE_BASE_URL")]
    pub base_url: Option<String>,
    /// Dossier d'un DSFR construit (`@gouvfr/dsfr/dist`) à servir à la place de celui du binaire.
    #[arg(long, env = "PASSERELLE_ASSETS_DIR")]
    pub assets_dir: Option<PathBuf>,
    /// Dossier de polices DejaVu (dossier `ttf` du paquet npm dejavu-fonts-ttf) pour les PDF,
    /// à la place de celles du binaire.
    #[arg(long, env = "PASSERELLE_FONTS_DIR")]
    pub polices: Option<PathBuf>,
    /// Remplit une base vide avec des données de démonstration et affiche les accès.
    #[arg(long)]
    pub demo: bool,
    /// Le service est derrière un répartiteur de confiance qui ajoute l'adresse du client à
    /// X-Forwarded-For (sinon les limites par adresse verraient toutes les requêtes venir du répartiteur).
    #[arg(long, env = "PASSERELLE_TRUST_PROXY")]
    pub trust_proxy: bool,
    /// Âge maximal, en secondes, des chiffres du tableau de bord national avant qu'une instance
    /// les recalcule en arrière-plan (0 : recalcul à chaque affichage).
    #[arg(long, env = "PASSERELLE_TABLEAU_DE_BORD_AGE", default_value_t = 300)]
    pub tableau_de_bord_age: u64,
    /// Attente maximale (secondes, 1 à 60) d'une connexion à la base. Base arrêtée,
    /// injoignable ou saturée : au-delà, la requête reçoit aussitôt 503 « Service
    /// momentanément indisponible » (JSON sous /api/) au lieu d'attendre, et le service
    /// se rétablit seul quand la base revient.
    #[arg(long = "delai-base", env = "PASSERELLE_DELAI_BASE", default_value_t = 3,
          value_parser = clap::value_parser!(u64).range(1..=60))]
    pub delai_base: u64,
    /// Serveur d'envoi des courriels : smtp://hôte:25 (relais local en clair),
    /// smtp://hôte:587?tls=required (STARTTLS) ou smtps://utilisateur:motdepasse@hôte:465.
    /// Sans lui, les courriels restent en file d'attente.
    #[arg(long, env = "PASSERELLE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Adresse d'expédition des courriels, par exemple « Passerelle <ne-pas-repondre@exemple.gouv.fr> ».
    #[arg(long, env = "PASSERELLE_COURRIEL_EXPEDITEUR")]
    pub courriel_expediteur: Option<String>,
    /// FranceConnect : adresse de l'émetteur (sa configuration est à `…/.well-known/openid-configuration`),
    /// par exemple https://fcp-low.integ01.dev-franceconnect.fr/api/v2.
    #[arg(long, env = "PASSERELLE_FC_ISSUER")]
    pub fc_issuer: Option<String>,
    /// FranceConnect : identifiant du fournisseur de service.
    #[arg(long, env = "PASSERELLE_FC_CLIENT_ID")]
    pub fc_client_id: Option<String>,
    /// FranceConnect : secret du fournisseur de service (jamais affiché).
    #[arg(long, env = "PASSERELLE_FC_CLIENT_SECRET", hide_env_values = true)]
    pub fc_client_secret: Option<String>,
    /// Simulateur FranceConnect (identités fictives) à la place de FranceConnect : démonstration et
    /// essais seulement, refusé sur une URL publique de production. Activé aussi par --demo.
    #[arg(long, env = "PASSERELLE_FC_SIMULATEUR", value_parser = clap::builder::BoolishValueParser::new())]
    pub fc_simulateur: bool,
    /// ProConnect (connexion des professionnels) : adresse de l'émetteur, par exemple
    /// https://auth.agentconnect.gouv.fr/api/v2 (intégration : https://fca.integ01.dev-agentconnect.fr/api/v2).
    #[arg(long, env = "PASSERELLE_PROCONNECT_ISSUER")]
    pub proconnect_issuer: Option<String>,
    /// ProConnect : identifiant du fournisseur de service.
    #[arg(long, env = "PASSERELLE_PROCONNECT_CLIENT_ID")]
    pub proconnect_client_id: Option<String>,
    /// ProConnect : secret du fournisseur de service (jamais affiché).
    #[arg(long, env = "PASSERELLE_PROCONNECT_CLIENT_SECRET", hide_env_values = true)]
    pub proconnect_client_secret: Option<String>,
    /// Simulateur ProConnect (n'importe quelle adresse acceptée) à la place de ProConnect : démonstration
    /// et essais seulement, refusé sur une URL publique de production. Activé aussi par --demo.
    #[arg(long, env = "PASSERELLE_PROCONNECT_SIMULATEUR", value_parser = clap::builder::BoolishValueParser::new())]
    pub proconnect_simulateur: bool,
    /// Jeton d'accès à /metrics (format Prometheus), à donner au collecteur en
    /// `Authorization: Bearer …`. Sans lui, /metrics n'existe pas.
    #[arg(long, env = "PASSERELLE_METRIQUES_JETON", hide_env_values = true)]
    pub metriques_jeton: Option<String>,
    /// Limites du serveur (clients lents, connexions et requêtes simultanées).
    #[command(flatten)]
    pub limites: crate::server::Limits,
    /// Borne des calculs Argon2 (mots de passe) de l'instance.
    #[command(flatten)]
    pub argon2: Argon2Args,
}

/// The bound on Argon2 work of one instance: each computation takes 19 MiB, so
/// at most `parallele` × 19 MiB for them, whatever the load.
#[derive(Args, Debug, Clone)]
pub struct Argon2Args {
    /// Calculs Argon2 (vérification ou hachage d'un mot de passe, 19 Mio chacun) menés en même
    /// temps par l'instance ; par défaut, le nombre de processeurs. Mémoire qu'ils occupent au
    /// plus : cette valeur × 19 Mio.
    #[arg(long = "argon2-parallele", env = "PASSERELLE_ARGON2_PARALLELE",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub parallele: Option<u32>,
    /// Demandes qui peuvent attendre leur tour de calcul Argon2 ; au-delà, réponse immédiate
    /// 503 « Service momentanément indisponible » avec Retry-After. Par défaut, 4 × la valeur
    /// de --argon2-parallele.
    #[arg(long = "argon2-attente", env = "PASSERELLE_ARGON2_ATTENTE",
          value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub attente: Option<u32>,
}

impl Argon2Args {
    pub fn pool(&self) -> passerelle_core::accounts::argon2_pool::Argon2Pool {
        let parallel = match self.parallele {
            Some(n) => n as usize,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        };
        let waiting = self.attente.map_or(4 * parallel, |n| n as usize);
        passerelle_core::accounts::argon2_pool::Argon2Pool::new(parallel, waiting)
    }
}

/// FranceConnect's settings: off when nothing is set; the simulator refused in production.
pub fn franceconnect(
    args: &ServeArgs,
    base: &url::Url,
    keys: &passerelle_core::Keys,
) -> Result<Option<passerelle_core::aidants_connect::franceconnect::FranceConnect>> {
    use passerelle_core::aidants_connect::franceconnect::{config::FcSettings, FcConfig, FranceConnect};
    let settings = FcSettings {
        issuer: args.fc_issuer.clone(),
        client_id: args.fc_client_id.clone(),
        client_secret: args.fc_client_secret.clone(),
        simulateur: args.fc_simulateur,
    };
    match FcConfig::resolve(&settings, base, args.demo, keys).map_err(|e| anyhow::anyhow!("{e}"))? {
        Some(c) => Ok(Some(FranceConnect::new(c).map_err(|e| anyhow::anyhow!("{e}"))?)),
        None => Ok(None),
    }
}

/// ProConnect's settings: off when nothing is set; the simulator refused in production.
pub fn proconnect(
    args: &ServeArgs,
    base: &url::Url,
    keys: &passerelle_core::Keys,
) -> Result<Option<passerelle_core::accounts::proconnect::ProConnect>> {
    use passerelle_core::accounts::proconnect::{PcSettings, ProConnect};
    let settings = PcSettings {
        issuer: args.proconnect_issuer.clone(),
        client_id: args.proconnect_client_id.clone(),
        client_secret: args.proconnect_client_secret.clone(),
        simulateur: args.proconnect_simulateur,
    };
    ProConnect::resolve(&settings, base, args.demo, keys).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Checks the public URL: https is required, except for a demo or a local address.
pub fn base_url(args: &ServeArgs, listen: std::net::SocketAddr) -> Result<url::Url> {
    let raw = match &args.base_url {
        Some(u) if !u.trim().is_empty() => u.trim().to_string(),
        _ if listen.ip().is_loopback() || args.demo => format!("http://localhost:{}", listen.port()),
        _ => bail!(
            "PASSERELLE_BASE_URL est obligatoire quand le service écoute au-delà de cette machine ({listen}) : \
             indiquez l'URL publique en https, par exemple https://passerelle.exemple.gouv.fr"
        ),
    };
    let url = url::Url::parse(&raw)
        .with_context(|| format!("PASSERELLE_BASE_URL invalide « {raw} » : une URL complète est attendue, par exemple https://passerelle.exemple.gouv.fr"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!("PASSERELLE_BASE_URL invalide « {raw} » : elle doit commencer par https:// et contenir un nom d'hôte");
    }
    if url.path() != "/" || url.query().is_some() {
        bail!("PASSERELLE_BASE_URL invalide « {raw} » : Passerelle doit être servi à la racine du domaine (pas de chemin)");
    }
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]" | "::1"));
    if url.scheme() != "https" && !local && !args.demo {
        bail!(
            "PASSERELLE_BASE_URL doit être en https en production (reçu « {raw} »). \
             Pour un essai local, utilisez --demo ou une adresse localhost."
        );
    }
    Ok(url)
}

/// Checks that the DSFR build is there, with a clear message otherwise.
pub fn check_assets(dir: Option<&Path>) -> Result<()> {
    if let Some(dir) = dir.filter(|d| !d.join("dsfr.min.css").is_file()) {
        bail!(
            "les fichiers du DSFR sont introuvables dans « {} » (PASSERELLE_ASSETS_DIR). Indiquez le \
             dossier `dist` du paquet @gouvfr/dsfr, ou retirez ce réglage pour servir le DSFR du binaire.",
            dir.display()
        );
    }
    Ok(())
}

/// The fonts of the PDF documents must load (from the folder given, or the binary's).
pub fn check_fonts(dir: Option<&Path>) -> Result<()> {
    passerelle_core::pdf::Fonts::of(dir)
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        argon2: super::Argon2Args,
    }

    #[test]
    fn argon2_bound_from_flags_with_defaults() {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let pool = Cli::parse_from(["p"]).argon2.pool();
        assert_eq!((pool.parallel(), pool.max_waiting()), (cpus, 4 * cpus));
        let pool = Cli::parse_from(["p", "--argon2-parallele", "3"]).argon2.pool();
        assert_eq!((pool.parallel(), pool.max_waiting()), (3, 12));
        let cli = Cli::parse_from(["p", "--argon2-parallele", "1", "--argon2-attente", "0"]);
        assert_eq!((cli.argon2.pool().parallel(), cli.argon2.pool().max_waiting()), (1, 0));
        assert!(Cli::try_parse_from(["p", "--argon2-parallele", "0"]).is_err());
    }
}
