//! Schema migrations: what is pending (without touching the database), and
//! applying it so that a failure leaves the database as it was.
//!
//! - Every pending migration runs in **one transaction** on both engines (each
//!   migration in a savepoint of it), under the migration lock of PostgreSQL
//!   (`pg_advisory_lock`; on SQLite the transaction's write lock): either all of
//!   them are applied, or none.
//! - On SQLite, a consistent copy of the database (`VACUUM INTO`) is taken first
//!   beside the database file, and the command that puts it back is printed when
//!   a migration fails.
//! - A database migrated by a newer binary (a migration this one does not know),
//!   a migration whose text changed since it was applied, or one left half-done
//!   is refused with a French message, before anything is written.

use std::path::{Path, PathBuf};

use sqlx::migrate::{Migrate, Migrator};

use crate::db::{Db, Pool};
use crate::error::{CoreError, Result};

/// Where the schema of a database stands against the migrations of a binary.
#[derive(Debug, Clone, Default)]
pub struct Etat {
    /// Versions applied, in order.
    pub appliquees: Vec<i64>,
    /// This binary's migrations not applied yet: (version, description).
    pub en_attente: Vec<(i64, String)>,
    /// Applied by a newer binary: unknown to this one.
    pub inconnues: Vec<i64>,
    /// Applied, but their text differs from this binary's.
    pub modifiees: Vec<i64>,
    /// Begun and not finished (`success = false`).
    pub inachevees: Vec<i64>,
}

impl Etat {
    /// Nothing to apply and nothing wrong.
    pub fn a_jour(&self) -> bool {
        self.en_attente.is_empty() && self.probleme().is_none()
    }

    /// Why this binary must not migrate (or serve) this database, if it must not.
    pub fn probleme(&self) -> Option<String> {
        let list = |v: &[i64]| v.iter().map(|n| format!("{n:04}")).collect::<Vec<_>>().join(", ");
        if !self.inconnues.is_empty() {
            return Some(format!(
                "la base a reçu des migrations que ce binaire ne connaît pas ({}) : elle a été migrée par une \
                 version plus récente de Passerelle. Réinstallez cette version, ou restaurez la sauvegarde prise \
                 avant la migration (docs/EXPLOITATION.md, « Revenir en arrière »)",
                list(&self.inconnues)
            ));
        }
        if !self.modifiees.is_empty() {
            return Some(format!(
                "le texte des migrations {} a changé depuis qu'elles ont été appliquées à cette base : \
                 ce binaire ne correspond pas à ce schéma",
                list(&self.modifiees)
            ));
        }
        if !self.inachevees.is_empty() {
            return Some(format!(
                "les migrations {} ont été commencées sans être achevées : restaurez la sauvegarde prise avant",
                list(&self.inachevees)
            ));
        }
        None
    }
}

/// What [`appliquer`] did.
#[derive(Debug, Clone, Default)]
pub struct Rapport {
    /// The migrations applied: (version, description).
    pub appliquees: Vec<(i64, String)>,
    /// The copy of the SQLite database taken before them.
    pub sauvegarde: Option<PathBuf>,
}

/// The migrations of this binary for `backend`.
pub fn migrator(backend: crate::Backend) -> &'static Migrator {
    match backend {
        crate::Backend::Sqlite => &crate::db::SQLITE_MIGRATIONS,
        crate::Backend::Postgres => &crate::db::POSTGRES_MIGRATIONS,
    }
}

/// A database that does not exist yet: every migration of `backend` pending.
pub fn compare_to_nothing(backend: crate::Backend) -> Etat {
    compare(migrator(backend), &[])
}

/// Where the schema stands, read without writing anything (not even the
/// migrations' table of a new database).
pub async fn etat(db: &Db) -> Result<Etat> {
    etat_avec(db, migrator(db.backend())).await
}

/// [`etat`] against the migrations of `migrator`.
pub async fn etat_avec(db: &Db, migrator: &Migrator) -> Result<Etat> {
    let exists: bool = match &db.pool {
        Pool::Sqlite(p) => {
            sqlx::query_scalar(
                "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            )
            .fetch_one(p)
            .await?
        }
        Pool::Postgres(p) => {
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(p)
                .await?
        }
    };
    let rows: Vec<(i64, Vec<u8>, bool)> = if exists {
        let sql = "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version";
        match &db.pool {
            Pool::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await?,
            Pool::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await?,
        }
    } else {
        Vec::new()
    };
    Ok(compare(migrator, &rows))
}

fn compare(migrator: &Migrator, applied: &[(i64, Vec<u8>, bool)]) -> Etat {
    let known: Vec<_> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    let mut etat = Etat::default();
    for (version, checksum, success) in applied {
        if !success {
            etat.inachevees.push(*version);
        }
        match known.iter().find(|m| m.version == *version) {
            None => etat.inconnues.push(*version),
            Some(m) if m.checksum.as_ref() != checksum.as_slice() => etat.modifiees.push(*version),
            Some(_) => etat.appliquees.push(*version),
        }
    }
    etat.en_attente = known
        .iter()
        .filter(|m| !applied.iter().any(|(v, _, _)| *v == m.version))
        .map(|m| (m.version, m.description.to_string()))
        .collect();
    etat
}

/// Applies this binary's pending migrations (see the module's documentation).
pub async fn appliquer(db: &Db) -> Result<Rapport> {
    appliquer_avec(db, migrator(db.backend())).await
}

/// [`appliquer`] with the migrations of `migrator` (tests give a failing one).
pub async fn appliquer_avec(db: &Db, migrator: &Migrator) -> Result<Rapport> {
    match &db.pool {
        Pool::Sqlite(p) => {
            let mut conn = p.acquire().await?;
            appliquer_sur::<sqlx::Sqlite>(&mut conn, db, migrator).await
        }
        Pool::Postgres(p) => {
            let mut conn = p.acquire().await?;
            conn.lock().await.map_err(migrate_error)?;
            let result = appliquer_sur::<sqlx::Postgres>(&mut conn, db, migrator).await;
            // The lock is the connection's: a failed unlock ends with the connection.
            let _ = conn.unlock().await;
            result
        }
    }
}

async fn appliquer_sur<DB: sqlx::Database>(conn: &mut DB::Connection, db: &Db, migrator: &Migrator) -> Result<Rapport>
where
    DB::Connection: Migrate,
{
    // Read again under the lock: another instance may have migrated meanwhile.
    let etat = etat_avec(db, migrator).await?;
    if let Some(p) = etat.probleme() {
        return Err(CoreError::Config(p));
    }
    if etat.en_attente.is_empty() {
        return Ok(Rapport::default());
    }
    // A database that already holds a schema is copied first (SQLite).
    let sauvegarde = match (&db.pool, etat.appliquees.last()) {
        (Pool::Sqlite(_), Some(last)) => Some(copie_sqlite(db, *last).await?),
        _ => None,
    };
    conn.ensure_migrations_table().await.map_err(migrate_error)?;
    let pending: Vec<_> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration() && etat.en_attente.iter().any(|(v, _)| *v == m.version))
        .collect();
    let mut tx = sqlx::Connection::begin(conn).await?;
    for m in &pending {
        // `apply` opens a savepoint of this transaction for each migration.
        if let Err(e) = tx.apply(m).await {
            let _ = tx.rollback().await;
            return Err(failed(m.version, &m.description, &e.to_string(), sauvegarde.as_deref(), db).await);
        }
    }
    tx.commit().await?;
    Ok(Rapport {
        appliquees: etat.en_attente,
        sauvegarde,
    })
}

async fn failed(version: i64, description: &str, error: &str, copy: Option<&Path>, db: &Db) -> CoreError {
    let mut msg = format!(
        "la migration {version:04} ({description}) a échoué : {error}. Aucune migration n'a été appliquée : \
         la base est restée telle qu'elle était"
    );
    if let (Some(copy), Ok(file)) = (copy, fichier_sqlite(db).await) {
        msg.push_str(&format!(
            ". Copie prise avant la tentative : {}. Pour la remettre en place si besoin (service arrêté) :\n  {}",
            copy.display(),
            commande_de_restauration(copy, &file)
        ));
    }
    CoreError::Config(msg)
}

/// The shell command that puts `copy` back in place of the database `file` (WAL files removed).
pub fn commande_de_restauration(copy: &Path, file: &Path) -> String {
    let q = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let side = |suffix: &str| {
        let mut s = file.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    format!(
        "cp {} {} && rm -f {} {}",
        q(copy),
        q(file),
        q(&side("-wal")),
        q(&side("-shm"))
    )
}

/// The file of the main SQLite database.
async fn fichier_sqlite(db: &Db) -> Result<PathBuf> {
    let Pool::Sqlite(p) = &db.pool else {
        return Err(CoreError::Config("pas une base SQLite".into()));
    };
    let file: String = sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
        .fetch_one(p)
        .await?;
    if file.is_empty() {
        return Err(CoreError::Config(
            "base SQLite en mémoire : pas de copie possible".into(),
        ));
    }
    Ok(PathBuf::from(file))
}

/// A consistent copy of the SQLite database beside it, named after the last
/// migration applied and the time: `passerelle.db.avant-migration-0032-20261207T183000`.
async fn copie_sqlite(db: &Db, last: i64) -> Result<PathBuf> {
    let file = fichier_sqlite(db).await?;
    let stamp = jiff::Timestamp::from_microsecond(db.now_micros())
        .map(|t| t.strftime("%Y%m%dT%H%M%S").to_string())
        .unwrap_or_default();
    // A second attempt within the same second gets its own copy (…-2, …-3).
    let named = |n: u32| {
        let mut name = file.as_os_str().to_owned();
        name.push(format!(".avant-migration-{last:04}-{stamp}"));
        if n > 1 {
            name.push(format!("-{n}"));
        }
        PathBuf::from(name)
    };
    let Some(copy) = (1..100).map(named).find(|p| !p.exists()) else {
        return Err(CoreError::Config(format!(
            "trop de copies d'avant migration à côté de « {} » : déplacez-les, puis relancez",
            file.display()
        )));
    };
    let Pool::Sqlite(p) = &db.pool else {
        return Err(CoreError::Config("pas une base SQLite".into()));
    };
    sqlx::query("VACUUM INTO ?")
        .bind(copy.display().to_string())
        .execute(p)
        .await
        .map_err(|e| {
            CoreError::Config(format!(
                "copie de la base avant migration impossible ({}) : {e} ; aucune migration n'a été appliquée",
                copy.display()
            ))
        })?;
    tracing::info!(copie = %copy.display(), "base SQLite copiée avant migration");
    Ok(copy)
}

fn migrate_error(e: sqlx::migrate::MigrateError) -> CoreError {
    CoreError::Config(format!("migrations : {e}"))
}
