//! Authorisation codes (single use, 60 s), the token endpoint and userinfo.
//! A replayed code is refused and revokes every token it gave.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::authorize::{Request, ACR};
use super::clients::{Client, Profil};
use crate::db::Tx;
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, Actor, NewEntry};
use crate::{on_db, on_tx, Core};

/// Life of an authorisation code, µs.
pub const CODE_TTL: i64 = 60 * 1_000_000;
/// Life of an access token and of an ID token, seconds.
pub const TOKEN_TTL_SECONDS: i64 = 600;

/// How the aidant proved who he is, on the session that completes the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authn {
    /// His last TOTP check on that session (µs): the ID token's `auth_time`.
    pub auth_time: i64,
    /// That session's public identifier (`sid`).
    pub sid: String,
}

/// What the aidant chose for this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub aidant_id: i64,
    pub structure_id: i64,
    pub usager_id: i64,
    pub autorisation_id: i64,
    pub demarche: String,
}

fn random() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Keyed fingerprint of a code or token: the database never holds one usable.
fn fingerprint(core: &Core, purpose: &str, value: &str) -> Vec<u8> {
    let key = core.keys.subkey(purpose);
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(value.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The `sub` a service sees for an usager: the same for this service,
/// different for each service (pairwise).
pub fn pairwise_sub(core: &Core, client_id: &str, usager_id: i64) -> String {
    hex::encode(fingerprint(
        core,
        "oidc-sub-par-service",
        &format!("{client_id}\n{usager_id}"),
    ))
}

/// The `sub` `client` sees for an usager: pairwise for an online service;
/// for FranceConnect, the usager's own stable identifier (the keyed
/// fingerprint of his FranceConnect `sub` kept since his identification),
/// the same whatever the client. `None`: no such usager.
pub async fn subject(core: &Core, tx: &mut Tx, client: &Client, usager_id: i64) -> Result<Option<String>> {
    match client.profil {
        Profil::Standard => Ok(Some(pairwise_sub(core, &client.client_id, usager_id))),
        Profil::FranceConnect => Ok(on_tx!(tx, c => {
            sqlx::query_scalar("SELECT sub_hash FROM usagers WHERE id = $1").bind(usager_id).fetch_optional(&mut *c).await?
        })),
    }
}

/// `at_hash` (Core 3.1.3.6): the left half of the SHA-256 of the access token.
pub fn at_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16])
}

/// Issues the code for a request the aidant completed, in its own transaction.
pub async fn issue_code(core: &Core, request: &Request, grant: &Grant, authn: &Authn) -> Result<String> {
    let mut tx = core.db.begin().await?;
    let to = issue_code_tx(core, &mut tx, request, grant, authn).await?;
    tx.commit().await?;
    Ok(to)
}

/// Issues the code for a request the aidant completed, inside the caller's
/// transaction (where the grant was checked); returns the URL to send the
/// browser to.
pub async fn issue_code_tx(
    core: &Core,
    tx: &mut Tx,
    request: &Request,
    grant: &Grant,
    authn: &Authn,
) -> Result<String> {
    let code = random();
    let now = tx.horloge.now_micros();
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO oidc_codes (empreinte, client_id, redirect_uri, nonce, code_challenge, aidant_id, structure_id, usager_id, \
             autorisation_id, demarche, created_at, expire_at, scope, auth_time, sid) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(fingerprint(core, "oidc-code", &code)).bind(&request.client_id).bind(&request.redirect_uri)
        .bind(request.nonce.as_deref().unwrap_or_default())
        .bind(&request.code_challenge).bind(grant.aidant_id).bind(grant.structure_id).bind(grant.usager_id)
        .bind(grant.autorisation_id).bind(&grant.demarche).bind(now).bind(now + CODE_TTL).bind(&request.scope)
        .bind(authn.auth_time).bind(&authn.sid)
        .execute(&mut *c).await?;
    });
    let mut u = url::Url::parse(&request.redirect_uri).map_err(|e| CoreError::invalid(e.to_string()))?;
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(state) = &request.state {
            q.append_pair("state", state);
        }
    }
    Ok(u.to_string())
}

/// An OAuth error of the token or userinfo endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

fn refuse(status: u16, error: &'static str, description: impl Into<String>) -> Result<Value, OAuthError> {
    Err(OAuthError {
        status,
        error,
        description: description.into(),
    })
}

/// The token request, as read from the form (client already authenticated).
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub grant_type: String,
    pub code: String,
    pub redirect_uri: String,
    pub code_verifier: Option<String>,
}

type CodeRow = (
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
);

/// `POST /oidc/token` for an authenticated client.
pub async fn exchange(
    core: &Core,
    issuer: &str,
    client: &Client,
    req: &TokenRequest,
) -> Result<Result<Value, OAuthError>> {
    if req.grant_type != "authorization_code" {
        return Ok(refuse(
            400,
            "unsupported_grant_type",
            "seul authorization_code est accepté",
        ));
    }
    let key = fingerprint(core, "oidc-code", &req.code);
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    // Used at most once: the update that marks it is the one that wins.
    let row: Option<CodeRow> = on_tx!(&mut tx, c => {
        sqlx::query_as(
            "UPDATE oidc_codes SET utilise_at = $2 WHERE empreinte = $1 AND utilise_at IS NULL \
             RETURNING client_id, redirect_uri, nonce, code_challenge, aidant_id, structure_id, usager_id, autorisation_id, demarche, expire_at, scope, \
             auth_time, sid",
        )
        .bind(&key).bind(now).fetch_optional(&mut *c).await?
    });
    let Some((
        client_id,
        redirect_uri,
        nonce,
        challenge,
        aidant,
        structure,
        usager,
        autorisation,
        demarche,
        expire_at,
        scope,
        auth_time,
        sid,
    )) = row
    else {
        let replayed: i64 = on_tx!(&mut tx, c => {
            sqlx::query_scalar("SELECT COUNT(*) FROM oidc_codes WHERE empreinte = $1").bind(&key).fetch_one(&mut *c).await?
        });
        if replayed > 0 {
            let revoked = on_tx!(&mut tx, c => {
                sqlx::query("UPDATE oidc_jetons SET revoque_at = $2 WHERE code_empreinte = $1 AND revoque_at IS NULL")
                    .bind(&key).bind(now).execute(&mut *c).await?.rows_affected()
            });
            journal::append(
                &mut tx,
                &core.keys,
                NewEntry::new(Actor::System, actions::OIDC_CODE_REPLAYED)
                    .details(json!({ "client_id": client.client_id, "jetons_revoques": revoked })),
            )
            .await?;
            tx.commit().await?;
            return Ok(refuse(
                400,
                "invalid_grant",
                "code déjà utilisé : les jetons qu'il a donnés sont révoqués",
            ));
        }
        return Ok(refuse(400, "invalid_grant", "code inconnu"));
    };
    if client_id != client.client_id {
        return Ok(refuse(400, "invalid_grant", "ce code n'a pas été délivré à ce service"));
    }
    if expire_at < now {
        tx.commit().await?;
        return Ok(refuse(400, "invalid_grant", "code expiré"));
    }
    if redirect_uri != req.redirect_uri {
        return Ok(refuse(
            400,
            "invalid_grant",
            "redirect_uri différente de celle de la demande",
        ));
    }
    match (&challenge, &req.code_verifier) {
        (Some(ch), Some(v)) => {
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
            if computed != *ch {
                return Ok(refuse(
                    400,
                    "invalid_grant",
                    "code_verifier ne correspond pas au code_challenge",
                ));
            }
        }
        (Some(_), None) => return Ok(refuse(400, "invalid_grant", "code_verifier absent (PKCE)")),
        (None, Some(_)) => return Ok(refuse(400, "invalid_grant", "code_verifier sans code_challenge")),
        (None, None) => {}
    }
    // The mandate may have been revoked (or the aidant may have left) since
    // the code was issued: no signed identity on a dead autorisation.
    let grant = Grant {
        aidant_id: aidant,
        structure_id: structure,
        usager_id: usager,
        autorisation_id: autorisation,
        demarche: demarche.clone(),
    };
    if super::userinfo::still_valid(&mut tx, &grant, now).await?.is_none() {
        tx.commit().await?;
        return Ok(refuse(
            400,
            "invalid_grant",
            "l'autorisation de l'usager a été révoquée ou a expiré",
        ));
    }
    let Some(sub) = subject(core, &mut tx, client, usager).await? else {
        tx.commit().await?;
        return Ok(refuse(400, "invalid_grant", "aucun usager ne correspond à ce code"));
    };
    let token = random();
    on_tx!(&mut tx, c => {
        sqlx::query(
            "INSERT INTO oidc_jetons (empreinte, code_empreinte, client_id, aidant_id, structure_id, usager_id, autorisation_id, demarche, created_at, expire_at, scope, sid) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(fingerprint(core, "oidc-jeton", &token)).bind(&key).bind(&client_id).bind(aidant).bind(structure)
        .bind(usager).bind(autorisation).bind(&demarche).bind(now).bind(now + TOKEN_TTL_SECONDS * 1_000_000).bind(&scope)
        .bind(&sid)
        .execute(&mut *c).await?;
    });
    tx.commit().await?;
    let iat = now / 1_000_000;
    let mut claims = json!({
        "iss": issuer,
        "sub": sub,
        "aud": client_id,
        "iat": iat,
        "exp": iat + TOKEN_TTL_SECONDS,
        // A code issued before auth_time was recorded: the time of the token, as before.
        "auth_time": auth_time.map_or(iat, |t| t / 1_000_000),
        "acr": ACR,
        "at_hash": at_hash(&token),
        "rep_scope": rep_scope_claim(client, &demarche),
    });
    // Only when one was sent: a client that sent none must not find one (openid-client refuses it).
    if !nonce.is_empty() {
        claims["nonce"] = nonce.into();
    }
    if let Some(s) = sid {
        claims["sid"] = s.into();
    }
    let id_token = super::keys::sign_for(core, &client_id, client.id_token_alg, &claims, None).await?;
    Ok(Ok(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": TOKEN_TTL_SECONDS,
        "id_token": id_token,
        "scope": scope,
    })))
}

/// The `rep_scope` claim: the démarche's key for an online service; a list
/// of keys for FranceConnect, which reads it as an array.
pub fn rep_scope_claim(client: &Client, demarche: &str) -> Value {
    match client.profil {
        Profil::Standard => json!(demarche),
        Profil::FranceConnect => json!([demarche]),
    }
}

/// A live access token.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Access {
    pub client_id: String,
    pub aidant_id: i64,
    pub structure_id: i64,
    pub usager_id: i64,
    pub autorisation_id: i64,
    pub demarche: String,
    pub scope: String,
}

/// The live access token `token`, if it is one. Any text is only fingerprinted
/// (32 bytes) and looked up, like a code at the token endpoint: an empty or
/// very long value is simply not found (the HTTP server bounds headers).
pub async fn access(core: &Core, token: &str) -> Result<Option<Access>> {
    Ok(on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT client_id, aidant_id, structure_id, usager_id, autorisation_id, demarche, scope FROM oidc_jetons \
             WHERE empreinte = $1 AND revoque_at IS NULL AND expire_at > $2",
        )
        .bind(fingerprint(core, "oidc-jeton", token)).bind(core.db.now_micros()).fetch_optional(&mut *c).await?
    }))
}

/// Revokes the access token `token` (its autorisation is gone).
pub async fn revoke_tx(core: &Core, tx: &mut Tx, token: &str) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE oidc_jetons SET revoque_at = $2 WHERE empreinte = $1 AND revoque_at IS NULL")
            .bind(fingerprint(core, "oidc-jeton", token)).bind(tx.horloge.now_micros()).execute(&mut *c).await?;
    });
    Ok(())
}
