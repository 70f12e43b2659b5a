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
            // File uploads: the body streams to the handler (with its own size limit). The
            // token is the form's first field: only the beginning of the body is read here,
            // and handed back in front of the rest.
            let boundary = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(multipart_boundary);
            let (parts, body) = req.into_parts();
            let (submitted, body) = match boundary {
                Some(b) => multipart_token(body, &b).await,
                None => (None, body),
            };
            if !check(submitted) {
                tracing::warn!("envoi de fichier refusé : jeton anti-falsification absent ou différent");
                return WebError::CsrfRefused.into_response();
            }
            req = Request::from_parts(parts, body);
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

/// Bytes of a multipart body read to find the CSRF token, at most.
const TOKEN_PEEK: usize = 8 * 1024;

/// The boundary of a `multipart/form-data` content type.
fn multipart_boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

/// The value of the first part of a multipart body when that part is the field `csrf_token`
/// (forms with a file put it first), once the bytes read hold it whole.
fn first_part_token(head: &[u8], boundary: &str) -> Option<String> {
    let opening = format!("--{boundary}\r\n");
    let rest = head.strip_prefix(opening.as_bytes())?;
    let end_of_headers = rest.windows(4).position(|w| w == b"\r\n\r\n")?;
    let headers = std::str::from_utf8(&rest[..end_of_headers]).ok()?;
    let named = headers.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("content-disposition:") && l.contains("name=\"csrf_token\"") && !l.contains("filename")
    });
    if !named {
        return None;
    }
    let value = &rest[end_of_headers + 4..];
    let closing = format!("\r\n--{boundary}");
    let len = value.windows(closing.len()).position(|w| w == closing.as_bytes())?;
    std::str::from_utf8(&value[..len]).ok().map(str::to_string)
}

/// Reads the beginning of a multipart body for its CSRF token; gives back the whole body.
async fn multipart_token(body: Body, boundary: &str) -> (Option<String>, Body) {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut head: Vec<u8> = Vec::new();
    let mut token = None;
    let mut failed = None;
    while head.len() < TOKEN_PEEK {
        match stream.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(e)) => {
                failed = Some(e);
                break;
            }
            None => break,
        }
        token = first_part_token(&head, boundary);
        if token.is_some() {
            break;
        }
    }
    let front = futures_util::stream::iter(std::iter::once(Ok(axum::body::Bytes::from(head))).chain(failed.map(Err)));
    (token, Body::from_stream(front.chain(stream)))
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(first_name: &str, value: &str) -> Vec<u8> {
        format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{first_name}\"\r\n\r\n{value}\r\n--XyZ\r\n\
             Content-Disposition: form-data; name=\"fichier\"; filename=\"a.csv\"\r\n\r\nid,nom\r\n--XyZ--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn the_token_is_the_first_part_of_a_multipart_body() {
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=XyZ").as_deref(),
            Some("XyZ")
        );
        assert_eq!(
            multipart_boundary("multipart/form-data; charset=utf-8; Boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(multipart_boundary("multipart/form-data"), None);
        assert_eq!(
            first_part_token(&body("csrf_token", "t0k3n"), "XyZ").as_deref(),
            Some("t0k3n")
        );
        // Another first field, a file named csrf_token, another boundary, a cut body: no token.
        assert_eq!(first_part_token(&body("source", "t0k3n"), "XyZ"), None);
        let file = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf_token\"; filename=\"x\"\r\n\r\nt\r\n--XyZ--";
        assert_eq!(first_part_token(file, "XyZ"), None);
        assert_eq!(first_part_token(&body("csrf_token", "t0k3n"), "Other"), None);
        assert_eq!(first_part_token(&body("csrf_token", "t0k3n")[..60], "XyZ"), None);
    }

    #[tokio::test]
    async fn the_body_is_handed_back_whole() {
        let bytes = body("csrf_token", "t0k3n");
        // In small chunks, as a slow connection would send it.
        let chunks: Vec<Result<axum::body::Bytes, std::io::Error>> = bytes
            .chunks(7)
            .map(|c| Ok(axum::body::Bytes::copy_from_slice(c)))
            .collect();
        let (token, rest) = multipart_token(Body::from_stream(futures_util::stream::iter(chunks)), "XyZ").await;
        assert_eq!(token.as_deref(), Some("t0k3n"));
        let again = to_bytes(rest, usize::MAX).await.unwrap_or_default();
        assert_eq!(again.as_ref(), bytes.as_slice());
    }
}
