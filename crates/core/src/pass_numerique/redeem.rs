//! Check and redeem a cheque, exactly once.
//!
//! The rules are checked in the brief's order, each refusal with its own
//! stable `motif` key and French message. A redemption is one conditional
//! write (`UPDATE cheques … WHERE etat = 'actif'`) plus a unique index (one
//! live redemption per cheque), never a read followed by a write: when two
//! places race on one code, exactly one wins. A retry with the same
//! idempotency key returns the first receipt.

use jiff::civil::Date;
use serde_json::json;

use super::code::Code;
use super::model::{ChequeState, Perimetre};
pub use super::motif::Motif;
use super::places::{self, Place};
use crate::dates_fr::{iso, jj_mm_aaaa, jour_iso, plus_jours};
use crate::db::{is_unique_violation, Backend, Tx};
use crate::error::{CoreError, Result};
use crate::identifiants::Centimes;
use crate::journal::{self, actions, Actor, NewEntry};
use crate::keys::Keys;
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
    fn entry(self, action: &'static str) -> NewEntry {
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
struct ChequeRow {
    id: i64,
    carnet_id: i64,
    commande_id: i64,
    valeur_centimes: Centimes,
    etat: ChequeState,
    remis_at: Option<i64>,
    debut: String,
    fin: String,
    tolerance_jours: i64,
    perimetre: Perimetre,
    services: ListeServices,
    plafond_jour: i64,
    encaisse_jour: Option<String>,
    /// When it was redeemed (µs), told only to the place that redeemed it.
    encaisse_at: Option<i64>,
    encaisse_lieu: Option<i64>,
}

fn refuse(motif: Motif, message: impl Into<String>, row: Option<&ChequeRow>) -> Verdict {
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

async fn find(tx: &mut Tx, hash: &[u8]) -> Result<Option<ChequeRow>> {
    let sql = "SELECT c.id, c.carnet_id, c.commande_id, c.valeur_centimes, c.etat, k.remis_at, o.debut, o.fin, \
               o.tolerance_jours, o.perimetre, o.services, o.plafond_jour, e.jour AS encaisse_jour, e.at AS encaisse_at, e.lieu_id AS encaisse_lieu \
               FROM cheques c JOIN carnets k ON k.numero = c.carnet_id JOIN commandes o ON o.id = c.commande_id \
               LEFT JOIN encaissements e ON e.cheque_id = c.id AND e.annule_at IS NULL WHERE c.empreinte = $1";
    Ok(on_tx!(tx, c => sqlx::query_as(sql).bind(hash).fetch_optional(&mut *c).await?))
}

/// The rules, in the brief's order, for a cheque found (or not) by its hash.
/// Without a place (the holder's page), the rules about the place are skipped.
fn rules(row: Option<&ChequeRow>, at: Option<(&Place, bool)>, service: Option<&str>, today: Date) -> Verdict {
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

/// The holder's verdict on a cheque (no place involved), read in `tx`, and the
/// perimeter of its order when it is valid (to list the places that accept it).
pub(crate) async fn holder_in(
    tx: &mut Tx,
    keys: &Keys,
    code: &Code,
    today: Date,
) -> Result<(Verdict, Option<Perimetre>)> {
    let (_, lookup) = super::issue::code_keys(keys);
    let row = find(tx, &lookup.hash(code)).await?;
    let verdict = rules(row.as_ref(), None, None, today);
    let perimetre = row.filter(|_| verdict.valide).map(|r| r.perimetre);
    Ok((verdict, perimetre))
}

/// Whether a cheque could be redeemed at `place` now (optionally for a
/// service), without using it, read in `tx`.
pub(crate) async fn check_in(
    tx: &mut Tx,
    keys: &Keys,
    at: (&Place, bool),
    code: &Code,
    service: Option<&str>,
    today: Date,
) -> Result<Verdict> {
    let (_, lookup) = super::issue::code_keys(keys);
    let row = find(tx, &lookup.hash(code)).await?;
    Ok(rules(row.as_ref(), Some(at), service, today))
}

/// A redemption asked at the counter, its code read and its place's
/// qualification known.
#[derive(Debug, Clone)]
pub(crate) struct Demande {
    pub counter: Counter,
    pub place: Place,
    pub qualified: bool,
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
        qualified: bool,
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
        let Ok(code) = Code::parse(code) else {
            return Ok(Err(malformed()));
        };
        Ok(Ok(Demande {
            counter,
            place: place.clone(),
            qualified,
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

/// Redeems a cheque for a service at a place, in its own transaction.
pub async fn redeem(
    core: &Core,
    counter: Counter,
    place: &Place,
    code: &str,
    service: &str,
    idempotency: Option<&str>,
    today: Date,
) -> Result<Outcome> {
    let qualified = places::is_qualified(&core.db, place.id).await?;
    let d = match Demande::new(counter, place, qualified, code, service, idempotency, today)? {
        Ok(d) => d,
        Err(refused) => return Ok(Outcome::Refused(refused)),
    };
    loop {
        let mut tx = core.db.begin().await?;
        let mut journal = Vec::new();
        match redeem_in(&mut tx, &core.keys, &d, &mut journal).await? {
            Some(outcome) => {
                journal::append_all(&mut tx, &core.keys, journal).await?;
                tx.commit().await?;
                return Ok(outcome);
            }
            // Another redemption of this cheque (or with this key) committed first: say what happened.
            None => tx.rollback().await?,
        }
    }
}

/// The redemption `d` inside `tx`, its journal entry pushed on `journal` (to
/// be appended in the same transaction). `None` when it lost a race to another
/// transaction (PostgreSQL: another instance redeemed this cheque, or used this
/// idempotency key, first): `tx` must be rolled back and the redemption run again.
pub(crate) async fn redeem_in(
    tx: &mut Tx,
    keys: &Keys,
    d: &Demande,
    journal: &mut Vec<NewEntry>,
) -> Result<Option<Outcome>> {
    let (_, lookup) = super::issue::code_keys(keys);
    let hash = lookup.hash(&d.code);
    let place = &d.place;
    if let Some(key) = d.idempotency.as_deref() {
        if let Some(p) = previous(tx, place, key).await? {
            // The same key answers the first receipt only for the very same
            // request (cheque and service) and while that redemption stands.
            let motif = if p.empreinte != hash || p.service != service_label(&d.service) {
                Some(Motif::CleIdempotenceReutilisee)
            } else if p.annule_at.is_some() {
                Some(Motif::EncaissementAnnule)
            } else {
                None
            };
            return Ok(Some(match motif {
                Some(m) => Outcome::Refused(refuse(m, m.message(), None)),
                None => Outcome::Replayed(receipt(
                    p.id,
                    &d.code,
                    p.carnet_id,
                    p.valeur_centimes,
                    place,
                    &p.service,
                    p.at,
                )),
            }));
        }
    }
    let row = find(tx, &hash).await?;
    let verdict = rules(row.as_ref(), Some((place, d.qualified)), Some(&d.service), d.today);
    let Some(r) = row.filter(|_| verdict.valide) else {
        return Ok(Some(Outcome::Refused(verdict)));
    };
    let jour = iso(d.today);
    // Redemptions of one booklet at one place are serialised so that the daily
    // cap holds: SQLite write transactions are serial; PostgreSQL takes the
    // booklet's row lock.
    if tx.backend() == Backend::Postgres {
        on_tx!(tx, c => {
            sqlx::query("UPDATE carnets SET numero = numero WHERE numero = $1").bind(r.carnet_id).execute(&mut *c).await?;
        });
    }
    let same_day: i64 = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM encaissements WHERE carnet_id = $1 AND lieu_id = $2 AND jour = $3 AND annule_at IS NULL")
            .bind(r.carnet_id)
            .bind(place.id)
            .bind(&jour)
            .fetch_one(&mut *c)
            .await?
    });
    if same_day >= r.plafond_jour {
        return Ok(Some(Outcome::Refused(refuse(
            Motif::PlafondAtteint,
            format!(
                "Plafond atteint : pas plus de {} chèque{} d'un même carnet par jour dans ce lieu",
                r.plafond_jour,
                if r.plafond_jour > 1 { "s" } else { "" }
            ),
            Some(&r),
        ))));
    }
    let now = tx.horloge.now_micros();
    let won = on_tx!(tx, c => {
        sqlx::query("UPDATE cheques SET etat = 'encaisse', updated_at = $2 WHERE id = $1 AND etat = 'actif'")
            .bind(r.id)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if won != 1 {
        return Ok(None);
    }
    let service = service_label(&d.service);
    let (account, api_key) = match d.counter {
        Counter::Account(id) => (Some(id), None),
        Counter::ApiKey(id) => (None, Some(id)),
    };
    let inserted = on_tx!(tx, c => {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO encaissements (cheque_id, carnet_id, commande_id, lieu_id, compte_id, cle_api_id, service, valeur_centimes, jour, at, idempotence) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(r.id)
        .bind(r.carnet_id)
        .bind(r.commande_id)
        .bind(place.id)
        .bind(account)
        .bind(api_key)
        .bind(service)
        .bind(r.valeur_centimes)
        .bind(&jour)
        .bind(now)
        .bind(d.idempotency.as_deref())
        .fetch_one(&mut *c)
        .await
    });
    let id = match inserted {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    journal.push(
        d.counter
            .entry(actions::CHEQUE_REDEEMED)
            .subject("cheque", r.id)
            .subject("lieu", place.id)
            .subject("encaissement", id)
            .details(json!({ "carnet": r.carnet_id, "service": service, "valeur_centimes": r.valeur_centimes })),
    );
    Ok(Some(Outcome::Redeemed(receipt(
        id,
        &d.code,
        r.carnet_id,
        r.valeur_centimes,
        place,
        service,
        now,
    ))))
}

fn receipt(id: i64, code: &Code, carnet: i64, value: Centimes, place: &Place, service: &str, at: i64) -> Receipt {
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
fn service_label(service: &str) -> &'static str {
    Services::from_label(service.trim())
        .map(|s| s.label())
        .unwrap_or_default()
}

/// A redemption made earlier with the same idempotency key.
#[derive(Debug, sqlx::FromRow)]
struct Previous {
    id: i64,
    carnet_id: i64,
    valeur_centimes: Centimes,
    service: String,
    at: i64,
    annule_at: Option<i64>,
    /// Hash of the cheque's code.
    empreinte: Vec<u8>,
}

/// The redemption made by this place with this idempotency key, if any
/// (cancelled or not).
async fn previous(tx: &mut Tx, place: &Place, key: &str) -> Result<Option<Previous>> {
    Ok(on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT e.id, e.carnet_id, e.valeur_centimes, e.service, e.at, e.annule_at, c.empreinte FROM encaissements e \
             JOIN cheques c ON c.id = e.cheque_id WHERE e.lieu_id = $1 AND e.idempotence = $2",
        )
        .bind(place.id)
        .bind(key)
        .fetch_optional(&mut *c)
        .await?
    }))
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
