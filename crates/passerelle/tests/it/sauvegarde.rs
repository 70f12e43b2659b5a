//! `passerelle sauvegarde FICHIER`: a consistent copy of the SQLite base that
//! opens, holds the same data, and whose journal verifies against the
//! checkpoints published before the backup; PostgreSQL is pointed to pg_dump,
//! and a `pg_dump`/`pg_restore` round trip is tested the same way; an existing
//! file is never overwritten by surprise.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{cli, create_pg_database, TestApp};

/// `passerelle ARGS` on the base at `url`, with the data directory of `app`.
fn cli_on(app: &TestApp, url: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(args)
        .env("PASSERELLE_DATABASE_URL", url)
        .env("PASSERELLE_DATA_DIR", &app.data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} : {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Signs the journal's head and exports the checkpoints, as an operator
/// publishes them before a backup; returns the exported file.
fn publish_checkpoints(app: &TestApp, dir: &Path) -> PathBuf {
    assert_ok(&cli(app, &["journal", "checkpoint"]), "journal checkpoint");
    let file = dir.join("points-de-controle.json");
    assert_ok(
        &cli(app, &["journal", "export-checkpoints", "-o", file.to_str().unwrap()]),
        "journal export-checkpoints",
    );
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_a_whole_base_whose_journal_verifies() {
    let app = TestApp::new().await;
    app.account("lieu", "lieu", "l@exemple.fr", false).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("copie.db");
    let dest_s = dest.to_str().unwrap();
    let out = cli(&app, &["sauvegarde", dest_s]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    if app.db_url.starts_with("postgres") {
        assert!(!out.status.success());
        assert!(stderr.contains("pg_dump"), "{stderr}");
        assert!(!dest.exists());
        return;
    }
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("Sauvegarde écrite"), "{stdout}");
    assert!(!dir.path().join("copie.db.en-cours").exists(), "no partial file left");
    // The copy is the base: same accounts, and its journal verifies with the data directory's keys.
    let copy_url = format!("sqlite:{dest_s}?mode=rw");
    assert_ok(
        &cli_on(&app, &copy_url, &["journal", "verify"]),
        "journal verify de la copie",
    );
    let copy = passerelle_core::Core::open(&copy_url, &app.data_dir).await.unwrap();
    let count = |db: &passerelle_core::Db| {
        let db = db.clone();
        async move {
            match &db.pool {
                passerelle_core::Pool::Sqlite(p) => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM accounts")
                    .fetch_one(p)
                    .await
                    .unwrap(),
                passerelle_core::Pool::Postgres(_) => unreachable!("SQLite only here"),
            }
        }
    };
    assert_eq!(count(&copy.db).await, count(&app.core.db).await);
    assert_eq!(count(&copy.db).await, 1);
    // The backup itself is in the journal of the base (not of the copy).
    assert!(app.journal_actions().await.contains(&"base.sauvegarde".to_string()));

    // An existing file is kept unless --ecraser.
    let again = cli(&app, &["sauvegarde", dest_s]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("existe déjà"));
    let again = cli(&app, &["sauvegarde", dest_s, "--ecraser"]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
}

/// Restoring a SQLite backup is putting the file back: the restored base
/// verifies against the checkpoints published before the backup, passes the
/// money rules, and goes on (new entries chain onto the restored head).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_sqlite_backup_verifies_against_the_published_checkpoints() {
    let app = TestApp::new().await;
    if app.db_url.starts_with("postgres") {
        return; // PostgreSQL: see the pg_dump test below.
    }
    app.load_demo().await;
    let dir = tempfile::tempdir().unwrap();
    let published = publish_checkpoints(&app, dir.path());
    let backup = dir.path().join("sauvegarde.db");
    assert_ok(&cli(&app, &["sauvegarde", backup.to_str().unwrap()]), "sauvegarde");

    // The disaster: the base is lost; the backup is copied in its place.
    let restored = dir.path().join("restauree.db");
    std::fs::copy(&backup, &restored).unwrap();
    let url = format!("sqlite:{}?mode=rw", restored.display());
    let published = published.to_str().unwrap();
    assert_ok(
        &cli_on(&app, &url, &["journal", "verify", "--checkpoints", published]),
        "journal verify --checkpoints après restauration",
    );
    assert_ok(&cli_on(&app, &url, &["controle"]), "controle après restauration");
    assert_ok(
        &cli_on(&app, &url, &["journal", "checkpoint"]),
        "nouveau point de contrôle",
    );
    assert_ok(
        &cli_on(&app, &url, &["journal", "verify", "--checkpoints", published]),
        "journal verify après reprise",
    );
}

/// The newest PostgreSQL client tools installed (pg_dump, pg_restore).
fn pg_tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| d.join(name).is_file())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop().map(|d| d.join(name))
}

/// PostgreSQL: `pg_dump --format=custom` of a live base, `pg_restore` into a new
/// database, then the restored base verifies against the checkpoints published
/// before the dump, passes `controle`, holds the same rows, and goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_dump_restored_with_pg_restore_verifies_against_the_published_checkpoints() {
    let app = TestApp::new().await;
    let Ok(server) = std::env::var("PASSERELLE_TEST_DATABASE_URL") else {
        return; // SQLite: see the test above.
    };
    if server.is_empty() {
        return;
    }
    let (Some(pg_dump), Some(pg_restore)) = (pg_tool("pg_dump"), pg_tool("pg_restore")) else {
        panic!("pg_dump et pg_restore sont introuvables sous /usr/lib/postgresql : paquet postgresql-client requis");
    };
    app.load_demo().await;
    let dir = tempfile::tempdir().unwrap();
    let published = publish_checkpoints(&app, dir.path());
    let dump = dir.path().join("passerelle.dump");

    let out = std::process::Command::new(&pg_dump)
        .args(["--format=custom", "--no-owner", "--file"])
        .arg(&dump)
        .arg(&app.db_url)
        .output()
        .unwrap();
    assert_ok(&out, "pg_dump");
    let restored_url = create_pg_database(&server).await;
    let out = std::process::Command::new(&pg_restore)
        .args(["--no-owner", "--exit-on-error", "--dbname"])
        .arg(&restored_url)
        .arg(&dump)
        .output()
        .unwrap();
    assert_ok(&out, "pg_restore");

    let published = published.to_str().unwrap();
    assert_ok(
        &cli_on(&app, &restored_url, &["journal", "verify", "--checkpoints", published]),
        "journal verify --checkpoints après pg_restore",
    );
    assert_ok(&cli_on(&app, &restored_url, &["controle"]), "controle après pg_restore");
    let restored = passerelle_core::Core::open(&restored_url, &app.data_dir).await.unwrap();
    for table in [
        "accounts",
        "cheques",
        "encaissements",
        "journal",
        "journal_checkpoints",
        "lieux",
        "mandats",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let count = |db: passerelle_core::Db| {
            let sql = sql.clone();
            async move {
                match &db.pool {
                    passerelle_core::Pool::Postgres(p) => {
                        sqlx::query_scalar::<_, i64>(&sql).fetch_one(p).await.unwrap()
                    }
                    passerelle_core::Pool::Sqlite(_) => unreachable!("PostgreSQL only here"),
                }
            }
        };
        assert_eq!(
            count(restored.db.clone()).await,
            count(app.core.db.clone()).await,
            "{table} : lignes perdues à la restauration"
        );
    }
    // The restored base goes on: its sequences were restored too (a new account
    // gets a fresh id), and the journal still verifies with a new checkpoint.
    use passerelle_core::accounts::Principal;
    use passerelle_core::accounts::{self, NewAccount};
    let org = accounts::create_organisation(&restored, &Principal::SYSTEME, "lieu", "Lieu après restauration", None)
        .await
        .unwrap();
    accounts::create_account(
        &restored,
        &Principal::SYSTEME,
        NewAccount {
            organisation_id: org.id,
            email: "apres-restauration@exemple.fr",
            display_name: "Après restauration",
            role: Some("lieu"),
            password: Some(crate::support::PASSWORD),
            with_totp: false,
        },
    )
    .await
    .unwrap();
    restored.db.close().await;
    assert_ok(
        &cli_on(&app, &restored_url, &["journal", "checkpoint"]),
        "nouveau point de contrôle",
    );
    assert_ok(
        &cli_on(&app, &restored_url, &["journal", "verify", "--checkpoints", published]),
        "journal verify après reprise",
    );
}
