//! Public pages, health check and the error fallbacks.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::auth::{render, Visitor};
use crate::error::WebError;
use crate::templates::{AccessibilityPage, HomePage, LegalPage, PrivacyPage};
use crate::AppState;

pub async fn home(v: Visitor) -> Result<Response, WebError> {
    render(
        StatusCode::OK,
        HomePage {
            l: v.layout("Accueil", "/"),
        },
    )
}

pub async fn accessibility(v: Visitor) -> Result<Response, WebError> {
    render(
        StatusCode::OK,
        AccessibilityPage {
            l: v.layout("Déclaration d'accessibilité", ""),
        },
    )
}

/// `/aider-un-proche`: the kit for family and friends who help (Aidants Connect).
pub async fn helping(v: Visitor) -> Result<Response, WebError> {
    render(
        StatusCode::OK,
        crate::templates::HelpingPage {
            l: v.layout("Aider un proche dans ses démarches en ligne", "/aider-un-proche"),
        },
    )
}

pub async fn legal(v: Visitor) -> Result<Response, WebError> {
    render(
        StatusCode::OK,
        LegalPage {
            l: v.layout("Mentions légales", ""),
        },
    )
}

pub async fn privacy(v: Visitor) -> Result<Response, WebError> {
    render(
        StatusCode::OK,
        PrivacyPage {
            l: v.layout("Données personnelles", ""),
        },
    )
}

/// `/healthz`: 200 when the database answers, 503 otherwise. JSON.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let backend = match state.core.db.backend() {
        passerelle_core::Backend::Sqlite => "sqlite",
        passerelle_core::Backend::Postgres => "postgresql",
    };
    match state.core.db.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "statut": "ok", "base_de_donnees": "ok", "moteur": backend, "version": env!("CARGO_PKG_VERSION") }))).into_response(),
        Err(e) => {
            tracing::error!(erreur = %e, "healthz : base de données injoignable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "statut": "erreur", "base_de_donnees": "injoignable", "moteur": backend, "message": "Service momentanément indisponible : la base de données est injoignable" }))).into_response()
        }
    }
}

pub async fn not_found() -> WebError {
    WebError::NotFound
}

pub async fn method_not_allowed() -> WebError {
    WebError::MethodNotAllowed
}

/// A file of the application's own (scripts, one style sheet), served from the binary (allowed by
/// the CSP's `'self'`) and kept an hour by browsers.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// The search page's « Autour de moi » (progressive enhancement).
pub async fn geolocation_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../static/geolocalisation.js"),
    )
}

/// The counter page's QR reader (progressive enhancement).
pub async fn scan_js() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../static/scan.js"))
}

/// The counter form's list of services, following the chosen place (progressive enhancement).
pub async fn encaisser_js() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../static/encaisser.js"))
}

/// The script of every page: wide tables made reachable with the keyboard (progressive enhancement).
pub async fn passerelle_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../static/passerelle.js"),
    )
}

/// The few rules the DSFR leaves to the service (long names in the phone menu).
pub async fn passerelle_css() -> Response {
    asset("text/css; charset=utf-8", include_str!("../static/passerelle.css"))
}

/// A file to download: never kept by a browser or a proxy (it may hold codes or bank details).
pub(crate) fn download(content_type: &str, filename: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}
