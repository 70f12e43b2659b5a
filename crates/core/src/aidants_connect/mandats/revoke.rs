//! Revoking one démarche of a mandate, or the whole mandate: by an aidant of
//! the structure (with a TOTP code of less than 15 minutes) or by the usager
//! himself, from his own space. Revoking what is already revoked, or a
//! mandate that has expired, is refused and writes nothing.

use serde_json::json;

use super::actions;
use super::authz::{acting_structure_for_change as acting_structure, same_structure};
use super::queries;
use crate::accounts::session::Session;
use crate::accounts::Principal;
use crate::aidants_connect::demarches;
use crate::aidants_connect::fresh::{require_fresh_totp, FRESH_TOTP_SECS};
use crate::error::{CoreError, Result};
use crate::journal::{self, Actor, NewEntry};
use crate::{on_tx, Core};

/// Who revokes.
#[derive(Debug, Clone, Copy)]
pub enum Revoker<'a> {
    /// An aidant or référent acting for the mandate's structure; his session
    /// must carry a TOTP check of less than 15 minutes.
    Aidant { who: &'a Principal, session: &'a Session },
    /// The usager (by id) in his own space, signed in with FranceConnect: his
    /// own mandates only.
    Usager(i64),
}

/// What was revoked.
#[derive(Debug, Clone)]
pub struct Revocation {
    pub mandat_id: i64,
    /// The démarches revoked now.
    pub demarches: Vec<String>,
    /// The whole mandate was asked to be revoked.
    pub whole: bool,
    pub at: i64,
}

/// Revokes démarche `demarche` of mandate `mandat_id`, or every démarche
/// still active when `demarche` is None. A mandate that is not the caller's
/// (other structure, other usager) is NotFound.
pub async fn revoke(core: &Core, revoker: Revoker<'_>, mandat_id: i64, demarche: Option<&str>) -> Result<Revocation> {
    let m = match revoker {
        Revoker::Aidant { who, session } => {
            let acting = acting_structure(core, who).await?;
            let m = queries::load(&core.db, mandat_id).await?;
            same_structure(acting, m.organisation_id)?;
            require_fresh_totp(session, FRESH_TOTP_SECS, core.db.now_micros())?;
            m
        }
        Revoker::Usager(id) => queries::of_usager_one(&core.db, id, mandat_id).await?,
    };
    let now = core.db.now_micros();
    if m.expires_at <= now {
        return Err(CoreError::invalid("ce mandat a expiré : il n'y a plus rien à révoquer"));
    }
    let targets: Vec<&queries::Autorisation> = match demarche {
        Some(d) => {
            let a = m
                .autorisations
                .iter()
                .find(|a| a.demarche == d)
                .ok_or_else(|| CoreError::NotFound("démarche de ce mandat".into()))?;
            if a.revoked() {
                return Err(CoreError::invalid(format!(
                    "la démarche « {} » de ce mandat est déjà révoquée",
                    demarches::label(d)
                )));
            }
            vec![a]
        }
        None => {
            let left: Vec<_> = m.autorisations.iter().filter(|a| !a.revoked()).collect();
            if left.is_empty() {
                return Err(CoreError::invalid("ce mandat est déjà révoqué"));
            }
            left
        }
    };
    let (actor, par, par_compte) = match revoker {
        Revoker::Aidant { who, .. } => (who.actor(), "aidant", Some(who.account_id)),
        Revoker::Usager(id) => (Actor::Usager { id }, "usager", None),
    };
    let mut tx = core.db.begin().await?;
    for a in &targets {
        let done = on_tx!(&mut tx, c => {
            sqlx::query(
                "UPDATE autorisations SET revoquee_at = $1, revoquee_par = $2, revoquee_par_compte = $3 \
                 WHERE id = $4 AND revoquee_at IS NULL",
            )
            .bind(now)
            .bind(par)
            .bind(par_compte)
            .bind(a.id)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if done != 1 {
            // Revoked meanwhile by someone else: nothing is written.
            return Err(CoreError::invalid("ce mandat vient d'être modifié : rechargez la page"));
        }
    }
    let revoked: Vec<String> = targets.iter().map(|a| a.demarche.clone()).collect();
    let whole = demarche.is_none();
    let action = if whole {
        actions::REVOKED
    } else {
        actions::AUTORISATION_REVOKED
    };
    let mut entry = NewEntry::new(actor, action)
        .subject("mandat", m.id)
        .subject("usager", m.usager.id)
        .subject("organisation", m.organisation_id);
    if let Some(c) = par_compte {
        entry = entry.subject("compte", c);
    }
    journal::append(
        &mut tx,
        &core.keys,
        entry.details(json!({ "demarches": revoked, "par": par })),
    )
    .await?;
    tx.commit().await?;
    Ok(Revocation {
        mandat_id: m.id,
        demarches: revoked,
        whole,
        at: now,
    })
}
