//! The application served on a real loopback port (no outside network), for
//! the clients that speak HTTP to it: the FranceConnect simulator's redirects,
//! online services of the OpenID Connect provider, witnesses of the journal.

use std::net::SocketAddr;

use axum::Router;
use passerelle_core::aidants_connect::franceconnect::config::FcSettings;
use passerelle_core::aidants_connect::franceconnect::FcConfig;
use passerelle_web::WebConfig;

use super::{web_config, TestApp};

/// A loopback port: its listener and its base URL (`http://127.0.0.1:port`).
pub async fn loopback() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    (listener, base)
}

/// The settings of the application under test, served at `base`.
pub fn web_config_at(base: &str) -> WebConfig {
    WebConfig {
        base_url: url::Url::parse(base).unwrap(),
        ..web_config()
    }
}

/// The built-in FranceConnect simulator, for the application served at `base`.
pub fn franceconnect_simulator(app: &TestApp, base: &str) -> FcConfig {
    let settings = FcSettings {
        simulateur: true,
        ..Default::default()
    };
    FcConfig::resolve(&settings, &url::Url::parse(base).unwrap(), false, &app.core.keys)
        .unwrap()
        .unwrap()
}

/// Serves `router` on `listener` in the background (with the peers' addresses).
pub fn spawn(listener: tokio::net::TcpListener, router: Router) {
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .unwrap();
    });
}
