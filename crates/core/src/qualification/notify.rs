//! E-mails of the qualification workflow, queued in the transaction of the
//! step that causes them (see `crate::mail`).

use crate::db::Tx;
use crate::error::Result;
use crate::mail;
use crate::on_tx;

/// Who hears of a step: the place's staff, its legal representative (when
/// known) and, for steps the reviewers act on, the reviewers.
pub struct Notice<'a> {
    /// Unique per step (e.g. `qualification:12:historique:40`): a retried
    /// step never sends twice.
    pub key: String,
    pub place_org: i64,
    pub legal_rep: Option<&'a str>,
    pub subject: String,
    pub body: String,
}

pub async fn to_place(tx: &mut Tx, n: &Notice<'_>) -> Result<()> {
    let mut to = mail::recipients(tx, n.place_org, &["lieu"]).await?;
    if let Some(rep) = n.legal_rep.filter(|r| !r.is_empty()) {
        to.push(rep.to_string());
    }
    to.sort();
    to.dedup();
    for addr in to {
        mail::enqueue(tx, &format!("{}:{addr}", n.key), &addr, &n.subject, &n.body).await?;
    }
    Ok(())
}

/// The opérateur's staff, and the hub's when it reviews by delegation.
pub async fn to_reviewers(tx: &mut Tx, key: &str, hub: Option<i64>, subject: &str, body: &str) -> Result<()> {
    let mut to: Vec<String> = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT email FROM accounts WHERE role = 'operateur' AND active = TRUE ORDER BY id")
            .fetch_all(&mut *c)
            .await?
    });
    if let Some(hub) = hub {
        to.extend(mail::recipients(tx, hub, &["hub"]).await?);
    }
    for addr in to {
        mail::enqueue(tx, &format!("{key}:{addr}"), &addr, subject, body).await?;
    }
    Ok(())
}
