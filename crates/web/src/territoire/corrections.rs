//! Corrections of places' data: the hub proposes from the place
//! (`/hub/lieux/{id}/correction`) and follows its proposals
//! (`/hub/corrections`); the place's staff (`/lieu/corrections`) or the
//! opérateur (`/operateur/corrections`) accepts or refuses them.

use std::collections::BTreeMap;

use crate::forms::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::territoire::authz::Desk;
use passerelle_core::territoire::corrections::{self, field_label, Correction, CorrectionState, FIELDS};
use passerelle_core::CoreError;
use serde::Deserialize;

use crate::auth::{render, CurrentUser};
use crate::error::{refusal_message, WebError};
use crate::forms::{Form, Query};
use crate::templates::{horodatage, Layout};
use crate::AppState;

/// A correction, formatted for the lists.
pub struct Item {
    pub id: i64,
    pub lieu_ext_id: String,
    pub lieu_nom: String,
    pub commune: String,
    pub departement: String,
    pub hub: String,
    pub auteur: String,
    /// (label, before, proposed).
    pub changements: Vec<(String, String, String)>,
    pub commentaire: String,
    pub etat: &'static str,
    pub waiting: bool,
    pub motif: String,
    pub date: String,
    pub decided: String,
}

/// A stored value as people read it: a phone number in pairs, a list (`a|b`) with commas.
fn shown(field: &str, value: &str) -> String {
    if field == "telephone" {
        passerelle_core::format_fr::telephone(value)
    } else {
        value.split('|').collect::<Vec<_>>().join(", ")
    }
}

fn item(c: Correction) -> Item {
    Item {
        id: c.id,
        waiting: c.etat == CorrectionState::Proposee,
        etat: c.etat.label(),
        lieu_ext_id: c.lieu_ext_id,
        lieu_nom: c.lieu_nom,
        commune: c.commune,
        departement: c.departement,
        hub: c.hub_nom,
        auteur: c.auteur,
        changements: c
            .changements
            .into_iter()
            .map(|(k, old, new)| (field_label(&k).to_string(), shown(&k, &old), shown(&k, &new)))
            .collect(),
        commentaire: c.commentaire,
        motif: c.motif,
        date: horodatage(c.created_at),
        decided: c.decided_at.map(horodatage).unwrap_or_default(),
    }
}

/// One field of the proposal form.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub current: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "territoire/correction-proposer.html")]
pub struct ProposePage {
    pub l: Layout,
    pub id: String,
    pub nom: String,
    pub fields: Vec<Field>,
    pub commentaire: String,
    pub errors: Vec<String>,
}

fn form_page(
    u: &CurrentUser,
    id: &str,
    current: &BTreeMap<String, String>,
    typed: Option<&BTreeMap<String, String>>,
    commentaire: String,
    errors: Vec<String>,
) -> Result<Response, WebError> {
    let get = |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_default();
    render(
        if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        },
        ProposePage {
            l: u.layout("Proposer une correction", "/hub/territoire"),
            id: id.to_string(),
            nom: get(current, "nom"),
            fields: FIELDS
                .iter()
                .map(|(name, label)| Field {
                    name,
                    label,
                    current: shown(name, &get(current, name)),
                    value: get(typed.unwrap_or(current), name),
                })
                .collect(),
            commentaire,
            errors,
        },
    )
}

/// GET `/hub/lieux/{id}/correction`: the hub of the place's territory only.
pub async fn propose_page(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (current, _) = corrections::place_for_hub(&state.core, &u.principal, &id).await?;
    form_page(&u, &id, &current, None, String::new(), Vec::new())
}

/// POST `/hub/lieux/{id}/correction`.
pub async fn propose_submit(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<String>,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> Result<Response, WebError> {
    let mut typed = BTreeMap::new();
    let mut commentaire = String::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "commentaire" => commentaire = v.into_owned(),
            k if FIELDS.iter().any(|(f, _)| *f == k) => {
                typed.insert(k.to_string(), passerelle_core::lieux::edit::form_value(k, &v));
            }
            _ => {}
        }
    }
    match corrections::propose(&state.core, &u.principal, &id, &typed, &commentaire).await {
        Ok(Ok(_)) => {
            Ok(Redirect::to(&format!("/hub/corrections?ok={}", CorrectionState::Proposee.key())).into_response())
        }
        Ok(Err(errors)) => {
            let (current, _) = corrections::place_for_hub(&state.core, &u.principal, &id).await?;
            form_page(&u, &id, &current, Some(&typed), commentaire, errors)
        }
        Err(e) => {
            let m = refusal_message(e)?;
            let (current, _) = corrections::place_for_hub(&state.core, &u.principal, &id).await?;
            form_page(&u, &id, &current, Some(&typed), commentaire, vec![m])
        }
    }
}

#[derive(Template)]
#[template(path = "territoire/corrections.html")]
pub struct ListPage {
    pub l: Layout,
    pub title: &'static str,
    pub intro: &'static str,
    /// Whether the viewer decides (place, opérateur) or proposed (hub).
    pub decides: bool,
    pub items: Vec<Item>,
    pub message: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    ok: String,
}

/// The notice after a step: `ok` is the key of the state the correction reached.
fn done_message(ok: &str) -> Option<String> {
    match CorrectionState::from_key(ok)? {
        CorrectionState::Proposee => Some("La correction est proposée ; le lieu en est prévenu.".into()),
        CorrectionState::Acceptee => Some("La correction est acceptée et appliquée au lieu.".into()),
        CorrectionState::Refusee => Some("La correction est refusée ; le hub en est prévenu.".into()),
    }
}

/// GET `/hub/corrections`: the corrections the hub proposed.
pub async fn hub_list(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let items = corrections::by_hub(&state.core, &u.principal).await?;
    render(
        StatusCode::OK,
        ListPage {
            l: u.layout("Corrections proposées", "/hub/territoire"),
            title: "Corrections proposées",
            intro: "Les corrections que votre hub a proposées aux lieux de son territoire, les plus récentes d'abord.",
            decides: false,
            items: items.into_iter().map(item).collect(),
            message: done_message(&q.ok),
            error: None,
        },
    )
}

async fn decide_list(
    state: &AppState,
    u: &CurrentUser,
    desk: Desk,
    ok: &str,
    error: Option<String>,
) -> Result<Response, WebError> {
    let items = corrections::to_decide(&state.core, &u.principal, desk).await?;
    let (current, intro) = if desk == Desk::Operator {
        (
            "/operateur",
            "Corrections proposées par les hubs pour tous les lieux. Le lieu peut aussi les traiter lui-même.",
        )
    } else {
        (
            "/lieu/corrections",
            "Corrections proposées par le hub de votre territoire pour vos lieux. Acceptée, la correction est appliquée au lieu ; refusée, le hub reçoit votre motif.",
        )
    };
    render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        ListPage {
            l: u.layout("Corrections à traiter", current),
            title: "Corrections à traiter",
            intro,
            decides: true,
            items: items.into_iter().map(item).collect(),
            message: done_message(ok),
            error,
        },
    )
}

/// GET `/lieu/corrections`: the place's staff.
pub async fn place_list(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    decide_list(&state, &u, Desk::Place, &q.ok, None).await
}

/// GET `/operateur/corrections`: the opérateur.
pub async fn operator_list(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    decide_list(&state, &u, Desk::Operator, &q.ok, None).await
}

fn back(u: &CurrentUser, ok: CorrectionState) -> Response {
    let list = if Desk::of(&u.principal) == Desk::Operator {
        "/operateur/corrections"
    } else {
        "/lieu/corrections"
    };
    Redirect::to(&format!("{list}?ok={}", ok.key())).into_response()
}

/// POST `/corrections/{id}/accepter`.
pub async fn accept(State(state): State<AppState>, u: CurrentUser, Path(id): Path<i64>) -> Result<Response, WebError> {
    match corrections::accept(&state.core, &u.principal, id).await {
        Ok(Ok(())) => Ok(back(&u, CorrectionState::Acceptee)),
        Ok(Err(problems)) => {
            let m = format!("La correction ne peut pas être appliquée : {}", problems.join(" ; "));
            decide_list(&state, &u, Desk::of(&u.principal), "", Some(m)).await
        }
        Err(CoreError::NotFound(_)) => Err(WebError::NotFound),
        Err(e) => {
            let m = refusal_message(e)?;
            decide_list(&state, &u, Desk::of(&u.principal), "", Some(m)).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RefuseForm {
    #[serde(default)]
    motif: String,
}

/// POST `/corrections/{id}/refuser`.
pub async fn refuse(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<RefuseForm>,
) -> Result<Response, WebError> {
    match corrections::refuse(&state.core, &u.principal, id, &f.motif).await {
        Ok(()) => Ok(back(&u, CorrectionState::Refusee)),
        Err(CoreError::NotFound(_)) => Err(WebError::NotFound),
        Err(e) => {
            let m = refusal_message(e)?;
            decide_list(&state, &u, Desk::of(&u.principal), "", Some(m)).await
        }
    }
}
