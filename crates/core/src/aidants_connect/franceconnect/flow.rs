//! The code flow, bound to the browser session: `start` stores `state` and
//! `nonce` (hashed, single use, 10 minutes) and gives the address of
//! FranceConnect; `finish` checks the callback, the tokens and the identity,
//! then stores the usager under a keyed hash of `sub` and writes the journal,
//! in one transaction. The ID token is kept (encrypted) for the logout.

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::provider::{error_key, FranceConnect};
use super::verify::{self, Expected};
use super::{random_token, sha256_hex, FcError, Identity, ACR, SCOPES};
use crate::accounts::{Principal, Role};
use crate::db::Tx;
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, NewEntry};
use crate::keys::Keys;
use crate::{on_db, on_tx, Core};

/// How long an identification may take, from the click to the callback.
pub const STATE_SECS: i64 = 10 * 60;
/// Rows are kept this long (the ID token is needed for the logout), then purged.
pub const KEEP_SECS: i64 = 12 * 3600;
pub(crate) const CONNEXION: &str = "connexion";
pub(crate) const DECONNEXION: &str = "deconnexion";
pub(crate) const SEAL_PURPOSE: &str = "franceconnect-id-token";

/// A successful identification.
pub struct Identified {
    pub usager_id: i64,
    pub identity: Identity,
    /// The usager was not known before.
    pub nouvel_usager: bool,
}

/// A completed logout.
pub struct LoggedOut;

/// Who may identify an usager with FranceConnect: aidants (to conclude a
/// mandate); nobody else. Each step below checks it first, before the
/// configuration or anything sent by the browser is looked at.
pub fn may_identify(who: &Principal) -> Result<()> {
    match who.role {
        Role::Aidant => Ok(()),
        _ => Err(CoreError::Forbidden),
    }
}

/// Keyed hash of a FranceConnect `sub` (HMAC-SHA-256 under a key derived from
/// the data directory's secret): the usager is found again, the `sub` is not stored.
pub fn sub_hash(keys: &Keys, sub: &str) -> String {
    let key = keys.subkey("franceconnect-sub");
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    };
    mac.update(sub.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Stores a new `state` bound to the browser session `session_token` and,
/// for an aidant's identification, to his account (`None` for an usager
/// signing in to his own space).
pub(crate) async fn new_state(
    core: &Core,
    nature: &str,
    account: Option<i64>,
    session_token: &str,
    nonce: Option<&str>,
) -> Result<String> {
    let state = random_token();
    let now = core.db.now_micros();
    on_db!(&core.db, c => {
        sqlx::query(
            "INSERT INTO franceconnect_etats (nature, state_hash, nonce_hash, session_hash, account_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(nature)
        .bind(sha256_hex(&state))
        .bind(nonce.map(sha256_hex).unwrap_or_default())
        .bind(sha256_hex(session_token))
        .bind(account)
        .bind(now)
        .bind(now + STATE_SECS * 1_000_000)
        .execute(&mut *c)
        .await?;
    });
    Ok(state)
}

/// The address of FranceConnect's authorisation page for a new `state` and `nonce`.
pub(crate) async fn authorization_url(
    core: &Core,
    fc: &FranceConnect,
    nature: &str,
    account: Option<i64>,
    session_token: &str,
) -> Result<String, FcError> {
    let md = fc.metadata().await?;
    let nonce = random_token();
    let state = new_state(core, nature, account, session_token, Some(&nonce)).await?;
    let mut url = url::Url::parse(&md.authorization_endpoint)
        .map_err(|_| FcError::Provider("adresse d'autorisation invalide".into()))?;
    let c = fc.config();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &c.client_id)
        .append_pair("redirect_uri", c.redirect_uri.as_str())
        .append_pair("scope", SCOPES)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("acr_values", ACR)
        .append_pair("prompt", "login");
    Ok(url.into())
}

/// Starts an identification: returns the address of FranceConnect's authorisation page.
pub async fn start(
    core: &Core,
    fc: Option<&FranceConnect>,
    who: &Principal,
    session_token: &str,
) -> Result<String, FcError> {
    may_identify(who)?;
    let fc = fc.ok_or(FcError::NotConfigured)?;
    authorization_url(core, fc, CONNEXION, Some(who.account_id), session_token).await
}

/// Consumes a `state` of this session once; says why when it cannot.
pub(crate) async fn consume(
    core: &Core,
    nature: &str,
    account: Option<i64>,
    session_token: &str,
    state: &str,
) -> Result<(i64, String), FcError> {
    let now = core.db.now_micros();
    let state_hash = sha256_hex(state);
    let session_hash = sha256_hex(session_token);
    // `account_id` is NULL for an usager's own sign-in; -1 never matches an account.
    let owner = if account.is_some() {
        "account_id = $5"
    } else {
        "account_id IS NULL AND $5 = -1"
    };
    let account = account.unwrap_or(-1);
    let update = format!(
        "UPDATE franceconnect_etats SET used_at = $1 WHERE state_hash = $2 AND nature = $3 AND session_hash = $4 \
         AND {owner} AND used_at IS NULL AND expires_at > $1 RETURNING id, nonce_hash"
    );
    let row: Option<(i64, String)> = on_db!(&core.db, c => {
        sqlx::query_as(&update)
            .bind(now)
            .bind(&state_hash)
            .bind(nature)
            .bind(&session_hash)
            .bind(account)
            .fetch_optional(&mut *c)
            .await?
    });
    if let Some(r) = row {
        return Ok(r);
    }
    let select = format!(
        "SELECT used_at, expires_at FROM franceconnect_etats WHERE state_hash = $1 AND nature = $2 AND session_hash = $3 \
         AND {}",
        owner.replace("$5", "$4")
    );
    let seen: Option<(Option<i64>, i64)> = on_db!(&core.db, c => {
        sqlx::query_as(&select)
            .bind(&state_hash)
            .bind(nature)
            .bind(&session_hash)
            .bind(account)
            .fetch_optional(&mut *c)
            .await?
    });
    Err(match seen {
        Some((Some(_), _)) => FcError::ReplayedState,
        Some((None, _)) => FcError::ExpiredState,
        None => FcError::UnknownState,
    })
}

/// What FranceConnect sent back to `/franceconnect/retour` for an aidant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Callback<'a> {
    pub code: Option<&'a str>,
    pub state: &'a str,
    pub error: Option<&'a str>,
}

/// The callback, whatever it carries: a provider's error, or a code that
/// [`finish`] checks. Anything malformed is refused with its French reason.
pub async fn callback(
    core: &Core,
    fc: Option<&FranceConnect>,
    who: &Principal,
    session_token: &str,
    back: Callback<'_>,
) -> Result<Identified, FcError> {
    may_identify(who)?;
    let fc = fc.ok_or(FcError::NotConfigured)?;
    if back.state.is_empty() || back.state.len() > 512 {
        return Err(FcError::UnknownState);
    }
    if let Some(error) = back.error {
        return Err(provider_error(core, who, session_token, back.state, error).await);
    }
    let code = back.code.unwrap_or_default();
    if code.is_empty() || code.len() > 2048 {
        return Err(FcError::Denied("FranceConnect n'a pas renvoyé de code".into()));
    }
    finish(core, fc, who, session_token, code, back.state).await
}

/// The callback with `error=` (the usager cancelled, or FranceConnect refused):
/// the `state` is consumed, and the reason given in French.
async fn provider_error(core: &Core, who: &Principal, session_token: &str, state: &str, error: &str) -> FcError {
    match consume(core, CONNEXION, Some(who.account_id), session_token, state).await {
        Err(e) => e,
        Ok(_) => denied(error),
    }
}

/// The French reason of a provider's `error=`.
pub fn denied(error: &str) -> FcError {
    let key = error_key(error);
    FcError::Denied(match key.as_str() {
        "access_denied" => "l'usager a annulé sa connexion à FranceConnect".to_string(),
        "" => "FranceConnect a renvoyé une erreur".to_string(),
        k => format!("FranceConnect a renvoyé l'erreur « {k} »"),
    })
}

/// The callback with a code: checks everything, stores the usager, journals.
async fn finish(
    core: &Core,
    fc: &FranceConnect,
    who: &Principal,
    session_token: &str,
    code: &str,
    state: &str,
) -> Result<Identified, FcError> {
    let (row_id, nonce_hash) = consume(core, CONNEXION, Some(who.account_id), session_token, state).await?;
    let (identity, acr, id_token) = identify(fc, &nonce_hash, code).await?;
    let sealed = core.keys.seal(SEAL_PURPOSE, &id_token)?;
    let mut tx = core.db.begin().await?;
    let (usager_id, nouvel_usager) = store_usager(&mut tx, &core.keys, &identity).await?;
    on_tx!(&mut tx, c => {
        // Only the last identification of a session can be logged out of.
        sqlx::query("UPDATE franceconnect_etats SET id_token_scelle = NULL WHERE session_hash = $1 AND id_token_scelle IS NOT NULL")
            .bind(sha256_hex(session_token))
            .execute(&mut *c)
            .await?;
        sqlx::query("UPDATE franceconnect_etats SET usager_id = $1, id_token_scelle = $2 WHERE id = $3")
            .bind(usager_id)
            .bind(&sealed)
            .bind(row_id)
            .execute(&mut *c)
            .await?;
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::FRANCECONNECT_IDENTIFICATION)
            .subject("usager", usager_id)
            .details(json!({ "acr": acr, "nouvel_usager": nouvel_usager })),
    )
    .await?;
    tx.commit().await?;
    Ok(Identified {
        usager_id,
        identity,
        nouvel_usager,
    })
}

/// Exchanges the code and checks the ID token (signature, `iss`, `aud`, `exp`,
/// `nonce`) and the signed userinfo: the identity, the `acr` and the ID token.
pub(crate) async fn identify(
    fc: &FranceConnect,
    nonce_hash: &str,
    code: &str,
) -> Result<(Identity, String, String), FcError> {
    let md = fc.metadata().await?;
    let tokens = fc.exchange_code(&md, code).await?;
    let c = fc.config();
    let issuer = c.issuer_str();
    let expected = Expected {
        issuer: &issuer,
        client_id: &c.client_id,
        nonce_hash,
    };
    let claims = fc
        .verify(|keys| verify::id_token(&tokens.id_token, keys, &expected))
        .await?;
    let jwt = fc.userinfo_jwt(&md, &tokens.access_token).await?;
    let identity = fc
        .verify(|keys| verify::userinfo(&jwt, keys, &issuer, &c.client_id, &claims.sub))
        .await?;
    Ok((identity, claims.acr.unwrap_or_default(), tokens.id_token))
}

/// Inserts the usager, or updates his identity (one row per `sub`).
pub async fn store_usager(tx: &mut Tx, keys: &Keys, id: &Identity) -> Result<(i64, bool)> {
    let now = tx.horloge.now_micros();
    let (usager_id, created_at): (i64, i64) = on_tx!(tx, c => {
        sqlx::query_as(
            "INSERT INTO usagers (sub_hash, given_name, family_name, preferred_username, birthdate, birthplace, birthcountry, \
             gender, email, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             ON CONFLICT (sub_hash) DO UPDATE SET given_name = excluded.given_name, family_name = excluded.family_name, \
             preferred_username = excluded.preferred_username, birthdate = excluded.birthdate, birthplace = excluded.birthplace, \
             birthcountry = excluded.birthcountry, gender = excluded.gender, email = excluded.email, updated_at = excluded.updated_at \
             RETURNING id, created_at",
        )
        .bind(sub_hash(keys, &id.sub))
        .bind(&id.given_name)
        .bind(&id.family_name)
        .bind(&id.preferred_username)
        .bind(&id.birthdate)
        .bind(&id.birthplace)
        .bind(&id.birthcountry)
        .bind(&id.gender)
        .bind(&id.email)
        .bind(now)
        .fetch_one(&mut *c)
        .await?
    });
    Ok((usager_id, created_at == now))
}

/// Records a refused identification (stable reason key, no personal data).
pub async fn record_refusal(core: &Core, who: &Principal, err: &FcError) -> Result<()> {
    let mut tx = core.db.begin().await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::FRANCECONNECT_REFUSAL).details(json!({ "motif": err.motif() })),
    )
    .await?;
    tx.commit().await
}

/// The address of FranceConnect's logout for the last identification of this
/// session (`id_token_hint`, `state`, `post_logout_redirect_uri`); `None` when
/// there is none to close. The kept ID token is forgotten.
pub async fn logout_url(
    core: &Core,
    fc: Option<&FranceConnect>,
    who: &Principal,
    session_token: &str,
) -> Result<Option<String>, FcError> {
    may_identify(who)?;
    let fc = fc.ok_or(FcError::NotConfigured)?;
    let session_hash = sha256_hex(session_token);
    let last: Option<(i64, String)> = on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT id, id_token_scelle FROM franceconnect_etats WHERE session_hash = $1 AND account_id = $2 AND nature = $3 \
             AND id_token_scelle IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(&session_hash)
        .bind(who.account_id)
        .bind(CONNEXION)
        .fetch_optional(&mut *c)
        .await?
    });
    let Some((row_id, sealed)) = last else {
        return Ok(None);
    };
    let id_token = core.keys.open(SEAL_PURPOSE, &sealed)?;
    let md = fc.metadata().await?;
    let endpoint = md
        .end_session_endpoint
        .ok_or_else(|| FcError::Provider("aucune adresse de déconnexion annoncée".into()))?;
    let state = new_state(core, DECONNEXION, Some(who.account_id), session_token, None).await?;
    on_db!(&core.db, c => {
        sqlx::query("UPDATE franceconnect_etats SET id_token_scelle = NULL WHERE session_hash = $1 AND id <= $2")
            .bind(&session_hash)
            .bind(row_id)
            .execute(&mut *c)
            .await?;
    });
    end_session_url(fc, &endpoint, &id_token, &state).map(Some)
}

/// FranceConnect's logout address for `id_token`, coming back with `state`.
pub(crate) fn end_session_url(
    fc: &FranceConnect,
    endpoint: &str,
    id_token: &str,
    state: &str,
) -> Result<String, FcError> {
    let mut url = url::Url::parse(endpoint).map_err(|_| FcError::Provider("adresse de déconnexion invalide".into()))?;
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("state", state)
        .append_pair(
            "post_logout_redirect_uri",
            fc.config().post_logout_redirect_uri.as_str(),
        );
    Ok(url.into())
}

/// FranceConnect sent the browser back after the logout.
pub async fn logout_return(
    core: &Core,
    who: &Principal,
    session_token: &str,
    state: &str,
) -> Result<LoggedOut, FcError> {
    may_identify(who)?;
    let (row_id, _) = consume(core, DECONNEXION, Some(who.account_id), session_token, state).await?;
    let mut tx = core.db.begin().await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::FRANCECONNECT_LOGOUT).subject("franceconnect_etat", row_id),
    )
    .await?;
    tx.commit().await?;
    Ok(LoggedOut)
}

/// Removes old identification rows (hourly, with the other housekeeping).
pub async fn purge(core: &Core) -> Result<()> {
    let before = core.db.now_micros() - KEEP_SECS * 1_000_000;
    on_db!(&core.db, c => {
        sqlx::query("DELETE FROM franceconnect_etats WHERE created_at < $1")
            .bind(before)
            .execute(&mut *c)
            .await?;
    });
    super::simulateur::purge(core).await
}
