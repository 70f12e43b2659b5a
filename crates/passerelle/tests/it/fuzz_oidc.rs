//! Fuzzing of the OpenID Connect provider through the router: random
//! parameters on `/oidc/authorize` (as a signed-in aidant), `/oidc/token`,
//! `/oidc/userinfo` and `/oidc/logout`. Whatever comes in, the answer is a
//! refusal or a redirect, never a 5xx.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request};
use base64::Engine;
use proptest::prelude::*;

use crate::fuzz_support::{encode, not_5xx, pairs, raw_body, raw_query, runner, value};
use crate::oidc_support::{aidant, register, BACK};
use crate::support::{Browser, TestApp};

const AUTHORIZE: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "claims",
    "prompt",
    "acr_values",
    "max_age",
    "login_hint",
    "request",
    "response_mode",
    "ui_locales",
    "demarche",
    "usager",
    "q",
];
const TOKEN: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "client_id",
    "client_secret",
    "code_verifier",
    "client_assertion",
    "client_assertion_type",
    "refresh_token",
    "scope",
];
const LOGOUT: &[&str] = &[
    "id_token_hint",
    "post_logout_redirect_uri",
    "state",
    "client_id",
    "ui_locales",
];

/// A new client address per request, so that the per-address limits do not
/// turn every later case into a 429.
fn from_new_address(mut req: Request<Body>) -> Request<Body> {
    static N: AtomicU32 = AtomicU32::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let ip = std::net::Ipv4Addr::from(0x0a00_0000 | (n & 0x00ff_ffff));
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
    req
}

/// The real client's parameters first (when asked), then the random ones.
fn with_client(real: bool, client_id: &str, mut random: Vec<(String, String)>) -> Vec<(String, String)> {
    if !real {
        return random;
    }
    let mut all = vec![
        ("response_type".to_string(), "code".to_string()),
        ("client_id".to_string(), client_id.to_string()),
        ("redirect_uri".to_string(), BACK.to_string()),
        ("scope".to_string(), "openid profile".to_string()),
    ];
    all.append(&mut random);
    all
}

#[test]
fn authorize_never_fails() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (app, client_id, b) = rt.block_on(async {
        let app = TestApp::new().await;
        let (client_id, _) = register(&app, "");
        let (b, ..) = aidant(&app, "aidant.fuzz@exemple.fr").await;
        (app, client_id, tokio::sync::Mutex::new(b))
    });
    let strategy = (any::<bool>(), pairs(AUTHORIZE), raw_query(), any::<bool>());
    runner(64)
        .run(&strategy, |(real, random, raw, use_raw)| {
            rt.block_on(async {
                let mut b = b.lock().await;
                let query = if use_raw {
                    raw.clone()
                } else {
                    encode(&with_client(real, &client_id, random.clone()))
                };
                for path in ["/oidc/authorize", "/oidc/authorize/usagers", "/oidc/authorize/demarche"] {
                    let r = b.get(&format!("{path}?{query}")).await;
                    not_5xx(&r, &format!("GET {path}?{query}"))?;
                }
                let r = b
                    .post(
                        "/oidc/authorize/demarche",
                        &random.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
                    )
                    .await;
                not_5xx(&r, "POST /oidc/authorize/demarche")
            })
        })
        .unwrap();
    drop(app);
}

#[test]
fn token_userinfo_and_logout_never_fail() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (app, client_id, secret) = rt.block_on(async {
        let app = TestApp::new().await;
        let (client_id, secret) = register(&app, "");
        (app, client_id, secret)
    });
    let b = tokio::sync::Mutex::new(Browser::on(app.router.clone()));
    let basic = prop_oneof![
        Just(None),
        Just(Some(format!("{client_id}:{secret}"))),
        value().prop_map(Some),
    ];
    let strategy = (pairs(TOKEN), raw_body(), any::<bool>(), basic, value(), pairs(LOGOUT));
    runner(64)
        .run(&strategy, |(form, raw, use_raw, basic, bearer, logout)| {
            rt.block_on(async {
                let mut b = b.lock().await;
                let body = if use_raw {
                    raw.clone()
                } else {
                    encode(&form).into_bytes()
                };
                let mut req =
                    Request::post("/oidc/token").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                if let Some(user) = &basic {
                    let encoded = base64::engine::general_purpose::STANDARD.encode(user);
                    req = req.header(header::AUTHORIZATION, format!("Basic {encoded}"));
                }
                let r = b
                    .send(from_new_address(req.body(Body::from(body.clone())).unwrap()))
                    .await;
                not_5xx(&r, "POST /oidc/token")?;

                let bearer_header = format!("Bearer {}", bearer.replace(['\r', '\n', '\0'], ""));
                if let Ok(req) = Request::get("/oidc/userinfo")
                    .header(header::AUTHORIZATION, bearer_header)
                    .body(Body::empty())
                {
                    let r = b.send(from_new_address(req)).await;
                    not_5xx(&r, "GET /oidc/userinfo")?;
                }
                let req = Request::post("/oidc/userinfo")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(body))
                    .unwrap();
                not_5xx(&b.send(from_new_address(req)).await, "POST /oidc/userinfo")?;

                let query = encode(&logout);
                // A query of more than 64 KiB once percent-encoded makes no URI (the http crate
                // refuses it, as any client would): only the POST below carries it then.
                if let Ok(req) = Request::get(format!("/oidc/logout?{query}")).body(Body::empty()) {
                    not_5xx(&b.send(from_new_address(req)).await, "GET /oidc/logout")?;
                }
                let req = Request::post("/oidc/logout")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(query))
                    .unwrap();
                not_5xx(&b.send(from_new_address(req)).await, "POST /oidc/logout")
            })
        })
        .unwrap();
    drop(app);
}
