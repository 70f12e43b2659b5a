//! Pages of the Pass Numérique cheques: the holder's page behind the QR code
//! (`/c/{code}`) and the counter page where place staff redeem (`/encaisser`).

use crate::forms::Path;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use passerelle_core::accounts::Role;
use passerelle_core::lieux::vocabulaires::Services;
use passerelle_core::pass_numerique::guichet::{self, Presentateur, Tentative};
use passerelle_core::pass_numerique::places::Place;
use passerelle_core::pass_numerique::redeem::{Motif, Outcome};
use serde::Deserialize;

use crate::auth::{render, ClientIp, CurrentUser, Visitor};
use crate::error::WebError;
use crate::templates::{ChequeEntryPage, ChequePage, CounterPage, CounterPlace, CounterResult};
use crate::AppState;

/// `/c/{code}`: tells anyone holding the cheque whether it is valid, until
/// when, and where to use it; offers the redemption to signed-in place staff.
pub async fn holder(
    State(state): State<AppState>,
    v: Visitor,
    ClientIp(ip): ClientIp,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    let l = v.layout("Votre chèque Pass Numérique", "/lieux");
    let Tentative::Faite(view) = guichet::consulter(&state.core, &ip, &code).await? else {
        return render(
            StatusCode::TOO_MANY_REQUESTS,
            ChequePage {
                l,
                valide: false,
                message: "Trop de codes erronés depuis votre réseau : réessayez dans quelques minutes.".into(),
                lieux: Vec::new(),
                redeem_code: None,
                erreur: None,
            },
        );
    };
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
            lieux: with_addresses(&state, view.lieux).await?,
            redeem_code: (staff && view.verdict.valide).then_some(code),
            erreur: None,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct EntryQuery {
    code: Option<String>,
}

/// `/c`: the holder types the code of his cheque (from the home page, or without a camera to
/// scan the QR code); `/c?code=…` leads to the cheque's page, as the QR code does. The code is
/// only in the query string here, which the logs never keep.
pub async fn entry(v: Visitor, Query(q): Query<EntryQuery>) -> Result<Response, WebError> {
    let l = v.layout("Vérifier mon chèque Pass Numérique", "/lieux");
    let typed = q.code.unwrap_or_default();
    let code: String = typed
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !code.is_empty() {
        return Ok(axum::response::Redirect::to(&format!("/c/{code}")).into_response());
    }
    let erreur = (!typed.is_empty()).then(|| "Saisissez le code imprimé sur le chèque, sous son QR code.".to_string());
    let status = if erreur.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(status, ChequeEntryPage { l, erreur })
}

/// The holder's places with their address (« 1 rue X, 33000 Bordeaux »), where to go.
async fn with_addresses(
    state: &AppState,
    lieux: Vec<(String, String, String)>,
) -> Result<Vec<(String, String, String)>, WebError> {
    let ids: Vec<String> = lieux.iter().map(|l| l.0.clone()).collect();
    let addresses = passerelle_core::lieux::store::adresses(&state.core.db, &ids).await?;
    Ok(lieux
        .into_iter()
        .map(|(id, nom, commune)| {
            let adresse = addresses.get(&id).cloned().unwrap_or(commune);
            (id, nom, adresse)
        })
        .collect())
}

#[derive(Debug, Deserialize)]
pub struct CounterQuery {
    code: Option<String>,
}

fn services_of(place: Option<&Place>) -> Vec<&'static str> {
    let offered: Vec<&'static str> = Services::ALL
        .iter()
        .filter(|s| place.is_some_and(|p| p.services.contains(**s)))
        .map(|s| s.label())
        .collect();
    if offered.is_empty() {
        Services::ALL.iter().map(|s| s.label()).collect()
    } else {
        offered
    }
}

/// The services a place offers, as labels.
fn offered(place: &Place) -> Vec<&'static str> {
    Services::ALL
        .iter()
        .filter(|s| place.services.contains(**s))
        .map(|s| s.label())
        .collect()
}

/// The staff's places, with which are qualified (only those redeem).
async fn staff_places(state: &AppState, u: &CurrentUser) -> Result<(Vec<Place>, Vec<i64>), WebError> {
    let places = guichet::lieux_du_personnel(&state.core, &u.principal).await?;
    let mut qualified = Vec::new();
    for p in &places {
        if passerelle_core::pass_numerique::places::is_qualified(&state.core.db, p.id).await? {
            qualified.push(p.id);
        }
    }
    Ok((places, qualified))
}

/// Of the services `list`, those the cheque's order pays for once its code is known (`allowed`,
/// empty: any); all of them when the place offers none of those, so that the refusal says why.
fn within(list: Vec<&'static str>, allowed: &[&'static str]) -> Vec<&'static str> {
    let kept: Vec<&'static str> = list.iter().copied().filter(|s| allowed.contains(s)).collect();
    if kept.is_empty() {
        list
    } else {
        kept
    }
}

fn page(
    u: &CurrentUser,
    (places, qualified): &(Vec<Place>, Vec<i64>),
    chosen: Option<i64>,
    (code, allowed): (String, &[&'static str]),
    service: String,
    result: Option<CounterResult>,
) -> CounterPage {
    // By default the first place that can redeem: never one that would be refused.
    let chosen = chosen
        .or_else(|| places.iter().find(|p| qualified.contains(&p.id)).map(|p| p.id))
        .or(places.first().map(|p| p.id));
    let place = places.iter().find(|p| Some(p.id) == chosen);
    CounterPage {
        l: u.layout("Encaisser un chèque", "/encaisser"),
        places: places
            .iter()
            .map(|p| CounterPlace {
                id: p.id,
                nom: p.nom.clone(),
                selected: Some(p.id) == chosen,
                qualified: qualified.contains(&p.id),
                services: within(offered(p), allowed).join("|"),
            })
            .collect(),
        none_qualified: !places.is_empty() && qualified.is_empty(),
        services: within(services_of(place), allowed)
            .into_iter()
            .map(|s| (s, s == service))
            .collect(),
        autorises: (!allowed.is_empty()).then(|| allowed.join(", ")),
        code,
        request_id: uuid::Uuid::new_v4().to_string(),
        result,
    }
}

pub async fn counter_page(
    State(state): State<AppState>,
    u: CurrentUser,
    ClientIp(ip): ClientIp,
    Query(q): Query<CounterQuery>,
) -> Result<Response, WebError> {
    let places = staff_places(&state, &u).await?;
    let code: String = q.code.unwrap_or_default().chars().take(40).collect();
    // From the cheque's page (« Encaisser ce chèque dans mon lieu »): the services offered are
    // those its order pays for, checked at the place the form presets.
    let preset = places.0.iter().find(|p| places.1.contains(&p.id));
    let allowed = match preset {
        Some(place) if !code.is_empty() => {
            let p = Presentateur::Personnel {
                who: &u.principal,
                ip: &ip,
            };
            match guichet::verifier(&state.core, p, place, &code, None).await? {
                Tentative::Faite(v) => v.services_autorises,
                Tentative::TropDeTentatives => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    render(
        StatusCode::OK,
        page(&u, &places, None, (code, &allowed), String::new(), None),
    )
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
    let places = staff_places(&state, &u).await?;
    let Some(place) = places.0.iter().find(|p| p.id == f.lieu) else {
        return Err(WebError::Forbidden);
    };
    let p = Presentateur::Personnel {
        who: &u.principal,
        ip: &ip,
    };
    let too_many = || {
        let r = CounterResult {
            ok: false,
            title: "Trop de codes erronés".into(),
            message: "Trop de codes erronés : réessayez dans quelques minutes.".into(),
            cancellable: None,
        };
        render(
            StatusCode::TOO_MANY_REQUESTS,
            page(
                &u,
                &places,
                Some(place.id),
                (f.code.clone(), &[]),
                f.service.clone(),
                Some(r),
            ),
        )
    };
    // Once the code is checked: the services its order pays for.
    let mut allowed: Vec<&'static str> = Vec::new();
    let (status, result, keep_code) = if f.action.as_deref() == Some("verifier") {
        match guichet::verifier(&state.core, p, place, &f.code, Some(&f.service)).await? {
            Tentative::TropDeTentatives => return too_many(),
            Tentative::Faite(v) => {
                let title = if v.valide { "Chèque valable" } else { "Chèque refusé" };
                allowed = v.services_autorises;
                (StatusCode::OK, (v.valide, title.to_string(), v.message, None), true)
            }
        }
    } else {
        let demande = f.demande.trim().chars().take(200).collect::<String>();
        let demande = Some(&demande).filter(|d| !d.is_empty()).map(String::as_str);
        match guichet::encaisser(&state.core, p, place, &f.code, &f.service, demande).await? {
            Tentative::TropDeTentatives => return too_many(),
            Tentative::Faite(outcome) => match outcome {
                Outcome::Redeemed(r) | Outcome::Replayed(r) => (
                    StatusCode::OK,
                    (
                        true,
                        "Chèque encaissé".to_string(),
                        format!(
                            "{} € pour « {} », encaissement n° {} (chèque {}, carnet n° {}).",
                            r.valeur_centimes.euros(),
                            r.service,
                            r.encaissement,
                            r.cheque,
                            r.carnet
                        ),
                        Some((place.id, r.encaissement)),
                    ),
                    false,
                ),
                Outcome::Refused(v) => {
                    allowed = v.services_autorises;
                    (
                        StatusCode::from_u16(v.motif.status()).unwrap_or(StatusCode::CONFLICT),
                        (false, "Chèque refusé".to_string(), v.message, None),
                        true,
                    )
                }
            },
        }
    };
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
            (code, &allowed),
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
    let places = staff_places(&state, &u).await?;
    let Some(place) = places.0.iter().find(|p| p.id == f.lieu) else {
        return Err(WebError::Forbidden);
    };
    let (status, result) = match guichet::annuler(&state.core, &u.principal, place, f.encaissement).await {
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
        page(
            &u,
            &places,
            Some(place.id),
            (String::new(), &[]),
            String::new(),
            Some(result),
        ),
    )
}
