//! The opérateur's side of Aidants Connect: habilitation requests (list,
//! detail, decision) and the training of aidants.

use crate::forms::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::aidants_connect::authz::{authorize, Action};
use passerelle_core::aidants_connect::structures::{self, Habilitation, HabilitationState};
use passerelle_core::aidants_connect::{aidants, demarches, review};
use serde::Deserialize;

use crate::auth::{render, CurrentUser};
use crate::error::{refusal_message, WebError};
use crate::forms::{Form, Query};
use crate::templates::{horodatage, Layout};
use crate::AppState;

pub struct Row {
    pub id: i64,
    pub nom: String,
    pub siret: String,
    pub type_label: String,
    pub aidants: usize,
    pub etat: &'static str,
    pub date: String,
}

#[derive(Template)]
#[template(path = "aidants_connect/aidants-habilitations.html")]
pub struct ListPage {
    pub l: Layout,
    pub states: Vec<(&'static str, &'static str, bool)>,
    pub rows: Vec<Row>,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    etat: Option<String>,
    ok: Option<String>,
}

/// GET `/operateur/habilitations`.
pub async fn list(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let etat = q.etat.unwrap_or_else(|| HabilitationState::Deposee.key().to_string());
    // « toutes », a state, or an unknown key (which lists nothing).
    let found = match (etat.as_str(), HabilitationState::from_key(&etat)) {
        ("toutes", _) => structures::list(&state.core, &u.principal, None).await?,
        (_, Some(s)) => structures::list(&state.core, &u.principal, Some(s)).await?,
        (_, None) => {
            authorize(&u.principal, Action::Review)?;
            Vec::new()
        }
    };
    let rows = found
        .into_iter()
        .map(|h| Row {
            id: h.id,
            type_label: structures::type_label(&h.type_structure).to_string(),
            aidants: h.aidants.len(),
            etat: h.etat.label(),
            date: horodatage(h.updated_at),
            nom: h.nom,
            siret: h.siret,
        })
        .collect();
    let states = [
        (HabilitationState::Deposee.key(), "Déposées, à instruire"),
        (HabilitationState::AModifier.key(), "Modifications demandées"),
        (HabilitationState::Acceptee.key(), "Acceptées"),
        (HabilitationState::Refusee.key(), "Refusées"),
        ("toutes", "Toutes"),
    ]
    .into_iter()
    .map(|(k, l)| (k, l, k == etat))
    .collect();
    render(
        StatusCode::OK,
        ListPage {
            l: u.layout("Habilitations Aidants Connect", "/operateur/habilitations"),
            states,
            rows,
        },
    )
}

#[derive(Template)]
#[template(path = "aidants_connect/aidants-habilitation-instruction.html")]
pub struct DetailPage {
    pub l: Layout,
    pub error: Option<String>,
    pub message: Option<String>,
    pub h: Habilitation,
    pub type_label: String,
    pub etat: &'static str,
    pub demarches: Vec<&'static str>,
    pub history: Vec<(&'static str, String, String)>,
    pub can_decide: bool,
}

async fn detail_page(
    state: &AppState,
    u: &CurrentUser,
    id: i64,
    error: Option<String>,
    message: Option<String>,
) -> Result<Response, WebError> {
    let (h, history) = structures::get(&state.core, &u.principal, id).await?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        DetailPage {
            l: u.layout(&format!("Demande d'habilitation n° {id}"), "/operateur/habilitations"),
            error,
            message,
            type_label: structures::type_label(&h.type_structure).to_string(),
            etat: h.etat.label(),
            demarches: demarches::ALL
                .iter()
                .filter(|(k, _)| h.demarches.iter().any(|d| d == k))
                .map(|(_, l)| *l)
                .collect(),
            history: history
                .into_iter()
                .map(|(e, m, at)| (e.label(), m, horodatage(at)))
                .collect(),
            can_decide: h.etat == HabilitationState::Deposee,
            h,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct Done {
    ok: Option<String>,
}

/// GET `/operateur/habilitations/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    let message =
        q.ok.map(|_| "La décision est enregistrée et la structure en est prévenue.".to_string());
    detail_page(&state, &u, id, None, message).await
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    message: String,
}

/// POST `/operateur/habilitations/{id}/decision`.
pub async fn decide(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, WebError> {
    let base_url = state.config.base_url.as_str();
    match review::decide_form(&state.core, &u.principal, id, &f.decision, &f.message, base_url).await {
        Ok(()) => Ok(Redirect::to(&format!("/operateur/habilitations/{id}?ok=decision")).into_response()),
        Err(e) => {
            let m = refusal_message(e)?;
            detail_page(&state, &u, id, Some(m), None).await
        }
    }
}

pub struct TraineeRow {
    pub id: i64,
    pub nom: String,
    pub courriel: String,
    pub structures: String,
    pub formee: String,
    pub test: String,
}

#[derive(Template)]
#[template(path = "aidants_connect/aidants-formations.html")]
pub struct TrainingPage {
    pub l: Layout,
    pub error: Option<String>,
    pub message: Option<String>,
    pub rows: Vec<TraineeRow>,
}

async fn training_page(
    state: &AppState,
    u: &CurrentUser,
    error: Option<String>,
    message: Option<String>,
) -> Result<Response, WebError> {
    let rows = aidants::to_train(&state.core, &u.principal)
        .await?
        .into_iter()
        .map(|t| TraineeRow {
            id: t.account_id,
            nom: t.nom,
            courriel: t.courriel,
            structures: t.structures.join(", "),
            // Days typed by the opérateur (kept at noon UTC): no time.
            formee: t
                .formee_at
                .map(passerelle_core::dates_fr::jour)
                .unwrap_or_else(|| "à former".into()),
            test: t
                .test_reussi_at
                .map(passerelle_core::dates_fr::jour)
                .unwrap_or_else(|| "à passer".into()),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        TrainingPage {
            l: u.layout("Formation des aidants", "/operateur/habilitations"),
            error,
            message,
            rows,
        },
    )
}

/// GET `/operateur/aidants`.
pub async fn training(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let message = q.ok.map(|_| "La formation est enregistrée.".to_string());
    training_page(&state, &u, None, message).await
}

#[derive(Deserialize)]
pub struct TrainingForm {
    #[serde(default)]
    formee_le: String,
    #[serde(default)]
    test_le: String,
}

/// POST `/operateur/aidants/{id}/formation`.
pub async fn record_training(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<TrainingForm>,
) -> Result<Response, WebError> {
    match aidants::record_training_form(&state.core, &u.principal, id, &f.formee_le, &f.test_le).await {
        Ok(()) => Ok(Redirect::to("/operateur/aidants?ok=1").into_response()),
        Err(e) => {
            let m = refusal_message(e)?;
            training_page(&state, &u, Some(m), None).await
        }
    }
}
