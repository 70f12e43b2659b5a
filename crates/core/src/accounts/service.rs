//! Use cases of the accounts domain. Each change and its journal entry are one transaction.

use serde_json::json;

use super::model::{Account, Email, OrgKind, Organisation, Role, Siret};
use super::{authorize, password, session, store, totp, Action, Principal};
use crate::db::is_unique_violation;
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, NewEntry};
use crate::Core;

/// Builds the principal of a signed-in account (None if it no longer exists or is inactive).
pub async fn principal(core: &Core, account_id: i64) -> Result<Option<(Principal, Account)>> {
    let Some(account) = store::account(&core.db, account_id).await? else {
        return Ok(None);
    };
    let Some(role) = account.role().filter(|_| account.active) else {
        return Ok(None);
    };
    Ok(Some((
        Principal {
            account_id,
            role,
            organisation_id: account.organisation_id,
        },
        account,
    )))
}

/// Creates an organisation: the opérateur only (`Principal::SYSTEME` from the command line).
pub async fn create_organisation(
    core: &Core,
    who: &Principal,
    kind: &str,
    name: &str,
    siret: Option<&str>,
) -> Result<Organisation> {
    authorize(who, Action::Administer)?;
    let actor = &who.actor();
    let kind = OrgKind::parse(kind)?;
    let name = clean_name(name, "le nom de l'organisation")?;
    let siret = match siret.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(Siret::parse(s)?),
        None => None,
    };
    let mut tx = core.db.begin().await?;
    let id = match store::insert_organisation(&mut tx, kind.key(), &name, siret.as_ref()).await {
        Ok(id) => id,
        Err(CoreError::Database(e)) if is_unique_violation(&e) => {
            return Err(CoreError::Conflict(format!(
                "une organisation de type {} avec ce SIRET existe déjà",
                kind.key()
            )))
        }
        Err(e) => return Err(e),
    };
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::ORGANISATION_CREATED)
            .subject("organisation", id)
            .details(json!({ "type": kind.key(), "nom": name, "siret": siret.as_ref().map(Siret::as_str) })),
    )
    .await?;
    tx.commit().await?;
    store::organisation(&core.db, id)
        .await?
        .ok_or_else(|| CoreError::NotFound("organisation".into()))
}

fn clean_name(input: &str, what: &str) -> Result<String> {
    let name = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(CoreError::invalid(format!("{what} est obligatoire")));
    }
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(CoreError::invalid(format!(
            "{what} doit faire au plus 200 caractères, sans caractère de contrôle"
        )));
    }
    Ok(name)
}

/// What is needed to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub organisation_id: i64,
    pub email: &'a str,
    pub display_name: &'a str,
    /// `None`: the role of the organisation's kind (if it has only one).
    pub role: Option<&'a str>,
    /// `None`: a password is generated and returned once.
    pub password: Option<&'a str>,
    /// Enrol a TOTP secret now and return it once (the command line does this for opérateurs).
    pub with_totp: bool,
}

/// The created account and the secrets shown once.
#[derive(Debug, Clone)]
pub struct CreatedAccount {
    pub account: Account,
    pub generated_password: Option<String>,
    pub totp_secret: Option<String>,
    pub otpauth_uri: Option<String>,
}

/// Creates an account in an organisation: the opérateur only (`Principal::SYSTEME` from the command line).
pub async fn create_account(core: &Core, who: &Principal, new: NewAccount<'_>) -> Result<CreatedAccount> {
    authorize(who, Action::Administer)?;
    let actor = &who.actor();
    let email = Email::parse(new.email)?;
    let display_name = clean_name(new.display_name, "le nom")?;
    let org = store::organisation(&core.db, new.organisation_id)
        .await?
        .ok_or_else(|| CoreError::invalid(format!("l'organisation n° {} n'existe pas", new.organisation_id)))?;
    let kind = OrgKind::parse(&org.kind)?;
    let role = match new.role {
        Some(r) => Role::parse(r)?,
        None => match kind.roles() {
            [only] => *only,
            _ => return Err(CoreError::invalid("précisez le rôle : référent ou aidant")),
        },
    };
    if !kind.roles().contains(&role) {
        return Err(CoreError::invalid(format!(
            "le rôle « {} » n'existe pas dans une organisation de type « {} »",
            role.label(),
            kind.label()
        )));
    }
    let (pw, generated) = match new.password {
        Some(p) => (p.to_string(), None),
        None => {
            let g = password::generate();
            (g.clone(), Some(g))
        }
    };
    password::check_policy(&pw, email.as_str())?;
    let hash = core.argon2.hash(pw).await?;
    let secret = new.with_totp.then(totp::new_secret);
    let sealed = match &secret {
        Some(s) => Some(totp::seal(core, s)?),
        None => None,
    };
    let mut tx = core.db.begin().await?;
    let id = match store::insert_account(
        &mut tx,
        org.id,
        email.as_str(),
        &display_name,
        role.key(),
        &hash,
        sealed.as_deref(),
    )
    .await
    {
        Ok(id) => id,
        Err(CoreError::Database(e)) if is_unique_violation(&e) => {
            return Err(CoreError::Conflict(
                "un compte existe déjà avec cette adresse électronique".into(),
            ))
        }
        Err(e) => return Err(e),
    };
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::ACCOUNT_CREATED)
            .subject("compte", id)
            .subject("organisation", org.id)
            .details(json!({
                "role": role.key(),
                "courriel": core.keys.pseudonym("courriel", email.as_str()),
                "totp": secret.is_some(),
            })),
    )
    .await?;
    tx.commit().await?;
    let account = store::account(&core.db, id)
        .await?
        .ok_or_else(|| CoreError::NotFound("compte".into()))?;
    let otpauth_uri = match &secret {
        Some(s) => Some(totp::otpauth_uri(s, email.as_str())?),
        None => None,
    };
    Ok(CreatedAccount {
        account,
        generated_password: generated,
        totp_secret: secret,
        otpauth_uri,
    })
}

/// Changes the password after checking the current one; ends the account's other sessions.
pub async fn change_password(
    core: &Core,
    who: &Principal,
    current: &str,
    new: &str,
    keep_session: Option<&str>,
) -> Result<()> {
    authorize(
        who,
        Action::ManageOwnAccount {
            account_id: who.account_id,
        },
    )?;
    let account = store::account(&core.db, who.account_id)
        .await?
        .ok_or(CoreError::Forbidden)?;
    // Argon2 runs before the write transaction, within the bound of the process.
    super::reauth::check_current_password(core, who, &account.email, current).await?;
    if current == new {
        return Err(CoreError::invalid(
            "le nouveau mot de passe doit être différent de l'actuel",
        ));
    }
    password::check_policy(new, &account.email)?;
    let hash = core.argon2.hash(new.to_string()).await?;
    let mut tx = core.db.begin().await?;
    store::set_password_hash(&mut tx, who.account_id, &hash).await?;
    let ended = session::delete_others(&mut tx, who.account_id, keep_session).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::PASSWORD_CHANGED)
            .subject("compte", who.account_id)
            .details(json!({ "sessions_fermees": ended })),
    )
    .await?;
    tx.commit().await
}

/// A TOTP enrolment in progress: the secret waits in `totp_pending_secret` until confirmed.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_png_base64: String,
}

/// How long a pending secret is shown again when the page is shown again: a reload, or a
/// second look while the app is being set up, keeps the code of the app that scanned it.
pub const TOTP_PENDING_REUSE_MICROS: i64 = 15 * 60 * 1_000_000;

/// Starts an enrolment for `account_id`. The pending secret is shown again after a mistyped
/// code (`renew` false) and whenever it was drawn less than 15 minutes ago; otherwise a new one
/// is drawn (a secret seen on a screen long ago is worthless).
pub async fn start_totp_enrolment(core: &Core, account_id: i64, renew: bool) -> Result<TotpEnrolment> {
    let account = store::account(&core.db, account_id)
        .await?
        .ok_or(CoreError::Forbidden)?;
    let mut tx = core.db.begin().await?;
    let creds = store::credentials_by_id(&mut tx, account_id)
        .await?
        .ok_or(CoreError::Forbidden)?;
    let recent = creds
        .totp_pending_at
        .is_some_and(|at| tx.horloge.now_micros() - at < TOTP_PENDING_REUSE_MICROS);
    let secret = match creds.totp_pending_secret {
        Some(sealed) if !renew || recent => totp::open(core, &sealed)?,
        _ => {
            let s = totp::new_secret();
            store::set_totp_pending(&mut tx, account_id, Some(&totp::seal(core, &s)?)).await?;
            s
        }
    };
    tx.commit().await?;
    Ok(TotpEnrolment {
        otpauth_uri: totp::otpauth_uri(&secret, &account.email)?,
        qr_png_base64: totp::qr_png_base64(&secret, &account.email)?,
        secret,
    })
}

/// Confirms the pending enrolment from "Mon compte" with a code of the new
/// device. Replacing an existing device also needs the current password, and
/// ends the account's other sessions. Returns false if the code is wrong.
pub async fn confirm_totp(
    core: &Core,
    who: &Principal,
    code: &str,
    current_password: Option<&str>,
    keep_session: Option<&str>,
    unix: u64,
) -> Result<bool> {
    authorize(
        who,
        Action::ManageOwnAccount {
            account_id: who.account_id,
        },
    )?;
    let account_id = who.account_id;
    let account = store::account(&core.db, account_id)
        .await?
        .ok_or(CoreError::Forbidden)?;
    if account.totp_enabled {
        let Some(pw) = current_password.filter(|p| !p.is_empty()) else {
            return Err(CoreError::invalid(
                "saisissez votre mot de passe actuel pour changer d'appareil",
            ));
        };
        super::reauth::check_current_password(core, who, &account.email, pw).await?;
    }
    let mut tx = core.db.begin().await?;
    let creds = store::credentials_by_id(&mut tx, account_id)
        .await?
        .ok_or(CoreError::Forbidden)?;
    let Some(pending) = creds.totp_pending_secret else {
        return Err(CoreError::invalid(
            "aucune activation de double authentification n'est en cours",
        ));
    };
    let replaced = creds.totp_secret.is_some();
    if replaced && !account.totp_enabled {
        // A device enrolled meanwhile (another session): its password was not checked.
        return Err(CoreError::invalid(
            "la double authentification a changé entre-temps : rechargez la page et recommencez",
        ));
    }
    let Some(step) = totp::check(&totp::open(core, &pending)?, code, unix, None)? else {
        tx.rollback().await?;
        return Ok(false);
    };
    store::set_totp(&mut tx, account_id, Some(&pending), Some(step)).await?;
    let ended = session::delete_others(&mut tx, account_id, keep_session).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::TOTP_ENROLLED)
            .subject("compte", account_id)
            .details(json!({ "remplacement": replaced, "sessions_fermees": ended })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Removes the second factor, for roles that do not require it, after checking the password.
pub async fn remove_totp(
    core: &Core,
    who: &Principal,
    current_password: &str,
    keep_session: Option<&str>,
) -> Result<()> {
    authorize(
        who,
        Action::ManageOwnAccount {
            account_id: who.account_id,
        },
    )?;
    if who.role.requires_totp() {
        return Err(CoreError::invalid(
            "la double authentification est obligatoire pour votre rôle ; vous pouvez seulement changer d'appareil",
        ));
    }
    let account = store::account(&core.db, who.account_id)
        .await?
        .ok_or(CoreError::Forbidden)?;
    super::reauth::check_current_password(core, who, &account.email, current_password).await?;
    let mut tx = core.db.begin().await?;
    store::set_totp(&mut tx, who.account_id, None, None).await?;
    let ended = session::delete_others(&mut tx, who.account_id, keep_session).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::TOTP_REMOVED)
            .subject("compte", who.account_id)
            .details(json!({ "sessions_fermees": ended })),
    )
    .await?;
    tx.commit().await
}
