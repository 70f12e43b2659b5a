//! The provider against client libraries written by others, each with its
//! default settings, over real HTTP (the application on a loopback socket;
//! the aidant's two steps are played here):
//! - Node's `openid-client` 6 (OpenID Certified; tests/oidc/openid_client.mjs):
//!   `client_secret_post`, PKCE without state or nonce, then state, nonce,
//!   `max_age` and the signature checked (`enableNonRepudiationChecks`), a
//!   signed userinfo, the end-session URL it builds;
//! - Rust's `openidconnect` 4: discovery, `client_secret_basic`, state and
//!   nonce (always sent by the crate), PKCE, the ID token verified with the
//!   algorithms of the discovery document, `at_hash` compared as its
//!   documentation shows, userinfo with the expected subject.
//!
//! Python's authlib has its own file (oidc_authlib.rs).

use std::process::Command;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;

use crate::oidc_support::{aidant, consent, mandate, register_json, serve_loopback, Script, AFTER_LOGOUT, BACK};
use crate::support::{Browser, TestApp};

fn secret_of(v: &Value) -> (String, String) {
    (
        v["client_id"].as_str().unwrap().to_string(),
        v["client_secret"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_openid_client_completes_the_flow_with_its_defaults() {
    let app = TestApp::new().await;
    let (base, router) = serve_loopback(&app).await;
    let plain = secret_of(&register_json(&app, &[]));
    let signed = secret_of(&register_json(&app, &["--userinfo-signee", "ES256"]));
    let (signed_in, aidant_id, structure, _) = aidant(&app, "aidant@exemple.fr").await;
    let mut b = Browser::on(router);
    b.cookies = signed_in.cookies.clone();
    mandate(&app, structure, aidant_id, ("Angela", "Dubois"), &["social"], 30).await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/openid_client.mjs");
    let mut command = Command::new(std::env::var("PASSERELLE_NODE").unwrap_or_else(|_| "node".into()));
    command.args([
        script,
        &base,
        &plain.0,
        &plain.1,
        BACK,
        AFTER_LOGOUT,
        &signed.0,
        &signed.1,
    ]);
    let mut node = Script::spawn(command);
    let mut scenarios = Vec::new();
    let done = loop {
        let msg = node.next().await;
        if msg["done"] == true {
            break msg;
        }
        let scenario = msg["scenario"].as_str().unwrap().to_string();
        let path = msg["authorize_url"]
            .as_str()
            .unwrap()
            .strip_prefix(&base)
            .unwrap()
            .to_string();
        assert!(path.starts_with("/oidc/authorize?"), "{path}");
        let query: Vec<(String, String)> = url::form_urlencoded::parse(path.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
        let has = |k: &str| query.iter().any(|(x, _)| x == k);
        assert!(has("code_challenge") && !has("client_secret"), "{path}");
        if scenario == "defauts" {
            // The library's defaults: PKCE, neither state nor nonce.
            assert!(!has("state") && !has("nonce"), "{path}");
        }
        let back = consent(&mut b, &path, "Angela Dubois", None).await;
        node.answer(&back);
        scenarios.push(scenario);
    };
    let status = node.child.wait().unwrap();
    assert!(status.success(), "{}", node.stderr());
    assert_eq!(scenarios, ["defauts", "etat_nonce_max_age", "userinfo_signee"]);
    assert_eq!(done["defaults"]["family_name"], "Dubois", "{done}");
    assert_eq!(done["defaults"]["rep_scope"], "social");
    assert_eq!(done["defaults"]["sub"].as_str().unwrap().len(), 64);
    assert_eq!(done["defaults"]["sid"].as_str().unwrap().len(), 32);
    assert_eq!(done["replay"], "invalid_grant", "{done}");
    assert!(done["replay_userinfo"].as_str().is_some(), "{done}");
    assert!(done["strict"]["auth_time"].as_i64().unwrap() <= done["strict"]["iat"].as_i64().unwrap());
    assert!(done["strict"]["at_hash"].as_str().is_some_and(|h| h.len() == 22));
    assert!(done["wrong_state"].as_str().is_some(), "{done}");
    assert_eq!(done["signed_userinfo"]["sub_matches"], true, "{done}");
    assert_eq!(done["signed_userinfo"]["family_name"], "Dubois");
    assert_eq!(done["signed_userinfo"]["aud"], signed.0.as_str());
    assert!(done["wrong_subject"].as_str().is_some(), "{done}");
    assert_eq!(done["logout"]["status"], 303, "{done}");
    let location = done["logout"]["location"].as_str().unwrap();
    assert!(
        location.starts_with(AFTER_LOGOUT) && location.contains("state=fin-123"),
        "{location}"
    );
    // Three uses of the mandate: the three userinfo calls that answered.
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM mandats_utilisations").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_openidconnect_completes_the_flow_with_its_defaults() {
    let app = TestApp::new().await;
    let (base, router) = serve_loopback(&app).await;
    let client = secret_of(&register_json(&app, &[]));
    let (signed_in, aidant_id, structure, _) = aidant(&app, "aidant@exemple.fr").await;
    let mut b = Browser::on(router);
    b.cookies = signed_in.cookies.clone();
    mandate(&app, structure, aidant_id, ("Angela", "Dubois"), &["social"], 30).await;

    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(base.clone()).unwrap(), &http)
        .await
        .expect("découverte lue par openidconnect");
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.0.clone()),
        Some(ClientSecret::new(client.1.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(BACK.to_string()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let path = url.as_str().strip_prefix(&base).unwrap().to_string();
    let back = consent(&mut b, &path, "Angela Dubois", None).await;
    let back = url::Url::parse(&back).unwrap();
    let param = |k: &str| back.query_pairs().find(|(x, _)| x == k).map(|(_, v)| v.into_owned());
    assert_eq!(param("state").as_deref(), Some(state.secret().as_str()));
    let code = AuthorizationCode::new(param("code").unwrap());

    // client_secret_basic (the crate's default) and the PKCE verifier.
    let tokens = rp
        .exchange_code(code.clone())
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("échange du code");
    let id_token = tokens.id_token().expect("jeton d'identité");
    let verifier = rp.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).expect("jeton d'identité vérifié");
    let expected = claims.access_token_hash().expect("at_hash");
    let actual = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual, expected);
    assert_eq!(claims.subject().as_str().len(), 64);
    assert!(claims.auth_time().is_some());
    // Another nonce: refused by the crate.
    assert!(id_token.claims(&verifier, &Nonce::new("autre".into())).is_err());

    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().to_owned(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    let family = info
        .family_name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_string());
    assert_eq!(family.as_deref(), Some("Dubois"));
    // The code again: refused (and the token it gave is revoked).
    let replay = rp.exchange_code(code).unwrap().request_async(&http).await;
    assert!(replay.is_err());
    let after: Result<CoreUserInfoClaims, _> = rp
        .user_info(tokens.access_token().to_owned(), None)
        .unwrap()
        .request_async(&http)
        .await;
    assert!(after.is_err());
}
