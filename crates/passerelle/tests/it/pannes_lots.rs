//! Crash tests of the bulk jobs: a places import, an order issue and a
//! settlement are killed (SIGKILL) while they write; nothing of them is left
//! half done, the invariants and the journal hold, and a rerun reaches the
//! same final state as an uninterrupted run.

use std::time::Duration;

use serde_json::Value;

use crate::lieux::run;
use crate::pannes::{file_path, invariants_hold, kill_after, kill_when, progress};
use crate::pannes_encaissements::redeemable;
use crate::pass::call;
use crate::support::pass_numerique::{cli_order, payable_places};
use crate::support::TestApp;
use crate::support::{cli_json as json_ok, cli_ok as ok, cli_organisation, load_territories};

/// A file of `rows` places of the national standard (6,000: two chunks of 5,000 rows at most in the import's pipeline).
fn places_csv(app: &TestApp, name: &str, rows: usize, date: &str) -> String {
    let mut csv = String::from("id,pivot,nom,commune,code_postal,adresse,date_maj\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "p-{i},W332001234,Lieu {i},Pessac,33600,{i} avenue Jean Jaurès,{date}\n"
        ));
    }
    let path = file_path(app, name);
    std::fs::write(&path, csv).expect("fichier des lieux");
    path.to_string_lossy().into_owned()
}

/// A progress line of a job that has written something and is not finished.
fn midway(line: &str) -> bool {
    progress(line).is_some_and(|(done, total)| done > 0 && done < total)
}

#[tokio::test]
async fn an_import_killed_midway_leaves_nothing_and_reruns_to_the_same_places() {
    const ROWS: usize = 6_000;
    // The reference: the same file imported without a crash.
    let twin = TestApp::new().await;
    let file = places_csv(&twin, "lieux.csv", ROWS, "2024-01-01");
    assert_eq!(json_ok(&twin, &["lieux", "import", &file])["crees"], ROWS);
    let expected = ok(&twin, &["lieux", "export", "--format", "csv"]);

    let app = TestApp::new().await;
    let file = places_csv(&app, "lieux.csv", ROWS, "2024-01-01");
    let journal = app.scalar_i64("SELECT COUNT(*) FROM journal").await;
    let seen = kill_when(&app, &["lieux", "import", &file], &[], midway);
    assert!(seen.iter().any(|l| midway(l)), "{seen:?}");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux").await, 0, "all or nothing");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux_imports").await, 0);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM journal").await, journal);
    invariants_hold(&app);

    let r = json_ok(&app, &["lieux", "import", &file]);
    assert_eq!(
        (r["crees"].as_u64(), r["applique"].as_bool()),
        (Some(ROWS as u64), Some(true))
    );
    assert_eq!(ok(&app, &["lieux", "export", "--format", "csv"]), expected);
    let r = json_ok(&app, &["lieux", "import", &file]);
    assert_eq!(r["inchanges"], ROWS, "a rerun after completion changes nothing");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux").await, ROWS as i64);

    // A newer version of the file, killed midway: the places stay entirely in their previous version.
    let newer = places_csv(&app, "lieux-2.csv", ROWS, "2025-06-01");
    kill_when(&app, &["lieux", "import", &newer], &[], midway);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM lieux WHERE date_maj = '2024-01-01'")
            .await,
        ROWS as i64
    );
    invariants_hold(&app);
    let r = json_ok(&app, &["lieux", "import", &newer]);
    assert_eq!(r["mis_a_jour"], ROWS);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM lieux WHERE date_maj = '2025-06-01'")
            .await,
        ROWS as i64
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'lieux.import'")
            .await,
        2,
        "one journal entry per completed import, none for the killed ones"
    );
    invariants_hold(&app);
}

#[tokio::test]
async fn an_order_issue_killed_midway_issues_nothing_and_reruns_without_gap_or_duplicate() {
    // 12,000 booklets: two chunks of cheques (10,000 booklets each at most), the kill falls after the first.
    const BOOKLETS: i64 = 12_000;
    let app = TestApp::new().await;
    load_territories(&app);
    let funder = cli_organisation(&app, "commanditaire", "Région");
    let order = cli_order(&app, &funder, BOOKLETS, ("2026-01-01", "2027-12-31"), "33", &[])["id"]
        .as_i64()
        .expect("numéro");
    let id = order.to_string();
    ok(&app, &["commandes", "payer", &id, "--reference", "VIR-1"]);
    let seen = kill_when(&app, &["commandes", "emettre", &id], &[], midway);
    assert!(seen.iter().any(|l| midway(l)), "{seen:?}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM cheques").await,
        0,
        "all or nothing"
    );
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM carnets").await, 0);
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM commandes WHERE id = {order} AND emise_at IS NULL"
        ))
        .await,
        1
    );
    invariants_hold(&app);

    // Killed again at another moment (before, during or after the writing): never half issued.
    for ms in [1000] {
        kill_after(&app, &["commandes", "emettre", &id], Duration::from_millis(ms));
        let cheques = app.scalar_i64("SELECT COUNT(*) FROM cheques").await;
        assert!(
            cheques == 0 || cheques == BOOKLETS * 10,
            "{cheques} chèques après un arrêt brutal"
        );
        invariants_hold(&app);
    }

    let done = app.scalar_i64("SELECT COUNT(*) FROM cheques").await == BOOKLETS * 10;
    if !done {
        let v = json_ok(&app, &["commandes", "emettre", &id]);
        assert_eq!(v["emission"]["cheques"], BOOKLETS * 10);
        assert_eq!(v["emission"]["premier_carnet"], 1, "no gap in the booklet numbers");
    }
    // The state of an uninterrupted issue: every booklet once, numbered without gap, every cheque once.
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM cheques").await, BOOKLETS * 10);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(DISTINCT empreinte) FROM cheques").await,
        BOOKLETS * 10
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM carnets WHERE numero BETWEEN 1 AND 12000")
            .await,
        BOOKLETS
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM cheques WHERE etat = 'actif'")
            .await,
        BOOKLETS * 10
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'commande.emission'")
            .await,
        1
    );
    let (code, _, err) = run(&app, &["commandes", "emettre", &id]);
    assert_ne!(code, 0, "a second issue is refused");
    assert!(err.contains("déjà émise"), "{err}");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM cheques").await, BOOKLETS * 10);
    invariants_hold(&app);
}

/// Valid bank details (IBAN with a right mod-97 key, SIRET with a right Luhn key).

#[tokio::test]
async fn a_settlement_killed_midway_pays_nobody_twice_and_forgets_nobody() {
    const BOOKLETS: i64 = 20;
    let app = TestApp::new().await;
    let r = redeemable(&app, BOOKLETS).await;
    for (booklet, code) in &r.codes {
        let (key, service) = r.place_of(*booklet);
        let body = serde_json::json!({ "code": code, "service": service }).to_string();
        let (status, v) = call(&app, "/api/v1/cheques/encaisser", Some(key), Some(code), body).await;
        assert_eq!(status, 201, "{v}");
    }
    // Redeemed in October: before the default cut-off of the settlement.
    app.exec("UPDATE encaissements SET jour = '2026-10-15'")
        .await
        .expect("date");
    payable_places(&app);
    let sepa = file_path(&app, "virements.xml");
    let sepa = sepa.to_str().expect("chemin");

    // Killed inside its transaction, statements and lines written, not committed.
    kill_when(
        &app,
        &["reglements", "generer", "--sepa", sepa],
        &[("PASSERELLE_TEST_PAUSE_REGLEMENT_MS", "60000")],
        |l| l.contains("pause de test"),
    );
    for table in ["lots_virements", "releves", "releve_lignes"] {
        assert_eq!(
            app.scalar_i64(&format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
    invariants_hold(&app);
    // Killed at other moments: whatever was committed is whole.
    for ms in [200, 700] {
        kill_after(&app, &["reglements", "generer"], Duration::from_millis(ms));
        let statements = app.scalar_i64("SELECT COUNT(*) FROM releves").await;
        assert!(statements == 0 || statements == 2, "{statements} relevés");
        invariants_hold(&app);
    }

    let v: Value = json_ok(&app, &["reglements", "generer", "--sepa", sepa]);
    let total = BOOKLETS * 10 * 1000;
    if app.scalar_i64("SELECT COUNT(*) FROM lots_virements").await == 1 && v["lot"].is_null() {
        // One of the timed kills came after the commit: that run is the settlement.
        assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM releves").await, 2);
    } else {
        assert_eq!(v["releves"].as_array().map(Vec::len), Some(2), "{v}");
        assert_eq!(v["total_centimes"], total, "every redemption, once");
    }
    // The state of an uninterrupted settlement.
    let numbers = "SELECT COUNT(*) FROM releves WHERE numero LIKE '%-000001' OR numero LIKE '%-000002'";
    assert_eq!(app.scalar_i64(numbers).await, 2, "statements numbered without gap");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM releve_lignes").await,
        BOOKLETS * 10
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(DISTINCT encaissement_id) FROM releve_lignes")
            .await,
        BOOKLETS * 10,
        "no redemption paid twice"
    );
    assert_eq!(
        app.scalar_i64("SELECT CAST(SUM(total_centimes) AS BIGINT) FROM releves")
            .await,
        total
    );
    let again: Value = json_ok(&app, &["reglements", "generer"]);
    assert!(again["lot"].is_null(), "{again}");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM releves").await, 2);
    invariants_hold(&app);
}
