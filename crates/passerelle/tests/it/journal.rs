//! The journal: verification through the command line, tampering pinpointed,
//! UPDATE/DELETE refused by the database itself.

use passerelle_core::journal::{self, Actor, NewEntry, VerifyReport};
use passerelle_core::Backend;
use serde_json::json;

use crate::support::{cli, TestApp};

pub(crate) async fn fill(app: &TestApp, n: usize) {
    for i in 0..n {
        let mut tx = app.core.db.begin().await.unwrap();
        journal::append(
            &mut tx,
            &app.core.keys,
            NewEntry::new(
                Actor::Account {
                    id: 1,
                    role: "operateur".into(),
                },
                "test.action",
            )
            .subject("essai", i)
            .details(json!({ "n": i, "b": "deux", "a": [1, 2] })),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

/// Drops the append-only protection, as an attacker with full database access would.
pub(crate) async fn drop_protection(app: &TestApp) {
    let sql = match app.backend() {
        Backend::Sqlite => "DROP TRIGGER IF EXISTS journal_no_update; DROP TRIGGER IF EXISTS journal_no_delete; \
                            DROP TRIGGER IF EXISTS journal_checkpoints_no_update; DROP TRIGGER IF EXISTS journal_checkpoints_no_delete;",
        Backend::Postgres => "DROP TRIGGER IF EXISTS journal_append_only ON journal; DROP TRIGGER IF EXISTS journal_checkpoints_append_only ON journal_checkpoints;",
    };
    app.exec(sql).await.unwrap();
}

pub(crate) fn verify_cli(app: &TestApp) -> (i32, String) {
    let out = cli(app, &["journal", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty() || !stderr.contains("panicked"), "{stderr}");
    (out.status.code().unwrap_or(-1), stdout)
}

#[tokio::test]
async fn verify_passes_on_an_intact_chain_and_counts_entries() {
    let app = TestApp::new().await;
    fill(&app, 25).await;
    let (code, out) = verify_cli(&app);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Journal intact : 25 entrées vérifiées"), "{out}");
    // JSON for scripts.
    let out = cli(&app, &["journal", "verify", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intact"], true);
    assert_eq!(v["entrees"], 25);
}

#[tokio::test]
async fn the_database_refuses_update_and_delete_on_the_journal() {
    let app = TestApp::new().await;
    fill(&app, 3).await;
    journal::checkpoint_head(&app.core.db, &app.core.keys).await.unwrap();
    for sql in [
        "UPDATE journal SET details = '{}' WHERE seq = 2",
        "DELETE FROM journal WHERE seq = 3",
        "DELETE FROM journal",
        "UPDATE journal_checkpoints SET at = 0",
        "DELETE FROM journal_checkpoints",
    ] {
        let err = app.exec(sql).await.expect_err(sql);
        assert!(err.to_string().contains("ajout seul"), "{sql}: {err}");
    }
    if app.backend() == Backend::Postgres {
        let err = app.exec("TRUNCATE journal").await.expect_err("TRUNCATE");
        assert!(err.to_string().contains("ajout seul"), "{err}");
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM journal").await, 4);
    assert_eq!(verify_cli(&app).0, 0);
}

#[tokio::test]
async fn a_modified_entry_is_pinpointed() {
    let app = TestApp::new().await;
    fill(&app, 10).await;
    drop_protection(&app).await;
    app.exec("UPDATE journal SET details = '{\"n\":999}' WHERE seq = 7")
        .await
        .unwrap();
    let (code, out) = verify_cli(&app);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("première entrée fautive n° 7"), "{out}");
    assert!(out.contains("modifié"), "{out}");
}

#[tokio::test]
async fn a_modified_actor_or_time_is_pinpointed_too() {
    let app = TestApp::new().await;
    fill(&app, 5).await;
    drop_protection(&app).await;
    app.exec("UPDATE journal SET actor_account = 2 WHERE seq = 4")
        .await
        .unwrap();
    app.exec("UPDATE journal SET at = at + 1 WHERE seq = 2").await.unwrap();
    let (code, out) = verify_cli(&app);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("première entrée fautive n° 2"), "{out}");
}

#[tokio::test]
async fn a_removed_automatic_checkpoint_is_caught() {
    let app = TestApp::new().await;
    fill(&app, journal::CHECKPOINT_EVERY as usize + 3).await;
    assert_eq!(verify_cli(&app).0, 0);
    drop_protection(&app).await;
    app.exec("DELETE FROM journal_checkpoints").await.unwrap();
    let (code, out) = verify_cli(&app);
    assert_eq!(code, 1, "{out}");
    // No signed hash is left: the entries before it are no longer guaranteed either.
    assert!(
        out.contains("première entrée fautive n° 1 au plus tôt")
            && out.contains("entrée n° 1000")
            && out.contains("disparu"),
        "{out}"
    );
}

/// Rewrites entry `target` and re-hashes every later entry, as a database
/// administrator without the signing key could, and removes the checkpoints.
async fn rewrite_chain(app: &TestApp, target: i64) {
    crate::journal_points::rewrite_from(app, target, Some("seq > 0")).await;
}

pub(crate) fn blob(app: &TestApp, b: &[u8]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    match app.backend() {
        Backend::Sqlite => format!("X'{hex}'"),
        Backend::Postgres => format!("'\\x{hex}'::bytea"),
    }
}

#[tokio::test]
async fn a_rewritten_chain_is_caught_by_exported_checkpoints() {
    let app = TestApp::new().await;
    fill(&app, 20).await;
    assert_eq!(
        journal::checkpoint_head(&app.core.db, &app.core.keys).await.unwrap(),
        Some(21)
    );
    let exported = app.data_dir.parent().unwrap().join("points.json");
    let out = cli(
        &app,
        &["journal", "export-checkpoints", "-o", exported.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The export holds the one checkpoint signed above, not an empty list that would pin nothing.
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    let points = doc["points"].as_array().unwrap();
    assert_eq!(points.len(), 1, "{doc}");
    assert_eq!(
        (points[0]["seq"].as_i64(), points[0]["numero"].as_i64()),
        (Some(21), Some(1)),
        "{doc}"
    );
    drop_protection(&app).await;
    rewrite_chain(&app, 10).await;
    // The rewritten chain is consistent and its checkpoints are gone, but entry 21 still
    // records a checkpoint that is no longer there.
    let (code, out) = verify_cli(&app);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("n° 21") && out.contains("disparu"), "{out}");
    // The checkpoints kept outside the database pin its head: the rewrite is
    // somewhere in 1..=21 (the hashes of those entries were deleted with their checkpoint).
    let out = cli(
        &app,
        &[
            "journal",
            "verify",
            "--checkpoints",
            exported.to_str().unwrap(),
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(v["intact"], false);
    assert_eq!(v["premiere_entree_fautive"], 1);
    assert_eq!(v["exacte"], false);
    assert_eq!(v["au_plus_tard"], 21);
    assert!(v["raison"].as_str().unwrap().contains("réécrite"), "{v}");
}

#[tokio::test]
async fn details_are_stored_in_canonical_json() {
    // The hash covers the stored text, and an outside verifier re-reads it: keys sorted, no
    // spaces, whatever order the caller built the object in.
    let app = TestApp::new().await;
    fill(&app, 2).await;
    assert_eq!(
        app.scalar_text("SELECT details FROM journal WHERE seq = 2").await,
        r#"{"a":[1,2],"b":"deux","n":1}"#
    );
    assert_eq!(
        app.scalar_text("SELECT subjects FROM journal WHERE seq = 2").await,
        r#"["essai:1"]"#
    );
}

#[tokio::test]
async fn a_deleted_entry_is_pinpointed() {
    let app = TestApp::new().await;
    fill(&app, 10).await;
    drop_protection(&app).await;
    app.exec("DELETE FROM journal WHERE seq = 4").await.unwrap();
    let (code, out) = verify_cli(&app);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("première entrée fautive n° 4"), "{out}");
}

#[tokio::test]
async fn reordered_entries_are_pinpointed() {
    let app = TestApp::new().await;
    fill(&app, 10).await;
    drop_protection(&app).await;
    app.exec("UPDATE journal SET seq = -1 WHERE seq = 5; UPDATE journal SET seq = 5 WHERE seq = 6; UPDATE journal SET seq = 6 WHERE seq = -1;")
        .await
        .unwrap();
    let (code, out) = verify_cli(&app);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("première entrée fautive n° 5"), "{out}");
}

#[tokio::test]
async fn a_rewritten_chain_or_truncated_end_is_caught_by_signed_checkpoints() {
    let app = TestApp::new().await;
    fill(&app, 8).await;
    let cp = journal::checkpoint_head(&app.core.db, &app.core.keys).await.unwrap();
    assert_eq!(
        cp,
        Some(9),
        "the checkpoint is itself journaled and signs its own entry"
    );
    fill(&app, 3).await;
    drop_protection(&app).await;
    // Remove the last five entries (including the checkpointed one): the chain
    // that remains is internally consistent, but the checkpoint says it was longer.
    app.exec("DELETE FROM journal WHERE seq >= 7").await.unwrap();
    let (code, out) = verify_cli(&app);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("première entrée fautive n° 7"), "{out}");
    assert!(out.contains("point de contrôle"), "{out}");

    // Verification with the core API reports the same.
    let r = journal::verify(&app.core.db, app.core.keys.journal_verifying(), Vec::new(), |_| {})
        .await
        .unwrap();
    assert!(matches!(r, VerifyReport::Broken(b) if b.seq == 7));
}

#[tokio::test]
async fn automatic_checkpoints_every_thousand_entries() {
    let app = TestApp::new().await;
    fill(&app, journal::CHECKPOINT_EVERY as usize + 5).await;
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM journal_checkpoints").await, 1);
    let out = cli(&app, &["journal", "verify", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["entrees"], 1005);
    assert_eq!(v["points_de_controle"], 1);
}

#[tokio::test]
async fn concurrent_appends_keep_one_chain() {
    let app = TestApp::new().await;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let core = app.core.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let mut tx = core.db.begin().await.unwrap();
                journal::append(
                    &mut tx,
                    &core.keys,
                    NewEntry::new(Actor::System, "test.concurrence").details(json!({ "t": t, "i": i })),
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (code, out) = verify_cli(&app);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("80 entrées"), "{out}");
}

#[tokio::test]
async fn verify_without_the_key_is_an_error_not_a_verdict() {
    let app = TestApp::new().await;
    fill(&app, 2).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(["journal", "verify", "--data-dir", "/nonexistent/dossier"])
        .env("PASSERELLE_DATABASE_URL", &app.db_url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("clé du journal introuvable"));
}

#[tokio::test]
async fn the_database_refuses_entries_out_of_sequence_or_replaced() {
    let app = TestApp::new().await;
    fill(&app, 3).await;
    journal::checkpoint_head(&app.core.db, &app.core.keys).await.unwrap();
    let copy = "SELECT 2, at, actor_account, actor_role, action, '{\"forge\":1}', details, prev_hash, hash FROM journal WHERE seq = 2";
    let mut attempts = vec![
        format!("INSERT INTO journal (seq, at, actor_account, actor_role, action, subjects, details, prev_hash, hash) {copy}"),
        "INSERT INTO journal (seq, at, actor_account, actor_role, action, subjects, details, prev_hash, hash) \
         SELECT 9, at, actor_account, actor_role, action, subjects, details, hash, hash FROM journal WHERE seq = 4"
            .to_string(),
        // Right number, wrong link.
        "INSERT INTO journal (seq, at, actor_account, actor_role, action, subjects, details, prev_hash, hash) \
         SELECT 5, at, actor_account, actor_role, action, subjects, details, prev_hash, hash FROM journal WHERE seq = 4"
            .to_string(),
    ];
    if app.backend() == Backend::Sqlite {
        // REPLACE deletes the old row without firing DELETE triggers: it must be refused too.
        attempts.push(format!(
            "INSERT OR REPLACE INTO journal (seq, at, actor_account, actor_role, action, subjects, details, prev_hash, hash) {copy}"
        ));
        attempts.push(
            "INSERT OR REPLACE INTO journal_checkpoints (seq, head_hash, at, key_id, signature) \
             SELECT seq, head_hash, 0, key_id, signature FROM journal_checkpoints"
                .to_string(),
        );
    }
    for sql in &attempts {
        let err = app.exec(sql).await.expect_err(sql);
        assert!(err.to_string().contains("ajout seul"), "{sql}: {err}");
    }
    assert_eq!(verify_cli(&app).0, 0);
}

#[tokio::test]
async fn a_database_refuses_keys_that_are_not_its_own() {
    let app = TestApp::new().await;
    fill(&app, 2).await;
    let other = app.data_dir.parent().unwrap().join("autres-cles");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(["migrate", "--data-dir", other.to_str().unwrap()])
        .env("PASSERELLE_DATABASE_URL", &app.db_url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("introuvable dans le dossier de données"), "{err}");
    assert!(!other.join("journal-ed25519.pem").exists(), "no new key created");
}
