//! FranceConnect through the built-in simulator, over a real loopback socket:
//! the relying party fetches discovery, keys, tokens and userinfo by HTTP from
//! the application itself. A test layer in front of the simulator's token
//! endpoint plays a hostile or broken provider (tampered, foreign-key, expired
//! or wrong-nonce ID tokens).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use base64::Engine;
use passerelle_core::aidants_connect::franceconnect::simulateur::{sub_of, SigningKey};
use passerelle_core::aidants_connect::franceconnect::{flow, FcConfig, FranceConnect};
use passerelle_core::Keys;
use passerelle_web::{router, AppState};
use serde_json::Value;

use crate::lieux_pages::signed_in;
use crate::support::{serveur, Browser, TestApp};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tamper {
    None,
    FlipSignature,
    ForeignKey,
    Expired,
    OtherNonce,
}

pub(crate) struct Fc {
    pub(crate) app: TestApp,
    pub(crate) base: String,
    pub(crate) router: Router,
    pub(crate) config: FcConfig,
    tamper: Arc<Mutex<Tamper>>,
    jwks_fetches: Arc<AtomicUsize>,
}

fn b64json(part: &str) -> Value {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn rewrite(token: &str, mode: Tamper, keys: &Keys) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = b64json(parts[1]);
    let now = passerelle_core::Horloge::systeme().now().as_second();
    match mode {
        Tamper::None => token.to_string(),
        Tamper::FlipSignature => {
            let mut sig = parts[2].as_bytes().to_vec();
            sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
            format!("{}.{}.{}", parts[0], parts[1], String::from_utf8(sig).unwrap())
        }
        Tamper::ForeignKey => SigningKey::generate().unwrap().sign(&claims).unwrap(),
        Tamper::Expired => {
            claims["iat"] = (now - 7200).into();
            claims["exp"] = (now - 3600).into();
            SigningKey::of(keys).unwrap().sign(&claims).unwrap()
        }
        Tamper::OtherNonce => {
            claims["nonce"] = "un-nonce-qui-n-est-pas-celui-de-la-demande".into();
            SigningKey::of(keys).unwrap().sign(&claims).unwrap()
        }
    }
}

async fn hostile_provider(
    tamper: Arc<Mutex<Tamper>>,
    fetches: Arc<AtomicUsize>,
    keys: Keys,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    if path == "/fc-simulateur/jwks" {
        fetches.fetch_add(1, Ordering::SeqCst);
    }
    let res = next.run(req).await;
    let mode = *tamper.lock().unwrap();
    if path != "/fc-simulateur/token" || mode == Tamper::None || !res.status().is_success() {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let mut v: Value = serde_json::from_slice(&bytes).unwrap();
    let token = v["id_token"].as_str().unwrap().to_string();
    v["id_token"] = rewrite(&token, mode, &keys).into();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(serde_json::to_vec(&v).unwrap()))
}

/// The application with the simulator on, served on a loopback port.
pub(crate) async fn serve() -> Fc {
    let app = TestApp::new().await;
    let (listener, base) = serveur::loopback().await;
    let config = serveur::franceconnect_simulator(&app, &base);
    let web = serveur::web_config_at(&base);
    let state =
        AppState::new(app.core.clone(), web).with_franceconnect(Some(FranceConnect::new(config.clone()).unwrap()));
    let tamper = Arc::new(Mutex::new(Tamper::None));
    let jwks_fetches = Arc::new(AtomicUsize::new(0));
    let (t, f, k) = (tamper.clone(), jwks_fetches.clone(), app.core.keys.clone());
    let router = router(state).layer(axum::middleware::from_fn(move |req: Request, next: Next| {
        hostile_provider(t.clone(), f.clone(), k.clone(), req, next)
    }));
    serveur::spawn(listener, router.clone());
    Fc {
        app,
        base,
        router,
        config,
        tamper,
        jwks_fetches,
    }
}

impl Fc {
    pub(crate) async fn aidant(&self, email: &str) -> Browser {
        let (signed, _) = signed_in(&self.app, "structure_habilitee", "aidant", email).await;
        let mut b = Browser::on(self.router.clone());
        b.cookies = signed.cookies.clone();
        b
    }

    pub(crate) fn local<'a>(&self, absolute: &'a str) -> &'a str {
        absolute
            .strip_prefix(self.base.as_str())
            .expect("adresse de l'application")
    }

    fn set(&self, mode: Tamper) {
        *self.tamper.lock().unwrap() = mode;
    }

    /// From `/franceconnect/connexion` to the callback address FranceConnect
    /// sends the browser to, with `identite` picked (or cancelled when empty).
    async fn through_provider(&self, b: &mut Browser, identite: &str) -> String {
        self.through_provider_from(b, "/franceconnect/connexion", identite)
            .await
    }

    /// The same from another starting page (an usager's own sign-in).
    pub(crate) async fn through_provider_from(&self, b: &mut Browser, start: &str, identite: &str) -> String {
        let r = b.get(start).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let authorize = self.local(r.location().unwrap()).to_string();
        let url = url::Url::parse(&format!("{}{authorize}", self.base)).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert!(q["state"].len() >= 32 && q["nonce"].len() >= 32);
        assert_eq!(q["acr_values"], "eidas1");
        assert_eq!(q["response_type"], "code");
        assert!(q["scope"].starts_with("openid given_name family_name birthdate birthplace birthcountry"));
        let page = b.get(&authorize).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page
            .body
            .contains("Simulateur FranceConnect — démonstration, aucune donnée réelle"));
        let mut fields = vec![
            ("client_id", q["client_id"].as_str()),
            ("redirect_uri", q["redirect_uri"].as_str()),
            ("state", q["state"].as_str()),
            ("nonce", q["nonce"].as_str()),
            ("acr", "eidas1"),
        ];
        if identite.is_empty() {
            fields.push(("annuler", "1"));
        } else {
            fields.push(("identite", identite));
        }
        let r = b.post("/fc-simulateur/authorize", &fields).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        self.local(r.location().unwrap()).to_string()
    }

    async fn usagers(&self) -> i64 {
        self.app.scalar_i64("SELECT COUNT(*) FROM usagers").await
    }

    async fn refusals(&self) -> usize {
        self.app
            .journal_actions()
            .await
            .iter()
            .filter(|a| *a == "franceconnect.refus")
            .count()
    }
}

fn code_of(callback: &str) -> String {
    let url = url::Url::parse(&format!("http://x{callback}")).unwrap();
    url.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_usager_is_identified_stored_once_under_a_hashed_sub_and_logged_out() {
    let fc = serve().await;
    let mut b = fc.aidant("aidant@exemple.fr").await;
    let r = b.get("/franceconnect").await;
    assert!(r.body.contains("href=\"/franceconnect/connexion\""), "{}", r.body);
    let callback = fc.through_provider(&mut b, "angela").await;
    assert!(callback.starts_with("/franceconnect/retour?code="), "{callback}");
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body
            .contains("Usager identifié : Angela Claire Louise DUBOIS, née le 24 août 1962"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Première identification"));
    assert_eq!(fc.usagers().await, 1);
    let sub = sub_of(&fc.app.core.keys, &fc.config.client_id, "angela");
    let stored = fc.app.scalar_text("SELECT sub_hash FROM usagers").await;
    assert_eq!(stored, flow::sub_hash(&fc.app.core.keys, &sub));
    assert_ne!(stored, sub, "sub is never stored in clear");
    assert_eq!(
        fc.app
            .scalar_text("SELECT birthplace || '/' || birthcountry || '/' || gender FROM usagers")
            .await,
        "75107/99100/female"
    );

    // The code was single use at the simulator's token endpoint.
    let mut server = Browser::on(fc.router.clone());
    let r = server
        .post_raw(
            "/fc-simulateur/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code_of(&callback)),
                ("redirect_uri", fc.config.redirect_uri.as_str()),
                ("client_id", &fc.config.client_id),
                ("client_secret", fc.config.client_secret.expose()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("invalid_grant"));

    // A second identification of the same person updates, a third person adds.
    let callback = fc.through_provider(&mut b, "angela").await;
    let r = b.get(&callback).await;
    assert!(r.body.contains("Usager déjà connu"), "{}", r.body);
    assert_eq!(fc.usagers().await, 1);
    let callback = fc.through_provider(&mut b, "pierre").await;
    let r = b.get(&callback).await;
    assert!(r.body.contains("Pierre MERCIER, né le 12 mars 1948"), "{}", r.body);
    assert_eq!(fc.usagers().await, 2);
    assert_eq!(
        fc.jwks_fetches.load(Ordering::SeqCst),
        1,
        "keys cached between identifications"
    );

    let actions = fc.app.journal_actions().await;
    assert_eq!(
        actions.iter().filter(|a| *a == "franceconnect.identification").count(),
        3
    );
    let details = fc
        .app
        .scalar_text("SELECT details FROM journal WHERE action = 'franceconnect.identification' ORDER BY seq LIMIT 1")
        .await;
    assert!(
        details.contains("eidas1") && !details.contains("DUBOIS") && !details.contains(&sub),
        "{details}"
    );

    // Logout at FranceConnect with the ID token, back with the state.
    let r = b.get("/franceconnect/deconnexion").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let end = fc.local(r.location().unwrap()).to_string();
    assert!(end.starts_with("/fc-simulateur/session/end?id_token_hint="), "{end}");
    assert!(end.contains("post_logout_redirect_uri="));
    let r = b.get(&end).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let back = fc.local(r.location().unwrap()).to_string();
    let r = b.get(&back).await;
    assert!(r.body.contains("déconnecté de FranceConnect"), "{}", r.body);
    assert_eq!(
        b.get(&back).await.status,
        StatusCode::BAD_REQUEST,
        "logout state used once"
    );
    assert!(fc
        .app
        .journal_actions()
        .await
        .iter()
        .any(|a| a == "franceconnect.deconnexion"));
    let r = b.get("/franceconnect/deconnexion").await;
    assert!(r.body.contains("Aucune session FranceConnect"), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_replayed_state_or_another_session_is_refused() {
    let fc = serve().await;
    let mut b = fc.aidant("aidant@exemple.fr").await;
    let callback = fc.through_provider(&mut b, "angela").await;
    let code = code_of(&callback);
    let wrong = format!("/franceconnect/retour?code={code}&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let r = b.get(&wrong).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("inconnue"), "{}", r.body);

    // The right state, but in another aidant's session.
    let mut other = fc.aidant("autre@exemple.fr").await;
    let r = other.get(&callback).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("autre session"), "{}", r.body);

    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("déjà été utilisée"), "{}", r.body);
    assert_eq!(fc.usagers().await, 1);
    assert_eq!(fc.refusals().await, 3);

    // An expired state.
    let callback = fc.through_provider(&mut b, "angela").await;
    fc.app
        .exec("UPDATE franceconnect_etats SET expires_at = 0 WHERE used_at IS NULL")
        .await
        .unwrap();
    let r = b.get(&callback).await;
    assert!(r.body.contains("a expiré"), "{}", r.body);
}

async fn refused_with(mode: Tamper, expected: &str) -> Fc {
    let fc = serve().await;
    let mut b = fc.aidant("aidant@exemple.fr").await;
    fc.set(mode);
    let callback = fc.through_provider(&mut b, "angela").await;
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{mode:?}: {}", r.body);
    assert!(r.body.contains(expected), "{mode:?}: {}", r.body);
    assert!(r.body.contains("pas identifié"));
    assert_eq!(fc.usagers().await, 0, "{mode:?}");
    assert_eq!(fc.refusals().await, 1);
    fc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_mismatch_is_refused() {
    refused_with(Tamper::OtherNonce, "nonce différent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_id_token_is_refused() {
    refused_with(Tamper::FlipSignature, "signature invalide").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_id_token_is_refused() {
    refused_with(Tamper::Expired, "jeton expiré").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_an_unknown_key_is_refused_after_fetching_the_keys_again() {
    let fc = serve().await;
    let mut b = fc.aidant("aidant@exemple.fr").await;
    let callback = fc.through_provider(&mut b, "angela").await;
    assert_eq!(b.get(&callback).await.status, StatusCode::OK);
    assert_eq!(fc.jwks_fetches.load(Ordering::SeqCst), 1);
    fc.set(Tamper::ForeignKey);
    let callback = fc.through_provider(&mut b, "pierre").await;
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("clé de signature inconnue"), "{}", r.body);
    assert_eq!(
        fc.jwks_fetches.load(Ordering::SeqCst),
        2,
        "fetched again once, then refused"
    );
    assert_eq!(fc.usagers().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_in_the_callback_is_a_french_page() {
    let fc = serve().await;
    let mut b = fc.aidant("aidant@exemple.fr").await;
    let callback = fc.through_provider(&mut b, "").await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let r = b.get(&callback).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("annulé sa connexion à FranceConnect"), "{}", r.body);
    let r = b.get(&callback).await;
    assert!(r.body.contains("déjà été utilisée"), "{}", r.body);
    let r = b.get("/franceconnect/retour?error=server_error").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(fc.usagers().await, 0);
}

#[tokio::test]
async fn the_simulator_is_off_by_default_and_only_aidants_identify_usagers() {
    let app = TestApp::new().await;
    let mut anonymous = app.browser();
    for path in [
        "/fc-simulateur/.well-known/openid-configuration",
        "/fc-simulateur/authorize",
        "/fc-simulateur/jwks",
    ] {
        assert_eq!(anonymous.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = anonymous
        .post_raw("/fc-simulateur/token", &[("grant_type", "authorization_code")])
        .await;
    assert!(
        matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
        "not served: {}",
        r.status
    );
    let r = anonymous.get("/franceconnect/connexion").await;
    assert_eq!(r.location(), Some("/connexion"));

    let (mut aidant, _) = signed_in(&app, "structure_habilitee", "aidant", "aidant@exemple.fr").await;
    let r = aidant.get("/franceconnect/connexion").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.body.contains("pas configuré sur ce service"), "{}", r.body);

    let (mut staff, _) = signed_in(&app, "lieu", "lieu", "lieu@exemple.fr").await;
    for path in [
        "/franceconnect/connexion",
        "/franceconnect/retour?code=x&state=y",
        "/franceconnect/deconnexion",
    ] {
        assert_eq!(staff.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_checks_its_client() {
    let fc = serve().await;
    let mut server = Browser::on(fc.router.clone());
    let r = server.get("/fc-simulateur/.well-known/openid-configuration").await;
    let d: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(d["issuer"], format!("{}/fc-simulateur", fc.base));
    assert_eq!(d["acr_values_supported"][0], "eidas1");
    let mut b = fc.aidant("aidant@exemple.fr").await;
    let callback = fc.through_provider(&mut b, "angela").await;
    let code = code_of(&callback);
    let form = |secret: &'static str, redirect: &'static str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.clone()),
            (
                "redirect_uri",
                if redirect.is_empty() {
                    fc.config.redirect_uri.to_string()
                } else {
                    redirect.to_string()
                },
            ),
            ("client_id", fc.config.client_id.clone()),
            (
                "client_secret",
                if secret.is_empty() {
                    fc.config.client_secret.expose().to_string()
                } else {
                    secret.to_string()
                },
            ),
        ]
    };
    let send = |f: Vec<(&'static str, String)>| {
        let mut s = Browser::on(fc.router.clone());
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.post_raw("/fc-simulateur/token", &pairs).await
        }
    };
    let r = send(form("mauvais-secret", "")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = send(form("", "http://127.0.0.1:1/ailleurs")).await;
    assert!(r.body.contains("invalid_grant"), "wrong redirect_uri: {}", r.body);
    let r = send(form("", "")).await;
    assert!(
        r.body.contains("invalid_grant"),
        "the code was burnt by the wrong attempt: {}",
        r.body
    );
    let r = server
        .get(&format!(
            "/fc-simulateur/authorize?client_id=inconnu&redirect_uri=x&response_type=code&scope=openid&state={}&nonce={}",
            "s".repeat(32),
            "n".repeat(32)
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("client_id inconnu"), "{}", r.body);
}
