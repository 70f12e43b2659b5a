//! Login: password, then TOTP (or forced enrolment), with lockout and journaling.
//! Every refusal gives the same answer, whatever went wrong. Each attempt is
//! counted before it is checked ([`throttle::attempt`]), so parallel requests
//! cannot get more tries than allowed.

use serde_json::json;

use super::session::{self, Stage};
use super::throttle::{self, Attempt};
use super::{store, totp};
use crate::error::{CoreError, Result};
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

/// The lockout counter of an e-mail address (trimmed, lower-case), shared by
/// the login and the checks of the current password.
pub(super) fn email_key(core: &Core, email: &str) -> String {
    format!("connexion:{}", core.keys.pseudonym("courriel", email))
}

fn account_key(account_id: i64) -> String {
    format!("totp:{account_id}")
}

fn refused_after(attempt: Attempt) -> LoginOutcome {
    match attempt {
        Attempt::Allowed { locks_for: Some(secs) } | Attempt::Locked(secs) => {
            LoginOutcome::Refused(Refusal::Locked(secs))
        }
        Attempt::Allowed { locks_for: None } => LoginOutcome::Refused(Refusal::Invalid),
    }
}

/// First step: e-mail and password.
pub async fn login_password(core: &Core, email: &str, password_input: &str) -> Result<LoginOutcome> {
    let email = email.trim().to_lowercase();
    let key = email_key(core, &email);
    let creds = if email.len() <= 254 {
        store::credentials_by_email(&core.db, &email).await?
    } else {
        None
    };
    // The turn in the Argon2 queue first: a refusal for overload counts no failure.
    let permit = core.argon2.permit().await?;
    let attempt = throttle::attempt(&core.db, &key).await?;
    if let Attempt::Locked(secs) = attempt {
        return Ok(LoginOutcome::Refused(Refusal::Locked(secs)));
    }
    // Same work whether the account exists or not, so timing reveals nothing.
    let stored = creds.as_ref().map(|c| c.password_hash.clone());
    let matches = permit.verify(password_input.to_string(), stored).await?;
    let mut tx = core.db.begin().await?;
    let creds = match creds {
        Some(c) if matches && c.active => c,
        other => {
            let mut entry = NewEntry::new(Actor::Anonymous, actions::LOGIN_FAILED)
                .details(json!({ "courriel": core.keys.pseudonym("courriel", &email), "etape": "mot_de_passe" }));
            if let Some(c) = &other {
                entry = entry.subject("compte", c.id);
            }
            journal::append(&mut tx, &core.keys, entry).await?;
            if let Attempt::Allowed { locks_for: Some(secs) } = attempt {
                journal::append(
                    &mut tx,
                    &core.keys,
                    NewEntry::new(Actor::System, actions::LOGIN_LOCKED)
                        .details(json!({ "courriel": core.keys.pseudonym("courriel", &email), "secondes": secs })),
                )
                .await?;
            }
            tx.commit().await?;
            return Ok(refused_after(attempt));
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
        store::note_login(&mut tx, creds.id).await?;
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

/// Second step: the TOTP code, for a session at stage [`Stage::Totp`], or the
/// confirmation code of a forced enrolment ([`Stage::Enrol`]). On success the
/// pending session is replaced by a new one (rotation).
async fn second_step(core: &Core, pending_token: &str, code: &str, unix: u64, stage: Stage) -> Result<LoginOutcome> {
    let Some(s) = session::load(&core.db, pending_token)
        .await?
        .filter(|s| s.stage == stage)
    else {
        return Ok(LoginOutcome::Refused(Refusal::Expired));
    };
    let key = account_key(s.account_id);
    let attempt = throttle::attempt(&core.db, &key).await?;
    if let Attempt::Locked(secs) = attempt {
        return Ok(LoginOutcome::Refused(Refusal::Locked(secs)));
    }
    let mut tx = core.db.begin().await?;
    let Some(creds) = store::credentials_by_id(&mut tx, s.account_id)
        .await?
        .filter(|c| c.active)
    else {
        return Ok(LoginOutcome::Refused(Refusal::Expired));
    };
    let actor = Actor::Account {
        id: creds.id,
        role: creds.role.clone(),
    };
    let (sealed, last_step) = match stage {
        Stage::Totp => (creds.totp_secret.as_deref(), creds.totp_last_step),
        _ => (creds.totp_pending_secret.as_deref(), None),
    };
    let step = match sealed {
        Some(sealed) => totp::check(&totp::open(core, sealed)?, code, unix, last_step)?,
        None => None,
    };
    let accepted = match (stage, step) {
        (Stage::Totp, Some(step)) => store::consume_totp_step(&mut tx, creds.id, step).await?,
        (_, Some(_)) => true,
        (_, None) => false,
    };
    if !accepted {
        journal::append(
            &mut tx,
            &core.keys,
            NewEntry::new(actor, actions::TOTP_FAILED)
                .subject("compte", creds.id)
                .details(json!({ "etape": stage.key() })),
        )
        .await?;
        if matches!(attempt, Attempt::Allowed { locks_for: Some(_) }) {
            session::delete(&mut tx, pending_token).await?;
        }
        tx.commit().await?;
        return Ok(refused_after(attempt));
    }
    // The pending session must still exist now (a lock may have ended it meanwhile).
    if session::delete(&mut tx, pending_token).await? == 0 {
        tx.rollback().await?;
        return Ok(LoginOutcome::Refused(Refusal::Expired));
    }
    if let (Stage::Enrol, Some(sealed), Some(step)) = (stage, sealed, step) {
        store::set_totp(&mut tx, creds.id, Some(sealed), Some(step)).await?;
        journal::append(
            &mut tx,
            &core.keys,
            NewEntry::new(actor.clone(), actions::TOTP_ENROLLED)
                .subject("compte", creds.id)
                .details(json!({ "remplacement": false })),
        )
        .await?;
    }
    throttle::reset(&mut tx, &key).await?;
    let token = session::create(&mut tx, creds.id, Stage::Active).await?;
    let now = tx.now_micros();
    session::mark_totp_verified(&mut tx, &token, now).await?;
    store::note_login(&mut tx, creds.id).await?;
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

/// The TOTP code after the password.
pub async fn login_totp(core: &Core, pending_token: &str, code: &str, unix: u64) -> Result<LoginOutcome> {
    second_step(core, pending_token, code, unix, Stage::Totp).await
}

/// Ends a forced enrolment: confirms the new device, then signs in.
pub async fn finish_enrolment(core: &Core, pending_token: &str, code: &str, unix: u64) -> Result<LoginOutcome> {
    second_step(core, pending_token, code, unix, Stage::Enrol).await
}

/// Ends every session of the account, on every device, this one included
/// (« se déconnecter partout »); returns how many sessions were closed.
pub async fn logout_everywhere(core: &Core, actor: Actor) -> Result<u64> {
    let Some(id) = actor.account_id() else {
        return Err(CoreError::Forbidden);
    };
    let mut tx = core.db.begin().await?;
    let closed = session::delete_others(&mut tx, id, None).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor, actions::LOGOUT_EVERYWHERE)
            .subject("compte", id)
            .details(json!({ "sessions_fermees": closed })),
    )
    .await?;
    tx.commit().await?;
    Ok(closed)
}

/// Ends this session only, server-side (the account's other sessions stay
/// open: see [`logout_everywhere`]).
pub async fn logout(core: &Core, token: &str, actor: Option<Actor>) -> Result<()> {
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
