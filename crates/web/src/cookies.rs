//! Reading and writing cookies: the session, the CSRF token, the page to
//! come back to after signing in, the usager's session and his FranceConnect
//! round trip, the demonstration service's round trip.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};

use crate::WebConfig;

pub const SESSION: &str = "passerelle_session";
pub const CSRF: &str = "passerelle_csrf";
/// An usager's session in his own space (separate from accounts' sessions).
pub const USAGER: &str = "passerelle_usager";
/// A random value binding an usager's FranceConnect round trip to his browser.
pub const FC_BROWSER: &str = "passerelle_fc";
/// The demonstration online service's binding of its round trip to the browser.
pub const SERVICE_DEMO: &str = "passerelle_service_demo";
/// Binds a ProConnect login to the browser that started it.
pub const PROCONNECT: &str = "passerelle_proconnect";
/// A local path (base64url) to go to after signing in, 15 minutes.
pub const NEXT: &str = "passerelle_suivant";
/// Longest value of [`NEXT`].
const NEXT_MAX: usize = 2800;

/// Name of a cookie for this deployment: `__Host-` prefixed over https, which
/// pins it to the exact host with `Secure` and `Path=/`.
pub fn name(config: &WebConfig, base: &str) -> String {
    if config.secure() {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// Value of cookie `name` in the request, if present and well-formed (URL-safe characters only).
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    get_up_to(headers, name, 128)
}

/// The path kept in [`NEXT`], if any.
pub fn next_path(headers: &HeaderMap, config: &WebConfig) -> Option<String> {
    use base64::Engine;
    let raw = get_up_to(headers, &name(config, NEXT), NEXT_MAX)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw).ok()?;
    String::from_utf8(bytes).ok()
}

/// Keeps `path` in [`NEXT`] for 15 minutes.
pub fn set_next(headers: &mut HeaderMap, config: &WebConfig, path: &str) {
    use base64::Engine;
    let v = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(path.as_bytes());
    if v.len() <= NEXT_MAX {
        set(headers, config, NEXT, &v, Some(900));
    }
}

fn get_up_to(headers: &HeaderMap, name: &str, max: usize) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| {
            !v.is_empty() && v.len() <= max && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A `Set-Cookie` header: `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure` over https.
/// `max_age` None makes a browser-session cookie; `Some(0)` deletes it.
pub fn set(headers: &mut HeaderMap, config: &WebConfig, base: &str, value: &str, max_age: Option<i64>) {
    let mut c = format!("{}={}; Path=/; HttpOnly; SameSite=Lax", name(config, base), value);
    if config.secure() {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if let Ok(v) = HeaderValue::from_str(&c) {
        headers.append(SET_COOKIE, v);
    }
}

pub fn clear(headers: &mut HeaderMap, config: &WebConfig, base: &str) {
    set(headers, config, base, "", Some(0));
}
