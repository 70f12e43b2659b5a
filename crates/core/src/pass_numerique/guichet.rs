//! The counter: the one door through which a cheque code is read, checked or
//! redeemed, whoever presents it (the holder on the cheque's page, a place's
//! staff at the counter page, a place's software through the API). It owns:
//! - who may present a code for which place (the place's own staff, or the
//!   place's own API key);
//! - the anti-guessing policy: every attempt is counted as a failure before
//!   the code is looked at, per presenter and per network address, and the
//!   count is given back unless the code was malformed or unknown. Past the
//!   limit, nothing is looked at ([`Tentative::TropDeTentatives`]).
//!
//! The web pages and the API only parse their input and render the answer.

use super::authz::{authorize, Action};
use super::places::{self, Place};
use super::redeem::{self, Counter, HolderView, Motif, Outcome, Verdict};
use crate::accounts::Principal;
use crate::error::{CoreError, Result};
use crate::ratelimit::{self, Counted};
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

/// Whether a refusal reason means the code itself was wrong (a guess).
fn devine(m: Motif) -> bool {
    matches!(m, Motif::CodeMalSaisi | Motif::ChequeInconnu)
}

async fn compter(core: &Core, p: Presentateur<'_>) -> Result<Option<Counted>> {
    let keys: Vec<(String, i64)> = match p {
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
    };
    let limits: Vec<(&str, i64)> = keys.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    ratelimit::count_failure(&core.db, &limits, FENETRE_SECS).await
}

/// Keeps the count when the code was a guess, gives it back otherwise
/// (`motif` is `None` when no verdict was reached).
async fn solder(core: &Core, counted: Counted, motif: Option<Motif>) {
    let done = if motif.is_some_and(devine) {
        counted.keep(&core.db).await
    } else {
        counted.refund(&core.db).await
    };
    if let Err(e) = done {
        tracing::error!(erreur = %e, "compteur d'échecs des chèques");
    }
}

/// Runs one attempt under the anti-guessing policy.
async fn tenter<T, F>(core: &Core, p: Presentateur<'_>, motif: fn(&T) -> Motif, attempt: F) -> Result<Tentative<T>>
where
    F: std::future::Future<Output = Result<T>>,
{
    let Some(counted) = compter(core, p).await? else {
        return Ok(Tentative::TropDeTentatives);
    };
    let result = attempt.await;
    solder(core, counted, result.as_ref().ok().map(motif)).await;
    result.map(Tentative::Faite)
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
    match places::authenticate(&core.db, key).await? {
        Some((key_id, place_id)) => Ok(Some(CleApi {
            key_id,
            lieu: places::by_id(&core.db, place_id).await?,
        })),
        None => Ok(None),
    }
}

/// The holder's view of a cheque: valid or not, until when, where to use it.
pub async fn consulter(core: &Core, ip: &str, code: &str) -> Result<Tentative<HolderView>> {
    let p = Presentateur::Porteur { ip };
    tenter(core, p, |v: &HolderView| v.verdict.motif, async {
        redeem::holder_view(core, code, core.db.horloge().today_paris()).await
    })
    .await
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
    tenter(core, p, |v: &Verdict| v.motif, async {
        redeem::check(core, lieu, code, service, core.db.horloge().today_paris()).await
    })
    .await
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
    let motif = |o: &Outcome| match o {
        Outcome::Refused(v) => v.motif,
        Outcome::Redeemed(_) | Outcome::Replayed(_) => Motif::Valide,
    };
    tenter(core, p, motif, async {
        redeem::redeem(
            core,
            counter,
            lieu,
            code,
            service,
            idempotence,
            core.db.horloge().today_paris(),
        )
        .await
    })
    .await
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
