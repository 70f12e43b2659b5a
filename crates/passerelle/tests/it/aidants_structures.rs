//! Aidants Connect, structures and aidants, through the pages: a structure
//! asks for habilitation, the opérateur asks changes then accepts, the
//! référent signs in with a link, aidants are trained, get a TOTP card or an
//! app, are activated, switch structures; the recent-TOTP check; inactivity.
//! Every route is tried by someone who must be refused.

use axum::http::StatusCode;
use passerelle_core::accounts::{Principal, Role};
use passerelle_core::aidants_connect::{inactivity, review, structures};
use passerelle_core::qualification::decisions::Decision;

use crate::lieux_pages::signed_in;
use crate::support::{cli, secret_on_page, totp_code, Browser, TestApp, BASE};

const SEED_A: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const SEED_B: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn request<'a>(
    siret: &'a str,
    nom: &'a str,
    referent: &'a str,
    aidants: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("siret", siret),
        ("nom", nom),
        ("type_structure", "ccas"),
        ("adresse", "1 place de la Mairie, 33130 Bègles"),
        ("contact_courriel", "contact@structure.fr"),
        ("referent_nom", "Awa Diallo"),
        ("referent_courriel", referent),
        ("demarches", "social"),
        ("demarches", "papiers"),
    ];
    for (n, e) in aidants {
        f.push(("aidant_nom", n));
        f.push(("aidant_courriel", e));
    }
    f
}

/// The token in the last e-mail to `to` whose body holds `jeton=` (such
/// bodies are stored sealed: opened here with the deployment's key).
pub(crate) async fn token_mailed_to(app: &TestApp, to: &str) -> String {
    let body = crate::securite::last_mail_with(app, to, "jeton=").await;
    let start = body.find("jeton=").unwrap() + 6;
    body[start..].split_whitespace().next().unwrap().to_string()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.scalar_i64(sql).await
}

/// Signs in with a link by e-mail; returns the browser at the TOTP (or enrolment) step.
async fn link_step(app: &TestApp, email: &str) -> (Browser, String) {
    let mut b = app.browser();
    b.get("/connexion/lien").await;
    let r = b.post("/connexion/lien", &[("email", email)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Si cette adresse correspond"), "{}", r.body);
    let token = token_mailed_to(app, email).await;
    assert_eq!(
        b.get(&format!("/connexion/lien/ouvrir?jeton={token}")).await.status,
        StatusCode::OK
    );
    let r = b.post("/connexion/lien/ouvrir", &[("jeton", &token)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.location().unwrap().to_string();
    (b, to)
}

async fn operator_principal(app: &TestApp) -> Principal {
    let (id, _) = app.account("operateur", "operateur", "op2@exemple.fr", true).await;
    let org = count(app, &format!("SELECT organisation_id FROM accounts WHERE id = {id}")).await;
    Principal {
        account_id: id,
        role: Role::Operateur,
        organisation_id: org,
    }
}

#[tokio::test]
async fn a_structure_is_habilitated_its_aidants_trained_equipped_activated_and_they_switch_structures() {
    let app = TestApp::new().await;
    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let (mut lieu, _) = signed_in(&app, "lieu", "lieu", "lieu@exemple.fr").await;
    let mut anon = app.browser();

    // The public form: every gap reported, then filed.
    assert_eq!(anon.get("/aidants-connect/habilitation").await.status, StatusCode::OK);
    let r = anon
        .post(
            "/aidants-connect/habilitation",
            &request("123", "", "pas-une-adresse", &[]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    for gap in [
        "SIRET",
        "le nom de la structure",
        "courriel du référent",
        "au moins un aidant",
    ] {
        assert!(r.body.contains(gap), "{gap}");
    }
    let aidants_a = [("Léo Martin", "leo@exemple.fr"), ("Inès Roy", "ines@exemple.fr")];
    let r = anon
        .post(
            "/aidants-connect/habilitation",
            &request("73282932000074", "CCAS de Bègles", "referent-a@exemple.fr", &aidants_a),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let follow = token_mailed_to(&app, "contact@structure.fr").await;
    let id_a = count(&app, "SELECT MAX(id) FROM habilitations").await;
    let r = anon
        .get(&format!("/aidants-connect/habilitation/suivi?jeton={follow}"))
        .await;
    assert!(r.body.contains("Déposée, à instruire"), "{}", r.body);
    assert_eq!(
        anon.get("/aidants-connect/habilitation/suivi?jeton=faux").await.status,
        StatusCode::NOT_FOUND
    );

    // Only the opérateur reviews.
    assert_eq!(
        anon.get("/operateur/habilitations").await.location(),
        Some("/connexion")
    );
    for path in [
        "/operateur/habilitations".to_string(),
        format!("/operateur/habilitations/{id_a}"),
        "/operateur/aidants".to_string(),
    ] {
        assert_eq!(lieu.get(&path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let decision = format!("/operateur/habilitations/{id_a}/decision");
    assert_eq!(
        lieu.post(&decision, &[("decision", "approuver")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(op.get("/operateur/habilitations").await.body.contains("CCAS de Bègles"));
    let r = op.post(&decision, &[("decision", "modifier"), ("message", "")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = op
        .post(
            &decision,
            &[("decision", "modifier"), ("message", "Précisez l'adresse complète.")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        count(
            &app,
            "SELECT COUNT(*) FROM courriels WHERE destinataire = 'contact@structure.fr' AND sujet LIKE '%à compléter%'"
        )
        .await
            == 1
    );
    // The structure changes it through its link; it goes back to the opérateur.
    let mut changed = request("73282932000074", "CCAS de Bègles", "referent-a@exemple.fr", &aidants_a);
    changed.push(("jeton", &follow));
    let r = anon.post("/aidants-connect/habilitation/suivi", &changed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("transmise de nouveau"));
    let r = op.post(&decision, &[("decision", "approuver")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let again = anon.post("/aidants-connect/habilitation/suivi", &changed).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "accepted: no more changes");
    let org_a = count(
        &app,
        &format!("SELECT organisation_id FROM habilitations WHERE id = {id_a}"),
    )
    .await;
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM structures_demarches WHERE organisation_id = {org_a}")
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM accounts WHERE role = 'aidant' AND active = FALSE"
        )
        .await,
        2
    );

    // A second structure shares Léo.
    let p = operator_principal(&app).await;
    let form = structures::RequestForm {
        siret: "44306184100047".into(),
        nom: "France Services de Pessac".into(),
        type_structure: "france_services".into(),
        adresse: "Pessac".into(),
        contact_courriel: "contact@pessac.fr".into(),
        referent_nom: "Bruno".into(),
        referent_courriel: "referent-b@exemple.fr".into(),
        aidants: vec![("Léo Martin".into(), "leo@exemple.fr".into())],
        demarches: vec!["logement".into()],
    };
    let (id_b, _) = structures::submit(&app.core, &form, BASE).await.unwrap();
    review::decide(&app.core, &p, id_b, Decision::Approve, BASE)
        .await
        .unwrap();
    let org_b = count(
        &app,
        &format!("SELECT organisation_id FROM habilitations WHERE id = {id_b}"),
    )
    .await;
    let leo = count(&app, "SELECT id FROM accounts WHERE email = 'leo@exemple.fr'").await;
    let ines = count(&app, "SELECT id FROM accounts WHERE email = 'ines@exemple.fr'").await;
    // Léo already has an account: B's request only invites him, he joins if he accepts.
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM aidants_membres WHERE account_id = {leo}")
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM aidants_invitations WHERE courriel = 'leo@exemple.fr' AND organisation_id = {org_b}")
        )
        .await,
        1
    );

    // Référent A signs in with a link, enrols his app.
    let (mut ref_a, to) = link_step(&app, "referent-a@exemple.fr").await;
    assert_eq!(to, "/connexion/activation-totp");
    let secret_a = secret_on_page(&ref_a.get(&to).await.body);
    let r = ref_a.post(&to, &[("code", &totp_code(&secret_a, 0))]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let home = ref_a.get("/aidants-connect/referent").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Inès Roy") && home.body.contains("Social - Santé"));
    // A link serves once.
    let used = token_mailed_to(&app, "referent-a@exemple.fr").await;
    let r = app.browser().post("/connexion/lien/ouvrir", &[("jeton", &used)]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r
        .body
        .contains("Les informations saisies ne permettent pas de vous identifier."));

    // Activation needs training, then a device.
    let act = |id: i64| format!("/aidants-connect/referent/aidants/{id}/activation");
    // Issue 23: « Activer » is not offered while it can only be refused; the page says what is missing.
    let page = ref_a.get("/aidants-connect/referent").await.body;
    assert!(!page.contains(&format!("action=\"{}\"", act(leo))), "{page}");
    assert!(
        page.contains("À activer après : la formation, le test de compétences numériques et un appareil de double authentification."),
        "{page}"
    );
    let r = ref_a.post(&act(leo), &[("action", "activer")]).await;
    assert!(r.body.contains("formation"), "{}", r.body);
    for who in [leo, ines] {
        let r = lieu
            .post(
                &format!("/operateur/aidants/{who}/formation"),
                &[("formee_le", "2026-01-10")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = op
            .post(
                &format!("/operateur/aidants/{who}/formation"),
                &[("formee_le", "2026-01-10"), ("test_le", "2026-01-11")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let r = ref_a.post(&act(leo), &[("action", "activer")]).await;
    assert!(r.body.contains("appareil de double authentification"), "{}", r.body);

    // Cards: all-or-nothing import from the command line.
    let bad = app.data_dir.join("cartes-fausses.csv");
    std::fs::write(
        &bad,
        "numero_serie,graine,duree\nC-1,JBSWY3DPEHPK3PXP,30\nC-2,pas du base32!,30\nC-3,GEZDGNBVGY3TQOJQGEZDGNBV,60\n",
    )
    .unwrap();
    let out = cli(&app, &["aidants", "cartes", "importer", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ligne 2") && err.contains("ligne 3") && err.contains("ligne 4"),
        "{err}"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM cartes_totp").await, 0);
    let good = app.data_dir.join("cartes.csv");
    std::fs::write(&good, format!("numero_serie,graine\nC-100,{SEED_A}\nC-200,{SEED_B}\n")).unwrap();
    let out = cli(&app, &["aidants", "cartes", "importer", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!app
        .scalar_text("SELECT graine FROM cartes_totp WHERE numero_serie = 'C-100'")
        .await
        .contains(SEED_A));

    // The référent gives card C-100 to Léo (wrong code first), an app to Inès.
    let card = |id: i64| format!("/aidants-connect/referent/aidants/{id}/carte");
    let r = ref_a
        .post(&card(leo), &[("numero_serie", "C-100"), ("code", "000000")])
        .await;
    assert!(r.body.contains("Code incorrect"), "{}", r.body);
    let r = ref_a
        .post(
            &card(leo),
            &[("numero_serie", "C-100"), ("code", &totp_code(SEED_A, 0))],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let app_path = format!("/aidants-connect/referent/aidants/{ines}/application");
    let page = ref_a.get(&app_path).await;
    assert_eq!(page.status, StatusCode::OK);
    let secret_ines = secret_on_page(&page.body);
    let r = ref_a.post(&app_path, &[("code", &totp_code(&secret_ines, 0))]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    for who in [leo, ines] {
        let r = ref_a.post(&act(who), &[("action", "activer")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }

    // Référent B reaches none of A's aidants (Inès is only in A).
    let (mut ref_b, to) = link_step(&app, "referent-b@exemple.fr").await;
    let secret_b = secret_on_page(&ref_b.get(&to).await.body);
    ref_b.post(&to, &[("code", &totp_code(&secret_b, 0))]).await;
    assert!(!ref_b.get("/aidants-connect/referent").await.body.contains("Inès"));
    assert_eq!(
        ref_b.post(&act(ines), &[("action", "desactiver")]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ref_b
            .post(
                &card(ines),
                &[("numero_serie", "C-200"), ("code", &totp_code(SEED_B, 0))]
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(ref_b.get(&app_path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        ref_b.post(&app_path, &[("code", "123456")]).await.status,
        StatusCode::NOT_FOUND
    );
    // Léo is only invited to B: B reaches neither him nor his card.
    assert_eq!(
        ref_b
            .post(
                &card(leo),
                &[("numero_serie", "C-200"), ("code", &totp_code(SEED_B, 0))]
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Léo is trained and has his card, but B cannot activate him before he accepts.
    assert_eq!(
        ref_b.post(&act(leo), &[("action", "activer")]).await.status,
        StatusCode::NOT_FOUND
    );

    // Léo signs in with a link and his card, acts for A (his only structure), accepts B's invitation.
    let (mut leo_b, to) = link_step(&app, "leo@exemple.fr").await;
    assert_eq!(to, "/connexion/totp");
    let r = leo_b.post("/connexion/totp", &[("code", &totp_code(SEED_A, 1))]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = leo_b.get("/aidants-connect/structure").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Social - Santé"), "A first: {}", r.body);
    let invitation = count(
        &app,
        &format!("SELECT id FROM aidants_invitations WHERE courriel = 'leo@exemple.fr' AND organisation_id = {org_b}"),
    )
    .await;
    let r = leo_b
        .post(&format!("/aidants-connect/invitations/{invitation}/accepter"), &[])
        .await;
    assert_eq!(r.location(), Some("/aidants-connect/structure?ok=acceptation"));
    // Léo now belongs to B, but his card is his own in A: B cannot take it over.
    let r = ref_b
        .post(
            &card(leo),
            &[("numero_serie", "C-200"), ("code", &totp_code(SEED_B, 0))],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("seul l&#39;opérateur peut le remplacer"), "{}", r.body);
    let leo_app = format!("/aidants-connect/referent/aidants/{leo}/application");
    let r = ref_b.get(&leo_app).await;
    assert_ne!(r.status, StatusCode::OK);
    assert!(r.body.contains("seul l&#39;opérateur peut le remplacer"), "{}", r.body);
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM cartes_totp WHERE numero_serie = 'C-100' AND account_id = {leo}")
        )
        .await,
        1
    );
    assert_eq!(
        ref_b.post(&act(leo), &[("action", "activer")]).await.status,
        StatusCode::SEE_OTHER
    );
    // His open session still acts for A; he switches to B himself.
    assert!(leo_b
        .get("/aidants-connect/structure")
        .await
        .body
        .contains("Social - Santé"));
    let r = leo_b
        .post("/aidants-connect/structure", &[("structure", &org_b.to_string())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(leo_b.get("/aidants-connect/structure").await.body.contains("Logement"));
    let other = count(&app, "SELECT id FROM organisations WHERE kind = 'lieu' LIMIT 1").await;
    let r = leo_b
        .post("/aidants-connect/structure", &[("structure", &other.to_string())])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // An aidant has no référent's or opérateur's pages; a référent no aidant's page.
    for path in [
        "/aidants-connect/referent",
        "/operateur/habilitations",
        "/operateur/aidants",
    ] {
        assert_eq!(leo_b.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        leo_b.post(&act(ines), &[("action", "desactiver")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        ref_a.get("/aidants-connect/structure").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        ref_a
            .post("/aidants-connect/structure", &[("structure", &org_a.to_string())])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(op.get("/aidants-connect/referent").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        anon.get("/aidants-connect/referent").await.location(),
        Some("/connexion")
    );
    assert_eq!(
        anon.post(&act(leo), &[("action", "activer")]).await.status,
        StatusCode::FORBIDDEN
    );

    // B deactivates Léo: he keeps A; A deactivates Inès: her account closes.
    assert_eq!(
        ref_b.post(&act(leo), &[("action", "desactiver")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM accounts WHERE id = {leo} AND active = TRUE")
        )
        .await,
        1
    );
    assert_eq!(
        ref_a.post(&act(ines), &[("action", "desactiver")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM accounts WHERE id = {ines} AND active = FALSE")
        )
        .await,
        1
    );

    let actions = app.journal_actions().await;
    for a in [
        "habilitation.demande",
        "habilitation.modification",
        "habilitation.decision",
        "connexion.lien_envoye",
        "connexion.lien_utilise",
        "aidant.formation",
        "cartes_totp.import",
        "aidant.carte_totp",
        "aidant.application_totp",
        "aidant.activation",
        "aidant.structure_courante",
        "aidant.desactivation",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} missing");
    }
    let out = cli(&app, &["journal", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test]
async fn a_stale_totp_check_is_asked_again_and_brings_back_to_the_page() {
    let app = TestApp::new().await;
    let (_, secret) = app
        .account("structure_habilitee", "referent", "ref@exemple.fr", true)
        .await;
    let secret = secret.unwrap();
    let mut referent = app.browser();
    referent.login("ref@exemple.fr", crate::support::PASSWORD).await;
    let r = referent
        .post("/connexion/totp", &[("code", &totp_code(&secret, 0))])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Fresh after login: the page opens (an unknown aidant: 404, not a new check).
    let path = "/aidants-connect/referent/aidants/999/application";
    assert_eq!(referent.get(path).await.status, StatusCode::NOT_FOUND);
    // 16 minutes later, the check is asked again, then brings back.
    let old = passerelle_core::horloge::Horloge::systeme().now_micros() - 16 * 60 * 1_000_000;
    app.exec(&format!("UPDATE sessions SET totp_verified_at = {old}"))
        .await
        .unwrap();
    let r = referent.get(path).await;
    assert_eq!(
        r.location(),
        Some("/connexion/totp-recent?suivant=%2Faidants-connect%2Freferent%2Faidants%2F999%2Fapplication")
    );
    let r = referent
        .post(
            "/aidants-connect/referent/aidants/999/carte",
            &[("numero_serie", "X"), ("code", "1")],
        )
        .await;
    assert!(
        r.location().unwrap().starts_with("/connexion/totp-recent?suivant="),
        "{:?}",
        r.location()
    );
    assert_eq!(
        referent.get("/connexion/totp-recent?suivant=/x").await.status,
        StatusCode::OK
    );
    let r = referent
        .post("/connexion/totp-recent", &[("code", "000000"), ("suivant", path)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = referent
        .post(
            "/connexion/totp-recent",
            &[("code", &totp_code(&secret, 1)), ("suivant", path)],
        )
        .await;
    assert_eq!(r.location(), Some(path));
    assert_eq!(referent.get(path).await.status, StatusCode::NOT_FOUND, "fresh again");
    // Never sent to another site.
    app.exec(&format!("UPDATE sessions SET totp_verified_at = {old}"))
        .await
        .unwrap();
    app.exec("UPDATE accounts SET totp_last_step = NULL").await.unwrap();
    let r = referent
        .post(
            "/connexion/totp-recent",
            &[("code", &totp_code(&secret, 0)), ("suivant", "//evil.example")],
        )
        .await;
    assert_eq!(r.location(), Some("/mon-compte"));
    let actions = app.journal_actions().await;
    assert!(actions.iter().any(|a| a == "totp.echec"));
    assert_eq!(actions.iter().filter(|a| *a == "totp.verification_recente").count(), 2);
    let mut anon = app.browser();
    assert_eq!(anon.get("/connexion/totp-recent").await.location(), Some("/connexion"));
}

#[tokio::test]
async fn unused_accounts_are_warned_at_five_months_and_deactivated_at_six() {
    let app = TestApp::new().await;
    let (young, _) = app
        .account("structure_habilitee", "aidant", "jeune@exemple.fr", true)
        .await;
    let (old, _) = app
        .account("structure_habilitee", "aidant", "ancien@exemple.fr", true)
        .await;
    let (idle, _) = app
        .account("structure_habilitee", "referent", "dormant@exemple.fr", true)
        .await;
    let (op, _) = app.account("operateur", "operateur", "op@exemple.fr", true).await;
    let day = 86_400_000_000i64;
    let now = passerelle_core::horloge::Horloge::systeme().now_micros();
    app.exec(&format!(
        "UPDATE accounts SET updated_at = {}, last_login_at = NULL WHERE id = {old}",
        now - 190 * day
    ))
    .await
    .unwrap();
    app.exec(&format!(
        "UPDATE accounts SET updated_at = {}, last_login_at = {} WHERE id IN ({idle}, {op})",
        now - 200 * day,
        now - 160 * day
    ))
    .await
    .unwrap();
    let o = inactivity::run(&app.core, now).await.unwrap();
    assert_eq!((o.avertis, o.desactives), (1, 1));
    let active = |id: i64| format!("SELECT COUNT(*) FROM accounts WHERE id = {id} AND active = TRUE");
    assert_eq!(count(&app, &active(old)).await, 0);
    assert_eq!(count(&app, &active(idle)).await, 1);
    assert_eq!(count(&app, &active(young)).await, 1);
    assert_eq!(count(&app, &active(op)).await, 1, "not an Aidants Connect account");
    // Warned once only; a month later, deactivated.
    assert_eq!(
        inactivity::run(&app.core, now).await.unwrap(),
        inactivity::Outcome::default()
    );
    let later = inactivity::run(&app.core, now + 30 * day).await.unwrap();
    assert_eq!(later.desactives, 1);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM courriels WHERE destinataire IN ('ancien@exemple.fr', 'dormant@exemple.fr')"
        )
        .await,
        3
    );
    let actions = app.journal_actions().await;
    assert!(actions.iter().any(|a| a == "compte.avertissement_inactivite"));
    assert!(actions.iter().any(|a| a == "compte.desactivation_inactivite"));
    // The daily job runs once per day whatever the instance.
    assert!(inactivity::run_daily(&app.core, "2026-12-01").await.unwrap().is_some());
    assert!(inactivity::run_daily(&app.core, "2026-12-01").await.unwrap().is_none());
}
