//! The provider's protocol endpoints for online services (no cookies, no
//! CSRF: a client authenticates with its secret, a JWT signed with its key,
//! or its bearer token):
//! discovery, JWKS, token, userinfo, logout. The authorisation step, where
//! the aidant chooses the usager and the démarche, is in `oidc_authorize`.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use passerelle_core::aidants_connect::oidc_provider::tokens::{self, OAuthError, TokenRequest};
use passerelle_core::aidants_connect::oidc_provider::{assertion, clients, discovery, keys, logout, userinfo as info};
use serde_json::json;

use crate::auth::ClientIp;
use crate::error::WebError;
use crate::AppState;

/// Requests per minute and per client address on each endpoint (counted in
/// the database: shared between instances).
const TOKEN_PER_MINUTE: i64 = 120;
const USERINFO_PER_MINUTE: i64 = 300;
const LOGOUT_PER_MINUTE: i64 = 30;

/// `Some(429)` when `ip` went over `limit` requests a minute on `endpoint`.
async fn over_limit(state: &AppState, ip: &str, endpoint: &str, limit: i64) -> Result<Option<Response>, WebError> {
    if passerelle_core::ratelimit::hit(&state.core.db, &format!("oidc-{endpoint}:{ip}"), limit, 60).await? {
        return Ok(None);
    }
    Ok(Some(
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "60"), (header::CACHE_CONTROL, "no-store")],
            Json(json!({ "error": "too_many_requests", "error_description": "trop de requêtes : réessayez dans une minute" })),
        )
            .into_response(),
    ))
}

/// The issuer: the public base URL without its trailing slash.
pub fn issuer(state: &AppState) -> String {
    state.config.base_url.as_str().trim_end_matches('/').to_string()
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(configuration))
        .route("/oidc/jwks", get(jwks))
        .route("/oidc/token", post(token))
        .route("/oidc/userinfo", get(userinfo).post(userinfo))
        .route("/oidc/logout", get(logout_get).post(logout_post))
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
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    if let Some(r) = over_limit(&state, &ip, "token", TOKEN_PER_MINUTE).await? {
        return Ok(r);
    }
    // RFC 6749 §3.2: a form. A JSON body would read as an empty form and be
    // refused for a reason that misleads (no grant_type): say what is wrong.
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !media.is_empty() && media != "application/x-www-form-urlencoded" {
        return Ok(bad(
            400,
            "invalid_request",
            &format!(
                "le corps doit être un formulaire (Content-Type: application/x-www-form-urlencoded), pas {}",
                media.chars().take(80).collect::<String>()
            ),
        ));
    }
    let mut form = std::collections::BTreeMap::<String, String>::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        if form.insert(k.to_string(), v.into_owned()).is_some() {
            return Ok(bad(400, "invalid_request", &format!("paramètre répété : {k}")));
        }
    }
    let Some(client) = (match authenticate(&state, &headers, &form).await? {
        Ok(c) => c,
        Err(r) => return Ok(r),
    }) else {
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

/// The client of a token request: by `private_key_jwt` when the form has a
/// client assertion, else by its secret (basic or post). `Err`: the refusal.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> Result<Result<Option<clients::Client>, Response>, WebError> {
    let assertion_type = form.get("client_assertion_type");
    let assertion = form.get("client_assertion");
    if assertion_type.is_some() || assertion.is_some() {
        if basic(headers).is_some() || form.contains_key("client_secret") {
            return Ok(Err(bad(
                400,
                "invalid_request",
                "une seule méthode d'authentification du client",
            )));
        }
        if assertion_type.map(String::as_str) != Some(assertion::JWT_BEARER) {
            return Ok(Err(bad(
                401,
                "invalid_client",
                "client_assertion_type doit être urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )));
        }
        let base = issuer(state);
        let endpoint = format!("{base}/oidc/token");
        let found = assertion::authenticate(
            &state.core,
            form.get("client_id").map(String::as_str),
            assertion.map(String::as_str).unwrap_or_default(),
            &[endpoint.as_str(), base.as_str()],
        )
        .await?;
        return Ok(found.map(Some).map_err(|why| bad(401, "invalid_client", why)));
    }
    let from_form = form.get("client_id").cloned().zip(form.get("client_secret").cloned());
    let (client_id, secret) = match (basic(headers), from_form) {
        (Some(_), Some(_)) => {
            return Ok(Err(bad(
                400,
                "invalid_request",
                "une seule méthode d'authentification du client",
            )));
        }
        (Some(b), None) | (None, Some(b)) => b,
        (None, None) => return Ok(Err(bad(401, "invalid_client", "authentification du client absente"))),
    };
    Ok(Ok(clients::authenticate(&state.core.db, &client_id, &secret).await?))
}

/// `GET|POST /oidc/userinfo` with `Authorization: Bearer …` (header only).
async fn userinfo(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    if let Some(r) = over_limit(&state, &ip, "userinfo", USERINFO_PER_MINUTE).await? {
        return Ok(r);
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(token) = bearer else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            [
                (header::WWW_AUTHENTICATE, "Bearer realm=\"aidants-connect\""),
                (header::CACHE_CONTROL, "no-store"),
            ],
            Json(json!({ "error": "invalid_request", "error_description": "jeton d'accès absent" })),
        )
            .into_response());
    };
    match info::userinfo(&state.core, &issuer(&state), token).await? {
        Ok(info::Answer::Json(claims)) => Ok(([(header::CACHE_CONTROL, "no-store")], Json(claims)).into_response()),
        Ok(info::Answer::Jwt(jwt)) => Ok((
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_TYPE, "application/jwt"),
            ],
            jwt,
        )
            .into_response()),
        Err(e) => Ok((
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::UNAUTHORIZED),
            [
                (
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"aidants-connect\", error=\"{}\"", e.error),
                ),
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
            Json(json!({ "error": e.error, "error_description": e.description })),
        )
            .into_response()),
    }
}

#[derive(askama::Template)]
#[template(path = "aidants_connect/oidc-deconnexion.html")]
struct LogoutPage {
    l: crate::templates::Layout,
    message: String,
}

async fn logout_answer(state: &AppState, ip: &str, pairs: Vec<(String, String)>) -> Result<Response, WebError> {
    if let Some(r) = over_limit(state, ip, "logout", LOGOUT_PER_MINUTE).await? {
        return Ok(r);
    }
    match logout::end_session(&state.core, &issuer(state), &pairs).await? {
        Ok(Some(to)) => Ok(axum::response::Redirect::to(&to).into_response()),
        Ok(None) => crate::auth::render(
            StatusCode::OK,
            LogoutPage {
                l: crate::templates::Layout::anonymous("Déconnexion du service en ligne"),
                message: "La connexion du service en ligne au nom de l'usager est terminée.".into(),
            },
        ),
        Err(m) => crate::auth::render(
            StatusCode::BAD_REQUEST,
            LogoutPage {
                l: crate::templates::Layout::anonymous("Déconnexion refusée"),
                message: m,
            },
        ),
    }
}

/// `GET /oidc/logout` (RP-initiated logout).
async fn logout_get(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    uri: axum::http::Uri,
) -> Result<Response, WebError> {
    let pairs = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    logout_answer(&state, &ip, pairs).await
}

/// `POST /oidc/logout` (form), as the specification allows.
async fn logout_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let pairs = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    logout_answer(&state, &ip, pairs).await
}
