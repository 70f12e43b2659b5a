//! The usager's mandates in his own space: list with states, revocation of
//! a démarche or of the whole mandate (confirmation, then a receipt), his
//! attestation and the revocation certificate. Every mandate is read with
//! `of_usager_one`, which answers 404 for anybody else's.

use crate::forms::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::aidants_connect::mandats::queries::{self, Mandate, RevokedBy};
use passerelle_core::aidants_connect::mandats::{revoke, Revoker};
use serde::Deserialize;

use crate::aidants_connect::espace_usager::CurrentUsager;
use crate::aidants_connect::mandats_actions::{attestation_bytes, revocation_bytes};
use crate::auth::render;
use crate::error::WebError;
use crate::forms::{Form, Query};
use crate::templates::{horodatage, Layout};
use crate::AppState;

pub struct AutorisationView {
    pub demarche: String,
    pub label: String,
    pub etat: &'static str,
    pub active: bool,
    /// "le … par …" when revoked or superseded.
    pub revocation: Option<String>,
}

pub struct MandatView {
    pub id: i64,
    pub structure: String,
    pub aidant: String,
    pub duree: &'static str,
    pub debut: String,
    pub fin: String,
    pub etat: String,
    pub revocable: bool,
    pub revocations: bool,
    pub autorisations: Vec<AutorisationView>,
}

fn view(m: &Mandate, now: i64) -> MandatView {
    let autorisations: Vec<AutorisationView> = m
        .autorisations
        .iter()
        .map(|a| {
            let active = a.revoquee_at.is_none() && m.expires_at > now;
            AutorisationView {
                demarche: a.demarche.clone(),
                label: a.label().to_string(),
                etat: a.state_label(m.expires_at, now),
                active,
                revocation: a
                    .revoquee_at
                    .map(|at| format!("le {} par {}", horodatage(at), a.revoked_by_label())),
            }
        })
        .collect();
    MandatView {
        id: m.id,
        structure: m.structure.clone(),
        aidant: m.aidant.clone(),
        duree: m.duree.label(),
        debut: horodatage(m.created_at),
        fin: horodatage(m.expires_at),
        etat: m.etat(),
        revocable: autorisations.iter().any(|a| a.active),
        revocations: m
            .autorisations
            .iter()
            .any(|a| matches!(a.revoquee_par, Some(RevokedBy::Usager | RevokedBy::Aidant))),
        autorisations,
    }
}

/// The usager's mandates, newest first.
pub async fn of_usager(state: &AppState, usager_id: i64) -> Result<Vec<MandatView>, WebError> {
    let now = state.core.db.now_micros();
    Ok(queries::of_usager(&state.core.db, usager_id)
        .await?
        .iter()
        .map(|m| view(m, now))
        .collect())
}

#[derive(Deserialize)]
pub struct Which {
    #[serde(default)]
    demarche: Option<String>,
}

#[derive(Template)]
#[template(path = "aidants_connect/espace-usager-revoquer.html")]
pub struct ConfirmPage {
    pub l: Layout,
    pub m: MandatView,
    /// (key, label) of the démarche; None: the whole mandate.
    pub demarche: Option<(String, String)>,
}

fn chosen(m: &MandatView, demarche: Option<String>) -> Result<Option<(String, String)>, WebError> {
    match demarche.filter(|d| !d.is_empty()) {
        None => Ok(None),
        Some(d) => m
            .autorisations
            .iter()
            .find(|a| a.demarche == d)
            .map(|a| Some((a.demarche.clone(), a.label.clone())))
            .ok_or(WebError::NotFound),
    }
}

/// `GET /espace-usager/mandats/{id}/revoquer[?demarche=…]`: confirmation.
pub async fn confirm(
    State(state): State<AppState>,
    u: CurrentUsager,
    Path(id): Path<i64>,
    Query(q): Query<Which>,
) -> Result<Response, WebError> {
    let m = view(
        &queries::of_usager_one(&state.core.db, u.usager_id, id).await?,
        state.core.db.now_micros(),
    );
    let demarche = chosen(&m, q.demarche)?;
    render(
        StatusCode::OK,
        ConfirmPage {
            l: u.layout("Révoquer un mandat"),
            m,
            demarche,
        },
    )
}

/// `POST /espace-usager/mandats/{id}/revoquer`: the usager revokes, then sees the receipt.
pub async fn revoke_submit(
    State(state): State<AppState>,
    u: CurrentUsager,
    Path(id): Path<i64>,
    Form(f): Form<Which>,
) -> Result<Response, WebError> {
    let m = queries::of_usager_one(&state.core.db, u.usager_id, id).await?;
    let demarche = chosen(&view(&m, state.core.db.now_micros()), f.demarche)?;
    revoke(
        &state.core,
        Revoker::Usager(u.usager_id),
        id,
        demarche.as_ref().map(|(k, _)| k.as_str()),
    )
    .await?;
    Ok(Redirect::to(&format!("/espace-usager/mandats/{id}/recu")).into_response())
}

#[derive(Template)]
#[template(path = "aidants_connect/espace-usager-recu.html")]
pub struct ReceiptPage {
    pub l: Layout,
    pub m: MandatView,
}

/// `GET /espace-usager/mandats/{id}/recu`: the receipt of his revocations.
pub async fn receipt(
    State(state): State<AppState>,
    u: CurrentUsager,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let m = view(
        &queries::of_usager_one(&state.core.db, u.usager_id, id).await?,
        state.core.db.now_micros(),
    );
    if !m.revocations {
        return Err(WebError::NotFound);
    }
    render(
        StatusCode::OK,
        ReceiptPage {
            l: u.layout("Reçu de révocation"),
            m,
        },
    )
}

/// `GET /espace-usager/mandats/{id}/attestation.pdf`: his copy of the attestation.
pub async fn attestation(
    State(state): State<AppState>,
    u: CurrentUsager,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let m = queries::of_usager_one(&state.core.db, u.usager_id, id).await?;
    let bytes = attestation_bytes(&state, m).await?;
    Ok(crate::pages::download(
        "application/pdf",
        &format!("attestation-mandat-{id}.pdf"),
        bytes,
    ))
}

/// `GET /espace-usager/mandats/{id}/revocation.pdf`: the revocation certificate.
pub async fn certificate(
    State(state): State<AppState>,
    u: CurrentUsager,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let m = queries::of_usager_one(&state.core.db, u.usager_id, id).await?;
    let bytes = revocation_bytes(&state, m).await?;
    Ok(crate::pages::download(
        "application/pdf",
        &format!("revocation-mandat-{id}.pdf"),
        bytes,
    ))
}
