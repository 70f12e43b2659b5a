//! Outgoing e-mail: an outbox in the database, sent over SMTP.
//!
//! A notification is queued in the transaction of the action that causes it
//! (`enqueue`), under a key that makes it idempotent: a second attempt to queue
//! the same notification does nothing. Any instance sends what is due
//! (`send_due`): rows are claimed by a short lease first (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL), then sent outside any transaction, so that two
//! instances never send the same message at once and a crash only delays it.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::db::Tx;
use crate::error::{CoreError, Result};
use crate::keys::Keys;
use crate::{on_db, on_tx, Core, Db, Pool};

/// A claimed message is retried by anyone after this lease (µs).
const LEASE: i64 = 5 * 60 * 1_000_000;
/// Attempts before a message is left aside (its error stays visible).
pub const MAX_ATTEMPTS: i64 = 8;

/// Purpose of the key that seals the bodies of messages carrying a secret.
pub const SEAL_PURPOSE: &str = "courriel";

/// Queues a message; returns false when a message with this key was already queued.
pub async fn enqueue(tx: &mut Tx, key: &str, to: &str, subject: &str, body: &str) -> Result<bool> {
    insert(tx, key, to, subject, body, false).await
}

/// Queues a message whose body carries a secret (a login or follow-up link):
/// the body is stored sealed with the deployment's key, and erased once sent.
pub async fn enqueue_secret(tx: &mut Tx, keys: &Keys, key: &str, to: &str, subject: &str, body: &str) -> Result<bool> {
    let sealed = keys.seal(SEAL_PURPOSE, body)?;
    insert(tx, key, to, subject, &sealed, true).await
}

async fn insert(tx: &mut Tx, key: &str, to: &str, subject: &str, body: &str, sealed: bool) -> Result<bool> {
    let now = tx.horloge.now_micros();
    let inserted = on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO courriels (cle, destinataire, sujet, corps, created_at, prochain_essai_at, scelle) \
             VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (cle) DO NOTHING",
        )
        .bind(key)
        .bind(to)
        .bind(subject)
        .bind(body)
        .bind(now)
        .bind(sealed)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    Ok(inserted == 1)
}

/// The body to send: opened when it was stored sealed.
pub fn body_of(keys: &Keys, stored: &str, sealed: bool) -> Result<String> {
    if sealed {
        keys.open(SEAL_PURPOSE, stored)
    } else {
        Ok(stored.to_string())
    }
}

/// Active accounts of an organisation with one of `roles`: who gets its notifications.
pub async fn recipients(tx: &mut Tx, organisation: i64, roles: &[&str]) -> Result<Vec<String>> {
    let all: Vec<(String, String)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT email, role FROM accounts WHERE organisation_id = $1 AND active = TRUE ORDER BY id")
            .bind(organisation)
            .fetch_all(&mut *c)
            .await?
    });
    Ok(all
        .into_iter()
        .filter(|(_, r)| roles.contains(&r.as_str()))
        .map(|(e, _)| e)
        .collect())
}

/// The SMTP side, from configuration.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        write!(f, "Mailer({})", self.from)
    }
}

impl Mailer {
    /// `url`: `smtp://hôte:port` (clear, for a local relay), `smtp://hôte:587?tls=required`
    /// (STARTTLS) or `smtps://utilisateur:motdepasse@hôte:465`; `from`: the sender's address.
    pub fn new(url: &str, from: &str) -> Result<Mailer> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| CoreError::Config(format!("PASSERELLE_SMTP_URL invalide : {e}")))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from = from
            .parse()
            .map_err(|_| CoreError::Config(format!("adresse d'expédition invalide : « {from} »")))?;
        Ok(Mailer { transport, from })
    }

    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|_| format!("adresse invalide « {to} »"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| format!("message invalide : {e}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// What one pass of the sender did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Sent {
    pub envoyes: usize,
    pub echecs: usize,
}

type Claimed = (i64, String, String, String, i64, bool);

async fn claim(db: &Db, limit: i64) -> Result<Vec<Claimed>> {
    let now = db.now_micros();
    let pick = "SELECT id FROM courriels WHERE envoye_at IS NULL AND prochain_essai_at <= $1 AND tentatives < $3 \
                ORDER BY id LIMIT $2";
    let sql = match &db.pool {
        Pool::Postgres(_) => format!(
            "UPDATE courriels SET prochain_essai_at = $1 + {LEASE}, tentatives = tentatives + 1 \
             WHERE id IN ({pick} FOR UPDATE SKIP LOCKED) RETURNING id, destinataire, sujet, corps, tentatives, scelle"
        ),
        Pool::Sqlite(_) => format!(
            "UPDATE courriels SET prochain_essai_at = $1 + {LEASE}, tentatives = tentatives + 1 \
             WHERE id IN ({pick}) RETURNING id, destinataire, sujet, corps, tentatives, scelle"
        ),
    };
    Ok(on_db!(db, c => {
        sqlx::query_as(&sql).bind(now).bind(limit).bind(MAX_ATTEMPTS).fetch_all(&mut *c).await?
    }))
}

/// Sends up to `limit` due messages.
pub async fn send_due(core: &Core, mailer: &Mailer, limit: i64) -> Result<Sent> {
    let mut sent = Sent::default();
    for (id, to, subject, stored, attempts, sealed) in claim(&core.db, limit).await? {
        let sending = match body_of(&core.keys, &stored, sealed) {
            Ok(body) => mailer.send(&to, &subject, &body).await,
            Err(e) => Err(e.to_string()),
        };
        match sending {
            Ok(()) => {
                // A sealed body (a secret link) is not kept once delivered.
                on_db!(&core.db, c => {
                    sqlx::query("UPDATE courriels SET envoye_at = $2, erreur = NULL, corps = CASE WHEN scelle THEN '' ELSE corps END WHERE id = $1")
                        .bind(id).bind(core.db.now_micros()).execute(&mut *c).await?;
                });
                sent.envoyes += 1;
            }
            Err(e) => {
                // Back-off: 1, 2, 4… minutes, at most 6 hours.
                let wait = (60_000_000i64 << attempts.clamp(0, 20)).min(6 * 3_600 * 1_000_000);
                tracing::warn!(courriel = id, tentative = attempts, erreur = %e, "envoi de courriel impossible");
                on_db!(&core.db, c => {
                    sqlx::query("UPDATE courriels SET erreur = $2, prochain_essai_at = $3 WHERE id = $1")
                        .bind(id).bind(&e).bind(core.db.now_micros() + wait).execute(&mut *c).await?;
                });
                sent.echecs += 1;
            }
        }
    }
    Ok(sent)
}

/// Messages not sent yet (and not abandoned).
pub async fn pending(db: &Db) -> Result<i64> {
    Ok(on_db!(db, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM courriels WHERE envoye_at IS NULL AND tentatives < $1")
            .bind(MAX_ATTEMPTS)
            .fetch_one(&mut *c)
            .await?
    }))
}
