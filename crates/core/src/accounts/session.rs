//! Server-side sessions in the database. The cookie holds a random token; the
//! database holds only its SHA-256, so a copy of the database gives no session.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::{Db, Tx};
use crate::error::Result;
use crate::{on_db, on_tx};

/// Idle timeout of a signed-in session.
pub const IDLE_SECS: i64 = 30 * 60;
/// Absolute lifetime of a signed-in session.
pub const ABSOLUTE_SECS: i64 = 12 * 3600;
/// Lifetime of the step between password and second factor.
pub const PENDING_SECS: i64 = 5 * 60;
/// `last_seen_at` is written at most this often, to spare the database.
const TOUCH_EVERY_SECS: i64 = 60;

/// How far a session has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Password checked; the TOTP code is expected.
    Totp,
    /// Password checked; the account must enrol a TOTP device before going on.
    Enrol,
    /// Fully signed in.
    Active,
}

crate::texte_en_base!(Stage, Stage::from_key, Stage::key, "étape de session");

impl Stage {
    pub const ALL: [Stage; 3] = [Stage::Totp, Stage::Enrol, Stage::Active];

    /// The value stored in the database (migration 0028 allows only these).
    pub fn key(self) -> &'static str {
        match self {
            Stage::Totp => "totp",
            Stage::Enrol => "enrolement",
            Stage::Active => "active",
        }
    }

    pub fn from_key(key: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// A loaded session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub account_id: i64,
    pub stage: Stage,
    pub created_at: i64,
    /// The structure an aidant of several structures acts for (Aidants Connect).
    pub structure_id: Option<i64>,
    /// When a TOTP code was last checked on this session (µs).
    pub totp_verified_at: Option<i64>,
}

/// Whether the session's last TOTP check is less than `max_age_secs` old at `now` (µs).
pub fn totp_is_fresh(s: &Session, max_age_secs: i64, now: i64) -> bool {
    s.totp_verified_at
        .is_some_and(|at| at <= now && now - at < max_age_secs * 1_000_000)
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The public identifier of a session (`sid` of OpenID Connect): derived from
/// the stored fingerprint of its token, from which the token cannot be found.
pub fn sid(token: &str) -> String {
    sid_of_hash(&token_hash(token))
}

fn sid_of_hash(id_hash: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"passerelle-oidc-sid\0");
    h.update(id_hash);
    hex::encode(&h.finalize()[..16])
}

/// The sessions just ended: the services the aidant used through them are
/// told (back-channel logout) and their tokens revoked.
async fn ended(tx: &mut Tx, id_hashes: &[Vec<u8>]) -> Result<()> {
    let sids: Vec<String> = id_hashes.iter().map(|h| sid_of_hash(h)).collect();
    crate::aidants_connect::oidc_provider::backchannel::sessions_ended_tx(tx, &sids).await
}

fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Creates a session and returns its token (for the cookie).
pub async fn create(tx: &mut Tx, account_id: i64, stage: Stage) -> Result<String> {
    let token = new_token();
    let now = tx.horloge.now_micros();
    let lifetime = if stage == Stage::Active {
        ABSOLUTE_SECS
    } else {
        PENDING_SECS
    };
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO sessions (id_hash, account_id, stage, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(token_hash(&token))
        .bind(account_id)
        .bind(stage)
        .bind(now)
        .bind(now + lifetime * 1_000_000)
        .execute(&mut *c)
        .await?;
    });
    Ok(token)
}

/// Loads the session of `token` if it is still valid, and notes the activity.
/// An expired session is deleted.
pub async fn load(db: &Db, token: &str) -> Result<Option<Session>> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let id = token_hash(token);
    type Row = (i64, Stage, i64, i64, i64, bool, Option<i64>, Option<i64>);
    let row: Option<Row> = on_db!(db, c => {
        sqlx::query_as(
            "SELECT s.account_id, s.stage, s.created_at, s.last_seen_at, s.expires_at, a.active, s.structure_id, s.totp_verified_at \
             FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id_hash = $1",
        )
        .bind(&id)
        .fetch_optional(&mut *c)
        .await?
    });
    let Some((account_id, stage, created_at, last_seen, expires_at, active, structure_id, totp_verified_at)) = row
    else {
        return Ok(None);
    };
    let now = db.now_micros();
    let idle_limit = IDLE_SECS * 1_000_000;
    if !active || now >= expires_at || (stage == Stage::Active && now - last_seen > idle_limit) {
        delete_by_hash(db, &id).await?;
        return Ok(None);
    }
    if now - last_seen > TOUCH_EVERY_SECS * 1_000_000 {
        on_db!(db, c => {
            sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
                .bind(&id)
                .bind(now)
                .execute(&mut *c)
                .await?;
        });
    }
    Ok(Some(Session {
        account_id,
        stage,
        created_at,
        structure_id,
        totp_verified_at,
    }))
}

/// Records a TOTP check on the session of `token` (login, or a fresh check before a sensitive step).
pub async fn mark_totp_verified(tx: &mut Tx, token: &str, at: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE sessions SET totp_verified_at = $2 WHERE id_hash = $1")
            .bind(token_hash(token))
            .bind(at)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Sets the current structure of the session of `token` (an aidant of several structures).
pub async fn set_structure(tx: &mut Tx, token: &str, structure_id: i64) -> Result<u64> {
    Ok(on_tx!(tx, c => {
        sqlx::query("UPDATE sessions SET structure_id = $2 WHERE id_hash = $1")
            .bind(token_hash(token))
            .bind(structure_id)
            .execute(&mut *c)
            .await?
            .rows_affected()
    }))
}

async fn delete_by_hash(db: &Db, id: &[u8]) -> Result<()> {
    on_db!(db, c => {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id).execute(&mut *c).await?;
    });
    Ok(())
}

/// Ends the session of `token` (logout, or rotation inside a transaction);
/// returns the number of sessions removed (0 or 1).
pub async fn delete(tx: &mut Tx, token: &str) -> Result<u64> {
    let gone: Vec<Vec<u8>> = on_tx!(tx, c => {
        sqlx::query_scalar("DELETE FROM sessions WHERE id_hash = $1 RETURNING id_hash").bind(token_hash(token)).fetch_all(&mut *c).await?
    });
    ended(tx, &gone).await?;
    Ok(gone.len() as u64)
}

/// Ends every session of an account except `keep` (after a password change;
/// `None` ends them all).
pub async fn delete_others(tx: &mut Tx, account_id: i64, keep: Option<&str>) -> Result<u64> {
    let keep = keep.map(token_hash).unwrap_or_default();
    let gone: Vec<Vec<u8>> = on_tx!(tx, c => {
        sqlx::query_scalar("DELETE FROM sessions WHERE account_id = $1 AND id_hash <> $2 RETURNING id_hash")
            .bind(account_id)
            .bind(keep)
            .fetch_all(&mut *c)
            .await?
    });
    ended(tx, &gone).await?;
    Ok(gone.len() as u64)
}

/// Open (unexpired) sessions of an account, shown on its page.
pub async fn count(db: &Db, account_id: i64) -> Result<i64> {
    let now = db.now_micros();
    Ok(on_db!(db, c => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM sessions WHERE account_id = $1 AND expires_at > $2 AND last_seen_at > $3",
        )
        .bind(account_id)
        .bind(now)
        .bind(now - IDLE_SECS * 1_000_000)
        .fetch_one(&mut *c)
        .await?
    }))
}

/// Removes expired sessions (housekeeping).
pub async fn purge_expired(db: &Db) -> Result<u64> {
    let now = db.now_micros();
    Ok(on_db!(db, c => {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR (stage = $3 AND last_seen_at <= $2)")
            .bind(now)
            .bind(now - IDLE_SECS * 1_000_000)
            .bind(Stage::Active)
            .execute(&mut *c)
            .await?
            .rows_affected()
    }))
}
