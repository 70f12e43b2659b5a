//! Helpers of the HTTP-level fuzzing: random query strings and form bodies,
//! a proptest runner driven from a runtime of its own, and the one property
//! every answer must have (no 5xx).

use axum::body::Body;
use axum::http::{header, Request};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::support::{Browser, Response, BASE};

/// A runner with `cases` cases, shrinking kept short (each case is a request).
pub(crate) fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    })
}

/// The property of every answer: the server did not fail (no 5xx, hence no panic either,
/// which the panic layer turns into a 500).
pub(crate) fn not_5xx(r: &Response, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        r.status.as_u16() < 500,
        "{what} → {} : {}",
        r.status,
        r.body.chars().take(400).collect::<String>()
    );
    Ok(())
}

/// A value: plausible, empty, huge, or anything.
pub(crate) fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "\\PC{0,30}",
        2 => "[a-zA-Z0-9 _.:/-]{0,40}",
        1 => "[0-9]{1,25}",
        1 => "-[0-9]{1,20}",
        1 => Just(String::new()),
        1 => (1usize..20_000).prop_map(|n| "x".repeat(n)),
        1 => prop::sample::select(vec![
            "http://127.0.0.1:9999/retour", "openid profile email", "code", "S256", "plain",
            "authorization_code", "refresh_token", "1970-01-01", "2026-13-45", "true", "on", "NaN",
            "\u{0}", "%00", "<script>", "' OR 1=1 --", "../../etc/passwd", "9223372036854775808",
        ]).prop_map(str::to_string),
    ]
}

/// Pairs whose names are mostly the expected ones.
pub(crate) fn pairs(names: &'static [&'static str]) -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        4 => prop::sample::select(names).prop_map(str::to_string),
        1 => "[a-z_\\[\\]]{1,12}",
    ];
    prop::collection::vec((name, value()), 0..12)
}

/// `a=b&c=d`, url-encoded.
pub(crate) fn encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A raw query string or body, including broken escapes and invalid UTF-8 once decoded.
pub(crate) fn raw_query() -> impl Strategy<Value = String> {
    "([A-Za-z0-9_.~:/?+=&-]|%[0-9a-fA-FzZ]{0,2}){0,80}"
}

/// Raw bytes for a body.
pub(crate) fn raw_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        raw_query().prop_map(String::into_bytes),
    ]
}

/// Sends `body` as a same-origin form (with the CSRF token, as a page would) and any content type.
pub(crate) async fn post_bytes(b: &mut Browser, path: &str, content_type: &str, body: Vec<u8>) -> Response {
    if b.cookie("passerelle_csrf").is_none() {
        b.get("/connexion").await;
    }
    let token = b.cookie("passerelle_csrf").cloned().unwrap_or_default();
    let mut full = format!("csrf_token={token}&").into_bytes();
    full.extend(body);
    let cookies = b.cookie_header();
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::COOKIE, cookies)
        .header("sec-fetch-site", "same-origin")
        .header(header::ORIGIN, BASE)
        .body(Body::from(full))
        .expect("requête");
    b.send(req).await
}

/// Words that betray a library's English message reaching the user.
const ENGLISH: &[&str] = &[
    "invalid",
    "error",
    "expected",
    "unexpected",
    "failed",
    "found",
    "missing",
    "while",
    "deserialize",
];

/// A refusal meant for a person: not empty, in French (the parts quoted from
/// the input, `« … »`, may say anything).
pub(crate) fn french(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(!message.trim().is_empty(), "message vide");
    let mut own = String::new();
    let mut depth = 0usize;
    for c in message.chars() {
        match c {
            '«' => depth += 1,
            '»' => depth = depth.saturating_sub(1),
            _ if depth == 0 => own.push(c),
            _ => {}
        }
    }
    let own = own.to_lowercase();
    for word in ENGLISH {
        prop_assert!(
            !own.split(|c: char| !c.is_alphanumeric()).any(|w| w == *word),
            "message en anglais : {message:?}"
        );
    }
    Ok(())
}
