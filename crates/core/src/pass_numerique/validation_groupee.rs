//! Group commit at the counter: the cheque codes presented while a
//! transaction is committing wait for it, then go together in the next one.
//!
//! One task per process (per [`Core`]) takes every waiting request and
//! evaluates them together inside one write transaction
//! ([`validation_lot`](super::validation_lot): their failure counters, their
//! rules request by request, their redemptions), appends their journal entries,
//! and commits once: one `fsync` for the whole group. Each request is answered
//! only after that commit. Each is still all-or-nothing with its journal entry,
//! since the group is: when the group fails as a whole (an error, a race lost to
//! another instance on PostgreSQL), nothing of it is kept and every request of
//! the group runs again alone, in its own transaction; when the database cannot
//! be reached, every request gets that error at once (503), without a rerun.
//!
//! Nothing here is shared between instances: the database still decides
//! (conditional writes, unique indexes, row locks), so two instances, each
//! with its own task, stay exactly-once.

use std::sync::{Arc, OnceLock};

use jiff::civil::Date;
use tokio::sync::{mpsc, oneshot};

use super::code::Code;
use super::model::Perimetre;
use super::places::Place;
use super::redeem::{Demande, Motif, Outcome, Verdict};
use crate::db::Db;
use crate::error::{CoreError, Result};
use crate::keys::Keys;

/// The most requests one transaction takes.
const MAX_GROUPE: usize = 128;
/// Requests waiting beyond this make their senders wait (back-pressure).
const FILE: usize = 4_096;

/// What is asked at the counter.
#[derive(Debug, Clone)]
pub(crate) enum Travail {
    Encaisser(Demande),
    Verifier {
        place: Place,
        code: Code,
        service: Option<String>,
        today: Date,
    },
    Consulter {
        code: Code,
        today: Date,
    },
    /// A code that does not read: nothing to look up, a failure to count.
    MalSaisi,
}

/// The answer, before the guichet shapes it for its caller.
#[derive(Debug)]
pub(crate) enum Fait {
    Encaissement(Outcome),
    Verdict(Verdict),
    Vue(Verdict, Option<Perimetre>),
    /// Too many failures on one of the counters: nothing is answered about the code
    /// (its row may have been read with the group's, never shown).
    TropDeTentatives,
}

impl Fait {
    pub(crate) fn motif(&self) -> Option<Motif> {
        match self {
            Fait::Encaissement(Outcome::Refused(v)) | Fait::Verdict(v) | Fait::Vue(v, _) => Some(v.motif),
            Fait::Encaissement(_) => Some(Motif::Valide),
            Fait::TropDeTentatives => None,
        }
    }
}

/// One request: its failure counters `(key, limit)` and its work.
#[derive(Debug, Clone)]
pub(crate) struct Requete {
    pub compteurs: Vec<(String, i64)>,
    pub fenetre_secs: i64,
    pub travail: Travail,
}

struct Envoi {
    requete: Requete,
    reponse: oneshot::Sender<Result<Fait>>,
}

/// The process's queue to its committing task, started on first use.
#[derive(Clone, Default)]
pub struct File(Arc<OnceLock<mpsc::Sender<Envoi>>>);

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("File")
    }
}

/// Whether a refusal means the code itself was wrong (a guess): it counts as a failure.
pub(crate) fn devine(m: Motif) -> bool {
    matches!(m, Motif::CodeMalSaisi | Motif::ChequeInconnu)
}

/// Runs `requete` in the next group of `core`'s queue and waits for its commit.
pub(crate) async fn soumettre(core: &crate::Core, requete: Requete) -> Result<Fait> {
    let sender = core.file.0.get_or_init(|| {
        let (tx, rx) = mpsc::channel(FILE);
        tokio::spawn(tache(core.db.clone(), core.keys.clone(), rx));
        tx
    });
    let (reponse, recu) = oneshot::channel();
    let envoi = Envoi { requete, reponse };
    match sender.send(envoi).await {
        Ok(()) => recu
            .await
            .map_err(|_| CoreError::Unavailable("la validation groupée s'est arrêtée avant de répondre".into()))?,
        // The task is gone (its runtime ended, or it failed): the request runs alone here.
        Err(mpsc::error::SendError(envoi)) => {
            tracing::warn!("validation groupée arrêtée : la demande passe seule");
            seule(&core.db, &core.keys, &envoi.requete).await
        }
    }
}

async fn tache(db: Db, keys: Keys, mut rx: mpsc::Receiver<Envoi>) {
    let mut lot = Vec::with_capacity(MAX_GROUPE);
    while rx.recv_many(&mut lot, MAX_GROUPE).await > 0 {
        let (requetes, reponses): (Vec<Requete>, Vec<_>) = lot.drain(..).map(|e| (e.requete, e.reponse)).unzip();
        match groupe(&db, &keys, &requetes).await {
            Ok(Some(faits)) => {
                for (r, f) in reponses.into_iter().zip(faits) {
                    let _ = r.send(Ok(f));
                }
            }
            // The database cannot be reached (or is locked beyond its wait):
            // running each request again would only wait again.
            Err(e) if e.is_unavailable() => {
                let message = e.to_string();
                for r in reponses {
                    let _ = r.send(Err(CoreError::Unavailable(message.clone())));
                }
            }
            // Alone already: its error is its answer.
            Err(e) if requetes.len() == 1 => {
                if let Some(r) = reponses.into_iter().next() {
                    let _ = r.send(Err(e));
                }
            }
            outcome => {
                if let Err(e) = &outcome {
                    tracing::warn!(erreur = %e, demandes = requetes.len(), "validation groupée : chaque demande repasse seule");
                }
                for (requete, r) in requetes.iter().zip(reponses) {
                    let _ = r.send(seule(&db, &keys, requete).await);
                }
            }
        }
    }
}

/// These requests as one group, run again (as a group) until it does not lose a race.
pub(crate) async fn ensemble(db: &Db, keys: &Keys, requetes: &[Requete]) -> Result<Vec<Fait>> {
    for _ in 0..ESSAIS {
        if let Some(faits) = groupe(db, keys, requetes).await? {
            return Ok(faits);
        }
    }
    Err(perdu())
}

/// Races lost in a row before a request gives up (each one means another
/// transaction changed the same cheques meanwhile).
const ESSAIS: usize = 8;

/// Transient: the same request (same idempotency key) may be sent again (503 with `Retry-After`).
fn perdu() -> CoreError {
    CoreError::Unavailable("trop d'encaissements simultanés des mêmes chèques : renvoyez la même demande".into())
}

/// One request in its own transaction, run again until it does not lose a race.
pub(crate) async fn seule(db: &Db, keys: &Keys, requete: &Requete) -> Result<Fait> {
    ensemble(db, keys, std::slice::from_ref(requete))
        .await?
        .pop()
        .ok_or_else(perdu)
}

/// The requests in one transaction, in order; `None` when the group lost a
/// race and nothing was kept.
async fn groupe(db: &Db, keys: &Keys, requetes: &[Requete]) -> Result<Option<Vec<Fait>>> {
    let mut tx = db.begin().await?;
    match super::validation_lot::evaluer(&mut tx, keys, requetes).await? {
        Some(faits) => {
            tx.commit().await?;
            Ok(Some(faits))
        }
        None => {
            tx.rollback().await?;
            Ok(None)
        }
    }
}
