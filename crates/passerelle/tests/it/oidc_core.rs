//! The provider as OpenID Connect Core asks, through HTTP: `max_age` and
//! `prompt=login` against the aidant's last TOTP check (`auth_time`),
//! `login_hint`, the nonce only when sent, `at_hash`, `sid`, signed userinfo
//! per client, back-channel logout, and a JSON body at the token endpoint.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use passerelle_core::aidants_connect::oidc_provider::backchannel;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::oidc_support::{
    aidant, authorize_query, consent, mandate, register_json, token_for, userinfo, verify_es256, BACK,
};
use crate::support::{totp_code, Browser, TestApp, BASE};

fn client_of(v: &Value) -> (String, String) {
    (
        v["client_id"].as_str().unwrap().to_string(),
        v["client_secret"].as_str().unwrap_or_default().to_string(),
    )
}

/// Sets the aidant's last TOTP check `secs` seconds ago.
async fn totp_checked_ago(app: &TestApp, account: i64, secs: i64) -> i64 {
    let at = app.core.db.now_micros() - secs * 1_000_000;
    app.exec(&format!(
        "UPDATE sessions SET totp_verified_at = {at} WHERE account_id = {account}"
    ))
    .await
    .unwrap();
    at
}

/// The query pairs of a URL.
fn param(url: &str, name: &str) -> Option<String> {
    let u = url::Url::parse(&format!("http://x{}", url.trim_start_matches("http://x"))).ok()?;
    u.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn max_age_and_prompt_login_ask_for_a_new_code_and_auth_time_is_that_check() {
    let app = TestApp::new().await;
    let client = client_of(&register_json(&app, &[]));
    let (mut b, account, structure, secret) = aidant(&app, "aidant@exemple.fr").await;
    mandate(&app, structure, account, ("Alice", "Durand"), &["social"], 30).await;

    // A check 120 s ago satisfies max_age=300: auth_time is that check, to the second.
    let checked = totp_checked_ago(&app, account, 120).await;
    let start = format!("/oidc/authorize?{}", authorize_query(&client.0, &[("max_age", "300")]));
    let back = consent(&mut b, &start, "Durand", None).await;
    let t = token_for(&app, &client, &back).await;
    let claims = verify_es256(&app, t["id_token"].as_str().unwrap(), &client.0).await;
    assert_eq!(claims["auth_time"], checked / 1_000_000);
    assert!(claims["iat"].as_i64().unwrap() >= checked / 1_000_000 + 120);

    // max_age=60 with that check: a new code is asked, then the request goes on.
    for extra in [
        vec![("max_age", "60")],
        vec![("prompt", "login")],
        vec![("max_age", "0")],
    ] {
        totp_checked_ago(&app, account, 120).await;
        let start = format!("/oidc/authorize?{}", authorize_query(&client.0, &extra));
        let r = b.get(&start).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{extra:?}");
        let to = r.location().unwrap().to_string();
        assert!(to.starts_with("/connexion/totp-recent?suivant="), "{to}");
        let next = param(&to, "suivant").unwrap();
        assert!(
            next.starts_with("/oidc/authorize?") && next.contains("reauth="),
            "{next}"
        );
        // Each round enters a code again: the last accepted step is forgotten (a code is accepted once).
        app.exec(&format!(
            "UPDATE accounts SET totp_last_step = NULL WHERE id = {account}"
        ))
        .await
        .unwrap();
        // The marker alone, without a new code, does not let the request through.
        let r = b.get(&next).await;
        assert!(
            r.location().is_some_and(|l| l.starts_with("/connexion/totp-recent")),
            "{extra:?}"
        );
        let r = b
            .post(
                "/connexion/totp-recent",
                &[("code", &totp_code(&secret, 1)), ("suivant", &next)],
            )
            .await;
        assert_eq!(r.location(), Some(next.as_str()), "{}", r.body);
        let back = consent(&mut b, &next, "Durand", None).await;
        assert!(back.starts_with(BACK) && param(&back, "code").is_some(), "{back}");
        let t = token_for(&app, &client, &back).await;
        let claims = verify_es256(&app, t["id_token"].as_str().unwrap(), &client.0).await;
        let verified: i64 = app
            .scalar_i64(&format!(
                "SELECT totp_verified_at FROM sessions WHERE account_id = {account}"
            ))
            .await;
        assert_eq!(claims["auth_time"], verified / 1_000_000, "{extra:?}");
        // The marker of one request does not serve another one.
        let other = format!(
            "/oidc/authorize?{}&reauth={}",
            authorize_query(&client.0, &[("max_age", "0")])
                .replace("state=etat-de-test-123", "state=un-autre-etat-123"),
            param(&next, "reauth").unwrap()
        );
        totp_checked_ago(&app, account, 120).await;
        assert!(b
            .get(&other)
            .await
            .location()
            .is_some_and(|l| l.starts_with("/connexion/totp-recent")));
    }
}

#[tokio::test]
async fn login_hint_fills_in_the_sign_in_e_mail() {
    let app = TestApp::new().await;
    let client = client_of(&register_json(&app, &[]));
    let mut anon = app.browser();
    let q = authorize_query(&client.0, &[("login_hint", "marie.aidante@exemple.fr")]);
    let r = anon.get(&format!("/oidc/authorize?{q}")).await;
    let to = r.location().unwrap().to_string();
    assert!(to.starts_with("/connexion?suivant="), "{to}");
    assert_eq!(param(&to, "courriel").as_deref(), Some("marie.aidante@exemple.fr"));
    let page = anon.get(&to).await;
    assert!(
        page.body.contains("value=\"marie.aidante@exemple.fr\""),
        "{}",
        page.body
    );
    // Without a hint, nothing is filled in.
    let r = anon
        .get(&format!("/oidc/authorize?{}", authorize_query(&client.0, &[])))
        .await;
    assert!(param(r.location().unwrap(), "courriel").is_none());
}

#[tokio::test]
async fn the_id_token_has_at_hash_and_sid_and_a_nonce_only_when_one_was_sent() {
    let app = TestApp::new().await;
    let client = client_of(&register_json(&app, &[]));
    let (mut b, account, structure, _) = aidant(&app, "aidant@exemple.fr").await;
    mandate(&app, structure, account, ("Alice", "Durand"), &["social"], 30).await;
    let without_nonce: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", client.0.as_str()),
            ("redirect_uri", BACK),
            ("scope", "openid"),
            ("state", "etat-sans-nonce"),
        ])
        .finish();
    for (query, nonce) in [
        (without_nonce, None),
        (authorize_query(&client.0, &[]), Some("nonce-de-test-456")),
    ] {
        let back = consent(&mut b, &format!("/oidc/authorize?{query}"), "Durand", None).await;
        let t = token_for(&app, &client, &back).await;
        let claims = verify_es256(&app, t["id_token"].as_str().unwrap(), &client.0).await;
        assert_eq!(claims["nonce"].as_str(), nonce, "{claims}");
        let access = t["access_token"].as_str().unwrap();
        let expected = URL_SAFE_NO_PAD.encode(&Sha256::digest(access.as_bytes())[..16]);
        assert_eq!(claims["at_hash"], expected);
        let token = b.cookie("passerelle_session").unwrap().clone();
        assert_eq!(claims["sid"], passerelle_core::accounts::session::sid(&token));
        assert_eq!(claims["sid"].as_str().unwrap().len(), 32);
    }
}

fn jwt_payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn userinfo_is_signed_when_the_service_registered_it() {
    let app = TestApp::new().await;
    let (mut b, account, structure, _) = aidant(&app, "aidant@exemple.fr").await;
    mandate(&app, structure, account, ("Alice", "Durand"), &["social"], 30).await;
    for (args, alg) in [
        (vec!["--userinfo-signee", "ES256"], Some("ES256")),
        (
            vec!["--userinfo-signee", "HS256", "--signature", "HS256"],
            Some("HS256"),
        ),
        (vec![], None),
    ] {
        let v = register_json(&app, &args);
        assert_eq!(v["userinfo_signed_response_alg"].as_str(), alg, "{v}");
        let client = client_of(&v);
        let back = consent(
            &mut b,
            &format!("/oidc/authorize?{}", authorize_query(&client.0, &[])),
            "Durand",
            None,
        )
        .await;
        let t = token_for(&app, &client, &back).await;
        let id_token = t["id_token"].as_str().unwrap();
        let req = Request::get("/oidc/userinfo")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", t["access_token"].as_str().unwrap()),
            )
            .body(Body::empty())
            .unwrap();
        let r = app.browser().send(req).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let content_type = r
            .headers
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        match alg {
            Some("ES256") => {
                assert_eq!(content_type, "application/jwt");
                let claims = verify_es256(&app, &r.body, &client.0).await;
                assert_eq!(claims["family_name"], "Durand");
                assert_eq!(claims["sub"], verify_es256(&app, id_token, &client.0).await["sub"]);
            }
            Some(_) => {
                assert_eq!(content_type, "application/jwt");
                // HS256: the key is the service's own secret; a wrong one fails.
                let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
                v.set_audience(&[client.0.as_str()]);
                v.set_issuer(&[BASE]);
                let key = jsonwebtoken::DecodingKey::from_secret(client.1.as_bytes());
                let claims = jsonwebtoken::decode::<Value>(&r.body, &key, &v).unwrap().claims;
                assert_eq!(claims["family_name"], "Durand");
                let id = jsonwebtoken::decode::<Value>(id_token, &key, &v).unwrap().claims;
                assert_eq!(id["sub"], claims["sub"]);
                let wrong = jsonwebtoken::DecodingKey::from_secret(b"pas-le-secret");
                assert!(jsonwebtoken::decode::<Value>(&r.body, &wrong, &v).is_err());
            }
            None => {
                assert!(content_type.starts_with("application/json"), "{content_type}");
                assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap()["family_name"], "Durand");
            }
        }
    }
    // HS256 needs the secret: not with a public key.
    let dir = tempfile::tempdir().unwrap();
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let pem = p256::pkcs8::EncodePublicKey::to_public_key_pem(&key.public_key(), p256::pkcs8::LineEnding::LF).unwrap();
    let path = dir.path().join("cle.pem");
    std::fs::write(&path, pem).unwrap();
    let (code, _, err) = crate::lieux::run(
        &app,
        &[
            "oidc",
            "clients",
            "creer",
            "--nom",
            "S",
            "--redirect-uri",
            BACK,
            "--cle-publique",
            path.to_str().unwrap(),
            "--signature",
            "HS256",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("HS256 signe avec le secret du service"), "{err}");
}

#[tokio::test]
async fn a_json_body_at_the_token_endpoint_says_what_is_wrong() {
    let app = TestApp::new().await;
    let client = client_of(&register_json(&app, &[]));
    let body =
        serde_json::json!({ "grant_type": "authorization_code", "code": "x", "client_id": client.0 }).to_string();
    for media in ["application/json", "application/json; charset=utf-8", "text/plain"] {
        let req = Request::post("/oidc/token")
            .header(header::CONTENT_TYPE, media)
            .body(Body::from(body.clone()))
            .unwrap();
        let r = app.browser().send(req).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{media}");
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["error"], "invalid_request", "{media}");
        let why = v["error_description"].as_str().unwrap();
        assert!(
            why.contains("formulaire") && why.contains(media.split(';').next().unwrap()),
            "{why}"
        );
    }
    // A form without a Content-Type is still read as a form.
    let req = Request::post("/oidc/token")
        .body(Body::from(format!(
            "grant_type=authorization_code&code=x&client_id={}&client_secret={}",
            client.0, client.1
        )))
        .unwrap();
    let r = app.browser().send(req).await;
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["error"], "invalid_grant", "{}", r.body);
}

/// A local service that records the logout tokens posted to it and answers `status`.
async fn receiver(status: StatusCode) -> (String, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/deconnexion",
        axum::routing::post(move |body: String| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/deconnexion"), got)
}

async fn sign_out(b: &mut Browser) {
    let r = b.post("/deconnexion", &[]).await;
    assert!(r.status.is_success() || r.status.is_redirection(), "{}", r.status);
}

#[tokio::test]
async fn signing_out_tells_the_services_by_the_back_channel_and_revokes_their_tokens() {
    let app = TestApp::new().await;
    let (uri, got) = receiver(StatusCode::OK).await;
    let client = client_of(&register_json(&app, &["--backchannel-logout-uri", &uri]));
    let plain = client_of(&register_json(&app, &[]));
    let (mut b, account, structure, _) = aidant(&app, "aidant@exemple.fr").await;
    mandate(&app, structure, account, ("Alice", "Durand"), &["social"], 30).await;
    let mut tokens = Vec::new();
    for c in [&client, &plain] {
        let back = consent(
            &mut b,
            &format!("/oidc/authorize?{}", authorize_query(&c.0, &[])),
            "Durand",
            None,
        )
        .await;
        tokens.push(token_for(&app, c, &back).await);
    }
    let id_claims = verify_es256(&app, tokens[0]["id_token"].as_str().unwrap(), &client.0).await;
    let http = backchannel::http_client().unwrap();
    // Nothing to tell while the session lives.
    assert_eq!(
        backchannel::send_due(&app.core, &http, BASE, 10).await.unwrap(),
        backchannel::Sent::default()
    );
    sign_out(&mut b).await;
    // One logout token, for the service that registered a URI only.
    let sent = backchannel::send_due(&app.core, &http, BASE, 10).await.unwrap();
    assert_eq!((sent.envoyes, sent.echecs), (1, 0));
    let bodies = got.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    let form: Vec<(String, String)> = url::form_urlencoded::parse(bodies[0].as_bytes()).into_owned().collect();
    assert_eq!(form.len(), 1);
    assert_eq!(form[0].0, "logout_token");
    let header = jsonwebtoken::decode_header(&form[0].1).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&[client.0.as_str()]);
    v.set_issuer(&[BASE]);
    let claims = verify_es256(&app, &form[0].1, &client.0).await;
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert!(claims["events"][backchannel::EVENT].is_object(), "{claims}");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert!(claims.get("nonce").is_none());
    assert_eq!(jwt_payload(&form[0].1)["aud"], client.0);
    // Both services' tokens of that session are revoked.
    for t in &tokens {
        assert_eq!(
            userinfo(&app, t["access_token"].as_str().unwrap()).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // Delivered once.
    assert_eq!(
        backchannel::send_due(&app.core, &http, BASE, 10).await.unwrap(),
        backchannel::Sent::default()
    );
}

#[tokio::test]
async fn a_back_channel_delivery_that_fails_is_tried_again_later() {
    let app = TestApp::new().await;
    let (uri, got) = receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let client = client_of(&register_json(&app, &["--backchannel-logout-uri", &uri]));
    let (mut b, account, structure, _) = aidant(&app, "aidant@exemple.fr").await;
    mandate(&app, structure, account, ("Alice", "Durand"), &["social"], 30).await;
    let back = consent(
        &mut b,
        &format!("/oidc/authorize?{}", authorize_query(&client.0, &[])),
        "Durand",
        None,
    )
    .await;
    token_for(&app, &client, &back).await;
    sign_out(&mut b).await;
    let http = backchannel::http_client().unwrap();
    let sent = backchannel::send_due(&app.core, &http, BASE, 10).await.unwrap();
    assert_eq!((sent.envoyes, sent.echecs), (0, 1));
    assert_eq!(got.lock().unwrap().len(), 1);
    assert_eq!(app.scalar_i64("SELECT tentatives FROM oidc_deconnexions").await, 1);
    let wait = app.scalar_i64("SELECT prochain_essai_at FROM oidc_deconnexions").await - app.core.db.now_micros();
    assert!((110 * 1_000_000..=121 * 1_000_000).contains(&wait), "{wait}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM oidc_deconnexions WHERE erreur = 'réponse 500' AND envoye_at IS NULL")
            .await,
        1
    );
    // Not due yet: nothing sent.
    assert_eq!(
        backchannel::send_due(&app.core, &http, BASE, 10).await.unwrap(),
        backchannel::Sent::default()
    );
}
