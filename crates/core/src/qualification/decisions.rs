//! The reviewer's side: approve, refuse or ask changes; later suspend,
//! withdraw or reinstate a qualification; the opérateur delegates the review
//! of a territory to its hub.

use serde_json::json;

use super::applications::{self, load_tx, record, scope};
use super::authz::{authorize, Action};
use super::model::{self, ApplicationState, QualificationState};
use super::notify::{self, Notice};
use crate::accounts::Principal;
use crate::db::{is_unique_violation, Db, Tx};
use crate::error::{CoreError, Result};
use crate::identifiants::{Bic, Iban, Siret};
use crate::journal::{self, actions, Actor, NewEntry};
use crate::{on_db, on_tx, Core};

/// What the reviewer decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Refuse { reasons: String },
    AskChanges { message: String },
}

impl Decision {
    /// From a form: `approuver`, `refuser` or `modifier`, and the message.
    pub fn parse(kind: &str, message: &str) -> Result<Decision> {
        let message: String = message.trim().chars().take(model::MAX_TEXT).collect();
        let need = |what: &str| {
            if message.is_empty() {
                Err(CoreError::invalid(format!("{what} est obligatoire")))
            } else {
                Ok(message.clone())
            }
        };
        match kind {
            "approuver" => Ok(Decision::Approve),
            "refuser" => Ok(Decision::Refuse {
                reasons: need("le motif du refus")?,
            }),
            "modifier" => Ok(Decision::AskChanges {
                message: need("le message qui dit quoi modifier")?,
            }),
            _ => Err(CoreError::invalid("choisissez une décision")),
        }
    }
}

/// The qualification of a place that still counts (active or suspended): (id, state, SIRET).
/// The SIRET is read as text: qualifications imported or decided before the
/// strict rule may hold one it now refuses (`controle::sirets_a_reprendre`
/// lists them), and such a row must not make the place's pages fail.
pub async fn qualification_of(db: &Db, place_id: i64) -> Result<Option<(i64, QualificationState, Option<String>)>> {
    Ok(on_db!(db, c => {
        sqlx::query_as("SELECT id, etat, siret FROM qualifications WHERE lieu_id = $1 AND etat IN ('active', 'suspendue')")
            .bind(place_id)
            .fetch_optional(&mut *c)
            .await?
    }))
}

/// The legal representative's e-mail from the place's last approved application.
pub(crate) async fn legal_rep(tx: &mut Tx, place_id: i64) -> Result<Option<String>> {
    Ok(on_tx!(tx, c => {
        sqlx::query_scalar(
            "SELECT representant_courriel FROM demandes_qualification WHERE lieu_id = $1 AND etat = $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(place_id)
        .bind(ApplicationState::Approuvee)
        .fetch_optional(&mut *c)
        .await?
    }))
}

async fn set_listed(tx: &mut Tx, place_id: i64, listed: bool) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE lieux SET pass_numerique = $2, updated_at = $3 WHERE id = $1")
            .bind(place_id).bind(listed).bind(tx.horloge.now_micros()).execute(&mut *c).await?;
    });
    crate::lieux::search::bump_version(tx).await
}

/// Decides on a filed application. Approval qualifies the place and records
/// its bank details: validated at once when the opérateur approves (it
/// reviewed the bank document), to be validated by the opérateur when a hub does.
/// The instructor's decision form: refused to whoever may not review this
/// application, then read (`kind`: the form's key, `message`: reasons or changes asked).
pub async fn decide_form(core: &Core, who: &Principal, id: i64, kind: &str, message: &str) -> Result<()> {
    let a = applications::load(&core.db, id).await?;
    authorize(who, Action::Review(scope(&core.db, a.lieu_id).await?))?;
    decide(core, who, id, Decision::parse(kind, message)?).await
}

pub async fn decide(core: &Core, who: &Principal, id: i64, decision: Decision) -> Result<()> {
    let a = applications::load(&core.db, id).await?;
    authorize(who, Action::Review(scope(&core.db, a.lieu_id).await?))?;
    let mut tx = core.db.begin().await?;
    let a = load_tx(&mut tx, id).await?;
    if a.etat != ApplicationState::Deposee {
        return Err(CoreError::Conflict(format!(
            "seule une demande déposée peut être instruite (état : {})",
            a.etat.label().to_lowercase()
        )));
    }
    let now = tx.horloge.now_micros();
    let (etat, message, subject, body) = match &decision {
        Decision::Approve => (
            ApplicationState::Approuvee,
            String::new(),
            format!("Lieu qualifié au Pass Numérique : {}", a.lieu_nom),
            format!(
                "Bonjour,\n\nLe lieu « {} » est qualifié au Pass Numérique : il peut désormais encaisser les chèques, \
                 et il apparaît dans l'annuaire avec la mention « Accepte le Pass Numérique ».\n",
                a.lieu_nom
            ),
        ),
        Decision::Refuse { reasons } => (
            ApplicationState::Refusee,
            reasons.clone(),
            format!("Demande de qualification refusée : {}", a.lieu_nom),
            format!(
                "Bonjour,\n\nLa demande de qualification au Pass Numérique du lieu « {} » est refusée, pour le motif suivant :\n\n{}\n\n\
                 Vous pouvez déposer une nouvelle demande lorsque la situation aura changé.\n",
                a.lieu_nom, reasons
            ),
        ),
        Decision::AskChanges { message } => (
            ApplicationState::AModifier,
            message.clone(),
            format!("Demande de qualification à compléter : {}", a.lieu_nom),
            format!(
                "Bonjour,\n\nLa demande de qualification au Pass Numérique du lieu « {} » doit être complétée :\n\n{}\n\n\
                 Modifiez-la dans Passerelle, rubrique Qualification, puis déposez-la de nouveau.\n",
                a.lieu_nom, message
            ),
        ),
    };
    let mut bank_validated = false;
    if decision == Decision::Approve {
        // The filed application holds the SIRET as checked when it was filed
        // (a row filed under the older, looser rule is refused here, with the
        // rule's message, and listed by `controle::sirets_a_reprendre`).
        let siret = Siret::parse(&a.siret)?;
        let inserted = on_tx!(&mut tx, c => {
            sqlx::query(
                "INSERT INTO qualifications (lieu_id, etat, motif, siret, demande_id, created_at, updated_at) \
                 VALUES ($1, 'active', $2, $3, $4, $5, $5)",
            )
            .bind(a.lieu_id).bind(format!("demande n° {id}")).bind(&siret).bind(id).bind(now)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
        });
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(CoreError::Conflict(format!(
                    "le lieu est déjà qualifié, ou le SIRET {} qualifie déjà un autre lieu",
                    a.siret
                )))
            }
            Err(e) => return Err(e.into()),
        }
        set_listed(&mut tx, a.lieu_id, true).await?;
        bank_validated = who.role == crate::accounts::Role::Operateur;
        // The filed application holds the IBAN and BIC as checked when it was filed.
        let bank = (&Iban::parse(&a.iban)?, &Bic::parse(&a.bic)?, a.titulaire.as_str());
        super::bank_details::record(&mut tx, a.lieu_id, bank, bank_validated).await?;
    }
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE demandes_qualification SET etat = $2, message = $3, decidee_at = $4, updated_at = $4 WHERE id = $1")
            .bind(id).bind(etat).bind(&message).bind(now).execute(&mut *c).await?;
    });
    let event = record(&mut tx, id, etat, &message, Some(who.account_id)).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::QUALIFICATION_DECIDED)
            .subject("lieu", a.lieu_id)
            .subject("demande_qualification", id)
            .details(json!({ "decision": etat, "message": message, "coordonnees_validees": bank_validated })),
    )
    .await?;
    notify::to_place(
        &mut tx,
        &Notice {
            key: format!("qualification:{id}:{event}"),
            place_org: a.organisation_id,
            legal_rep: Some(&a.representant_courriel),
            subject,
            body,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A change of a qualification's state decided later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Suspend,
    Withdraw,
    Reinstate,
}

impl Change {
    fn transition(
        self,
    ) -> (
        &'static [QualificationState],
        QualificationState,
        &'static str,
        &'static str,
    ) {
        use QualificationState::{Active, Retiree, Suspendue};
        match self {
            Change::Suspend => (&[Active], Suspendue, actions::QUALIFICATION_SUSPENDED, "suspendue"),
            Change::Withdraw => (
                &[Active, Suspendue],
                Retiree,
                actions::QUALIFICATION_WITHDRAWN,
                "retirée",
            ),
            Change::Reinstate => (&[Suspendue], Active, actions::QUALIFICATION_REINSTATED, "rétablie"),
        }
    }
}

/// Suspends, withdraws or reinstates the qualification of a place, with a
/// reason (required to suspend or withdraw). Only an active qualification lets
/// the place redeem cheques and shows it as accepting the Pass Numérique.
pub async fn change(core: &Core, who: &Principal, ext_id: &str, change: Change, reason: &str) -> Result<()> {
    let place = crate::pass_numerique::places::by_ext_id(&core.db, ext_id).await?;
    authorize(who, Action::Review(scope(&core.db, place.id).await?))?;
    let reason: String = reason.trim().chars().take(model::MAX_TEXT).collect();
    if reason.is_empty() && change != Change::Reinstate {
        return Err(CoreError::invalid("le motif est obligatoire"));
    }
    let (from, to, action, word) = change.transition();
    let mut tx = core.db.begin().await?;
    let current: Option<(i64, QualificationState)> = on_tx!(&mut tx, c => {
        sqlx::query_as("SELECT id, etat FROM qualifications WHERE lieu_id = $1 AND etat IN ('active', 'suspendue')")
            .bind(place.id)
            .fetch_optional(&mut *c)
            .await?
    });
    let Some((qid, etat)) = current.filter(|(_, e)| from.contains(e)) else {
        return Err(CoreError::Conflict(format!(
            "la qualification du lieu « {} » ne peut pas être {word} dans son état actuel",
            place.nom
        )));
    };
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE qualifications SET etat = $2, motif = $3, updated_at = $4 WHERE id = $1 AND etat = $5")
            .bind(qid).bind(to).bind(&reason).bind(tx.horloge.now_micros()).bind(etat).execute(&mut *c).await?;
    });
    set_listed(&mut tx, place.id, to == QualificationState::Active).await?;
    let entry = journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), action)
            .subject("lieu", place.id)
            .subject("qualification", qid)
            .details(json!({ "id": place.ext_id, "avant": etat, "apres": to, "motif": reason })),
    )
    .await?;
    if let Some(owner) = place.organisation_id {
        let rep = legal_rep(&mut tx, place.id).await?;
        let why = if reason.is_empty() {
            String::new()
        } else {
            format!(" Motif : {reason}.")
        };
        notify::to_place(
            &mut tx,
            &Notice {
                key: format!("qualification:lieu:{}:{entry}", place.id),
                place_org: owner,
                legal_rep: rep.as_deref(),
                subject: format!("Qualification au Pass Numérique {word} : {}", place.nom),
                body: format!(
                    "Bonjour,\n\nLa qualification au Pass Numérique du lieu « {} » est {word}.{why}\n\n{}\n",
                    place.nom,
                    if to == QualificationState::Active {
                        "Le lieu peut de nouveau encaisser les chèques."
                    } else {
                        "Tant qu'elle n'est pas rétablie, le lieu ne peut plus encaisser de chèques ; les chèques déjà encaissés restent remboursés."
                    }
                ),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A place with a qualification, for the reviewers' list.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Qualified {
    pub lieu_ext_id: String,
    pub lieu_nom: String,
    pub commune: String,
    pub departement: String,
    pub etat: QualificationState,
    pub motif: String,
    /// Read as text, as in [`qualification_of`]: one old row must not make
    /// the whole list fail.
    pub siret: Option<String>,
    pub updated_at: i64,
}

/// Qualifications (active, suspended, withdrawn) the caller may see: all for
/// the opérateur, its territory for a hub, its own places for a place.
pub async fn qualified(core: &Core, who: &Principal) -> Result<Vec<Qualified>> {
    authorize(who, Action::List)?;
    let filter = match who.role {
        crate::accounts::Role::Operateur => "$1 = $1",
        crate::accounts::Role::Hub => {
            "l.departement IN (SELECT departement FROM hub_departements WHERE organisation_id = $1)"
        }
        _ => "l.organisation_id = $1",
    };
    let sql = format!(
        "SELECT l.ext_id AS lieu_ext_id, l.nom AS lieu_nom, l.commune, l.departement, q.etat, q.motif, q.siret, q.updated_at \
         FROM qualifications q JOIN lieux l ON l.id = q.lieu_id WHERE {filter} ORDER BY l.departement, l.nom, q.id DESC LIMIT 5000"
    );
    Ok(on_db!(&core.db, c => sqlx::query_as(&sql).bind(who.organisation_id).fetch_all(&mut *c).await?))
}

/// The opérateur delegates (or takes back) the review of a hub's territory.
pub async fn delegate(core: &Core, actor: &Actor, hub: i64, on: bool) -> Result<()> {
    let org = crate::accounts::store::organisation(&core.db, hub)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("organisation {hub}")))?;
    if org.kind != "hub" {
        return Err(CoreError::invalid(format!(
            "l'organisation {hub} « {} » n'est pas un hub territorial",
            org.name
        )));
    }
    let mut tx = core.db.begin().await?;
    on_tx!(&mut tx, c => {
        if on {
            sqlx::query("INSERT INTO hubs_instruction (organisation_id, created_at) VALUES ($1, $2) ON CONFLICT (organisation_id) DO NOTHING")
                .bind(hub).bind(tx.horloge.now_micros()).execute(&mut *c).await?;
        } else {
            sqlx::query("DELETE FROM hubs_instruction WHERE organisation_id = $1").bind(hub).execute(&mut *c).await?;
        }
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::REVIEW_DELEGATED)
            .subject("organisation", hub)
            .details(json!({ "delegation": on })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What a reviewer's page offers: who he is and whether he may suspend,
/// withdraw or reinstate qualifications (the opérateur, or a hub the
/// opérateur delegated the review of its territory to).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReviewDesk {
    pub operator: bool,
    pub hub: bool,
    pub delegated: bool,
    pub may_change: bool,
}

/// The review desk of the caller (anyone who may list qualifications).
pub async fn review_desk(core: &Core, who: &Principal) -> Result<ReviewDesk> {
    authorize(who, Action::List)?;
    let operator = authorize(who, Action::Administer).is_ok();
    let hub = who.role == crate::accounts::Role::Hub;
    let delegated = hub && delegated(&core.db, who.organisation_id).await?;
    Ok(ReviewDesk {
        operator,
        hub,
        delegated,
        may_change: operator || delegated,
    })
}

/// Whether the opérateur delegated the review of its territory to this hub.
pub async fn delegated(db: &Db, hub: i64) -> Result<bool> {
    let n: i64 = on_db!(db, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM hubs_instruction WHERE organisation_id = $1").bind(hub).fetch_one(&mut *c).await?
    });
    Ok(n > 0)
}
