//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0). When a
//! session of an aidant ends (he signs out, here or everywhere, his password
//! changes, his account is deactivated), every service that received tokens
//! through that session and registered a `backchannel_logout_uri` is told,
//! by a logout token posted server to server, and those tokens are revoked.
//! The logout tokens wait in `oidc_deconnexions`, written in the transaction
//! that ends the session; any instance delivers them (`send_due`), retrying
//! with a back-off, as the e-mails are.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde_json::json;

use super::clients;
use super::tokens::subject;
use crate::db::{Pool, Tx};
use crate::error::Result;
use crate::{on_db, on_tx, Core, Db};

/// The event of a logout token.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A claimed delivery is tried again by anyone after this lease (µs).
const LEASE: i64 = 2 * 60 * 1_000_000;
/// Deliveries given up after this many attempts.
pub const MAX_ATTEMPTS: i64 = 8;
/// Life of a logout token, seconds.
const LOGOUT_TOKEN_TTL: i64 = 120;

/// Called in the transaction that deletes sessions (`sid` of each): queues a
/// logout token for each service and usager served through them, and revokes
/// their tokens.
pub async fn sessions_ended_tx(tx: &mut Tx, sids: &[String]) -> Result<()> {
    let now = tx.horloge.now_micros();
    for sid in sids {
        on_tx!(tx, c => {
            sqlx::query(
                "INSERT INTO oidc_deconnexions (client_id, usager_id, sid, created_at, prochain_essai_at) \
                 SELECT DISTINCT j.client_id, j.usager_id, j.sid, $2, $2 FROM oidc_jetons j \
                 JOIN oidc_clients c ON c.client_id = j.client_id \
                 WHERE j.sid = $1 AND c.backchannel_logout_uri IS NOT NULL AND c.revoque_at IS NULL \
                 ON CONFLICT (client_id, sid, usager_id) DO NOTHING",
            )
            .bind(sid).bind(now).execute(&mut *c).await?;
            sqlx::query("UPDATE oidc_jetons SET revoque_at = $2 WHERE sid = $1 AND revoque_at IS NULL")
                .bind(sid).bind(now).execute(&mut *c).await?;
        });
    }
    Ok(())
}

/// What one round of deliveries did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub envoyes: u64,
    pub echecs: u64,
}

type Claimed = (i64, String, i64, String, i64);

async fn claim(db: &Db, limit: i64) -> Result<Vec<Claimed>> {
    let now = db.now_micros();
    let pick =
        "SELECT id FROM oidc_deconnexions WHERE envoye_at IS NULL AND prochain_essai_at <= $1 AND tentatives < $3 \
                ORDER BY id LIMIT $2";
    let lock = match &db.pool {
        Pool::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        Pool::Sqlite(_) => "",
    };
    let sql = format!(
        "UPDATE oidc_deconnexions SET prochain_essai_at = $1 + {LEASE}, tentatives = tentatives + 1 \
         WHERE id IN ({pick}{lock}) RETURNING id, client_id, usager_id, sid, tentatives"
    );
    Ok(on_db!(db, c => {
        sqlx::query_as(&sql).bind(now).bind(limit).bind(MAX_ATTEMPTS).fetch_all(&mut *c).await?
    }))
}

fn jti() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The logout token for one delivery, and where to post it; `None` when the
/// service or the usager is gone (nothing to tell).
async fn logout_token(
    core: &Core,
    issuer: &str,
    client_id: &str,
    usager: i64,
    sid: &str,
) -> Result<Option<(String, String)>> {
    let Some(client) = clients::find(&core.db, client_id).await? else {
        return Ok(None);
    };
    let Some(uri) = client.backchannel_logout_uri.clone() else {
        return Ok(None);
    };
    let mut tx = core.db.begin().await?;
    let sub = subject(core, &mut tx, &client, usager).await?;
    tx.commit().await?;
    let Some(sub) = sub else {
        return Ok(None);
    };
    let iat = core.db.now_micros() / 1_000_000;
    let claims = json!({
        "iss": issuer,
        "aud": client.client_id,
        "iat": iat,
        "exp": iat + LOGOUT_TOKEN_TTL,
        "jti": jti(),
        "sub": sub,
        "sid": sid,
        "events": { EVENT: {} },
    });
    let token = super::keys::sign_for(
        core,
        &client.client_id,
        client.id_token_alg,
        &claims,
        Some("logout+jwt"),
    )
    .await?;
    Ok(Some((uri, token)))
}

/// Delivers up to `limit` due logout tokens with `http` (a client without
/// redirects and with a short timeout).
pub async fn send_due(core: &Core, http: &reqwest::Client, issuer: &str, limit: i64) -> Result<Sent> {
    let mut sent = Sent::default();
    for (id, client_id, usager, sid, attempts) in claim(&core.db, limit).await? {
        let outcome = match logout_token(core, issuer, &client_id, usager, &sid).await? {
            None => Ok(()),
            Some((uri, token)) => match http.post(&uri).form(&[("logout_token", token)]).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("réponse {}", r.status().as_u16())),
                Err(e) => Err(format!("service injoignable : {}", e.without_url())),
            },
        };
        match outcome {
            Ok(()) => {
                on_db!(&core.db, c => {
                    sqlx::query("UPDATE oidc_deconnexions SET envoye_at = $2, erreur = NULL WHERE id = $1")
                        .bind(id).bind(core.db.now_micros()).execute(&mut *c).await?;
                });
                sent.envoyes += 1;
            }
            Err(e) => {
                // Back-off: 1, 2, 4… minutes.
                let wait = 60_000_000i64 << attempts.clamp(0, 12);
                tracing::warn!(deconnexion = id, client_id = %client_id, tentative = attempts, erreur = %e,
                    "déconnexion par canal direct non remise");
                on_db!(&core.db, c => {
                    sqlx::query("UPDATE oidc_deconnexions SET erreur = $2, prochain_essai_at = $3 WHERE id = $1")
                        .bind(id).bind(&e).bind(core.db.now_micros() + wait).execute(&mut *c).await?;
                });
                sent.echecs += 1;
            }
        }
    }
    Ok(sent)
}

/// The HTTP client of the deliveries: no redirect followed, 5 s at most.
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| crate::error::CoreError::Io(format!("client HTTP : {e}")))
}
