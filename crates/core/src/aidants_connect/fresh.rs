//! Sensitive steps (concluding, using, revoking a mandate) need a TOTP code
//! checked less than 15 minutes ago on the same session.

use serde_json::json;

use super::actions;
use crate::accounts::session::{self, Session, Stage};
use crate::accounts::throttle::{self, Attempt};
use crate::accounts::{store, totp};
use crate::error::{CoreError, Result};
use crate::journal::{self, Actor, NewEntry};
use crate::Core;

/// How recent the last TOTP check must be.
pub const FRESH_TOTP_SECS: i64 = 15 * 60;

/// Ok when the session's last TOTP check is recent enough; otherwise the
/// caller must ask for a code again (`/connexion/totp-recent?suivant=…`).
pub fn require_fresh_totp(s: &Session, max_age_secs: i64, now: i64) -> Result<()> {
    if s.stage == Stage::Active && session::totp_is_fresh(s, max_age_secs, now) {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "pour cette action, saisissez de nouveau le code de votre double authentification",
        ))
    }
}

/// Why a new check was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recheck {
    Accepted,
    Wrong,
    Locked(i64),
}

/// Checks a code for the signed-in session `token` and records the check.
pub async fn recheck(core: &Core, token: &str, code: &str, unix: u64) -> Result<Recheck> {
    let Some(s) = session::load(&core.db, token)
        .await?
        .filter(|s| s.stage == Stage::Active)
    else {
        return Err(CoreError::Forbidden);
    };
    let key = format!("totp:{}", s.account_id);
    let attempt = throttle::attempt(&core.db, &key).await?;
    if let Attempt::Locked(secs) = attempt {
        return Ok(Recheck::Locked(secs));
    }
    let mut tx = core.db.begin().await?;
    let creds = store::credentials_by_id(&mut tx, s.account_id)
        .await?
        .filter(|c| c.active)
        .ok_or(CoreError::Forbidden)?;
    let actor = Actor::Account {
        id: creds.id,
        role: creds.role.clone(),
    };
    let step = match creds.totp_secret.as_deref() {
        Some(sealed) => totp::check(&totp::open(core, sealed)?, code, unix, creds.totp_last_step)?,
        None => None,
    };
    let accepted = match step {
        Some(step) => store::consume_totp_step(&mut tx, creds.id, step).await?,
        None => false,
    };
    if !accepted {
        journal::append(
            &mut tx,
            &core.keys,
            NewEntry::new(actor, crate::journal::actions::TOTP_FAILED)
                .subject("compte", creds.id)
                .details(json!({ "etape": "verification_recente" })),
        )
        .await?;
        tx.commit().await?;
        return Ok(match attempt {
            Attempt::Allowed { locks_for: Some(secs) } => Recheck::Locked(secs),
            _ => Recheck::Wrong,
        });
    }
    throttle::reset(&mut tx, &key).await?;
    let now = tx.now_micros();
    session::mark_totp_verified(&mut tx, token, now).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor, actions::TOTP_RECHECKED).subject("compte", creds.id),
    )
    .await?;
    tx.commit().await?;
    Ok(Recheck::Accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_older_than_fifteen_minutes_is_not_fresh() {
        let now = crate::horloge::Horloge::systeme().now_micros();
        let mut s = Session {
            account_id: 1,
            stage: Stage::Active,
            created_at: now,
            structure_id: None,
            totp_verified_at: Some(now - 14 * 60 * 1_000_000),
        };
        assert!(require_fresh_totp(&s, FRESH_TOTP_SECS, now).is_ok());
        s.totp_verified_at = Some(now - 16 * 60 * 1_000_000);
        assert!(require_fresh_totp(&s, FRESH_TOTP_SECS, now).is_err());
        s.totp_verified_at = None;
        assert!(require_fresh_totp(&s, FRESH_TOTP_SECS, now).is_err());
        s.totp_verified_at = Some(now);
        s.stage = Stage::Totp;
        assert!(require_fresh_totp(&s, FRESH_TOTP_SECS, now).is_err());
    }
}
