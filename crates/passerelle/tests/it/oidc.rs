//! The OpenID Connect provider of Aidants Connect, protocol side: client
//! registration, discovery, JWKS and rotation, the strict reading of an
//! authentication request, and the token endpoint (single-use codes, PKCE,
//! replay revoking, ES256 ID tokens checked against the JWKS).

use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use passerelle_core::aidants_connect::oidc_provider::authorize::{self, Refusal};
use passerelle_core::aidants_connect::oidc_provider::tokens::{self, Grant};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::lieux::run;
use crate::oidc_support::{client_with_secret as client, token_request as post_token, BACK};
use crate::support::{TestApp, BASE};

fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
    q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn json_get(app: &TestApp, path: &str) -> Value {
    let r = app.browser().get(path).await;
    assert_eq!(r.status, StatusCode::OK, "{path}");
    serde_json::from_str(&r.body).unwrap()
}

/// A real grant for the usager tagged `tag` (created once per app): the
/// token endpoint checks that the autorisation is still active.
pub(crate) async fn grant(app: &TestApp, tag: i64) -> Grant {
    let family = format!("Test{tag}");
    let aidants = app
        .scalar_i64("SELECT COUNT(*) FROM accounts WHERE email = 'aidant-oidc@exemple.fr'")
        .await;
    if aidants == 0 {
        crate::oidc_support::aidant_account(app, "aidant-oidc@exemple.fr").await;
    }
    let aidant = app
        .scalar_i64("SELECT id FROM accounts WHERE email = 'aidant-oidc@exemple.fr'")
        .await;
    let structure = app
        .scalar_i64(&format!("SELECT organisation_id FROM accounts WHERE id = {aidant}"))
        .await;
    let known = app
        .scalar_i64(&format!("SELECT COUNT(*) FROM usagers WHERE family_name = '{family}'"))
        .await;
    if known == 0 {
        crate::oidc_support::mandate(app, structure, aidant, ("U", &family), &["social"], 30).await;
    }
    let usager = app
        .scalar_i64(&format!("SELECT id FROM usagers WHERE family_name = '{family}'"))
        .await;
    let autorisation = app
        .scalar_i64(&format!(
            "SELECT a.id FROM autorisations a JOIN mandats m ON m.id = a.mandat_id WHERE m.usager_id = {usager}"
        ))
        .await;
    Grant {
        aidant_id: aidant,
        structure_id: structure,
        usager_id: usager,
        autorisation_id: autorisation,
        demarche: "social".into(),
    }
}

/// The aidant's authentication recorded with the codes these tests issue directly.
pub(crate) fn authn() -> tokens::Authn {
    tokens::Authn {
        auth_time: AUTH_TIME,
        sid: "sid-de-test".into(),
    }
}

/// The `auth_time` of [`authn`], µs (2026-12-01T10:00:00Z).
pub(crate) const AUTH_TIME: i64 = 1_796_119_200_000_000;

/// Issues a code for `client_id` and returns it.
pub(crate) async fn code_for(app: &TestApp, client_id: &str, challenge: Option<&str>, usager: i64) -> String {
    let mut q = vec![
        ("client_id", client_id),
        ("redirect_uri", BACK),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", "etat-1234567890"),
        ("nonce", "nonce-abcdefghij"),
        ("acr_values", "eidas1"),
    ];
    if let Some(c) = challenge {
        q.push(("code_challenge", c));
        q.push(("code_challenge_method", "S256"));
    }
    let (request, _) = authorize::parse(&app.core.db, &pairs(&q)).await.unwrap().unwrap();
    let to = tokens::issue_code(&app.core, &request, &grant(app, usager).await, &authn())
        .await
        .unwrap();
    let u = url::Url::parse(&to).unwrap();
    assert!(to.starts_with(BACK));
    assert_eq!(
        u.query_pairs().find(|(k, _)| k == "state").unwrap().1,
        "etat-1234567890"
    );
    u.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned()
}

async fn verify(app: &TestApp, id_token: &str, audience: &str) -> Value {
    crate::oidc_support::verify_es256(app, id_token, audience).await
}

#[tokio::test]
async fn services_are_registered_and_the_provider_publishes_its_keys() {
    let app = TestApp::new().await;
    for (uri, why) in [
        ("http://service.example/retour", "https obligatoire"),
        ("https://service.example/retour#x", "pas de fragment"),
        ("pas une adresse", "adresse de retour invalide"),
    ] {
        let (code, _, err) = run(&app, &["oidc", "clients", "creer", "--nom", "S", "--redirect-uri", uri]);
        assert_ne!(code, 0);
        assert!(err.contains(why), "{err}");
    }
    let (code, _, err) = run(
        &app,
        &[
            "oidc",
            "clients",
            "creer",
            "--nom",
            "S",
            "--redirect-uri",
            BACK,
            "--demarches",
            "social,inconnue",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("démarche inconnue « inconnue »"), "{err}");
    let (id, secret) = client(&app, "Service de démonstration");
    assert!(id.starts_with("pc_") && secret.len() >= 43);
    assert_eq!(
        app.scalar_i64(&format!("SELECT COUNT(*) FROM oidc_clients WHERE client_id = '{id}'"))
            .await,
        1
    );
    let (_, list, _) = run(&app, &["oidc", "clients", "liste"]);
    assert!(
        list.contains(&id) && !list.contains(&secret),
        "the secret is never shown again"
    );

    let d = json_get(&app, "/.well-known/openid-configuration").await;
    assert_eq!(d["issuer"], BASE);
    assert_eq!(d["token_endpoint"], format!("{BASE}/oidc/token"));
    assert_eq!(d["id_token_signing_alg_values_supported"][0], "ES256");
    assert_eq!(d["code_challenge_methods_supported"][0], "S256");
    assert_eq!(d["subject_types_supported"][0], "pairwise");

    let first = json_get(&app, "/oidc/jwks").await;
    assert_eq!(first["keys"].as_array().unwrap().len(), 1);
    assert_eq!(first["keys"][0]["crv"], "P-256");
    assert!(first["keys"][0].get("d").is_none(), "no private part");
    let old_kid = first["keys"][0]["kid"].as_str().unwrap().to_string();
    assert_eq!(run(&app, &["oidc", "cles", "rotation"]).0, 0);
    let after = json_get(&app, "/oidc/jwks").await;
    let kids: Vec<&str> = after["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&old_kid.as_str()), "the previous key stays published");
    assert!(app.journal_actions().await.iter().any(|a| a == "oidc.rotation_cle"));
    // Tokens are signed with the new key.
    let code = code_for(&app, &id, None, 7).await;
    let (st, v) = post_token(
        &app,
        Some((&id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", BACK),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let header = jsonwebtoken::decode_header(v["id_token"].as_str().unwrap()).unwrap();
    assert_ne!(header.kid.as_deref(), Some(old_kid.as_str()));
}

#[tokio::test]
async fn authentication_requests_are_read_as_core_says() {
    let app = TestApp::new().await;
    let (id, _) = client(&app, "Service");
    let good = [
        ("client_id", id.as_str()),
        ("redirect_uri", BACK),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "s-123"),
        ("nonce", "n-456"),
    ];
    let check = |q: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let p: Vec<(String, String)> = q.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            authorize::parse(&app.core.db, &p).await.unwrap()
        }
    };
    let with = |changes: &[(&'static str, Option<&str>)]| {
        let mut q: Vec<(&'static str, String)> = good.iter().map(|(k, v)| (*k, v.to_string())).collect();
        for (k, v) in changes {
            q.retain(|(x, _)| x != k);
            if let Some(v) = v {
                q.push((k, v.to_string()));
            }
        }
        q
    };
    assert!(check(with(&[])).await.is_ok());
    // Not trusted yet: a page, never a redirect.
    for changes in [
        vec![("client_id", None)],
        vec![("client_id", Some("pc_inconnu"))],
        vec![("redirect_uri", Some("http://127.0.0.1:9999/ailleurs"))],
        vec![("redirect_uri", None)],
    ] {
        assert!(
            matches!(check(with(&changes)).await, Err(Refusal::Page(_))),
            "{changes:?}"
        );
    }
    let mut twice = with(&[]);
    twice.push(("redirect_uri", BACK.to_string()));
    assert!(matches!(check(twice).await, Err(Refusal::Page(_))));
    // Trusted: back to the client, with the state.
    let back = |r: Result<_, Refusal>| match r {
        Err(e @ Refusal::Redirect { .. }) => e.location().unwrap(),
        other => panic!("{:?}", other.map(|_| ())),
    };
    for (changes, error) in [
        (vec![("response_type", Some("token"))], "unsupported_response_type"),
        (vec![("scope", Some("profile"))], "invalid_scope"),
        (vec![("acr_values", Some("eidas3"))], "invalid_request"),
        // What would change how the exchange is secured: refused with Core's own errors.
        (
            vec![("request", Some("eyJhbGciOiJub25lIn0.e30."))],
            "request_not_supported",
        ),
        (
            vec![("request_uri", Some("https://service.exemple.fr/r"))],
            "request_uri_not_supported",
        ),
        (vec![("registration", Some("{}"))], "registration_not_supported"),
        (vec![("response_mode", Some("fragment"))], "invalid_request"),
        (vec![("response_mode", Some("form_post"))], "invalid_request"),
        (vec![("max_age", Some("-1"))], "invalid_request"),
        (vec![("max_age", Some("une heure"))], "invalid_request"),
        (vec![("prompt", Some("none"))], "login_required"),
        (
            vec![
                ("code_challenge", Some(&"x".repeat(43))),
                ("code_challenge_method", Some("plain")),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("code_challenge", Some("court")),
                ("code_challenge_method", Some("S256")),
            ],
            "invalid_request",
        ),
    ] {
        let to = back(check(with(&changes)).await);
        assert!(to.starts_with(BACK), "{to}");
        assert!(to.contains(&format!("error={error}")), "{changes:?}: {to}");
        assert!(to.contains("state=s-123"), "{to}");
    }
    let mut repeated = with(&[]);
    repeated.push(("scope", "openid".to_string()));
    assert!(back(check(repeated).await).contains("error=invalid_request"));
    let to = back(check(with(&[("state", None)])).await);
    assert!(to.contains("error=invalid_request") && !to.contains("state="), "{to}");

    // The bounds at their edges, and what a request may add.
    let (s512, s513) = ("s".repeat(512), "s".repeat(513));
    let (c43, c128) = ("c".repeat(43), "c".repeat(128));
    for changes in [
        vec![("state", Some(s512.as_str()))],
        vec![("nonce", Some(s512.as_str()))],
        vec![("scope", Some("profile openid email"))],
        vec![("acr_values", Some("eidas3 eidas1"))],
        vec![("prompt", Some("login consent"))],
        vec![
            ("code_challenge", Some(c43.as_str())),
            ("code_challenge_method", Some("S256")),
        ],
        vec![
            ("code_challenge", Some(c128.as_str())),
            ("code_challenge_method", Some("S256")),
        ],
        vec![("claims", Some(r#"{"userinfo": {"rep_scope": {"value": "social"}}}"#))],
        // Core: unknown parameters are ignored; the standard ones that change nothing here are accepted.
        vec![("inattendu", Some("1"))],
        vec![("nonce", None)],
        vec![("nonce", Some(""))],
        vec![("response_mode", Some("query"))],
        vec![("ui_locales", Some("fr-FR en"))],
        vec![("claims_locales", Some("fr"))],
        vec![("display", Some("touch"))],
        vec![("login_hint", Some("aidant@exemple.fr"))],
        vec![("id_token_hint", Some("eyJ"))],
        vec![("max_age", Some("0"))],
        vec![("max_age", Some("3600"))],
        vec![("reauth", Some("1.abc"))],
        // Core 3.1.2.1: a parameter without a value is omitted.
        vec![("acr_values", Some(""))],
        vec![("prompt", Some(""))],
        vec![("max_age", Some(""))],
        vec![("claims", Some(""))],
        // With PKCE, state may be left out (RFC 9700 §2.1).
        vec![
            ("state", None),
            ("code_challenge", Some(c43.as_str())),
            ("code_challenge_method", Some("S256")),
        ],
    ] {
        let r = check(with(&changes)).await;
        assert!(r.is_ok(), "{changes:?}: {:?}", r.err());
    }
    let (c42, c129) = ("c".repeat(42), "c".repeat(129));
    for (changes, why) in [
        (vec![("state", Some(s513.as_str()))], "state : 512 caractères au plus"),
        (
            vec![("state", None)],
            "state est obligatoire (sauf avec PKCE ; toujours pour FranceConnect)",
        ),
        (vec![("nonce", Some(s513.as_str()))], "nonce : 512 caractères au plus"),
        (
            vec![("max_age", Some("1.5"))],
            "max_age : un nombre entier de secondes, positif ou nul",
        ),
        (
            vec![("response_mode", Some("fragment"))],
            "seul response_mode=query est accepté",
        ),
        (
            vec![("request", Some("x"))],
            "les objets de requête (request) ne sont pas pris en charge",
        ),
        (vec![("request_uri", Some("x"))], "request_uri n'est pas pris en charge"),
        (
            vec![("registration", Some("x"))],
            "l'enregistrement dynamique (registration) n'est pas pris en charge",
        ),
        (
            vec![("scope", Some("openidx profile"))],
            "le scope doit contenir openid",
        ),
        (vec![("acr_values", Some("eidas2"))], "acr_values doit contenir eidas1"),
        (
            vec![
                ("code_challenge", Some(c42.as_str())),
                ("code_challenge_method", Some("S256")),
            ],
            "code_challenge : 43 à 128 caractères",
        ),
        (
            vec![
                ("code_challenge", Some(c129.as_str())),
                ("code_challenge_method", Some("S256")),
            ],
            "code_challenge : 43 à 128 caractères",
        ),
        (
            vec![("code_challenge", Some(c43.as_str()))],
            "PKCE : seule la méthode S256 est acceptée",
        ),
        (
            vec![("code_challenge_method", Some("S256"))],
            "PKCE : seule la méthode S256 est acceptée",
        ),
        (vec![("claims", Some("[]"))], "claims : objet JSON attendu"),
    ] {
        match check(with(&changes)).await {
            Err(Refusal::Redirect { description, state, .. }) => {
                assert_eq!(description, why, "{changes:?}");
                let without_state = changes.iter().any(|(k, v)| *k == "state" && v.is_none());
                assert_eq!(state.is_some(), !without_state, "{changes:?}");
            }
            other => panic!("{changes:?}: {:?}", other.map(|_| ())),
        }
    }
    let to = back(check(with(&[("state", Some(""))])).await);
    assert!(to.contains("error=invalid_request"), "{to}");
    // An empty or repeated client_id: a page.
    assert!(matches!(
        check(with(&[("client_id", Some(""))])).await,
        Err(Refusal::Page(_))
    ));
    let mut twice = with(&[]);
    twice.push(("client_id", id.clone()));
    assert!(matches!(check(twice).await, Err(Refusal::Page(m)) if m.contains("répété")));
}

/// What an accepted request carries on: the nonce only when one was sent,
/// `max_age` (0 for `prompt=login`, the smaller of both), the login hint.
#[tokio::test]
async fn an_accepted_request_keeps_nonce_max_age_and_login_hint() {
    let app = TestApp::new().await;
    let (id, _) = client(&app, "Service");
    let read = |extra: &[(&str, &str)]| {
        let mut q = vec![
            ("client_id".to_string(), id.clone()),
            ("redirect_uri".to_string(), BACK.to_string()),
            ("response_type".to_string(), "code".to_string()),
            ("scope".to_string(), "openid".to_string()),
            ("state".to_string(), "s-123".to_string()),
        ];
        q.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let app = &app;
        async move { authorize::parse(&app.core.db, &q).await.unwrap().unwrap().0 }
    };
    let plain = read(&[]).await;
    assert_eq!((plain.nonce, plain.max_age, plain.login_hint), (None, None, None));
    let r = read(&[
        ("nonce", "n-1"),
        ("max_age", "300"),
        ("login_hint", " aidant@exemple.fr "),
    ])
    .await;
    assert_eq!(r.nonce.as_deref(), Some("n-1"));
    assert_eq!(r.max_age, Some(300));
    assert_eq!(r.login_hint.as_deref(), Some("aidant@exemple.fr"));
    assert_eq!(read(&[("nonce", "")]).await.nonce, None);
    assert_eq!(read(&[("prompt", "login")]).await.max_age, Some(0));
    assert_eq!(
        read(&[("prompt", "consent login"), ("max_age", "300")]).await.max_age,
        Some(0)
    );
    assert_eq!(read(&[("prompt", "consent")]).await.max_age, None);
    assert_eq!(read(&[("max_age", "0")]).await.max_age, Some(0));
    // A hint too long or blank is not used; 512 characters are.
    let (h512, h513) = ("h".repeat(512), "h".repeat(513));
    assert_eq!(read(&[("login_hint", &h512)]).await.login_hint, Some(h512.clone()));
    assert_eq!(read(&[("login_hint", &h513)]).await.login_hint, None);
    assert_eq!(read(&[("login_hint", "  ")]).await.login_hint, None);
}

#[tokio::test]
async fn codes_are_single_use_short_lived_bound_to_their_client_and_verifier() {
    let app = TestApp::new().await;
    let (id, secret) = client(&app, "Service A");
    let (other, other_secret) = client(&app, "Service B");
    let form = |code: &str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
            ("redirect_uri", BACK.to_string()),
        ]
    };
    let post = |auth: Option<(&str, &str)>, f: Vec<(&'static str, String)>| {
        let app = &app;
        let auth = auth.map(|(a, b)| (a.to_string(), b.to_string()));
        async move {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_token(app, auth.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), &f).await
        }
    };

    // A good exchange: an ES256 ID token the JWKS verifies, with the nonce and a pairwise sub.
    let code = code_for(&app, &id, None, 42).await;
    let (st, v) = post(Some((&id, &secret)), form(&code)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    let claims = verify(&app, v["id_token"].as_str().unwrap(), &id).await;
    assert_eq!(claims["nonce"], "nonce-abcdefghij");
    assert_eq!(claims["acr"], "eidas1");
    let token = v["access_token"].as_str().unwrap().to_string();
    assert!(tokens::access(&app.core, &token).await.unwrap().is_some());
    let code_b = code_for(&app, &other, None, 42).await;
    let (_, vb) = post(Some((&other, &other_secret)), form(&code_b)).await;
    let claims_b = verify(&app, vb["id_token"].as_str().unwrap(), &other).await;
    assert_ne!(claims["sub"], claims_b["sub"], "pairwise: each service its own sub");
    let again = code_for(&app, &id, None, 42).await;
    let (_, v2) = post(Some((&id, &secret)), form(&again)).await;
    assert_eq!(
        verify(&app, v2["id_token"].as_str().unwrap(), &id).await["sub"],
        claims["sub"]
    );

    // Replayed: refused, and what it gave is revoked.
    let (st, v) = post(Some((&id, &secret)), form(&code)).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(tokens::access(&app.core, &token).await.unwrap().is_none(), "revoked");
    assert!(app.journal_actions().await.iter().any(|a| a == "oidc.code_rejoue"));

    // Client authentication.
    let fresh = code_for(&app, &id, None, 1).await;
    let (st, v) = post(Some((&id, "faux")), form(&fresh)).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (st, _) = post(None, form(&fresh)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, v) = post(Some((&other, &other_secret)), form(&fresh)).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "another client's code"
    );
    let mut in_form = form(&fresh);
    in_form.push(("client_id", id.clone()));
    in_form.push(("client_secret", secret.clone()));
    let (st, v) = post(None, in_form).await;
    assert_eq!(
        st,
        StatusCode::OK,
        "client_secret_post, and the failed tries did not burn the code: {v}"
    );

    // Wrong redirect URI, unknown grant type, expired code.
    let c = code_for(&app, &id, None, 1).await;
    let mut wrong = form(&c);
    wrong[2].1 = "http://127.0.0.1:9999/ailleurs".into();
    let (_, v) = post(Some((&id, &secret)), wrong).await;
    assert_eq!(v["error"], "invalid_grant");
    let mut grant_type = form(&c);
    grant_type[0].1 = "password".into();
    let (_, v) = post(Some((&id, &secret)), grant_type).await;
    assert_eq!(v["error"], "unsupported_grant_type");
    app.exec("UPDATE oidc_codes SET expire_at = expire_at - 61000000 WHERE utilise_at IS NULL")
        .await
        .unwrap();
    let (_, v) = post(Some((&id, &secret)), form(&c)).await;
    assert_eq!(v["error"], "invalid_grant");
    assert!(v["error_description"].as_str().unwrap().contains("expiré"), "{v}");

    // PKCE S256: the verifier is required and must match.
    let verifier = "un-verificateur-suffisamment-long-pour-pkce-0123456789";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let c = code_for(&app, &id, Some(&challenge), 1).await;
    let (_, v) = post(Some((&id, &secret)), form(&c)).await;
    assert_eq!(v["error"], "invalid_grant", "missing verifier");
    let mut bad = form(&c);
    bad.push((
        "code_verifier",
        "autre-verificateur-suffisamment-long-pour-pkce-012345".into(),
    ));
    let (_, v) = post(Some((&id, &secret)), bad).await;
    assert_eq!(v["error"], "invalid_grant", "wrong verifier");
    let mut good = form(&c);
    good.push(("code_verifier", verifier.into()));
    let (st, v) = post(Some((&id, &secret)), good).await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

/// A code lives 60 seconds to the microsecond: exchanged on its last
/// microsecond it gives tokens, one microsecond later it is refused as
/// expired. A code never issued is named as such and journals no replay.
#[tokio::test]
async fn a_code_lives_sixty_seconds_to_the_microsecond() {
    let app = TestApp::new().await;
    let (id, secret) = client(&app, "Service A");
    let at = |us: i64| jiff::Timestamp::from_microsecond(us).unwrap().to_string();
    let t = passerelle_core::horloge::Horloge::systeme().now_micros();
    app.set_now(&at(t));
    let on_time = code_for(&app, &id, None, 1).await;
    let late = code_for(&app, &id, None, 1).await;
    let form = |code: &str| {
        [
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
            ("redirect_uri", BACK.to_string()),
        ]
    };
    let post = |code: String| {
        let (app, id, secret) = (&app, id.clone(), secret.clone());
        async move {
            let f = form(&code);
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_token(app, Some((&id, &secret)), &f).await
        }
    };

    app.set_now(&at(t + 60_000_000));
    let (st, v) = post(on_time).await;
    assert_eq!(st, StatusCode::OK, "last microsecond: {v}");
    app.set_now(&at(t + 60_000_001));
    let (st, v) = post(late).await;
    assert_eq!(
        (st, v["error_description"].as_str()),
        (StatusCode::BAD_REQUEST, Some("code expiré")),
        "{v}"
    );

    let journaled = app.journal_actions().await.len();
    let (st, v) = post("jamais-delivre-0123456789abcdef".into()).await;
    assert_eq!(
        (st, v["error_description"].as_str()),
        (StatusCode::BAD_REQUEST, Some("code inconnu")),
        "{v}"
    );
    assert_eq!(app.journal_actions().await.len(), journaled, "no replay to journal");
}
