//! The provider's protocol endpoints for online services (no cookies, no
//! CSRF: a client authenticates with its secret): discovery, JWKS, token.
//! The authorisation step, where the aidant chooses the usager and the
//! démarche, lives with the mandates.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use passerelle_core::oidc_provider::tokens::{self, OAuthError, TokenRequest};
use passerelle_core::oidc_provider::{clients, discovery, keys};
use serde_json::json;

use crate::error::WebError;
use crate::AppState;

/// The issuer: the public base URL without its trailing slash.
pub fn issuer(state: &AppState) -> String {
    state.config.base_url.as_str().trim_end_matches('/').to_string()
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(configuration))
        .route("/oidc/jwks", get(jwks))
        .route("/oidc/token", post(token))
        .with_state(state)
}

async fn configuration(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(discovery(&issuer(&state))),
    )
        .into_response()
}

async fn jwks(State(state): State<AppState>) -> Result<Response, WebError> {
    let set = keys::jwks(&state.core).await?;
    Ok((
        [
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::CONTENT_TYPE, "application/jwk-set+json"),
        ],
        Json(set),
    )
        .into_response())
}

fn oauth_error(e: OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "error": e.error, "error_description": e.description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        if let Ok(v) = header::HeaderValue::from_str("Basic realm=\"aidants-connect\"") {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    r
}

fn bad(status: u16, error: &'static str, description: &str) -> Response {
    oauth_error(OAuthError {
        status,
        error,
        description: description.into(),
    })
}

/// `client_secret_basic` credentials, when given.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = v.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// `POST /oidc/token` (form): the client exchanges its code.
async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let mut form = std::collections::BTreeMap::<String, String>::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        if form.insert(k.to_string(), v.into_owned()).is_some() {
            return Ok(bad(400, "invalid_request", &format!("paramètre répété : {k}")));
        }
    }
    let from_form = form.get("client_id").cloned().zip(form.get("client_secret").cloned());
    let (client_id, secret) = match (basic(&headers), from_form) {
        (Some(_), Some(_)) => {
            return Ok(bad(
                400,
                "invalid_request",
                "une seule méthode d'authentification du client",
            ));
        }
        (Some(b), None) | (None, Some(b)) => b,
        (None, None) => return Ok(bad(401, "invalid_client", "authentification du client absente")),
    };
    let Some(client) = clients::authenticate(&state.core.db, &client_id, &secret).await? else {
        return Ok(bad(401, "invalid_client", "client inconnu ou secret faux"));
    };
    let req = TokenRequest {
        grant_type: form.get("grant_type").cloned().unwrap_or_default(),
        code: form.get("code").cloned().unwrap_or_default(),
        redirect_uri: form.get("redirect_uri").cloned().unwrap_or_default(),
        code_verifier: form.get("code_verifier").cloned(),
    };
    match tokens::exchange(&state.core, &issuer(&state), &client, &req).await? {
        Ok(v) => Ok((
            [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")],
            Json(v),
        )
            .into_response()),
        Err(e) => Ok(oauth_error(e)),
    }
}
