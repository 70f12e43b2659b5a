//! `/open-data/`: the Pass Numérique per département, public and month, and
//! Aidants Connect per month and démarche — every combination once, zero rows
//! kept, published counts equal a direct recount, counts of 1 to 4 hidden.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::pass::call;
use crate::support::load_territories;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_numerique_and_aidants_connect_aggregates_recount_and_hide_small_counts() {
    let m = crate::mandats_support::serve().await;
    let app = &m.app;
    load_territories(app);
    let demo = passerelle_core::demo::load_if_empty(&app.core).await.unwrap().unwrap();
    passerelle_core::demo_aidants::load(&app.core, Some(&m.fc_client_id), &m.base)
        .await
        .unwrap();
    let pass = demo.pass.unwrap();
    // One redemption through the API (a seniors' booklet, in Pessac)…
    let body = json!({ "code": pass.codes[0], "service": "Accès internet et matériel informatique" }).to_string();
    let (status, r) = call(
        app,
        "/api/v1/cheques/encaisser",
        Some(&pass.api_key),
        Some("odp-1"),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let month = passerelle_core::indicateurs::current_month(&passerelle_core::Horloge::systeme());
    let today = passerelle_core::Horloge::systeme()
        .today_paris()
        .strftime("%Y-%m-%d")
        .to_string();
    // …and five more of the other handed-out seniors' booklet, written directly.
    app.exec(&format!(
        "INSERT INTO encaissements (cheque_id, carnet_id, commande_id, lieu_id, service, valeur_centimes, jour, at) \
         SELECT c.id, c.carnet_id, c.commande_id, (SELECT lieu_id FROM encaissements LIMIT 1), 'x', c.valeur_centimes, '{today}', 1 \
         FROM cheques c JOIN carnets k ON k.numero = c.carnet_id \
         WHERE k.public = 'seniors' AND c.id NOT IN (SELECT cheque_id FROM encaissements) \
         ORDER BY c.id LIMIT 5"
    ))
    .await
    .unwrap();
    let dep = app
        .scalar_text("SELECT l.departement FROM lieux l JOIN encaissements e ON e.lieu_id = l.id LIMIT 1")
        .await;
    // The demo is dated some days back (its place's statement): its two redemptions are moved
    // to long ago, so that this month's lines do not depend on the day the test runs.
    app.exec("UPDATE encaissements SET jour = '2000-01-15' WHERE service <> 'x' AND cle_api_id IS NULL")
        .await
        .unwrap();
    // Its booklets were handed out that day too: brought into this month.
    let now = app.core.db.now_micros();
    app.exec(&format!(
        "UPDATE carnets SET remis_at = {now} WHERE remis_at IS NOT NULL"
    ))
    .await
    .unwrap();

    let mut b = app.browser();
    let r = b.get("/open-data/pass-numerique-departements-publics.csv").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.get("last-modified").is_some());
    let lines: Vec<&str> = r.body.lines().collect();
    assert_eq!(
        lines[0],
        "departement,public,mois,carnets_remis,cheques_encaisses,valeur_encaissee_euros"
    );
    let deps = app.scalar_i64("SELECT COUNT(*) FROM territoires_departements").await;
    let this_month = lines.iter().filter(|l| l.contains(&format!(",{month},"))).count() as i64;
    assert_eq!(this_month, deps * 10, "every département × 9 publics + non-renseigne");
    // Direct recount of every row of this month with data.
    let recount = |public: &str| {
        format!(
            "SELECT COUNT(*) FROM encaissements e JOIN lieux l ON l.id = e.lieu_id JOIN carnets k ON k.numero = e.carnet_id \
             WHERE e.annule_at IS NULL AND l.departement = '{dep}' AND k.public = '{public}' AND e.jour LIKE '{month}-%'"
        )
    };
    let seniors = app.scalar_i64(&recount("seniors")).await;
    assert_eq!(seniors, 6);
    let value = app
        .scalar_i64(
            "SELECT CAST(SUM(e.valeur_centimes) AS BIGINT) FROM encaissements e JOIN carnets k ON k.numero = e.carnet_id \
             WHERE k.public = 'seniors'",
        )
        .await;
    // Booklets handed out this month to seniors living in the département: 2 (hidden).
    let expected = format!(
        "{dep},seniors,{month},,{seniors},{}",
        passerelle_core::money::Centimes::new(value).decimal()
    );
    assert!(lines.contains(&expected.as_str()), "{expected}");
    assert!(
        lines.contains(&format!("{dep},demandeurs-emploi,{month},,0,0.00").as_str()),
        "one booklet handed out (hidden), nothing redeemed"
    );
    assert!(lines.contains(&format!("971,jeunes,{month},0,0,0.00").as_str()));
    let r = b.get("/open-data/pass-numerique-departements-publics.json").await;
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["lignes"].as_array().unwrap().len(), lines.len() - 1);
    let row = v["lignes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["departement"] == dep.as_str() && x["public"] == "seniors" && x["mois"] == month.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["cheques_encaisses"], seniors);
    assert!(row["carnets_remis"].is_null());

    // Aidants Connect: the demo's mandates (hidden: fewer than 5), and five uses for one démarche.
    let demarche = app
        .scalar_text("SELECT demarche FROM autorisations ORDER BY id LIMIT 1")
        .await;
    for _ in 0..5 {
        app.exec(&format!(
            "INSERT INTO mandats_utilisations (autorisation_id, mandat_id, usager_id, aidant_id, structure_id, client_id, demarche, at, journal_seq) \
             SELECT a.id, m.id, m.usager_id, m.aidant_id, m.organisation_id, 'essai', a.demarche, {}, 0 \
             FROM autorisations a JOIN mandats m ON m.id = a.mandat_id WHERE a.demarche = '{demarche}' LIMIT 1",
            passerelle_core::horloge::Horloge::systeme().now_micros()
        ))
        .await
        .unwrap();
    }
    let r = b.get("/open-data/aidants-connect.csv").await;
    assert_eq!(r.status, StatusCode::OK);
    let lines: Vec<&str> = r.body.lines().collect();
    assert_eq!(lines[0], "mois,demarche,mandats_conclus,utilisations");
    let demarches = app
        .scalar_i64("SELECT COUNT(DISTINCT demarche) FROM autorisations")
        .await;
    let rows = lines.iter().filter(|l| l.starts_with(&format!("{month},"))).count() as i64;
    assert_eq!(rows, demarches, "every démarche this month");
    let mandates = app
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM autorisations WHERE demarche = '{demarche}'"
        ))
        .await;
    assert!((1..5).contains(&mandates), "{mandates}");
    assert!(lines.contains(&format!("{month},{demarche},,5").as_str()), "{lines:?}");
    let r = b.get("/open-data/aidants-connect.json").await;
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["lignes"].as_array().unwrap().len(), lines.len() - 1);
    assert!(v["structures_habilitees"].is_null(), "one structure: hidden");

    let r = b.get("/open-data/").await;
    for url in [
        "/open-data/pass-numerique-departements-publics.csv",
        "/open-data/pass-numerique-departements-publics.json",
        "/open-data/aidants-connect.csv",
        "/open-data/aidants-connect.json",
    ] {
        assert!(r.body.contains(&format!("href=\"{url}\"")), "{url}");
    }
    assert!(r.body.contains("valeur_encaissee_euros") && r.body.contains("mandats_conclus"));
}
