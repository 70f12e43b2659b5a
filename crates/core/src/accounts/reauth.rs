//! The current password asked again of a signed-in account before a sensitive
//! change (new password, removal or change of the second factor). Someone
//! holding a stolen session must not be able to guess it at leisure: each
//! check is a login attempt on the same lockout counter as the login page
//! (counted before it is checked), a failure is journaled like a failed login,
//! and once locked the account is locked for the login page too.

use serde_json::json;

use super::throttle::{self, Attempt};
use super::{login, store, Principal};
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, Actor, NewEntry};
use crate::Core;

/// Ok when `input` is the current password of `who` (whose address is `email`).
/// Otherwise [`CoreError::Invalid`] (wrong password) or [`CoreError::Locked`].
pub(super) async fn check_current_password(core: &Core, who: &Principal, email: &str, input: &str) -> Result<()> {
    let stored = store::password_hash(&core.db, who.account_id)
        .await?
        .ok_or(CoreError::Forbidden)?;
    let email = email.trim().to_lowercase();
    let key = login::email_key(core, &email);
    let permit = core.argon2.permit().await?;
    let locks_for = match throttle::attempt(&core.db, &key).await? {
        Attempt::Locked(secs) => return Err(CoreError::Locked(secs)),
        Attempt::Allowed { locks_for } => locks_for,
    };
    let matches = permit.verify(input.to_string(), Some(stored)).await?;
    let mut tx = core.db.begin().await?;
    if matches {
        throttle::reset(&mut tx, &key).await?;
        return tx.commit().await;
    }
    let courriel = core.keys.pseudonym("courriel", &email);
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::LOGIN_FAILED)
            .subject("compte", who.account_id)
            .details(json!({ "courriel": courriel, "etape": "mot_de_passe", "via": "mot_de_passe_actuel" })),
    )
    .await?;
    if let Some(secs) = locks_for {
        journal::append(
            &mut tx,
            &core.keys,
            NewEntry::new(Actor::System, actions::LOGIN_LOCKED)
                .details(json!({ "courriel": courriel, "secondes": secs, "via": "mot_de_passe_actuel" })),
        )
        .await?;
    }
    tx.commit().await?;
    Err(match locks_for {
        Some(secs) => CoreError::Locked(secs),
        None => CoreError::invalid("le mot de passe actuel est incorrect"),
    })
}
