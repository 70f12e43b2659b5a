//! Accounts of structures (référents, aidants) unused for long: warned at
//! 5 months, deactivated at 6, each by e-mail and in the journal. Run once a
//! day across instances (`crate::jobs::claim`).

use serde_json::json;

use super::{actions, aidants};
use crate::error::Result;
use crate::journal::{self, Actor, NewEntry};
use crate::{mail, on_tx, Core};

const DAY: i64 = 86_400 * 1_000_000;
pub const WARN_AFTER_DAYS: i64 = 152;
pub const DEACTIVATE_AFTER_DAYS: i64 = 183;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    pub avertis: usize,
    pub desactives: usize,
}

/// Last sign of activity: the last login, or the last change of the account
/// (creation, activation…) when later.
const LAST_ACTIVITY: &str =
    "CASE WHEN last_login_at IS NOT NULL AND last_login_at > updated_at THEN last_login_at ELSE updated_at END";

/// Warns and deactivates as of `now` (µs).
pub async fn run(core: &Core, now: i64) -> Result<Outcome> {
    let mut out = Outcome::default();
    let mut tx = core.db.begin().await?;
    let sql = format!(
        "SELECT id, email, role, {LAST_ACTIVITY} AS derniere, inactivite_avertie_at FROM accounts \
         WHERE active = TRUE AND role IN ('aidant', 'referent') AND {LAST_ACTIVITY} <= $1 ORDER BY id"
    );
    let due: Vec<(i64, String, String, i64, Option<i64>)> = on_tx!(&mut tx, c => {
        sqlx::query_as(&sql).bind(now - WARN_AFTER_DAYS * DAY).fetch_all(&mut *c).await?
    });
    for (id, email, role, last, warned) in due {
        if last <= now - DEACTIVATE_AFTER_DAYS * DAY {
            aidants::deactivate_in(&mut tx, id, None).await?;
            crate::accounts::store::set_active(&mut tx, id, false).await?;
            journal::append(
                &mut tx,
                &core.keys,
                NewEntry::new(Actor::System, actions::INACTIVITY_DEACTIVATED)
                    .subject("compte", id)
                    .details(json!({ "role": role, "derniere_activite": last })),
            )
            .await?;
            mail::enqueue(
                &mut tx,
                &format!("inactivite:{id}:{last}:desactivation"),
                &email,
                "Votre compte Aidants Connect est désactivé",
                "Bonjour,\n\nVotre compte n'a pas servi depuis six mois : il est désactivé. \
                 Demandez à votre référent (ou à l'opérateur) de le réactiver si vous en avez de nouveau besoin.\n",
            )
            .await?;
            out.desactives += 1;
        } else if warned.is_none() {
            on_tx!(&mut tx, c => {
                sqlx::query("UPDATE accounts SET inactivite_avertie_at = $2 WHERE id = $1")
                    .bind(id).bind(now).execute(&mut *c).await?;
            });
            journal::append(
                &mut tx,
                &core.keys,
                NewEntry::new(Actor::System, actions::INACTIVITY_WARNED)
                    .subject("compte", id)
                    .details(json!({ "role": role, "derniere_activite": last })),
            )
            .await?;
            mail::enqueue(
                &mut tx,
                &format!("inactivite:{id}:{last}:avertissement"),
                &email,
                "Votre compte Aidants Connect sera bientôt désactivé",
                "Bonjour,\n\nVotre compte n'a pas servi depuis cinq mois. Sans connexion d'ici un mois, il sera désactivé.\n",
            )
            .await?;
            out.avertis += 1;
        }
    }
    tx.commit().await?;
    Ok(out)
}

/// Today's run, once across all instances.
pub async fn run_daily(core: &Core, period: &str) -> Result<Option<Outcome>> {
    if !crate::jobs::claim(&core.db, "inactivite-aidants-connect", period).await? {
        return Ok(None);
    }
    run(core, core.db.now_micros()).await.map(Some)
}
