//! Fuzzing of the JSON API: cheque checks and redemptions with random bodies,
//! codes and `Idempotency-Key` headers, and the directory's search with random
//! query strings. Never a 5xx; every refusal of the cheque API is a JSON object
//! with a stable `motif` and a French `message`.

use axum::body::Body;
use axum::http::{header, HeaderValue, Request};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::fuzz_support::{encode, french, not_5xx, pairs, raw_query, runner, value};
use crate::pass::{ready, scene};
use crate::support::{Browser, TestApp};

const LIEUX: &[&str] = &[
    "lat",
    "lon",
    "rayon_km",
    "services",
    "publics",
    "pass_numerique",
    "dispositif",
    "ouvert_maintenant",
    "q",
    "page",
    "par_page",
    "commune",
    "departement",
];

/// A code: a real one, a real one with a typo, or anything.
fn code(real: Vec<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(real.clone()),
        1 => (prop::sample::select(real), 0usize..19, "[A-Z0-9 -]").prop_map(|(c, i, s)| {
            let mut chars: Vec<char> = c.chars().collect();
            let i = i % chars.len();
            chars[i] = s.chars().next().unwrap_or('X');
            chars.into_iter().collect()
        }),
        2 => value(),
    ]
}

/// A JSON body: the expected shape with odd values, another shape, or not JSON.
fn body(code: impl Strategy<Value = String>) -> impl Strategy<Value = Vec<u8>> {
    let service = prop_oneof![
        Just(json!("Accès internet et matériel informatique")),
        value().prop_map(Value::from),
        Just(Value::Null),
        Just(json!(42)),
        Just(json!(["a"])),
    ];
    prop_oneof![
        4 => (code, service).prop_map(|(c, s)| json!({"code": c, "service": s}).to_string().into_bytes()),
        1 => (value(), value()).prop_map(|(k, v)| json!({ k: v }).to_string().into_bytes()),
        1 => Just(b"[]".to_vec()),
        1 => Just(b"null".to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
        1 => Just(br#"{"code": "ABCD", "code": 1, "service": {"x": [1, {"y": null}]}}"#.to_vec()),
    ]
}

/// An `Idempotency-Key` header: none, plausible, too long, or any bytes a header may hold.
fn idempotency() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        Just(None),
        "[a-z0-9-]{1,40}".prop_map(|s| Some(s.into_bytes())),
        (150usize..400).prop_map(|n| Some(vec![b'k'; n])),
        prop::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')], 0..60).prop_map(Some),
    ]
}

async fn api(
    b: &mut Browser,
    path: &str,
    key: &str,
    idem: &Option<Vec<u8>>,
    body: Vec<u8>,
) -> crate::support::Response {
    let mut req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {key}"));
    if let Some(v) = idem.as_ref().and_then(|i| HeaderValue::from_bytes(i).ok()) {
        req = req.header("idempotency-key", v);
    }
    b.send(req.body(Body::from(body)).unwrap()).await
}

#[test]
fn cheque_api_never_fails_and_explains_in_french() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (app, s) = rt.block_on(async {
        let app = TestApp::new().await;
        let s = scene(&app).await;
        let s = ready(&app, s).await;
        (app, s)
    });
    let b = tokio::sync::Mutex::new(Browser::on(app.router.clone()));
    let codes: Vec<String> = s.codes.iter().map(|(_, _, c)| c.clone()).collect();
    let strategy = (body(code(codes)), idempotency(), any::<bool>(), any::<bool>());
    runner(96)
        .run(&strategy, |(body, idem, redeem, good_key)| {
            rt.block_on(async {
                let path = if redeem {
                    "/api/v1/cheques/encaisser"
                } else {
                    "/api/v1/cheques/verifier"
                };
                let key = if good_key { s.key1.as_str() } else { "pn_faux" };
                let r = api(&mut *b.lock().await, path, key, &idem, body).await;
                not_5xx(&r, path)?;
                let v: Value = serde_json::from_str(&r.body)
                    .map_err(|_| TestCaseError::fail(format!("{path} : réponse qui n'est pas du JSON : {}", r.body)))?;
                if !r.status.is_success() {
                    prop_assert!(v["motif"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
                    french(v["message"].as_str().unwrap_or_default())?;
                }
                Ok(())
            })
        })
        .unwrap();
    // Nothing was redeemed twice, whatever the requests.
    let twice = rt.block_on(app.scalar_i64(
        "SELECT COUNT(*) FROM (SELECT cheque_id FROM encaissements WHERE annule_at IS NULL GROUP BY cheque_id HAVING COUNT(*) > 1) t",
    ));
    assert_eq!(twice, 0);
}

#[test]
fn directory_search_never_fails() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::new());
    let b = tokio::sync::Mutex::new(app.browser());
    let strategy = (pairs(LIEUX), raw_query(), any::<bool>(), value());
    runner(64)
        .run(&strategy, |(pairs, raw, use_raw, id)| {
            rt.block_on(async {
                let mut b = b.lock().await;
                let query = if use_raw { raw.clone() } else { encode(&pairs) };
                for path in [
                    "/api/v1/lieux",
                    "/lieux",
                    "/tableau-de-bord",
                    "/ressources",
                    "/open-data/lieux.json",
                ] {
                    let r = b.get(&format!("{path}?{query}")).await;
                    not_5xx(&r, &format!("GET {path}?{query}"))?;
                }
                let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
                for path in [
                    "/api/v1/lieux/",
                    "/lieux/",
                    "/c/",
                    "/mandats/verifier/",
                    "/ressources/",
                    "/recapitulatifs/desabonnement/",
                ] {
                    let r = b.get(&format!("{path}{id}")).await;
                    not_5xx(&r, &format!("GET {path}{id}"))?;
                }
                Ok(())
            })
        })
        .unwrap();
}
