//! The counter: the one door through which a cheque code is read, checked or
//! redeemed, whoever presents it (the holder on the cheque's page, a place's
//! staff at the counter page, a place's software through the API). It owns:
//! - who may present a code for which place (the place's own staff, or the
//!   place's own API key);
//! - the anti-guessing policy: failures (malformed or unknown codes) are
//!   counted per presenter and per network address, in the very transaction
//!   that looks at the code, so that a burst of parallel guesses gets no more
//!   evaluations than the limit. Past the limit, nothing is answered about the
//!   code ([`Tentative::TropDeTentatives`]).
//!
//! Every attempt goes through the group commit of
//! [`validation_groupee`](super::validation_groupee).
//!
//! The web pages and the API only parse their input and render the answer.

use super::authz::{authorize, Action};
use super::code::Code;
use super::places::{self, Place};
use super::redeem::{self, Counter, Demande, HolderView, Outcome, Verdict};
use super::validation_groupee::{self, Fait, Requete, Travail};
use crate::accounts::Principal;
use crate::error::{CoreError, Result};
use crate::Core;

/// Failed attempts (malformed or unknown codes) allowed per presenter in the window.
pub const ECHECS_PAR_PRESENTATEUR: i64 = 30;
/// Failed attempts allowed per network address through the API (several
/// places' software may share an address).
pub const ECHECS_API_PAR_ADRESSE: i64 = 60;
/// The window of the counts, in seconds.
pub const FENETRE_SECS: i64 = 15 * 60;

/// Who presents a cheque code.
#[derive(Debug, Clone, Copy)]
pub enum Presentateur<'a> {
    /// Anyone holding the cheque, on its page, from this address.
    Porteur { ip: &'a str },
    /// A place's staff, signed in, at the counter page.
    Personnel { who: &'a Principal, ip: &'a str },
    /// A place's software, by its API key (authenticated by [`cle_api`]).
    Logiciel { cle: &'a CleApi, ip: &'a str },
}

/// An API key found valid, and its place. Only [`cle_api`] makes one.
#[derive(Debug, Clone)]
pub struct CleApi {
    key_id: i64,
    pub lieu: Place,
}

/// The answer to an attempt: refused at once for too many failed attempts,
/// or made.
#[derive(Debug)]
pub enum Tentative<T> {
    TropDeTentatives,
    Faite(T),
}

/// The failure counters of a presenter: `(key, limit)`.
fn compteurs(p: Presentateur<'_>) -> Vec<(String, i64)> {
    match p {
        Presentateur::Porteur { ip } => vec![(format!("cheque-page-echecs-ip:{ip}"), ECHECS_PAR_PRESENTATEUR)],
        Presentateur::Personnel { who, ip } => vec![
            (
                format!("cheque-guichet-echecs-compte:{}", who.account_id),
                ECHECS_PAR_PRESENTATEUR,
            ),
            (format!("cheque-guichet-echecs-ip:{ip}"), ECHECS_PAR_PRESENTATEUR),
        ],
        Presentateur::Logiciel { cle, ip } => vec![
            (format!("cheques-echecs-cle:{}", cle.key_id), ECHECS_PAR_PRESENTATEUR),
            (format!("cheques-echecs-ip:{ip}"), ECHECS_API_PAR_ADRESSE),
        ],
    }
}

/// Runs one attempt under the anti-guessing policy, in the next group commit:
/// past the limit nothing is looked at; a malformed or unknown code counts as
/// a failure, in the same transaction.
async fn tenter(core: &Core, p: Presentateur<'_>, travail: Travail) -> Result<Tentative<Fait>> {
    let requete = Requete {
        compteurs: compteurs(p),
        fenetre_secs: FENETRE_SECS,
        travail,
    };
    Ok(match validation_groupee::soumettre(core, requete).await? {
        Fait::TropDeTentatives => Tentative::TropDeTentatives,
        fait => Tentative::Faite(fait),
    })
}

/// Whether the presenter acts for this place: its own staff, or its own API
/// key. Fails closed.
fn lieu_du(p: Presentateur<'_>, lieu: &Place) -> Result<()> {
    match p {
        Presentateur::Personnel { who, .. } => authorize(
            who,
            Action::Redeem {
                owner: lieu.organisation_id,
            },
        ),
        Presentateur::Logiciel { cle, .. } if cle.lieu.id == lieu.id => Ok(()),
        Presentateur::Logiciel { .. } => Err(CoreError::Forbidden),
        Presentateur::Porteur { .. } => Err(CoreError::Forbidden),
    }
}

fn counter_of(p: Presentateur<'_>) -> Result<Counter> {
    match p {
        Presentateur::Personnel { who, .. } => Ok(Counter::Account(who.account_id)),
        Presentateur::Logiciel { cle, .. } => Ok(Counter::ApiKey(cle.key_id)),
        Presentateur::Porteur { .. } => Err(CoreError::Forbidden),
    }
}

/// The places a signed-in person may redeem for: those of his organisation,
/// when he is a place's staff. Fails closed for every other role.
pub async fn lieux_du_personnel(core: &Core, who: &Principal) -> Result<Vec<Place>> {
    authorize(
        who,
        Action::Redeem {
            owner: Some(who.organisation_id),
        },
    )?;
    places::of_organisation(&core.db, who.organisation_id).await
}

/// A place's software: its API key (`pn_…`) and its place, or `None` for a
/// wrong or revoked key.
pub async fn cle_api(core: &Core, key: &str) -> Result<Option<CleApi>> {
    Ok(places::of_api_key(&core.db, key)
        .await?
        .map(|(key_id, lieu)| CleApi { key_id, lieu }))
}

/// The holder's view of a cheque: valid or not, until when, where to use it.
pub async fn consulter(core: &Core, ip: &str, code: &str) -> Result<Tentative<HolderView>> {
    let travail = match Code::parse(code) {
        Ok(code) => Travail::Consulter {
            code,
            today: core.db.horloge().today_paris(),
        },
        Err(_) => Travail::MalSaisi,
    };
    Ok(match tenter(core, Presentateur::Porteur { ip }, travail).await? {
        Tentative::TropDeTentatives => Tentative::TropDeTentatives,
        Tentative::Faite(Fait::Vue(verdict, perimetre)) => {
            let lieux = match perimetre {
                Some(p) => places::accepting(&core.db, &p).await?,
                None => Vec::new(),
            };
            Tentative::Faite(HolderView { verdict, lieux })
        }
        Tentative::Faite(fait) => Tentative::Faite(HolderView {
            verdict: verdict_of(fait)?,
            lieux: Vec::new(),
        }),
    })
}

/// The verdict of a check (or of a code that does not read).
fn verdict_of(fait: Fait) -> Result<Verdict> {
    match fait {
        Fait::Verdict(v) | Fait::Vue(v, _) | Fait::Encaissement(Outcome::Refused(v)) => Ok(v),
        other => Err(CoreError::Io(format!("réponse inattendue du guichet : {other:?}"))),
    }
}

/// Whether a cheque could be redeemed at this place now (optionally for a
/// service), without using it.
pub async fn verifier(
    core: &Core,
    p: Presentateur<'_>,
    lieu: &Place,
    code: &str,
    service: Option<&str>,
) -> Result<Tentative<Verdict>> {
    lieu_du(p, lieu)?;
    let travail = match Code::parse(code) {
        Ok(code) => Travail::Verifier {
            place: lieu.clone(),
            code,
            service: service.map(str::to_string),
            today: core.db.horloge().today_paris(),
        },
        Err(_) => Travail::MalSaisi,
    };
    Ok(match tenter(core, p, travail).await? {
        Tentative::TropDeTentatives => Tentative::TropDeTentatives,
        Tentative::Faite(fait) => Tentative::Faite(verdict_of(fait)?),
    })
}

/// Redeems a cheque at this place, exactly once per idempotency key.
pub async fn encaisser(
    core: &Core,
    p: Presentateur<'_>,
    lieu: &Place,
    code: &str,
    service: &str,
    idempotence: Option<&str>,
) -> Result<Tentative<Outcome>> {
    lieu_du(p, lieu)?;
    let counter = counter_of(p)?;
    let today = core.db.horloge().today_paris();
    let travail = match Demande::new(counter, lieu, code, service, idempotence, today)? {
        Ok(d) => Travail::Encaisser(d),
        Err(_) => Travail::MalSaisi,
    };
    Ok(match tenter(core, p, travail).await? {
        Tentative::TropDeTentatives => Tentative::TropDeTentatives,
        Tentative::Faite(Fait::Encaissement(o)) => Tentative::Faite(o),
        Tentative::Faite(fait) => Tentative::Faite(Outcome::Refused(verdict_of(fait)?)),
    })
}

/// Several redemptions presented at once by the same presenter, run as one
/// group, in this order, in one transaction (what the group commit does with
/// requests that wait together; tests and benchmarks call it to fix the group).
pub async fn encaisser_ensemble(
    core: &Core,
    p: Presentateur<'_>,
    lieu: &Place,
    demandes: &[(&str, &str, Option<&str>)],
) -> Result<Vec<Tentative<Outcome>>> {
    lieu_du(p, lieu)?;
    let counter = counter_of(p)?;
    let today = core.db.horloge().today_paris();
    let mut requetes = Vec::with_capacity(demandes.len());
    for (code, service, idempotence) in demandes {
        let travail = match Demande::new(counter, lieu, code, service, *idempotence, today)? {
            Ok(d) => Travail::Encaisser(d),
            Err(_) => Travail::MalSaisi,
        };
        requetes.push(Requete {
            compteurs: compteurs(p),
            fenetre_secs: FENETRE_SECS,
            travail,
        });
    }
    validation_groupee::ensemble(&core.db, &core.keys, &requetes)
        .await?
        .into_iter()
        .map(|fait| {
            Ok(match fait {
                Fait::TropDeTentatives => Tentative::TropDeTentatives,
                Fait::Encaissement(o) => Tentative::Faite(o),
                other => Tentative::Faite(Outcome::Refused(verdict_of(other)?)),
            })
        })
        .collect()
}

/// A place's staff cancel their own redemption (a mistake), within 24 hours.
pub async fn annuler(core: &Core, who: &Principal, lieu: &Place, encaissement: i64) -> Result<()> {
    authorize(
        who,
        Action::Redeem {
            owner: lieu.organisation_id,
        },
    )?;
    redeem::cancel(core, Counter::Account(who.account_id), lieu, encaissement).await
}
