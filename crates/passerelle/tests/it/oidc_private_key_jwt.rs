//! `private_key_jwt` at the token endpoint (OpenID Connect Core §9, RFC
//! 7523): a service registered with its EC P-256 public key signs an ES256
//! assertion; single-use `jti`, audience, expiry, key, algorithm, and the
//! two methods never mixed.

use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{json, Value};
use sha2::Digest;

use crate::lieux::run;
use crate::oidc::code_for;
use crate::oidc_support::{client_with_secret, token_request as post};
use crate::support::{TestApp, BASE};

const BACK: &str = "http://127.0.0.1:9999/retour";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn now() -> i64 {
    passerelle_core::horloge::Horloge::systeme().now_micros() / 1_000_000
}

/// Registers a service with the public key of `secret` written as `file`
/// (PEM, or a JWKS when `jwks`); returns its client_id.
fn register_with_key(app: &TestApp, secret: &p256::SecretKey, jwks: bool) -> String {
    let public = secret.public_key();
    let (name, text) = if jwks {
        let point = public.to_encoded_point(false);
        let jwk = json!({ "kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()), "use": "sig", "alg": "ES256" });
        ("cle.jwks.json", json!({ "keys": [jwk] }).to_string())
    } else {
        ("cle.pem", public.to_public_key_pem(LineEnding::LF).unwrap())
    };
    let path = app.data_dir.join(name);
    std::fs::write(&path, text).unwrap();
    let (code, out, err) = run(
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
            path.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v.get("client_secret").is_none(), "pas de secret : {out}");
    assert_eq!(v["token_endpoint_auth_method"], "private_key_jwt");
    v["client_id"].as_str().unwrap().to_string()
}

fn claims(client_id: &str, jti: &str) -> Value {
    json!({ "iss": client_id, "sub": client_id, "aud": format!("{BASE}/oidc/token"), "jti": jti,
        "iat": now(), "exp": now() + 120 })
}

fn sign(secret: &p256::SecretKey, claims: &Value) -> String {
    sign_with(secret, &Header::new(Algorithm::ES256), claims)
}

fn sign_with(secret: &p256::SecretKey, header: &Header, claims: &Value) -> String {
    let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
    let key = EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
    jsonwebtoken::encode(header, claims, &key).unwrap()
}

/// An unsigned token with header `alg` (`none`, or HS256 keyed with `hmac_key`).
fn forged(alg: &str, claims: &Value, hmac_key: &[u8]) -> String {
    if alg == "HS256" {
        return jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(hmac_key),
        )
        .unwrap();
    }
    let h = URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "typ": "JWT" }).to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{h}.{c}.")
}

/// The token request for `code` authenticated by `assertion`.
async fn with_assertion(app: &TestApp, code: &str, assertion: &str) -> (StatusCode, Value) {
    post(
        app,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", BACK),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ],
    )
    .await
}

fn refused(what: &str, (status, body): (StatusCode, Value)) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    assert_eq!(body["error"], "invalid_client", "{what}: {body}");
    // Each refusal tells the service's developer its own reason.
    let why = match what {
        "jti rejoué" => "client_assertion déjà utilisée (jti rejoué)",
        "mauvais aud" => "client_assertion : aud doit être l'adresse du point de jeton",
        "expirée" => "client_assertion expirée",
        "exp à une heure" => "client_assertion : exp à plus de 5 minutes",
        "sans exp" => "client_assertion : exp, iss, sub et aud sont obligatoires",
        "sans jti" => "client_assertion : jti obligatoire",
        "sub différent" => "client_assertion : sub doit être le client_id",
        "autre clé" => "client_assertion : signature invalide",
        "HS256" | "HS256 signé du secret" => "client_assertion : seul l'algorithme ES256 est accepté",
        "alg none" | "assertion illisible" => "client_assertion illisible",
        "client_id différent" => "client_id différent de l'émetteur de client_assertion",
        _ => "",
    };
    let said = body["error_description"].as_str().unwrap_or_default();
    assert!(said.contains(why), "{what}: « {said} » au lieu de « {why} »");
    assert!(!why.is_empty() || !said.is_empty(), "{what}: refus sans raison");
}

#[tokio::test]
async fn oidc_private_key_jwt_gets_tokens_once_per_assertion() {
    let app = TestApp::new().await;
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let client_id = register_with_key(&app, &key, false);

    let discovery: Value =
        serde_json::from_str(&app.browser().get("/.well-known/openid-configuration").await.body).unwrap();
    assert!(discovery["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("private_key_jwt")));
    assert_eq!(
        discovery["token_endpoint_auth_signing_alg_values_supported"],
        json!(["ES256"])
    );

    let assertion = sign(&key, &claims(&client_id, "jti-1"));
    let code = code_for(&app, &client_id, None, 1).await;
    let (status, body) = with_assertion(&app, &code, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["id_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["access_token"].as_str().is_some());

    // The same assertion again (fresh code): its jti is spent.
    let code = code_for(&app, &client_id, None, 1).await;
    refused("jti rejoué", with_assertion(&app, &code, &assertion).await);

    // The issuer as audience, and client_id in the form: accepted.
    let mut c = claims(&client_id, "jti-2");
    c["aud"] = json!(BASE);
    let (status, body) = post(
        &app,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", BACK),
            ("client_id", &client_id),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &sign(&key, &c)),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A JWKS file is accepted at registration too.
    let other = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let jwks_client = register_with_key(&app, &other, true);
    let code = code_for(&app, &jwks_client, None, 1).await;
    let (status, body) = with_assertion(&app, &code, &sign(&other, &claims(&jwks_client, "jti-1"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let details = app
        .scalar_text("SELECT details FROM journal WHERE action = 'oidc.service_enregistre' ORDER BY seq LIMIT 1")
        .await;
    assert!(details.contains("private_key_jwt"), "{details}");
    assert!(!details.contains("BEGIN"), "{details}");
}

#[tokio::test]
async fn oidc_private_key_jwt_refusals() {
    let app = TestApp::new().await;
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let client_id = register_with_key(&app, &key, false);
    let code = code_for(&app, &client_id, None, 1).await;

    let mut c = claims(&client_id, "aud");
    c["aud"] = json!("https://ailleurs.exemple.fr/oidc/token");
    refused("mauvais aud", with_assertion(&app, &code, &sign(&key, &c)).await);

    let mut c = claims(&client_id, "expiree");
    c["exp"] = json!(now() - 120);
    refused("expirée", with_assertion(&app, &code, &sign(&key, &c)).await);

    let mut c = claims(&client_id, "lointaine");
    c["exp"] = json!(now() + 3600);
    refused("exp à une heure", with_assertion(&app, &code, &sign(&key, &c)).await);

    let mut c = claims(&client_id, "sans-exp");
    c.as_object_mut().unwrap().remove("exp");
    refused("sans exp", with_assertion(&app, &code, &sign(&key, &c)).await);

    let mut c = claims(&client_id, "x");
    c.as_object_mut().unwrap().remove("jti");
    refused("sans jti", with_assertion(&app, &code, &sign(&key, &c)).await);

    let mut c = claims(&client_id, "sub");
    c["sub"] = json!("quelqu-un-d-autre");
    refused("sub différent", with_assertion(&app, &code, &sign(&key, &c)).await);

    let stranger = p256::SecretKey::random(&mut rand::rngs::OsRng);
    refused(
        "autre clé",
        with_assertion(&app, &code, &sign(&stranger, &claims(&client_id, "autre-cle"))).await,
    );
    refused(
        "HS256",
        with_assertion(&app, &code, &forged("HS256", &claims(&client_id, "hs"), b"secret")).await,
    );
    refused(
        "alg none",
        with_assertion(&app, &code, &forged("none", &claims(&client_id, "none"), b"")).await,
    );
    refused("assertion illisible", with_assertion(&app, &code, "pas.un.jwt").await);

    // Wrong assertion type.
    refused(
        "client_assertion_type",
        post(
            &app,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", BACK),
                ("client_assertion_type", "urn:autre"),
                ("client_assertion", &sign(&key, &claims(&client_id, "type"))),
            ],
        )
        .await,
    );

    // A service with a key cannot use a secret, even one whose fingerprint
    // is stored (it has none of its own): basic and post both refused.
    let known = hex::encode(sha2::Sha256::digest(b"nimporte-quoi"));
    let literal = match app.backend() {
        passerelle_core::Backend::Sqlite => format!("X'{known}'"),
        passerelle_core::Backend::Postgres => format!("'\\x{known}'::bytea"),
    };
    app.exec(&format!(
        "UPDATE oidc_clients SET secret_empreinte = {literal} WHERE client_id = '{client_id}'"
    ))
    .await
    .unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", BACK),
    ];
    refused(
        "secret d'un client à clé",
        post(&app, Some((&client_id, "nimporte-quoi")), &form).await,
    );
    let mut with_post = form.to_vec();
    with_post.extend([("client_id", client_id.as_str()), ("client_secret", "nimporte-quoi")]);
    refused("secret post d'un client à clé", post(&app, None, &with_post).await);

    // A service with a secret cannot send an assertion (nor sign one with a key).
    let (secret_id, secret) = client_with_secret(&app, "Service à secret");
    let secret_code = code_for(&app, &secret_id, None, 1).await;
    refused(
        "assertion d'un client à secret",
        with_assertion(&app, &secret_code, &sign(&key, &claims(&secret_id, "s1"))).await,
    );
    refused(
        "HS256 signé du secret",
        with_assertion(
            &app,
            &secret_code,
            &forged("HS256", &claims(&secret_id, "s2"), secret.as_bytes()),
        )
        .await,
    );
    // Both methods at once.
    let (status, body) = post(
        &app,
        Some((&secret_id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &secret_code),
            ("redirect_uri", BACK),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &sign(&key, &claims(&client_id, "both"))),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // client_id of the form other than the assertion's issuer.
    let (status, body) = post(
        &app,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", BACK),
            ("client_id", &secret_id),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &sign(&key, &claims(&client_id, "mix"))),
        ],
    )
    .await;
    refused("client_id différent", (status, body));

    // The secret service still works with its secret, and the key service
    // with a good assertion: none of the refusals above spent the code.
    let (status, body) = post(&app, Some((&secret_id, &secret)), &form_for(&secret_code)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = with_assertion(&app, &code, &sign(&key, &claims(&client_id, "bonne"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Each instance sees the spent jti: it is in the database.
    let spent = app
        .scalar_i64(&format!(
            "SELECT COUNT(*) FROM oidc_assertions_jti WHERE client_id = '{client_id}' AND jti = 'bonne'"
        ))
        .await;
    assert_eq!(spent, 1);
}

fn form_for(code: &str) -> [(&str, &str); 3] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", BACK),
    ]
}

/// The bounds at their edges: an assertion of 8,192 characters is read and one
/// more is not; `exp` may be 5 minutes and 30 seconds (the tolerated skew)
/// ahead of the provider's clock, not one second more; a `jti` of 200
/// characters is taken, an empty one or one of 201 is not.
#[tokio::test]
async fn oidc_private_key_jwt_bounds_at_their_edges() {
    let app = TestApp::new().await;
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let client_id = register_with_key(&app, &key, false);
    // The provider's clock stands still on the current second.
    let t = now();
    app.set_now(&jiff::Timestamp::from_second(t).unwrap().to_string());
    let at = |ahead: i64, jti: &str| {
        let mut c = claims(&client_id, jti);
        c["exp"] = json!(t + ahead);
        sign(&key, &c)
    };
    let code = code_for(&app, &client_id, None, 1).await;
    refused("exp à une heure", with_assertion(&app, &code, &at(331, "331")).await);
    let (status, body) = with_assertion(&app, &code, &at(330, "330")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Padded to exactly 8,192 characters (then 8,193), whatever the lengths of
    // the header and of the signature.
    let padded = |total: usize, jti: &str| {
        // Unpadded base64 never ends a part on a length of 4k + 1: the header's
        // `kid` moves the total by steps the payload cannot make alone.
        let with = |k: usize, p: usize| {
            let mut c = claims(&client_id, jti);
            c["bourrage"] = json!("b".repeat(p));
            let header = Header {
                kid: Some("k".repeat(k)),
                ..Header::new(Algorithm::ES256)
            };
            sign_with(&key, &header, &c)
        };
        let near = (total - with(0, 0).len()) * 3 / 4;
        (0..4)
            .flat_map(|k| (near.saturating_sub(6)..near + 2).map(move |p| (k, p)))
            .map(|(k, p)| with(k, p))
            .find(|a| a.len() == total)
            .unwrap()
    };
    let code = code_for(&app, &client_id, None, 2).await;
    let (status, body) = with_assertion(&app, &code, &padded(8193, "long")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        body["error_description"], "client_assertion absente ou trop longue",
        "{body}"
    );
    let (status, body) = with_assertion(&app, &code, &padded(8192, "juste")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A jti of 1 to 200 characters.
    let code = code_for(&app, &client_id, None, 3).await;
    for bad in [String::new(), "j".repeat(201)] {
        let what = "sans jti";
        refused(
            what,
            with_assertion(&app, &code, &sign(&key, &claims(&client_id, &bad))).await,
        );
    }
    let (status, body) = with_assertion(&app, &code, &sign(&key, &claims(&client_id, &"j".repeat(200)))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A spent `jti` is remembered as long as its assertion could still be
/// presented (its `exp` plus the tolerated skew) and forgotten after, at the
/// next authentication: replays stay refused and the table does not grow
/// without end.
#[tokio::test]
async fn a_spent_jti_is_remembered_until_its_assertion_expires() {
    let app = TestApp::new().await;
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let client_id = register_with_key(&app, &key, false);
    let t = now();
    let at = |second: i64| app.set_now(&jiff::Timestamp::from_second(second).unwrap().to_string());
    let expiring = |jti: &str, exp: i64| {
        let mut c = claims(&client_id, jti);
        c["exp"] = json!(exp);
        sign(&key, &c)
    };
    at(t);
    let assertion = expiring("une-fois", t + 300);
    let code = code_for(&app, &client_id, None, 1).await;
    let (status, body) = with_assertion(&app, &code, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // On the last second that its exp and the skew allow, it is still spent.
    at(t + 329);
    let code = code_for(&app, &client_id, None, 1).await;
    refused("jti rejoué", with_assertion(&app, &code, &assertion).await);

    // One second after that, the next authentication forgets it.
    at(t + 331);
    let code = code_for(&app, &client_id, None, 1).await;
    let (status, body) = with_assertion(&app, &code, &expiring("suivante", t + 391)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let kept = |jti: &str| {
        let sql = format!("SELECT COUNT(*) FROM oidc_assertions_jti WHERE jti = '{jti}'");
        let app = &app;
        async move { app.scalar_i64(&sql).await }
    };
    assert_eq!((kept("une-fois").await, kept("suivante").await), (0, 1));
}
