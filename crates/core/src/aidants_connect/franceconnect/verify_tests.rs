//! Unit tests of the verification of ID tokens and userinfo.

use serde_json::{json, Value};

use super::*;
use crate::aidants_connect::franceconnect::simulateur::SigningKey;

const ISS: &str = "https://fc.exemple.fr/api/v2";
const CLIENT: &str = "client-passerelle";
const NONCE: &str = "nonce-de-test-de-plus-de-trente-deux-caracteres";

fn now() -> i64 {
    crate::Horloge::systeme().now().as_second()
}

fn claims() -> Value {
    json!({"iss": ISS, "aud": CLIENT, "sub": "s1", "exp": now() + 60, "iat": now(), "nonce": NONCE, "acr": "eidas1"})
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn check(token: &str, jwks: &JwkSet) -> Result<IdClaims, VerifyError> {
    let nonce_hash = sha256_hex(NONCE);
    id_token(
        token,
        jwks,
        &Expected {
            issuer: ISS,
            client_id: CLIENT,
            nonce_hash: &nonce_hash,
        },
    )
}

#[test]
fn a_well_signed_id_token_passes() {
    let k = SigningKey::generate().unwrap();
    let c = check(&k.sign(&claims()).unwrap(), &k.jwks()).unwrap();
    assert_eq!(c.sub, "s1");
    assert_eq!(c.acr.as_deref(), Some("eidas1"));
    let higher = k.sign(&with(claims(), "acr", json!("eidas2"))).unwrap();
    assert!(check(&higher, &k.jwks()).is_ok());
}

#[test]
fn every_broken_claim_is_refused_with_its_reason() {
    let k = SigningKey::generate().unwrap();
    let jwks = k.jwks();
    let cases = [
        (
            with(claims(), "iss", json!("https://autre.exemple.fr")),
            VerifyError::Issuer,
        ),
        (with(claims(), "aud", json!("autre-client")), VerifyError::Audience),
        (with(claims(), "exp", json!(now() - 3600)), VerifyError::Expired),
        (with(claims(), "nonce", json!("un-autre-nonce")), VerifyError::Nonce),
        (with(claims(), "acr", json!("eidas0")), VerifyError::Acr),
        (
            with(claims(), "aud", json!([CLIENT, "autre-client"])),
            VerifyError::Audience,
        ),
    ];
    for (c, expected) in cases {
        assert_eq!(check(&k.sign(&c).unwrap(), &jwks).unwrap_err(), expected, "{c}");
    }
    let mut no_nonce = claims();
    no_nonce.as_object_mut().unwrap().remove("nonce");
    assert_eq!(
        check(&k.sign(&no_nonce).unwrap(), &jwks).unwrap_err(),
        VerifyError::Nonce
    );
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        check(&k.sign(&no_exp).unwrap(), &jwks).unwrap_err(),
        VerifyError::Claim("exp")
    );
    let mut no_iat = claims();
    no_iat.as_object_mut().unwrap().remove("iat");
    assert_eq!(
        check(&k.sign(&no_iat).unwrap(), &jwks).unwrap_err(),
        VerifyError::Claim("iat")
    );
}

#[test]
fn a_tampered_signature_or_an_unknown_key_is_refused() {
    let k = SigningKey::generate().unwrap();
    let token = k.sign(&claims()).unwrap();
    let sig_start = token.rfind('.').unwrap() + 1;
    let mut bytes = token.into_bytes();
    let i = sig_start + 10;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_eq!(check(&tampered, &k.jwks()).unwrap_err(), VerifyError::Signature);

    let other = SigningKey::generate().unwrap();
    let foreign = other.sign(&claims()).unwrap();
    assert_eq!(check(&foreign, &k.jwks()).unwrap_err(), VerifyError::UnknownKey);

    // Same kid as the published key but signed by another one: bad signature.
    let forged_kid = {
        let mut h = jsonwebtoken::Header::new(Algorithm::ES256);
        h.kid = Some(k.kid().to_string());
        let der =
            p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&p256::SecretKey::random(&mut rand::rngs::OsRng)).unwrap();
        jsonwebtoken::encode(&h, &claims(), &jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes())).unwrap()
    };
    assert_eq!(check(&forged_kid, &k.jwks()).unwrap_err(), VerifyError::Signature);
}

#[test]
fn symmetric_or_unsigned_tokens_are_refused() {
    let k = SigningKey::generate().unwrap();
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(b"secret-du-client"),
    )
    .unwrap();
    assert_eq!(check(&hs, &k.jwks()).unwrap_err(), VerifyError::Algorithm);
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims()));
    assert!(check(&none, &k.jwks()).is_err());
    assert_eq!(check("pas-un-jeton", &k.jwks()).unwrap_err(), VerifyError::Malformed);
}

fn identity_claims() -> Value {
    json!({
        "iss": ISS, "aud": CLIENT, "sub": "s1", "given_name": "Angela", "family_name": "DUBOIS",
        "birthdate": "1962-08-24", "birthplace": "75107", "birthcountry": "99100", "gender": "female",
        "email": "a@exemple.fr"
    })
}

#[test]
fn the_userinfo_must_be_signed_and_about_the_same_person() {
    let k = SigningKey::generate().unwrap();
    let jwks = k.jwks();
    let id = userinfo(&k.sign(&identity_claims()).unwrap(), &jwks, ISS, CLIENT, "s1").unwrap();
    assert_eq!((id.given_name.as_str(), id.birthplace.as_str()), ("Angela", "75107"));
    assert_eq!(id.preferred_username, None);
    let other = k.sign(&with(identity_claims(), "sub", json!("s2"))).unwrap();
    assert_eq!(
        userinfo(&other, &jwks, ISS, CLIENT, "s1").unwrap_err(),
        VerifyError::Subject
    );
    let bad_date = k
        .sign(&with(identity_claims(), "birthdate", json!("24/08/1962")))
        .unwrap();
    assert_eq!(
        userinfo(&bad_date, &jwks, ISS, CLIENT, "s1").unwrap_err(),
        VerifyError::Claim("birthdate")
    );
    let wrong_aud = k.sign(&with(identity_claims(), "aud", json!("x"))).unwrap();
    assert_eq!(
        userinfo(&wrong_aud, &jwks, ISS, CLIENT, "s1").unwrap_err(),
        VerifyError::Audience
    );
    let foreign = SigningKey::generate().unwrap().sign(&identity_claims()).unwrap();
    assert_eq!(
        userinfo(&foreign, &jwks, ISS, CLIENT, "s1").unwrap_err(),
        VerifyError::UnknownKey
    );
    let expired = k.sign(&with(identity_claims(), "exp", json!(now() - 3600))).unwrap();
    assert_eq!(
        userinfo(&expired, &jwks, ISS, CLIENT, "s1").unwrap_err(),
        VerifyError::Expired
    );
}

#[test]
fn eidas_levels_are_ordered() {
    assert!(acr_level("eidas1") < acr_level("eidas2") && acr_level("eidas2") < acr_level("eidas3"));
    assert_eq!(acr_level("eidas0"), 0);
    assert_eq!(acr_level(""), 0);
}
