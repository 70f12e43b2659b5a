//! Check and redeem a cheque, exactly once.
//!
//! The rules are checked in the brief's order, each refusal with its own
//! stable `motif` key and French message. The rules decide from what was read
//! (see [`validation_lot`](super::validation_lot)); the redemption itself is a
//! conditional write (`UPDATE cheques … WHERE etat = 'actif'`, whose count must
//! match) plus a unique index (one live redemption per cheque): when two places
//! race on one code, exactly one wins, the other is evaluated again. A retry
//! with the same idempotency key returns the first receipt.

use jiff::civil::Date;
use serde_json::json;

use super::code::Code;
use super::model::{ChequeState, Perimetre};
pub use super::motif::Motif;
use super::places::Place;
use super::validation_groupee::{self, Fait, Requete, Travail};
use crate::dates_fr::{iso, jj_mm_aaaa, jour_iso, plus_jours};
use crate::error::{CoreError, Result};
use crate::identifiants::Centimes;
use crate::journal::{self, actions, Actor, NewEntry};
use crate::lieux::model::ListeServices;
use crate::lieux::vocabulaires::Services;
use crate::{on_tx, Core};

/// The answer to a check (and to a refused redemption).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub valide: bool,
    pub motif: Motif,
    pub message: String,
    pub valeur_centimes: Option<Centimes>,
    /// Last day of use (AAAA-MM-JJ), tolerance included.
    pub fin_validite: Option<String>,
    /// The services the cheque's order pays for (labels); empty when it pays for any.
    pub services_autorises: Vec<&'static str>,
}

/// Proof of a redemption.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Receipt {
    pub encaissement: i64,
    /// The end of the code only.
    pub cheque: String,
    pub carnet: i64,
    pub valeur_centimes: Centimes,
    pub lieu: String,
    pub service: String,
    /// RFC 3339, UTC.
    pub encaisse_le: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Redeemed(Receipt),
    /// The same request again (same idempotency key): the first receipt.
    Replayed(Receipt),
    Refused(Verdict),
}

/// Who redeems: staff signed in, or the place's software by its API key.
#[derive(Debug, Clone, Copy)]
pub enum Counter {
    Account(i64),
    ApiKey(i64),
}

impl Counter {
    /// The journal entry of an action at the counter, naming the API key when one was used.
    pub(crate) fn entry(self, action: &'static str) -> NewEntry {
        let e = NewEntry::new(self.actor(), action);
        match self {
            Counter::ApiKey(id) => e.subject("cle_api", id),
            Counter::Account(_) => e,
        }
    }

    /// Place staff act with the role `lieu`.
    fn actor(self) -> Actor {
        match self {
            Counter::Account(id) => Actor::Account {
                id,
                role: "lieu".to_string(),
            },
            Counter::ApiKey(id) => Actor::ApiKey { id },
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ChequeRow {
    pub(crate) id: i64,
    pub(crate) carnet_id: i64,
    pub(crate) commande_id: i64,
    pub(crate) valeur_centimes: Centimes,
    pub(crate) etat: ChequeState,
    pub(crate) remis_at: Option<i64>,
    pub(crate) debut: String,
    pub(crate) fin: String,
    pub(crate) tolerance_jours: i64,
    pub(crate) perimetre: Perimetre,
    pub(crate) services: ListeServices,
    pub(crate) plafond_jour: i64,
    pub(crate) encaisse_jour: Option<String>,
    /// When it was redeemed (µs), told only to the place that redeemed it.
    pub(crate) encaisse_at: Option<i64>,
    pub(crate) encaisse_lieu: Option<i64>,
}

pub(crate) fn refuse(motif: Motif, message: impl Into<String>, row: Option<&ChequeRow>) -> Verdict {
    Verdict {
        valide: false,
        motif,
        message: message.into(),
        valeur_centimes: row.map(|r| r.valeur_centimes),
        fin_validite: row.and_then(last_day).map(iso),
        services_autorises: row.map(allowed).unwrap_or_default(),
    }
}

/// The labels of the services the order restricts its cheques to (none: any service).
fn allowed(r: &ChequeRow) -> Vec<&'static str> {
    Services::ALL
        .iter()
        .filter(|s| r.services.contains(**s))
        .map(|s| s.label())
        .collect()
}

fn day(text: &str) -> Option<Date> {
    jour_iso(text)
}

fn last_day(r: &ChequeRow) -> Option<Date> {
    day(&r.fin).and_then(|f| plus_jours(f, r.tolerance_jours))
}

fn french(d: Date) -> String {
    jj_mm_aaaa(d)
}

/// The rules, in the brief's order, for a cheque found (or not) by its hash.
/// Without a place (the holder's page), the rules about the place are skipped.
pub(crate) fn rules(
    row: Option<&ChequeRow>,
    at: Option<(&Place, bool)>,
    service: Option<&str>,
    today: Date,
) -> Verdict {
    let Some(r) = row else {
        return refuse(Motif::ChequeInconnu, Motif::ChequeInconnu.message(), None);
    };
    match r.etat {
        ChequeState::Annule => return refuse(Motif::ChequeAnnule, Motif::ChequeAnnule.message(), Some(r)),
        ChequeState::Encaisse => {
            let mine = at.is_some_and(|(place, _)| r.encaisse_lieu == Some(place.id));
            // The place that redeemed it sees the time too (the brief: more detail for it).
            let when = match (mine, r.encaisse_at) {
                (true, Some(t)) => crate::format_fr::horodatage(t),
                _ => r.encaisse_jour.as_deref().and_then(day).map(french).unwrap_or_default(),
            };
            let here = if mine { " dans votre lieu" } else { "" };
            return refuse(
                Motif::DejaEncaisse,
                format!("Chèque déjà encaissé le {when}{here}"),
                Some(r),
            );
        }
        ChequeState::EnAttente | ChequeState::Actif | ChequeState::Expire => {}
    }
    if r.remis_at.is_none() {
        return refuse(Motif::CarnetNonRemis, Motif::CarnetNonRemis.message(), Some(r));
    }
    if r.etat == ChequeState::EnAttente {
        return refuse(Motif::ChequeNonActif, Motif::ChequeNonActif.message(), Some(r));
    }
    let last = last_day(r);
    if r.etat == ChequeState::Expire || last.is_none_or(|l| today > l) {
        let when = last.map(|l| format!(" le {}", french(l))).unwrap_or_default();
        return refuse(Motif::ChequeExpire, format!("Ce chèque a expiré{when}"), Some(r));
    }
    if let Some(first) = day(&r.debut).filter(|d| today < *d) {
        return refuse(
            Motif::PasEncoreValable,
            format!("Ce chèque n'est valable qu'à partir du {}", french(first)),
            Some(r),
        );
    }
    let Some((place, qualified)) = at else {
        return valid(r, last);
    };
    if !qualified {
        return refuse(Motif::LieuNonQualifie, Motif::LieuNonQualifie.message(), Some(r));
    }
    if !r.perimetre.contains(&place.code_insee, &place.departement) {
        return refuse(Motif::HorsPerimetre, Motif::HorsPerimetre.message(), Some(r));
    }
    if let Some(s) = service {
        let Some(s) = Services::from_label(s.trim()) else {
            return refuse(Motif::ServiceInconnu, Motif::ServiceInconnu.message(), Some(r));
        };
        if !place.services.contains(s) {
            return refuse(Motif::ServiceNonPropose, Motif::ServiceNonPropose.message(), Some(r));
        }
        if !r.services.is_empty() && !r.services.contains(s) {
            return refuse(Motif::ServiceNonAutorise, Motif::ServiceNonAutorise.message(), Some(r));
        }
    }
    valid(r, last)
}

fn valid(r: &ChequeRow, last: Option<Date>) -> Verdict {
    Verdict {
        valide: true,
        motif: Motif::Valide,
        message: format!(
            "Chèque valable : {} €, jusqu'au {}",
            r.valeur_centimes.euros(),
            last.map(french).unwrap_or_default()
        ),
        valeur_centimes: Some(r.valeur_centimes),
        fin_validite: last.map(iso),
        services_autorises: allowed(r),
    }
}

/// What the holder of a cheque sees on its page: its state, and the places that accept it.
#[derive(Debug, Clone)]
pub struct HolderView {
    pub verdict: Verdict,
    /// Qualified places in the order's perimeter: (id in the standard, name, commune).
    pub lieux: Vec<(String, String, String)>,
}

/// A redemption asked at the counter, its code read.
#[derive(Debug, Clone)]
pub(crate) struct Demande {
    pub counter: Counter,
    pub place: Place,
    pub code: Code,
    pub service: String,
    pub idempotency: Option<String>,
    pub today: Date,
}

impl Demande {
    /// Reads the code and the idempotency key (`Err`: a key too long; `Ok(Err)`: a malformed code).
    pub(crate) fn new(
        counter: Counter,
        place: &Place,
        code: &str,
        service: &str,
        idempotency: Option<&str>,
        today: Date,
    ) -> Result<std::result::Result<Demande, Verdict>> {
        let idempotency = idempotency.map(str::trim).filter(|k| !k.is_empty());
        if idempotency.is_some_and(|k| k.len() > 200) {
            return Err(CoreError::invalid(
                "clé d'idempotence trop longue (200 caractères au plus)",
            ));
        }
        // PostgreSQL refuses a NUL in text, which would fail the whole group.
        if idempotency.is_some_and(|k| k.chars().any(char::is_control)) {
            return Err(CoreError::invalid(
                "clé d'idempotence invalide : caractères de contrôle",
            ));
        }
        let Ok(code) = Code::parse(code) else {
            return Ok(Err(malformed()));
        };
        Ok(Ok(Demande {
            counter,
            place: place.clone(),
            code,
            service: service.to_string(),
            idempotency: idempotency.map(str::to_string),
            today,
        }))
    }
}

/// The refusal of a code that does not read as one.
pub(crate) fn malformed() -> Verdict {
    refuse(Motif::CodeMalSaisi, Motif::CodeMalSaisi.message(), None)
}

/// Redeems a cheque for a service at a place, in its own transaction (no
/// failure counters: the counter's [`guichet`](super::guichet) adds them).
pub async fn redeem(
    core: &Core,
    counter: Counter,
    place: &Place,
    code: &str,
    service: &str,
    idempotency: Option<&str>,
    today: Date,
) -> Result<Outcome> {
    let d = match Demande::new(counter, place, code, service, idempotency, today)? {
        Ok(d) => d,
        Err(refused) => return Ok(Outcome::Refused(refused)),
    };
    let requete = Requete {
        compteurs: Vec::new(),
        fenetre_secs: 0,
        travail: Travail::Encaisser(d),
    };
    match validation_groupee::seule(&core.db, &core.keys, &requete).await? {
        Fait::Encaissement(o) => Ok(o),
        other => Err(CoreError::Io(format!("réponse inattendue : {other:?}"))),
    }
}

pub(crate) fn receipt(
    id: i64,
    code: &Code,
    carnet: i64,
    value: Centimes,
    place: &Place,
    service: &str,
    at: i64,
) -> Receipt {
    let compact = code.compact();
    Receipt {
        encaissement: id,
        cheque: format!("…{}", &compact[compact.len() - 5..]),
        carnet,
        valeur_centimes: value,
        lieu: place.nom.clone(),
        service: service.to_string(),
        encaisse_le: crate::db::rfc3339_of(at),
    }
}

/// The service as stored with a redemption: its national label, or empty when unknown.
pub(crate) fn service_label(service: &str) -> &'static str {
    Services::from_label(service.trim())
        .map(|s| s.label())
        .unwrap_or_default()
}

/// A redemption made earlier with the same idempotency key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Previous {
    pub id: i64,
    pub lieu_id: i64,
    pub idempotence: Option<String>,
    pub carnet_id: i64,
    pub valeur_centimes: Centimes,
    pub service: String,
    pub at: i64,
    pub annule_at: Option<i64>,
    /// Hash of the cheque's code.
    pub empreinte: Vec<u8>,
}

/// A place cancels its own redemption, within 24 hours (the cheque is usable again).
pub async fn cancel(core: &Core, counter: Counter, place: &Place, redemption: i64) -> Result<()> {
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    // A settlement run reads redemptions under this lock: a cancellation never slips into a statement being written.
    crate::db::lock(&mut tx, crate::reglements::SETTLEMENT_LOCK).await?;
    let row: Option<(i64, Centimes)> = on_tx!(&mut tx, c => {
        sqlx::query_as(
            "UPDATE encaissements SET annule_at = $3 WHERE id = $1 AND lieu_id = $2 AND annule_at IS NULL AND at >= $4 \
             AND NOT EXISTS (SELECT 1 FROM releve_lignes l WHERE l.encaissement_id = encaissements.id AND l.rejetee = 0) \
             RETURNING cheque_id, valeur_centimes",
        )
        .bind(redemption)
        .bind(place.id)
        .bind(now)
        .bind(now - 24 * 3_600 * 1_000_000)
        .fetch_optional(&mut *c)
        .await?
    });
    let Some((cheque, value)) = row else {
        return Err(CoreError::Conflict(
            "cet encaissement n'est pas annulable : il n'est pas de ce lieu, déjà annulé, figure déjà sur un relevé, \
             ou date de plus de 24 heures"
                .into(),
        ));
    };
    let back = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE cheques SET etat = 'actif', updated_at = $2 WHERE id = $1 AND etat = 'encaisse'")
            .bind(cheque)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if back != 1 {
        return Err(CoreError::Io(format!(
            "chèque {cheque} : état incohérent à l'annulation"
        )));
    }
    journal::append(
        &mut tx,
        &core.keys,
        counter
            .entry(actions::REDEMPTION_CANCELLED)
            .subject("cheque", cheque)
            .subject("lieu", place.id)
            .subject("encaissement", redemption)
            .details(json!({ "valeur_centimes": value })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
#[path = "redeem_tests.rs"]
mod tests;
