//! `/oidc/authorize`, `/oidc/userinfo` and `/oidc/logout` through HTTP: the
//! aidant picks an usager of his structure and a démarche of an active
//! mandate; every refusal (anonymous, stale TOTP, another structure's usager
//! even in a forged POST, no mandate, démarche not in the mandate or not
//! accepted, revoked autorisation at userinfo, unregistered post-logout URI);
//! the legal journal entry and the use row of each userinfo call.

use axum::http::{header, StatusCode};
use serde_json::Value;

use crate::oidc_support::{
    aidant, aidant_account, authorize_query, consent, mandate, radio_values, register, token_for, userinfo,
    AFTER_LOGOUT, BACK,
};
use crate::support::{totp_code, TestApp, PASSWORD};

#[tokio::test]
async fn an_aidant_logs_in_to_a_service_for_an_usager_and_each_use_is_journaled() {
    let app = TestApp::new().await;
    let client = register(&app, "");
    let (mut b, aidant_id, structure, _) = aidant(&app, "aidant@exemple.fr").await;
    let (usager, mandat, autorisations) = mandate(
        &app,
        structure,
        aidant_id,
        ("Angela", "Dubois"),
        &["social", "logement"],
        30,
    )
    .await;
    // Another usager of the structure, not matching the search.
    mandate(&app, structure, aidant_id, ("Paul", "Martin"), &["social"], 30).await;
    let q = format!("/oidc/authorize?{}", authorize_query(&client.0, &[]));
    let r = b
        .get(&format!(
            "/oidc/authorize/usagers?{}&q=dubois",
            authorize_query(&client.0, &[])
        ))
        .await;
    assert!(
        r.body.contains("Dubois Angela") && !r.body.contains("Martin"),
        "{}",
        r.body
    );
    let back = consent(&mut b, &q, "Angela Dubois", Some(&autorisations[1].to_string())).await;
    assert!(back.starts_with(&format!("{BACK}?code=")), "{back}");
    assert!(back.contains("state=etat-de-test-123"));
    let t = token_for(&app, &client, &back).await;
    assert_eq!(t["scope"], "openid profile birth email");
    let (st, _, info) = userinfo(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{info}");
    assert_eq!(info["given_name"], "Angela");
    assert_eq!(info["birthplace"], "75107");
    assert_eq!(info["email"], "Angela@exemple.fr");
    assert_eq!(info["rep_scope"], "logement");
    assert!(info.get("preferred_username").is_none(), "absent, not null");
    // The legal trace: one journal entry and one use row pointing at it.
    let seq = app
        .scalar_i64("SELECT seq FROM journal WHERE action = 'mandat.utilisation'")
        .await;
    let subjects = app
        .scalar_text(&format!("SELECT subjects FROM journal WHERE seq = {seq}"))
        .await;
    for s in [
        format!("usager:{usager}"),
        format!("mandat:{mandat}"),
        format!("autorisation:{}", autorisations[1]),
        format!("organisation:{structure}"),
        format!("compte:{aidant_id}"),
    ] {
        assert!(subjects.contains(&s), "{subjects} lacks {s}");
    }
    let details = app
        .scalar_text(&format!("SELECT details FROM journal WHERE seq = {seq}"))
        .await;
    assert!(details.contains(&client.0) && details.contains("logement") && !details.contains("Angela"));
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM mandats_utilisations WHERE journal_seq = {seq} AND usager_id = {usager} \
             AND autorisation_id = {} AND client_id = '{}' AND demarche = 'logement'",
            autorisations[1], client.0
        ))
        .await,
        1
    );
    // A second call (POST, as the specification allows) is a second use.
    let req = axum::http::Request::post("/oidc/userinfo")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", t["access_token"].as_str().unwrap()),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let r = app.browser().send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM mandats_utilisations").await, 2);

    // The aidant leaves the structure: his token is refused (and revoked).
    app.exec(&format!(
        "UPDATE aidants_membres SET actif = FALSE WHERE account_id = {aidant_id}"
    ))
    .await
    .unwrap();
    assert_eq!(
        userinfo(&app, t["access_token"].as_str().unwrap()).await.0,
        StatusCode::UNAUTHORIZED
    );
    app.exec(&format!(
        "UPDATE aidants_membres SET actif = TRUE WHERE account_id = {aidant_id}"
    ))
    .await
    .unwrap();
    assert_eq!(
        userinfo(&app, t["access_token"].as_str().unwrap()).await.0,
        StatusCode::UNAUTHORIZED,
        "revoked for good"
    );
    let back = consent(&mut b, &q, "Angela Dubois", Some(&autorisations[1].to_string())).await;
    let t = token_for(&app, &client, &back).await;
    assert_eq!(
        userinfo(&app, t["access_token"].as_str().unwrap()).await.0,
        StatusCode::OK
    );
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM mandats_utilisations").await, 3);
    // The autorisation is revoked: the token dies with it, nothing is journaled.
    app.exec(&format!(
        "UPDATE autorisations SET revoquee_at = 1, revoquee_par = 'usager' WHERE id = {}",
        autorisations[1]
    ))
    .await
    .unwrap();
    let (st, www, v) = userinfo(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(www.contains("error=\"invalid_token\""), "{www}");
    assert_eq!(v["error"], "invalid_token");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM mandats_utilisations").await, 3);
    // An expired mandate likewise.
    let back = consent(&mut b, &q, "Angela Dubois", Some(&autorisations[0].to_string())).await;
    let t = token_for(&app, &client, &back).await;
    app.exec(&format!("UPDATE mandats SET expires_at = 1 WHERE id = {mandat}"))
        .await
        .unwrap();
    assert_eq!(
        userinfo(&app, t["access_token"].as_str().unwrap()).await.0,
        StatusCode::UNAUTHORIZED
    );
    // No bearer at all.
    let r = app.browser().get("/oidc/userinfo").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(userinfo(&app, "pas-un-jeton").await.0, StatusCode::UNAUTHORIZED);
    let out = crate::support::cli(&app, &["journal", "verify"]);
    assert_eq!(out.status.code(), Some(0));
}

fn codes(app: &TestApp) -> impl std::future::Future<Output = i64> + '_ {
    app.scalar_i64("SELECT COUNT(*) FROM oidc_codes")
}

#[tokio::test]
async fn who_may_authorise_and_for_whom_is_checked_at_every_step() {
    let app = TestApp::new().await;
    let client = register(&app, "");
    let (mut a, aidant_a, structure_a, secret_a) = aidant(&app, "a@exemple.fr").await;
    let (mut b, aidant_b, structure_b, _) = aidant(&app, "b@exemple.fr").await;
    let (usager_a, _, auth_a) = mandate(&app, structure_a, aidant_a, ("Alice", "Durand"), &["social"], 30).await;
    mandate(&app, structure_b, aidant_b, ("Bruno", "Petit"), &["social"], 30).await;
    let (usager_old, _, auth_old) = mandate(&app, structure_a, aidant_a, ("Odile", "Ancien"), &["social"], -1).await;
    let query = authorize_query(&client.0, &[]);
    let start = format!("/oidc/authorize?{query}");

    // Anonymous: the request is read first (a bad one is refused as such), then the login.
    let mut anon = app.browser();
    let r = anon.get("/oidc/authorize?client_id=pc_inconnu").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("pas enregistré"), "{}", r.body);
    let r = anon.get(&start).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.location()
            .unwrap()
            .starts_with("/connexion?suivant=%2Foidc%2Fauthorize%3F"),
        "{:?}",
        r.location()
    );
    for step in [
        format!("/oidc/authorize/usagers?{query}&q=a"),
        format!("/oidc/authorize/demarche?{query}&usager={usager_a}"),
    ] {
        let r = anon.get(&step).await;
        assert!(r.location().unwrap().starts_with("/connexion?suivant="), "{step}");
    }
    let r = anon
        .post("/oidc/authorize/demarche", &[("usager", &usager_a.to_string())])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A request error goes back to the service, even for a signed-in aidant.
    let r = a
        .get(&format!(
            "/oidc/authorize?{}",
            authorize_query(&client.0, &[("prompt", "none")])
        ))
        .await;
    assert!(
        r.location()
            .unwrap()
            .starts_with(&format!("{BACK}?error=login_required")),
        "{:?}",
        r.location()
    );

    // Stale TOTP: checked again, then back to the full request.
    let old = passerelle_core::horloge::Horloge::systeme().now_micros() - 16 * 60 * 1_000_000;
    app.exec(&format!(
        "UPDATE sessions SET totp_verified_at = {old} WHERE account_id = {aidant_a}"
    ))
    .await
    .unwrap();
    let r = a.get(&start).await;
    let to = r.location().unwrap().to_string();
    let expected: String = url::form_urlencoded::byte_serialize(start.as_bytes()).collect();
    assert_eq!(to, format!("/connexion/totp-recent?suivant={expected}"));
    let r = a
        .post(
            "/connexion/totp-recent",
            &[("code", &totp_code(&secret_a, 1)), ("suivant", &start)],
        )
        .await;
    assert_eq!(r.location(), Some(start.as_str()));
    assert_eq!(a.get(&start).await.status, StatusCode::OK);

    // Structure B sees none of A's usagers, even by forging the steps.
    let r = b.get(&format!("/oidc/authorize/usagers?{query}&q=")).await;
    assert!(
        r.body.contains("Petit Bruno") && !r.body.contains("Durand"),
        "{}",
        r.body
    );
    let r = b
        .get(&format!("/oidc/authorize/demarche?{query}&usager={usager_a}"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let mut forged: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    forged.push(("usager".into(), usager_a.to_string()));
    forged.push(("autorisation".into(), auth_a[0].to_string()));
    forged.push(("action".into(), "continuer".into()));
    let f: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        b.post("/oidc/authorize/demarche", &f).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(codes(&app).await, 0, "no code for a forged choice");

    // An expired mandate: not offered, not accepted.
    let r = a.get(&format!("/oidc/authorize/usagers?{query}&q=odile")).await;
    assert!(!r.body.contains("Ancien"), "{}", r.body);
    let r = a
        .get(&format!("/oidc/authorize/demarche?{query}&usager={usager_old}"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let mut old_form = forged.clone();
    old_form[forged.len() - 3].1 = usager_old.to_string();
    old_form[forged.len() - 2].1 = auth_old[0].to_string();
    let f: Vec<(&str, &str)> = old_form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        a.post("/oidc/authorize/demarche", &f).await.status,
        StatusCode::NOT_FOUND
    );
    // Another usager's autorisation under this usager's name.
    let mut mixed = forged.clone();
    mixed[forged.len() - 2].1 = auth_old[0].to_string();
    let f: Vec<(&str, &str)> = mixed.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        a.post("/oidc/authorize/demarche", &f).await.status,
        StatusCode::NOT_FOUND
    );
    // The hidden OIDC fields are read again: a tampered redirect_uri is a refusal page.
    let mut tampered = forged.clone();
    tampered[2].1 = "https://attaquant.example/vol".into();
    let f: Vec<(&str, &str)> = tampered.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = a.post("/oidc/authorize/demarche", &f).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(codes(&app).await, 0);
    // Without the CSRF token.
    let f: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        a.post_raw("/oidc/authorize/demarche", &f).await.status,
        StatusCode::FORBIDDEN
    );
    // Cancelling goes back to the service with access_denied.
    let mut cancel = forged.clone();
    cancel.last_mut().unwrap().1 = "annuler".into();
    let f: Vec<(&str, &str)> = cancel.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = a.post("/oidc/authorize/demarche", &f).await;
    assert!(
        r.location()
            .unwrap()
            .starts_with(&format!("{BACK}?error=access_denied")),
        "{:?}",
        r.location()
    );
    // The real choice works.
    let f: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        a.post("/oidc/authorize/demarche", &f).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(codes(&app).await, 1);

    // Someone who is not an aidant of a structure.
    let (mut op, _) = crate::lieux_pages::signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    assert_eq!(op.get(&start).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn only_the_demarches_the_service_and_the_request_accept_are_offered() {
    let app = TestApp::new().await;
    let social_only = register(&app, "social");
    let any = register(&app, "");
    let (mut a, aidant_a, structure, _) = aidant(&app, "a@exemple.fr").await;
    let (usager, _, auth) = mandate(
        &app,
        structure,
        aidant_a,
        ("Alice", "Durand"),
        &["logement", "social"],
        30,
    )
    .await;
    let (logement, social) = (auth[0], auth[1]);
    let step2 = |client: &str, extra: &[(&str, &str)]| {
        format!(
            "/oidc/authorize/demarche?{}&usager={usager}",
            authorize_query(client, extra)
        )
    };
    let post = |client: &str, extra: &[(&str, &str)], autorisation: i64| {
        let mut f: Vec<(String, String)> = url::form_urlencoded::parse(authorize_query(client, extra).as_bytes())
            .into_owned()
            .collect();
        f.push(("usager".into(), usager.to_string()));
        f.push(("autorisation".into(), autorisation.to_string()));
        f
    };
    // The service accepts only "social".
    let r = a.get(&step2(&social_only.0, &[])).await;
    assert_eq!(radio_values(&r.body), vec![social.to_string()]);
    let f = post(&social_only.0, &[], logement);
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        a.post("/oidc/authorize/demarche", &f).await.status,
        StatusCode::BAD_REQUEST
    );
    // The request restricts to "social" with rep_scope.
    let claims = r#"{"userinfo":{"rep_scope":{"values":["social"]}}}"#;
    let r = a.get(&step2(&any.0, &[("claims", claims)])).await;
    assert_eq!(radio_values(&r.body), vec![social.to_string()], "{}", r.body);
    let f = post(&any.0, &[("claims", claims)], logement);
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        a.post("/oidc/authorize/demarche", &f).await.status,
        StatusCode::BAD_REQUEST
    );
    // A démarche the mandate does not hold: nothing to offer.
    let only_papiers = r#"{"id_token":{"rep_scope":{"value":"papiers"}}}"#;
    let r = a.get(&step2(&any.0, &[("claims", only_papiers)])).await;
    assert!(
        radio_values(&r.body).is_empty() && r.body.contains("Aucune démarche possible"),
        "{}",
        r.body
    );
    // An unknown démarche in rep_scope: back to the service.
    let r = a
        .get(&step2(
            &any.0,
            &[("claims", r#"{"userinfo":{"rep_scope":{"value":"inconnue"}}}"#)],
        ))
        .await;
    assert!(
        r.location().unwrap().contains("error=invalid_request"),
        "{:?}",
        r.location()
    );
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM oidc_codes").await, 0);
    // Without restriction both are offered; the chosen one is the token's rep_scope.
    let back = consent(
        &mut a,
        &format!("/oidc/authorize?{}", authorize_query(&any.0, &[("claims", claims)])),
        "Alice",
        None,
    )
    .await;
    let t = token_for(&app, &any, &back).await;
    let claims = t["id_token"].as_str().unwrap().split('.').nth(1).unwrap().to_string();
    use base64::Engine;
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    assert_eq!(claims["rep_scope"], "social");
}

#[tokio::test]
async fn logout_returns_only_to_a_registered_address() {
    let app = TestApp::new().await;
    let client = register(&app, "");
    let (mut a, aidant_a, structure, _) = aidant(&app, "a@exemple.fr").await;
    mandate(&app, structure, aidant_a, ("Alice", "Durand"), &["social"], 30).await;
    let back = consent(
        &mut a,
        &format!("/oidc/authorize?{}", authorize_query(&client.0, &[])),
        "Alice",
        None,
    )
    .await;
    let t = token_for(&app, &client, &back).await;
    let hint = t["id_token"].as_str().unwrap();
    let access = t["access_token"].as_str().unwrap();
    let logout = |params: &[(&str, &str)]| {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        format!("/oidc/logout?{q}")
    };
    let mut rp = app.browser();
    for (params, why) in [
        (
            vec![
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", "http://127.0.0.1:9999/ailleurs"),
            ],
            "pas celle",
        ),
        (vec![("post_logout_redirect_uri", AFTER_LOGOUT)], "id_token_hint absent"),
        (
            vec![("id_token_hint", "a.b.c"), ("post_logout_redirect_uri", AFTER_LOGOUT)],
            "pas été émis",
        ),
        (
            vec![("id_token_hint", hint), ("client_id", "pc_autre")],
            "ne correspond pas",
        ),
        (vec![("id_token_hint", hint), ("inconnu", "1")], "inconnu"),
    ] {
        let r = rp.get(&logout(&params)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}");
        assert!(r.body.contains(why), "{why}: {}", r.body);
    }
    // A forged hint (our header and claims, another key's signature).
    let mut parts: Vec<String> = hint.split('.').map(str::to_string).collect();
    parts[2] = parts[2].chars().rev().collect();
    let r = rp.get(&logout(&[("id_token_hint", &parts.join("."))])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(userinfo(&app, access).await.0, StatusCode::OK, "nothing revoked so far");
    let r = rp
        .get(&logout(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("state", "s-1"),
        ]))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some(format!("{AFTER_LOGOUT}?state=s-1").as_str()));
    assert_eq!(
        userinfo(&app, access).await.0,
        StatusCode::UNAUTHORIZED,
        "the service's tokens end"
    );
    let r = rp.get(&logout(&[("id_token_hint", hint)])).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("est terminée"));
    // Rate limited per client address (counted in the database): 30 a minute.
    let mut last = StatusCode::OK;
    for _ in 0..30 {
        last = rp.get("/oidc/logout").await.status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    assert!(rp.get("/oidc/logout").await.headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn an_aidant_not_yet_signed_in_comes_back_to_the_request() {
    let app = TestApp::new().await;
    let client = register(&app, "");
    let (_, _, secret) = aidant_account(&app, "a@exemple.fr").await;
    let start = format!("/oidc/authorize?{}", authorize_query(&client.0, &[]));
    let mut b = app.browser();
    let to = b.get(&start).await.location().unwrap().to_string();
    assert!(to.starts_with("/connexion?suivant="), "{to}");
    assert_eq!(b.get(&to).await.status, StatusCode::OK);
    assert!(b.cookie("passerelle_suivant").is_some(), "kept 15 minutes");
    b.login("a@exemple.fr", PASSWORD).await;
    let r = b.post("/connexion/totp", &[("code", &totp_code(&secret, 0))]).await;
    assert_eq!(r.location(), Some(start.as_str()));
    assert!(b.cookie("passerelle_suivant").is_none(), "used once");
    assert_eq!(b.get(&start).await.status, StatusCode::OK);
    // Never to another site.
    let mut other = app.browser();
    other.get("/connexion?suivant=//evil.example/x").await;
    let (_, _, secret2) = aidant_account(&app, "b@exemple.fr").await;
    other.login("b@exemple.fr", PASSWORD).await;
    let r = other
        .post("/connexion/totp", &[("code", &totp_code(&secret2, 0))])
        .await;
    assert_eq!(r.location(), Some("/mon-compte"));
}

#[tokio::test]
async fn a_code_whose_autorisation_was_revoked_meanwhile_gives_no_token() {
    let app = TestApp::new().await;
    let client = register(&app, "");
    let (mut b, aidant_id, structure, _) = aidant(&app, "aidant@exemple.fr").await;
    let (_, _, autorisations) = mandate(&app, structure, aidant_id, ("Angela", "Dubois"), &["social"], 30).await;
    let q = format!("/oidc/authorize?{}", authorize_query(&client.0, &[]));
    let back = consent(&mut b, &q, "Angela Dubois", None).await;
    // The usager revokes within the code's 60 seconds.
    app.exec(&format!(
        "UPDATE autorisations SET revoquee_at = 1, revoquee_par = 'usager' WHERE id = {}",
        autorisations[0]
    ))
    .await
    .unwrap();
    let code = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", BACK),
            ("client_id", client.0.as_str()),
            ("client_secret", client.1.as_str()),
        ])
        .finish();
    let req = axum::http::Request::post("/oidc/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(body))
        .unwrap();
    let r = app.browser().send(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["error"], "invalid_grant");
    assert!(v.get("id_token").is_none());
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM oidc_jetons").await, 0);
}
