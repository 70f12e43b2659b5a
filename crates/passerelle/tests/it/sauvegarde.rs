//! `passerelle sauvegarde FICHIER`: a consistent copy of the SQLite base that
//! opens, holds the same data, and whose journal verifies; PostgreSQL is
//! pointed to pg_dump; an existing file is never overwritten by surprise.

use crate::support::{cli, TestApp};

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
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(["journal", "verify"])
        .env("PASSERELLE_DATABASE_URL", &copy_url)
        .env("PASSERELLE_DATA_DIR", &app.data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    let copy = passerelle_core::Core::open(&copy_url, &app.data_dir).await.unwrap();
    let count = |db: &passerelle_core::Db| {
        let db = db.clone();
        async move {
            match db {
                passerelle_core::Db::Sqlite(p) => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM accounts")
                    .fetch_one(&p)
                    .await
                    .unwrap(),
                passerelle_core::Db::Postgres(_) => unreachable!("SQLite only here"),
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
