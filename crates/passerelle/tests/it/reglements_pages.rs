//! Settlement pages: the opérateur settles and follows batches; a place's
//! staff see their own statements and nobody else's. Every route is tried by
//! a role that must be refused.

use axum::http::StatusCode;

use crate::lieux::run;
use crate::lieux_pages::signed_in;
use crate::pass::{call, ready, scene, ACCES};
use crate::support::TestApp;

const AIDE: &str = "Aide aux démarches administratives";

#[tokio::test]
async fn the_operator_settles_from_the_pages_and_places_see_only_their_statements() {
    let app = TestApp::new().await;
    let s = ready(&app, scene(&app).await).await;
    for (key, idem, code, service) in [
        (&s.key1, "a", &s.codes[0].2, AIDE),
        (&s.key2, "b", &s.codes[1].2, ACCES),
    ] {
        let body = serde_json::json!({ "code": code, "service": service }).to_string();
        let (st, v) = call(&app, "/api/v1/cheques/encaisser", Some(key), Some(idem), body).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }
    app.exec("UPDATE encaissements SET jour = '2026-10-15'").await.unwrap();
    let csv = app.data_dir.parent().unwrap().join("q.csv");
    std::fs::write(
        &csv,
        "lieu_id,siret,iban,bic,titulaire\n\
         mednum-1,73282932000074,FR7630006000011234567890189,BNPAFRPP,Lieu Un\n\
         mednum-2,35600000000047,FR1420041010050500013M02606,PSSTFRPPBOR,Lieu Deux\n",
    )
    .unwrap();
    let (code, _, err) = run(&app, &["lieux", "qualifications", "importer", csv.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");

    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let (mut staff, org) = signed_in(&app, "lieu", "lieu", "accueil@pessac.fr").await;
    let (mut funder, _) = signed_in(&app, "commanditaire", "commanditaire", "fin@gironde.fr").await;
    app.exec(&format!(
        "UPDATE lieux SET organisation_id = {org} WHERE ext_id = 'mednum-2'"
    ))
    .await
    .unwrap();
    let mut anon = app.browser();

    // The settlement page: the opérateur only.
    let page = op.get("/reglements").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Aucun compte renseigné"));
    for b in [&mut staff, &mut funder] {
        assert_eq!(b.get("/reglements").await.status, StatusCode::FORBIDDEN);
        let r = b.post("/reglements/generer", &[("jusqu_au", "2026-11-01")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = b
            .post(
                "/reglements/compte",
                &[
                    ("nom", "Pirate"),
                    ("iban", "FR7630006000011234567890189"),
                    ("bic", "BNPAFRPP"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(anon.get("/reglements").await.location(), Some("/connexion"));
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM deployment WHERE key = 'compte_operateur'")
            .await,
        0
    );

    let bad = op
        .post(
            "/reglements/compte",
            &[("nom", "Opérateur"), ("iban", "FR76 0000"), ("bic", "CCBPFRPPBDX")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("IBAN"), "{}", bad.body);
    let r = op
        .post(
            "/reglements/compte",
            &[
                ("nom", "Opérateur national"),
                ("iban", "FR1420041010050500013M02606"),
                ("bic", "PSSTFRPPBOR"),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/reglements?ok=compte"));
    for (date, expected) in [("hier", "date AAAA-MM-JJ attendue"), ("2999-01-01", "après aujourd")] {
        let r = op.post("/reglements/generer", &[("jusqu_au", date)]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{date}");
        assert!(r.body.contains(expected), "{}", r.body);
    }
    let r = op.post("/reglements/generer", &[("jusqu_au", "2026-11-01")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("2 relevés, 20 € à virer"), "{}", r.body);
    let lot = app.scalar_i64("SELECT id FROM lots_virements").await;
    let mine = app
        .scalar_text("SELECT r.numero FROM releves r JOIN lieux l ON l.id = r.lieu_id WHERE l.ext_id = 'mednum-2'")
        .await;
    let theirs = app
        .scalar_text("SELECT r.numero FROM releves r JOIN lieux l ON l.id = r.lieu_id WHERE l.ext_id = 'mednum-1'")
        .await;
    let again = op.post("/reglements/generer", &[("jusqu_au", "2026-11-01")]).await;
    assert!(again.body.contains("Rien de nouveau"), "{}", again.body);

    // The batch: its page, its file and its transitions, for the opérateur only.
    let lot_path = format!("/reglements/lots/{lot}");
    let page = op.get(&lot_path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&mine) && page.body.contains("FR14 2004 1010 0505 0001 3M02 606"));
    assert!(
        !page.body.contains("Enregistrer le rejet"),
        "no rejection before the file is sent"
    );
    let xml = op.get(&format!("{lot_path}/sepa.xml")).await;
    assert_eq!(xml.status, StatusCode::OK);
    assert!(xml.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/xml"));
    assert_eq!(xml.headers["cache-control"], "no-store");
    assert!(xml.body.contains("<CtrlSum>20.00</CtrlSum>"));
    for b in [&mut staff, &mut funder] {
        assert_eq!(b.get(&lot_path).await.status, StatusCode::FORBIDDEN);
        assert_eq!(
            b.get(&format!("{lot_path}/sepa.xml")).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            b.post(&format!("{lot_path}/envoye"), &[]).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            b.post(&format!("{lot_path}/execute"), &[]).await.status,
            StatusCode::FORBIDDEN
        );
        let r = b
            .post(&format!("/reglements/releves/{mine}/rejet"), &[("motif", "x")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = op.post(&format!("{lot_path}/execute"), &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "executed before sent");
    let r = op.post(&format!("{lot_path}/envoye"), &[]).await;
    assert_eq!(r.location(), Some(format!("{lot_path}?ok=envoye").as_str()));
    assert!(op.get(&lot_path).await.body.contains("Enregistrer le rejet"));
    let r = op
        .post(&format!("/reglements/releves/{theirs}/rejet"), &[("motif", "")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = op
        .post(
            &format!("/reglements/releves/{theirs}/rejet"),
            &[("motif", "compte clos")],
        )
        .await;
    assert_eq!(r.location(), Some(format!("{lot_path}?ok=rejet").as_str()));
    assert_eq!(
        app.scalar_text(&format!("SELECT etat FROM releves WHERE numero = '{theirs}'"))
            .await,
        "rejete"
    );
    let r = op.post(&format!("{lot_path}/execute"), &[]).await;
    assert_eq!(r.location(), Some(format!("{lot_path}?ok=execute").as_str()));

    // The place's space: its statements only, the account masked.
    let list = staff.get("/releves").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body.contains(&mine) && !list.body.contains(&theirs),
        "{}",
        list.body
    );
    let page = staff.get(&format!("/releves/{mine}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("FR14 •••• 2606") && !page.body.contains("FR14 2004"),
        "{}",
        page.body
    );
    assert!(page.body.contains("payé"));
    let csv = staff.get(&format!("/releves/{mine}/csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.starts_with("releve,lieu,jour,"));
    let pdf = staff.get(&format!("/releves/{mine}/pdf")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert!(pdf.body.starts_with("%PDF"));
    for path in [
        format!("/releves/{theirs}"),
        format!("/releves/{theirs}/csv"),
        format!("/releves/{theirs}/pdf"),
    ] {
        assert_eq!(staff.get(&path).await.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(funder.get(&path).await.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(op.get(&path).await.status, StatusCode::OK, "{path}");
    }
    assert_eq!(funder.get("/releves").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        staff.get("/releves/REL-1999-000001").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        anon.get(&format!("/releves/{mine}")).await.location(),
        Some("/connexion")
    );
}
