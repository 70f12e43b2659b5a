//! ES256 signing keys of the provider, in the database so that every
//! instance signs with the same key and publishes the same JWKS. The private
//! key is sealed with the deployment secret (`Keys::seal`); rotation makes a
//! new active key and keeps the previous one published until it is retired.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{json, Value};

use crate::db::is_unique_violation;
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, Actor, NewEntry};
use crate::{on_db, on_tx, Core, Db};

const SEAL: &str = "oidc-cle-de-signature";

/// States of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Signs (one at most).
    Active,
    /// Rotated out, still in the JWKS so that the tokens it signed verify.
    Publiee,
    /// Gone from the JWKS.
    Retiree,
}

crate::texte_en_base!(KeyState, KeyState::from_key, KeyState::key, "état de clé de signature");

impl KeyState {
    pub const ALL: [KeyState; 3] = [KeyState::Active, KeyState::Publiee, KeyState::Retiree];

    /// The value stored in the database.
    pub fn key(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Publiee => "publiee",
            KeyState::Retiree => "retiree",
        }
    }

    pub fn from_key(key: &str) -> Option<KeyState> {
        KeyState::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// A fresh key: (kid, sealed PKCS#8 PEM, public JWK).
fn generate(core: &Core) -> Result<(String, String, Value)> {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| CoreError::Io(format!("clé de signature : {e}")))?;
    let point = secret.public_key().to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(CoreError::Io("clé de signature : point public incomplet".into()));
    };
    let mut kid_bytes = [0u8; 12];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut kid_bytes);
    let kid = URL_SAFE_NO_PAD.encode(kid_bytes);
    let jwk = json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(x),
        "y": URL_SAFE_NO_PAD.encode(y),
        "kid": kid,
        "use": "sig",
        "alg": "ES256",
    });
    Ok((kid.clone(), core.keys.seal(SEAL, pem.as_str())?, jwk))
}

/// Makes a new active key; the previous active one stays published
/// (`publiee`) so that tokens it signed still verify. Journaled.
pub async fn rotate(core: &Core, actor: &Actor) -> Result<String> {
    let (kid, sealed, jwk) = generate(core)?;
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE oidc_cles SET etat = $2, rotation_at = $1 WHERE etat = $3")
            .bind(now).bind(KeyState::Publiee).bind(KeyState::Active).execute(&mut *c).await?;
        sqlx::query("INSERT INTO oidc_cles (kid, cle_scellee, jwk_publique, etat, created_at) VALUES ($1, $2, $3, $5, $4)")
            .bind(&kid).bind(&sealed).bind(jwk.to_string()).bind(now).bind(KeyState::Active).execute(&mut *c).await?;
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::OIDC_KEY_ROTATED).details(json!({ "kid": kid })),
    )
    .await?;
    tx.commit().await?;
    Ok(kid)
}

/// Removes from the JWKS the keys rotated out before `before` (µs).
pub async fn retire_published(db: &Db, before: i64) -> Result<u64> {
    Ok(on_db!(db, c => {
        sqlx::query("UPDATE oidc_cles SET etat = $2 WHERE etat = $3 AND rotation_at < $1")
            .bind(before).bind(KeyState::Retiree).bind(KeyState::Publiee).execute(&mut *c).await?.rows_affected()
    }))
}

/// The active key, made on first use (two instances racing: one wins, the
/// other reads the winner's).
async fn active(core: &Core) -> Result<(String, String)> {
    let read = || async {
        let row: Option<(String, String)> = on_db!(&core.db, c => {
            sqlx::query_as("SELECT kid, cle_scellee FROM oidc_cles WHERE etat = $1")
                .bind(KeyState::Active).fetch_optional(&mut *c).await?
        });
        Result::<_>::Ok(row)
    };
    if let Some(k) = read().await? {
        return Ok(k);
    }
    let (kid, sealed, jwk) = generate(core)?;
    let inserted = on_db!(&core.db, c => {
        sqlx::query("INSERT INTO oidc_cles (kid, cle_scellee, jwk_publique, etat, created_at) VALUES ($1, $2, $3, $5, $4)")
            .bind(&kid).bind(&sealed).bind(jwk.to_string()).bind(core.db.now_micros()).bind(KeyState::Active).execute(&mut *c).await
            .map(|r| r.rows_affected())
    });
    match inserted {
        Ok(_) => Ok((kid, sealed)),
        Err(e) if is_unique_violation(&e) => read()
            .await?
            .ok_or_else(|| CoreError::Io("clé de signature introuvable".into())),
        Err(e) => Err(e.into()),
    }
}

/// Signs `claims` as an ES256 JWT with the active key.
pub async fn sign(core: &Core, claims: &Value) -> Result<String> {
    sign_for(core, "", super::clients::Alg::ES256, claims, None).await
}

/// Signs `claims` for `client` with the algorithm it registered for `what`
/// (its ID token or its userinfo): ES256 with our active key, or HS256 with
/// its secret (FranceConnect v1). `typ`: the JOSE header's type, if any.
pub async fn sign_for(
    core: &Core,
    client_id: &str,
    alg: super::clients::Alg,
    claims: &Value,
    typ: Option<&str>,
) -> Result<String> {
    let (header, key) = match alg {
        super::clients::Alg::ES256 => {
            let (kid, sealed) = active(core).await?;
            let pem = core.keys.open(SEAL, &sealed)?;
            let key = EncodingKey::from_ec_pem(pem.as_bytes())
                .map_err(|e| CoreError::Io(format!("clé de signature : {e}")))?;
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some(kid);
            (header, key)
        }
        super::clients::Alg::HS256 => {
            let secret = super::clients::signing_secret(core, client_id)
                .await?
                .ok_or_else(|| CoreError::Io(format!("secret de signature HS256 introuvable pour {client_id}")))?;
            (
                Header::new(Algorithm::HS256),
                EncodingKey::from_secret(secret.as_bytes()),
            )
        }
    };
    let header = Header {
        typ: typ.map(str::to_string).or(header.typ),
        ..header
    };
    jsonwebtoken::encode(&header, claims, &key).map_err(|e| CoreError::Io(format!("signature : {e}")))
}

/// The published keys (active and rotated out, not yet retired), as a JWKS.
pub async fn jwks(core: &Core) -> Result<Value> {
    active(core).await?;
    let rows: Vec<String> = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT jwk_publique FROM oidc_cles WHERE etat IN ($1, $2) ORDER BY created_at DESC")
            .bind(KeyState::Active).bind(KeyState::Publiee)
            .fetch_all(&mut *c).await?
    });
    let keys: Vec<Value> = rows.iter().filter_map(|r| serde_json::from_str(r).ok()).collect();
    Ok(json!({ "keys": keys }))
}

/// The claims of a JWT this provider signed (ES256, a published key, issuer
/// `issuer`), expired or not: for `id_token_hint`. `None` if not ours.
pub async fn verify_ours(core: &Core, token: &str, issuer: &str) -> Result<Option<Value>> {
    if token.len() > 8192 {
        return Ok(None);
    }
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return Ok(None);
    };
    if header.alg == Algorithm::HS256 {
        return verify_hs256(core, token, issuer).await;
    }
    let Some(kid) = header.kid.filter(|_| header.alg == Algorithm::ES256) else {
        return Ok(None);
    };
    let jwk: Option<String> = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT jwk_publique FROM oidc_cles WHERE kid = $1 AND etat IN ($2, $3)")
            .bind(&kid).bind(KeyState::Active).bind(KeyState::Publiee).fetch_optional(&mut *c).await?
    });
    let Some(key) = jwk
        .and_then(|j| serde_json::from_str::<jsonwebtoken::jwk::Jwk>(&j).ok())
        .and_then(|j| jsonwebtoken::DecodingKey::from_jwk(&j).ok())
    else {
        return Ok(None);
    };
    let mut v = jsonwebtoken::Validation::new(Algorithm::ES256);
    v.validate_exp = false;
    v.validate_aud = false;
    v.set_required_spec_claims(&["iss", "aud", "sub"]);
    v.set_issuer(&[issuer]);
    Ok(jsonwebtoken::decode::<Value>(token, &key, &v).ok().map(|d| d.claims))
}

/// [`verify_ours`] for an HS256 token (a service that registered HS256): the
/// key is the secret of the service the token names as audience.
async fn verify_hs256(core: &Core, token: &str, issuer: &str) -> Result<Option<Value>> {
    // Whose secret: the audience, read before the signature can be checked.
    let Some(aud) = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
        .and_then(|c| c["aud"].as_str().map(str::to_string))
    else {
        return Ok(None);
    };
    let Some(secret) = super::clients::signing_secret(core, &aud).await? else {
        return Ok(None);
    };
    let mut v = jsonwebtoken::Validation::new(Algorithm::HS256);
    v.validate_exp = false;
    v.set_audience(&[aud.as_str()]);
    v.set_required_spec_claims(&["iss", "aud", "sub"]);
    v.set_issuer(&[issuer]);
    let key = jsonwebtoken::DecodingKey::from_secret(secret.as_bytes());
    Ok(jsonwebtoken::decode::<Value>(token, &key, &v).ok().map(|d| d.claims))
}
