//! The login link by e-mail, the first factor of référents and aidants (they
//! have no password to remember): single use, valid 15 minutes, stored as a
//! SHA-256. Asking for a link always gets the same answer, so accounts cannot
//! be enumerated; using it leads to the TOTP code as a password would.

use serde_json::json;

use super::actions;
use super::structures::{new_token, token_hash};
use crate::accounts::session::{self, Stage};
use crate::accounts::{store, LoginOutcome, Refusal, Role};
use crate::error::Result;
use crate::journal::{self, Actor, NewEntry};
use crate::{mail, on_db, on_tx, Core};

pub const LINK_SECS: i64 = 15 * 60;

/// Sends a link if `email` is an active account of a référent or an aidant;
/// does nothing visible otherwise.
pub async fn request(core: &Core, email: &str, base_url: &str) -> Result<()> {
    let email = email.trim().to_lowercase();
    if email.is_empty() || email.len() > 254 {
        return Ok(());
    }
    let Some(creds) = store::credentials_by_email(&core.db, &email).await? else {
        return Ok(());
    };
    let structure_role = matches!(Role::parse(&creds.role), Ok(Role::Referent | Role::Aidant));
    if !creds.active || !structure_role {
        return Ok(());
    }
    let (token, hash) = new_token();
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO liens_connexion (jeton_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(&hash).bind(creds.id).bind(now).bind(now + LINK_SECS * 1_000_000)
            .execute(&mut *c).await?;
    });
    let key: String = hash.iter().take(12).map(|b| format!("{b:02x}")).collect();
    mail::enqueue_secret(
        &mut tx,
        &core.keys,
        &format!("lien-connexion:{key}"),
        &email,
        "Votre lien de connexion à Passerelle",
        &format!(
            "Bonjour,\n\nPour vous connecter, ouvrez ce lien dans les 15 minutes (il ne sert qu'une fois) :\n\
             {}/connexion/lien/ouvrir?jeton={token}\n\nSi vous n'avez rien demandé, ignorez ce message.\n",
            base_url.trim_end_matches('/')
        ),
    )
    .await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(Actor::Anonymous, actions::LOGIN_LINK_SENT).subject("compte", creds.id),
    )
    .await?;
    tx.commit().await
}

/// Uses a link: on success a pending session waits for the TOTP code (or for
/// the enrolment of a first device, for a référent).
pub async fn consume(core: &Core, token: &str) -> Result<LoginOutcome> {
    if token.is_empty() || token.len() > 128 {
        return Ok(LoginOutcome::Refused(Refusal::Invalid));
    }
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    let account: Option<i64> = on_tx!(&mut tx, c => {
        sqlx::query_scalar(
            "UPDATE liens_connexion SET used_at = $2 WHERE jeton_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING account_id",
        )
        .bind(token_hash(token)).bind(now).fetch_optional(&mut *c).await?
    });
    let creds = match account {
        Some(id) => store::credentials_by_id(&mut tx, id).await?.filter(|c| c.active),
        None => None,
    };
    let Some(creds) = creds else {
        journal::append(
            &mut tx,
            &core.keys,
            NewEntry::new(Actor::Anonymous, crate::journal::actions::LOGIN_FAILED).details(json!({ "etape": "lien" })),
        )
        .await?;
        tx.commit().await?;
        return Ok(LoginOutcome::Refused(Refusal::Invalid));
    };
    let outcome = if creds.totp_secret.is_some() {
        LoginOutcome::NeedTotp {
            token: session::create(&mut tx, creds.id, Stage::Totp).await?,
        }
    } else {
        LoginOutcome::NeedEnrolment {
            token: session::create(&mut tx, creds.id, Stage::Enrol).await?,
            account_id: creds.id,
        }
    };
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(
            Actor::Account {
                id: creds.id,
                role: creds.role.clone(),
            },
            actions::LOGIN_LINK_USED,
        )
        .subject("compte", creds.id),
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Removes used and expired links (housekeeping).
pub async fn purge(core: &Core) -> Result<u64> {
    Ok(on_db!(&core.db, c => {
        sqlx::query("DELETE FROM liens_connexion WHERE expires_at <= $1")
            .bind(core.db.now_micros()).execute(&mut *c).await?.rows_affected()
    }))
}
