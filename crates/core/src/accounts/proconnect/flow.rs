//! The ProConnect login: `state` and `nonce` (43 random characters each,
//! kept hashed, single use, 10 minutes) bound to the browser by the hash of a
//! cookie; the callback checks the ID token against the JWKS (issuer,
//! audience, expiry, nonce), reads `acr`, `amr` and `auth_time`, reads
//! userinfo (signed or not, as ProConnect registered the service), then:
//! - an account already linked to this ProConnect identity signs in;
//! - otherwise an active account with the same (verified) e-mail address is
//!   proposed: the person confirms with its password, or with a link sent to
//!   that address, and only then is the link made;
//! - no account: refused (accounts are created by invitation).
//!
//! The second factor: when ProConnect's `amr` proves several factors (`mfa`,
//! or two kinds) within the last 15 minutes, the session counts as having
//! checked a second factor then (`totp_verified_at` = ProConnect's
//! `auth_time`), so the acts that need a fresh one go through for 15
//! minutes. Otherwise the account's own TOTP code is asked, as after a
//! password: ProConnect replaces the password, not the second factor.

use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::ProConnect;
use crate::accounts::login::{email_key, LoginOutcome, Refusal};
use crate::accounts::session::{self, Stage};
use crate::accounts::store::{self, Credentials};
use crate::accounts::throttle::{self, Attempt};
use crate::aidants_connect::franceconnect::verify::{decode_signed, VerifyError};
use crate::aidants_connect::franceconnect::{random_token, sha256_hex, FcError};
use crate::aidants_connect::fresh::FRESH_TOTP_SECS;
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, Actor, NewEntry};
use crate::{on_db, on_tx, Core};

/// Journal action: an account linked to a ProConnect identity.
pub const LINKED: &str = "compte.proconnect_lie";
/// How long a login waits for ProConnect, µs.
const PENDING: i64 = 10 * 60 * 1_000_000;
/// How long a proposed link waits for its confirmation, µs.
const LINK_TTL: i64 = 15 * 60 * 1_000_000;
/// What is asked of ProConnect: the identity of an agent.
pub const SCOPES: &str = "openid email given_name usual_name siret uid idp_id";

/// Why a ProConnect login did not go through (French, for the person).
#[derive(Debug, thiserror::Error)]
pub enum PcError {
    #[error("ProConnect ne répond pas correctement ({0}). Réessayez dans quelques instants, ou connectez-vous avec votre mot de passe.")]
    Provider(String),
    #[error("la connexion ProConnect a été interrompue ({0})")]
    Denied(String),
    #[error("cette connexion ProConnect est inconnue ou a été commencée dans un autre navigateur : recommencez")]
    UnknownState,
    #[error("cette connexion ProConnect a déjà été utilisée : recommencez")]
    ReplayedState,
    #[error("cette connexion ProConnect a expiré : recommencez")]
    ExpiredState,
    #[error("la réponse de ProConnect n'a pas pu être vérifiée ({0})")]
    Verification(String),
    #[error("ProConnect ne donne pas d'adresse électronique vérifiée pour cette identité : connectez-vous avec votre mot de passe")]
    EmailUnverified,
    #[error("aucun compte Passerelle actif n'utilise l'adresse {0}. Les comptes sont créés sur invitation : demandez-en une à votre référent ou à l'opérateur.{1}")]
    NoAccount(String, String),
    #[error("ProConnect vous rattache à l'organisation de SIRET {0}, qui n'est pas celle de votre compte Passerelle : le compte n'est pas lié. Adressez-vous à l'opérateur.")]
    OtherOrganisation(String),
    #[error("cette demande de liaison est inconnue, a expiré ou a déjà servi : reconnectez-vous avec ProConnect")]
    LinkUnknown,
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl PcError {
    /// Stable key for the journal.
    pub fn motif(&self) -> &'static str {
        match self {
            PcError::Provider(_) => "fournisseur",
            PcError::Denied(_) => "interrompue",
            PcError::UnknownState => "state_inconnu",
            PcError::ReplayedState => "state_rejoue",
            PcError::ExpiredState => "state_expire",
            PcError::Verification(_) => "verification",
            PcError::EmailUnverified => "courriel_non_verifie",
            PcError::NoAccount(..) => "aucun_compte",
            PcError::OtherOrganisation(_) => "autre_organisation",
            PcError::LinkUnknown => "liaison_inconnue",
            PcError::Core(_) => "interne",
        }
    }
}

impl From<FcError> for PcError {
    fn from(e: FcError) -> Self {
        match e {
            FcError::Verification(v) => PcError::Verification(v.to_string()),
            FcError::Core(c) => PcError::Core(c),
            FcError::Provider(p) => PcError::Provider(p),
            other => PcError::Provider(other.motif().to_string()),
        }
    }
}

impl From<sqlx::Error> for PcError {
    fn from(e: sqlx::Error) -> Self {
        PcError::Core(e.into())
    }
}

/// What the callback leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A session (signed in, or waiting for the TOTP code or an enrolment).
    Login(LoginOutcome),
    /// An account has this address: the person must confirm the link.
    ConfirmLink { jeton: String, courriel: String },
}

/// The ProConnect authorisation URL for the browser whose cookie value is
/// `browser`; `login_hint`: the e-mail typed on the sign-in page, if any.
pub async fn start(core: &Core, pc: &ProConnect, browser: &str, login_hint: Option<&str>) -> Result<String, PcError> {
    let md = pc.rp.metadata().await?;
    let (state, nonce) = (random_token(), random_token());
    let now = core.db.now_micros();
    on_db!(&core.db, c => {
        sqlx::query(
            "INSERT INTO proconnect_etats (state_hash, nonce_hash, navigateur_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(sha256_hex(&state)).bind(sha256_hex(&nonce)).bind(sha256_hex(browser)).bind(now).bind(now + PENDING)
        .execute(&mut *c).await?;
    });
    let mut url = url::Url::parse(&md.authorization_endpoint)
        .map_err(|_| PcError::Provider("adresse d'autorisation invalide".into()))?;
    {
        let c = pc.config();
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &c.client_id)
            .append_pair("redirect_uri", c.redirect_uri.as_str())
            .append_pair("scope", SCOPES)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            // amr is given only when asked (ProConnect's documentation).
            .append_pair("claims", r#"{"id_token":{"amr":{"essential":true},"acr":null}}"#);
        if let Some(h) = login_hint.map(str::trim).filter(|h| !h.is_empty() && h.len() <= 254) {
            q.append_pair("login_hint", h);
        }
    }
    Ok(url.into())
}

/// The ID token's claims a login reads.
#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    auth_time: Option<i64>,
    #[serde(default)]
    acr: Option<String>,
    #[serde(default)]
    amr: Vec<String>,
    #[serde(default)]
    aud: Value,
    #[serde(default)]
    azp: Option<String>,
}

/// What userinfo says of the agent.
#[derive(Debug, Deserialize)]
struct Agent {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default)]
    siret: Option<String>,
}

/// Whether `amr` (RFC 8176, ProConnect's values) or `acr` proves several factors.
pub fn multi_factor(amr: &[String], acr: Option<&str>) -> bool {
    let kinds = |set: &[&str]| amr.iter().any(|a| set.contains(&a.as_str()));
    let knowledge = kinds(&["pwd", "pin", "kba"]);
    let possession = kinds(&["otp", "totp", "sms", "tel", "hwk", "swk", "pop", "mail"]);
    let inherence = kinds(&["fpt", "face", "eye", "vbm", "bio"]);
    let declared = amr.iter().any(|a| a == "mfa");
    let two = [knowledge, possession, inherence].iter().filter(|k| **k).count() >= 2;
    let by_acr = acr.is_some_and(|a| matches!(a, "eidas2" | "eidas3") || a.ends_with("-mfa") || a.ends_with("-2fa"));
    declared || two || by_acr
}

/// The pending login of `state`, used once, for this browser.
async fn take_state(core: &Core, state: &str, browser: &str) -> Result<Result<String, PcError>> {
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    let row: Option<(String, String, i64, Option<i64>)> = on_tx!(&mut tx, c => {
        sqlx::query_as(
            "SELECT nonce_hash, navigateur_hash, expires_at, used_at FROM proconnect_etats WHERE state_hash = $1",
        )
        .bind(sha256_hex(state)).fetch_optional(&mut *c).await?
    });
    let Some((nonce_hash, browser_hash, expires_at, used_at)) = row else {
        return Ok(Err(PcError::UnknownState));
    };
    if !bool::from(browser_hash.as_bytes().ct_eq(sha256_hex(browser).as_bytes())) {
        return Ok(Err(PcError::UnknownState));
    }
    if used_at.is_some() {
        return Ok(Err(PcError::ReplayedState));
    }
    if expires_at < now {
        return Ok(Err(PcError::ExpiredState));
    }
    let marked = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE proconnect_etats SET used_at = $2 WHERE state_hash = $1 AND used_at IS NULL")
            .bind(sha256_hex(state)).bind(now).execute(&mut *c).await?.rows_affected()
    });
    tx.commit().await?;
    Ok(if marked == 1 {
        Ok(nonce_hash)
    } else {
        Err(PcError::ReplayedState)
    })
}

/// Checks the ID token: signature (JWKS), issuer, audience, expiry, `iat`,
/// `azp` when several audiences, nonce.
fn check_id_token(
    token: &str,
    jwks: &jsonwebtoken::jwk::JwkSet,
    issuer: &str,
    client_id: &str,
    nonce_hash: &str,
) -> Result<IdClaims, VerifyError> {
    let claims: IdClaims = decode_signed(token, jwks, issuer, client_id, true)?;
    if claims.iat.is_none() {
        return Err(VerifyError::Claim("iat"));
    }
    if claims.aud.as_array().is_some_and(|a| a.len() > 1) && claims.azp.as_deref() != Some(client_id) {
        return Err(VerifyError::Audience);
    }
    let nonce = claims.nonce.as_deref().ok_or(VerifyError::Nonce)?;
    if !bool::from(sha256_hex(nonce).as_bytes().ct_eq(nonce_hash.as_bytes())) {
        return Err(VerifyError::Nonce);
    }
    if claims.sub.is_empty() {
        return Err(VerifyError::Claim("sub"));
    }
    Ok(claims)
}

/// The keyed fingerprint of a ProConnect identity (issuer and `sub`).
fn identity_hash(core: &Core, issuer: &str, sub: &str) -> String {
    core.keys.pseudonym("proconnect", &format!("{issuer}\n{sub}"))
}

/// The callback (`code`, `state`) for the browser whose cookie value is `browser`.
pub async fn callback(
    core: &Core,
    pc: &ProConnect,
    browser: &str,
    code: &str,
    state: &str,
) -> Result<Outcome, PcError> {
    let nonce_hash = take_state(core, state, browser).await??;
    let md = pc.rp.metadata().await?;
    let tokens = pc.rp.exchange_code(&md, code).await?;
    let c = pc.config();
    let issuer = c.issuer_str();
    let claims = pc
        .rp
        .verify(|jwks| check_id_token(&tokens.id_token, jwks, &issuer, &c.client_id, &nonce_hash))
        .await?;
    let (signed, body) = pc.rp.userinfo(&md, &tokens.access_token).await?;
    let agent: Agent = if signed {
        pc.rp
            .verify(|jwks| decode_signed::<Agent>(&body, jwks, &issuer, &c.client_id, false))
            .await?
    } else {
        serde_json::from_str(&body).map_err(|_| PcError::Verification("userinfo illisible".into()))?
    };
    if !bool::from(agent.sub.as_bytes().ct_eq(claims.sub.as_bytes())) {
        return Err(PcError::Verification(VerifyError::Subject.to_string()));
    }
    let email = agent
        .email
        .as_deref()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| e.contains('@') && e.len() <= 254);
    let (Some(email), false) = (email, agent.email_verified == Some(false)) else {
        return Err(PcError::EmailUnverified);
    };
    let siret = agent
        .siret
        .filter(|s| s.len() == 14 && s.chars().all(|c| c.is_ascii_digit()));
    let now = core.db.now_micros();
    let auth_time = claims.auth_time.or(claims.iat).unwrap_or_default() * 1_000_000;
    let mfa_at = (multi_factor(&claims.amr, claims.acr.as_deref()) && now - auth_time < FRESH_TOTP_SECS * 1_000_000)
        .then_some(auth_time);
    let sub_hash = identity_hash(core, &issuer, &claims.sub);
    // Already linked: signs in.
    let linked: Option<i64> = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT account_id FROM proconnect_comptes WHERE sub_hash = $1").bind(&sub_hash).fetch_optional(&mut *c).await?
    });
    let mut tx = core.db.begin().await?;
    if let Some(account) = linked {
        let creds = store::credentials_by_id(&mut tx, account).await?.filter(|c| c.active);
        if let Some(creds) = creds {
            check_organisation(&mut tx, creds.id, siret.as_deref()).await?;
            on_tx!(&mut tx, c => {
                sqlx::query("UPDATE proconnect_comptes SET derniere_connexion_at = $2 WHERE sub_hash = $1")
                    .bind(&sub_hash).bind(now).execute(&mut *c).await?;
            });
            let outcome = sign_in(core, &mut tx, &creds, mfa_at).await?;
            tx.commit().await?;
            return Ok(Outcome::Login(outcome));
        }
    }
    // Proposed by its address, to be confirmed.
    let creds = store::credentials_by_email(&core.db, &email)
        .await?
        .filter(|c| c.active);
    let Some(creds) = creds else {
        let known = match &siret {
            Some(s) => on_tx!(&mut tx, c => {
                sqlx::query_scalar::<_, String>("SELECT name FROM organisations WHERE siret = $1 ORDER BY id LIMIT 1").bind(s).fetch_optional(&mut *c).await?
            }),
            None => None,
        };
        let hint = known
            .map(|nom| format!(" Votre organisation, « {nom} », est connue de Passerelle."))
            .unwrap_or_default();
        return Err(PcError::NoAccount(email, hint));
    };
    check_organisation(&mut tx, creds.id, siret.as_deref()).await?;
    let jeton = random_token();
    on_tx!(&mut tx, c => {
        sqlx::query(
            "INSERT INTO proconnect_liaisons (jeton_hash, account_id, sub_hash, siret, mfa_at, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(sha256_hex(&jeton)).bind(creds.id).bind(&sub_hash).bind(&siret).bind(mfa_at).bind(now).bind(now + LINK_TTL)
        .execute(&mut *c).await?;
    });
    tx.commit().await?;
    Ok(Outcome::ConfirmLink { jeton, courriel: email })
}

/// Refuses when ProConnect names an organisation (SIRET) other than the account's.
async fn check_organisation(tx: &mut crate::db::Tx, account: i64, siret: Option<&str>) -> Result<(), PcError> {
    let Some(given) = siret else {
        return Ok(());
    };
    let own: Option<Option<String>> = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT o.siret FROM accounts a JOIN organisations o ON o.id = a.organisation_id WHERE a.id = $1")
            .bind(account).fetch_optional(&mut *c).await?
    });
    match own.flatten() {
        Some(own) if own != given => Err(PcError::OtherOrganisation(given.to_string())),
        _ => Ok(()),
    }
}

/// A session for `creds` after ProConnect: signed in when ProConnect proved
/// several factors (`mfa_at`) or the role needs no second factor; otherwise
/// the TOTP code (or the enrolment of one) is asked, as after a password.
async fn sign_in(
    core: &Core,
    tx: &mut crate::db::Tx,
    creds: &Credentials,
    mfa_at: Option<i64>,
) -> Result<LoginOutcome> {
    let actor = Actor::Account {
        id: creds.id,
        role: creds.role.clone(),
    };
    let requires_totp = crate::accounts::Role::parse(&creds.role).is_ok_and(crate::accounts::Role::requires_totp);
    let outcome = match (mfa_at, &creds.totp_secret) {
        (None, Some(_)) => LoginOutcome::NeedTotp {
            token: session::create(tx, creds.id, Stage::Totp).await?,
        },
        (None, None) if requires_totp => LoginOutcome::NeedEnrolment {
            token: session::create(tx, creds.id, Stage::Enrol).await?,
            account_id: creds.id,
        },
        _ => {
            let token = session::create(tx, creds.id, Stage::Active).await?;
            if let Some(at) = mfa_at {
                session::mark_totp_verified(tx, &token, at).await?;
            }
            store::note_login(tx, creds.id).await?;
            journal::append(
                tx,
                &core.keys,
                NewEntry::new(actor, actions::LOGIN)
                    .subject("compte", creds.id)
                    .details(json!({ "via": "proconnect", "second_facteur": mfa_at.is_some(), "mfa_proconnect": mfa_at.is_some() })),
            )
            .await?;
            LoginOutcome::SignedIn {
                token,
                account_id: creds.id,
            }
        }
    };
    Ok(outcome)
}

type Liaison = (i64, String, Option<String>, Option<i64>);

/// Makes the link of a confirmed proposal and signs in.
async fn link(
    core: &Core,
    tx: &mut crate::db::Tx,
    (account, sub_hash, siret, mfa_at): Liaison,
    how: &str,
) -> Result<Outcome, PcError> {
    let Some(creds) = store::credentials_by_id(tx, account).await?.filter(|c| c.active) else {
        return Err(PcError::LinkUnknown);
    };
    let now = tx.horloge.now_micros();
    on_tx!(tx, c => {
        // One ProConnect identity per account: a new one replaces the old.
        sqlx::query("DELETE FROM proconnect_comptes WHERE account_id = $1 OR sub_hash = $2")
            .bind(account).bind(&sub_hash).execute(&mut *c).await?;
        sqlx::query("INSERT INTO proconnect_comptes (sub_hash, account_id, siret, created_at, derniere_connexion_at) VALUES ($1, $2, $3, $4, $4)")
            .bind(&sub_hash).bind(account).bind(&siret).bind(now).execute(&mut *c).await?;
    });
    journal::append(
        tx,
        &core.keys,
        NewEntry::new(
            Actor::Account {
                id: creds.id,
                role: creds.role.clone(),
            },
            LINKED,
        )
        .subject("compte", creds.id)
        .details(json!({ "confirmation": how, "siret": siret })),
    )
    .await?;
    // A link confirmed from the mailbox is no fresh proof of several factors.
    let mfa_at = mfa_at.filter(|at| now - at < FRESH_TOTP_SECS * 1_000_000);
    Ok(Outcome::Login(sign_in(core, tx, &creds, mfa_at).await?))
}

async fn pending(tx: &mut crate::db::Tx, column: &str, token: &str) -> Result<Option<Liaison>> {
    let now = tx.horloge.now_micros();
    let sql = format!(
        "UPDATE proconnect_liaisons SET used_at = $2 WHERE {column} = $1 AND used_at IS NULL AND expires_at > $2 \
         RETURNING account_id, sub_hash, siret, mfa_at"
    );
    Ok(on_tx!(tx, c => {
        sqlx::query_as(&sql).bind(sha256_hex(token)).bind(now).fetch_optional(&mut *c).await?
    }))
}

/// The address a proposal is for (masked for the page), if it is still pending.
pub async fn proposal(core: &Core, jeton: &str) -> Result<Option<String>> {
    if jeton.is_empty() || jeton.len() > 128 {
        return Ok(None);
    }
    let email: Option<String> = on_db!(&core.db, c => {
        sqlx::query_scalar(
            "SELECT a.email FROM proconnect_liaisons l JOIN accounts a ON a.id = l.account_id \
             WHERE l.jeton_hash = $1 AND l.used_at IS NULL AND l.expires_at > $2",
        )
        .bind(sha256_hex(jeton)).bind(core.db.now_micros()).fetch_optional(&mut *c).await?
    });
    Ok(email)
}

/// The person confirms the link with the account's password (counted on the
/// login's lockout, like any password check).
pub async fn confirm_with_password(core: &Core, jeton: &str, password: &str) -> Result<Outcome, PcError> {
    let Some(email) = proposal(core, jeton).await? else {
        return Err(PcError::LinkUnknown);
    };
    let key = email_key(core, &email);
    let permit = core.argon2.permit().await?;
    let locks_for = match throttle::attempt(&core.db, &key).await? {
        Attempt::Locked(secs) => return Ok(Outcome::Login(LoginOutcome::Refused(Refusal::Locked(secs)))),
        Attempt::Allowed { locks_for } => locks_for,
    };
    let creds = store::credentials_by_email(&core.db, &email).await?;
    let matches = permit
        .verify(password.to_string(), creds.as_ref().map(|c| c.password_hash.clone()))
        .await?;
    let mut tx = core.db.begin().await?;
    if !matches {
        let mut entry = NewEntry::new(Actor::Anonymous, actions::LOGIN_FAILED)
            .details(json!({ "courriel": core.keys.pseudonym("courriel", &email), "etape": "liaison_proconnect" }));
        if let Some(c) = &creds {
            entry = entry.subject("compte", c.id);
        }
        journal::append(&mut tx, &core.keys, entry).await?;
        tx.commit().await?;
        return Ok(Outcome::Login(LoginOutcome::Refused(match locks_for {
            Some(secs) => Refusal::Locked(secs),
            None => Refusal::Invalid,
        })));
    }
    throttle::reset(&mut tx, &key).await?;
    let Some(l) = pending(&mut tx, "jeton_hash", jeton).await? else {
        return Err(PcError::LinkUnknown);
    };
    let out = link(core, &mut tx, l, "mot_de_passe").await?;
    tx.commit().await?;
    Ok(out)
}

/// The person asks for a link by e-mail instead: sent to the account's
/// address, valid until the proposal expires.
pub async fn send_link(core: &Core, base_url: &str, jeton: &str) -> Result<bool> {
    let Some(email) = proposal(core, jeton).await? else {
        return Ok(false);
    };
    let by_mail = random_token();
    let mut tx = core.db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE proconnect_liaisons SET courriel_jeton_hash = $2 WHERE jeton_hash = $1")
            .bind(sha256_hex(jeton)).bind(sha256_hex(&by_mail)).execute(&mut *c).await?;
    });
    let body = format!(
        "Bonjour,\n\nQuelqu'un s'est connecté à Passerelle avec ProConnect en utilisant votre adresse. \
         Pour lier votre compte Passerelle à cette identité ProConnect, ouvrez ce lien (valable 15 minutes, une seule fois) :\n\n\
         {}/proconnect/lier/{by_mail}\n\nSi ce n'est pas vous, ne faites rien : votre compte ne sera pas lié.\n",
        base_url.trim_end_matches('/')
    );
    crate::mail::enqueue_secret(
        &mut tx,
        &core.keys,
        &format!("proconnect-liaison:{}", sha256_hex(&by_mail)),
        &email,
        "Passerelle : lier votre compte à ProConnect",
        &body,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The link from the e-mail: makes the link and signs in.
pub async fn confirm_by_mail(core: &Core, token: &str) -> Result<Outcome, PcError> {
    if token.is_empty() || token.len() > 128 {
        return Err(PcError::LinkUnknown);
    }
    let mut tx = core.db.begin().await?;
    let Some(l) = pending(&mut tx, "courriel_jeton_hash", token).await? else {
        return Err(PcError::LinkUnknown);
    };
    let out = link(core, &mut tx, l, "courriel").await?;
    tx.commit().await?;
    Ok(out)
}

/// Journals a refused ProConnect login (the reason's key only).
pub async fn record_refusal(core: &Core, err: &PcError) -> Result<()> {
    let mut tx = core.db.begin().await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(Actor::Anonymous, actions::LOGIN_FAILED)
            .details(json!({ "etape": "proconnect", "motif": err.motif() })),
    )
    .await?;
    tx.commit().await
}

/// Removes old pending logins and proposals.
pub async fn purge(core: &Core) -> Result<()> {
    let now = core.db.now_micros();
    on_db!(&core.db, c => {
        sqlx::query("DELETE FROM proconnect_etats WHERE expires_at < $1").bind(now).execute(&mut *c).await?;
        sqlx::query("DELETE FROM proconnect_liaisons WHERE expires_at < $1").bind(now).execute(&mut *c).await?;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn several_factors_are_read_from_amr_or_acr() {
        assert!(multi_factor(&v(&["mfa"]), None));
        assert!(multi_factor(&v(&["pwd", "otp"]), None));
        assert!(multi_factor(&v(&["pwd", "totp"]), Some("eidas1")));
        assert!(multi_factor(&v(&["hwk", "pin"]), None));
        assert!(multi_factor(&v(&["pwd"]), Some("eidas1-mfa")));
        assert!(multi_factor(
            &v(&[]),
            Some("https://proconnect.gouv.fr/assurance/self-asserted-2fa")
        ));
        assert!(multi_factor(&v(&[]), Some("eidas2")));
        assert!(!multi_factor(&v(&["pwd"]), Some("eidas1")));
        assert!(!multi_factor(&v(&["otp", "sms"]), None), "two possessions are one kind");
        assert!(!multi_factor(&v(&["mail"]), None));
        assert!(!multi_factor(&v(&[]), None));
    }
}
