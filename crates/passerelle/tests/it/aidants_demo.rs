//! The "done when" of Aidants Connect, in demonstration mode and over HTTP:
//! an aidant of the demo logs in (password + printed TOTP), identifies an
//! usager through the FranceConnect simulator, concludes a mandate, prints
//! the attestation (its QR code checked), logs in to the demonstration
//! online service "as" the usager (the service talks to our provider over
//! a real socket); then the usager logs in to his space, sees that use and
//! revokes it; the service no longer gets that démarche. The journal holds.

use axum::http::StatusCode;
use passerelle_core::{demo, demo_aidants};

use crate::mandats_support::{conclude, opted_out, qr_of_pdf, serve, M};
use crate::oidc_support::consent;
use crate::support::{cli, totp_code, Browser};

/// The usager `identite` signs in to his own space through the simulator.
async fn usager_space(m: &M, identite: &str) -> Browser {
    let mut u = Browser::on(m.router.clone());
    let r = m.through_simulator(&mut u, "/espace-usager/connexion", identite).await;
    let callback = m.local(r.location().unwrap()).to_string();
    let r = u.get(&callback).await;
    assert_eq!(r.location(), Some("/espace-usager"), "{}", r.body);
    u
}

/// The service demo from its button to the page after the provider's redirect.
async fn service_login(m: &M, b: &mut Browser, usager: &str) -> (String, Vec<String>) {
    let r = b.get("/service-demo").await;
    assert!(r.body.contains("href=\"/service-demo/connexion\""), "{}", r.body);
    let r = b.get("/service-demo/connexion").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let authorize = m.local(r.location().unwrap()).to_string();
    assert!(authorize.starts_with("/oidc/authorize?"), "{authorize}");
    assert!(authorize.contains("code_challenge_method=S256"));
    // The démarches offered for this usager (step 2), then the first one chosen.
    let offered = {
        let search = format!(
            "/oidc/authorize/usagers?{}&q={usager}",
            authorize.split_once('?').unwrap().1
        );
        let r = b.get(&search).await;
        match crate::oidc_support::link(&r.body, "/oidc/authorize/demarche?") {
            Some(step2) => crate::oidc_support::radio_values(&b.get(&step2).await.body),
            None => Vec::new(),
        }
    };
    if offered.is_empty() {
        return (String::new(), offered);
    }
    let back = consent(b, &authorize, usager, None).await;
    let back = m.local(&back).to_string();
    assert!(back.starts_with("/service-demo/retour?code="), "{back}");
    let r = b.get(&back).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (r.body, offered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_journey_from_the_mandate_to_the_usager_revoking_its_use() {
    let m = serve().await;
    let d = demo::load_if_empty(&m.app.core).await.unwrap().unwrap();
    let a = demo_aidants::load(&m.app.core, Some(&m.fc_client_id), &m.base)
        .await
        .unwrap();
    assert_eq!(a.usagers.len(), 2, "{:?}", a.usagers);
    assert_eq!(m.count("SELECT COUNT(*) FROM mandats").await, 2, "demo mandates");

    // 1. The aidant of the demo logs in with the printed password and TOTP secret.
    let login = d
        .logins
        .iter()
        .find(|l| l.email == "aidant@demo.passerelle.fr")
        .unwrap();
    let secret = login.totp_secret.clone().unwrap();
    let mut b = Browser::on(m.router.clone());
    b.login(&login.email, &login.password).await;
    let r = b.post("/connexion/totp", &[("code", &totp_code(&secret, 0))]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = b.get("/aidants-connect/mandats").await;
    assert!(r.body.contains("DUBOIS") && r.body.contains("MERCIER"), "{}", r.body);

    // 2. He identifies Fatou DIALLO through the simulator and concludes a mandate.
    let page = m.identify(&mut b, "fatou").await;
    assert!(page.contains("Fatou DIALLO"), "{page}");
    let id = conclude(&mut b, &["social", "papiers"], "MONTH").await;

    // 3. The attestation: a PDF whose QR code opens the public check.
    let pdf = m
        .pdf(&b, &format!("/aidants-connect/mandats/{id}/attestation.pdf"))
        .await;
    if let Some(url) = qr_of_pdf(&pdf) {
        let r = Browser::on(m.router.clone()).get(m.local(&url)).await;
        assert_eq!(r.status, StatusCode::OK, "{url}");
        assert!(r.body.contains("Actif") && !r.body.contains("DIALLO"), "{}", r.body);
    } else {
        assert!(opted_out());
    }

    // 4. The demonstration online service, "as" Fatou.
    let (body, offered) = service_login(&m, &mut b, "Fatou").await;
    assert_eq!(offered.len(), 2, "social and papiers: the service accepts both");
    assert!(body.contains("Connecté avec Aidants Connect"), "{body}");
    assert!(body.contains("Fatou") && body.contains("DIALLO"), "{body}");
    assert!(body.contains("rep_scope"), "the démarche comes back: {body}");
    assert!(
        body.contains("<td>02/11/1985</td>") && !body.contains("1985-11-02"),
        "the birth date as French readers write it: {body}"
    );
    assert_eq!(m.count("SELECT COUNT(*) FROM mandats_utilisations").await, 1);

    // 5. Fatou logs in to her space, sees the use, and revokes that démarche.
    let mut u = usager_space(&m, "fatou").await;
    let r = u.get("/espace-usager").await;
    assert!(r.body.contains(demo_aidants_service()), "{}", r.body);
    assert!(
        r.body.contains("Paul Aidant") && r.body.contains(&format!("Mandat n° {id}")),
        "{}",
        r.body
    );
    assert!(!r.body.contains("DUBOIS"), "another usager's mandate");
    let used: String = m.app.scalar_text("SELECT demarche FROM mandats_utilisations").await;
    let r = u
        .post(&format!("/espace-usager/mandats/{id}/revoquer"), &[("demarche", &used)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = u.get(r.location().unwrap()).await;
    assert!(r.body.contains("Révocation enregistrée"), "{}", r.body);

    // 6. The service now gets only the other démarche; the aidant's detail page shows it.
    let (_, offered) = service_login(&m, &mut b, "Fatou").await;
    assert_eq!(offered.len(), 1, "{offered:?}");
    let r = b.get(&format!("/aidants-connect/mandats/{id}")).await;
    assert!(r.body.contains("Révoquée"), "{}", r.body);

    // 7. Every step is in the journal, and the chain holds.
    let actions = m.app.journal_actions().await;
    for a in [
        "franceconnect.identification",
        "mandat.cree",
        "mandat.utilisation",
        "usager.connexion",
        "mandat.autorisation_revoquee",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} missing: {actions:?}");
    }
    let out = cli(&m.app, &["journal", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_referent_has_totp_cards_in_stock_and_gives_one() {
    let m = serve().await;
    let d = demo::load_if_empty(&m.app.core).await.unwrap().unwrap();
    let a = demo_aidants::load(&m.app.core, Some(&m.fc_client_id), &m.base)
        .await
        .unwrap();
    assert_eq!(a.cartes.len(), demo_aidants::CARDS);
    let login = d
        .logins
        .iter()
        .find(|l| l.email == "referent@demo.passerelle.fr")
        .unwrap();
    let mut b = Browser::on(m.router.clone());
    b.login(&login.email, &login.password).await;
    let secret = login.totp_secret.clone().unwrap();
    let r = b.post("/connexion/totp", &[("code", &totp_code(&secret, 0))]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // The cards in stock are offered on the référent's page.
    let r = b.get("/aidants-connect/referent").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for (serial, _) in &a.cartes {
        assert!(r.body.contains(serial.as_str()), "{serial}: {}", r.body);
    }
    // He gives the first to the demo aidant with the code the card shows now.
    let aidant = m
        .count("SELECT id FROM accounts WHERE email = 'aidant@demo.passerelle.fr'")
        .await;
    let (serial, seed) = &a.cartes[0];
    let r = b
        .post(
            &format!("/aidants-connect/referent/aidants/{aidant}/carte"),
            &[("numero_serie", serial.as_str()), ("code", &totp_code(seed, 1))],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        m.count(&format!(
            "SELECT COUNT(*) FROM cartes_totp WHERE numero_serie = '{serial}' AND account_id = {aidant}"
        ))
        .await,
        1
    );
}

fn demo_aidants_service() -> &'static str {
    passerelle_core::aidants_connect::oidc_provider::service_demo::NAME
}
