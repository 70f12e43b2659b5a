//! SIMULATEUR ProConnect — démonstration et tests seulement. It answers like
//! ProConnect (`/api/v2` of the federation): discovery, an authorisation page
//! where one types the agent's address (any address: it proves nothing),
//! token, JWKS, userinfo as a signed JWT, end of session. The ID token
//! carries `amr` only when the request asked for it in `claims`, as
//! ProConnect does. Codes (60 s, single use) and tokens (60 s) are in the
//! database; the key is derived from the data directory's secret.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::ProConnect;
use crate::aidants_connect::franceconnect::simulateur::SigningKey;
use crate::aidants_connect::franceconnect::{random_token, sha256_hex};
use crate::error::{CoreError, Result};
use crate::keys::Keys;
use crate::{on_db, Core};

const CODE_SECS: i64 = 60;
const TOKEN_SECS: i64 = 60;

/// The agent typed on the simulator's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub email: String,
    pub given_name: String,
    pub usual_name: String,
    /// 14 digits, or empty.
    pub siret: String,
    /// Whether the agent « used » a second factor at his identity provider.
    pub mfa: bool,
    /// Whether the identity provider verified the address.
    pub email_verified: bool,
    /// Whether the service asked for `amr` (`claims`).
    #[serde(default)]
    pub amr_asked: bool,
}

/// The simulator's signing key (ES256), derived from the deployment secret.
pub fn key(keys: &Keys) -> Result<SigningKey> {
    SigningKey::from_seed(keys.subkey("pc-simulateur-es256"))
}

/// The `sub` of an agent for a client: one per address and client.
pub fn sub_of(keys: &Keys, client_id: &str, email: &str) -> String {
    keys.pseudonym(
        "pc-simulateur-sub",
        &format!("{client_id}\n{}", email.trim().to_lowercase()),
    )
}

/// An OAuth error of the token or userinfo endpoint.
#[derive(Debug, PartialEq, Eq)]
pub struct OAuthError(pub &'static str);

pub struct Simulateur<'a> {
    pub core: &'a Core,
    pub pc: &'a ProConnect,
}

impl Simulateur<'_> {
    fn issuer(&self) -> String {
        self.pc.config().issuer_str()
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
            "scopes_supported": super::flow::SCOPES.split(' ').collect::<Vec<_>>(),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "acr_values_supported": ["eidas1", "eidas1-mfa"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "userinfo_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "claims_parameter_supported": true,
            "claims_supported": ["sub", "email", "given_name", "usual_name", "siret", "uid", "idp_id", "acr", "amr"],
        })
    }

    /// Checks an authorisation request; the message (French) says what is wrong.
    pub fn check_authorize(
        &self,
        client_id: &str,
        redirect_uri: &str,
        scope: &str,
        state: &str,
        nonce: &str,
    ) -> Result<(), String> {
        let c = self.pc.config();
        if client_id != c.client_id {
            return Err("client_id inconnu du simulateur".into());
        }
        if redirect_uri != c.redirect_uri.as_str() {
            return Err("redirect_uri différente de celle déclarée".into());
        }
        if !scope.split(' ').any(|s| s == "openid") {
            return Err("le scope doit contenir openid".into());
        }
        // ProConnect: state and nonce of 32 characters at least.
        if !(32..=512).contains(&state.len()) || !(32..=512).contains(&nonce.len()) {
            return Err("state et nonce : de 32 à 512 caractères".into());
        }
        Ok(())
    }

    /// Issues a code for `agent` (stored hashed, single use, 60 s).
    pub async fn issue_code(&self, agent: &Agent, nonce: &str) -> Result<String> {
        if !agent.email.contains('@') || agent.email.len() > 254 {
            return Err(CoreError::invalid("adresse électronique de l'agent invalide"));
        }
        let code = random_token();
        let now = self.core.db.now_micros();
        let identite = serde_json::to_string(agent).map_err(|e| CoreError::Io(e.to_string()))?;
        on_db!(&self.core.db, c => {
            sqlx::query(
                "INSERT INTO pc_simulateur_codes (code_hash, nonce, identite, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(sha256_hex(&code)).bind(nonce).bind(&identite).bind(now).bind(now + CODE_SECS * 1_000_000)
            .execute(&mut *c).await?;
        });
        Ok(code)
    }

    /// The token endpoint (`client_secret_post`).
    pub async fn token(
        &self,
        client_id: &str,
        secret: &str,
        code: &str,
        redirect_uri: &str,
    ) -> Result<Value, OAuthError> {
        let c = self.pc.config();
        let ok = client_id.as_bytes().ct_eq(c.client_id.as_bytes())
            & secret.as_bytes().ct_eq(c.client_secret.expose().as_bytes());
        if !bool::from(ok) {
            return Err(OAuthError("invalid_client"));
        }
        if redirect_uri != c.redirect_uri.as_str() {
            return Err(OAuthError("invalid_grant"));
        }
        let now = self.core.db.now_micros();
        let row: Option<(String, String)> = async {
            Result::<_>::Ok(on_db!(&self.core.db, c => {
                sqlx::query_as(
                    "UPDATE pc_simulateur_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 \
                     RETURNING nonce, identite",
                )
                .bind(now).bind(sha256_hex(code)).fetch_optional(&mut *c).await?
            }))
        }
        .await
        .map_err(|_| OAuthError("server_error"))?;
        let (nonce, identite) = row.ok_or(OAuthError("invalid_grant"))?;
        let agent: Agent = serde_json::from_str(&identite).map_err(|_| OAuthError("server_error"))?;
        let secs = now / 1_000_000;
        let mut claims = json!({
            "iss": self.issuer(), "sub": sub_of(&self.core.keys, client_id, &agent.email), "aud": client_id,
            "exp": secs + TOKEN_SECS, "iat": secs, "auth_time": secs, "nonce": nonce,
            "acr": if agent.mfa { "eidas1-mfa" } else { "eidas1" }, "idp_id": "simulateur",
        });
        if agent.amr_asked {
            claims["amr"] = if agent.mfa {
                json!(["pwd", "otp", "mfa"])
            } else {
                json!(["pwd"])
            };
        }
        let k = key(&self.core.keys).map_err(|_| OAuthError("server_error"))?;
        let id_token = k.sign(&claims).map_err(|_| OAuthError("server_error"))?;
        let access_token = random_token();
        async {
            on_db!(&self.core.db, c => {
                sqlx::query("INSERT INTO pc_simulateur_jetons (token_hash, identite, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(sha256_hex(&access_token)).bind(&identite).bind(now).bind(now + TOKEN_SECS * 1_000_000)
                    .execute(&mut *c).await?;
            });
            Result::<()>::Ok(())
        }
        .await
        .map_err(|_| OAuthError("server_error"))?;
        Ok(
            json!({ "access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_SECS, "id_token": id_token }),
        )
    }

    /// The userinfo endpoint: a JWT signed like the ID token.
    pub async fn userinfo(&self, access_token: &str) -> Result<String, OAuthError> {
        let now = self.core.db.now_micros();
        let found: Option<String> = async {
            Result::<_>::Ok(on_db!(&self.core.db, c => {
                sqlx::query_scalar("SELECT identite FROM pc_simulateur_jetons WHERE token_hash = $1 AND expires_at > $2")
                    .bind(sha256_hex(access_token)).bind(now).fetch_optional(&mut *c).await?
            }))
        }
        .await
        .map_err(|_| OAuthError("server_error"))?;
        let agent: Agent =
            serde_json::from_str(&found.ok_or(OAuthError("invalid_token"))?).map_err(|_| OAuthError("server_error"))?;
        let c = self.pc.config();
        let secs = now / 1_000_000;
        let mut claims = json!({
            "iss": self.issuer(), "aud": c.client_id, "iat": secs, "exp": secs + TOKEN_SECS,
            "sub": sub_of(&self.core.keys, &c.client_id, &agent.email),
            "email": agent.email, "given_name": agent.given_name, "usual_name": agent.usual_name,
            "uid": agent.email, "idp_id": "simulateur",
        });
        if !agent.siret.is_empty() {
            claims["siret"] = json!(agent.siret);
        }
        if !agent.email_verified {
            // An identity provider of the federation that does not vouch for the address.
            claims["email_verified"] = json!(false);
        }
        let k = key(&self.core.keys).map_err(|_| OAuthError("server_error"))?;
        k.sign(&claims).map_err(|_| OAuthError("server_error"))
    }
}

/// Removes the simulator's old codes and tokens.
pub async fn purge(core: &Core) -> Result<()> {
    let now = core.db.now_micros();
    on_db!(&core.db, c => {
        sqlx::query("DELETE FROM pc_simulateur_codes WHERE expires_at < $1").bind(now).execute(&mut *c).await?;
        sqlx::query("DELETE FROM pc_simulateur_jetons WHERE expires_at < $1").bind(now).execute(&mut *c).await?;
    });
    Ok(())
}
