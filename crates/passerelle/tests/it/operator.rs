//! The opérateur's pages, and the refusal of every other role on each of their routes.

use axum::http::StatusCode;

use crate::support::{totp_code, TestApp, PASSWORD};

async fn operator(app: &TestApp) -> crate::support::Browser {
    let (_, secret) = app.account("operateur", "operateur", "op@exemple.fr", true).await;
    let mut b = app.browser();
    b.login("op@exemple.fr", PASSWORD).await;
    let r = b
        .post("/connexion/totp", &[("code", &totp_code(secret.as_ref().unwrap(), 0))])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    b
}

#[tokio::test]
async fn operator_creates_organisations_and_accounts() {
    let app = TestApp::new().await;
    let mut op = operator(&app).await;
    let page = op.get("/operateur").await;
    assert_eq!(page.status, StatusCode::OK);
    let r = op
        .post(
            "/operateur/organisations",
            &[
                ("type", "lieu"),
                ("nom", "  Médiathèque   de Talence "),
                ("siret", "732 829 320 00074"),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/operateur?ok=organisation"));
    let page = op.get("/operateur?ok=organisation").await;
    assert!(page.body.contains("Médiathèque de Talence"));
    assert!(page.body.contains("L&#39;organisation a été créée") || page.body.contains("L'organisation a été créée"));

    let bad = op
        .post(
            "/operateur/organisations",
            &[("type", "lieu"), ("nom", "X"), ("siret", "73282932000075")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("SIRET invalide"));

    let org_id = app
        .scalar_i64("SELECT id FROM organisations WHERE name = 'Médiathèque de Talence'")
        .await
        .to_string();
    let r = op
        .post(
            "/operateur/comptes",
            &[
                ("organisation", &org_id),
                ("role", "lieu"),
                ("nom", "Zoé Médiatrice"),
                ("email", "zoe@talence.fr"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Mot de passe provisoire de zoe@talence.fr"));
    // The one-time password works.
    let start = r.body.find("<code>").unwrap() + 6;
    let password = &r.body[start..start + 23];
    let mut zoe = app.browser();
    assert_eq!(
        zoe.login("zoe@talence.fr", password).await.status,
        StatusCode::SEE_OTHER
    );

    // Role inconsistent with the organisation's kind.
    let r = op
        .post(
            "/operateur/comptes",
            &[
                ("organisation", &org_id),
                ("role", "aidant"),
                ("nom", "X Y"),
                ("email", "x@y.fr"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Same e-mail twice.
    let r = op
        .post(
            "/operateur/comptes",
            &[
                ("organisation", &org_id),
                ("role", "lieu"),
                ("nom", "Z"),
                ("email", "ZOE@talence.fr"),
            ],
        )
        .await;
    assert!(r.body.contains("existe déjà"));

    // Malformed query strings get a French 400, not a parser message.
    let r = op.get("/operateur/journal?avant=abc").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("Paramètres d&#39;adresse invalides") || r.body.contains("Paramètres d'adresse invalides"),
        "{}",
        r.body
    );
    let r = op.get("/mon-compte?ok=a&ok=b").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let journal = op.get("/operateur/journal").await;
    assert_eq!(journal.status, StatusCode::OK);
    assert!(journal.body.contains("organisation.creation") && journal.body.contains("compte.creation"));
    // No personal data in clear in the journal.
    assert!(!journal.body.contains("zoe@talence.fr"));
    // Issue 22: instants in Paris time, written the French way, to the second here.
    let today = passerelle_core::Horloge::systeme()
        .today_paris()
        .strftime("%d/%m/%Y")
        .to_string();
    assert!(journal.body.contains(&format!("{today} à ")), "{}", journal.body);
    assert!(
        journal.body.contains(" min ") && !journal.body.contains(" UTC"),
        "{}",
        journal.body
    );
}

/// Every opérateur route refuses every other role, and anonymous visitors.
#[tokio::test]
async fn operator_routes_refuse_other_roles() {
    let app = TestApp::new().await;
    let roles = [
        ("commanditaire", "commanditaire"),
        ("prescripteur", "prescripteur"),
        ("lieu", "lieu"),
        ("hub", "hub"),
        ("structure_habilitee", "referent"),
        ("structure_habilitee", "aidant"),
    ];
    for (kind, role) in roles {
        let email = format!("{role}@exemple.fr");
        let (_, secret) = app.account(kind, role, &email, true).await;
        let mut b = app.browser();
        b.login(&email, PASSWORD).await;
        let r = b
            .post("/connexion/totp", &[("code", &totp_code(secret.as_ref().unwrap(), 0))])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{role}");
        assert_eq!(
            b.get("/operateur").await.status,
            StatusCode::FORBIDDEN,
            "{role} GET /operateur"
        );
        assert_eq!(
            b.get("/operateur/journal").await.status,
            StatusCode::FORBIDDEN,
            "{role} GET /operateur/journal"
        );
        let r = b
            .post("/operateur/organisations", &[("type", "operateur"), ("nom", "Pirate")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{role} POST /operateur/organisations");
        let r = b
            .post(
                "/operateur/comptes",
                &[
                    ("organisation", "1"),
                    ("role", "operateur"),
                    ("nom", "Pirate"),
                    ("email", "pirate@exemple.fr"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{role} POST /operateur/comptes");
        // The menu does not offer the opérateur space.
        assert!(
            !b.get("/mon-compte").await.body.contains("href=\"/operateur\""),
            "{role}"
        );
    }
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM organisations WHERE name = 'Pirate'")
            .await,
        0
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM accounts WHERE email = 'pirate@exemple.fr'")
            .await,
        0
    );

    let mut anon = app.browser();
    assert_eq!(anon.get("/operateur").await.location(), Some("/connexion"));
    assert_eq!(anon.get("/operateur/journal").await.location(), Some("/connexion"));
    assert_eq!(anon.get("/mon-compte").await.location(), Some("/connexion"));
    assert_eq!(
        anon.post("/operateur/organisations", &[("type", "lieu"), ("nom", "Pirate")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        anon.post("/operateur/comptes", &[("organisation", "1")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        anon.post("/mon-compte/mot-de-passe", &[("actuel", "a")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        anon.post("/mon-compte/totp", &[("code", "123456")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        anon.post("/mon-compte/totp/retrait", &[("mot_de_passe", "a")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn operator_resets_passwords_and_second_factors_and_deactivates_accounts() {
    let app = TestApp::new().await;
    let mut op = operator(&app).await;
    let (lieu_id, _) = app.account("lieu", "lieu", "lieu@exemple.fr", false).await;
    let (aidant_id, aidant_secret) = app
        .account("structure_habilitee", "aidant", "aidant@exemple.fr", true)
        .await;
    let mut lieu = app.browser();
    assert_eq!(
        lieu.login("lieu@exemple.fr", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    // Password reset: shown once, old password refused, open sessions closed.
    let r = op
        .post(&format!("/operateur/comptes/{lieu_id}/mot-de-passe"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Mot de passe provisoire de lieu@exemple.fr"));
    let start = r.body.find("<code>").unwrap() + 6;
    let new_password = r.body[start..start + 23].to_string();
    assert_eq!(lieu.get("/mon-compte").await.location(), Some("/connexion"));
    assert_eq!(
        lieu.login("lieu@exemple.fr", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        lieu.login("lieu@exemple.fr", &new_password).await.status,
        StatusCode::SEE_OTHER
    );

    // Lost phone: the aidant must enrol a new device at the next login.
    let mut aidant = app.browser();
    aidant.login("aidant@exemple.fr", PASSWORD).await;
    aidant
        .post(
            "/connexion/totp",
            &[("code", &totp_code(aidant_secret.as_ref().unwrap(), 0))],
        )
        .await;
    assert_eq!(aidant.get("/mon-compte").await.status, StatusCode::OK);
    let r = op.post(&format!("/operateur/comptes/{aidant_id}/totp"), &[]).await;
    assert_eq!(r.location(), Some("/operateur?ok=totp"));
    assert_eq!(aidant.get("/mon-compte").await.location(), Some("/connexion"));
    assert_eq!(
        aidant.login("aidant@exemple.fr", PASSWORD).await.location(),
        Some("/connexion/activation-totp")
    );

    // Deactivation: sessions end, login refused with the generic message; reactivation restores.
    let r = op
        .post(&format!("/operateur/comptes/{lieu_id}/activation"), &[("actif", "0")])
        .await;
    assert_eq!(r.location(), Some("/operateur?ok=desactivation"));
    assert_eq!(lieu.get("/mon-compte").await.location(), Some("/connexion"));
    let refused = lieu.login("lieu@exemple.fr", &new_password).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("Adresse électronique ou mot de passe incorrect."));
    op.post(&format!("/operateur/comptes/{lieu_id}/activation"), &[("actif", "1")])
        .await;
    assert_eq!(
        lieu.login("lieu@exemple.fr", &new_password).await.status,
        StatusCode::SEE_OTHER
    );

    // Bad input on these routes.
    assert_eq!(
        op.post("/operateur/comptes/abc/totp", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        op.post("/operateur/comptes/999999/totp", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        op.post(
            &format!("/operateur/comptes/{lieu_id}/activation"),
            &[("actif", "peut-être")]
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    // The opérateur cannot lock itself out.
    let own = app
        .scalar_i64("SELECT id FROM accounts WHERE email = 'op@exemple.fr'")
        .await;
    let r = op
        .post(&format!("/operateur/comptes/{own}/activation"), &[("actif", "0")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("propre compte"));

    let actions = app.journal_actions().await;
    for a in [
        "compte.reinitialisation_mot_de_passe",
        "totp.reinitialise",
        "compte.desactivation",
        "compte.reactivation",
    ] {
        assert!(actions.contains(&a.to_string()), "{a}");
    }
}

#[tokio::test]
async fn account_management_routes_refuse_other_roles() {
    let app = TestApp::new().await;
    let (victim, _) = app.account("lieu", "lieu", "victime@exemple.fr", false).await;
    let (_, secret) = app.account("hub", "hub", "hub@exemple.fr", true).await;
    let mut hub = app.browser();
    hub.login("hub@exemple.fr", PASSWORD).await;
    hub.post("/connexion/totp", &[("code", &totp_code(secret.as_ref().unwrap(), 0))])
        .await;
    let mut anon = app.browser();
    for b in [&mut hub, &mut anon] {
        for path in ["mot-de-passe", "totp", "activation"] {
            let r = b
                .post(&format!("/operateur/comptes/{victim}/{path}"), &[("actif", "0")])
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    let mut victim_browser = app.browser();
    assert_eq!(
        victim_browser.login("victime@exemple.fr", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

/// A SIRET stored before the validators were one (the placeholder of zeros,
/// which an older validator accepted) is listed on the opérateur's page, with
/// what holds it, its name, the stored value and why today's rule refuses it;
/// the domain serves that list to the opérateur only.
#[tokio::test]
async fn the_operator_page_lists_stored_sirets_to_take_up_again() {
    use passerelle_core::accounts::{Principal, Role};
    use passerelle_core::controle;

    let app = TestApp::new().await;
    let mut op = operator(&app).await;
    let page = op.get("/operateur").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("SIRET à reprendre"), "nothing to take up yet");

    // As an older validator stored it.
    app.exec(
        "INSERT INTO organisations (kind, name, siret, created_at, updated_at) \
         VALUES ('lieu', 'Ancienne médiathèque', '00000000000000', 0, 0)",
    )
    .await
    .unwrap();
    let org = app
        .scalar_i64("SELECT id FROM organisations WHERE name = 'Ancienne médiathèque'")
        .await;
    let page = op.get("/operateur").await;
    assert_eq!(page.status, StatusCode::OK);
    let start = page
        .body
        .find("id=\"sirets-a-reprendre\"")
        .expect("the section is shown");
    let section = &page.body[start..start + page.body[start..].find("</table>").unwrap()];
    assert!(section.contains(&format!("organisation n° {org}")), "{section}");
    assert!(section.contains("Ancienne médiathèque"), "{section}");
    assert!(section.contains("00000000000000"), "{section}");
    assert!(section.contains("numéro fictif"), "{section}");
    // The CLI rule and the page agree.
    let listed = controle::sirets_a_reprendre(&app.core, &Principal::SYSTEME)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].table, listed[0].id), ("organisations", org));

    // Another role is refused by the page, and by the domain itself.
    let (lieu_id, secret) = app.account("lieu", "lieu", "lieu-sirets@exemple.fr", true).await;
    let mut b = app.browser();
    b.login("lieu-sirets@exemple.fr", PASSWORD).await;
    let r = b
        .post("/connexion/totp", &[("code", &totp_code(secret.as_ref().unwrap(), 0))])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = b.get("/operateur").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!r.body.contains("00000000000000"));
    let organisation_id = app
        .scalar_i64(&format!("SELECT organisation_id FROM accounts WHERE id = {lieu_id}"))
        .await;
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Operateur) {
        let who = Principal {
            account_id: lieu_id,
            role,
            organisation_id,
        };
        let refused = controle::sirets_a_reprendre(&app.core, &who).await.unwrap_err();
        assert!(
            matches!(refused, passerelle_core::CoreError::Forbidden),
            "{role:?}: {refused:?}"
        );
    }
}
