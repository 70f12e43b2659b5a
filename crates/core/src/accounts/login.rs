//! Login: password, then TOTP (or forced enrolment), with lockout and journaling.
//! Every refusal gives the same answer, whatever went wrong.

use serde_json::json;

use super::session::{self, Stage};
use super::{password, store, throttle, totp};
use crate::error::CoreResult;
use crate::journal::{self, actions, Actor, NewEntry};
use crate::Core;

/// Why a login step was refused. `Invalid` covers unknown e-mail, wrong password,
/// inactive account and wrong code alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Invalid,
    /// Locked for this many seconds.
    Locked(i64),
    /// The step between password and code expired; start again.
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Fully signed in: the token of a new session.
    SignedIn {
        token: String,
        account_id: i64,
    },
    /// Password accepted; the TOTP code is expected (token of a pending session).
    NeedTotp {
        token: String,
    },
    /// Password accepted; the account must enrol a second factor first.
    NeedEnrolment {
        token: String,
        account_id: i64,
    },
    Refused(Refusal),
}

fn email_key(core: &Core, email: &str) -> String {
    format!("connexion:{}", core.keys.pseudonym("courriel", email))
}

fn account_key(account_id: i64) -> String {
    format!("totp:{account_id}")
}

/// First step: e-mail and password.
pub async fn login_password(core: &Core, email: &str, password_input: &str) -> CoreResult<LoginOutcome> {
    let email = email.trim().to_lowercase();
    let key = email_key(core, &email);
    if let Some(secs) = throttle::locked_for(&core.db, &key).await? {
        return Ok(LoginOutcome::Refused(Refusal::Locked(secs)));
    }
    let creds = if email.len() <= 254 {
        store::credentials_by_email(&core.db, &email).await?
    } else {
        None
    };
    let password_input = if password_input.chars().count() > password::MAX_LEN {
        ""
    } else {
        password_input
    };
    let ok = match &creds {
        Some(c) => password::verify(password_input, &c.password_hash) && c.active,
        None => {
            // Same work as a real check, so timing does not reveal unknown accounts.
            let _ = password::verify(password_input, password::dummy_hash());
            false
        }
    };
    let mut tx = core.db.begin().await?;
    let creds = match creds {
        Some(c) if ok => c,
        other => {
            let locked = throttle::record_failure(&mut tx, &key).await?;
            let mut entry = NewEntry::new(Actor::Anonymous, actions::LOGIN_FAILED)
                .details(json!({ "courriel": core.keys.pseudonym("courriel", &email), "etape": "mot_de_passe" }));
            if let Some(c) = &other {
                entry = entry.subject("compte", c.id);
            }
            journal::append(&mut tx, &core.keys, entry).await?;
            if let Some(secs) = locked {
                journal::append(
                    &mut tx,
                    &core.keys,
                    NewEntry::new(Actor::System, actions::LOGIN_LOCKED)
                        .details(json!({ "courriel": core.keys.pseudonym("courriel", &email), "secondes": secs })),
                )
                .await?;
            }
            tx.commit().await?;
            return Ok(LoginOutcome::Refused(locked.map_or(Refusal::Invalid, Refusal::Locked)));
        }
    };
    throttle::reset(&mut tx, &key).await?;
    let actor = Actor::Account {
        id: creds.id,
        role: creds.role.clone(),
    };
    let requires_totp = super::Role::parse(&creds.role).is_ok_and(super::Role::requires_totp);
    let outcome = if creds.totp_secret.is_some() {
        LoginOutcome::NeedTotp {
            token: session::create(&mut tx, creds.id, Stage::Totp).await?,
        }
    } else if requires_totp {
        LoginOutcome::NeedEnrolment {
            token: session::create(&mut tx, creds.id, Stage::Enrol).await?,
            account_id: creds.id,
        }
    } else {
        let token = session::create(&mut tx, creds.id, Stage::Active).await?;
        journal::append(
            &mut tx,
            &core.keys,
            NewEntry::new(actor, actions::LOGIN)
                .subject("compte", creds.id)
                .details(json!({ "second_facteur": false })),
        )
        .await?;
        LoginOutcome::SignedIn {
            token,
            account_id: creds.id,
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Second step: the TOTP code, for a session at stage [`Stage::Totp`]. On
/// success the pending session is replaced by a new one (rotation).
pub async fn login_totp(core: &Core, pending_token: &str, code: &str, unix: u64) -> CoreResult<LoginOutcome> {
    let Some(s) = session::load(&core.db, pending_token)
        .await?
        .filter(|s| s.stage == Stage::Totp)
    else {
        return Ok(LoginOutcome::Refused(Refusal::Expired));
    };
    let key = account_key(s.account_id);
    if let Some(secs) = throttle::locked_for(&core.db, &key).await? {
        return Ok(LoginOutcome::Refused(Refusal::Locked(secs)));
    }
    let mut tx = core.db.begin().await?;
    let Some(creds) = store::credentials_by_id(&mut tx, s.account_id).await? else {
        return Ok(LoginOutcome::Refused(Refusal::Expired));
    };
    let actor = Actor::Account {
        id: creds.id,
        role: creds.role.clone(),
    };
    let step = match &creds.totp_secret {
        Some(sealed) if creds.active => totp::check(&totp::open(core, sealed)?, code, unix, creds.totp_last_step)?,
        _ => None,
    };
    let consumed = match step {
        Some(step) => store::consume_totp_step(&mut tx, creds.id, step).await?,
        None => false,
    };
    if !consumed {
        let locked = throttle::record_failure(&mut tx, &key).await?;
        journal::append(
            &mut tx,
            &core.keys,
            NewEntry::new(actor, actions::TOTP_FAILED)
                .subject("compte", creds.id)
                .details(json!({ "verrouillage_secondes": locked })),
        )
        .await?;
        if locked.is_some() {
            session::delete(&mut tx, pending_token).await?;
        }
        tx.commit().await?;
        return Ok(LoginOutcome::Refused(locked.map_or(Refusal::Invalid, Refusal::Locked)));
    }
    throttle::reset(&mut tx, &key).await?;
    session::delete(&mut tx, pending_token).await?;
    let token = session::create(&mut tx, creds.id, Stage::Active).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor, actions::LOGIN)
            .subject("compte", creds.id)
            .details(json!({ "second_facteur": true })),
    )
    .await?;
    tx.commit().await?;
    Ok(LoginOutcome::SignedIn {
        token,
        account_id: creds.id,
    })
}

/// Ends a forced enrolment: confirms the device, then replaces the pending
/// session by a signed-in one. Returns `Refused(Invalid)` on a wrong code.
pub async fn finish_enrolment(core: &Core, pending_token: &str, code: &str, unix: u64) -> CoreResult<LoginOutcome> {
    let Some(s) = session::load(&core.db, pending_token)
        .await?
        .filter(|s| s.stage == Stage::Enrol)
    else {
        return Ok(LoginOutcome::Refused(Refusal::Expired));
    };
    let key = account_key(s.account_id);
    if let Some(secs) = throttle::locked_for(&core.db, &key).await? {
        return Ok(LoginOutcome::Refused(Refusal::Locked(secs)));
    }
    let mut tx = core.db.begin().await?;
    let Some(creds) = store::credentials_by_id(&mut tx, s.account_id).await? else {
        return Ok(LoginOutcome::Refused(Refusal::Expired));
    };
    let actor = Actor::Account {
        id: creds.id,
        role: creds.role.clone(),
    };
    let step = match &creds.totp_pending_secret {
        Some(sealed) => totp::check(&totp::open(core, sealed)?, code, unix, None)?,
        None => None,
    };
    let (Some(step), Some(secret)) = (step, creds.totp_pending_secret.as_deref()) else {
        let locked = throttle::record_failure(&mut tx, &key).await?;
        journal::append(
            &mut tx,
            &core.keys,
            NewEntry::new(actor, actions::TOTP_FAILED)
                .subject("compte", creds.id)
                .details(json!({ "etape": "activation" })),
        )
        .await?;
        tx.commit().await?;
        return Ok(LoginOutcome::Refused(locked.map_or(Refusal::Invalid, Refusal::Locked)));
    };
    store::set_totp(&mut tx, creds.id, Some(secret), Some(step)).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::TOTP_ENROLLED)
            .subject("compte", creds.id)
            .details(json!({ "remplacement": false })),
    )
    .await?;
    throttle::reset(&mut tx, &key).await?;
    session::delete(&mut tx, pending_token).await?;
    let token = session::create(&mut tx, creds.id, Stage::Active).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor, actions::LOGIN)
            .subject("compte", creds.id)
            .details(json!({ "second_facteur": true })),
    )
    .await?;
    tx.commit().await?;
    Ok(LoginOutcome::SignedIn {
        token,
        account_id: creds.id,
    })
}

/// Ends the session server-side.
pub async fn logout(core: &Core, token: &str, actor: Option<Actor>) -> CoreResult<()> {
    let mut tx = core.db.begin().await?;
    session::delete(&mut tx, token).await?;
    if let Some(actor) = actor {
        let id = actor.account_id();
        let mut e = NewEntry::new(actor, actions::LOGOUT);
        if let Some(id) = id {
            e = e.subject("compte", id);
        }
        journal::append(&mut tx, &core.keys, e).await?;
    }
    tx.commit().await
}
