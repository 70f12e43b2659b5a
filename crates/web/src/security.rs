//! Security applied to every response and every state-changing request.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::error::WebError;
use crate::{cookies, AppState, BODY_LIMIT};

/// Content-Security-Policy: no inline script, no framing, forms only to ourselves.
/// `img-src data:` is for the TOTP enrolment QR code.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Adds the security headers to every response.
pub async fn headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(self), geolocation=(self), microphone=(), payment=(), usb=()"),
    );
    if state.config.secure() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    if is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    } else if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    // A response that shared caches may keep never sets a cookie: a proxy would
    // hand one visitor's cookie (the CSRF token) to everyone.
    if shared_cacheable(h) {
        h.remove(header::SET_COOKIE);
    }
    res
}

fn shared_cacheable(h: &axum::http::HeaderMap) -> bool {
    h.get_all(header::CACHE_CONTROL).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|d| d.trim().eq_ignore_ascii_case("public")))
    })
}

/// The CSRF token of the current visitor, for forms (hidden field `csrf_token`).
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// CSRF protection, two checks on every non-safe method:
/// 1. the browser's `Sec-Fetch-Site` (or else `Origin`) must say the request
///    comes from our own origin;
/// 2. the form field `csrf_token` must equal the visitor's CSRF cookie
///    (double submit; the cookie is `HttpOnly`, `SameSite=Lax`, `__Host-` over https).
///
/// Every response to a visitor without the cookie sets one, and handlers read
/// the token from the request extensions to put it in their forms.
pub async fn csrf(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let cookie_name = cookies::name(&state.config, cookies::CSRF);
    let existing = cookies::get(req.headers(), &cookie_name);
    let token = existing.clone().unwrap_or_else(new_token);

    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        if !same_origin(&req, &state.config.origin()) {
            tracing::warn!("requête refusée : origine étrangère");
            return WebError::CsrfRefused.into_response();
        }
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("multipart/form-data"));
        let check = |submitted: Option<String>| match (&existing, submitted) {
            (Some(cookie), Some(field)) => bool::from(cookie.as_bytes().ct_eq(field.as_bytes())),
            _ => false,
        };
        if multipart {
            // File uploads: the body streams to the handler (with its own size
            // limit); the token comes in the form's action URL instead.
            let submitted = req.uri().query().and_then(|q| form_field(q.as_bytes(), "csrf_token"));
            if !check(submitted) {
                tracing::warn!("envoi de fichier refusé : jeton anti-falsification absent ou différent");
                return WebError::CsrfRefused.into_response();
            }
        } else {
            let (parts, body) = req.into_parts();
            let bytes = match to_bytes(body, BODY_LIMIT).await {
                Ok(b) => b,
                Err(_) => return WebError::PayloadTooLarge.into_response(),
            };
            if !check(form_field(&bytes, "csrf_token")) {
                tracing::warn!("requête refusée : jeton anti-falsification absent ou différent");
                return WebError::CsrfRefused.into_response();
            }
            req = Request::from_parts(parts, Body::from(bytes));
        }
    }

    // Static files are cached publicly and hold no form: no token to hand out.
    let is_static = req.uri().path().starts_with("/static/");
    req.extensions_mut().insert(CsrfToken(token.clone()));
    let mut res = next.run(req).await;
    if existing.is_none() && !is_static {
        cookies::set(res.headers_mut(), &state.config, cookies::CSRF, &token, None);
    }
    res
}

fn same_origin(req: &Request, origin: &str) -> bool {
    let h = req.headers();
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin" || site == "none";
    }
    match h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(o) => o == origin,
        // Neither header: an old browser or a non-browser client; the token still has to match.
        None => true,
    }
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
