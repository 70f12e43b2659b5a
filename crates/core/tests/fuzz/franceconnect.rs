//! What FranceConnect sends back: the ID token and the userinfo JWT. A
//! hostile or broken provider must get a refusal, never a panic.

use base64::Engine;
use passerelle_core::aidants_connect::franceconnect::simulateur::SigningKey;
use passerelle_core::aidants_connect::franceconnect::verify::{id_token, userinfo, Expected};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::support::{assert_french, hostile_text};

const ISS: &str = "https://fc.exemple.fr/api/v2";
const CLIENT: &str = "client-passerelle";

fn key() -> &'static SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("clé de test"))
}

/// Any JSON value, of a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        hostile_text(4).prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Claims that look like FranceConnect's, each one possibly replaced by anything.
fn claims() -> impl Strategy<Value = Value> {
    let now = passerelle_core::Horloge::systeme().now().as_second();
    let base = json!({
        "iss": ISS, "aud": CLIENT, "sub": "s1", "exp": now + 60, "iat": now,
        "nonce": "n", "acr": "eidas1", "given_name": "Marie", "family_name": "Curie",
        "birthdate": "1867-11-07", "gender": "female", "birthplace": "", "birthcountry": "99100",
    });
    let names: Vec<String> = base
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    prop::collection::vec((prop::sample::select(names), prop::option::of(json_value())), 0..4).prop_map(
        move |changes| {
            let mut c = base.clone();
            for (name, value) in changes {
                match (c.as_object_mut(), value) {
                    (Some(o), Some(v)) => {
                        o.insert(name, v);
                    }
                    (Some(o), None) => {
                        o.remove(&name);
                    }
                    _ => {}
                }
            }
            c
        },
    )
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Well-signed tokens with broken claims: accepted or refused with a reason.
    #[test]
    fn signed_claims_are_checked(claims in claims()) {
        let token = key().sign(&claims).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let jwks = key().jwks();
        let expected = Expected { issuer: ISS, client_id: CLIENT, nonce_hash: "00" };
        if let Err(e) = id_token(&token, &jwks, &expected) {
            assert_french(&e.to_string())?;
        }
        if let Err(e) = userinfo(&token, &jwks, ISS, CLIENT, "s1") {
            assert_french(&e.to_string())?;
        }
    }

    /// Forged tokens: any header, any payload, any signature.
    #[test]
    fn forged_tokens_are_refused(header in json_value(), payload in json_value(), sig in prop::collection::vec(any::<u8>(), 0..80), raw in hostile_text(6)) {
        let jwks = key().jwks();
        let expected = Expected { issuer: ISS, client_id: CLIENT, nonce_hash: "00" };
        let forged = format!("{}.{}.{}", b64(header.to_string().as_bytes()), b64(payload.to_string().as_bytes()), b64(&sig));
        for token in [forged.as_str(), raw.as_str()] {
            let e = id_token(token, &jwks, &expected).err();
            prop_assert!(e.is_some(), "jeton forgé accepté : {token}");
            assert_french(&e.map(|e| e.to_string()).unwrap_or_default())?;
            prop_assert!(userinfo(token, &jwks, ISS, CLIENT, "s1").is_err());
        }
    }
}
