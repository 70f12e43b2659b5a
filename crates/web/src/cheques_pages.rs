//! Pages of the Pass Numérique cheques: the holder's page behind the QR code
//! (`/c/{code}`) and the counter page where place staff redeem (`/encaisser`).

use crate::forms::Path;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use passerelle_core::accounts::Role;
use passerelle_core::lieux::vocabulaires::Services;
use passerelle_core::pass_numerique::authz::{authorize, Action};
use passerelle_core::pass_numerique::places::{self, Place};
use passerelle_core::pass_numerique::redeem::{self, Counter, Motif, Outcome};
use passerelle_core::ratelimit;
use serde::Deserialize;

use crate::auth::{render, ClientIp, CurrentUser, Visitor};
use crate::error::WebError;
use crate::templates::{ChequePage, CounterPage, CounterResult};
use crate::AppState;

const FAILURES: i64 = 30;
const WINDOW_SECS: i64 = 15 * 60;

fn guessing(m: Motif) -> bool {
    matches!(m, Motif::CodeMalSaisi | Motif::ChequeInconnu)
}

/// After a check counted as a failure in advance ([`ratelimit::count_failure`]):
/// the count stays when the code was malformed or unknown (guessing), and is
/// given back otherwise (`motif` is `None` when no code was evaluated).
pub(crate) async fn settle(state: &AppState, counted: ratelimit::Counted, motif: Option<Motif>) {
    let db = &state.core.db;
    let done = if motif.is_some_and(guessing) {
        counted.keep(db).await
    } else {
        counted.refund(db).await
    };
    if let Err(e) = done {
        tracing::error!(erreur = %e, "compteur d'échecs des chèques");
    }
}

/// `/c/{code}`: tells anyone holding the cheque whether it is valid, until
/// when, and where to use it; offers the redemption to signed-in place staff.
pub async fn holder(
    State(state): State<AppState>,
    v: Visitor,
    ClientIp(ip): ClientIp,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    let key = format!("cheque-page-echecs-ip:{ip}");
    let l = v.layout("Votre chèque Pass Numérique", "/lieux");
    let Some(counted) = ratelimit::count_failure(&state.core.db, &[(&key, FAILURES)], WINDOW_SECS).await? else {
        return render(
            StatusCode::TOO_MANY_REQUESTS,
            ChequePage {
                l,
                valide: false,
                message: "Trop de codes erronés depuis votre réseau : réessayez dans quelques minutes.".into(),
                lieux: Vec::new(),
                redeem_code: None,
            },
        );
    };
    let view = redeem::holder_view(&state.core, &code, state.core.db.horloge().today_paris()).await;
    settle(&state, counted, view.as_ref().ok().map(|v| v.verdict.motif)).await;
    let view = view?;
    let staff = v.user.as_ref().is_some_and(|u| u.principal.role == Role::Lieu);
    let status = if view.verdict.motif == Motif::ChequeInconnu {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    render(
        status,
        ChequePage {
            l,
            valide: view.verdict.valide,
            message: view.verdict.message,
            lieux: view.lieux,
            redeem_code: (staff && view.verdict.valide).then_some(code),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct CounterQuery {
    code: Option<String>,
}

/// The places the signed-in staff may redeem for (fails closed for other roles).
async fn my_places(state: &AppState, u: &CurrentUser) -> Result<Vec<Place>, WebError> {
    authorize(
        &u.principal,
        Action::Redeem {
            owner: Some(u.principal.organisation_id),
        },
    )?;
    Ok(places::of_organisation(&state.core.db, u.principal.organisation_id).await?)
}

fn services_of(place: Option<&Place>) -> Vec<&'static str> {
    let offered: Vec<&'static str> = Services::ALL
        .iter()
        .map(|s| s.label())
        .filter(|l| place.is_some_and(|p| p.services.split('|').any(|x| x == *l)))
        .collect();
    if offered.is_empty() {
        Services::ALL.iter().map(|s| s.label()).collect()
    } else {
        offered
    }
}

fn page(
    u: &CurrentUser,
    places: &[Place],
    chosen: Option<i64>,
    code: String,
    service: String,
    result: Option<CounterResult>,
) -> CounterPage {
    let chosen = chosen.or(places.first().map(|p| p.id));
    let place = places.iter().find(|p| Some(p.id) == chosen);
    CounterPage {
        l: u.layout("Encaisser un chèque", "/encaisser"),
        places: places
            .iter()
            .map(|p| (p.id, p.nom.clone(), Some(p.id) == chosen))
            .collect(),
        services: services_of(place).into_iter().map(|s| (s, s == service)).collect(),
        code,
        request_id: uuid::Uuid::new_v4().to_string(),
        result,
    }
}

pub async fn counter_page(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<CounterQuery>,
) -> Result<Response, WebError> {
    let places = my_places(&state, &u).await?;
    let code = q.code.unwrap_or_default().chars().take(40).collect();
    render(StatusCode::OK, page(&u, &places, None, code, String::new(), None))
}

#[derive(Debug, Deserialize)]
pub struct CounterForm {
    lieu: i64,
    code: String,
    service: String,
    demande: String,
    action: Option<String>,
}

pub async fn counter_submit(
    State(state): State<AppState>,
    u: CurrentUser,
    ClientIp(ip): ClientIp,
    Form(f): Form<CounterForm>,
) -> Result<Response, WebError> {
    let places = my_places(&state, &u).await?;
    let Some(place) = places.iter().find(|p| p.id == f.lieu) else {
        return Err(WebError::Forbidden);
    };
    let keys = [
        format!("cheque-guichet-echecs-compte:{}", u.principal.account_id),
        format!("cheque-guichet-echecs-ip:{ip}"),
    ];
    let limits = [(keys[0].as_str(), FAILURES), (keys[1].as_str(), FAILURES)];
    let counted = ratelimit::count_failure(&state.core.db, &limits, WINDOW_SECS).await?;
    let Some(counted) = counted else {
        let r = CounterResult {
            ok: false,
            title: "Trop de codes erronés".into(),
            message: "Trop de codes erronés : réessayez dans quelques minutes.".into(),
            cancellable: None,
        };
        return render(
            StatusCode::TOO_MANY_REQUESTS,
            page(&u, &places, Some(place.id), f.code, f.service, Some(r)),
        );
    };
    let today = state.core.db.horloge().today_paris();
    let evaluated = async {
        Ok::<_, WebError>(if f.action.as_deref() == Some("verifier") {
            let v = redeem::check(&state.core, place, &f.code, Some(&f.service), today).await?;
            let title = if v.valide { "Chèque valable" } else { "Chèque refusé" };
            (
                StatusCode::OK,
                (v.valide, title.to_string(), v.message, None),
                true,
                v.motif,
            )
        } else {
            let demande = f.demande.trim().chars().take(200).collect::<String>();
            let outcome = redeem::redeem(
                &state.core,
                Counter::Account(u.principal.account_id),
                place,
                &f.code,
                &f.service,
                Some(&demande).filter(|d| !d.is_empty()).map(String::as_str),
                today,
            )
            .await?;
            match outcome {
                Outcome::Redeemed(r) | Outcome::Replayed(r) => (
                    StatusCode::OK,
                    (
                        true,
                        "Chèque encaissé".to_string(),
                        format!(
                            "{} € pour « {} », encaissement n° {} (chèque {}, carnet n° {}).",
                            redeem::euros(r.valeur_centimes),
                            r.service,
                            r.encaissement,
                            r.cheque,
                            r.carnet
                        ),
                        Some((place.id, r.encaissement)),
                    ),
                    false,
                    Motif::Valide,
                ),
                Outcome::Refused(v) => (
                    StatusCode::from_u16(v.motif.status()).unwrap_or(StatusCode::CONFLICT),
                    (false, "Chèque refusé".to_string(), v.message, None),
                    true,
                    v.motif,
                ),
            }
        })
    }
    .await;
    settle(&state, counted, evaluated.as_ref().ok().map(|e| e.3)).await;
    let (status, result, keep_code, _) = evaluated?;
    let (ok, title, message, cancellable) = result;
    let code = if keep_code {
        f.code.chars().take(40).collect()
    } else {
        String::new()
    };
    render(
        status,
        page(
            &u,
            &places,
            Some(place.id),
            code,
            f.service,
            Some(CounterResult {
                ok,
                title,
                message,
                cancellable,
            }),
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct CancelForm {
    lieu: i64,
    encaissement: i64,
}

/// A place cancels its own redemption (a mistake), within 24 hours.
pub async fn cancel_submit(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<CancelForm>,
) -> Result<Response, WebError> {
    let places = my_places(&state, &u).await?;
    let Some(place) = places.iter().find(|p| p.id == f.lieu) else {
        return Err(WebError::Forbidden);
    };
    let (status, result) = match redeem::cancel(
        &state.core,
        Counter::Account(u.principal.account_id),
        place,
        f.encaissement,
    )
    .await
    {
        Ok(()) => (
            StatusCode::OK,
            CounterResult {
                ok: true,
                title: "Encaissement annulé".into(),
                message: format!(
                    "L'encaissement n° {} est annulé : le chèque peut de nouveau être utilisé.",
                    f.encaissement
                ),
                cancellable: None,
            },
        ),
        Err(passerelle_core::CoreError::Conflict(m)) => (
            StatusCode::CONFLICT,
            CounterResult {
                ok: false,
                title: "Annulation impossible".into(),
                message: m,
                cancellable: None,
            },
        ),
        Err(e) => return Err(e.into()),
    };
    render(
        status,
        page(&u, &places, Some(place.id), String::new(), String::new(), Some(result)),
    )
}
