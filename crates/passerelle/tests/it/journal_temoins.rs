//! Issue 18, finding 2: the signed head is published (`/open-data/journal-tete.json`,
//! `journal exporter-tete`) and witnesses keep it; `journal verify --temoin
//! FICHIER|URL` proves the local journal extends what each witness saw.

use serde_json::Value;

use crate::journal::{drop_protection, fill};
use crate::journal_points::{checkpoint, rewrite_from, verify_json};
use crate::support::{cli, TestApp};

fn export_head(app: &TestApp, name: &str) -> std::path::PathBuf {
    let path = app.data_dir.parent().unwrap().join(name);
    let out = cli(app, &["journal", "exporter-tete", "--sortie", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    path
}

/// Serves the application on a loopback port (no outside network).
async fn serve(app: &TestApp) -> String {
    let (listener, base) = crate::support::serveur::loopback().await;
    crate::support::serveur::spawn(listener, app.router.clone());
    base
}

/// (g) An intact journal agrees with its witnesses, old and current; the head
/// written by the command line is the one published.
#[tokio::test]
async fn an_intact_journal_agrees_with_its_witnesses() {
    let app = TestApp::new().await;
    fill(&app, 3).await;
    // Nothing signed yet: nothing to export, nothing published.
    let out = cli(&app, &["journal", "exporter-tete"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("aucun point de contrôle"));
    assert_eq!(app.browser().get("/open-data/journal-tete.json").await.status, 404);

    checkpoint(&app).await;
    let old = export_head(&app, "tete-1.json");
    fill(&app, 4).await;
    checkpoint(&app).await;
    let current = export_head(&app, "tete-2.json");
    fill(&app, 2).await;
    let (code, v) = verify_json(
        &app,
        &["--temoin", old.to_str().unwrap(), "--temoin", current.to_str().unwrap()],
    );
    assert_eq!((code, &v["temoins"]), (0, &Value::from(2)), "{v}");
    let out = cli(&app, &["journal", "verify", "--temoin", current.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("conforme au témoin"));

    let file: Value = serde_json::from_str(&std::fs::read_to_string(&current).unwrap()).unwrap();
    let page = app.browser().get("/open-data/journal-tete.json").await;
    assert_eq!(page.status, 200);
    let published: Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(published, file);
    assert_eq!(published["format"], "passerelle-tete-journal-v1");
    assert_eq!(published["numero"], 2);
    assert_eq!(published["seq"], 9);
    assert_eq!(published["debut"], 5);
    let open_data = app.browser().get("/open-data/").await;
    assert!(open_data.body.contains("/open-data/journal-tete.json"));

    // A witness of another deployment, or a forged one, is an error, not a verdict.
    let mut forged = file.clone();
    forged["empreinte"] = Value::from("00".repeat(32));
    let forged_path = app.data_dir.parent().unwrap().join("faux.json");
    std::fs::write(&forged_path, forged.to_string()).unwrap();
    let (code, _) = verify_json(&app, &["--temoin", forged_path.to_str().unwrap()]);
    assert_eq!(code, 2);
    let (code, _) = verify_json(&app, &["--temoin", "/nonexistent/tete.json"]);
    assert_eq!(code, 2);
}

/// (b) The end is cut back below what a witness saw, with the checkpoints that
/// signed it: the database alone cannot tell, the witness can.
#[tokio::test]
async fn truncating_the_end_is_caught_by_a_witness() {
    let app = TestApp::new().await;
    fill(&app, 10).await;
    assert_eq!(checkpoint(&app).await, 11);
    fill(&app, 10).await;
    assert_eq!(checkpoint(&app).await, 22);
    let seen = export_head(&app, "tete.json");
    fill(&app, 3).await;
    drop_protection(&app).await;
    app.exec("DELETE FROM journal_checkpoints WHERE n = 2; DELETE FROM journal WHERE seq >= 16")
        .await
        .unwrap();
    // Known limit: the database alone now looks like an earlier, intact state.
    assert_eq!(verify_json(&app, &[]).0, 0);
    let (code, v) = verify_json(&app, &["--temoin", seen.to_str().unwrap()]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["premiere_entree_fautive"], 12, "{v}");
    assert_eq!(v["garanties_jusqu_a"], 11, "{v}");
    assert!(v["raison"].as_str().unwrap().contains("témoin"), "{v}");
}

/// (f) The witness fetched from the public address (served on loopback);
/// kept as a file, it catches a rewrite after which the address serves
/// another head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_read_from_the_public_address() {
    let app = TestApp::new().await;
    fill(&app, 6).await;
    checkpoint(&app).await;
    fill(&app, 6).await;
    checkpoint(&app).await;
    let base = serve(&app).await;
    let url = format!("{base}/open-data/journal-tete.json");
    let (code, v) = tokio::task::spawn_blocking({
        let (db_url, data_dir, url) = (app.db_url.clone(), app.data_dir.clone(), url.clone());
        move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
                .args(["journal", "verify", "--json", "--temoin", &url])
                .env("PASSERELLE_DATABASE_URL", db_url)
                .env("PASSERELLE_DATA_DIR", data_dir)
                .output()
                .unwrap();
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            (out.status.code(), v)
        }
    })
    .await
    .unwrap();
    assert_eq!((code, &v["temoins"]), (Some(0), &Value::from(1)), "{v}");

    // The witness keeps what it fetched.
    let kept = app.data_dir.parent().unwrap().join("gardee.json");
    let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
    std::fs::write(&kept, body).unwrap();
    // The entries are rewritten from n° 3 on and the two checkpoints deleted.
    rewrite_from(&app, 3, Some("n >= 1")).await;
    let (code, v) = verify_json(&app, &["--temoin", kept.to_str().unwrap()]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["premiere_entree_fautive"], 1, "{v}");
    // A missing address is an error.
    let (code, _) = tokio::task::spawn_blocking({
        let (db_url, data_dir) = (app.db_url.clone(), app.data_dir.clone());
        let url = format!("{base}/open-data/absent.json");
        move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
                .args(["journal", "verify", "--temoin", &url])
                .env("PASSERELLE_DATABASE_URL", db_url)
                .env("PASSERELLE_DATA_DIR", data_dir)
                .output()
                .unwrap();
            (out.status.code(), ())
        }
    })
    .await
    .unwrap();
    assert_eq!(code, Some(2));
}
