//! Sessions of usagers in their own space: a random token in a cookie, only
//! its SHA-256 in the database, 30 minutes idle, 4 hours at most.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::{Db, Tx};
use crate::error::Result;
use crate::{on_db, on_tx};

pub const IDLE_SECS: i64 = 30 * 60;
pub const ABSOLUTE_SECS: i64 = 4 * 3600;
const TOUCH_EVERY_SECS: i64 = 60;

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Opens a session for `usager_id` and returns its token (for the cookie).
pub async fn create(tx: &mut Tx, usager_id: i64) -> Result<String> {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let now = tx.horloge.now_micros();
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO usagers_sessions (id_hash, usager_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $4)",
        )
        .bind(token_hash(&token))
        .bind(usager_id)
        .bind(now)
        .bind(now + ABSOLUTE_SECS * 1_000_000)
        .execute(&mut *c)
        .await?;
    });
    Ok(token)
}

/// The usager of a still valid session (and notes the activity); an expired
/// session is deleted.
pub async fn load(db: &Db, token: &str) -> Result<Option<i64>> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let id = token_hash(token);
    let row: Option<(i64, i64, i64)> = on_db!(db, c => {
        sqlx::query_as("SELECT usager_id, last_seen_at, expires_at FROM usagers_sessions WHERE id_hash = $1")
            .bind(&id)
            .fetch_optional(&mut *c)
            .await?
    });
    let Some((usager_id, last_seen, expires_at)) = row else {
        return Ok(None);
    };
    let now = db.now_micros();
    if now >= expires_at || now - last_seen > IDLE_SECS * 1_000_000 {
        end(db, token).await?;
        return Ok(None);
    }
    if now - last_seen > TOUCH_EVERY_SECS * 1_000_000 {
        on_db!(db, c => {
            sqlx::query("UPDATE usagers_sessions SET last_seen_at = $2 WHERE id_hash = $1")
                .bind(&id)
                .bind(now)
                .execute(&mut *c)
                .await?;
        });
    }
    Ok(Some(usager_id))
}

/// Ends the session of `token` (sign-out).
pub async fn end(db: &Db, token: &str) -> Result<()> {
    on_db!(db, c => {
        sqlx::query("DELETE FROM usagers_sessions WHERE id_hash = $1")
            .bind(token_hash(token))
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Removes expired sessions (hourly housekeeping).
pub async fn purge(db: &Db) -> Result<()> {
    let now = db.now_micros();
    on_db!(db, c => {
        sqlx::query("DELETE FROM usagers_sessions WHERE expires_at <= $1 OR last_seen_at < $2")
            .bind(now)
            .bind(now - IDLE_SECS * 1_000_000)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}
