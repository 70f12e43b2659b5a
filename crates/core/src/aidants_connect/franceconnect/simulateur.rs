//! The FranceConnect simulator (demonstration and tests only): fictitious
//! identities, an ES256 key derived from the data directory's secret (every
//! instance signs with the same key), authorisation codes (single use, 60 s)
//! and access tokens kept in the database, never in memory.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters, EllipticCurveKeyType, Jwk,
    JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::config::FcConfig;
use super::federation;
use super::{random_token, sha256_hex, Identity, ACR};
use crate::error::{CoreError, Result};
use crate::keys::Keys;
use crate::{on_db, Core};

/// Lifetime of an authorisation code.
pub const CODE_SECS: i64 = 60;
/// Lifetime of an ID token and of an access token.
pub const TOKEN_SECS: i64 = 60;

/// An ES256 signing key and its public JWK.
pub struct SigningKey {
    encoding: EncodingKey,
    jwk: Jwk,
}

impl SigningKey {
    /// A key from 32 bytes of secret material (re-hashed in the negligible case
    /// where they are not a valid P-256 scalar).
    pub fn from_seed(seed: [u8; 32]) -> Result<SigningKey> {
        let mut bytes = seed;
        let mut found = None;
        for _ in 0..8 {
            if let Ok(sk) = p256::SecretKey::from_slice(&bytes) {
                found = Some(sk);
                break;
            }
            bytes = Sha256::digest(bytes).into();
        }
        let sk = found.ok_or_else(|| CoreError::Io("clé du simulateur impossible à dériver".into()))?;
        Self::from_p256(&sk)
    }

    /// A fresh random key (tests: a key the provider does not publish).
    pub fn generate() -> Result<SigningKey> {
        Self::from_p256(&p256::SecretKey::random(&mut rand::rngs::OsRng))
    }

    fn from_p256(sk: &p256::SecretKey) -> Result<SigningKey> {
        let der = sk
            .to_pkcs8_der()
            .map_err(|_| CoreError::Io("encodage de la clé du simulateur impossible".into()))?;
        let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&sk.public_key(), false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(CoreError::Io("clé publique du simulateur invalide".into()));
        };
        let kid = hex::encode(&Sha256::digest(point.as_bytes())[..8]);
        let jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::ES256),
                key_id: Some(kid),
                ..Default::default()
            },
            algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: URL_SAFE_NO_PAD.encode(x),
                y: URL_SAFE_NO_PAD.encode(y),
            }),
        };
        Ok(SigningKey {
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            jwk,
        })
    }

    /// The simulator's key of this deployment.
    pub fn of(keys: &Keys) -> Result<SigningKey> {
        Self::from_seed(keys.subkey("fc-simulateur-es256"))
    }

    pub fn kid(&self) -> &str {
        self.jwk.common.key_id.as_deref().unwrap_or_default()
    }

    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }

    /// Signs `claims` in ES256 with this key's `kid`.
    pub fn sign(&self, claims: &Value) -> Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid().to_string());
        encode(&header, claims, &self.encoding).map_err(|_| CoreError::Io("signature du jeton impossible".into()))
    }
}

/// A fictitious person offered by the simulator.
pub struct Persona {
    pub key: &'static str,
    pub given_name: &'static str,
    pub family_name: &'static str,
    pub preferred_username: Option<&'static str>,
    pub birthdate: &'static str,
    pub birthplace: &'static str,
    pub birthcountry: &'static str,
    pub gender: &'static str,
    pub email: &'static str,
}

/// The fictitious identities (no real person).
pub const PERSONAS: [Persona; 4] = [
    Persona {
        key: "angela",
        given_name: "Angela Claire Louise",
        family_name: "DUBOIS",
        preferred_username: None,
        birthdate: "1962-08-24",
        birthplace: "75107",
        birthcountry: "99100",
        gender: "female",
        email: "angela.dubois@exemple.fr",
    },
    Persona {
        key: "pierre",
        given_name: "Pierre",
        family_name: "MERCIER",
        preferred_username: None,
        birthdate: "1948-03-12",
        birthplace: "33063",
        birthcountry: "99100",
        gender: "male",
        email: "pierre.mercier@exemple.fr",
    },
    Persona {
        key: "fatou",
        given_name: "Fatou",
        family_name: "DIALLO",
        preferred_username: Some("MARTIN"),
        birthdate: "1985-11-02",
        birthplace: "",
        birthcountry: "99341",
        gender: "female",
        email: "fatou.martin@exemple.fr",
    },
    Persona {
        key: "jean",
        given_name: "Jean-Michel",
        family_name: "LEROY",
        preferred_username: None,
        birthdate: "2001-01-01",
        birthplace: "59350",
        birthcountry: "99100",
        gender: "male",
        email: "jm.leroy@exemple.fr",
    },
];

pub fn persona(key: &str) -> Option<&'static Persona> {
    PERSONAS.iter().find(|p| p.key == key)
}

/// The simulated provider: its settings are the relying party's.
pub struct Simulateur<'a> {
    pub core: &'a Core,
    pub config: &'a FcConfig,
}

/// Pairwise `sub` of a persona for a client, as FranceConnect gives (64 hex characters).
pub fn sub_of(keys: &Keys, client_id: &str, persona: &str) -> String {
    let k = keys.subkey("fc-simulateur-sub");
    hex::encode(Sha256::digest(
        [&k[..], client_id.as_bytes(), b"\0", persona.as_bytes()].concat(),
    ))
}

/// A code: client, redirect URI, nonce, acr, persona, federated identity.
type CodeRow = (String, String, String, String, String, Option<String>);

/// The identity and démarches a federated code or token carries.
fn read_federated(stored: &str) -> Result<(Identity, Vec<String>), OAuthError> {
    let v: Value = serde_json::from_str(stored).map_err(|_| OAuthError("server_error"))?;
    let identity: Identity = serde_json::from_value(v["identite"].clone()).map_err(|_| OAuthError("server_error"))?;
    let rep_scope = serde_json::from_value(v["rep_scope"].clone()).map_err(|_| OAuthError("server_error"))?;
    Ok((identity, rep_scope))
}

/// The `sub` FranceConnect gives an online service for an identity received
/// from an identity provider: computed from the pivot identity, per service
/// (the provider's own `sub` is never passed on).
pub fn federated_sub(keys: &Keys, client_id: &str, i: &Identity) -> String {
    let k = keys.subkey("fc-simulateur-sub-federation");
    let pivot = [
        i.given_name.as_str(),
        &i.family_name,
        &i.birthdate,
        &i.gender,
        &i.birthplace,
        &i.birthcountry,
    ]
    .join("\0");
    hex::encode(Sha256::digest(
        [&k[..], client_id.as_bytes(), b"\0", pivot.as_bytes()].concat(),
    ))
}

/// A request to the token endpoint, already parsed.
pub struct TokenRequest {
    pub grant_type: String,
    pub code: String,
    pub redirect_uri: String,
    pub client_id: String,
    pub client_secret: String,
}

/// An OAuth error of the token or userinfo endpoint.
#[derive(Debug, PartialEq, Eq)]
pub struct OAuthError(pub &'static str);

impl Simulateur<'_> {
    pub fn issuer(&self) -> String {
        self.config.issuer_str()
    }

    pub fn discovery(&self) -> Value {
        let i = self.issuer();
        json!({
            "issuer": i,
            "authorization_endpoint": format!("{i}/authorize"),
            "token_endpoint": format!("{i}/token"),
            "userinfo_endpoint": format!("{i}/userinfo"),
            "jwks_uri": format!("{i}/jwks"),
            "end_session_endpoint": format!("{i}/session/end"),
            "scopes_supported": super::SCOPES.split(' ').collect::<Vec<_>>(),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise"],
            "acr_values_supported": [ACR],
            "id_token_signing_alg_values_supported": ["ES256"],
            "userinfo_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["sub", "given_name", "family_name", "birthdate", "birthplace", "birthcountry", "gender", "preferred_username", "email"],
        })
    }

    /// The clients of the simulator: Passerelle itself (identifying usagers),
    /// and, for the federation mode, the demonstration online service.
    /// Returns (redirect URI, secret) of `client_id`.
    fn client(&self, client_id: &str) -> Option<(String, String)> {
        if client_id == self.config.client_id {
            return Some((
                self.config.redirect_uri.to_string(),
                self.config.client_secret.expose().to_string(),
            ));
        }
        if client_id == federation::FS_CLIENT_ID {
            let back = self.config.redirect_uri.join(federation::FS_CALLBACK_PATH).ok()?;
            return Some((back.to_string(), federation::fs_secret(&self.core.keys)));
        }
        None
    }

    /// Checks an authorisation request; the message (French) says what is wrong.
    pub fn check_authorize(
        &self,
        client_id: &str,
        redirect_uri: &str,
        response_type: &str,
        scope: &str,
    ) -> Result<(), String> {
        let Some((registered, _)) = self.client(client_id) else {
            return Err("client_id inconnu du simulateur".into());
        };
        if redirect_uri != registered {
            return Err("redirect_uri différente de celle déclarée".into());
        }
        if response_type != "code" {
            return Err("seul response_type=code est accepté".into());
        }
        if !scope.split(' ').any(|s| s == "openid") {
            return Err("le scope doit contenir openid".into());
        }
        Ok(())
    }

    /// Issues a code for `persona` to Passerelle (stored hashed, single use, 60 s).
    pub async fn issue_code(&self, persona: &str, nonce: &str, acr: &str) -> Result<String> {
        let (client_id, redirect_uri) = (self.config.client_id.clone(), self.config.redirect_uri.to_string());
        self.issue_code_to(&client_id, &redirect_uri, persona, nonce, acr, None)
            .await
    }

    /// Issues a code for a client of the simulator, for `persona` or for an
    /// identity received from an identity provider (federation mode).
    pub async fn issue_code_to(
        &self,
        client_id: &str,
        redirect_uri: &str,
        persona: &str,
        nonce: &str,
        acr: &str,
        federated: Option<&federation::Federated>,
    ) -> Result<String> {
        if federated.is_none() && self::persona(persona).is_none() {
            return Err(CoreError::invalid("identité fictive inconnue"));
        }
        let fi = federated
            .map(|f| serde_json::to_string(&json!({ "identite": f.identity, "rep_scope": f.rep_scope })))
            .transpose()
            .map_err(|e| CoreError::Io(format!("identité fédérée : {e}")))?;
        let code = random_token();
        let now = self.core.db.now_micros();
        on_db!(&self.core.db, c => {
            sqlx::query(
                "INSERT INTO fc_simulateur_codes (code_hash, client_id, redirect_uri, nonce, acr, identite, created_at, expires_at, identite_fi) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(sha256_hex(&code))
            .bind(client_id)
            .bind(redirect_uri)
            .bind(nonce)
            .bind(acr)
            .bind(persona)
            .bind(now)
            .bind(now + CODE_SECS * 1_000_000)
            .bind(&fi)
            .execute(&mut *c)
            .await?;
        });
        Ok(code)
    }

    /// The token endpoint: client authentication, code consumed once, redirect
    /// URI match; returns the token response (JSON).
    pub async fn token(&self, req: &TokenRequest) -> Result<Value, OAuthError> {
        let Some((_, secret)) = self.client(&req.client_id) else {
            return Err(OAuthError("invalid_client"));
        };
        if !bool::from(req.client_secret.as_bytes().ct_eq(secret.as_bytes())) {
            return Err(OAuthError("invalid_client"));
        }
        if req.grant_type != "authorization_code" {
            return Err(OAuthError("unsupported_grant_type"));
        }
        let now = self.core.db.now_micros();
        let row: Option<CodeRow> = self
            .consume_code(&req.code, now)
            .await
            .map_err(|_| OAuthError("server_error"))?;
        let Some((client_id, redirect_uri, nonce, acr, persona, fi)) = row else {
            return Err(OAuthError("invalid_grant"));
        };
        if client_id != req.client_id || redirect_uri != req.redirect_uri {
            return Err(OAuthError("invalid_grant"));
        }
        let key = SigningKey::of(&self.core.keys).map_err(|_| OAuthError("server_error"))?;
        let secs = now / 1_000_000;
        let federated = fi.as_deref().map(read_federated).transpose()?;
        let sub = match &federated {
            Some((identity, _)) => federated_sub(&self.core.keys, &client_id, identity),
            None => sub_of(&self.core.keys, &client_id, &persona),
        };
        let mut claims = json!({
            "iss": self.issuer(), "sub": sub, "aud": client_id, "exp": secs + TOKEN_SECS, "iat": secs,
            "auth_time": secs, "nonce": nonce, "acr": acr, "amr": ["pwd"],
        });
        if let Some((_, rep_scope)) = &federated {
            // Passed on to the online service, with the identity provider that gave it.
            claims["rep_scope"] = json!(rep_scope);
            claims["idp"] = json!(federation::FI_KEY);
        }
        let id_token = key.sign(&claims).map_err(|_| OAuthError("server_error"))?;
        let access_token = random_token();
        let stored: Result<()> = async {
            on_db!(&self.core.db, c => {
                sqlx::query(
                    "INSERT INTO fc_simulateur_jetons (token_hash, client_id, identite, created_at, expires_at, identite_fi) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(sha256_hex(&access_token))
                .bind(&client_id)
                .bind(&persona)
                .bind(now)
                .bind(now + TOKEN_SECS * 1_000_000)
                .bind(&fi)
                .execute(&mut *c)
                .await?;
            });
            Ok(())
        }
        .await;
        stored.map_err(|_| OAuthError("server_error"))?;
        Ok(json!({
            "access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_SECS,
            "id_token": id_token, "scope": super::SCOPES,
        }))
    }

    async fn consume_code(&self, code: &str, now: i64) -> Result<Option<CodeRow>> {
        Ok(on_db!(&self.core.db, c => {
            sqlx::query_as(
                "UPDATE fc_simulateur_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 \
                 RETURNING client_id, redirect_uri, nonce, acr, identite, identite_fi",
            )
            .bind(now)
            .bind(sha256_hex(code))
            .fetch_optional(&mut *c)
            .await?
        }))
    }

    /// The userinfo endpoint: the identity as a JWT signed like the ID token.
    pub async fn userinfo(&self, access_token: &str) -> Result<String, OAuthError> {
        let now = self.core.db.now_micros();
        let found: Result<Option<(String, String, Option<String>)>> = async {
            Ok(on_db!(&self.core.db, c => {
                sqlx::query_as("SELECT client_id, identite, identite_fi FROM fc_simulateur_jetons WHERE token_hash = $1 AND expires_at > $2")
                    .bind(sha256_hex(access_token))
                    .bind(now)
                    .fetch_optional(&mut *c)
                    .await?
            }))
        }
        .await;
        let (client_id, key, fi) = found
            .map_err(|_| OAuthError("server_error"))?
            .ok_or(OAuthError("invalid_token"))?;
        let secs = now / 1_000_000;
        let (identity, rep_scope) = match fi.as_deref().map(read_federated).transpose()? {
            Some((identity, rep_scope)) => (
                Identity {
                    sub: federated_sub(&self.core.keys, &client_id, &identity),
                    ..identity
                },
                Some(rep_scope),
            ),
            None => {
                let p = persona(&key).ok_or(OAuthError("invalid_token"))?;
                (
                    Identity {
                        sub: sub_of(&self.core.keys, &client_id, p.key),
                        given_name: p.given_name.into(),
                        family_name: p.family_name.into(),
                        birthdate: p.birthdate.into(),
                        birthplace: p.birthplace.into(),
                        birthcountry: p.birthcountry.into(),
                        gender: p.gender.into(),
                        email: Some(p.email.into()),
                        preferred_username: p.preferred_username.map(str::to_string),
                    },
                    None,
                )
            }
        };
        let mut claims = serde_json::to_value(&identity).map_err(|_| OAuthError("server_error"))?;
        if let (Some(r), Some(o)) = (rep_scope, claims.as_object_mut()) {
            o.insert("rep_scope".into(), json!(r));
        }
        if let Some(o) = claims.as_object_mut() {
            o.insert("iss".into(), json!(self.issuer()));
            o.insert("aud".into(), json!(client_id));
            o.insert("iat".into(), json!(secs));
            o.insert("exp".into(), json!(secs + TOKEN_SECS));
        }
        let key = SigningKey::of(&self.core.keys).map_err(|_| OAuthError("server_error"))?;
        key.sign(&claims).map_err(|_| OAuthError("server_error"))
    }

    /// The end-session endpoint: the hint must be an ID token of ours (expired
    /// or not) and the return address the declared one.
    pub fn end_session(&self, id_token_hint: &str, post_logout_redirect_uri: &str) -> Result<(), String> {
        if post_logout_redirect_uri != self.config.post_logout_redirect_uri.as_str() {
            return Err("post_logout_redirect_uri différente de celle déclarée".into());
        }
        let key = SigningKey::of(&self.core.keys).map_err(|e| e.to_string())?;
        let mut v = jsonwebtoken::Validation::new(Algorithm::ES256);
        v.validate_exp = false;
        v.set_required_spec_claims::<&str>(&[]);
        v.set_issuer(&[self.issuer()]);
        v.set_audience(&[&self.config.client_id]);
        let dk = jsonwebtoken::DecodingKey::from_jwk(&key.jwk).map_err(|_| "clé du simulateur".to_string())?;
        jsonwebtoken::decode::<Value>(id_token_hint, &dk, &v)
            .map(|_| ())
            .map_err(|_| "id_token_hint invalide".into())
    }
}

/// Removes the simulator's used or expired codes and tokens.
pub async fn purge(core: &Core) -> Result<()> {
    let now = core.db.now_micros();
    on_db!(&core.db, c => {
        sqlx::query("DELETE FROM fc_simulateur_codes WHERE expires_at < $1").bind(now).execute(&mut *c).await?;
        sqlx::query("DELETE FROM fc_simulateur_jetons WHERE expires_at < $1").bind(now).execute(&mut *c).await?;
    });
    federation::purge(core).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_derived_from_the_deployment_secret() {
        let k = Keys::ephemeral();
        assert_eq!(SigningKey::of(&k).unwrap().kid(), SigningKey::of(&k).unwrap().kid());
        assert_ne!(
            SigningKey::of(&k).unwrap().kid(),
            SigningKey::of(&Keys::ephemeral()).unwrap().kid()
        );
        assert_eq!(
            SigningKey::from_seed([0u8; 32]).unwrap().kid().len(),
            16,
            "zero is not a scalar: re-hashed"
        );
        assert_eq!(sub_of(&k, "c", "angela").len(), 64);
        assert_ne!(sub_of(&k, "c", "angela"), sub_of(&k, "d", "angela"));
    }
}
