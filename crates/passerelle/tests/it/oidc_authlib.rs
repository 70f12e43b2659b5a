//! The OpenID Connect provider driven by a real client library: Python's
//! authlib (tests/oidc/client.py) reads the discovery document, builds the
//! request with PKCE S256, state and nonce, exchanges the code, verifies the
//! ES256 ID token against the JWKS (signature, iss, aud, nonce), calls
//! userinfo, and checks that a replayed code (and the token it gave), another
//! redirect_uri, a missing PKCE verifier and an expired code are refused,
//! and that logout returns only to a registered address. A second service,
//! registered with a public key, authenticates with authlib's
//! `PrivateKeyJWT` (ES256): accepted once per `jti`, refused when the
//! assertion lives an hour (authlib's default). The application is
//! served on a loopback socket; the aidant's browser steps are played here.

use std::process::Command;

use axum::http::StatusCode;
use serde_json::Value;

use crate::oidc_support::{aidant, consent, mandate, register, serve_loopback, Script, AFTER_LOGOUT, BACK};
use crate::support::{Browser, TestApp};

/// A service registered with a fresh EC P-256 public key: (client_id, path
/// of its private key in PKCS#8 PEM, for the script).
fn register_with_key(app: &TestApp) -> (String, String) {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let public = app.data_dir.join("service.pub.pem");
    let private = app.data_dir.join("service.key.pem");
    std::fs::write(&public, key.public_key().to_public_key_pem(LineEnding::LF).unwrap()).unwrap();
    std::fs::write(&private, key.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes()).unwrap();
    let (code, out, err) = crate::lieux::run(
        app,
        &[
            "oidc",
            "clients",
            "creer",
            "--nom",
            "Service à clé",
            "--redirect-uri",
            BACK,
            "--cle-publique",
            public.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    (
        v["client_id"].as_str().unwrap().to_string(),
        private.to_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authlib_client_completes_the_flow_and_every_misuse_is_refused() {
    let Ok(python) = std::env::var("PASSERELLE_PYTHON") else {
        panic!("PASSERELLE_PYTHON doit désigner le python de target/pyenv (voir scripts/test)");
    };
    let app = TestApp::new().await;
    let (base, browser_router) = serve_loopback(&app).await;

    let client = register(&app, "");
    let (key_client, key_pem) = register_with_key(&app);
    let (signed_in, aidant_id, structure, _) = aidant(&app, "aidant@exemple.fr").await;
    let mut b = Browser::on(browser_router);
    b.cookies = signed_in.cookies.clone();
    let (_, _, autorisations) = mandate(&app, structure, aidant_id, ("Angela", "Dubois"), &["social"], 30).await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/client.py");
    let mut command = Command::new(&python);
    command
        .args([
            script,
            &base,
            &client.0,
            &client.1,
            BACK,
            AFTER_LOGOUT,
            &key_client,
            &key_pem,
        ])
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let mut py = Script::spawn(command);
    let mut scenarios = Vec::new();
    let done = loop {
        let msg = py.next().await;
        if msg["done"] == true {
            break msg;
        }
        let scenario = msg["scenario"].as_str().unwrap().to_string();
        let url = msg["authorize_url"].as_str().unwrap();
        let path = url
            .strip_prefix(&base)
            .expect("le point d'autorisation de la découverte");
        assert!(path.starts_with("/oidc/authorize?"), "{path}");
        for p in ["code_challenge_method=S256", "code_challenge=", "nonce=", "state="] {
            assert!(path.contains(p), "{p} in {path}");
        }
        let back = consent(&mut b, path, "Angela Dubois", None).await;
        if scenario == "expire" {
            app.exec("UPDATE oidc_codes SET expire_at = expire_at - 61000000 WHERE utilise_at IS NULL")
                .await
                .unwrap();
        }
        py.answer(&back);
        scenarios.push(scenario);
    };
    let status = py.child.wait().unwrap();
    assert!(status.success(), "{}", py.stderr());
    assert_eq!(
        scenarios,
        [
            "nominal",
            "mauvaise_redirect_uri",
            "sans_verifier",
            "expire",
            "cle_privee"
        ]
    );
    assert_eq!(done["key_aud"], key_client.as_str());
    assert_eq!(done["key_one_hour"][0], "invalid_client", "{done}");
    assert!(
        done["key_one_hour"][1].as_str().unwrap().contains("5 minutes"),
        "{done}"
    );
    assert_eq!(done["key_replay"], "invalid_client", "{done}");
    for k in ["replay", "wrong_redirect_uri", "missing_verifier", "expired"] {
        assert_eq!(done[k], "invalid_grant", "{k}: {done}");
    }
    assert_eq!(done["logout"], "ok");
    assert_eq!(done["userinfo"]["family_name"], "Dubois");
    assert_eq!(done["userinfo"]["birthcountry"], "99100");
    assert_eq!(done["rep_scope"], "social");
    let sub = done["sub"].as_str().unwrap();
    assert_eq!(sub.len(), 64, "pairwise, opaque");
    // Exactly one use: the userinfo call of the nominal flow (the replayed token was refused).
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM mandats_utilisations u JOIN journal j ON j.seq = u.journal_seq \
             WHERE j.action = 'mandat.utilisation' AND u.autorisation_id = {}",
            autorisations[0]
        ))
        .await,
        1
    );
    assert!(app.journal_actions().await.iter().any(|a| a == "oidc.code_rejoue"));
    let r = b.get("/oidc/authorize").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
