//! Migrations: `migrate --verifier` reads without writing, a failing migration
//! leaves the database as it was (all pending migrations in one transaction;
//! on SQLite a copy first, with the command that puts it back), and a database
//! migrated by a newer binary is refused.

use std::path::{Path, PathBuf};

use passerelle_core::db::Db;
use passerelle_core::migrations;
use passerelle_core::{Backend, Pool};
use sqlx::migrate::Migrator;

use crate::support::cli_at;

/// A fresh, empty database of the engine under test: (URL, folder kept alive).
async fn fresh_url() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dossier temporaire");
    let url = match std::env::var("PASSERELLE_TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => crate::support::create_pg_database(&server).await,
        _ => format!("sqlite:{}/passerelle.db?mode=rwc", dir.path().display()),
    };
    (url, dir)
}

/// The repository's migrations of `backend`, keeping those `keep` accepts, plus `extra` (name, SQL).
async fn migrator(backend: Backend, dir: &Path, keep: impl Fn(&str) -> bool, extra: &[(&str, &str)]) -> Migrator {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/migrations")
        .join(crate::support::engine_name(backend));
    std::fs::create_dir_all(dir).unwrap();
    for e in std::fs::read_dir(&source).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if keep(&name) {
            std::fs::copy(e.path(), dir.join(&name)).unwrap();
        }
    }
    for (name, sql) in extra {
        std::fs::write(dir.join(name), sql).unwrap();
    }
    Migrator::new(dir.to_path_buf()).await.expect("migrations du dossier")
}

/// The repository's last two migrations (SQLite's names; PostgreSQL has the
/// same): file names, in order, e.g. `0032_communes_historiques.sql`.
fn last_two() -> (String, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/migrations/sqlite");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    let last = names.pop().unwrap();
    (names.pop().unwrap(), last)
}

async fn scalar(db: &Db, sql: &str) -> i64 {
    match &db.pool {
        Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

async fn exec(db: &Db, sql: &str) {
    match &db.pool {
        Pool::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
        Pool::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
    }
    .expect(sql);
}

async fn table_exists(db: &Db, table: &str) -> bool {
    let sql = match db.backend() {
        Backend::Sqlite => format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"),
        Backend::Postgres => format!("SELECT COUNT(*) FROM pg_tables WHERE tablename = '{table}'"),
    };
    scalar(db, &sql).await > 0
}

#[tokio::test]
async fn a_failing_migration_leaves_the_database_as_it_was() {
    let (url, tmp) = fresh_url().await;
    let db = Db::connect(&url).await.unwrap();
    let backend = db.backend();
    let applied = db.migrate().await.expect("migrations du binaire");
    assert!(applied.appliquees.len() > 30, "{applied:?}");
    assert!(applied.sauvegarde.is_none(), "une base neuve n'est pas copiée");
    let versions = scalar(&db, "SELECT COUNT(*) FROM _sqlx_migrations").await;
    exec(
        &db,
        "INSERT INTO organisations (kind, name, created_at, updated_at) VALUES ('operateur', 'Opérateur', 0, 0)",
    )
    .await;
    let orgs_before = scalar(&db, "SELECT COUNT(*) FROM organisations").await;

    // Two new migrations: the first would work, the second fails. Neither may stay.
    let m = migrator(
        backend,
        &tmp.path().join("migrations"),
        |_| true,
        &[
            (
                "0900_essai.sql",
                "CREATE TABLE essai_migration (x INTEGER); INSERT INTO organisations (kind, name, created_at, updated_at) SELECT kind, name || ' bis', created_at, updated_at FROM organisations;",
            ),
            ("0901_casse.sql", "INSERT INTO table_qui_n_existe_pas VALUES (1);"),
        ],
    )
    .await;
    assert_eq!(migrations::etat_avec(&db, &m).await.unwrap().en_attente.len(), 2);
    let err = migrations::appliquer_avec(&db, &m)
        .await
        .expect_err("la migration 0901 échoue")
        .to_string();
    assert!(
        err.contains("0901") && err.contains("Aucune migration n'a été appliquée"),
        "{err}"
    );
    assert!(!table_exists(&db, "essai_migration").await, "0900 défaite avec 0901");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM _sqlx_migrations").await, versions);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM organisations").await, orgs_before);
    let etat = migrations::etat_avec(&db, &m).await.unwrap();
    assert_eq!(
        etat.en_attente.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        vec![900, 901]
    );

    if backend == Backend::Sqlite {
        // The copy taken before, and the command that puts it back.
        let copy = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.to_string_lossy()
                    .contains(&format!("passerelle.db.avant-migration-{}-", &last_two().1[..4]))
            })
            .expect("copie d'avant migration");
        assert!(err.contains(&format!("cp '{}'", copy.display())), "{err}");
        assert!(err.contains("-wal'"), "{err}");
        let copy_db = Db::connect(&format!("sqlite:{}", copy.display())).await.unwrap();
        assert_eq!(
            scalar(&copy_db, "SELECT COUNT(*) FROM _sqlx_migrations").await,
            versions
        );
        copy_db.close().await;
    }

    // Without the failing one, the good migration applies.
    std::fs::remove_file(tmp.path().join("migrations/0901_casse.sql")).unwrap();
    let m = Migrator::new(tmp.path().join("migrations")).await.unwrap();
    let done = migrations::appliquer_avec(&db, &m).await.expect("0900 seule");
    assert_eq!(done.appliquees.len(), 1);
    assert!(table_exists(&db, "essai_migration").await);

    // This binary now meets a database migrated by a "newer" one (0900 unknown to it).
    let err = db.migrate().await.expect_err("base plus récente").to_string();
    assert!(err.contains("0900") && err.contains("version plus récente"), "{err}");
    db.close().await;
}

#[tokio::test]
async fn verifier_lists_pending_migrations_and_writes_nothing() {
    let (url, tmp) = fresh_url().await;
    let data = tmp.path().join("data");
    let (code, out) = cli_at(&url, &data, &["migrate", "--verifier"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("en attente (rien n'a été appliqué)") && out.contains("0001 foundation"),
        "{out}"
    );
    let db_file = tmp.path().join("passerelle.db");
    let backend = Backend::from_url(&url).unwrap();
    if backend == Backend::Sqlite {
        assert!(!db_file.exists(), "--verifier ne crée pas la base");
    } else {
        let db = Db::connect(&url).await.unwrap();
        assert!(!table_exists(&db, "_sqlx_migrations").await, "--verifier n'écrit rien");
        db.close().await;
    }
    assert!(!data.exists(), "--verifier ne crée pas le dossier de données");

    let (code, out) = cli_at(&url, &data, &["migrate"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("migrations appliquées") && out.contains("en une transaction"),
        "{out}"
    );
    let (code, out) = cli_at(&url, &data, &["migrate", "--verifier", "--json"]);
    assert_eq!(code, Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["a_jour"], true);
    assert_eq!(v["en_attente"].as_array().map(Vec::len), Some(0));
    let (code, out) = cli_at(&url, &data, &["migrate"]);
    assert_eq!((code, out.contains("déjà à jour")), (Some(0), true), "{out}");

    // A migration applied by a newer binary: refused, by --verifier and by migrate.
    let db = Db::connect(&url).await.unwrap();
    let insert = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                  VALUES (9999, 'future', TRUE, X'00', 0)";
    let insert = match backend {
        Backend::Sqlite => insert.to_string(),
        Backend::Postgres => insert.replace("X'00'", "'\\x00'::bytea"),
    };
    exec(&db, &insert).await;
    db.close().await;
    for args in [&["migrate", "--verifier"][..], &["migrate"][..], &["controle"][..]] {
        let (code, out) = cli_at(&url, &data, args);
        assert_eq!(code, Some(2), "{args:?} {out}");
        assert!(
            out.contains("9999") && out.contains("version plus récente"),
            "{args:?} {out}"
        );
    }
}

/// An upgrade of a SQLite database through the command line: the copy is taken
/// and named, and only the pending migration runs.
#[tokio::test]
async fn an_upgrade_on_sqlite_copies_the_database_first() {
    if std::env::var("PASSERELLE_TEST_DATABASE_URL").is_ok_and(|s| !s.is_empty()) {
        return; // SQLite only: PostgreSQL keeps its copy with pg_dump (docs/EXPLOITATION.md).
    }
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}/passerelle.db?mode=rwc", tmp.path().display());
    let db = Db::connect(&url).await.unwrap();
    // The schema as the version before the last migration left it.
    let (before, last) = last_two();
    let older = migrator(Backend::Sqlite, &tmp.path().join("anciennes"), |n| n != last, &[]).await;
    migrations::appliquer_avec(&db, &older).await.unwrap();
    db.close().await;
    let data: PathBuf = tmp.path().join("data");
    let (code, out) = cli_at(&url, &data, &["migrate", "--verifier"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("1 en attente")
            && out.contains(&format!(
                "{} {}",
                &last[..4],
                last[5..].trim_end_matches(".sql").replace('_', " ")
            )),
        "{out}"
    );
    let (code, out) = cli_at(&url, &data, &["migrate"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Copie de la base avant migration :")
            && out.contains(&format!("avant-migration-{}-", &before[..4])),
        "{out}"
    );
    assert!(out.contains("1 migration appliquée"), "{out}");
}
