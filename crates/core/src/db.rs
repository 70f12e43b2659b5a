//! Storage: one code path for SQLite (embedded default) and PostgreSQL.
//!
//! Every query is written once, in SQL that both engines accept (`$1` parameters,
//! `RETURNING`, `ON CONFLICT`). The [`on_db!`] and [`on_tx!`] macros expand the same
//! body for each backend, so the compiler type-checks it against both drivers.
//! Timestamps are stored as `BIGINT` microseconds since the Unix epoch (UTC), which
//! compare and sort the same way on both engines.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::error::{CoreError, Result};
use crate::horloge::Horloge;

pub(crate) static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
pub(crate) static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Which engine a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Reads the backend from the URL scheme (`sqlite:` or `postgres:`/`postgresql:`).
    pub fn from_url(url: &str) -> Result<Self> {
        let scheme = url.split(':').next().unwrap_or_default().to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(CoreError::Config(format!(
                "adresse de base de données non reconnue : elle doit commencer par « sqlite: » ou « postgres: » (reçu « {} »)",
                redact_url(url)
            ))),
        }
    }
}

/// Hides the password of a database URL before it is printed.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => url.chars().take(64).collect(),
    }
}

/// The database handle: a pool on one of the two engines, and the clock that
/// domain code reads the time from (see [`crate::horloge`]).
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: Pool,
    pub(crate) horloge: Horloge,
}

/// A pool on one of the two engines.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A write transaction, with the clock of the handle it was opened from.
pub struct Tx {
    pub conn: TxConn,
    pub(crate) horloge: Horloge,
}

/// A write transaction on one of the two engines.
pub enum TxConn {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$c` bound to a pooled connection (`&mut Connection`) of the right engine.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $c:ident => $body:expr) => {
        match &$db.pool {
            $crate::db::Pool::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                let $c = &mut *conn;
                $body
            }
            $crate::db::Pool::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                let $c = &mut *conn;
                $body
            }
        }
    };
}

/// Runs `$body` with `$c` bound to the transaction's connection (`&mut Connection`).
#[macro_export]
macro_rules! on_tx {
    // `&mut tx` and `&mut *tx` borrow only the connection, so that the body
    // may read the transaction's clock (`tx.horloge`).
    (&mut * $tx:ident, $c:ident => $body:expr) => {
        $crate::on_tx!($tx, $c => $body)
    };
    (&mut $tx:ident, $c:ident => $body:expr) => {
        $crate::on_tx!($tx, $c => $body)
    };
    ($tx:expr, $c:ident => $body:expr) => {
        match &mut $tx.conn {
            $crate::db::TxConn::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::TxConn::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// Prepared statements kept per connection. The counter's group commit sends
/// statements whose text depends on the group's size (one `IN` list or
/// multi-row insert per size, several hundred shapes in all); sqlx's default of
/// 100 would have them prepared again and again (on PostgreSQL, one more round
/// trip each). The least used are still evicted: a cost in speed only.
const STATEMENT_CACHE: usize = 512;

/// Settings of the connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// How long a caller waits for a connection (including opening one) before
    /// giving up with [`sqlx::Error::PoolTimedOut`]: when the database is down,
    /// this is how fast a request fails (503) instead of hanging.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    /// Patient settings for the command line (bulk jobs may wait for a busy database).
    fn default() -> Self {
        PoolSettings {
            acquire_timeout: Duration::from_secs(15),
        }
    }
}

impl Db {
    /// Connects to `url` with the default [`PoolSettings`].
    pub async fn connect(url: &str) -> Result<Db> {
        Db::connect_with(url, PoolSettings::default()).await
    }

    /// Connects to `url`. SQLite files are created if missing, in WAL mode (synchronous FULL) with a busy timeout.
    pub async fn connect_with(url: &str, settings: PoolSettings) -> Result<Db> {
        match Backend::from_url(url)? {
            Backend::Sqlite => {
                let opts = SqliteConnectOptions::from_str(url)
                    .map_err(|e| CoreError::Config(format!("adresse SQLite invalide : {e}")))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: a commit (e.g. a redemption answered 201) survives a power cut;
                    // NORMAL in WAL mode may lose the last commits.
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .statement_cache_capacity(STATEMENT_CACHE);
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                if !in_memory {
                    create_private_file(opts.get_filename());
                }
                let pool = SqlitePoolOptions::new()
                    .max_connections(if in_memory { 1 } else { 8 })
                    .min_connections(if in_memory { 1 } else { 0 })
                    .idle_timeout(if in_memory {
                        None
                    } else {
                        Some(Duration::from_secs(600))
                    })
                    .max_lifetime(if in_memory {
                        None
                    } else {
                        Some(Duration::from_secs(3600))
                    })
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_with(opts)
                    .await
                    .map_err(|e| CoreError::Unavailable(format!("impossible d'ouvrir la base SQLite : {e}")))?;
                Ok(Db::new(Pool::Sqlite(pool)))
            }
            Backend::Postgres => {
                let opts = PgConnectOptions::from_str(url)
                    .map_err(|e| CoreError::Config(format!("adresse PostgreSQL invalide : {e}")))?
                    .statement_cache_capacity(STATEMENT_CACHE);
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_with(opts)
                    .await
                    .map_err(|e| {
                        CoreError::Unavailable(format!("impossible de joindre PostgreSQL ({}) : {e}", redact_url(url)))
                    })?;
                Ok(Db::new(Pool::Postgres(pool)))
            }
        }
    }

    /// For a SQLite file URL, whether the file exists (None: PostgreSQL or in memory).
    pub fn sqlite_file_exists(url: &str) -> Option<bool> {
        if Backend::from_url(url).ok()? != Backend::Sqlite || url.contains(":memory:") || url.contains("mode=memory") {
            return None;
        }
        let opts = SqliteConnectOptions::from_str(url).ok()?;
        Some(opts.get_filename().exists())
    }

    /// A handle on `pool` with the system clock.
    pub fn new(pool: Pool) -> Db {
        Db {
            pool,
            horloge: Horloge::systeme(),
        }
    }

    /// The same handle with another clock.
    pub fn with_horloge(mut self, horloge: Horloge) -> Db {
        self.horloge = horloge;
        self
    }

    /// The clock of this handle.
    pub fn horloge(&self) -> &Horloge {
        &self.horloge
    }

    /// Now, in microseconds since the Unix epoch (UTC), from the handle's clock.
    pub fn now_micros(&self) -> i64 {
        self.horloge.now_micros()
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the pending migrations of the engine, all or none (see [`crate::migrations`]).
    pub async fn migrate(&self) -> Result<crate::migrations::Rapport> {
        let rapport = crate::migrations::appliquer(self).await?;
        crate::aidants_connect::mandats::texts::ensure(self).await?;
        Ok(rapport)
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so that a read-then-write never fails with `SQLITE_BUSY`.
    pub async fn begin(&self) -> Result<Tx> {
        let conn = match &self.pool {
            Pool::Sqlite(p) => TxConn::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => TxConn::Postgres(p.begin().await?),
        };
        Ok(Tx {
            conn,
            horloge: self.horloge.clone(),
        })
    }

    /// Checks that the database answers (for `/healthz`).
    pub async fn ping(&self) -> Result<()> {
        on_db!(self, c => {
            sqlx::query("SELECT 1").execute(&mut *c).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self.conn {
            TxConn::Sqlite(t) => t.commit().await?,
            TxConn::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        match self.conn {
            TxConn::Sqlite(t) => t.rollback().await?,
            TxConn::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }

    /// The clock of the handle this transaction was opened from.
    pub fn horloge(&self) -> &Horloge {
        &self.horloge
    }

    /// Now, in microseconds since the Unix epoch (UTC), from the transaction's clock.
    pub fn now_micros(&self) -> i64 {
        self.horloge.now_micros()
    }

    pub fn backend(&self) -> Backend {
        match self.conn {
            TxConn::Sqlite(_) => Backend::Sqlite,
            TxConn::Postgres(_) => Backend::Postgres,
        }
    }
}

/// The instant `micros` (µs since the epoch) in UTC (the epoch when out of range).
pub fn datetime_of(micros: i64) -> jiff::ZonedDateTime {
    crate::horloge::timestamp_of(micros).to_zoned_datetime(jiff::tz::TimeZone::UTC)
}

/// The instant `micros` in RFC 3339, UTC, with the fraction of a second only
/// when there is one (`2026-02-28T23:30:00.5Z`): how JSON and the journal show instants.
pub fn rfc3339_of(micros: i64) -> String {
    crate::horloge::timestamp_of(micros).to_string()
}

/// A fact about the deployment recorded in the database.
pub async fn deployment_get(db: &Db, key: &str) -> Result<Option<String>> {
    Ok(on_db!(db, c => {
        sqlx::query_scalar("SELECT value FROM deployment WHERE key = $1").bind(key).fetch_optional(&mut *c).await?
    }))
}

pub async fn deployment_set(db: &Db, key: &str, value: &str) -> Result<()> {
    on_db!(db, c => {
        sqlx::query("INSERT INTO deployment (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
            .bind(key)
            .bind(value)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Creates a missing SQLite file with owner-only permissions (it holds password hashes).
fn create_private_file(path: &std::path::Path) {
    if path.as_os_str().is_empty() || path.to_string_lossy().contains(":memory:") || path.exists() {
        return;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let _ = opts.open(path);
}

/// True when the error is a unique-constraint violation (on either engine).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d.is_unique_violation(),
        _ => false,
    }
}

/// Serialises, until the end of the transaction, the writers that take the
/// same lock `key`. SQLite write transactions are already serial
/// (`BEGIN IMMEDIATE`); PostgreSQL takes a transaction-scoped advisory lock.
pub async fn lock(tx: &mut Tx, key: i64) -> Result<()> {
    if let TxConn::Postgres(t) = &mut tx.conn {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(&mut **t)
            .await?;
    }
    Ok(())
}

/// Stores a closed set of values (a state) as its text key on both engines:
/// bound and read as the type itself, never as a loose `String`. A value the
/// type does not know is a decoding error (the schema's CHECK constraints keep
/// such values out). `$from` reads a key (`fn(&str) -> Option<Self>`), `$key`
/// writes one (`fn(self) -> &'static str`).
#[macro_export]
macro_rules! texte_en_base {
    ($ty:ty, $from:path, $key:path, $what:literal) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $ty
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $ty
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                $from(text).ok_or_else(|| format!(concat!($what, " inconnu en base : « {} »"), text).into())
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $ty
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'q str as sqlx::Encode<'q, DB>>::encode($key(*self), buf)
            }
        }
    };
}

/// Stores a typed identifier (an IBAN, a code INSEE…) as its text on both
/// engines: bound as its canonical text (`$ty::as_str`), read back through
/// the same `$ty::parse` as any input, so a row that no longer passes the rule
/// is a decoding error naming the value, never a loose `String` in the domain.
/// Also gives the type the conversions every identifier has (`FromStr`,
/// `TryFrom<String>` for serde, `From<$ty> for String`, `AsRef<str>`), all
/// through the same `parse`. `$ty` is a newtype over its canonical `String`.
#[macro_export]
macro_rules! identifiant_en_base {
    ($ty:ty, $what:literal) => {
        $crate::texte_lu_en_base!(@sqlx $ty,
            |text: &str| <$ty>::parse(text).map_err(|e| format!(concat!($what, " illisible en base : {}"), e)),
            |v: &$ty| v.as_str().to_owned());

        impl std::str::FromStr for $ty {
            type Err = $crate::error::CoreError;
            fn from_str(s: &str) -> $crate::error::Result<$ty> {
                <$ty>::parse(s)
            }
        }

        /// Read back from JSON (a stored setting) through the same rule.
        impl TryFrom<String> for $ty {
            type Error = $crate::error::CoreError;
            fn try_from(s: String) -> $crate::error::Result<$ty> {
                <$ty>::parse(&s)
            }
        }

        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.0
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
    };
}

/// Stores a value parsed from text (a list, a set) as that same text on both
/// engines: bound as its `Display`, read back through `$parse`
/// (`fn(&str) -> Result<Self>`), so the rule lives in one place and a
/// stored text the rule refuses is a decoding error with the rule's message.
/// The `@sqlx` arm is the one set of sqlx impls, shared with [`identifiant_en_base!`].
#[macro_export]
macro_rules! texte_lu_en_base {
    ($ty:ty, $parse:path) => {
        $crate::texte_lu_en_base!(@sqlx $ty,
            |text: &str| $parse(text).map_err(|e| e.to_string()),
            |v: &$ty| v.to_string());
    };
    (@sqlx $ty:ty, $read:expr, $write:expr) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $ty
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $ty
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                let read: fn(&str) -> Result<$ty, String> = $read;
                read(text).map_err(Into::into)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $ty
        where
            String: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                let write: fn(&$ty) -> String = $write;
                <String as sqlx::Encode<'q, DB>>::encode(write(self), buf)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_written_in_rfc_3339_as_before() {
        // The fraction of a second only when there is one, without trailing zeros.
        assert_eq!(rfc3339_of(1_772_321_400_000_000), "2026-02-28T23:30:00Z");
        assert_eq!(rfc3339_of(1_772_321_400_500_000), "2026-02-28T23:30:00.5Z");
        assert_eq!(rfc3339_of(1_772_321_400_120_000), "2026-02-28T23:30:00.12Z");
        assert_eq!(rfc3339_of(1_772_321_400_000_001), "2026-02-28T23:30:00.000001Z");
        assert_eq!(rfc3339_of(-1), "1969-12-31T23:59:59.999999Z");
        let utc = datetime_of(1_772_321_400_000_000);
        assert_eq!((utc.year(), utc.month(), utc.day(), utc.hour()), (2026, 2, 28, 23));
    }
}
