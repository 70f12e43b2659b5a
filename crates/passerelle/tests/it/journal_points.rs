//! Issue 18, finding 2: checkpoints numbered and chained. An attacker with the
//! database (triggers dropped) but without the key deletes, reorders
//! checkpoints and rewrites entries with recomputed hashes: `journal verify`
//! catches it and names the first rewritten entry, or the earliest one that
//! can be (the one after the last entry a signed hash still proves).

use passerelle_core::journal;
use passerelle_core::Backend;
use serde_json::Value;

use crate::journal::{blob, drop_protection, fill, verify_cli};
use crate::support::{cli, TestApp};

pub(crate) fn verify_json(app: &TestApp, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["journal", "verify", "--json"];
    args.extend_from_slice(extra);
    let out = cli(app, &args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), v)
}

pub(crate) async fn checkpoint(app: &TestApp) -> i64 {
    journal::checkpoint_head(&app.core.db, &app.core.keys)
        .await
        .unwrap()
        .unwrap()
}

/// Rewrites entry `target` and re-hashes every later one (no key needed), as a
/// database administrator could; `delete_checkpoints` is a WHERE clause.
pub(crate) async fn rewrite_from(app: &TestApp, target: i64, delete_checkpoints: Option<&str>) {
    let mut entries = journal::entries(
        &app.core.db,
        &passerelle_core::accounts::Principal::SYSTEME,
        None,
        i64::MAX,
    )
    .await
    .unwrap();
    entries.reverse();
    let mut buf = Vec::new();
    let mut prev = journal::genesis().to_vec();
    for e in entries.iter_mut() {
        if e.seq == target {
            e.details = "{\"reecrit\":true}".into();
        }
        if e.seq >= target {
            e.prev_hash = prev.clone();
            e.hash = journal::stored_hash(e, &mut buf).to_vec();
        }
        prev = e.hash.clone();
    }
    drop_protection(app).await;
    let drop_insert = match app.backend() {
        Backend::Sqlite => "DROP TRIGGER IF EXISTS journal_insert_in_order",
        Backend::Postgres => "DROP TRIGGER IF EXISTS journal_insert_in_order ON journal",
    };
    app.exec(drop_insert).await.unwrap();
    if let Some(w) = delete_checkpoints {
        app.exec(&format!("DELETE FROM journal_checkpoints WHERE {w}"))
            .await
            .unwrap();
    }
    app.exec(&format!("DELETE FROM journal WHERE seq >= {target}"))
        .await
        .unwrap();
    for e in entries.iter().filter(|e| e.seq >= target) {
        let sql = format!(
            "INSERT INTO journal (seq, at, actor_account, actor_role, action, subjects, details, prev_hash, hash) \
             VALUES ({}, {}, {}, '{}', '{}', '{}', '{}', {}, {})",
            e.seq,
            e.at,
            e.actor_account.map_or("NULL".to_string(), |a| a.to_string()),
            e.actor_role,
            e.action,
            e.subjects.replace('\'', "''"),
            e.details.replace('\'', "''"),
            blob(app, &e.prev_hash),
            blob(app, &e.hash),
        );
        app.exec(&sql).await.unwrap();
    }
}

/// (e) The rewrite keeps an old checkpoint: its signed list of entry hashes
/// names the first rewritten entry (the old code named the checkpoint, 21).
#[tokio::test]
async fn a_rewrite_under_a_kept_checkpoint_names_the_first_rewritten_entry() {
    let app = TestApp::new().await;
    fill(&app, 20).await;
    assert_eq!(checkpoint(&app).await, 21);
    fill(&app, 5).await;
    rewrite_from(&app, 7, None).await;
    let (code, v) = verify_json(&app, &[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["premiere_entree_fautive"], 7, "{v}");
    assert_eq!(v["exacte"], true, "{v}");
    assert_eq!(v["garanties_jusqu_a"], 6, "{v}");
    assert!(v["raison"].as_str().unwrap().contains("réécrite"), "{v}");
    let (_, out) = verify_cli(&app);
    assert!(out.contains("première entrée fautive n° 7 : "), "{out}");
}

/// (a) The start-up and daily checkpoints are deleted, entries after the last
/// automatic one (n° 1000) rewritten: caught by the entries that record those
/// checkpoints; the earliest possible rewritten entry is 1001 (the old code said
/// « Journal intact »). With a witness too.
#[tokio::test]
async fn deleting_daily_checkpoints_and_rewriting_recent_entries_is_caught() {
    let app = TestApp::new().await;
    fill(&app, journal::CHECKPOINT_EVERY as usize + 1).await;
    assert_eq!(checkpoint(&app).await, 1002); // start-up
    fill(&app, 10).await;
    assert_eq!(checkpoint(&app).await, 1013); // daily
    let tete = app.data_dir.parent().unwrap().join("tete.json");
    let out = cli(&app, &["journal", "exporter-tete", "--sortie", tete.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    fill(&app, 5).await;
    assert_eq!(verify_json(&app, &[]).0, 0);
    rewrite_from(&app, 1005, Some("seq > 1000")).await;
    for extra in [vec![], vec!["--temoin", tete.to_str().unwrap()]] {
        let (code, v) = verify_json(&app, &extra);
        assert_eq!(code, 1, "{v}");
        assert_eq!(v["premiere_entree_fautive"], 1001, "{v}");
        assert_eq!(v["garanties_jusqu_a"], 1000, "{v}");
        assert!(v["raison"].as_str().unwrap().contains("disparu"), "{v}");
    }
}

/// (c) A checkpoint deleted in the middle: the numbering has a gap. The next
/// checkpoint still proves the entries, so the deleted one is named exactly.
#[tokio::test]
async fn a_deleted_checkpoint_in_the_middle_is_caught() {
    let app = TestApp::new().await;
    for expected in [11, 22, 33] {
        fill(&app, 10).await;
        assert_eq!(checkpoint(&app).await, expected);
    }
    drop_protection(&app).await;
    app.exec("DELETE FROM journal_checkpoints WHERE n = 2").await.unwrap();
    let (code, v) = verify_json(&app, &[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["premiere_entree_fautive"], 22, "{v}");
    assert_eq!(v["exacte"], true, "{v}");
    assert!(v["raison"].as_str().unwrap().contains("n° 2 a disparu"), "{v}");

    // Deleted together with a rewrite in its segment: bounded after the last proven entry.
    rewrite_from(&app, 15, None).await;
    let (code, v) = verify_json(&app, &[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["premiere_entree_fautive"], 12, "{v}");
    assert_eq!(v["garanties_jusqu_a"], 11, "{v}");
}

/// (d) Checkpoints renumbered (swapped) or moved to another entry: the
/// signature covers the number and the entry, and the chain their order.
#[tokio::test]
async fn reordered_checkpoints_are_caught() {
    let app = TestApp::new().await;
    for _ in 0..3 {
        fill(&app, 10).await;
        checkpoint(&app).await;
    }
    drop_protection(&app).await;
    app.exec("DROP INDEX journal_checkpoints_numero").await.unwrap();
    app.exec("UPDATE journal_checkpoints SET n = 3 - n WHERE n IN (1, 2)")
        .await
        .unwrap();
    let (code, v) = verify_json(&app, &[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["premiere_entree_fautive"], 11, "{v}");
    assert!(v["raison"].as_str().unwrap().contains("point de contrôle"), "{v}");
    // Put the numbers back, then swap the entries they sign.
    app.exec("UPDATE journal_checkpoints SET n = 3 - n WHERE n IN (1, 2)")
        .await
        .unwrap();
    assert_eq!(verify_json(&app, &[]).0, 0);
    app.exec("UPDATE journal_checkpoints SET seq = -seq WHERE n IN (1, 2)")
        .await
        .unwrap();
    app.exec("UPDATE journal_checkpoints SET seq = CASE WHEN n = 1 THEN 22 ELSE 11 END WHERE n IN (1, 2)")
        .await
        .unwrap();
    let (code, v) = verify_json(&app, &[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["premiere_entree_fautive"], 11, "{v}");
}

/// Deployments upgraded from version 1 checkpoints: they stay verifiable, the
/// first chained checkpoint pins them, deleting one afterwards is caught.
#[tokio::test]
async fn legacy_checkpoints_are_pinned_by_the_first_chained_one() {
    let app = TestApp::new().await;
    fill(&app, 5).await;
    // A version 1 checkpoint of entry 5, as written before migration 0024.
    let (hash, at): (Vec<u8>, i64) = match &app.core.db.pool {
        passerelle_core::Pool::Sqlite(p) => sqlx::query_as("SELECT hash, at FROM journal WHERE seq = 5")
            .fetch_one(p)
            .await
            .unwrap(),
        passerelle_core::Pool::Postgres(p) => sqlx::query_as("SELECT hash, at FROM journal WHERE seq = 5")
            .fetch_one(p)
            .await
            .unwrap(),
    };
    use ed25519_dalek::Signer;
    let sig = app
        .core
        .keys
        .journal_signing()
        .sign(&journal::checkpoint_message(5, &hash, at));
    let drop_order = match app.backend() {
        Backend::Sqlite => "DROP TRIGGER IF EXISTS journal_checkpoints_insert_in_order",
        Backend::Postgres => "DROP TRIGGER IF EXISTS journal_checkpoints_insert_in_order ON journal_checkpoints",
    };
    app.exec(drop_order).await.unwrap();
    app.exec(&format!(
        "INSERT INTO journal_checkpoints (n, version, seq, head_hash, at, key_id, signature) VALUES (1, 1, 5, {}, {at}, '{}', {})",
        blob(&app, &hash),
        app.core.keys.journal_key_id(),
        blob(&app, &sig.to_bytes())
    ))
    .await
    .unwrap();
    fill(&app, 3).await;
    assert_eq!(checkpoint(&app).await, 9);
    fill(&app, 2).await;
    let (code, v) = verify_json(&app, &[]);
    assert_eq!((code, &v["points_de_controle"]), (0, &Value::from(2)), "{v}");
    drop_protection(&app).await;
    app.exec("DELETE FROM journal_checkpoints WHERE version = 1")
        .await
        .unwrap();
    app.exec("UPDATE journal_checkpoints SET n = 1").await.unwrap();
    let (code, v) = verify_json(&app, &[]);
    assert_eq!(code, 1, "{v}");
    assert!(v["raison"].as_str().unwrap().contains("point de contrôle"), "{v}");
}

/// Two instances signing at once still number their checkpoints without gaps.
#[tokio::test]
async fn concurrent_checkpoints_are_numbered_without_gaps() {
    let app = TestApp::new().await;
    let mut tasks = Vec::new();
    for t in 0..6 {
        let core = app.core.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                let mut tx = core.db.begin().await.unwrap();
                journal::append(
                    &mut tx,
                    &core.keys,
                    journal::NewEntry::new(journal::Actor::System, "test.concurrence")
                        .details(serde_json::json!({ "t": t, "i": i })),
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                journal::checkpoint_head(&core.db, &core.keys).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n = app.scalar_i64("SELECT COUNT(*) FROM journal_checkpoints").await;
    assert!(n >= 5, "{n}");
    assert_eq!(app.scalar_i64("SELECT MAX(n) FROM journal_checkpoints").await, n);
    let (code, v) = verify_json(&app, &[]);
    assert_eq!(code, 0, "{v}");
}

/// A checkpoint signs only a whole, well-formed segment: over a deleted entry
/// or a stored hash cut short, it is refused and nothing is written.
#[tokio::test]
async fn a_checkpoint_over_an_incoherent_segment_is_refused() {
    for fault in ["supprimée", "empreinte courte"] {
        let app = TestApp::new().await;
        fill(&app, 10).await;
        drop_protection(&app).await;
        let sql = match fault {
            "supprimée" => "DELETE FROM journal WHERE seq = 5".to_string(),
            _ => format!("UPDATE journal SET hash = {} WHERE seq = 3", blob(&app, &[7; 31])),
        };
        app.exec(&sql).await.unwrap();
        let err = journal::checkpoint_head(&app.core.db, &app.core.keys)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("journal incohérent entre les entrées n° 1 et n° 11 : point de contrôle refusé"),
            "{fault} : {err}"
        );
        assert_eq!(
            app.scalar_i64("SELECT COUNT(*) FROM journal_checkpoints").await,
            0,
            "{fault}"
        );
        assert_eq!(app.scalar_i64("SELECT MAX(seq) FROM journal").await, 10, "{fault}");
    }
}

/// When the checkpoint's own entry lands on a multiple of CHECKPOINT_EVERY, the
/// append has already signed it: it is signed once, and the next one follows.
#[tokio::test]
async fn a_checkpoint_entry_on_a_round_number_is_signed_once() {
    let app = TestApp::new().await;
    let every = journal::CHECKPOINT_EVERY;
    fill(&app, every as usize - 1).await;
    assert_eq!(checkpoint(&app).await, every);
    let rows = app.scalar_i64("SELECT COUNT(*) FROM journal_checkpoints").await;
    assert_eq!(rows, 1);
    assert!(journal::checkpoint_head(&app.core.db, &app.core.keys)
        .await
        .unwrap()
        .is_none());
    fill(&app, 2).await;
    assert_eq!(checkpoint(&app).await, every + 3);
    let second = app
        .scalar_i64(&format!(
            "SELECT debut FROM journal_checkpoints WHERE seq = {}",
            every + 3
        ))
        .await;
    assert_eq!(second, every + 1, "le segment suit le précédent");
    let n = app.scalar_i64("SELECT MAX(n) FROM journal_checkpoints").await;
    assert_eq!(n, 2);
    let (code, v) = verify_json(&app, &[]);
    assert_eq!(code, 0, "{v}");
}
