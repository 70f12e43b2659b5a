//! The web service in process (SQLite in a temporary folder): any method, path,
//! query string and body, sent to the routes that read outside data (OpenID
//! Connect provider, forms, JSON API, search). Never a 5xx, never a panic.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, Request};
use libfuzzer_sys::fuzz_target;
use passerelle_core::Core;
use passerelle_web::{router, AppState, WebConfig};
use tower::ServiceExt;

const PATHS: &[&str] = &[
    "/oidc/authorize",
    "/oidc/authorize/usagers",
    "/oidc/authorize/demarche",
    "/oidc/token",
    "/oidc/userinfo",
    "/oidc/logout",
    "/connexion",
    "/connexion/totp",
    "/aidants-connect/habilitation",
    "/api/v1/lieux",
    "/api/v1/cheques/verifier",
    "/api/v1/cheques/encaisser",
    "/lieux",
    "/c/",
    "/mandats/verifier/",
    "/recapitulatifs/desabonnement/",
];

struct Service {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    _dir: tempfile::TempDir,
}

fn service() -> Option<&'static Service> {
    static SERVICE: OnceLock<Option<Service>> = OnceLock::new();
    SERVICE
        .get_or_init(|| {
            let dir = tempfile::tempdir().ok()?;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            let url = format!("sqlite:{}/fuzz.db?mode=rwc", dir.path().display());
            let core = runtime.block_on(Core::open(&url, &dir.path().join("data"))).ok()?;
            let config = WebConfig {
                base_url: url::Url::parse("http://localhost:8080").ok()?,
                assets_dir: None,
                fonts_dir: None,
                trust_proxy: false,
                search_max_age: std::time::Duration::ZERO,
                dashboard_max_age: std::time::Duration::from_secs(3600),
            };
            let app = router(AppState::new(core, config));
            Some(Service { runtime, app, _dir: dir })
        })
        .as_ref()
}

fuzz_target!(|input: (u8, u8, bool, &str, &[u8])| {
    let Some(s) = service() else { return };
    let (path, method, form, query, body) = input;
    let path = PATHS[usize::from(path) % PATHS.len()];
    let query: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
    let uri = if path.ends_with('/') { format!("{path}{query}") } else { format!("{path}?{}", query.replace("%3D", "=").replace("%26", "&")) };
    let method = if method % 2 == 0 { "GET" } else { "POST" };
    let content_type = if form { "application/x-www-form-urlencoded" } else { "application/json" };
    let Ok(req) = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(body.to_vec()))
    else {
        return;
    };
    // The router's error type is `Infallible`: every request gets a response.
    let Ok(res) = s.runtime.block_on(s.app.clone().oneshot(req));
    assert!(res.status().as_u16() < 500, "{} → {}", path, res.status());
});
