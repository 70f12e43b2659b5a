//! Pass Numérique pages: the holder's page behind the QR code and the counter page.

use axum::http::StatusCode;

use crate::pass::{ready, scene, ACCES};
use crate::support::TestApp;

#[tokio::test]
async fn the_holder_s_page_and_the_counter_page() {
    let app = TestApp::new().await;
    let s = ready(&app, scene(&app).await).await;
    let code = s.codes[0].2.clone();
    let compact = code.replace('-', "");
    let mut anon = app.browser();

    // The QR code's page: valid, until when, and the qualified places of the perimeter.
    let r = anon.get(&format!("/c/{compact}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Ce chèque est valable"), "{}", r.body);
    assert!(r.body.contains("10 €, jusqu&#39;au 30/01/2100"), "{}", r.body);
    assert!(r.body.contains("Espace public numérique de Pessac"));
    // Issue 22: each place with its address, and the way to the nearest ones.
    assert!(r.body.contains("Place de la Ve République, 33600 Pessac"), "{}", r.body);
    assert!(r.body.contains("href=\"/lieux?pass_numerique=1\""), "{}", r.body);
    assert!(!r.body.contains("Lormont"), "hors périmètre");
    assert!(!r.body.contains("Encaisser ce chèque dans mon lieu"));
    let r = anon.get("/c/%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert!(r.body.contains("Code mal saisi"));
    assert!(!r.body.contains("<script>alert"));
    let unknown = passerelle_core::pass_numerique::code::Code::random().compact();
    assert_eq!(anon.get(&format!("/c/{unknown}")).await.status, StatusCode::NOT_FOUND);
    assert!(anon
        .get(&format!("/c/{}", s.codes[10].2))
        .await
        .body
        .contains("pas encore été remis"));

    // The counter: only the staff of the place's organisation; others are refused.
    let (mut staff, org) = crate::lieux_pages::signed_in(&app, "lieu", "lieu", "accueil@pessac.fr").await;
    app.exec(&format!(
        "UPDATE lieux SET organisation_id = {org} WHERE ext_id = 'mednum-2'"
    ))
    .await
    .unwrap();
    assert_eq!(anon.get("/encaisser").await.location(), Some("/connexion"));
    let (mut op, _) = crate::lieux_pages::signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    assert_eq!(op.get("/encaisser").await.status, StatusCode::FORBIDDEN);
    let (mut other, _) = crate::lieux_pages::signed_in(&app, "lieu", "lieu", "autre@lieu.fr").await;
    let page = other.get("/encaisser").await;
    assert!(page.body.contains("aucun lieu"), "{}", page.body);
    let place_id = app
        .scalar_i64("SELECT id FROM lieux WHERE ext_id = 'mednum-2'")
        .await
        .to_string();
    let steal = [
        ("lieu", place_id.as_str()),
        ("code", code.as_str()),
        ("service", ACCES),
        ("demande", "x"),
    ];
    assert_eq!(other.post("/encaisser", &steal).await.status, StatusCode::FORBIDDEN);

    let page = staff.get(&format!("/encaisser?code={compact}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Espace public numérique de Pessac"));
    assert!(page.body.contains(&format!("value=\"{compact}\"")));
    // The camera reader is an enhancement: hidden until the script finds a QR reader in the browser.
    assert!(page.body.contains("id=\"scanner\" hidden") && page.body.contains("/static/app/scan.js"));
    let js = anon.get("/static/app/scan.js").await;
    assert_eq!(js.headers["content-type"], "text/javascript; charset=utf-8");
    assert!(js.body.contains("BarcodeDetector"));
    assert!(staff
        .get(&format!("/c/{compact}"))
        .await
        .body
        .contains("Encaisser ce chèque dans mon lieu"));
    let form = |action: &'static str, demande: &'static str| {
        vec![
            ("lieu", place_id.clone()),
            ("code", code.to_lowercase()),
            ("service", ACCES.to_string()),
            ("demande", demande.to_string()),
            ("action", action.to_string()),
        ]
    };
    let checked = form("verifier", "d-1");
    let fields: Vec<(&str, &str)> = checked.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = staff.post("/encaisser", &fields).await;
    assert!(r.body.contains("Chèque valable"), "{}", r.body);
    let redeem_form = form("encaisser", "d-2");
    let fields: Vec<(&str, &str)> = redeem_form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = staff.post("/encaisser", &fields).await;
    assert!(r.body.contains("Chèque encaissé"), "{}", r.body);
    assert!(
        r.body.contains("10 € pour « Accès internet et matériel informatique »"),
        "{}",
        r.body
    );
    // The same form sent twice (double click) redeems once and shows the same receipt.
    let again = staff.post("/encaisser", &fields).await;
    assert!(again.body.contains("Chèque encaissé"), "{}", again.body);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM encaissements").await, 1);
    // A new form for the same cheque: refused, with the date.
    let other_form = form("encaisser", "d-3");
    let fields: Vec<(&str, &str)> = other_form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = staff.post("/encaisser", &fields).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.body.contains("déjà encaissé le") && r.body.contains("dans votre lieu"),
        "{}",
        r.body
    );
    assert!(anon.get(&format!("/c/{compact}")).await.body.contains("déjà encaissé"));
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'cheque.encaissement' AND actor_role = 'lieu'")
            .await,
        1
    );
}

/// A holder without a camera types the code of his cheque, from the home page's link; the
/// code goes in the query string (never logged), and the cheque's page answers as for the QR.
#[tokio::test]
async fn a_holder_types_the_code_of_his_cheque() {
    let app = TestApp::new().await;
    let mut visitor = app.browser();
    let home = visitor.get("/").await;
    assert!(
        home.body.contains("href=\"/c\"") && home.body.contains("Vérifier mon chèque"),
        "{}",
        home.body
    );
    // Issue 23: an usager finds his mandates from the home page too, not only in the menu.
    assert!(
        home.body
            .contains("href=\"/espace-usager\">Voir et révoquer les mandats que j'ai donnés</a>"),
        "{}",
        home.body
    );
    let entry = visitor.get("/c").await;
    assert_eq!(entry.status, StatusCode::OK);
    assert!(entry.body.contains("<form method=\"get\" action=\"/c\"") && entry.body.contains("id=\"code\""));
    let typed = visitor.get("/c?code=abcd-efgh%20jkmn-pqrst").await;
    assert_eq!(typed.status, StatusCode::SEE_OTHER);
    assert_eq!(typed.location(), Some("/c/ABCDEFGHJKMNPQRST"));
    let blank = visitor.get("/c?code=%20-%20").await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert!(
        blank.body.contains("Saisissez le code imprimé sur le chèque"),
        "{}",
        blank.body
    );
    // A mistyped code: the page says so, and offers to type it again.
    let wrong = visitor.get("/c/ABCDEFGHJKMNPQRST").await;
    assert!(wrong.body.contains("action=\"/c\""), "{}", wrong.body);
}

#[tokio::test]
async fn orders_pages_hand_out_page_and_cancelling_a_redemption() {
    let app = TestApp::new().await;
    let s = ready(&app, scene(&app).await).await;
    let order = s.order;

    // Orders: the opérateur sees all, a funder its own only, others nothing.
    let (mut funder, funder_org) =
        crate::lieux_pages::signed_in(&app, "commanditaire", "commanditaire", "f@gironde.fr").await;
    let (mut other_funder, _) =
        crate::lieux_pages::signed_in(&app, "commanditaire", "commanditaire", "f@landes.fr").await;
    let (mut op, _) = crate::lieux_pages::signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let (mut prescriber, prescriber_org) =
        crate::lieux_pages::signed_in(&app, "prescripteur", "prescripteur", "p@ccas.fr").await;
    app.exec(&format!(
        "UPDATE commandes SET commanditaire_id = {funder_org} WHERE id = {order}"
    ))
    .await
    .unwrap();
    let page = op.get("/commandes").await;
    assert!(
        page.body.contains(&format!("href=\"/commandes/{order}\"")),
        "{}",
        page.body
    );
    let detail = funder.get(&format!("/commandes/{order}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(
        detail.body.contains("Payée") && detail.body.contains("DEV-") && detail.body.contains("FAC-"),
        "{}",
        detail.body
    );
    assert!(detail.body.contains("Carnets émis : 3"), "{}", detail.body);
    // The invoice in PDF, for the funder; not for another one.
    let at = detail.body.find("FAC-").unwrap();
    let invoice = &detail.body[at..at + 15];
    let pdf = funder.get(&format!("/commandes/{order}/documents/{invoice}")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    assert!(pdf.body.starts_with("%PDF-"));
    assert_eq!(
        other_funder
            .get(&format!("/commandes/{order}/documents/{invoice}"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        funder
            .get(&format!("/commandes/{order}/documents/FAC-1999-000001"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(funder
        .get("/commandes")
        .await
        .body
        .contains(&format!("/commandes/{order}")));
    assert!(!other_funder
        .get("/commandes")
        .await
        .body
        .contains(&format!("/commandes/{order}")));
    assert_eq!(
        other_funder.get(&format!("/commandes/{order}")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(prescriber.get("/commandes").await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.browser().get("/commandes").await.location(), Some("/connexion"));

    // Hand-out: only for the prescriber the booklet is allotted to.
    let second = (s.first_booklet + 1).to_string();
    assert_eq!(funder.get("/remettre").await.status, StatusCode::FORBIDDEN);
    let form = [
        ("carnet", second.as_str()),
        ("public", "seniors"),
        // As the person says it: the commune's name, not its INSEE code.
        ("commune", "Pessac"),
        ("tranche_age", "75-et-plus"),
    ];
    assert_eq!(
        prescriber.post("/remettre", &form).await.status,
        StatusCode::FORBIDDEN,
        "alloué à un autre prescripteur"
    );
    app.exec(&format!(
        "UPDATE carnets SET prescripteur_id = {prescriber_org} WHERE numero = {second}"
    ))
    .await
    .unwrap();
    // The desk says which booklets are left, presets the first, and offers the publics of its order.
    let desk = prescriber.get("/remettre").await;
    assert!(
        desk.body.contains(&format!(
            "Carnets de votre organisation à remettre : n° {second} (commande n° {order})"
        )) && desk.body.contains(&format!(
            "name=\"carnet\" required autocomplete=\"off\" maxlength=\"12\" value=\"{second}\""
        )),
        "{}",
        desk.body
    );
    let mut homonyms = form.to_vec();
    homonyms.retain(|(k, _)| *k != "commune");
    homonyms.push(("commune", "Saint-Denis"));
    let r = prescriber.post("/remettre", &homonyms).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Issue 23: what was typed stays after a refusal (the public, the age band, the commune).
    assert!(
        r.body.contains("<option value=\"seniors\" selected>")
            && r.body.contains("<option value=\"75-et-plus\" selected>")
            && r.body.contains("value=\"Saint-Denis\""),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("désigne plusieurs communes") && r.body.contains("93066"),
        "{}",
        r.body
    );
    let mut with_contact = form.to_vec();
    with_contact.push(("contact", "06 12 34 56 78"));
    let r = prescriber.post("/remettre", &with_contact).await;
    assert!(r.body.contains("consentement"), "{}", r.body);
    let r = prescriber
        .post(
            "/remettre",
            &[("carnet", "douze"), ("public", "seniors"), ("commune", "33318")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    with_contact.push(("consentement", "oui"));
    let r = prescriber.post("/remettre", &with_contact).await;
    assert!(r.body.contains("Carnet remis"), "{}", r.body);
    // What was recorded, and until when the cheques are valid (end of validity plus tolerance).
    assert!(
        r.body.contains(&format!(
            "La remise du carnet n° {second} est enregistrée (Seniors, Pessac). Ses chèques sont valables jusqu&#39;au 30/01/2100."
        )),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains("value=\"Pessac\""),
        "the form is empty again for the next person"
    );
    let stored = app
        .scalar_text(&format!("SELECT contact FROM carnets WHERE numero = {second}"))
        .await;
    assert!(!stored.contains("06 12"), "le contact est chiffré");
    assert_eq!(
        app.scalar_text(&format!("SELECT commune FROM carnets WHERE numero = {second}"))
            .await,
        "33318",
        "« Pessac » is stored as its INSEE code"
    );
    assert!(prescriber
        .post("/remettre", &form)
        .await
        .body
        .contains("déjà été remis"));
    // An unknown booklet declared lost: said so, not « Remise refusée : carnet n° 999 ».
    let r = prescriber.post("/remettre/perte", &[("carnet", "999999")]).await;
    assert!(
        r.body.contains("Déclaration refusée") && r.body.contains("Introuvable : carnet n° 999999."),
        "{}",
        r.body
    );
    let r = prescriber.post("/remettre/perte", &[("carnet", second.as_str())]).await;
    assert!(r.body.contains("10 chèques non utilisés annulés"), "{}", r.body);

    // The counter: redeem, then cancel the mistake; the cheque is usable again.
    let (mut staff, org) = crate::lieux_pages::signed_in(&app, "lieu", "lieu", "accueil@pessac.fr").await;
    app.exec(&format!(
        "UPDATE lieux SET organisation_id = {org} WHERE ext_id = 'mednum-2'"
    ))
    .await
    .unwrap();
    let place = app
        .scalar_i64("SELECT id FROM lieux WHERE ext_id = 'mednum-2'")
        .await
        .to_string();
    let code = s.codes[4].2.as_str();
    let r = staff
        .post(
            "/encaisser",
            &[
                ("lieu", place.as_str()),
                ("code", code),
                ("service", ACCES),
                ("demande", "a-1"),
            ],
        )
        .await;
    assert!(r.body.contains("Annuler cet encaissement"), "{}", r.body);
    let id = app.scalar_i64("SELECT MAX(id) FROM encaissements").await.to_string();
    let (mut thief, _) = crate::lieux_pages::signed_in(&app, "lieu", "lieu", "autre@lieu.fr").await;
    assert_eq!(
        thief
            .post(
                "/encaisser/annuler",
                &[("lieu", place.as_str()), ("encaissement", id.as_str())]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = staff
        .post(
            "/encaisser/annuler",
            &[("lieu", place.as_str()), ("encaissement", id.as_str())],
        )
        .await;
    assert!(r.body.contains("Encaissement annulé"), "{}", r.body);
    let again = staff
        .post(
            "/encaisser/annuler",
            &[("lieu", place.as_str()), ("encaissement", id.as_str())],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(
        app.scalar_text(&format!(
            "SELECT etat FROM cheques WHERE id = (SELECT cheque_id FROM encaissements WHERE id = {id})"
        ))
        .await,
        "actif"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'cheque.annulation_encaissement'")
            .await,
        1
    );
    let r = staff
        .post(
            "/encaisser",
            &[
                ("lieu", place.as_str()),
                ("code", code),
                ("service", ACCES),
                ("demande", "a-2"),
            ],
        )
        .await;
    assert!(r.body.contains("Chèque encaissé"), "{}", r.body);
}

#[tokio::test]
async fn the_funder_accepts_the_quote_and_the_operator_records_the_payment() {
    let app = TestApp::new().await;
    let s = scene(&app).await;
    let order = s.order;
    let (mut funder, funder_org) =
        crate::lieux_pages::signed_in(&app, "commanditaire", "commanditaire", "f@gironde.fr").await;
    let (mut other_funder, _) =
        crate::lieux_pages::signed_in(&app, "commanditaire", "commanditaire", "f@landes.fr").await;
    let (mut op, _) = crate::lieux_pages::signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    app.exec(&format!(
        "UPDATE commandes SET commanditaire_id = {funder_org} WHERE id = {order}"
    ))
    .await
    .unwrap();

    let page = funder.get(&format!("/commandes/{order}")).await;
    assert!(page.body.contains("Accepter le devis") && !page.body.contains("Enregistrer le paiement"));
    assert_eq!(
        other_funder
            .post(&format!("/commandes/{order}/accepter"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        funder
            .post(&format!("/commandes/{order}/paiement"), &[("reference", "VIR-9")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = funder.post(&format!("/commandes/{order}/accepter"), &[]).await;
    assert_eq!(r.location(), Some(format!("/commandes/{order}?ok=acceptee").as_str()));
    let accepted = funder.get(&format!("/commandes/{order}?ok=acceptee")).await.body;
    assert!(accepted.contains("Devis accepté"), "{accepted}");
    // The order says the same last day as the holder's page (« jusqu'au 30/01/2100 »), and that
    // the printed cheques give the end of validity, without the tolerance (print.rs).
    assert!(
        accepted.contains("au 31/12/2099, les dates imprimées sur les chèques, plus")
            && accepted.contains(
                "les chèques sont acceptés jusqu'au 30/01/2100, la date que donne la page de chaque chèque (son QR code)"
            ),
        "{accepted}"
    );
    // Issue 22: every POST that succeeds says what it did.
    assert!(
        accepted.contains("Le devis est accepté. La commande attend maintenant son paiement."),
        "{accepted}"
    );
    assert_eq!(
        funder.post(&format!("/commandes/{order}/accepter"), &[]).await.status,
        StatusCode::BAD_REQUEST
    );

    assert!(op
        .get(&format!("/commandes/{order}"))
        .await
        .body
        .contains("Enregistrer le paiement"));
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM cheques WHERE etat = 'actif'")
            .await,
        0
    );
    let r = op
        .post(&format!("/commandes/{order}/paiement"), &[("reference", "VIR-2026-7")])
        .await;
    assert_eq!(r.location(), Some(format!("/commandes/{order}?ok=payee").as_str()));
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM cheques WHERE etat = 'actif'")
            .await,
        30
    );
    let detail = op.get(&format!("/commandes/{order}?ok=payee")).await;
    assert!(
        detail
            .body
            .contains("Le paiement est enregistré : la facture est émise et les chèques de la commande sont actifs."),
        "{}",
        detail.body
    );
    assert!(
        detail.body.contains("Payée")
            && detail.body.contains("FAC-")
            && !detail.body.contains("Enregistrer le paiement")
    );
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM journal WHERE action = 'commande.acceptation' AND actor_role = 'commanditaire'"
        )
        .await,
        1
    );
}

/// Issue 22: the counter form starts on a place that can redeem, and lists the services of the
/// chosen place (the script keeps the list in step when another place is chosen).
#[tokio::test]
async fn the_counter_form_starts_on_a_qualified_place_with_its_services() {
    let app = TestApp::new().await;
    let s = ready(&app, scene(&app).await).await;
    let (mut staff, org) = crate::lieux_pages::signed_in(&app, "lieu", "lieu", "accueil@deux-lieux.fr").await;
    // « Association Clic Solidaire » (Lormont) comes first by name.
    app.exec(&format!(
        "UPDATE lieux SET organisation_id = {org} WHERE ext_id IN ('mednum-2', 'mednum-3')"
    ))
    .await
    .unwrap();
    let pessac = app.scalar_i64("SELECT id FROM lieux WHERE ext_id = 'mednum-2'").await;
    let lormont = app.scalar_i64("SELECT id FROM lieux WHERE ext_id = 'mednum-3'").await;
    // Lormont's qualification is suspended: it may not redeem.
    app.exec(&format!(
        "UPDATE qualifications SET etat = 'suspendue' WHERE lieu_id = {lormont}"
    ))
    .await
    .unwrap();
    let page = staff.get("/encaisser").await.body;
    let select = &page[page
        .find("<select class=\"fr-select\" id=\"lieu\"")
        .expect("liste des lieux")..];
    let select = &select[..select.find("</select>").unwrap()];
    assert!(
        select.contains(&format!(
            "<option value=\"{lormont}\" data-services=\"Aide aux démarches administratives|Utilisation sécurisée du numérique\" disabled>Association Clic Solidaire (non qualifié)</option>"
        )),
        "{select}"
    );
    assert!(
        select.contains(&format!("<option value=\"{pessac}\" data-services=\"")),
        "{select}"
    );
    assert!(
        select.contains("selected>Espace public numérique de Pessac</option>"),
        "{select}"
    );
    // The services offered are Pessac's, not Lormont's nor every service of the standard.
    let services = &page[page.find("id=\"service\"").unwrap()..];
    let services = &services[..services.find("</select>").unwrap()];
    assert!(services.contains(ACCES), "{services}");
    assert!(!services.contains("Utilisation sécurisée du numérique"), "{services}");
    assert!(page.contains("/static/app/encaisser.js"));
    let js = staff.get("/static/app/encaisser.js").await;
    assert_eq!(js.headers["content-type"], "text/javascript; charset=utf-8");
    assert!(js.body.contains("data-services"));

    // A cheque whose order pays for one service only: once its code is known (the cheque's page
    // leads to /encaisser?code=…), the form offers that service alone, and says so.
    let demarches = "Aide aux démarches administratives";
    app.exec(&format!(
        "UPDATE lieux SET services = '{ACCES}|{demarches}' WHERE id = {pessac}"
    ))
    .await
    .unwrap();
    app.exec(&format!(
        "UPDATE commandes SET services = '{demarches}' WHERE id = {}",
        s.order
    ))
    .await
    .unwrap();
    let before = staff.get("/encaisser").await.body;
    assert!(before.contains(&format!("<option value=\"{ACCES}\"")), "{before}");
    let page = staff.get(&format!("/encaisser?code={}", s.codes[0].2)).await.body;
    let services = &page[page.find("id=\"service\"").unwrap()..];
    let services = &services[..services.find("</select>").unwrap()];
    assert!(services.contains(demarches) && !services.contains(ACCES), "{services}");
    assert!(
        page.contains(&format!("Les chèques de cette commande ne paient que : {demarches}.")),
        "{page}"
    );
    assert!(page.contains(&format!("data-services=\"{demarches}\"")), "{page}");

    // Staff whose only place is not qualified are told so, and where to ask.
    let (mut alone, org2) = crate::lieux_pages::signed_in(&app, "lieu", "lieu", "accueil@lormont.fr").await;
    app.exec(&format!(
        "UPDATE lieux SET organisation_id = {org2} WHERE ext_id = 'mednum-3'"
    ))
    .await
    .unwrap();
    let page = alone.get("/encaisser").await.body;
    assert!(
        page.contains("Votre lieu n'est pas qualifié pour le Pass Numérique"),
        "{page}"
    );
    assert!(page.contains("href=\"/qualification\""), "{page}");
    assert!(!page.contains("name=\"code\""), "no form that can only fail: {page}");
}
