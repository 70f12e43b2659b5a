//! Domain errors. They know nothing of HTTP; the web layer maps them to statuses.
//! Messages are in French: they are shown to the people using Passerelle.

use thiserror::Error;

pub type CoreResult<T> = Result<T, CoreError>;

#[derive(Debug, Error)]
pub enum CoreError {
    /// A setting is missing or wrong.
    #[error("configuration : {0}")]
    Config(String),
    /// The database cannot be reached.
    #[error("service indisponible : {0}")]
    Unavailable(String),
    /// The input was refused; the message says why, for the person who typed it.
    #[error("{0}")]
    Invalid(String),
    /// The thing asked for does not exist (or is not visible to the caller).
    #[error("introuvable : {0}")]
    NotFound(String),
    /// The caller is not allowed to do this.
    #[error("action non autorisée")]
    Forbidden,
    /// A conflicting record already exists.
    #[error("{0}")]
    Conflict(String),
    /// Key files or other local files.
    #[error("fichier : {0}")]
    Io(String),
    #[error("base de données : {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration : {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl CoreError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        CoreError::Invalid(msg.into())
    }
}
