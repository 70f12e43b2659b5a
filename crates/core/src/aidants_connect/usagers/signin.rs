//! An usager signs in to his own space with FranceConnect: the same checked
//! code flow as an aidant's identification of an usager, but the `state` is
//! bound to a browser cookie instead of an account's session, and success
//! opens an usager session. Sign-out also closes the FranceConnect session.

use serde_json::json;

use super::session;
use crate::aidants_connect::franceconnect::flow::{self, DECONNEXION, SEAL_PURPOSE};
use crate::aidants_connect::franceconnect::{sha256_hex, FcError, FranceConnect, Identity};
use crate::error::Result;
use crate::journal::{self, actions, Actor, NewEntry};
use crate::{on_db, on_tx, Core};

/// `franceconnect_etats.nature` of an usager's own sign-in.
pub const NATURE: &str = "usager";

/// What a FranceConnect callback's `state` was issued for: an usager's own
/// sign-in (true) or an aidant's identification of an usager (false).
pub async fn is_usager_state(core: &Core, state: &str) -> Result<bool> {
    let n: i64 = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM franceconnect_etats WHERE state_hash = $1 AND account_id IS NULL")
            .bind(sha256_hex(state))
            .fetch_one(&mut *c)
            .await?
    });
    Ok(n > 0)
}

/// Starts a sign-in; `browser` is the random value of a short-lived cookie
/// the callback must bring back.
pub async fn start(core: &Core, fc: &FranceConnect, browser: &str) -> Result<String, FcError> {
    flow::authorization_url(core, fc, NATURE, None, browser).await
}

/// The callback with `error=`: the `state` is consumed, the reason given in French.
pub async fn provider_error(core: &Core, browser: &str, state: &str, error: &str) -> FcError {
    match flow::consume(core, NATURE, None, browser, state).await {
        Err(e) => e,
        Ok(_) => flow::denied(error),
    }
}

/// A successful sign-in: the usager and his new session's token.
pub struct SignedIn {
    pub usager_id: i64,
    pub identity: Identity,
    pub session_token: String,
}

/// The callback with a code: every check of the identification, then the
/// usager's row, a session, and the journal, in one transaction.
pub async fn finish(
    core: &Core,
    fc: &FranceConnect,
    browser: &str,
    code: &str,
    state: &str,
) -> Result<SignedIn, FcError> {
    let (row_id, nonce_hash) = flow::consume(core, NATURE, None, browser, state).await?;
    let (identity, acr, id_token) = flow::identify(fc, &nonce_hash, code).await?;
    let sealed = core.keys.seal(SEAL_PURPOSE, &id_token)?;
    let mut tx = core.db.begin().await?;
    let (usager_id, _) = flow::store_usager(&mut tx, &core.keys, &identity).await?;
    let session_token = session::create(&mut tx, usager_id).await?;
    on_tx!(&mut tx, c => {
        // The ID token is kept for the FranceConnect logout, found again by the new session.
        sqlx::query("UPDATE franceconnect_etats SET usager_id = $1, id_token_scelle = $2, session_hash = $3 WHERE id = $4")
            .bind(usager_id)
            .bind(&sealed)
            .bind(sha256_hex(&session_token))
            .bind(row_id)
            .execute(&mut *c)
            .await?;
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(Actor::Usager { id: usager_id }, actions::USAGER_SIGNIN)
            .subject("usager", usager_id)
            .details(json!({ "acr": acr })),
    )
    .await?;
    tx.commit().await?;
    Ok(SignedIn {
        usager_id,
        identity,
        session_token,
    })
}

/// A refused sign-in, journaled with its reason only.
pub async fn record_refusal(core: &Core, err: &FcError) -> Result<()> {
    let mut tx = core.db.begin().await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(Actor::Anonymous, actions::FRANCECONNECT_REFUSAL)
            .details(json!({ "motif": err.motif(), "espace": "usager" })),
    )
    .await?;
    tx.commit().await
}

/// Signs the usager out: ends his session, journals it, and returns the
/// address of FranceConnect's logout when the ID token of this sign-in is
/// still kept (its `state` is bound to the `browser` cookie).
pub async fn sign_out(
    core: &Core,
    fc: Option<&FranceConnect>,
    usager_id: i64,
    session_token: &str,
    browser: &str,
) -> Result<Option<String>, FcError> {
    let session_hash = sha256_hex(session_token);
    let kept: Option<(i64, String)> = on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT id, id_token_scelle FROM franceconnect_etats WHERE session_hash = $1 AND nature = $2 \
             AND account_id IS NULL AND id_token_scelle IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(&session_hash)
        .bind(NATURE)
        .fetch_optional(&mut *c)
        .await?
    });
    // The session ends first: whatever fails next, the usager is signed out.
    session::end(&core.db, session_token).await?;
    let mut tx = core.db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE franceconnect_etats SET id_token_scelle = NULL WHERE session_hash = $1")
            .bind(&session_hash)
            .execute(&mut *c)
            .await?;
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(Actor::Usager { id: usager_id }, actions::USAGER_SIGNOUT).subject("usager", usager_id),
    )
    .await?;
    tx.commit().await?;
    let (Some(fc), Some((_, sealed))) = (fc, kept) else {
        return Ok(None);
    };
    let id_token = core.keys.open(SEAL_PURPOSE, &sealed)?;
    let md = fc.metadata().await?;
    let Some(endpoint) = md.end_session_endpoint else {
        return Ok(None);
    };
    let state = flow::new_state(core, DECONNEXION, None, browser, None).await?;
    flow::end_session_url(fc, &endpoint, &id_token, &state).map(Some)
}

/// FranceConnect sent the browser back after an usager's logout.
pub async fn sign_out_return(core: &Core, browser: &str, state: &str) -> Result<(), FcError> {
    flow::consume(core, DECONNEXION, None, browser, state).await?;
    Ok(())
}

/// Housekeeping: expired usager sessions.
pub async fn purge(core: &Core) -> Result<()> {
    session::purge(&core.db).await
}
