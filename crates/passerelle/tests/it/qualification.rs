//! The qualification workflow through the pages: a place applies (with
//! documents), a hub sees its territory and reviews only when delegated, the
//! opérateur validates bank details; refusals, changes asked, suspension,
//! withdrawal, IBAN change; every route tried by someone who must be refused.

use axum::http::StatusCode;

use crate::lieux::copy;
use crate::lieux_pages::{multipart, signed_in};
use crate::support::cli_ok as ok;
use crate::support::{load_territories, Browser, Response, TestApp};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

async fn upload(b: &mut Browser, id: i64, nature: &str, name: &str, data: &[u8]) -> Response {
    let token = b.csrf_token().await;
    let (ct, body) = multipart(&[
        ("csrf_token", None, token.as_bytes()),
        ("nature", None, nature.as_bytes()),
        ("fichier", Some(name), data),
    ]);
    b.post_multipart(&format!("/qualification/demandes/{id}/pieces"), &ct, body)
        .await
}

/// The whole form, as the page sends it, with `siret` and `action`.
fn form<'a>(siret: &'a str, action: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("siret", siret),
        ("raison_sociale", "Mairie de Bordeaux"),
        ("forme_juridique", "Commune"),
        ("adresse", "Place Pey-Berland, 33000 Bordeaux"),
        ("representant_nom", "Awa Diallo"),
        ("representant_qualite", "Adjointe au maire"),
        ("representant_courriel", "Representante@Bordeaux.fr"),
        ("charte", "oui"),
        ("type_structure", "Collectivité territoriale"),
        ("activite", "Ateliers numériques et aide aux démarches"),
        ("mediateurs", "2"),
        ("horaires", "Du mardi au samedi, 10 h – 18 h"),
        ("accessibilite", "Accès de plain-pied"),
        ("publics", "Seniors"),
        ("publics", "Jeunes"),
        ("service", "Aide aux démarches administratives"),
        ("service_publics", "Tous publics"),
        ("service_duree", "60"),
        ("service_cheques", "1"),
        ("service", "Maîtrise des outils numériques du quotidien"),
        ("service_publics", "Seniors"),
        ("service_duree", "120"),
        ("service_cheques", "2"),
        ("service", ""),
        ("service_publics", ""),
        ("service_duree", ""),
        ("service_cheques", ""),
        ("iban", "FR76 3000 6000 0112 3456 7890 189"),
        ("bic", "AGRIFRPP"),
        ("titulaire", "Mairie de Bordeaux"),
        ("action", action),
    ]
}

fn application_id(r: &Response) -> i64 {
    let to = r.location().unwrap_or_else(|| panic!("{} {}", r.status, r.body));
    to.trim_start_matches("/qualification/demandes/").parse().unwrap()
}

/// Every field of a form has its label (RGAA 11.1): each `id` of an input,
/// select or textarea is named by a `<label for>`.
fn labelled(body: &str) {
    let mut fields = 0;
    for tag in ["<input ", "<select ", "<textarea "] {
        for part in body.split(tag).skip(1) {
            let attrs = &part[..part.find('>').unwrap()];
            if attrs.contains("type=\"hidden\"") {
                continue;
            }
            let id = attrs
                .split("id=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_else(|| panic!("a field without id: {attrs}"));
            assert!(body.contains(&format!("for=\"{id}\"")), "no label for {id}");
            fields += 1;
        }
    }
    assert!(fields > 30, "{fields} fields");
}

async fn mails_to(app: &TestApp, to: &str, subject_part: &str) -> i64 {
    app.scalar_i64(&format!(
        "SELECT COUNT(*) FROM courriels WHERE destinataire = '{to}' AND sujet LIKE '%{subject_part}%'"
    ))
    .await
}

// Multi-threaded: the SMTP sink runs while the CLI blocks this thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_place_applies_a_hub_reviews_when_delegated_and_the_operator_validates_bank_details() {
    let app = TestApp::new().await;
    load_territories(&app);
    let file = copy(&app, "propre.csv");
    ok(&app, &["lieux", "import", &file]);

    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let (mut place, org) = signed_in(&app, "lieu", "lieu", "accueil@bordeaux.fr").await;
    let (mut other, other_org) = signed_in(&app, "lieu", "lieu", "accueil@pessac.fr").await;
    let (mut hub, hub_org) = signed_in(&app, "hub", "hub", "hub@nouvelle-aquitaine.fr").await;
    let (mut far_hub, far_org) = signed_in(&app, "hub", "hub", "hub@bretagne.fr").await;
    let (mut funder, _) = signed_in(&app, "commanditaire", "commanditaire", "fin@gironde.fr").await;
    let mut anon = app.browser();
    app.exec(&format!(
        "UPDATE lieux SET organisation_id = {org} WHERE ext_id = 'mednum-1'"
    ))
    .await
    .unwrap();
    app.exec(&format!(
        "UPDATE lieux SET organisation_id = {other_org} WHERE ext_id = 'mednum-2'"
    ))
    .await
    .unwrap();
    assert_eq!(
        app.scalar_text("SELECT departement FROM lieux WHERE ext_id = 'mednum-1'")
            .await,
        "33"
    );
    let territory = |o: i64, d: &str| {
        vec![
            "organisations".to_string(),
            "territoire".into(),
            "--organisation".into(),
            o.to_string(),
            "--departements".into(),
            d.into(),
        ]
    };
    let args = territory(hub_org, "33,40");
    ok(&app, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let args = territory(far_org, "29,35");
    ok(&app, &args.iter().map(String::as_str).collect::<Vec<_>>());

    // Who may open the page, and who may apply for which place.
    assert_eq!(anon.get("/qualification").await.location(), Some("/connexion"));
    assert_eq!(funder.get("/qualification").await.status, StatusCode::FORBIDDEN);
    let home = place.get("/qualification").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Médiathèque de Mériadeck"));
    assert!(
        !home.body.contains("Espace public numérique de Pessac"),
        "not its place"
    );
    for b in [&mut other, &mut hub, &mut op, &mut funder] {
        let r = b.post("/qualification/demandes", &[("lieu", "mednum-1")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = place.post("/qualification/demandes", &[("lieu", "mednum-1")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let id = application_id(&r);
    let again = place.post("/qualification/demandes", &[("lieu", "mednum-1")]).await;
    assert_eq!(application_id(&again), id, "one application in progress per place");

    // A draft is saved as typed; filing it reports every gap at once.
    let r = place
        .post(
            &format!("/qualification/demandes/{id}"),
            &[("siret", "123"), ("action", "deposer")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("La demande est incomplète"), "{}", r.body);
    for gap in [
        "SIRET",
        "charte",
        "Extrait Kbis ou statuts",
        "au moins un service",
        "IBAN",
    ] {
        assert!(r.body.contains(gap), "{gap}: {}", r.body);
    }
    assert_eq!(
        app.scalar_text(&format!("SELECT etat FROM demandes_qualification WHERE id = {id}"))
            .await,
        "brouillon"
    );
    for b in [&mut other, &mut hub, &mut op] {
        let r = b
            .post(
                &format!("/qualification/demandes/{id}"),
                &form("73282932000074", "enregistrer"),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = place
        .post(
            &format!("/qualification/demandes/{id}"),
            &form("732 829 320 00074", "enregistrer"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = place.get(&format!("/qualification/demandes/{id}")).await;
    assert!(
        page.body
            .contains("pièce justificative manquante : Attestation d&#39;assurance")
            || page
                .body
                .contains("pièce justificative manquante : Attestation d'assurance"),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"Mairie de Bordeaux\""));
    labelled(&page.body);

    // Documents: checked by content and size; only the place attaches, the reviewers read.
    let r = upload(&mut place, id, "kbis_statuts", "statuts.html", b"<html><script>").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Seuls les fichiers PDF, PNG et JPEG"));
    let mut big = PDF.to_vec();
    big.resize(5 * 1024 * 1024 + 1, b' ');
    let r = upload(&mut place, id, "kbis_statuts", "gros.pdf", &big).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("dépasse 5 Mo"), "{}", r.body);
    let r = upload(&mut other, id, "kbis_statuts", "statuts.pdf", PDF).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for (nature, name, data) in [
        ("kbis_statuts", "../statuts.pdf", PDF),
        ("assurance", "assurance.png", PNG),
        ("rib", "rib.pdf", PDF),
    ] {
        let r = upload(&mut place, id, nature, name, data).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let piece = app
        .scalar_i64(&format!("SELECT MIN(id) FROM demandes_pieces WHERE demande_id = {id}"))
        .await;
    assert_eq!(
        app.scalar_text(&format!("SELECT nom_fichier FROM demandes_pieces WHERE id = {piece}"))
            .await,
        "statuts.pdf"
    );
    let doc = format!("/qualification/demandes/{id}/pieces/{piece}");
    for b in [&mut place, &mut hub, &mut op] {
        let r = b.get(&doc).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body.as_bytes(), PDF);
        assert_eq!(r.headers["content-type"], "application/pdf");
        assert_eq!(r.headers["cache-control"], "no-store");
    }
    for b in [&mut other, &mut far_hub, &mut funder] {
        assert_eq!(b.get(&doc).await.status, StatusCode::FORBIDDEN);
        assert_eq!(
            b.get(&format!("/qualification/demandes/{id}")).await.status,
            StatusCode::FORBIDDEN
        );
    }

    // Filed: the place, its legal representative and the opérateur hear of it.
    let r = place
        .post(
            &format!("/qualification/demandes/{id}"),
            &form("73282932000074", "deposer"),
        )
        .await;
    assert_eq!(
        r.location(),
        Some(format!("/qualification/demandes/{id}?ok=deposee").as_str()),
        "{}",
        r.body
    );
    assert_eq!(mails_to(&app, "representante@bordeaux.fr", "déposée").await, 1);
    assert_eq!(mails_to(&app, "accueil@bordeaux.fr", "déposée").await, 1);
    assert_eq!(mails_to(&app, "op@exemple.fr", "à instruire").await, 1);
    assert_eq!(
        mails_to(&app, "hub@nouvelle-aquitaine.fr", "à instruire").await,
        0,
        "not delegated"
    );
    let r = place
        .post(
            &format!("/qualification/demandes/{id}"),
            &form("73282932000074", "enregistrer"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("ne peut plus être modifiée"));

    // The hub sees its territory; it reviews only once the opérateur delegates.
    let list = hub.get("/qualification").await;
    assert!(list.body.contains(&format!("n° {id}")), "{}", list.body);
    assert!(!far_hub.get("/qualification").await.body.contains(&format!("n° {id}")));
    let decide = format!("/qualification/demandes/{id}/decision");
    let changes = [
        ("decision", "modifier"),
        ("message", "Joignez l'attestation d'assurance de 2026."),
    ];
    for b in [&mut hub, &mut far_hub, &mut place, &mut funder] {
        assert_eq!(b.post(&decide, &changes).await.status, StatusCode::FORBIDDEN);
    }
    ok(
        &app,
        &[
            "organisations",
            "instruction",
            "--organisation",
            &hub_org.to_string(),
            "--deleguer",
        ],
    );
    assert_eq!(far_hub.post(&decide, &changes).await.status, StatusCode::FORBIDDEN);
    let r = hub.post(&decide, &[("decision", "modifier"), ("message", "  ")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("est obligatoire"));
    let r = hub.post(&decide, &changes).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(mails_to(&app, "representante@bordeaux.fr", "à compléter").await, 1);
    let page = place.get(&format!("/qualification/demandes/{id}")).await;
    assert!(page.body.contains("Modifications demandées"));
    assert!(
        page.body.contains("attestation d&#39;assurance de 2026")
            || page.body.contains("attestation d'assurance de 2026")
    );
    let r = place
        .post(
            &format!("/qualification/demandes/{id}"),
            &form("73282932000074", "deposer"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        mails_to(&app, "hub@nouvelle-aquitaine.fr", "à instruire").await,
        1,
        "delegated now"
    );

    // Approved by the hub: qualified and listed, bank details wait for the opérateur.
    let r = hub.post(&decide, &[("decision", "approuver"), ("message", "")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        app.scalar_text(
            "SELECT q.etat FROM qualifications q JOIN lieux l ON l.id = q.lieu_id WHERE l.ext_id = 'mednum-1'"
        )
        .await,
        "active"
    );
    assert!(anon
        .get("/lieux/mednum-1")
        .await
        .body
        .contains("Accepte le Pass Numérique"));
    assert_eq!(
        hub.post(&decide, &[("decision", "approuver")]).await.status,
        StatusCode::BAD_REQUEST,
        "decided once"
    );
    assert_eq!(mails_to(&app, "representante@bordeaux.fr", "Lieu qualifié").await, 1);
    let bank = app
        .scalar_i64("SELECT id FROM coordonnees_bancaires WHERE etat = 'a_valider'")
        .await;
    for b in [&mut hub, &mut place, &mut funder] {
        assert_eq!(b.get("/reglements/coordonnees").await.status, StatusCode::FORBIDDEN);
        let r = b
            .post(&format!("/reglements/coordonnees/{bank}"), &[("decision", "valider")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let list = op.get("/reglements/coordonnees").await;
    assert!(list.body.contains("FR76 3000 6000 0112 3456 7890 189"), "{}", list.body);
    let r = op
        .post(&format!("/reglements/coordonnees/{bank}"), &[("decision", "valider")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.scalar_text(&format!("SELECT etat FROM coordonnees_bancaires WHERE id = {bank}"))
            .await,
        "validees"
    );

    // Another place cannot be qualified with the same SIRET.
    let r = other.post("/qualification/demandes", &[("lieu", "mednum-2")]).await;
    let id2 = application_id(&r);
    for (nature, name) in [("kbis_statuts", "k.pdf"), ("assurance", "a.pdf"), ("rib", "r.pdf")] {
        assert_eq!(
            upload(&mut other, id2, nature, name, PDF).await.status,
            StatusCode::SEE_OTHER
        );
    }
    let r = other
        .post(
            &format!("/qualification/demandes/{id2}"),
            &form("73282932000074", "deposer"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("un SIRET ne qualifie qu&#39;un lieu") || r.body.contains("un SIRET ne qualifie qu'un lieu"),
        "{}",
        r.body
    );
    let r = other
        .post(
            &format!("/qualification/demandes/{id2}"),
            &form("35600000000047", "deposer"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Refused by the opérateur, with its reasons.
    let decide2 = format!("/qualification/demandes/{id2}/decision");
    assert_eq!(
        op.post(&decide2, &[("decision", "refuser"), ("message", "")])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let r = op
        .post(
            &decide2,
            &[
                ("decision", "refuser"),
                ("message", "Le lieu n'accueille pas de public."),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let refused = app
        .scalar_text("SELECT corps FROM courriels WHERE destinataire = 'accueil@pessac.fr' AND sujet LIKE '%refusée%'")
        .await;
    assert!(refused.contains("Le lieu n'accueille pas de public."), "{refused}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM lieux WHERE ext_id = 'mednum-2' AND pass_numerique")
            .await,
        0
    );

    // A new IBAN waits for validation; the legal representative is told.
    let change = [
        ("iban", "FR14 2004 1010 0505 0001 3M02 606"),
        ("bic", "PSSTFRPPBOR"),
        ("titulaire", "Mairie de Bordeaux"),
    ];
    for b in [&mut other, &mut hub, &mut op] {
        let r = b.post("/qualification/lieux/mednum-1/coordonnees", &change).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = place
        .post(
            "/qualification/lieux/mednum-1/coordonnees",
            &[("iban", "FR76 0000"), ("bic", "X"), ("titulaire", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = place.post("/qualification/lieux/mednum-1/coordonnees", &change).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        mails_to(
            &app,
            "representante@bordeaux.fr",
            "Changement de coordonnées bancaires demandé"
        )
        .await,
        1
    );
    let home = place.get("/qualification").await;
    assert!(
        home.body.contains("changement en attente de validation"),
        "{}",
        home.body
    );
    let new_bank = app
        .scalar_i64("SELECT id FROM coordonnees_bancaires WHERE etat = 'a_valider'")
        .await;
    let r = op
        .post(
            &format!("/reglements/coordonnees/{new_bank}"),
            &[("decision", "refuser"), ("motif", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = op
        .post(
            &format!("/reglements/coordonnees/{new_bank}"),
            &[("decision", "refuser"), ("motif", "RIB illisible")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.scalar_text("SELECT iban FROM coordonnees_bancaires WHERE etat = 'validees'")
            .await,
        "FR7630006000011234567890189",
        "payments still go to the validated account"
    );
    assert_eq!(
        mails_to(
            &app,
            "representante@bordeaux.fr",
            "Changement de coordonnées bancaires refusé"
        )
        .await,
        1,
        "{}",
        app.scalar_text(
            "SELECT GROUP_CONCAT(sujet, ' | ') FROM courriels WHERE destinataire = 'representante@bordeaux.fr'"
        )
        .await
    );
    place.post("/qualification/lieux/mednum-1/coordonnees", &change).await;
    let newer = app
        .scalar_i64("SELECT id FROM coordonnees_bancaires WHERE etat = 'a_valider'")
        .await;
    op.post(&format!("/reglements/coordonnees/{newer}"), &[("decision", "valider")])
        .await;
    assert_eq!(
        app.scalar_text("SELECT iban FROM coordonnees_bancaires WHERE etat = 'validees'")
            .await,
        "FR1420041010050500013M02606"
    );
    assert_eq!(
        mails_to(
            &app,
            "representante@bordeaux.fr",
            "Nouvelles coordonnées bancaires validées"
        )
        .await,
        2,
        "the account of the application, then the new one"
    );

    // Suspension, reinstatement, withdrawal: by the reviewers of the territory only.
    let state = "/qualification/lieux/mednum-1/etat";
    for b in [&mut far_hub, &mut place, &mut funder] {
        let r = b
            .post(state, &[("changement", "suspendre"), ("motif", "Contrôle")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = hub.post(state, &[("changement", "suspendre"), ("motif", "")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = hub
        .post(state, &[("changement", "suspendre"), ("motif", "Contrôle en cours")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(!anon
        .get("/lieux/mednum-1")
        .await
        .body
        .contains("Accepte le Pass Numérique"));
    assert_eq!(mails_to(&app, "representante@bordeaux.fr", "suspendue").await, 1);
    let r = place.post("/qualification/demandes", &[("lieu", "mednum-1")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "a suspended place does not apply again");
    let r = op.post(state, &[("changement", "retablir"), ("motif", "")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(anon
        .get("/lieux/mednum-1")
        .await
        .body
        .contains("Accepte le Pass Numérique"));
    let r = op.post(state, &[("changement", "retablir"), ("motif", "")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "already active");
    let r = op
        .post(state, &[("changement", "retirer"), ("motif", "Fermeture du lieu")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM qualifications q JOIN lieux l ON l.id = q.lieu_id WHERE l.ext_id = 'mednum-1' AND q.etat = 'retiree'")
            .await,
        1
    );
    let r = place.post("/qualification/demandes", &[("lieu", "mednum-1")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "a withdrawn place may apply again");

    // Every step is in the journal, which still verifies.
    let actions = app.journal_actions().await;
    for a in [
        "qualification.demande",
        "qualification.piece",
        "qualification.depot",
        "qualification.decision",
        "hub.delegation_instruction",
        "lieu.changement_coordonnees_bancaires",
        "lieu.coordonnees_bancaires",
        "lieu.coordonnees_bancaires_refusees",
        "qualification.suspension",
        "qualification.retablissement",
        "qualification.retrait",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}");
    }
    ok(&app, &["journal", "verify"]);

    // And the e-mails leave through SMTP.
    let sink = crate::smtp::start().await;
    ok(&app, &["courriels", "envoyer", "--smtp-url", &sink.url]);
    let got = sink.received();
    assert!(got.iter().any(|m| m.contains("representante@bordeaux.fr")), "{got:?}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM courriels WHERE envoye_at IS NULL")
            .await,
        0
    );
}

/// From the application to the transfer: a place qualified through its
/// application redeems cheques, cannot while suspended, and is paid on the
/// account the opérateur validated.
#[tokio::test]
async fn a_place_qualified_through_its_application_redeems_and_is_paid() {
    use crate::pass::{call, scene};
    use crate::support::cli_json as json_of;

    let app = TestApp::new().await;
    let s = scene(&app).await;
    let id = s.order.to_string();
    ok(&app, &["commandes", "payer", &id, "--reference", "VIR-1"]);
    let first = s.first_booklet.to_string();
    ok(
        &app,
        &[
            "carnets",
            "attribuer",
            "--commande",
            &id,
            "--prescripteur",
            &s.prescriber,
            "--de",
            &first,
            "--a",
            &first,
        ],
    );
    ok(
        &app,
        &[
            "carnets",
            "remettre",
            &first,
            "--public",
            "seniors",
            "--commune",
            "33318",
        ],
    );

    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let (mut place, org) = signed_in(&app, "lieu", "lieu", "accueil@bordeaux.fr").await;
    app.exec(&format!(
        "UPDATE lieux SET organisation_id = {org} WHERE ext_id = 'mednum-1'"
    ))
    .await
    .unwrap();
    let key = json_of(&app, &["lieux", "cle-api", "mednum-1"])["cle"]
        .as_str()
        .unwrap()
        .to_string();
    let redeem = |n: usize, idem: &'static str| {
        let body =
            serde_json::json!({ "code": s.codes[n].2, "service": "Aide aux démarches administratives" }).to_string();
        let key = key.clone();
        let app = &app;
        async move { call(app, "/api/v1/cheques/encaisser", Some(&key), Some(idem), body).await }
    };
    let (st, v) = redeem(0, "a").await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["motif"], "lieu_non_qualifie");

    let r = place.post("/qualification/demandes", &[("lieu", "mednum-1")]).await;
    let demande = application_id(&r);
    for (nature, name) in [("kbis_statuts", "k.pdf"), ("assurance", "a.pdf"), ("rib", "r.pdf")] {
        assert_eq!(
            upload(&mut place, demande, nature, name, PDF).await.status,
            StatusCode::SEE_OTHER
        );
    }
    let r = place
        .post(
            &format!("/qualification/demandes/{demande}"),
            &form("73282932000074", "deposer"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = op
        .post(
            &format!("/qualification/demandes/{demande}/decision"),
            &[("decision", "approuver")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.scalar_text("SELECT etat FROM coordonnees_bancaires").await,
        "validees",
        "approved by the opérateur: the bank details are validated with it"
    );
    let (st, v) = redeem(0, "b").await;
    assert_eq!(st, StatusCode::CREATED, "{v}");

    op.post(
        "/qualification/lieux/mednum-1/etat",
        &[("changement", "suspendre"), ("motif", "Contrôle")],
    )
    .await;
    let (st, v) = redeem(1, "c").await;
    assert_eq!(v["motif"], "lieu_non_qualifie", "{st} {v}");
    op.post("/qualification/lieux/mednum-1/etat", &[("changement", "retablir")])
        .await;
    let (st, v) = redeem(1, "d").await;
    assert_eq!(st, StatusCode::CREATED, "{v}");

    app.exec("UPDATE encaissements SET jour = '2026-10-15'").await.unwrap();
    ok(
        &app,
        &[
            "reglements",
            "compte",
            "--nom",
            "Opérateur",
            "--iban",
            "FR1420041010050500013M02606",
            "--bic",
            "PSSTFRPPBOR",
        ],
    );
    let v = json_of(&app, &["reglements", "generer", "--jusqu-au", "2026-11-01"]);
    assert_eq!(v["releves"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["releves"][0]["lignes"], 2);
    assert_eq!(v["total_centimes"], 2000);
    let lot = v["lot"]["id"].as_i64().or_else(|| v["lot"].as_i64()).unwrap();
    let xml = app
        .scalar_text(&format!("SELECT xml FROM lots_virements WHERE id = {lot}"))
        .await;
    assert!(xml.contains("<IBAN>FR7630006000011234567890189</IBAN>"), "{xml}");
    assert!(xml.contains("<Nm>Mairie de Bordeaux</Nm>"), "{xml}");
    let page = place.get("/releves").await;
    let numero = v["releves"][0]["numero"].as_str().unwrap();
    assert!(page.body.contains(numero), "{}", page.body);
    assert!(page.body.contains("<td>2</td><td>20 €</td>"), "{}", page.body);
}
