//! `/open-data/`: the datasets page and the monthly indicators per
//! département — every département (Corsica and overseas included) and
//! month, zero rows kept, counts of 1 to 4 suppressed, stable URLs, dates.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::pass::call;
use crate::support::{load_territories, TestApp};

#[tokio::test]
async fn indicators_cover_every_departement_and_hide_small_counts() {
    let app = TestApp::new().await;
    load_territories(&app);
    let demo = passerelle_core::demo::load_if_empty(&app.core).await.unwrap().unwrap();
    let pass = demo.pass.unwrap();
    let body = json!({ "code": pass.codes[0], "service": "Accès internet et matériel informatique" }).to_string();
    let (status, r) = call(
        &app,
        "/api/v1/cheques/encaisser",
        Some(&pass.api_key),
        Some("od-1"),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let month = passerelle_core::indicateurs::current_month(&passerelle_core::Horloge::systeme());
    let pessac = app
        .scalar_text("SELECT l.departement FROM lieux l JOIN encaissements e ON e.lieu_id = l.id")
        .await;

    let mut b = app.browser();
    let r = b.get("/open-data/indicateurs-departements.csv").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.get("last-modified").is_some(), "a last-modified date");
    let lines: Vec<&str> = r.body.lines().collect();
    assert_eq!(
        lines[0],
        "departement,mois,cheques_encaisses,lieux_qualifies_nouveaux,lieux_qualifies_fin_de_mois,accompagnements,heures_accompagnement"
    );
    let deps = app.scalar_i64("SELECT COUNT(*) FROM territoires_departements").await;
    assert!(deps >= 101, "{deps}");
    let rows_this_month: Vec<&&str> = lines.iter().filter(|l| l.contains(&format!(",{month},"))).collect();
    assert_eq!(rows_this_month.len() as i64, deps, "every département once this month");
    for code in ["2A", "2B", "971", "972", "973", "974", "976", "75", "01"] {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("{code},{month},"))),
            "{code} missing"
        );
    }
    // One cheque redeemed in Pessac's département this month: suppressed, not zero.
    let line = lines
        .iter()
        .find(|l| l.starts_with(&format!("{pessac},{month},")))
        .unwrap();
    assert!(line.starts_with(&format!("{pessac},{month},,")), "{line}");
    // A département with nothing: zeros are published.
    assert!(
        lines.contains(&format!("971,{month},0,0,0,0,0").as_str()),
        "{:?}",
        rows_this_month
    );

    let r = b.get("/open-data/indicateurs-departements.json").await;
    assert_eq!(r.status, StatusCode::OK);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["seuil_secret_statistique"], 5);
    let row = v["lignes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["departement"] == pessac.as_str() && x["mois"] == month.as_str())
        .unwrap();
    assert!(row["cheques_encaisses"].is_null(), "{row}");
    assert_eq!(v["lignes"].as_array().unwrap().len(), lines.len() - 1);

    // The page lists the datasets with their stable URLs and dictionary.
    let r = b.get("/open-data/").await;
    assert_eq!(r.status, StatusCode::OK);
    for url in [
        "/open-data/lieux.csv",
        "/open-data/lieux.json",
        "/open-data/indicateurs-departements.csv",
        "/open-data/indicateurs-departements.json",
    ] {
        assert!(r.body.contains(&format!("href=\"{url}\"")), "{url}");
    }
    assert!(r.body.contains("lieux_qualifies_fin_de_mois") && r.body.contains("secret statistique"));
    assert_eq!(b.get("/open-data").await.status, StatusCode::PERMANENT_REDIRECT);
}
