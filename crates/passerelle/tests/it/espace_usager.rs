//! The usager's own space: sign-in with FranceConnect (through the
//! simulator), his uses only, refusals, sign-out at FranceConnect too.

use axum::http::StatusCode;

use crate::franceconnect::{serve, Fc};
use crate::support::Browser;

/// An usager signs in from `/espace-usager/connexion` as `identite`.
async fn usager_signs_in(fc: &Fc, identite: &str) -> Browser {
    let mut b = Browser::on(fc.router.clone());
    let callback = fc
        .through_provider_from(&mut b, "/espace-usager/connexion", identite)
        .await;
    assert!(b.cookie("passerelle_fc").is_some(), "browser-binding cookie");
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some("/espace-usager"));
    assert!(b.cookie("passerelle_usager").is_some());
    assert!(b.cookie("passerelle_fc").is_none(), "binding cookie cleared");
    b
}

async fn usager_id(fc: &Fc, family: &str) -> i64 {
    fc.app
        .scalar_i64(&format!("SELECT id FROM usagers WHERE family_name = '{family}'"))
        .await
}

/// A mandate of a structure for `usager` with one use by an aidant (plain SQL:
/// how mandates are made and used is tested elsewhere).
async fn mandate_with_a_use(fc: &Fc, usager: i64, aidant: i64, client: &str, seq: i64) {
    let org = fc
        .app
        .scalar_i64(&format!("SELECT organisation_id FROM accounts WHERE id = {aidant}"))
        .await;
    let far = 4_000_000_000_000_000i64;
    fc.app
        .exec("INSERT INTO mandats_textes (version, texte, empreinte, created_at) VALUES (99, 't', 'e', 0) ON CONFLICT DO NOTHING")
        .await
        .unwrap();
    fc.app
        .exec(&format!(
            "INSERT INTO mandats (organisation_id, usager_id, aidant_id, duree, texte_version, created_at, expires_at) \
             VALUES ({org}, {usager}, {aidant}, 'LONG', 99, 1, {far})"
        ))
        .await
        .unwrap();
    let mandat = fc
        .app
        .scalar_i64(&format!("SELECT MAX(id) FROM mandats WHERE usager_id = {usager}"))
        .await;
    fc.app
        .exec(&format!(
            "INSERT INTO autorisations (mandat_id, demarche) VALUES ({mandat}, 'social')"
        ))
        .await
        .unwrap();
    let autorisation = fc
        .app
        .scalar_i64(&format!("SELECT MAX(id) FROM autorisations WHERE mandat_id = {mandat}"))
        .await;
    fc.app
        .exec(&format!(
            "INSERT INTO mandats_utilisations (autorisation_id, mandat_id, usager_id, aidant_id, structure_id, client_id, demarche, at, journal_seq) \
             VALUES ({autorisation}, {mandat}, {usager}, {aidant}, {org}, '{client}', 'social', 1700000000000000, {seq})"
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_usager_signs_in_sees_only_his_uses_and_signs_out_of_franceconnect_too() {
    let fc = serve().await;
    // Not signed in: the page offers FranceConnect; nothing else is reachable.
    let mut anonymous = Browser::on(fc.router.clone());
    let r = anonymous.get("/espace-usager").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("href=\"/espace-usager/connexion\""), "{}", r.body);
    assert!(!r.body.contains("Utilisations de mes mandats"));
    assert_eq!(
        anonymous.post("/espace-usager/deconnexion", &[]).await.status,
        StatusCode::FORBIDDEN
    );

    let mut angela = usager_signs_in(&fc, "angela").await;
    let mut pierre = usager_signs_in(&fc, "pierre").await;
    let (a, p) = (usager_id(&fc, "DUBOIS").await, usager_id(&fc, "MERCIER").await);
    assert!(
        fc.app
            .journal_actions()
            .await
            .iter()
            .filter(|x| *x == "usager.connexion")
            .count()
            == 2
    );

    let aidant = fc.aidant("aidant@exemple.fr").await;
    drop(aidant);
    let aidant_id = fc
        .app
        .scalar_i64("SELECT id FROM accounts WHERE email = 'aidant@exemple.fr'")
        .await;
    mandate_with_a_use(&fc, a, aidant_id, "service-d-angela", 4242).await;
    mandate_with_a_use(&fc, p, aidant_id, "service-de-pierre", 4343).await;

    let r = angela.get("/espace-usager").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Angela Claire Louise DUBOIS"), "{}", r.body);
    assert!(
        r.body.contains("service-d-angela") && r.body.contains("entrée n° 4242"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Social - Santé"));
    // The header knows him: his space and his sign-out, not the professionals' sign-in.
    assert!(!r.body.contains(">Se connecter<"), "{}", r.body);
    assert!(
        r.body.contains("href=\"/espace-usager\">Mon espace usager<")
            && r.body.matches("action=\"/espace-usager/deconnexion\"").count() == 2,
        "{}",
        r.body
    );
    assert!(
        !r.body.contains("service-de-pierre") && !r.body.contains("MERCIER"),
        "{}",
        r.body
    );
    let r = pierre.get("/espace-usager").await;
    assert!(r.body.contains("service-de-pierre") && !r.body.contains("service-d-angela"));

    // An aidant's session is not an usager's, nor the reverse.
    let mut aidant = fc.aidant("aidant2@exemple.fr").await;
    let r = aidant.get("/espace-usager").await;
    assert!(!r.body.contains("Utilisations de mes mandats"), "{}", r.body);
    assert_eq!(angela.get("/franceconnect").await.status, StatusCode::SEE_OTHER);

    // A forged usager cookie is nobody.
    let mut forged = Browser::on(fc.router.clone());
    forged.cookies.insert(
        "passerelle_usager".into(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
    );
    assert!(!forged
        .get("/espace-usager")
        .await
        .body
        .contains("Utilisations de mes mandats"));

    // His mandates: seen, revoked by himself with a receipt; never another's.
    let mandat_a = fc
        .app
        .scalar_i64(&format!("SELECT id FROM mandats WHERE usager_id = {a}"))
        .await;
    let r = angela.get("/espace-usager").await;
    assert!(r.body.contains(&format!("Mandat n° {mandat_a}")), "{}", r.body);
    assert!(r
        .body
        .contains(&format!("/espace-usager/mandats/{mandat_a}/revoquer?demarche=social")));
    for path in [
        format!("/espace-usager/mandats/{mandat_a}/revoquer"),
        format!("/espace-usager/mandats/{mandat_a}/revoquer?demarche=social"),
        format!("/espace-usager/mandats/{mandat_a}/attestation.pdf"),
        format!("/espace-usager/mandats/{mandat_a}/revocation.pdf"),
    ] {
        assert_eq!(pierre.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(anonymous.get(&path).await.status, StatusCode::SEE_OTHER, "{path}");
    }
    let r = pierre
        .post(
            &format!("/espace-usager/mandats/{mandat_a}/revoquer"),
            &[("demarche", "social")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "another usager's mandate");
    let r = anonymous
        .post(&format!("/espace-usager/mandats/{mandat_a}/revoquer"), &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = angela
        .post_raw(
            &format!("/espace-usager/mandats/{mandat_a}/revoquer"),
            &[("demarche", "social")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF token");
    assert_eq!(
        fc.app
            .scalar_i64("SELECT COUNT(*) FROM autorisations WHERE revoquee_at IS NOT NULL")
            .await,
        0
    );
    let r = angela
        .get(&format!("/espace-usager/mandats/{mandat_a}/revoquer?demarche=social"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Confirmer la révocation") && r.body.contains("Social - Santé"),
        "{}",
        r.body
    );
    let attestation = angela
        .get(&format!("/espace-usager/mandats/{mandat_a}/attestation.pdf"))
        .await;
    assert_eq!(attestation.status, StatusCode::OK);
    assert!(attestation.body.starts_with("%PDF"));
    assert_eq!(
        angela
            .get(&format!("/espace-usager/mandats/{mandat_a}/recu"))
            .await
            .status,
        StatusCode::NOT_FOUND,
        "no receipt before a revocation"
    );
    let r = angela
        .post(
            &format!("/espace-usager/mandats/{mandat_a}/revoquer"),
            &[("demarche", "social")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let receipt = r.location().unwrap().to_string();
    assert_eq!(receipt, format!("/espace-usager/mandats/{mandat_a}/recu"));
    let r = angela.get(&receipt).await;
    assert!(
        r.body.contains("Révocation enregistrée") && r.body.contains("par l&#39;usager"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("Révoqué"),
        "the only démarche: the mandate is revoked\n{}",
        r.body
    );
    let certificate = angela
        .get(&format!("/espace-usager/mandats/{mandat_a}/revocation.pdf"))
        .await;
    assert_eq!(certificate.status, StatusCode::OK);
    assert!(certificate.body.starts_with("%PDF"));
    // Again: refused in French, nothing written.
    let r = angela
        .post(&format!("/espace-usager/mandats/{mandat_a}/revoquer"), &[])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(
        fc.app
            .scalar_i64("SELECT COUNT(*) FROM autorisations WHERE revoquee_par = 'usager'")
            .await,
        1
    );
    let by_usager = fc
        .app
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM journal WHERE actor_role = 'usager' AND subjects LIKE '%mandat:{mandat_a}%'"
        ))
        .await;
    assert_eq!(by_usager, 1, "one journal entry for the revocation, by the usager");
    let r = pierre.get("/espace-usager").await;
    assert!(!r.body.contains(&format!("Mandat n° {mandat_a} ")), "{}", r.body);

    // Sign-out: the session ends here and at FranceConnect.
    let old = angela.cookie("passerelle_usager").unwrap().clone();
    let r = angela.post("/espace-usager/deconnexion", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let end = fc.local(r.location().unwrap()).to_string();
    assert!(end.starts_with("/fc-simulateur/session/end?id_token_hint="), "{end}");
    let r = angela.get(&end).await;
    let back = fc.local(r.location().unwrap()).to_string();
    let r = angela.get(&back).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some("/espace-usager/deconnecte"));
    assert!(angela
        .get("/espace-usager/deconnecte")
        .await
        .body
        .contains("Vous êtes déconnecté"));
    angela.cookies.insert("passerelle_usager".into(), old);
    assert!(!angela
        .get("/espace-usager")
        .await
        .body
        .contains("Utilisations de mes mandats"));
    let actions = fc.app.journal_actions().await;
    assert!(actions.iter().any(|x| x == "usager.deconnexion"));
    let details = fc
        .app
        .scalar_text("SELECT details FROM journal WHERE action = 'usager.connexion' ORDER BY seq LIMIT 1")
        .await;
    assert!(!details.contains("DUBOIS"), "{details}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_callback_needs_the_same_browser_and_is_used_once() {
    let fc = serve().await;
    let mut b = Browser::on(fc.router.clone());
    let callback = fc
        .through_provider_from(&mut b, "/espace-usager/connexion", "angela")
        .await;

    // Another browser (no binding cookie, or another one) cannot use it.
    let mut other = Browser::on(fc.router.clone());
    let r = other.get(&callback).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let mut third = Browser::on(fc.router.clone());
    third.get("/espace-usager/connexion").await;
    let r = third.get(&callback).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(third.cookie("passerelle_usager").is_none());
    // Nobody's sign-in was under way there: nothing fills the journal.
    assert!(!fc
        .app
        .journal_actions()
        .await
        .iter()
        .any(|x| x == "franceconnect.refus"));

    // The right browser once; the same callback again is refused.
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let mut again = Browser::on(fc.router.clone());
    again.cookies = b.cookies.clone();
    again.cookies.insert(
        "passerelle_fc".into(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
    );
    assert_eq!(again.get(&callback).await.status, StatusCode::BAD_REQUEST);

    // Cancelling at FranceConnect is an interruption, journaled.
    let mut c = Browser::on(fc.router.clone());
    let cancelled = fc.through_provider_from(&mut c, "/espace-usager/connexion", "").await;
    let r = c.get(&cancelled).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("annulé"), "{}", r.body);
    assert!(c.cookie("passerelle_usager").is_none());
    assert!(fc
        .app
        .journal_actions()
        .await
        .iter()
        .any(|x| x == "franceconnect.refus"));
}
