//! Bank details of qualified places. A row is never changed in place: a new
//! IBAN is a new row `a_valider`; only the opérateur validates it, and the
//! validated row it replaces becomes `remplacees`. Every change is told to the
//! legal representative, so that a hijacked account cannot divert payments
//! unnoticed.

use serde_json::json;

use super::authz::{authorize, Action};
use super::decisions::{legal_rep, qualification_of};
use super::notify::{self, Notice};
use crate::accounts::Principal;
use crate::db::{Db, Tx};
use crate::error::{CoreError, Result};
use crate::identifiants::{Bic, Iban};
use crate::journal::{self, actions, NewEntry};
use crate::reglements::bank;
use crate::{on_db, on_tx, Core};

/// States of a place's bank details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BankDetailsState {
    /// Submitted by the place, waiting for the opérateur.
    AValider,
    /// The account payments go to (one per place).
    Validees,
    Refusees,
    /// A validated (or waiting) row that newer details replaced.
    Remplacees,
}

crate::texte_en_base!(
    BankDetailsState,
    BankDetailsState::from_key,
    BankDetailsState::key,
    "état de coordonnées bancaires"
);

impl BankDetailsState {
    pub const ALL: [BankDetailsState; 4] = [
        BankDetailsState::AValider,
        BankDetailsState::Validees,
        BankDetailsState::Refusees,
        BankDetailsState::Remplacees,
    ];

    /// The value stored in the database.
    pub fn key(self) -> &'static str {
        match self {
            BankDetailsState::AValider => "a_valider",
            BankDetailsState::Validees => "validees",
            BankDetailsState::Refusees => "refusees",
            BankDetailsState::Remplacees => "remplacees",
        }
    }

    pub fn from_key(key: &str) -> Option<BankDetailsState> {
        BankDetailsState::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// Records bank details for a place: validated at once, or to be validated.
/// Identical to the validated ones: nothing changes.
pub(crate) async fn record(
    tx: &mut Tx,
    place: i64,
    (iban, bic, holder): (&Iban, &Bic, &str),
    validated: bool,
) -> Result<Option<i64>> {
    let now = tx.horloge.now_micros();
    let same: i64 = on_tx!(tx, c => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM coordonnees_bancaires WHERE lieu_id = $1 AND etat = $5 AND iban = $2 AND bic = $3 AND titulaire = $4",
        )
        .bind(place).bind(iban).bind(bic).bind(holder).bind(BankDetailsState::Validees).fetch_one(&mut *c).await?
    });
    if same > 0 {
        return Ok(None);
    }
    // Validated details replace the validated and the waiting ones; details
    // to be validated replace only the waiting ones.
    let replaced = if validated {
        BankDetailsState::Validees
    } else {
        BankDetailsState::AValider
    };
    let id: i64 = on_tx!(tx, c => {
        sqlx::query("UPDATE coordonnees_bancaires SET etat = $3, fin_at = $2 WHERE lieu_id = $1 AND etat IN ($4, $5)")
            .bind(place).bind(now).bind(BankDetailsState::Remplacees).bind(replaced).bind(BankDetailsState::AValider)
            .execute(&mut *c).await?;
        sqlx::query_scalar(
            "INSERT INTO coordonnees_bancaires (lieu_id, iban, bic, titulaire, etat, created_at, valide_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(place).bind(iban).bind(bic).bind(holder)
        .bind(if validated { BankDetailsState::Validees } else { BankDetailsState::AValider })
        .bind(now)
        .bind(validated.then_some(now))
        .fetch_one(&mut *c)
        .await?
    });
    Ok(Some(id))
}

/// Bank details of a place, as its pages show them.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Details {
    pub id: i64,
    pub lieu_ext_id: String,
    pub lieu_nom: String,
    pub iban: Iban,
    pub bic: Bic,
    pub titulaire: String,
    pub etat: BankDetailsState,
    pub motif: String,
    pub created_at: i64,
}

const DETAILS_SQL: &str = "SELECT b.id, l.ext_id AS lieu_ext_id, l.nom AS lieu_nom, b.iban, b.bic, b.titulaire, b.etat, b.motif, b.created_at \
     FROM coordonnees_bancaires b JOIN lieux l ON l.id = b.lieu_id";

/// The validated details of a place and the latest change waiting or refused.
pub async fn of_place(db: &Db, place: i64) -> Result<Vec<Details>> {
    let sql = format!(
        "{DETAILS_SQL} WHERE b.lieu_id = $1 AND (b.etat IN ($2, $3) OR b.id = \
         (SELECT MAX(id) FROM coordonnees_bancaires WHERE lieu_id = $1 AND etat = $4)) ORDER BY b.id"
    );
    Ok(on_db!(db, c => {
        sqlx::query_as(&sql)
            .bind(place)
            .bind(BankDetailsState::Validees)
            .bind(BankDetailsState::AValider)
            .bind(BankDetailsState::Refusees)
            .fetch_all(&mut *c)
            .await?
    }))
}

/// A place's staff ask to be paid on another account. The new details wait
/// for the opérateur's validation; until then payments go to the validated
/// account. The legal representative is told.
pub async fn submit(core: &Core, who: &Principal, ext_id: &str, iban: &str, bic: &str, holder: &str) -> Result<i64> {
    let place = crate::pass_numerique::places::by_ext_id(&core.db, ext_id).await?;
    authorize(
        who,
        Action::Apply(super::applications::scope(&core.db, place.id).await?),
    )?;
    if qualification_of(&core.db, place.id).await?.is_none() {
        return Err(CoreError::Conflict(format!(
            "le lieu « {} » n'est pas qualifié : les coordonnées bancaires font partie de la demande de qualification",
            place.nom
        )));
    }
    let mut problems = Vec::new();
    let iban = Iban::parse(iban).map_err(|e| problems.push(e.to_string())).ok();
    let bic = Bic::parse(bic).map_err(|e| problems.push(e.to_string())).ok();
    let holder = bank::parse_holder(holder)
        .map_err(|e| problems.push(e.to_string()))
        .ok();
    let (Some(iban), Some(bic), Some(holder)) = (iban, bic, holder) else {
        return Err(CoreError::invalid(problems.join(" ; ")));
    };
    let mut tx = core.db.begin().await?;
    let Some(id) = record(&mut tx, place.id, (&iban, &bic, &holder), false).await? else {
        return Err(CoreError::Conflict(
            "ces coordonnées bancaires sont déjà celles du lieu".into(),
        ));
    };
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::BANK_DETAILS_SUBMITTED)
            .subject("lieu", place.id)
            .subject("coordonnees_bancaires", id)
            .details(json!({ "iban": iban.masked(), "bic": bic })),
    )
    .await?;
    if let Some(owner) = place.organisation_id {
        let rep = legal_rep(&mut tx, place.id).await?;
        notify::to_place(
            &mut tx,
            &Notice {
                key: format!("coordonnees:{id}:demande"),
                place_org: owner,
                legal_rep: rep.as_deref(),
                subject: format!("Changement de coordonnées bancaires demandé : {}", place.nom),
                body: format!(
                    "Bonjour,\n\nUn changement des coordonnées bancaires du lieu « {} » a été demandé dans Passerelle : \
                     nouveau compte {} au nom de {}. Il sera vérifié par l'opérateur avant tout virement.\n\n\
                     Si vous n'êtes pas à l'origine de ce changement, prévenez l'opérateur sans attendre.\n",
                    place.nom,
                    iban.masked(),
                    holder
                ),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Changes waiting for the opérateur, oldest first.
pub async fn pending(core: &Core, who: &Principal) -> Result<Vec<Details>> {
    authorize(who, Action::Administer)?;
    let sql = format!("{DETAILS_SQL} WHERE b.etat = $1 ORDER BY b.id");
    Ok(on_db!(&core.db, c => sqlx::query_as(&sql).bind(BankDetailsState::AValider).fetch_all(&mut *c).await?))
}

/// The opérateur validates (`refusal` = None) or refuses a change.
pub async fn review(core: &Core, who: &Principal, id: i64, refusal: Option<&str>) -> Result<()> {
    authorize(who, Action::Administer)?;
    let refusal = refusal.map(|r| r.trim().chars().take(super::model::MAX_TEXT).collect::<String>());
    if refusal.as_deref() == Some("") {
        return Err(CoreError::invalid("le motif du refus est obligatoire"));
    }
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    let row: Option<(i64, Iban, Bic, String)> = on_tx!(&mut tx, c => {
        sqlx::query_as("SELECT lieu_id, iban, bic, titulaire FROM coordonnees_bancaires WHERE id = $1 AND etat = $2")
            .bind(id)
            .bind(BankDetailsState::AValider)
            .fetch_optional(&mut *c)
            .await?
    });
    let Some((place_id, iban, bic, holder)) = row else {
        return Err(CoreError::Conflict(
            "ces coordonnées ne sont plus en attente de validation".into(),
        ));
    };
    on_tx!(&mut tx, c => {
        match &refusal {
            None => {
                sqlx::query("UPDATE coordonnees_bancaires SET etat = $3, fin_at = $2 WHERE lieu_id = $1 AND etat = $4")
                    .bind(place_id).bind(now).bind(BankDetailsState::Remplacees).bind(BankDetailsState::Validees)
                    .execute(&mut *c).await?;
                sqlx::query("UPDATE coordonnees_bancaires SET etat = $3, valide_at = $2 WHERE id = $1")
                    .bind(id).bind(now).bind(BankDetailsState::Validees).execute(&mut *c).await?;
            }
            Some(reason) => {
                sqlx::query("UPDATE coordonnees_bancaires SET etat = $4, motif = $2, fin_at = $3 WHERE id = $1")
                    .bind(id).bind(reason).bind(now).bind(BankDetailsState::Refusees).execute(&mut *c).await?;
            }
        }
    });
    let place = crate::pass_numerique::places::by_id(&core.db, place_id).await?;
    let action = if refusal.is_none() {
        actions::BANK_DETAILS_VALIDATED
    } else {
        actions::BANK_DETAILS_REFUSED
    };
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), action)
            .subject("lieu", place_id)
            .subject("coordonnees_bancaires", id)
            .details(json!({ "iban": iban.masked(), "bic": bic, "motif": refusal })),
    )
    .await?;
    if let Some(owner) = place.organisation_id {
        let rep = legal_rep(&mut tx, place_id).await?;
        let (subject, body) = match &refusal {
            None => (
                format!("Nouvelles coordonnées bancaires validées : {}", place.nom),
                format!(
                    "Bonjour,\n\nLes coordonnées bancaires du lieu « {} » ont changé : les prochains remboursements du Pass Numérique \
                     seront versés sur le compte {} au nom de {}.\n\nSi vous n'êtes pas à l'origine de ce changement, prévenez l'opérateur sans attendre.\n",
                    place.nom,
                    iban.masked(),
                    holder
                ),
            ),
            Some(reason) => (
                format!("Changement de coordonnées bancaires refusé : {}", place.nom),
                format!(
                    "Bonjour,\n\nLe changement de coordonnées bancaires du lieu « {} » (compte {}) est refusé : {reason}.\n\
                     Les remboursements restent versés sur le compte validé auparavant.\n",
                    place.nom,
                    iban.masked()
                ),
            ),
        };
        notify::to_place(
            &mut tx,
            &Notice {
                key: format!("coordonnees:{id}:decision"),
                place_org: owner,
                legal_rep: rep.as_deref(),
                subject,
                body,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
