//! Passerelle's domains and storage. No HTTP here: the web layer calls these
//! functions and maps [`error::CoreError`] to responses.

pub mod accounts;
pub mod activite;
pub mod agregats;
pub mod aidants_connect;
pub mod carte;
pub mod communes_historiques;
pub mod controle;
pub mod dates_fr;
pub mod db;
pub mod demo;
pub mod demo_aidants;
pub mod demo_releve;
pub mod error;
pub mod format_fr;
pub mod geographie;
pub mod horloge;
pub mod hubs;
pub mod identifiants;
pub mod indicateurs;
pub mod jobs;
pub mod journal;
pub mod keys;
pub mod lieux;
pub mod mail;
pub mod metriques;
pub mod migrations;
pub mod money;
pub mod pass_numerique;
pub mod pdf;
pub mod qualification;
pub mod ratelimit;
pub mod recapitulatifs;
pub mod reglements;
pub mod ressources;
pub mod rgpd;
pub mod sauvegarde;
pub mod tableau_de_bord;
pub mod tableur;
pub mod territoire;

pub use db::{Backend, Db, Pool, Tx, TxConn};
pub use error::{CoreError, Result};
pub use horloge::Horloge;
pub use keys::Keys;

/// What every use case needs: the database, the deployment's keys, and the
/// bound on Argon2 work of this process (shared by all clones).
#[derive(Clone, Debug)]
pub struct Core {
    pub db: Db,
    pub keys: Keys,
    pub argon2: accounts::argon2_pool::Argon2Pool,
    /// The counter's group commit (its task, started on first use).
    pub file: pass_numerique::validation_groupee::File,
}

impl Core {
    pub fn new(db: Db, keys: Keys) -> Self {
        Core {
            db,
            keys,
            argon2: Default::default(),
            file: Default::default(),
        }
    }

    /// The same deployment with another clock (tests, or `PASSERELLE_HORLOGE`).
    pub fn with_horloge(mut self, horloge: Horloge) -> Self {
        self.db = self.db.with_horloge(horloge);
        // Its own group commit, which reads this clock.
        self.file = Default::default();
        self
    }

    /// The same deployment with another bound on Argon2 work (`passerelle serve --argon2-parallele`).
    pub fn with_argon2(mut self, pool: accounts::argon2_pool::Argon2Pool) -> Self {
        self.argon2 = pool;
        self
    }

    /// Opens a deployment: checks the URL before touching anything, connects,
    /// applies migrations, then loads the keys of `data_dir` and checks that they
    /// are the ones this database was created with. Keys are created only for a
    /// database that has none recorded, so a wrong data directory is refused
    /// instead of silently getting new keys.
    pub async fn open(url: &str, data_dir: &std::path::Path) -> Result<Core> {
        Core::open_with(url, data_dir, db::PoolSettings::default()).await
    }

    /// [`Core::open`] with other pool settings (e.g. the web service's short acquire timeout).
    pub async fn open_with(url: &str, data_dir: &std::path::Path, settings: db::PoolSettings) -> Result<Core> {
        Backend::from_url(url)?;
        let db = Db::connect_with(url, settings).await?;
        db.migrate().await?;
        let recorded = db::deployment_get(&db, "cle_journal").await?;
        if let Some(id) = &recorded {
            if !Keys::exist(data_dir) {
                return Err(CoreError::Config(format!(
                    "cette base a été créée avec la clé de journal {id}, introuvable dans le dossier de données « {} » : \
                     indiquez le bon dossier (PASSERELLE_DATA_DIR) ; de nouvelles clés ne seront pas créées",
                    data_dir.display()
                )));
            }
        }
        let keys = Keys::load_or_create(data_dir)?;
        match recorded {
            Some(id) if id != keys.journal_key_id() => {
                return Err(CoreError::Config(format!(
                    "les clés du dossier « {} » (clé {}) ne sont pas celles de cette base (clé {id}) : mauvais PASSERELLE_DATA_DIR ?",
                    data_dir.display(),
                    keys.journal_key_id()
                )))
            }
            Some(_) => {}
            None => db::deployment_set(&db, "cle_journal", &keys.journal_key_id()).await?,
        }
        Ok(Core::new(db, keys))
    }
}
