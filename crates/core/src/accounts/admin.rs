//! What the opérateur does to other people's accounts: reset a forgotten
//! password, reset a lost second factor, deactivate or reactivate.
//! Each ends the account's sessions and is journaled in the same transaction.

use serde_json::json;

use super::{authorize, password, session, store, Action, Principal};
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, NewEntry};
use crate::Core;

async fn existing(core: &Core, account_id: i64) -> Result<super::Account> {
    store::account(&core.db, account_id)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("compte n° {account_id}")))
}

/// What the opérateur's page lists: every organisation and every account.
#[derive(Debug, Clone)]
pub struct Overview {
    pub organisations: Vec<super::Organisation>,
    pub accounts: Vec<super::Account>,
}

/// Every organisation and account: the opérateur only.
pub async fn overview(core: &Core, who: &Principal) -> Result<Overview> {
    authorize(who, Action::Administer)?;
    Ok(Overview {
        organisations: store::organisations(&core.db).await?,
        accounts: store::accounts(&core.db).await?,
    })
}

/// Gives the account a new random password, returned once with the account's address: (email, password).
pub async fn reset_password(core: &Core, who: &Principal, account_id: i64) -> Result<(String, String)> {
    authorize(who, Action::Administer)?;
    let account = existing(core, account_id).await?;
    let new = password::generate();
    let hash = core.argon2.hash(new.clone()).await?;
    let mut tx = core.db.begin().await?;
    store::set_password_hash(&mut tx, account.id, &hash).await?;
    let ended = session::delete_others(&mut tx, account.id, None).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::PASSWORD_RESET)
            .subject("compte", account.id)
            .details(json!({ "sessions_fermees": ended })),
    )
    .await?;
    tx.commit().await?;
    Ok((account.email, new))
}

/// Removes the second factor (lost phone): the account enrols a new device at
/// its next login if its role requires one.
pub async fn reset_totp(core: &Core, who: &Principal, account_id: i64) -> Result<()> {
    authorize(who, Action::Administer)?;
    let account = existing(core, account_id).await?;
    let mut tx = core.db.begin().await?;
    store::set_totp(&mut tx, account.id, None, None).await?;
    let ended = session::delete_others(&mut tx, account.id, None).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::TOTP_RESET)
            .subject("compte", account.id)
            .details(json!({ "sessions_fermees": ended })),
    )
    .await?;
    tx.commit().await
}

/// Deactivates (every session ends, login refused) or reactivates an account.
pub async fn set_active(core: &Core, who: &Principal, account_id: i64, active: bool) -> Result<()> {
    authorize(who, Action::Administer)?;
    if who.account_id == account_id && !active {
        return Err(CoreError::invalid("vous ne pouvez pas désactiver votre propre compte"));
    }
    let account = existing(core, account_id).await?;
    let mut tx = core.db.begin().await?;
    store::set_active(&mut tx, account.id, active).await?;
    if !active {
        session::delete_others(&mut tx, account.id, None).await?;
    }
    let action = if active {
        actions::ACCOUNT_REACTIVATED
    } else {
        actions::ACCOUNT_DEACTIVATED
    };
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), action).subject("compte", account.id),
    )
    .await?;
    tx.commit().await
}
