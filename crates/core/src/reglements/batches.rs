//! After a run: the opérateur sends the SEPA file to the bank, records its
//! execution, and records a transfer the bank rejected (its lines go back to
//! "to pay"). Lists and details of batches and statements.

use serde_json::json;

use super::authz::{authorize, Action};
use super::SETTLEMENT_LOCK;
use crate::accounts::Principal;
use crate::db::lock;
use crate::error::{CoreError, Result};
use crate::identifiants::{Bic, Centimes, Iban};
use crate::journal::{self, actions, NewEntry};
use crate::{on_db, on_tx, Core};

/// A batch: one SEPA file.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Lot {
    pub id: i64,
    pub msg_id: String,
    pub jusqu_au: String,
    pub virements: i64,
    pub total_centimes: Centimes,
    pub etat: LotState,
    pub created_at: i64,
}

/// A statement, with its place and the account it is paid to.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Statement {
    pub id: i64,
    pub numero: String,
    pub lieu_id: i64,
    pub lieu: String,
    pub lieu_ext_id: String,
    /// The place's responsible organisation (whose staff see the statement).
    pub lieu_organisation_id: Option<i64>,
    pub lot_id: i64,
    pub jusqu_au: String,
    pub premier_jour: String,
    pub dernier_jour: String,
    pub lignes: i64,
    pub total_centimes: Centimes,
    pub etat: StatementState,
    pub motif_rejet: Option<String>,
    pub iban: Iban,
    pub bic: Bic,
    pub titulaire: String,
    pub created_at: i64,
}

/// A line: one redemption.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Line {
    pub encaissement_id: i64,
    pub jour: String,
    pub carnet: i64,
    pub rang: i64,
    pub service: String,
    pub valeur_centimes: Centimes,
    pub commande_id: i64,
}

/// Where a batch (one SEPA file) stands: generated, then sent, then executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LotState {
    Genere,
    Envoye,
    Execute,
}

crate::texte_en_base!(LotState, LotState::from_key, LotState::key, "état de lot de virements");

impl LotState {
    pub const ALL: [LotState; 3] = [LotState::Genere, LotState::Envoye, LotState::Execute];

    /// The value stored in the database.
    pub fn key(self) -> &'static str {
        match self {
            LotState::Genere => "genere",
            LotState::Envoye => "envoye",
            LotState::Execute => "execute",
        }
    }

    pub fn from_key(key: &str) -> Option<LotState> {
        LotState::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            LotState::Genere => "fichier généré, à envoyer à la banque",
            LotState::Envoye => "envoyé à la banque",
            LotState::Execute => "exécuté par la banque",
        }
    }
}

/// Where a statement stands; a rejected transfer is repaid by the next run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementState {
    Emis,
    Envoye,
    Paye,
    Rejete,
}

crate::texte_en_base!(
    StatementState,
    StatementState::from_key,
    StatementState::key,
    "état de relevé"
);

impl StatementState {
    pub const ALL: [StatementState; 4] = [
        StatementState::Emis,
        StatementState::Envoye,
        StatementState::Paye,
        StatementState::Rejete,
    ];

    /// The value stored in the database.
    pub fn key(self) -> &'static str {
        match self {
            StatementState::Emis => "emis",
            StatementState::Envoye => "envoye",
            StatementState::Paye => "paye",
            StatementState::Rejete => "rejete",
        }
    }

    pub fn from_key(key: &str) -> Option<StatementState> {
        StatementState::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            StatementState::Emis => "émis, virement à envoyer",
            StatementState::Envoye => "virement envoyé",
            StatementState::Paye => "payé",
            StatementState::Rejete => "virement rejeté : repris au prochain règlement",
        }
    }
}

const STATEMENT_COLUMNS: &str = "SELECT r.id, r.numero, r.lieu_id, l.nom AS lieu, l.ext_id AS lieu_ext_id, \
     l.organisation_id AS lieu_organisation_id, r.lot_id, r.jusqu_au, \
     r.premier_jour, r.dernier_jour, r.lignes, r.total_centimes, r.etat, r.motif_rejet, b.iban, b.bic, b.titulaire, r.created_at \
     FROM releves r JOIN lieux l ON l.id = r.lieu_id JOIN coordonnees_bancaires b ON b.id = r.coordonnees_id";

/// The latest batches (the opérateur only).
pub async fn lots(core: &Core, who: &Principal) -> Result<Vec<Lot>> {
    authorize(who, Action::Settle)?;
    Ok(on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT id, msg_id, jusqu_au, virements, total_centimes, etat, created_at FROM lots_virements ORDER BY id DESC LIMIT 500",
        )
        .fetch_all(&mut *c)
        .await?
    }))
}

/// One batch (the opérateur only).
pub async fn lot(core: &Core, who: &Principal, id: i64) -> Result<Lot> {
    authorize(who, Action::Settle)?;
    find_lot(core, id).await
}

async fn find_lot(core: &Core, id: i64) -> Result<Lot> {
    let found: Option<Lot> = on_db!(&core.db, c => {
        sqlx::query_as("SELECT id, msg_id, jusqu_au, virements, total_centimes, etat, created_at FROM lots_virements WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
    });
    found.ok_or_else(|| CoreError::NotFound(format!("lot de virements {id}")))
}

/// The SEPA file of a batch, exactly as produced by its run.
pub async fn sepa_xml(core: &Core, who: &Principal, id: i64) -> Result<String> {
    authorize(who, Action::Settle)?;
    let xml: Option<String> = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT xml FROM lots_virements WHERE id = $1").bind(id).fetch_optional(&mut *c).await?
    });
    xml.ok_or_else(|| CoreError::NotFound(format!("lot de virements {id}")))
}

/// Statements of a batch, newest first.
pub async fn statements_of_lot(core: &Core, who: &Principal, lot: i64) -> Result<Vec<Statement>> {
    authorize(who, Action::Settle)?;
    Ok(on_db!(&core.db, c => {
        sqlx::query_as(&format!("{STATEMENT_COLUMNS} WHERE r.lot_id = $1 ORDER BY r.id"))
            .bind(lot)
            .fetch_all(&mut *c)
            .await?
    }))
}

/// Statements of the places of the caller's own organisation (a place's own
/// space), newest first.
pub async fn statements_of_own_places(core: &Core, who: &Principal) -> Result<Vec<Statement>> {
    authorize(
        who,
        Action::ViewStatement {
            owner: Some(who.organisation_id),
        },
    )?;
    let places = crate::pass_numerique::places::of_organisation(&core.db, who.organisation_id).await?;
    let mut all = Vec::new();
    for place in places.iter().map(|p| p.id) {
        let mine: Vec<Statement> = on_db!(&core.db, c => {
            sqlx::query_as(&format!("{STATEMENT_COLUMNS} WHERE r.lieu_id = $1 ORDER BY r.id DESC LIMIT 240"))
                .bind(place)
                .fetch_all(&mut *c)
                .await?
        });
        all.extend(mine);
    }
    all.sort_by_key(|s| std::cmp::Reverse(s.id));
    Ok(all)
}

/// A statement, if the caller may see it: the opérateur, or the staff of the
/// place's responsible organisation.
pub async fn statement(core: &Core, who: &Principal, numero: &str) -> Result<Statement> {
    let s = find_statement(core, numero).await?;
    authorize(
        who,
        Action::ViewStatement {
            owner: s.lieu_organisation_id,
        },
    )?;
    Ok(s)
}

/// A statement and its lines, if the caller may see it.
pub async fn statement_with_lines(core: &Core, who: &Principal, numero: &str) -> Result<(Statement, Vec<Line>)> {
    let s = statement(core, who, numero).await?;
    let lines = lines(core, s.id).await?;
    Ok((s, lines))
}

async fn find_statement(core: &Core, numero: &str) -> Result<Statement> {
    let found: Option<Statement> = on_db!(&core.db, c => {
        sqlx::query_as(&format!("{STATEMENT_COLUMNS} WHERE r.numero = $1"))
            .bind(numero)
            .fetch_optional(&mut *c)
            .await?
    });
    found.ok_or_else(|| CoreError::NotFound(format!("relevé {numero}")))
}

async fn lines(core: &Core, statement_id: i64) -> Result<Vec<Line>> {
    Ok(on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT e.id AS encaissement_id, e.jour, e.carnet_id AS carnet, ch.rang, e.service, l.valeur_centimes, e.commande_id \
             FROM releve_lignes l JOIN encaissements e ON e.id = l.encaissement_id JOIN cheques ch ON ch.id = e.cheque_id \
             WHERE l.releve_id = $1 ORDER BY e.jour, e.id",
        )
        .bind(statement_id)
        .fetch_all(&mut *c)
        .await?
    }))
}

/// Moves a batch from `from` to `to` with its statements; refuses any other transition.
async fn advance(
    core: &Core,
    who: &Principal,
    id: i64,
    from: LotState,
    to: LotState,
    statement_to: StatementState,
) -> Result<Lot> {
    let current = lot(core, who, id).await?;
    let mut tx = core.db.begin().await?;
    let (at_column, action) = if to == LotState::Envoye {
        ("envoye_at", actions::BATCH_SENT)
    } else {
        ("execute_at", actions::BATCH_EXECUTED)
    };
    let changed = on_tx!(&mut tx, c => {
        sqlx::query(&format!("UPDATE lots_virements SET etat = $3, {at_column} = $4 WHERE id = $1 AND etat = $2"))
            .bind(id)
            .bind(from)
            .bind(to)
            .bind(tx.horloge.now_micros())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if changed == 0 {
        return Err(CoreError::Conflict(format!(
            "le lot {} est « {} » : impossible de le marquer « {} »",
            current.msg_id,
            current.etat.label(),
            to.label()
        )));
    }
    let statements = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE releves SET etat = $2 WHERE lot_id = $1 AND etat <> 'rejete'")
            .bind(id)
            .bind(statement_to)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), action)
            .subject("lot_virements", id)
            .details(json!({ "msg_id": current.msg_id, "releves": statements })),
    )
    .await?;
    tx.commit().await?;
    find_lot(core, id).await
}

/// The file was handed to the bank.
pub async fn mark_sent(core: &Core, who: &Principal, id: i64) -> Result<Lot> {
    advance(
        core,
        who,
        id,
        LotState::Genere,
        LotState::Envoye,
        StatementState::Envoye,
    )
    .await
}

/// The bank executed the transfers.
pub async fn mark_executed(core: &Core, who: &Principal, id: i64) -> Result<Lot> {
    advance(core, who, id, LotState::Envoye, LotState::Execute, StatementState::Paye).await
}

/// The bank rejected one place's transfer: the statement stays (frozen) and
/// is marked rejected; its redemptions are paid by the next run.
pub async fn reject(core: &Core, who: &Principal, numero: &str, reason: &str) -> Result<Statement> {
    authorize(who, Action::Settle)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(CoreError::invalid("motif du rejet : 1 à 500 caractères attendus"));
    }
    let s = find_statement(core, numero).await?;
    let lot_state = find_lot(core, s.lot_id).await?.etat;
    if lot_state == LotState::Genere {
        return Err(CoreError::Conflict(format!(
            "le lot du relevé {numero} n'est pas encore envoyé à la banque : un rejet n'est possible qu'après l'envoi"
        )));
    }
    let mut tx = core.db.begin().await?;
    lock(&mut tx, SETTLEMENT_LOCK).await?;
    let changed = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE releves SET etat = 'rejete', motif_rejet = $2, rejete_at = $3 WHERE id = $1 AND etat <> 'rejete'")
            .bind(s.id)
            .bind(reason)
            .bind(tx.horloge.now_micros())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if changed == 0 {
        return Err(CoreError::Conflict(format!(
            "le virement du relevé {numero} est déjà rejeté"
        )));
    }
    let returned = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE releve_lignes SET rejetee = 1 WHERE releve_id = $1")
            .bind(s.id)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::TRANSFER_REJECTED)
            .subject("releve", s.id)
            .subject("lieu", s.lieu_id)
            .details(json!({
                "numero": numero,
                "motif": reason,
                "lignes_a_repayer": returned,
                "total_centimes": s.total_centimes,
            })),
    )
    .await?;
    tx.commit().await?;
    find_statement(core, numero).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys are what the database holds: they never change.
    #[test]
    fn states_are_stored_by_their_keys_and_shown_by_their_labels() {
        let lots: Vec<&str> = LotState::ALL.iter().map(|s| s.key()).collect();
        assert_eq!(lots, ["genere", "envoye", "execute"]);
        let statements: Vec<&str> = StatementState::ALL.iter().map(|s| s.key()).collect();
        assert_eq!(statements, ["emis", "envoye", "paye", "rejete"]);
        for s in LotState::ALL {
            assert_eq!(LotState::from_key(s.key()), Some(s));
        }
        for s in StatementState::ALL {
            assert_eq!(StatementState::from_key(s.key()), Some(s));
        }
        assert_eq!(LotState::from_key("paye"), None);
        assert_eq!(StatementState::from_key("execute"), None);
        let labels: Vec<&str> = LotState::ALL
            .iter()
            .map(|s| s.label())
            .chain(StatementState::ALL.iter().map(|s| s.label()))
            .collect();
        let distinct: std::collections::BTreeSet<&str> = labels.iter().copied().collect();
        assert_eq!(distinct.len(), labels.len(), "{labels:?}");
        assert!(LotState::Execute.label().contains("exécuté"));
        assert!(StatementState::Rejete.label().contains("rejeté"));
        assert!(labels.iter().all(|l| l.chars().count() > 3), "{labels:?}");
    }
}
