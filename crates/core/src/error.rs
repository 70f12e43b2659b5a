//! Domain errors. They know nothing of HTTP; the web layer maps them to statuses.
//! Messages are in French: they are shown to the people using Passerelle.

use thiserror::Error;

/// The result of a domain operation. Its error defaults to [`CoreError`]; a second parameter names
/// another error where a function needs one (`Result<Value, OAuthError>`). It is called `Result`,
/// not `Result`, so that tools reading signatures by name (cargo-mutants, which replaces a body
/// by `Ok(…)` only when the return type is named `Result`) treat it as the result it is.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

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
    /// Too many password checks waiting in this process (see
    /// [`crate::accounts::argon2_pool`]): nothing was done, the same request may
    /// succeed in a moment (503 with `Retry-After` on the web).
    #[error("service momentanément surchargé : trop de vérifications de mot de passe en attente")]
    Busy,
    /// Too many failed attempts: refused without checking anything, for this many more seconds.
    #[error("{}", crate::accounts::throttle::lock_message(*.0))]
    Locked(i64),
    /// A conflicting record already exists.
    #[error("{0}")]
    Conflict(String),
    /// Key files or other local files.
    #[error("fichier : {0}")]
    Io(String),
    #[error("base de données : {0}")]
    Database(sqlx::Error),
    #[error("migration : {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for CoreError {
    /// A text PostgreSQL cannot store (a NUL byte, typed in a URL as `%00` or
    /// sent in JSON as `\u0000`) is the caller's mistake, not a fault of the
    /// service: it becomes [`CoreError::Invalid`] (400), never a 500 or a 503.
    /// SQLite stores such text, and its lookups simply find nothing.
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(d) = &e {
            if is_postgres(d.as_ref()) && d.code().is_some_and(|c| matches!(c.as_ref(), "22021" | "22P05")) {
                return CoreError::Invalid("le texte contient un caractère non accepté (caractère nul)".into());
            }
        }
        CoreError::Database(e)
    }
}

fn is_postgres(d: &dyn sqlx::error::DatabaseError) -> bool {
    d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some()
}

impl CoreError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        CoreError::Invalid(msg.into())
    }

    /// The database cannot answer now (down, restarting, unreachable, locked
    /// beyond the busy timeout): the same request may succeed later. The web
    /// layer answers 503 for these, never 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            CoreError::Unavailable(_) | CoreError::Busy => true,
            CoreError::Database(e) => is_outage(e),
            _ => false,
        }
    }
}

/// Whether a driver error means "the database is not there right now" rather than a fault of the query.
pub fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => {
            let postgres = is_postgres(d.as_ref());
            d.code().is_some_and(|code| outage_code(postgres, &code))
        }
        _ => false,
    }
}

/// SQLSTATE (PostgreSQL) or result code (SQLite) of an outage. The engine
/// matters: many SQLSTATEs are digits too (22021, a NUL byte in a text, reads
/// as SQLite's BUSY once masked to its low byte).
fn outage_code(postgres: bool, code: &str) -> bool {
    // PostgreSQL: class 08 (connection exception), 57P01 (admin shutdown, e.g.
    // `pg_ctl stop -m fast`), 57P02 (crash shutdown), 57P03 (cannot connect now:
    // starting up or shutting down), 53300 (too many connections).
    if postgres {
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300");
    }
    // SQLite (extended codes: the primary code is the low byte): BUSY (5) and
    // LOCKED (6) once the busy timeout is spent, IOERR (10), CANTOPEN (14).
    code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 14))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_told_from_faults() {
        assert!(CoreError::Database(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(CoreError::Unavailable("x".into()).is_unavailable());
        assert!(!CoreError::Database(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!CoreError::Invalid("x".into()).is_unavailable());
        for code in ["08006", "08001", "57P01", "57P03", "53300"] {
            assert!(outage_code(true, code), "{code}");
        }
        for code in ["5", "517", "6", "262", "10", "14"] {
            assert!(outage_code(false, code), "{code}");
        }
        // Unique violation, syntax error, query cancelled, and a NUL byte in a
        // text (22021, whose low byte is 5 like SQLite's BUSY).
        for code in ["23505", "42601", "57014", "22021", "22P05"] {
            assert!(!outage_code(true, code), "{code}");
        }
        // SQLite constraint (19) and its extended form.
        for code in ["19", "2067"] {
            assert!(!outage_code(false, code), "{code}");
        }
    }
}
