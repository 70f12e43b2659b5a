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
use crate::db::{is_unique_violation, Tx};
use crate::error::{CoreError, Result};
use crate::identifiants::Centimes;
use crate::journal::{self, actions, Actor, NewEntry};
use crate::lieux::model::ListeServices;
use crate::lieux::vocabulaires::Services;
use crate::{on_db, on_tx, Core};

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

async fn find(tx_or_db: Source<'_>, hash: &[u8]) -> Result<Option<ChequeRow>> {
    let sql = "SELECT c.id, c.carnet_id, c.commande_id, c.valeur_centimes, c.etat, k.remis_at, o.debut, o.fin, \
               o.tolerance_jours, o.perimetre, o.services, o.plafond_jour, e.jour AS encaisse_jour, e.at AS encaisse_at, e.lieu_id AS encaisse_lieu \
               FROM cheques c JOIN carnets k ON k.numero = c.carnet_id JOIN commandes o ON o.id = c.commande_id \
               LEFT JOIN encaissements e ON e.cheque_id = c.id AND e.annule_at IS NULL WHERE c.empreinte = $1";
    Ok(match tx_or_db {
        Source::Db(db) => on_db!(db, c => sqlx::query_as(sql).bind(hash).fetch_optional(&mut *c).await?),
        Source::Tx(tx) => on_tx!(tx, c => sqlx::query_as(sql).bind(hash).fetch_optional(&mut *c).await?),
    })
}

enum Source<'a> {
    Db(&'a crate::db::Db),
    Tx(&'a mut Tx),
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

/// The holder's view of a cheque (no place involved).
pub async fn holder_view(core: &Core, code: &str, today: Date) -> Result<HolderView> {
    let Ok(code) = Code::parse(code) else {
        return Ok(HolderView {
            verdict: refuse(Motif::CodeMalSaisi, Motif::CodeMalSaisi.message(), None),
            lieux: Vec::new(),
        });
    };
    let (_, lookup) = super::issue::code_keys(&core.keys);
    let row = find(Source::Db(&core.db), &lookup.hash(&code)).await?;
    let verdict = rules(row.as_ref(), None, None, today);
    let lieux = match row.filter(|_| verdict.valide) {
        Some(r) => places::accepting(&core.db, &r.perimetre).await?,
        None => Vec::new(),
    };
    Ok(HolderView { verdict, lieux })
}

/// Whether a cheque could be redeemed here now (optionally for a service), without using it.
pub async fn check(core: &Core, place: &Place, code: &str, service: Option<&str>, today: Date) -> Result<Verdict> {
    let Ok(code) = Code::parse(code) else {
        return Ok(refuse(Motif::CodeMalSaisi, Motif::CodeMalSaisi.message(), None));
    };
    let (_, lookup) = super::issue::code_keys(&core.keys);
    let row = find(Source::Db(&core.db), &lookup.hash(&code)).await?;
    let qualified = places::is_qualified(&core.db, place.id).await?;
    Ok(rules(row.as_ref(), Some((place, qualified)), service, today))
}

/// Redeems a cheque for a service at a place.
pub async fn redeem(
    core: &Core,
    counter: Counter,
    place: &Place,
    code: &str,
    service: &str,
    idempotency: Option<&str>,
    today: Date,
) -> Result<Outcome> {
    let Ok(code) = Code::parse(code) else {
        return Ok(Outcome::Refused(refuse(
            Motif::CodeMalSaisi,
            Motif::CodeMalSaisi.message(),
            None,
        )));
    };
    let idempotency = idempotency.map(str::trim).filter(|k| !k.is_empty());
    if idempotency.is_some_and(|k| k.len() > 200) {
        return Err(CoreError::invalid(
            "clé d'idempotence trop longue (200 caractères au plus)",
        ));
    }
    let (_, lookup) = super::issue::code_keys(&core.keys);
    let hash = lookup.hash(&code);
    let qualified = places::is_qualified(&core.db, place.id).await?;
    let mut tx = core.db.begin().await?;
    if let Some(key) = idempotency {
        if let Some(p) = previous(&mut tx, place, key).await? {
            tx.rollback().await?;
            // The same key answers the first receipt only for the very same
            // request (cheque and service) and while that redemption stands.
            let motif = if p.empreinte != hash || p.service != service_label(service) {
                Some(Motif::CleIdempotenceReutilisee)
            } else if p.annule_at.is_some() {
                Some(Motif::EncaissementAnnule)
            } else {
                None
            };
            return Ok(match motif {
                Some(m) => Outcome::Refused(refuse(m, m.message(), None)),
                None => Outcome::Replayed(receipt(
                    p.id,
                    &code,
                    p.carnet_id,
                    p.valeur_centimes,
                    place,
                    &p.service,
                    p.at,
                )),
            });
        }
    }
    let row = find(Source::Tx(&mut tx), &hash).await?;
    let verdict = rules(row.as_ref(), Some((place, qualified)), Some(service), today);
    let Some(r) = row.filter(|_| verdict.valide) else {
        tx.rollback().await?;
        return Ok(Outcome::Refused(verdict));
    };
    let jour = iso(today);
    // Redemptions of one booklet at one place are serialised (row lock on
    // PostgreSQL; SQLite write transactions are serial), so that the daily cap holds.
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE carnets SET numero = numero WHERE numero = $1").bind(r.carnet_id).execute(&mut *c).await?;
    });
    let same_day: i64 = on_tx!(&mut tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM encaissements WHERE carnet_id = $1 AND lieu_id = $2 AND jour = $3 AND annule_at IS NULL")
            .bind(r.carnet_id)
            .bind(place.id)
            .bind(&jour)
            .fetch_one(&mut *c)
            .await?
    });
    if same_day >= r.plafond_jour {
        tx.rollback().await?;
        return Ok(Outcome::Refused(refuse(
            Motif::PlafondAtteint,
            format!(
                "Plafond atteint : pas plus de {} chèque{} d'un même carnet par jour dans ce lieu",
                r.plafond_jour,
                if r.plafond_jour > 1 { "s" } else { "" }
            ),
            Some(&r),
        )));
    }
    let now = tx.horloge.now_micros();
    let won = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE cheques SET etat = 'encaisse', updated_at = $2 WHERE id = $1 AND etat = 'actif'")
            .bind(r.id)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    let service = service_label(service);
    let (account, api_key) = match counter {
        Counter::Account(id) => (Some(id), None),
        Counter::ApiKey(id) => (None, Some(id)),
    };
    let inserted = if won == 1 {
        on_tx!(&mut tx, c => {
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
            .bind(idempotency)
            .fetch_one(&mut *c)
            .await
        })
    } else {
        Err(sqlx::Error::RowNotFound)
    };
    let id = match inserted {
        Ok(id) => id,
        Err(e) if won == 1 && !is_unique_violation(&e) => return Err(e.into()),
        // Another redemption of this cheque (or with this key) committed first: say what happened.
        Err(_) => {
            tx.rollback().await?;
            return Box::pin(redeem(
                core,
                counter,
                place,
                &code.compact(),
                service,
                idempotency,
                today,
            ))
            .await;
        }
    };
    journal::append(
        &mut tx,
        &core.keys,
        counter
            .entry(actions::CHEQUE_REDEEMED)
            .subject("cheque", r.id)
            .subject("lieu", place.id)
            .subject("encaissement", id)
            .details(json!({ "carnet": r.carnet_id, "service": service, "valeur_centimes": r.valeur_centimes })),
    )
    .await?;
    tx.commit().await?;
    Ok(Outcome::Redeemed(receipt(
        id,
        &code,
        r.carnet_id,
        r.valeur_centimes,
        place,
        service,
        now,
    )))
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
