//! A hub's territory: indicators equal to direct counts, places to check
//! (stale, no coordinates, INSEE code or postcode mismatch), corrections
//! proposed by the hub and accepted or refused by the place or the opérateur;
//! a hub sees only its départements; every route tried by someone refused.

use axum::http::StatusCode;
use passerelle_core::accounts::Principal;
use passerelle_core::lieux::import::{import, Options};
use passerelle_core::lieux::read::Format;
use passerelle_core::territoire::{hundredths_fr, indicateurs, per_ten_thousand, verification};
use serde_json::json;

use crate::lieux::fixture;
use crate::lieux_pages::signed_in;
use crate::pass::call;
use crate::support::{Browser, TestApp};

struct World {
    app: TestApp,
    hub: Browser,
    hub_org: i64,
    far_hub: Browser,
    far_org: i64,
    place: Browser,
    other_place: Browser,
    op: Browser,
    funder: Browser,
}

fn set_territory(app: &TestApp, org: i64, deps: &str) {
    let (code, out, err) = crate::lieux::run(
        app,
        &[
            "organisations",
            "territoire",
            "--organisation",
            &org.to_string(),
            "--departements",
            deps,
        ],
    );
    assert_eq!(code, 0, "{out} {err}");
}

/// Demo data (places in Gironde, a qualified place, cheques to redeem), four
/// more places in Gironde, Landes and Finistère with data problems, two hubs.
async fn world() -> World {
    let app = TestApp::new().await;
    passerelle_core::geographie::load(&app.core.db, &crate::support::territories_dataset())
        .await
        .unwrap();
    let demo = passerelle_core::demo::load_if_empty(&app.core).await.unwrap().unwrap();
    let pass = demo.pass.expect("démo du Pass Numérique");
    for (i, code) in pass.codes.iter().take(2).enumerate() {
        let body = json!({ "code": code, "service": "Accès internet et matériel informatique" }).to_string();
        let (status, r) = call(
            &app,
            "/api/v1/cheques/encaisser",
            Some(&pass.api_key),
            Some(&format!("t-{i}")),
            body,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }
    let csv = std::fs::read(fixture("hub_territoire.csv")).unwrap();
    let options = Options {
        source: "test".into(),
        file_name: "hub_territoire.csv".into(),
        ignore_invalid: false,
        dry_run: false,
    };
    import(&app.core, &Principal::SYSTEME, &csv, Format::Csv, &options, |_, _| {})
        .await
        .unwrap();

    let (hub, hub_org) = signed_in(&app, "hub", "hub", "hub@nouvelle-aquitaine.fr").await;
    let (far_hub, far_org) = signed_in(&app, "hub", "hub", "hub@bretagne.fr").await;
    let (place, place_org) = signed_in(&app, "lieu", "lieu", "accueil@merignac.fr").await;
    let (other_place, _) = signed_in(&app, "lieu", "lieu", "accueil@talence.fr").await;
    let (op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let (funder, _) = signed_in(&app, "commanditaire", "commanditaire", "fin@gironde.fr").await;
    // The demo's hub covers the former Aquitaine: here it keeps only the Pyrénées-Atlantiques.
    let demo_hub = app
        .scalar_i64("SELECT id FROM organisations WHERE name = 'Hub France Connectée Nouvelle-Aquitaine (démo)'")
        .await;
    set_territory(&app, demo_hub, "64");
    set_territory(&app, hub_org, "33,40");
    set_territory(&app, far_org, "29,75");

    // Everything fresh, then one problem per place.
    let today = passerelle_core::Horloge::systeme()
        .today_paris()
        .strftime("%Y-%m-%d")
        .to_string();
    for sql in [
        format!("UPDATE lieux SET date_maj = '{today}'"),
        format!("UPDATE lieux SET organisation_id = {place_org} WHERE ext_id = 't-merignac'"),
        "UPDATE lieux SET date_maj = '2020-01-15' WHERE ext_id = 'demo-3'".to_string(),
        "UPDATE lieux SET latitude = NULL WHERE ext_id = 't-dax'".to_string(),
        "UPDATE lieux SET code_postal = '33600' WHERE ext_id = 't-merignac'".to_string(),
        "UPDATE lieux SET code_insee = '40999' WHERE ext_id = 't-mdm'".to_string(),
    ] {
        app.exec(&sql).await.unwrap();
    }
    World {
        app,
        hub,
        hub_org,
        far_hub,
        far_org,
        place,
        other_place,
        op,
        funder,
    }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.scalar_i64(sql).await
}

#[tokio::test]
async fn figures_equal_direct_counts_and_a_hub_sees_only_its_departements() {
    let mut w = world().await;
    let app = &w.app;
    let today = passerelle_core::Horloge::systeme().today_paris();
    let month = today.strftime("%Y-%m").to_string();
    let account = count(app, "SELECT id FROM accounts WHERE email = 'hub@nouvelle-aquitaine.fr'").await;
    // Accompaniments: two in Gironde this month, one in Landes, one too old, one in Finistère.
    for (dep, mois, minutes) in [
        ("33", &month, 60),
        ("33", &month, 90),
        ("40", &month, 45),
        ("33", &"2020-01".to_string(), 30),
        ("29", &month, 20),
    ] {
        app.exec(&format!(
            "INSERT INTO activites (compte_id, organisation_id, jour, mois, duree_minutes, nature, participants, thematiques, \
             tranche_age, commune_insee, departement, statut, created_at, updated_at) VALUES \
             ({account}, {}, '{mois}-01', '{mois}', {minutes}, 'individuel', 1, 'demarches', '60-69', '', '{dep}', 'retraite', 0, 0)",
            w.hub_org
        ))
        .await
        .unwrap();
    }

    let t = indicateurs::compute(&app.core.db, w.hub_org, today).await.unwrap();
    assert_eq!(
        t.departements.iter().map(|d| d.code.as_str()).collect::<Vec<_>>(),
        ["33", "40"]
    );
    for d in &t.departements {
        let c = &d.code;
        assert_eq!(
            d.population,
            count(
                app,
                &format!("SELECT CAST(SUM(population) AS BIGINT) FROM territoires_communes WHERE departement = '{c}'")
            )
            .await
        );
        assert_eq!(
            d.lieux,
            count(app, &format!("SELECT COUNT(*) FROM lieux WHERE departement = '{c}'")).await
        );
        assert_eq!(
            d.lieux_qualifies,
            count(
                app,
                &format!("SELECT COUNT(*) FROM qualifications q JOIN lieux l ON l.id = q.lieu_id WHERE q.etat = 'active' AND l.departement = '{c}'")
            )
            .await
        );
        assert_eq!(
            d.cheques,
            count(
                app,
                &format!("SELECT COUNT(*) FROM encaissements e JOIN lieux l ON l.id = e.lieu_id WHERE e.annule_at IS NULL AND l.departement = '{c}'")
            )
            .await
        );
        assert_eq!(
            d.montant_centimes.centimes(),
            count(
                app,
                &format!("SELECT CAST(COALESCE(SUM(e.valeur_centimes), 0) AS BIGINT) FROM encaissements e JOIN lieux l ON l.id = e.lieu_id WHERE e.annule_at IS NULL AND l.departement = '{c}'")
            )
            .await
        );
    }
    let gironde = &t.departements[0];
    let landes = &t.departements[1];
    assert_eq!((gironde.lieux, landes.lieux), (4, 2));
    assert!(gironde.lieux_qualifies >= 1);
    // The two of this test and the two the demo's place redeemed ten days ago (its statement).
    assert_eq!((gironde.cheques, landes.cheques), (4, 0));
    assert!(gironde.montant_centimes.centimes() > 0);
    assert_eq!((gironde.accompagnements, gironde.minutes), (2, 150));
    assert_eq!((landes.accompagnements, landes.minutes), (1, 45));
    assert_eq!(
        (t.total.accompagnements, t.total.minutes, t.total.conseillers),
        (3, 195, 1)
    );
    assert_eq!(t.total.lieux, 6);
    assert_eq!(t.total.population, gironde.population + landes.population);
    assert_eq!(t.mois.len(), 12);
    assert_eq!(t.mois[11].accompagnements, 3);
    assert_eq!(t.mois.iter().map(|m| m.accompagnements).sum::<i64>(), 3);

    // The page shows the same figures, with captions and links, and only this hub's départements.
    let page = w.hub.get("/hub/territoire").await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    assert!(body.contains("<caption>Couverture et activité par département</caption>"));
    assert!(body.contains("33 — Gironde") && body.contains("40 — Landes"), "{body}");
    assert!(body.contains(&hundredths_fr(per_ten_thousand(4, gironde.population))));
    assert!(body.contains("/hub/territoire/lieux-a-verifier?departement=40"));
    assert!(body.contains("2 h 30") && body.contains("3 h 15"));
    assert!(!body.contains("Finistère") && !body.contains("Paris"));
    let far = w.far_hub.get("/hub/territoire").await.body;
    assert!(far.contains("29 — Finistère") && !far.contains("Gironde"));

    // Paris: the commune counted once, not again with its arrondissements.
    let t = indicateurs::compute(&app.core.db, w.far_org, today).await.unwrap();
    let paris = t.departements.iter().find(|d| d.code == "75").unwrap();
    assert_eq!(
        paris.population,
        count(app, "SELECT population FROM territoires_communes WHERE code = '75056'").await
    );
    assert_eq!(paris.lieux_pour_10000(), Some(0));
    assert_eq!(t.total.accompagnements, 1);
}

#[tokio::test]
async fn stale_and_mismatched_places_are_listed_with_their_reasons() {
    let mut w = world().await;
    let today = passerelle_core::Horloge::systeme().today_paris();
    let list = verification::compute(&w.app.core.db, w.hub_org, "", today)
        .await
        .unwrap();
    let ids: Vec<&str> = list.iter().map(|p| p.ext_id.as_str()).collect();
    assert_eq!(ids, ["demo-3", "t-merignac", "t-mdm", "t-dax"]);
    let reasons = |id: &str| list.iter().find(|p| p.ext_id == id).unwrap().raisons.join(" / ");
    assert!(reasons("demo-3").contains("non mises à jour depuis plus de 12 mois (dernière mise à jour le 15/01/2020)"));
    assert_eq!(reasons("t-dax"), "Coordonnées géographiques absentes");
    assert_eq!(
        reasons("t-merignac"),
        "Le code postal 33600 n'est pas un code postal de Mérignac (code INSEE 33281) : 33700"
    );
    assert_eq!(
        reasons("t-mdm"),
        "Le code INSEE 40999 n'est pas celui d'une commune du département 40"
    );
    // The filter by département; the far hub sees none of them, only its own.
    let landes = w.hub.get("/hub/territoire/lieux-a-verifier?departement=40").await;
    assert_eq!(landes.status, StatusCode::OK);
    assert!(landes.body.contains("Médiathèque de Dax") && landes.body.contains("Mont-de-Marsan"));
    assert!(!landes.body.contains("Mérignac"));
    let all = w.hub.get("/hub/territoire/lieux-a-verifier").await.body;
    assert!(all.contains("Tiers-lieu numérique de Mérignac") && all.contains("Association Clic Solidaire"));
    assert!(!all.contains("Cyberbase de Brest"));
    // Another hub's département in the filter shows nothing of it.
    w.app
        .exec("UPDATE lieux SET latitude = NULL WHERE ext_id = 't-brest'")
        .await
        .unwrap();
    let wrong = w.hub.get("/hub/territoire/lieux-a-verifier?departement=29").await.body;
    assert!(!wrong.contains("Cyberbase de Brest"));
    let far = w.far_hub.get("/hub/territoire/lieux-a-verifier").await.body;
    assert!(far.contains("Cyberbase de Brest") && !far.contains("Dax") && !far.contains("Mérignac"));
}

#[tokio::test]
async fn corrections_are_proposed_by_the_hub_and_decided_by_the_place_or_the_operator() {
    let mut w = world().await;
    let app = &w.app;
    let form = "/hub/lieux/t-merignac/correction";
    let page = w.hub.get(form).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Valeur actuelle : 33600"));
    assert!(w.hub.get("/lieux/t-merignac").await.body.contains(form));
    assert!(!w.far_hub.get("/lieux/t-merignac").await.body.contains(form));

    // Refused at once: nothing changed, no comment, a value outside the standard.
    let r = w
        .hub
        .post(form, &[("code_postal", "33600"), ("commentaire", "rien")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Aucune valeur n&#39;est modifiée"), "{}", r.body);
    let r = w
        .hub
        .post(form, &[("code_postal", "33700"), ("commentaire", " ")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Expliquez la correction"));
    let r = w
        .hub
        .post(form, &[("code_postal", "3A700"), ("commentaire", "Code postal")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Code postal :"), "{}", r.body);
    assert_eq!(count(app, "SELECT COUNT(*) FROM corrections_lieux").await, 0);

    // Proposed: the place's staff are told; it is listed on both sides.
    let r = w
        .hub
        .post(
            form,
            &[
                ("code_postal", "33700"),
                ("adresse", "12 avenue de la Somme"),
                ("commentaire", "Mérignac a le code postal 33700"),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/hub/corrections?ok=proposee"), "{}", r.body);
    let id = count(app, "SELECT MAX(id) FROM corrections_lieux").await;
    assert_eq!(
        app.scalar_text(&format!("SELECT changements FROM corrections_lieux WHERE id = {id}"))
            .await,
        r#"{"code_postal":"33700"}"#
    );
    assert_eq!(
        count(app, "SELECT COUNT(*) FROM courriels WHERE destinataire = 'accueil@merignac.fr' AND sujet LIKE 'Correction proposée%'").await,
        1
    );
    let mine = w.hub.get("/hub/corrections").await.body;
    assert!(mine.contains(&format!("Correction n° {id}")) && mine.contains("Proposée"));
    assert!(!w
        .far_hub
        .get("/hub/corrections")
        .await
        .body
        .contains(&format!("Correction n° {id}")));
    let theirs = w.place.get("/lieu/corrections").await.body;
    assert!(theirs.contains(&format!("/corrections/{id}/accepter")), "{theirs}");
    assert!(!w
        .other_place
        .get("/lieu/corrections")
        .await
        .body
        .contains(&format!("n° {id}")));

    // Only the place's own staff (or the opérateur) decides.
    let accept = format!("/corrections/{id}/accepter");
    let refuse = format!("/corrections/{id}/refuser");
    for b in [&mut w.other_place, &mut w.hub, &mut w.far_hub, &mut w.funder] {
        assert_eq!(b.post(&accept, &[]).await.status, StatusCode::FORBIDDEN);
        assert_eq!(b.post(&refuse, &[("motif", "non")]).await.status, StatusCode::FORBIDDEN);
    }
    let mut anon = app.browser();
    // Not signed in: refused (403).
    assert_eq!(anon.post(&accept, &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        anon.post(&refuse, &[("motif", "non")]).await.status,
        StatusCode::FORBIDDEN
    );
    let r = w.place.post_raw(&accept, &[]).await;
    assert_ne!(r.status, StatusCode::SEE_OTHER, "no CSRF token");
    assert_eq!(
        app.scalar_text("SELECT code_postal FROM lieux WHERE ext_id = 't-merignac'")
            .await,
        "33600"
    );

    // Accepted: applied through the place edit (date_maj today, journaled), the hub is told.
    // The edit dates the place in UTC, like every date it checks (between 23:00
    // and midnight UTC, Paris is already on the next day).
    let edited_on = passerelle_core::Horloge::systeme().today_utc().to_string();
    app.exec("UPDATE lieux SET date_maj = '2025-06-01' WHERE ext_id = 't-merignac'")
        .await
        .unwrap();
    let r = w.place.post(&accept, &[]).await;
    assert_eq!(r.location(), Some("/lieu/corrections?ok=acceptee"), "{}", r.body);
    assert_eq!(
        app.scalar_text("SELECT code_postal FROM lieux WHERE ext_id = 't-merignac'")
            .await,
        "33700"
    );
    assert_eq!(
        app.scalar_text("SELECT date_maj FROM lieux WHERE ext_id = 't-merignac'")
            .await,
        edited_on
    );
    assert_eq!(
        app.scalar_text(&format!("SELECT etat FROM corrections_lieux WHERE id = {id}"))
            .await,
        "acceptee"
    );
    let actions = app.journal_actions().await;
    let tail: Vec<&str> = actions.iter().rev().take(3).rev().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "lieu.correction_proposee",
            "lieux.modification",
            "lieu.correction_acceptee"
        ]
    );
    assert_eq!(
        count(app, "SELECT COUNT(*) FROM courriels WHERE destinataire = 'hub@nouvelle-aquitaine.fr' AND sujet LIKE 'Correction acceptée%'").await,
        1
    );
    // Decided once only.
    let r = w.place.post(&accept, &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("déjà été traitée"));
    let verif = verification::compute(
        &app.core.db,
        w.hub_org,
        "",
        passerelle_core::Horloge::systeme().today_paris(),
    )
    .await
    .unwrap();
    assert!(!verif.iter().any(|p| p.ext_id == "t-merignac"));

    // Refused with a reason: the place is left as it was.
    let r = w
        .hub
        .post(
            form,
            &[("telephone", "05 56 00 00 00"), ("commentaire", "Numéro de l'accueil")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let second = count(app, "SELECT MAX(id) FROM corrections_lieux").await;
    let refuse = format!("/corrections/{second}/refuser");
    let r = w.place.post(&refuse, &[("motif", "  ")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("motif du refus"));
    let r = w
        .place
        .post(&refuse, &[("motif", "Ce numéro n'est plus attribué")])
        .await;
    assert_eq!(r.location(), Some("/lieu/corrections?ok=refusee"));
    assert_eq!(
        app.scalar_text("SELECT telephone FROM lieux WHERE ext_id = 't-merignac'")
            .await,
        ""
    );
    assert_eq!(
        app.scalar_text(&format!("SELECT etat FROM corrections_lieux WHERE id = {second}"))
            .await,
        "refusee"
    );
    assert!(w
        .hub
        .get("/hub/corrections")
        .await
        .body
        .contains("Ce numéro n&#39;est plus attribué"));
    assert_eq!(
        w.place
            .post(&format!("/corrections/{second}/accepter"), &[])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // A place without staff of its own: the opérateur decides.
    let r = w
        .hub
        .post(
            "/hub/lieux/t-dax/correction",
            &[
                ("latitude", "43.7102"),
                ("commentaire", "Coordonnées de la médiathèque"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let third = count(app, "SELECT MAX(id) FROM corrections_lieux").await;
    assert!(w
        .op
        .get("/operateur/corrections")
        .await
        .body
        .contains(&format!("/corrections/{third}/accepter")));
    assert_eq!(
        w.place
            .post(&format!("/corrections/{third}/accepter"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = w.op.post(&format!("/corrections/{third}/accepter"), &[]).await;
    assert_eq!(r.location(), Some("/operateur/corrections?ok=acceptee"));
    assert_eq!(
        count(
            app,
            "SELECT COUNT(*) FROM lieux WHERE ext_id = 't-dax' AND latitude IS NOT NULL"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn every_route_refuses_who_must_be_refused() {
    let mut w = world().await;
    let mut anon = w.app.browser();
    for path in [
        "/hub/territoire",
        "/hub/territoire/lieux-a-verifier",
        "/hub/corrections",
    ] {
        assert_eq!(anon.get(path).await.location(), Some("/connexion"), "{path}");
        for b in [&mut w.place, &mut w.op, &mut w.funder] {
            assert_eq!(b.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
        }
        assert_eq!(w.hub.get(path).await.status, StatusCode::OK, "{path}");
    }
    // The correction form: the hub of the place's territory only.
    let form = "/hub/lieux/t-merignac/correction";
    let fields = [("code_postal", "33700"), ("commentaire", "Code postal")];
    assert_eq!(anon.get(form).await.location(), Some("/connexion"));
    for b in [&mut w.far_hub, &mut w.place, &mut w.op, &mut w.funder] {
        assert_eq!(b.get(form).await.status, StatusCode::FORBIDDEN);
        assert_eq!(b.post(form, &fields).await.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(anon.post(form, &fields).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        w.hub.get("/hub/lieux/t-brest/correction").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        w.hub.post("/hub/lieux/t-brest/correction", &fields).await.status,
        StatusCode::FORBIDDEN
    );
    let r = w.hub.get("/hub/lieux/inconnu/correction").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(count(&w.app, "SELECT COUNT(*) FROM corrections_lieux").await, 0);
    // The reviewers' lists.
    for path in ["/lieu/corrections", "/operateur/corrections"] {
        assert_eq!(anon.get(path).await.location(), Some("/connexion"), "{path}");
        for b in [&mut w.hub, &mut w.funder] {
            assert_eq!(b.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    assert_eq!(w.op.get("/lieu/corrections").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        w.place.get("/operateur/corrections").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(w.place.get("/lieu/corrections").await.status, StatusCode::OK);
    assert_eq!(w.op.get("/operateur/corrections").await.status, StatusCode::OK);
    // Decisions on an unknown correction.
    assert_eq!(
        w.op.post("/corrections/999/accepter", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        w.op.post("/corrections/999/refuser", &[("motif", "x")]).await.status,
        StatusCode::NOT_FOUND
    );
    // The menu shows the territory to hubs only.
    assert!(w.hub.get("/").await.body.contains("href=\"/hub/territoire\""));
    assert!(!w.place.get("/").await.body.contains("href=\"/hub/territoire\""));
}

/// A change prepared from an older record of the place (a correction being
/// accepted while the place's staff edit it) is refused, not written over the other.
#[tokio::test]
async fn a_change_prepared_before_another_is_a_conflict_not_a_lost_update() {
    use passerelle_core::accounts::{Principal, Role};
    use passerelle_core::lieux::edit;
    use std::collections::BTreeMap;

    let app = TestApp::new().await;
    let (code, _, err) = crate::lieux::run(&app, &["lieux", "import", &crate::lieux::copy(&app, "propre.csv")]);
    assert_eq!(code, 0, "{err}");
    let ext_id = app.scalar_text("SELECT ext_id FROM lieux ORDER BY id LIMIT 1").await;
    let (op, _) = app.account("operateur", "operateur", "op@exemple.fr", false).await;
    let who = Principal {
        account_id: op,
        role: Role::Operateur,
        organisation_id: app
            .scalar_i64(&format!("SELECT organisation_id FROM accounts WHERE id = {op}"))
            .await,
    };
    let change = |field: &str, value: &str| BTreeMap::from([(field.to_string(), value.to_string())]);
    let allowed = ["telephone", "horaires"];
    let older = edit::prepare(&app.core, &who, &ext_id, &change("telephone", "+33556000000"), &allowed)
        .await
        .unwrap()
        .unwrap();
    // Meanwhile, another change of the same place is written.
    let other = edit::edit(&app.core, &who, &ext_id, &change("horaires", "Mo-Fr 09:00-12:00"), None)
        .await
        .unwrap();
    assert!(other.is_ok(), "{other:?}");
    let mut tx = app.core.db.begin().await.unwrap();
    let r = edit::lock_unchanged(&mut tx, &older).await;
    assert!(
        matches!(r, Err(passerelle_core::CoreError::Conflict(ref m)) if m.contains("modifiée entre-temps")),
        "{r:?}"
    );
    drop(tx);
    let horaires = app
        .scalar_text(&format!("SELECT horaires FROM lieux WHERE ext_id = '{ext_id}'"))
        .await;
    assert_eq!(horaires, "Mo-Fr 09:00-12:00", "the other change is kept");
}
