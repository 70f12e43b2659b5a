//! Monthly e-mail digests to funders (commanditaires) and hubs.
//!
//! Early in month M+1, one instance claims the job `recapitulatif-mensuel` for
//! period M (`AAAA-MM`) **in the same transaction** as the e-mails it queues:
//! a crash before the commit leaves neither claim nor e-mail, and the next run
//! does it all; a second instance waits for the first one's commit, then finds
//! the claim taken. Each e-mail is also queued under a key per (account, month),
//! so that any run (the scheduled one or `passerelle recapitulatifs envoyer`)
//! never queues the same digest twice.
//!
//! Accounts opt out from "Mon compte" or from the link in each e-mail (a
//! keyed signature of the account's number, no login needed).

pub mod chiffres;
pub mod mois;
pub mod texte;

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::accounts::model::Role;
use crate::db::Tx;
use crate::error::{CoreError, Result};
use crate::keys::Keys;
use crate::{mail, on_db, on_tx, Core, Db};
pub use mois::Mois;

/// Name of the scheduled job (`taches_planifiees`).
pub const JOB: &str = "recapitulatif-mensuel";
/// The job runs during the first days of the month only: after a longer
/// outage, a digest this late is left to the operator (`recapitulatifs envoyer`).
pub const LAST_DAY_TO_SEND: i8 = 7;

/// Whether accounts of this role get the digest (and see the choice).
pub fn concerne(role: Role) -> bool {
    matches!(role, Role::Commanditaire | Role::Hub)
}

/// Whether the account gets the digest (yes unless it opted out).
pub async fn abonne(db: &Db, account_id: i64) -> Result<bool> {
    let v: Option<bool> = on_db!(db, c => {
        sqlx::query_scalar("SELECT recapitulatif_mensuel FROM preferences_courriels WHERE account_id = $1")
            .bind(account_id).fetch_optional(&mut *c).await?
    });
    Ok(v.unwrap_or(true))
}

/// Subscribes or unsubscribes the account.
pub async fn set_abonne(db: &Db, account_id: i64, oui: bool) -> Result<()> {
    on_db!(db, c => {
        sqlx::query(
            "INSERT INTO preferences_courriels (account_id, recapitulatif_mensuel, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET recapitulatif_mensuel = excluded.recapitulatif_mensuel, \
             updated_at = excluded.updated_at",
        )
        .bind(account_id).bind(oui).bind(db.now_micros()).execute(&mut *c).await?;
    });
    Ok(())
}

const PURPOSE: &str = "recapitulatif-desabonnement";

fn mac(keys: &Keys, account_id: i64) -> [u8; 16] {
    let key = keys.subkey(PURPOSE);
    let mut m =
        <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(&account_id.to_be_bytes());
    let full = m.finalize().into_bytes();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// The token of an account's unsubscribe link: its number and a 128-bit
/// keyed signature of it (hex), nothing else.
pub fn jeton(keys: &Keys, account_id: i64) -> String {
    format!("{account_id}-{}", hex::encode(mac(keys, account_id)))
}

/// The account a token designates, if its signature holds.
pub fn lire_jeton(keys: &Keys, token: &str) -> Option<i64> {
    if token.len() > 64 {
        return None;
    }
    let (id, sig) = token.trim().split_once('-')?;
    let id: i64 = id.parse().ok().filter(|i| *i > 0)?;
    let sig = hex::decode(sig).ok()?;
    (sig.len() == 16 && bool::from(mac(keys, id).ct_eq(&sig))).then_some(id)
}

/// The account behind an unsubscribe link, as its page shows it.
#[derive(Debug, Clone)]
pub struct Abonnement {
    pub account_id: i64,
    pub email: String,
    pub abonne: bool,
}

/// Follows an unsubscribe link: `Some(true)` = subscribe again, `Some(false)`
/// = unsubscribe, `None` = only read the current choice. `None` when the
/// token is not ours or the account is gone.
pub async fn par_jeton(core: &Core, token: &str, choix: Option<bool>) -> Result<Option<Abonnement>> {
    let Some(id) = lire_jeton(&core.keys, token) else {
        return Ok(None);
    };
    let email: Option<String> = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT email FROM accounts WHERE id = $1").bind(id).fetch_optional(&mut *c).await?
    });
    let Some(email) = email else {
        return Ok(None);
    };
    let abonne = match choix {
        Some(oui) => {
            set_abonne(&core.db, id, oui).await?;
            oui
        }
        None => abonne(&core.db, id).await?,
    };
    Ok(Some(Abonnement {
        account_id: id,
        email,
        abonne,
    }))
}

/// What a run queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Envoi {
    /// Accounts that get this month's digest.
    pub destinataires: usize,
    /// E-mails queued by this run.
    pub mis_en_file: usize,
    /// E-mails an earlier run had already queued.
    pub deja_en_file: usize,
}

/// Active accounts of funders and hubs (their own role) that did not opt out.
async fn recipients(tx: &mut Tx) -> Result<Vec<(i64, String, i64, String)>> {
    Ok(on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT a.id, a.email, o.id, o.kind FROM accounts a JOIN organisations o ON o.id = a.organisation_id \
             WHERE a.active = TRUE AND o.kind IN ('commanditaire', 'hub') AND a.role = o.kind \
             AND NOT EXISTS (SELECT 1 FROM preferences_courriels p \
                             WHERE p.account_id = a.id AND p.recapitulatif_mensuel = FALSE) \
             ORDER BY a.id",
        )
        .fetch_all(&mut *c)
        .await?
    }))
}

/// Idempotency key of an account's digest of a month.
pub fn cle(account_id: i64, m: &Mois) -> String {
    format!("recapitulatif:{account_id}:{}", m.cle)
}

/// Queues the digest of `m` for every recipient, in one transaction with the
/// claim of the job. With `only_if_unclaimed` (the scheduled run), does
/// nothing when the job was already claimed for `m`; otherwise (the
/// operator's command) runs anyway, the keys keeping it idempotent.
async fn run(core: &Core, m: &Mois, base_url: &str, only_if_unclaimed: bool) -> Result<Option<Envoi>> {
    let base = base_url.trim_end_matches('/');
    let mut tx = core.db.begin().await?;
    let claimed = crate::jobs::claim_in(&mut tx, JOB, &m.cle).await?;
    if only_if_unclaimed && !claimed {
        tx.rollback().await?;
        return Ok(None);
    }
    let mut out = Envoi::default();
    let mut bodies: HashMap<i64, String> = HashMap::new();
    let compte = format!("{base}/mon-compte");
    for (account, email, org, kind) in recipients(&mut tx).await? {
        let link = format!("{base}/recapitulatifs/desabonnement/{}", jeton(&core.keys, account));
        // One computation per organisation; the personal link is added to its text.
        const MARK: &str = "\u{0}LIEN\u{0}";
        let template = match bodies.get(&org) {
            Some(t) => t.clone(),
            None => {
                let t = if kind == "hub" {
                    let page = format!("{base}/qualification");
                    let l = texte::Liens {
                        page: &page,
                        compte: &compte,
                        desabonnement: MARK,
                    };
                    texte::hub(m, &chiffres::hub(&mut tx, org, m).await?, &l)
                } else {
                    let page = format!("{base}/rapports");
                    let l = texte::Liens {
                        page: &page,
                        compte: &compte,
                        desabonnement: MARK,
                    };
                    texte::commanditaire(m, &chiffres::commanditaire(&mut tx, org, m).await?, &l)
                };
                bodies.insert(org, t.clone());
                t
            }
        };
        let body = template.replace(MARK, &link);
        out.destinataires += 1;
        if mail::enqueue(&mut tx, &cle(account, m), &email, &texte::sujet(m), &body).await? {
            out.mis_en_file += 1;
        } else {
            out.deja_en_file += 1;
        }
    }
    tx.commit().await?;
    Ok(Some(out))
}

/// `passerelle recapitulatifs envoyer --mois M`: queues what is not queued yet.
pub async fn envoyer(core: &Core, m: &Mois, base_url: &str) -> Result<Envoi> {
    run(core, m, base_url, false)
        .await?
        .ok_or_else(|| CoreError::Io("récapitulatifs non envoyés".into()))
}

/// The scheduled run of `today` (Europe/Paris): during the first days of a
/// month, the digests of the previous month, once across all instances.
pub async fn run_scheduled(core: &Core, today: jiff::civil::Date, base_url: &str) -> Result<Option<Envoi>> {
    if today.day() > LAST_DAY_TO_SEND {
        return Ok(None);
    }
    run(core, &Mois::precedent(today)?, base_url, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_cannot_be_forged() {
        let keys = Keys::ephemeral();
        let t = jeton(&keys, 42);
        assert_eq!(lire_jeton(&keys, &t), Some(42));
        assert_eq!(lire_jeton(&Keys::ephemeral(), &t), None, "another deployment's key");
        let other = t.replacen("42-", "43-", 1);
        assert_eq!(lire_jeton(&keys, &other), None, "another account's number");
        for bad in ["", "42", "42-", "-1-00", "pas-un-jeton", &"4".repeat(80)] {
            assert_eq!(lire_jeton(&keys, bad), None, "{bad}");
        }
    }
}
