//! `private_key_jwt` client authentication (OpenID Connect Core §9,
//! RFC 7523): the service signs a short JWT with its private key (ES256
//! only); the provider checks it with the public key registered for it.
//! Each assertion's `jti` is recorded in the database until it expires, so
//! that an assertion is used once whichever instance receives it.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use p256::pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding};
use serde_json::Value;

use super::clients::{self, Client};
use crate::error::{CoreError, Result};
use crate::{on_db, Core};

/// `client_assertion_type` of a JWT client assertion.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How far ahead an assertion's `exp` may be, seconds.
pub const MAX_LIFETIME_SECONDS: i64 = 300;
/// Clock skew tolerated on `exp`, seconds.
const LEEWAY_SECONDS: i64 = 30;

/// A public key as registered: EC P-256, in PEM (SPKI) or as a JWK or a JWKS
/// holding a single key. Returns it as SPKI PEM.
pub fn parse_public_key(text: &str) -> Result<String> {
    let text = text.trim();
    let key = if text.starts_with('{') {
        from_jwk_text(text)?
    } else {
        p256::PublicKey::from_public_key_pem(text).map_err(|_| {
            CoreError::invalid(
                "clé publique illisible : une clé EC P-256 en PEM (« BEGIN PUBLIC KEY ») ou un JWKS est attendu",
            )
        })?
    };
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| CoreError::invalid(format!("clé publique : {e}")))
}

fn from_jwk_text(text: &str) -> Result<p256::PublicKey> {
    let bad = |m: &str| CoreError::invalid(format!("clé publique (JWK) : {m}"));
    let v: Value = serde_json::from_str(text).map_err(|_| bad("JSON illisible"))?;
    let jwk = match v.get("keys") {
        Some(Value::Array(keys)) if keys.len() == 1 => keys[0].clone(),
        Some(_) => return Err(bad("le JWKS doit contenir exactement une clé")),
        None => v,
    };
    if jwk.get("kty").and_then(Value::as_str) != Some("EC") || jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
        return Err(bad("seules les clés EC P-256 (ES256) sont acceptées"));
    }
    if jwk.get("d").is_some() {
        return Err(bad("ceci est une clé privée : donnez seulement la clé publique"));
    }
    use base64::Engine;
    let coordinate = |k: &str| {
        let text = jwk
            .get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| bad("x et y (les coordonnées de la clé) sont obligatoires"))?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| bad("x ou y illisible"))
    };
    let (x, y) = (coordinate("x")?, coordinate("y")?);
    if x.len() != 32 || y.len() != 32 {
        return Err(bad("x ou y de mauvaise longueur"));
    }
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    p256::PublicKey::from_sec1_bytes(&sec1).map_err(|_| bad("point hors de la courbe P-256"))
}

/// The service authenticated by `assertion`, or why not (French, for
/// `invalid_client`). `form_client_id`: the `client_id` of the form, if
/// given (it must then be the assertion's). `audiences`: the token endpoint
/// URL and the issuer.
pub async fn authenticate(
    core: &Core,
    form_client_id: Option<&str>,
    assertion: &str,
    audiences: &[&str],
) -> Result<Result<Client, &'static str>> {
    if assertion.is_empty() || assertion.len() > 8192 {
        return Ok(Err("client_assertion absente ou trop longue"));
    }
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return Ok(Err("client_assertion illisible"));
    };
    if header.alg != Algorithm::ES256 {
        return Ok(Err("client_assertion : seul l'algorithme ES256 est accepté"));
    }
    // Which service claims to sign: read before the signature is checked,
    // only to find its key.
    let Ok(unverified) = jsonwebtoken::dangerous::insecure_decode::<Value>(assertion) else {
        return Ok(Err("client_assertion illisible"));
    };
    let Some(client_id) = unverified.claims.get("iss").and_then(Value::as_str).map(str::to_string) else {
        return Ok(Err("client_assertion sans iss"));
    };
    if form_client_id.is_some_and(|f| f != client_id) {
        return Ok(Err("client_id différent de l'émetteur de client_assertion"));
    }
    let Some(pem) = clients::public_key(&core.db, &client_id).await? else {
        return Ok(Err(
            "client inconnu, ou ce service s'authentifie par secret et non par private_key_jwt",
        ));
    };
    let Ok(key) = DecodingKey::from_ec_pem(pem.as_bytes()) else {
        return Ok(Err("clé publique enregistrée illisible"));
    };
    let mut v = Validation::new(Algorithm::ES256);
    v.leeway = LEEWAY_SECONDS as u64;
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    v.set_issuer(&[&client_id]);
    v.sub = Some(client_id.clone());
    v.set_audience(audiences);
    let claims = match jsonwebtoken::decode::<Value>(assertion, &key, &v) {
        Ok(d) => d.claims,
        Err(e) => {
            use jsonwebtoken::errors::ErrorKind;
            return Ok(Err(match e.kind() {
                ErrorKind::InvalidSignature => "client_assertion : signature invalide",
                ErrorKind::ExpiredSignature => "client_assertion expirée",
                ErrorKind::InvalidAudience => "client_assertion : aud doit être l'adresse du point de jeton",
                ErrorKind::InvalidSubject => "client_assertion : sub doit être le client_id",
                ErrorKind::MissingRequiredClaim(_) => "client_assertion : exp, iss, sub et aud sont obligatoires",
                _ => "client_assertion invalide",
            }));
        }
    };
    let now = core.db.now_micros();
    let Some(exp) = claims.get("exp").and_then(Value::as_i64) else {
        return Ok(Err("client_assertion : exp doit être un entier"));
    };
    if exp > now / 1_000_000 + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS {
        return Ok(Err("client_assertion : exp à plus de 5 minutes"));
    }
    let jti = match claims.get("jti").and_then(Value::as_str) {
        Some(j) if !j.is_empty() && j.len() <= 200 => j.to_string(),
        _ => return Ok(Err("client_assertion : jti obligatoire")),
    };
    // Single use: the insert that records the jti is the one that wins.
    let expire_at = (exp + LEEWAY_SECONDS) * 1_000_000;
    let recorded = on_db!(&core.db, c => {
        sqlx::query("DELETE FROM oidc_assertions_jti WHERE expire_at < $1").bind(now).execute(&mut *c).await?;
        sqlx::query("INSERT INTO oidc_assertions_jti (client_id, jti, expire_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(&client_id).bind(&jti).bind(expire_at).execute(&mut *c).await?.rows_affected()
    });
    if recorded == 0 {
        return Ok(Err("client_assertion déjà utilisée (jti rejoué)"));
    }
    match clients::find(&core.db, &client_id).await? {
        Some(c) => Ok(Ok(c)),
        None => Ok(Err("client inconnu")),
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use serde_json::json;

    use super::*;

    fn public() -> p256::PublicKey {
        p256::SecretKey::from_slice(&[7u8; 32]).unwrap().public_key()
    }

    /// The key as a service publishes it (RFC 7517).
    fn jwk() -> Value {
        let point = public().to_encoded_point(false);
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "kid": "cle-1",
            "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap()),
        })
    }

    fn refused(v: &Value) -> String {
        parse_public_key(&v.to_string()).unwrap_err().to_string()
    }

    #[test]
    fn a_jwk_a_jwks_of_one_key_and_a_pem_give_the_same_key() {
        let pem = public().to_public_key_pem(LineEnding::LF).unwrap();
        assert_eq!(parse_public_key(&jwk().to_string()).unwrap(), pem);
        assert_eq!(parse_public_key(&json!({ "keys": [jwk()] }).to_string()).unwrap(), pem);
        assert_eq!(parse_public_key(&format!("\n  {pem}  \n")).unwrap(), pem);
    }

    #[test]
    fn each_unusable_key_says_why() {
        let with = |k: &str, v: Value| {
            let mut j = jwk();
            j[k] = v;
            j
        };
        let without = |k: &str| {
            let mut j = jwk();
            j.as_object_mut().unwrap().remove(k);
            j
        };
        let cases = [
            (json!({ "keys": [] }), "exactement une clé"),
            (json!({ "keys": [jwk(), jwk()] }), "exactement une clé"),
            (json!({ "keys": jwk() }), "exactement une clé"),
            (with("kty", json!("RSA")), "seules les clés EC P-256"),
            (without("kty"), "seules les clés EC P-256"),
            (with("crv", json!("P-384")), "seules les clés EC P-256"),
            (without("crv"), "seules les clés EC P-256"),
            (with("d", json!(B64.encode([7u8; 32]))), "clé privée"),
            (with("x", json!("***")), "x ou y illisible"),
            (with("y", json!("***")), "x ou y illisible"),
            (with("x", json!(B64.encode([1u8; 31]))), "mauvaise longueur"),
            (with("y", json!(B64.encode([1u8; 33]))), "mauvaise longueur"),
            (with("y", json!(B64.encode([1u8; 32]))), "hors de la courbe"),
            (without("x"), "x et y (les coordonnées de la clé) sont obligatoires"),
            (
                with("y", json!(12)),
                "x et y (les coordonnées de la clé) sont obligatoires",
            ),
        ];
        for (key, why) in cases {
            let err = refused(&key);
            assert!(err.contains(why), "{key} : {err}");
        }
        assert!(parse_public_key("{ pas du JSON")
            .unwrap_err()
            .to_string()
            .contains("JSON illisible"));
        let pem_err = parse_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").unwrap_err();
        assert!(pem_err.to_string().contains("BEGIN PUBLIC KEY"), "{pem_err}");
    }
}
