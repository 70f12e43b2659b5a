//! One group of counter requests, evaluated together inside one write
//! transaction: what the group needs is read in a few statements for all of
//! its requests, the rules are applied request by request in memory (each one
//! seeing what the ones before it did: a cheque just redeemed, a failure just
//! counted, an idempotency key just used), and the group's writes go in a few
//! statements. A group of one request is how a request runs alone.
//!
//! Exactly-once still rests on the database: the cheques are marked redeemed
//! by one conditional `UPDATE … WHERE etat = 'actif'`, whose count must be the
//! number of redemptions won, and the redemptions are inserted under the
//! unique indexes. Another transaction that got there first (PostgreSQL,
//! another instance) makes the group lose a race: `None`, nothing is kept.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::code::Code;
use super::model::ChequeState;
use super::places::Place;
use super::redeem::{self, ChequeRow, Demande, Motif, Outcome, Previous, Receipt};
use super::validation_groupee::{devine, Fait, Requete, Travail};
use crate::dates_fr::iso;
use crate::db::{is_unique_violation, Backend, Tx};
use crate::error::Result;
use crate::identifiants::Centimes;
use crate::journal::{self, actions};
use crate::keys::Keys;
use crate::{on_tx, ratelimit};

/// Rows per multi-row statement (11 parameters each: well under both engines' limits).
const PAR_INSTRUCTION: usize = 50;

/// A redemption won in this group, written at the end.
#[derive(Debug, Clone)]
struct Gain {
    cheque_id: i64,
    carnet_id: i64,
    commande_id: i64,
    place: Place,
    counter: redeem::Counter,
    service: &'static str,
    valeur: Centimes,
    jour: String,
    at: i64,
    idempotence: Option<String>,
    empreinte: Vec<u8>,
    code: Code,
}

/// A request's answer before the writes give the redemptions their numbers.
#[derive(Debug)]
enum Brouillon {
    Fini(Fait),
    /// Redeemed by this request: the gain's index.
    Gagne(usize),
    /// The same request again, redeemed earlier in this group.
    Rejoue(usize, Code),
}

impl Brouillon {
    fn motif(&self) -> Option<Motif> {
        match self {
            Brouillon::Fini(f) => f.motif(),
            Brouillon::Gagne(_) | Brouillon::Rejoue(..) => Some(Motif::Valide),
        }
    }
}

/// An idempotency key already used by a place.
#[derive(Debug, Clone)]
enum Deja {
    Enregistre(Previous),
    Gagne(usize),
}

/// What the group read, then updated in memory request by request.
struct Etat {
    hits: HashMap<String, i64>,
    failures: HashMap<String, i64>,
    cheques: HashMap<Vec<u8>, ChequeRow>,
    qualifies: HashSet<i64>,
    deja: HashMap<(i64, String), Deja>,
    /// Live redemptions per (booklet, place, day).
    jour: HashMap<(i64, i64, String), i64>,
    gains: Vec<Gain>,
}

/// Evaluates `requetes` in `tx`, in order; `None` when the group lost a race
/// and `tx` must be rolled back.
pub(crate) async fn evaluer(tx: &mut Tx, keys: &Keys, requetes: &[Requete]) -> Result<Option<Vec<Fait>>> {
    let (_, lookup) = super::issue::code_keys(keys);
    let hashes: Vec<Option<Vec<u8>>> = requetes
        .iter()
        .map(|r| code_of(&r.travail).map(|c| lookup.hash(c)))
        .collect();
    let mut etat = lire(tx, requetes, &hashes).await?;
    let mut brouillons = Vec::with_capacity(requetes.len());
    for (requete, hash) in requetes.iter().zip(&hashes) {
        let blocked = requete
            .compteurs
            .iter()
            .any(|(k, limit)| etat.hits.get(k).copied().unwrap_or(0) >= *limit);
        if blocked {
            brouillons.push(Brouillon::Fini(Fait::TropDeTentatives));
            continue;
        }
        let b = appliquer(tx, &mut etat, &requete.travail, hash.as_deref());
        if b.motif().is_some_and(devine) {
            for (k, _) in &requete.compteurs {
                *etat.hits.entry(k.clone()).or_default() += 1;
                *etat.failures.entry(k.clone()).or_default() += 1;
            }
        }
        brouillons.push(b);
    }
    let Some(ids) = ecrire(tx, keys, &etat).await? else {
        return Ok(None);
    };
    Ok(Some(
        brouillons
            .into_iter()
            .map(|b| match b {
                Brouillon::Fini(f) => f,
                Brouillon::Gagne(i) => Fait::Encaissement(Outcome::Redeemed(recu(&etat.gains[i], ids[i], None))),
                Brouillon::Rejoue(i, code) => {
                    Fait::Encaissement(Outcome::Replayed(recu(&etat.gains[i], ids[i], Some(&code))))
                }
            })
            .collect(),
    ))
}

fn code_of(t: &Travail) -> Option<&Code> {
    match t {
        Travail::Encaisser(d) => Some(&d.code),
        Travail::Verifier { code, .. } | Travail::Consulter { code, .. } => Some(code),
        Travail::MalSaisi => None,
    }
}

fn recu(g: &Gain, id: i64, code: Option<&Code>) -> Receipt {
    redeem::receipt(
        id,
        code.unwrap_or(&g.code),
        g.carnet_id,
        g.valeur,
        &g.place,
        g.service,
        g.at,
    )
}

/// One request against the group's state.
fn appliquer(tx: &Tx, etat: &mut Etat, travail: &Travail, hash: Option<&[u8]>) -> Brouillon {
    let row = |etat: &Etat| hash.and_then(|h| etat.cheques.get(h)).cloned();
    match travail {
        Travail::MalSaisi => Brouillon::Fini(Fait::Verdict(redeem::malformed())),
        Travail::Consulter { today, .. } => {
            let r = row(etat);
            let v = redeem::rules(r.as_ref(), None, None, *today);
            let perimetre = r.filter(|_| v.valide).map(|r| r.perimetre);
            Brouillon::Fini(Fait::Vue(v, perimetre))
        }
        Travail::Verifier {
            place, service, today, ..
        } => {
            let at = (place, etat.qualifies.contains(&place.id));
            Brouillon::Fini(Fait::Verdict(redeem::rules(
                row(etat).as_ref(),
                Some(at),
                service.as_deref(),
                *today,
            )))
        }
        Travail::Encaisser(d) => encaisser(tx, etat, d, hash.unwrap_or_default()),
    }
}

fn refus(v: redeem::Verdict) -> Brouillon {
    Brouillon::Fini(Fait::Encaissement(Outcome::Refused(v)))
}

fn encaisser(tx: &Tx, etat: &mut Etat, d: &Demande, hash: &[u8]) -> Brouillon {
    let place = &d.place;
    let service = redeem::service_label(&d.service);
    if let Some(key) = d.idempotency.as_deref() {
        // The same key answers the first receipt only for the very same
        // request (cheque and service) and while that redemption stands.
        match etat.deja.get(&(place.id, key.to_string())) {
            Some(Deja::Enregistre(p)) => {
                let motif = if p.empreinte != hash || p.service != service {
                    Some(Motif::CleIdempotenceReutilisee)
                } else if p.annule_at.is_some() {
                    Some(Motif::EncaissementAnnule)
                } else {
                    None
                };
                return match motif {
                    Some(m) => refus(redeem::refuse(m, m.message(), None)),
                    None => Brouillon::Fini(Fait::Encaissement(Outcome::Replayed(redeem::receipt(
                        p.id,
                        &d.code,
                        p.carnet_id,
                        p.valeur_centimes,
                        place,
                        &p.service,
                        p.at,
                    )))),
                };
            }
            Some(Deja::Gagne(i)) => {
                let g = &etat.gains[*i];
                return if g.empreinte != hash || g.service != service {
                    let m = Motif::CleIdempotenceReutilisee;
                    refus(redeem::refuse(m, m.message(), None))
                } else {
                    Brouillon::Rejoue(*i, d.code.clone())
                };
            }
            None => {}
        }
    }
    let row = etat.cheques.get(hash);
    let at = (place, etat.qualifies.contains(&place.id));
    let verdict = redeem::rules(row, Some(at), Some(&d.service), d.today);
    let Some(r) = row.filter(|_| verdict.valide) else {
        return refus(verdict);
    };
    let jour = iso(d.today);
    let same_day = etat
        .jour
        .get(&(r.carnet_id, place.id, jour.clone()))
        .copied()
        .unwrap_or(0);
    if same_day >= r.plafond_jour {
        return refus(redeem::refuse(
            Motif::PlafondAtteint,
            format!(
                "Plafond atteint : pas plus de {} chèque{} d'un même carnet par jour dans ce lieu",
                r.plafond_jour,
                if r.plafond_jour > 1 { "s" } else { "" }
            ),
            Some(r),
        ));
    }
    let now = tx.now_micros();
    let gain = Gain {
        cheque_id: r.id,
        carnet_id: r.carnet_id,
        commande_id: r.commande_id,
        place: place.clone(),
        counter: d.counter,
        service,
        valeur: r.valeur_centimes,
        jour: jour.clone(),
        at: now,
        idempotence: d.idempotency.clone(),
        empreinte: hash.to_vec(),
        code: d.code.clone(),
    };
    *etat.jour.entry((r.carnet_id, place.id, jour.clone())).or_default() += 1;
    if let Some(c) = etat.cheques.get_mut(hash) {
        c.etat = ChequeState::Encaisse;
        c.encaisse_jour = Some(jour);
        c.encaisse_at = Some(now);
        c.encaisse_lieu = Some(place.id);
    }
    let i = etat.gains.len();
    if let Some(key) = &d.idempotency {
        etat.deja.insert((place.id, key.clone()), Deja::Gagne(i));
    }
    etat.gains.push(gain);
    Brouillon::Gagne(i)
}

/// `$first, $first+1, …` for `n` parameters.
fn params(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(sqlx::FromRow)]
struct Trouve {
    empreinte: Vec<u8>,
    #[sqlx(flatten)]
    row: ChequeRow,
}

/// Everything the group needs, read in a few statements.
async fn lire(tx: &mut Tx, requetes: &[Requete], hashes: &[Option<Vec<u8>>]) -> Result<Etat> {
    // Failure counters, locked (one window per group: the counter's).
    let window = requetes.iter().map(|r| r.fenetre_secs).max().unwrap_or(0);
    let keys: Vec<&str> = requetes
        .iter()
        .flat_map(|r| r.compteurs.iter().map(|(k, _)| k.as_str()))
        .collect();
    let hits = ratelimit::hold(tx, &keys, window).await?;

    let wanted: Vec<&Vec<u8>> = hashes.iter().flatten().collect::<HashSet<_>>().into_iter().collect();
    let mut cheques = HashMap::new();
    for chunk in wanted.chunks(PAR_INSTRUCTION) {
        let sql = format!(
            "SELECT c.empreinte, c.id, c.carnet_id, c.commande_id, c.valeur_centimes, c.etat, k.remis_at, o.debut, o.fin, \
             o.tolerance_jours, o.perimetre, o.services, o.plafond_jour, e.jour AS encaisse_jour, e.at AS encaisse_at, \
             e.lieu_id AS encaisse_lieu \
             FROM cheques c JOIN carnets k ON k.numero = c.carnet_id JOIN commandes o ON o.id = c.commande_id \
             LEFT JOIN encaissements e ON e.cheque_id = c.id AND e.annule_at IS NULL WHERE c.empreinte IN ({})",
            params(1, chunk.len())
        );
        let found: Vec<Trouve> = on_tx!(tx, c => {
            let mut q = sqlx::query_as(&sql);
            for h in chunk {
                q = q.bind(h.as_slice());
            }
            q.fetch_all(&mut *c).await?
        });
        cheques.extend(found.into_iter().map(|t| (t.empreinte, t.row)));
    }

    let places: Vec<i64> = requetes
        .iter()
        .filter_map(|r| match &r.travail {
            Travail::Encaisser(d) => Some(d.place.id),
            Travail::Verifier { place, .. } => Some(place.id),
            _ => None,
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut qualifies = HashSet::new();
    for chunk in places.chunks(PAR_INSTRUCTION) {
        let sql = format!(
            "SELECT DISTINCT lieu_id FROM qualifications WHERE etat = 'active' AND lieu_id IN ({})",
            params(1, chunk.len())
        );
        let ids: Vec<i64> = on_tx!(tx, c => {
            let mut q = sqlx::query_scalar(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            q.fetch_all(&mut *c).await?
        });
        qualifies.extend(ids);
    }

    let demandes: Vec<&Demande> = requetes
        .iter()
        .filter_map(|r| match &r.travail {
            Travail::Encaisser(d) => Some(d),
            _ => None,
        })
        .collect();
    let deja = previous(tx, &demandes).await?;

    // Booklets of the cheques asked for redemption: locked (PostgreSQL; SQLite
    // write transactions are serial), then their live redemptions of the day
    // counted, so that the daily cap holds.
    let mut carnets: Vec<i64> = requetes
        .iter()
        .zip(hashes)
        .filter(|(r, _)| matches!(r.travail, Travail::Encaisser(_)))
        .filter_map(|(_, h)| h.as_ref().and_then(|h| cheques.get(h)).map(|r| r.carnet_id))
        .collect();
    carnets.sort_unstable();
    carnets.dedup();
    let jours: Vec<String> = demandes
        .iter()
        .map(|d| iso(d.today))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut jour = HashMap::new();
    for chunk in carnets.chunks(PAR_INSTRUCTION) {
        if tx.backend() == Backend::Postgres {
            let sql = format!(
                "SELECT numero FROM carnets WHERE numero IN ({}) ORDER BY numero FOR UPDATE",
                params(1, chunk.len())
            );
            on_tx!(tx, c => {
                let mut q = sqlx::query(&sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.execute(&mut *c).await?;
            });
        }
        let sql = format!(
            "SELECT carnet_id, lieu_id, jour, COUNT(*) FROM encaissements WHERE annule_at IS NULL \
             AND carnet_id IN ({}) AND jour IN ({}) GROUP BY carnet_id, lieu_id, jour",
            params(1, chunk.len()),
            params(chunk.len() + 1, jours.len())
        );
        let counts: Vec<(i64, i64, String, i64)> = on_tx!(tx, c => {
            let mut q = sqlx::query_as(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for j in &jours {
                q = q.bind(j);
            }
            q.fetch_all(&mut *c).await?
        });
        jour.extend(counts.into_iter().map(|(k, l, j, n)| ((k, l, j), n)));
    }
    Ok(Etat {
        hits,
        failures: HashMap::new(),
        cheques,
        qualifies,
        deja,
        jour,
        gains: Vec::new(),
    })
}

/// The redemptions already made with the idempotency keys of these requests, by (place, key).
async fn previous(tx: &mut Tx, demandes: &[&Demande]) -> Result<HashMap<(i64, String), Deja>> {
    let pairs: Vec<(i64, &str)> = demandes
        .iter()
        .filter_map(|d| d.idempotency.as_deref().map(|k| (d.place.id, k)))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut out = HashMap::new();
    for chunk in pairs.chunks(PAR_INSTRUCTION) {
        let conditions: Vec<String> = (0..chunk.len())
            .map(|i| format!("(e.lieu_id = ${} AND e.idempotence = ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "SELECT e.id, e.lieu_id, e.idempotence, e.carnet_id, e.valeur_centimes, e.service, e.at, e.annule_at, \
             c.empreinte FROM encaissements e JOIN cheques c ON c.id = e.cheque_id WHERE {}",
            conditions.join(" OR ")
        );
        let found: Vec<Previous> = on_tx!(tx, c => {
            let mut q = sqlx::query_as(&sql);
            for (lieu, key) in chunk {
                q = q.bind(*lieu).bind(*key);
            }
            q.fetch_all(&mut *c).await?
        });
        for p in found {
            if let Some(key) = p.idempotence.clone() {
                out.insert((p.lieu_id, key), Deja::Enregistre(p));
            }
        }
    }
    Ok(out)
}

/// The group's writes: cheques marked redeemed, redemptions inserted (their
/// numbers, in the gains' order), failures counted, journal entries. `None`
/// when another transaction got there first.
async fn ecrire(tx: &mut Tx, keys: &Keys, etat: &Etat) -> Result<Option<Vec<i64>>> {
    let mut ids = Vec::with_capacity(etat.gains.len());
    for chunk in etat.gains.chunks(PAR_INSTRUCTION) {
        let sql = format!(
            "UPDATE cheques SET etat = 'encaisse', updated_at = $1 WHERE etat = 'actif' AND id IN ({})",
            params(2, chunk.len())
        );
        let now = tx.now_micros();
        let won = on_tx!(tx, c => {
            let mut q = sqlx::query(&sql).bind(now);
            for g in chunk {
                q = q.bind(g.cheque_id);
            }
            q.execute(&mut *c).await?.rows_affected()
        });
        if won != chunk.len() as u64 {
            return Ok(None);
        }
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", params(i * 11 + 1, 11)))
            .collect();
        let sql = format!(
            "INSERT INTO encaissements (cheque_id, carnet_id, commande_id, lieu_id, compte_id, cle_api_id, service, \
             valeur_centimes, jour, at, idempotence) VALUES {} RETURNING id, cheque_id",
            values.join(", ")
        );
        let inserted: std::result::Result<Vec<(i64, i64)>, sqlx::Error> = on_tx!(tx, c => {
            let mut q = sqlx::query_as(&sql);
            for g in chunk {
                let (account, api_key) = match g.counter {
                    redeem::Counter::Account(id) => (Some(id), None),
                    redeem::Counter::ApiKey(id) => (None, Some(id)),
                };
                q = q
                    .bind(g.cheque_id)
                    .bind(g.carnet_id)
                    .bind(g.commande_id)
                    .bind(g.place.id)
                    .bind(account)
                    .bind(api_key)
                    .bind(g.service)
                    .bind(g.valeur)
                    .bind(&g.jour)
                    .bind(g.at)
                    .bind(g.idempotence.as_deref());
            }
            q.fetch_all(&mut *c).await
        });
        let by_cheque: HashMap<i64, i64> = match inserted {
            Ok(rows) => rows.into_iter().map(|(id, cheque)| (cheque, id)).collect(),
            Err(e) if is_unique_violation(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        for g in chunk {
            match by_cheque.get(&g.cheque_id) {
                Some(id) => ids.push(*id),
                None => return Ok(None),
            }
        }
    }
    let mut failures: Vec<(&str, i64)> = etat.failures.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    failures.sort_unstable();
    ratelimit::add_failures(tx, &failures).await?;
    let entries = etat
        .gains
        .iter()
        .zip(&ids)
        .map(|(g, id)| {
            g.counter
                .entry(actions::CHEQUE_REDEEMED)
                .subject("cheque", g.cheque_id)
                .subject("lieu", g.place.id)
                .subject("encaissement", id)
                .details(json!({ "carnet": g.carnet_id, "service": g.service, "valeur_centimes": g.valeur }))
        })
        .collect();
    journal::append_all(tx, keys, entries).await?;
    Ok(Some(ids))
}
