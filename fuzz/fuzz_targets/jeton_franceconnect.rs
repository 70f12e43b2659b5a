//! Tokens FranceConnect would send back (ID token, userinfo): whatever the
//! bytes, a refusal, never a panic; a forged token is never accepted.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use passerelle_core::aidants_connect::franceconnect::simulateur::SigningKey;
use passerelle_core::aidants_connect::franceconnect::verify::{id_token, userinfo, Expected};

fn key() -> Option<&'static SigningKey> {
    static KEY: OnceLock<Option<SigningKey>> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().ok()).as_ref()
}

fuzz_target!(|token: &str| {
    let Some(k) = key() else { return };
    let jwks = k.jwks();
    let expected = Expected {
        issuer: "https://fc.exemple.fr/api/v2",
        client_id: "client",
        nonce_hash: "00",
    };
    assert!(id_token(token, &jwks, &expected).is_err());
    assert!(userinfo(token, &jwks, expected.issuer, expected.client_id, "s1").is_err());
});
