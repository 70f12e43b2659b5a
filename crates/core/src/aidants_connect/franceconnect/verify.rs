//! Checks of what FranceConnect signs: the ID token and the userinfo JWT.
//! Pure functions over a JWKS; fetching and caching are in [`super::provider`].

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{sha256_hex, Identity};

/// Signature algorithms accepted from the provider (FranceConnect v2 signs with ES256 or RS256).
pub const ALLOWED_ALGS: [Algorithm; 2] = [Algorithm::ES256, Algorithm::RS256];
/// Clock skew tolerated on `exp`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("jeton illisible")]
    Malformed,
    #[error("algorithme de signature non accepté")]
    Algorithm,
    #[error("clé de signature inconnue")]
    UnknownKey,
    #[error("signature invalide")]
    Signature,
    #[error("jeton expiré")]
    Expired,
    #[error("émetteur inattendu")]
    Issuer,
    #[error("destinataire inattendu")]
    Audience,
    #[error("nonce différent de celui de la demande")]
    Nonce,
    #[error("niveau de garantie insuffisant")]
    Acr,
    #[error("champ « {0} » absent ou invalide")]
    Claim(&'static str),
    #[error("l'identité ne correspond pas au jeton d'identité")]
    Subject,
}

impl VerifyError {
    /// Stable key for the journal.
    pub fn motif(&self) -> &'static str {
        match self {
            VerifyError::Malformed => "jeton_illisible",
            VerifyError::Algorithm => "algorithme",
            VerifyError::UnknownKey => "cle_inconnue",
            VerifyError::Signature => "signature",
            VerifyError::Expired => "jeton_expire",
            VerifyError::Issuer => "emetteur",
            VerifyError::Audience => "destinataire",
            VerifyError::Nonce => "nonce",
            VerifyError::Acr => "niveau_eidas",
            VerifyError::Claim(_) => "champ",
            VerifyError::Subject => "sub_userinfo",
        }
    }
}

/// What the ID token must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// SHA-256 (hex) of the nonce sent in the authorisation request.
    pub nonce_hash: &'a str,
}

/// The claims of an ID token that we use.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    pub sub: String,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub acr: Option<String>,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub aud: serde_json::Value,
    #[serde(default)]
    pub azp: Option<String>,
}

/// Level of an eIDAS `acr` (0 when unknown).
pub fn acr_level(acr: &str) -> u8 {
    match acr {
        "eidas1" => 1,
        "eidas2" => 2,
        "eidas3" => 3,
        _ => 0,
    }
}

fn family_matches(jwk: &Jwk, alg: Algorithm) -> bool {
    use jsonwebtoken::jwk::AlgorithmParameters as P;
    matches!(
        (&jwk.algorithm, alg),
        (P::EllipticCurve(_), Algorithm::ES256) | (P::RSA(_), Algorithm::RS256)
    )
}

/// The key that signed a token with this header: by `kid`, or the only key of
/// the right family when the token names none.
fn select_key(kid: Option<&str>, alg: Algorithm, jwks: &JwkSet) -> Result<DecodingKey, VerifyError> {
    let jwk = match kid {
        Some(kid) => jwks.find(kid).ok_or(VerifyError::UnknownKey)?,
        None => {
            let mut candidates = jwks.keys.iter().filter(|k| family_matches(k, alg));
            match (candidates.next(), candidates.next()) {
                (Some(k), None) => k,
                _ => return Err(VerifyError::UnknownKey),
            }
        }
    };
    if !family_matches(jwk, alg) {
        return Err(VerifyError::Algorithm);
    }
    if let Some(a) = jwk.common.key_algorithm {
        let same = matches!(
            (a, alg),
            (KeyAlgorithm::ES256, Algorithm::ES256) | (KeyAlgorithm::RS256, Algorithm::RS256)
        );
        if !same {
            return Err(VerifyError::Algorithm);
        }
    }
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return Err(VerifyError::UnknownKey);
    }
    DecodingKey::from_jwk(jwk).map_err(|_| VerifyError::UnknownKey)
}

/// Checks the signature against `jwks`, `iss`, `aud`, and `exp` (required when
/// `require_exp`, checked whenever present), then reads the claims.
pub fn decode_signed<T: DeserializeOwned>(
    token: &str,
    jwks: &JwkSet,
    issuer: &str,
    client_id: &str,
    require_exp: bool,
) -> Result<T, VerifyError> {
    let header = decode_header(token).map_err(|_| VerifyError::Malformed)?;
    if !ALLOWED_ALGS.contains(&header.alg) {
        return Err(VerifyError::Algorithm);
    }
    let key = select_key(header.kid.as_deref(), header.alg, jwks)?;
    let mut v = Validation::new(header.alg);
    v.set_issuer(&[issuer]);
    v.set_audience(&[client_id]);
    let mut required = vec!["iss", "aud", "sub"];
    if require_exp {
        required.push("exp");
    }
    v.set_required_spec_claims(&required);
    v.validate_exp = true;
    v.leeway = LEEWAY_SECS;
    decode::<T>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) => {
                VerifyError::Signature
            }
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => VerifyError::Expired,
            ErrorKind::InvalidIssuer => VerifyError::Issuer,
            ErrorKind::InvalidAudience => VerifyError::Audience,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => VerifyError::Algorithm,
            ErrorKind::MissingRequiredClaim(c) => VerifyError::Claim(match c.as_str() {
                "exp" => "exp",
                "iss" => "iss",
                "aud" => "aud",
                _ => "sub",
            }),
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
                VerifyError::Malformed
            }
            _ => VerifyError::Signature,
        })
}

/// Checks an ID token: signature (JWKS), `iss`, `aud` (and `azp`), `exp`,
/// `iat`, `nonce` (against its hash, in constant time), `acr` ≥ eidas1.
pub fn id_token(token: &str, jwks: &JwkSet, expected: &Expected) -> Result<IdClaims, VerifyError> {
    let claims: IdClaims = decode_signed(token, jwks, expected.issuer, expected.client_id, true)?;
    if claims.iat.is_none() {
        return Err(VerifyError::Claim("iat"));
    }
    if claims.aud.as_array().is_some_and(|a| a.len() > 1) && claims.azp.as_deref() != Some(expected.client_id) {
        return Err(VerifyError::Audience);
    }
    let nonce = claims.nonce.as_deref().ok_or(VerifyError::Nonce)?;
    let got = sha256_hex(nonce);
    if !bool::from(got.as_bytes().ct_eq(expected.nonce_hash.as_bytes())) {
        return Err(VerifyError::Nonce);
    }
    if acr_level(claims.acr.as_deref().unwrap_or_default()) < 1 {
        return Err(VerifyError::Acr);
    }
    if claims.sub.is_empty() {
        return Err(VerifyError::Claim("sub"));
    }
    Ok(claims)
}

/// Checks the signed userinfo (FranceConnect v2 answers `application/jwt`) and
/// reads the identity; its `sub` must be the ID token's.
pub fn userinfo(token: &str, jwks: &JwkSet, issuer: &str, client_id: &str, sub: &str) -> Result<Identity, VerifyError> {
    let id: Identity = decode_signed(token, jwks, issuer, client_id, false)?;
    if !bool::from(id.sub.as_bytes().ct_eq(sub.as_bytes())) {
        return Err(VerifyError::Subject);
    }
    if id.given_name.trim().is_empty() {
        return Err(VerifyError::Claim("given_name"));
    }
    if id.family_name.trim().is_empty() {
        return Err(VerifyError::Claim("family_name"));
    }
    if !is_iso_date(&id.birthdate) {
        return Err(VerifyError::Claim("birthdate"));
    }
    if id.birthcountry.trim().is_empty() {
        return Err(VerifyError::Claim("birthcountry"));
    }
    if !matches!(id.gender.as_str(), "male" | "female") {
        return Err(VerifyError::Claim("gender"));
    }
    Ok(id)
}

fn is_iso_date(s: &str) -> bool {
    crate::dates_fr::jour_iso(s).is_some()
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
