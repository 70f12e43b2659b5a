//! The settable clock: a test says what time it is in Paris, and the HTTP API
//! and the command line both go by it (month boundaries, validity ends).

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::lieux::run;
use crate::pass::{call, ready, scene};
use crate::support::TestApp;

const AIDE: &str = "Aide aux démarches administratives";
const IBAN_1: &str = "FR76 3000 6000 0112 3456 7890 189";
const IBAN_2: &str = "FR1420041010050500013M02606";

fn json_of(app: &TestApp, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (code, out, err) = run(app, &all);
    assert_eq!(code, 0, "{args:?} : {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e} : {out}"))
}

async fn redeem(app: &TestApp, key: &str, idem: &str, code: &str, service: &str) -> (StatusCode, Value) {
    let body = json!({ "code": code, "service": service }).to_string();
    call(app, "/api/v1/cheques/encaisser", Some(key), Some(idem), body).await
}

async fn verify(app: &TestApp, key: &str, code: &str) -> Value {
    let body = json!({ "code": code }).to_string();
    let (status, v) = call(app, "/api/v1/cheques/verifier", Some(key), None, body).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

/// The lines (`releve,lieu,jour,…`) of statement `numero`, through the command line.
fn statement_days(app: &TestApp, numero: &str) -> Vec<String> {
    let csv = app.data_dir.parent().unwrap().join(format!("{numero}.csv"));
    let (code, _, err) = run(app, &["reglements", "releve", numero, "--csv", csv.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&csv).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
        .collect()
}

#[tokio::test]
async fn a_redemption_one_second_before_midnight_in_paris_is_paid_with_its_month() {
    let app = TestApp::new().await;
    let s = ready(&app, scene(&app).await).await;

    // 31 January 2027, 23:59:59 in Paris (22:59:59 UTC), then midnight: 1 February.
    app.set_now("2027-01-31T23:59:59+01:00[Europe/Paris]");
    let (status, january) = redeem(&app, &s.key1, "janvier", &s.codes[0].2, AIDE).await;
    assert_eq!(status, StatusCode::CREATED, "{january}");
    assert_eq!(january["encaisse_le"], "2027-01-31T22:59:59Z");
    app.set_now("2027-02-01T00:00:00+01:00[Europe/Paris]");
    let (status, february) = redeem(&app, &s.key1, "fevrier", &s.codes[1].2, AIDE).await;
    assert_eq!(status, StatusCode::CREATED, "{february}");
    assert_eq!(february["encaisse_le"], "2027-01-31T23:00:00Z");

    // The run of 1 February pays January only; February's redemption waits for March.
    let good = app.data_dir.parent().unwrap().join("qualifs.csv");
    std::fs::write(
        &good,
        format!("lieu_id;siret;iban;bic;titulaire\nmednum-1;73282932000074;{IBAN_1};BNPAFRPP;Centre social\n"),
    )
    .unwrap();
    json_of(&app, &["lieux", "qualifications", "importer", good.to_str().unwrap()]);
    let account = [
        "reglements",
        "compte",
        "--nom",
        "Opérateur",
        "--iban",
        IBAN_2,
        "--bic",
        "CCBPFRPPBDX",
    ];
    let (code, _, err) = run(&app, &account);
    assert_eq!(code, 0, "{err}");
    let v = json_of(&app, &["reglements", "generer"]);
    assert_eq!(v["jusqu_au"], "2027-02-01", "{v}");
    assert_eq!(v["releves"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["releves"][0]["lignes"], 1, "{v}");
    let numero = v["releves"][0]["numero"].as_str().unwrap().to_string();
    assert_eq!(statement_days(&app, &numero), [format!("{numero},mednum-1,2027-01-31")]);

    // Still 1 February: nothing more is due.
    assert_eq!(json_of(&app, &["reglements", "generer"])["releves"], json!([]));

    // 1 March, midnight in Paris: February's redemption is paid, in a statement of its own.
    app.set_now("2027-03-01T00:00:00+01:00[Europe/Paris]");
    let v = json_of(&app, &["reglements", "generer"]);
    assert_eq!(v["jusqu_au"], "2027-03-01", "{v}");
    assert_eq!(v["releves"][0]["lignes"], 1, "{v}");
    let numero = v["releves"][0]["numero"].as_str().unwrap().to_string();
    assert_eq!(statement_days(&app, &numero), [format!("{numero},mednum-1,2027-02-01")]);
}

#[tokio::test]
async fn a_cheque_is_refused_from_the_day_after_its_last_valid_day_in_paris() {
    let app = TestApp::new().await;
    // The order ends on 2099-12-31 with 30 days of tolerance: the last day is 2100-01-30.
    let s = ready(&app, scene(&app).await).await;
    let code = &s.codes[0].2;

    app.set_now("2100-01-30T23:59:59+01:00[Europe/Paris]");
    let v = verify(&app, &s.key1, code).await;
    assert_eq!(
        (v["valide"].as_bool(), v["motif"].as_str()),
        (Some(true), Some("valide")),
        "{v}"
    );
    assert_eq!(v["fin_validite"], "2100-01-30");

    // One second later it is the 31st in Paris (still the 30th in UTC): expired.
    app.set_now("2100-01-31T00:00:00+01:00[Europe/Paris]");
    let v = verify(&app, &s.key1, code).await;
    assert_eq!(
        (v["valide"].as_bool(), v["motif"].as_str()),
        (Some(false), Some("cheque_expire")),
        "{v}"
    );
    let (status, v) = redeem(&app, &s.key1, "trop-tard", code, AIDE).await;
    assert_eq!(
        (status, v["motif"].as_str()),
        (StatusCode::GONE, Some("cheque_expire")),
        "{v}"
    );
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM encaissements").await, 0);

    // The same clock for the command line: the daily jobs of that day expire the cheques.
    let active = app
        .scalar_i64("SELECT COUNT(*) FROM cheques WHERE etat = 'actif'")
        .await;
    assert!(active > 0);
    let (code_, _, err) = run(&app, &["taches", "quotidiennes"]);
    assert_eq!(code_, 0, "{err}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM cheques WHERE etat = 'actif'")
            .await,
        0
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM cheques WHERE etat = 'expire'")
            .await,
        active
    );
}
