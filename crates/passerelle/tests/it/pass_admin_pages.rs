//! The opérateur's pages for orders: create, issue, print, allot; and the
//! refusals of every other role on each of those routes.

use std::path::Path;

use axum::http::StatusCode;

use crate::lieux::run;
use crate::lieux_pages::signed_in;
use crate::support::{Browser, Response, TestApp};

async fn post(b: &mut Browser, path: String, fields: Vec<(&'static str, String)>) -> Response {
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post(&path, &refs).await
}

fn cli_ok(app: &TestApp, args: &[&str]) -> String {
    let (code, out, err) = run(app, args);
    assert_eq!(code, 0, "{args:?} : {err}");
    out.trim().to_string()
}

#[tokio::test]
async fn the_operator_runs_an_order_from_the_pages() {
    let app = TestApp::new().await;
    let dataset = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/@etalab/decoupage-administratif/data");
    cli_ok(
        &app,
        &["territoires", "charger", "--dossier", dataset.to_str().unwrap()],
    );
    let prescriber = cli_ok(
        &app,
        &[
            "organisations",
            "creer",
            "--type",
            "prescripteur",
            "--nom",
            "CCAS de Pessac",
        ],
    );
    let other_prescriber = cli_ok(
        &app,
        &[
            "organisations",
            "creer",
            "--type",
            "prescripteur",
            "--nom",
            "Mission locale",
        ],
    );
    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let (mut funder, funder_org) = signed_in(&app, "commanditaire", "commanditaire", "fin@gironde.fr").await;
    let (mut pres, _) = signed_in(&app, "prescripteur", "prescripteur", "agent@ccas.fr").await;
    let mut anon = app.browser();

    // The form: the opérateur only.
    let form = op.get("/commandes/nouvelle").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("CCAS de Pessac") && form.body.contains("name=\"publics\""));
    assert!(op.get("/commandes").await.body.contains("href=\"/commandes/nouvelle\""));
    // A funder orders too, for itself (see `a_funder_orders_for_itself_at_the_usual_fee`).
    assert!(funder
        .get("/commandes")
        .await
        .body
        .contains("href=\"/commandes/nouvelle\""));
    assert_eq!(pres.get("/commandes/nouvelle").await.status, StatusCode::FORBIDDEN);
    assert_eq!(anon.get("/commandes/nouvelle").await.location(), Some("/connexion"));

    let funder_id = funder_org.to_string();
    let fields = |valeur: &'static str| {
        vec![
            ("commanditaire", funder_id.clone()),
            ("carnets", "3".into()),
            ("cheques_par_carnet", "10".into()),
            ("valeur", valeur.into()),
            ("frais", "4,5".into()),
            ("debut", "2020-01-01".into()),
            ("fin", "2099-12-31".into()),
            ("tolerance", "30".into()),
            ("perimetre", "33063, 33318".into()),
            ("publics", "seniors".into()),
            ("publics", "jeunes".into()),
            ("services", "Aide aux démarches administratives".into()),
            ("prescripteurs", prescriber.clone()),
            ("plafond", "2".into()),
            ("marque", "Gironde <numérique>".into()),
        ]
    };
    let as_refs = |f: &[(&'static str, String)]| f.to_vec();

    // A mistake shows the form again with the reason and what was typed.
    let bad = post(&mut op, "/commandes/nouvelle".into(), as_refs(&fields("dix"))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("montant en euros attendu"), "{}", bad.body);
    assert!(
        bad.body.contains("value=\"33063, 33318\"") && bad.body.contains("Gironde &#60;numérique&#62;"),
        "{}",
        bad.body
    );
    let mut unknown = as_refs(&fields("10,50"));
    unknown.push(("perimetre", "x".into()));
    unknown.retain(|(k, v)| *k != "perimetre" || v == "x");
    let r = post(&mut op, "/commandes/nouvelle".into(), unknown).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM commandes").await, 0);
    // Another role posting the form is refused.
    let r = post(&mut pres, "/commandes/nouvelle".into(), as_refs(&fields("10"))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let created = post(&mut op, "/commandes/nouvelle".into(), as_refs(&fields("10,50"))).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let id = app.scalar_i64("SELECT id FROM commandes").await;
    assert_eq!(created.location(), Some(format!("/commandes/{id}?ok=creee").as_str()));
    assert_eq!(app.scalar_i64("SELECT valeur_centimes FROM commandes").await, 1050);
    assert_eq!(app.scalar_i64("SELECT frais_pour_dix_mille FROM commandes").await, 450);
    assert_eq!(
        app.scalar_text("SELECT marque FROM commandes").await,
        "Gironde <numérique>"
    );
    let page = funder.get(&format!("/commandes/{id}")).await;
    assert!(
        page.body.contains("10,50 €") && page.body.contains("Seniors"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("/emettre"), "the funder does not issue");

    // Issue: the opérateur only, once.
    for b in [&mut funder, &mut pres] {
        assert_eq!(
            post(b, format!("/commandes/{id}/emettre"), vec![]).await.status,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM cheques").await, 0);
    let r = post(&mut op, format!("/commandes/{id}/emettre"), vec![]).await;
    assert_eq!(r.location(), Some(format!("/commandes/{id}?ok=emise").as_str()));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM cheques").await, 30);
    let r = post(&mut op, format!("/commandes/{id}/emettre"), vec![]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("déjà émise"));
    let first = app.scalar_i64("SELECT MIN(numero) FROM carnets").await;
    let page = op.get(&format!("/commandes/{id}?ok=emise")).await;
    assert!(page.body.contains("sont émis") && page.body.contains(&format!("de {first} à {}", first + 2)));
    assert!(
        page.body.contains("CCAS de Pessac") && !page.body.contains("Mission locale"),
        "only allowed prescribers"
    );

    // Print: the codes leave Passerelle, for the opérateur only, journaled, never cached.
    for b in [&mut funder, &mut pres] {
        assert_eq!(
            b.get(&format!("/commandes/{id}/codes.csv")).await.status,
            StatusCode::FORBIDDEN
        );
        let pdf = b
            .get(&format!("/commandes/{id}/carnets.pdf?de={first}&a={first}"))
            .await;
        assert_eq!(pdf.status, StatusCode::FORBIDDEN);
    }
    let before = app
        .scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'carnets.impression'")
        .await;
    assert_eq!(before, 0);
    let csv = op.get(&format!("/commandes/{id}/codes.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["cache-control"], "no-store");
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], "carnet,rang,code,url");
    assert_eq!(lines.len(), 31);
    assert!(lines[1].starts_with(&format!("{first},1,")) && lines[1].contains("/c/"));
    let pdf = op
        .get(&format!("/commandes/{id}/carnets.pdf?de={first}&a={}", first + 1))
        .await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    assert!(pdf.body.starts_with("%PDF"));
    let journaled = app
        .scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'carnets.impression'")
        .await;
    assert_eq!(journaled, 2);
    for bad in [
        format!("de={}&a={first}", first + 1),
        format!("de={first}&a={}", first + 500),
        "de=un&a=deux".to_string(),
        "de=1".to_string(),
    ] {
        let r = op.get(&format!("/commandes/{id}/carnets.pdf?{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let r = op.get(&format!("/commandes/{id}/carnets.pdf?de=900000&a=900001")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Aucun carnet de la commande"), "{}", r.body);
    // Issue 22: crop marks on request (the page's checkbox), drawn as extra paths.
    let page = op.get(&format!("/commandes/{id}")).await.body;
    assert!(page.contains("name=\"traits_de_coupe\""), "{page}");
    let marked = op
        .get(&format!(
            "/commandes/{id}/carnets.pdf?de={first}&a={}&traits_de_coupe=1",
            first + 1
        ))
        .await;
    assert_eq!(marked.status, StatusCode::OK);
    assert!(
        marked.body.len() > pdf.body.len(),
        "{} ≤ {}",
        marked.body.len(),
        pdf.body.len()
    );

    // Allot: the opérateur only; a prescriber the order does not allow is refused on the page.
    let allot = |who: &str, de: i64, a: i64| {
        vec![
            ("prescripteur", who.to_string()),
            ("de", de.to_string()),
            ("a", a.to_string()),
        ]
    };
    for b in [&mut funder, &mut pres] {
        let r = post(
            b,
            format!("/commandes/{id}/attribuer"),
            allot(&prescriber, first, first),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = post(
        &mut op,
        format!("/commandes/{id}/attribuer"),
        allot(&other_prescriber, first, first),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("n&#39;est pas autorisé") || r.body.contains("n'est pas autorisé"),
        "{}",
        r.body
    );
    let r = post(
        &mut op,
        format!("/commandes/{id}/attribuer"),
        allot(&prescriber, first, first + 5),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = post(
        &mut op,
        format!("/commandes/{id}/attribuer"),
        allot(&prescriber, first, first + 1),
    )
    .await;
    assert_eq!(
        r.location(),
        Some(format!("/commandes/{id}?ok=attribution&n=2").as_str())
    );
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM carnets WHERE prescripteur_id = {prescriber}"
        ))
        .await,
        2
    );
    let actions = app.journal_actions().await;
    for a in [
        "commande.creation",
        "commande.emission",
        "carnets.attribution",
        "carnets.impression",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} absent du journal : {actions:?}");
    }
}

/// A funder orders booklets for itself from its space: its name is the only choice, the
/// validity is preset to a year, the opérateur's fee is the usual one whatever is sent; an
/// order for another funder is refused.
#[tokio::test]
async fn a_funder_orders_for_itself_at_the_usual_fee() {
    let app = TestApp::new().await;
    let dataset = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/@etalab/decoupage-administratif/data");
    cli_ok(
        &app,
        &["territoires", "charger", "--dossier", dataset.to_str().unwrap()],
    );
    let other = cli_ok(
        &app,
        &[
            "organisations",
            "creer",
            "--type",
            "commanditaire",
            "--nom",
            "Région voisine",
        ],
    );
    let (mut funder, funder_org) = signed_in(&app, "commanditaire", "commanditaire", "fin@gironde.fr").await;
    let form = funder.get("/commandes/nouvelle").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(!form.body.contains("Région voisine"), "a funder orders for itself only");
    assert!(
        form.body.contains(&format!("value=\"{funder_org}\" selected")),
        "its own name chosen already: {}",
        form.body
    );
    assert!(
        !form.body.contains("id=\"frais\""),
        "the fee is not the funder's to set"
    );
    assert!(form.body.contains("Frais de l'opérateur : 4 %"));
    let today = app.core.db.horloge().today_paris().to_string();
    assert!(
        form.body
            .contains(&format!("id=\"debut\" name=\"debut\" value=\"{today}\"")),
        "{}",
        form.body
    );
    let fields = |org: &str| {
        vec![
            ("commanditaire", org.to_string()),
            ("carnets", "4".into()),
            ("cheques_par_carnet", "10".into()),
            ("valeur", "10".into()),
            ("frais", "0".into()),
            ("debut", "2020-01-01".into()),
            ("fin", "2099-12-31".into()),
            ("tolerance", "30".into()),
            ("perimetre", "33".into()),
            ("publics", "seniors".into()),
            ("plafond", "2".into()),
        ]
    };
    // A bound is said in euros, as typed, not in the cents it is kept in.
    let mut dear = fields(&funder_org.to_string());
    dear.retain(|(k, _)| *k != "valeur");
    dear.push(("valeur", "1500".into()));
    let r = post(&mut funder, "/commandes/nouvelle".into(), dear).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body
            .contains("Valeur d&#39;un chèque : entre 0,01 € et 1\u{a0}000 € attendu, 1\u{a0}500 € reçu"),
        "{}",
        r.body
    );
    let r = post(&mut funder, "/commandes/nouvelle".into(), fields(&other)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM commandes").await, 0);
    let created = post(
        &mut funder,
        "/commandes/nouvelle".into(),
        fields(&funder_org.to_string()),
    )
    .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    assert_eq!(app.scalar_i64("SELECT frais_pour_dix_mille FROM commandes").await, 400);
    assert_eq!(
        app.scalar_i64("SELECT commanditaire_id FROM commandes").await,
        funder_org
    );
    let id = app.scalar_i64("SELECT id FROM commandes").await;
    let page = funder.get(&format!("/commandes/{id}?ok=creee")).await;
    assert!(
        page.body.contains("La commande et son devis sont enregistrés.") && page.body.contains("Accepter le devis")
    );
}
