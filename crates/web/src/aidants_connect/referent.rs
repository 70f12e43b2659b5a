//! The référent's space: his structure's aidants (invite, activate,
//! deactivate, give a TOTP card or enrol an app) and his pending invitations.
//! The aidant's side (structures, invitations) is in `aidants_structure`.

use crate::forms::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::aidants_connect::{aidants, cards, demarches, invitations};
use passerelle_core::ratelimit;
use serde::Deserialize;

use crate::aidants_connect::connexion::FreshUser;
use crate::auth::{group_secret, render, unix_now, CurrentUser};
use crate::error::{refusal_message, WebError};
use crate::forms::{Form, Query};
use crate::templates::{horodatage, Layout};
use crate::AppState;
use passerelle_core::dates_fr::jour;

pub struct AidantView {
    pub id: i64,
    pub nom: String,
    pub courriel: String,
    pub formation: String,
    pub appareil: String,
    pub actif: bool,
    /// What is missing before activation (empty: it can be activated).
    pub manque: String,
    pub derniere_connexion: String,
}

#[derive(Template)]
#[template(path = "aidants_connect/aidants-referent.html")]
pub struct ReferentPage {
    pub l: Layout,
    pub error: Option<String>,
    pub message: Option<String>,
    pub demarches: Vec<&'static str>,
    pub aidants: Vec<AidantView>,
    pub invitations: Vec<InvitationView>,
    pub free_cards: Vec<String>,
}

/// A pending invitation: only what the référent typed, whatever the address.
pub struct InvitationView {
    pub nom: String,
    pub courriel: String,
    pub envoyee: String,
    pub expire: String,
}

async fn page(
    state: &AppState,
    u: &CurrentUser,
    error: Option<String>,
    message: Option<String>,
) -> Result<Response, WebError> {
    let rows = aidants::of_structure(&state.core, &u.principal).await?;
    let allowed = aidants::allowed_demarches(&state.core.db, u.principal.organisation_id).await?;
    let views = rows
        .into_iter()
        .map(|a| AidantView {
            // « Activer » is offered only when it can succeed (the same rules as `aidants::activate`).
            manque: match (a.trained(), a.totp) {
                (true, true) => String::new(),
                (false, true) => "la formation et le test de compétences numériques".into(),
                (true, false) => "un appareil de double authentification (application ou carte)".into(),
                (false, false) => {
                    "la formation, le test de compétences numériques et un appareil de double authentification".into()
                }
            },
            formation: match (a.formee_at, a.test_reussi_at) {
                // Days of training and test, as the opérateur typed them (kept at noon UTC): no time.
                (Some(f), Some(t)) => format!("formé le {}, test réussi le {}", jour(f), jour(t)),
                (Some(_), None) => "formé, test à passer".into(),
                _ => "à former".into(),
            },
            appareil: match (&a.carte, a.totp) {
                (Some(c), _) => format!("carte n° {c}"),
                (None, true) => "application".into(),
                (None, false) => "aucun".into(),
            },
            derniere_connexion: a.last_login_at.map(horodatage).unwrap_or_else(|| "jamais".into()),
            id: a.account_id,
            nom: a.nom,
            courriel: a.courriel,
            actif: a.actif,
        })
        .collect();
    let invitations = invitations::sent(&state.core, &u.principal)
        .await?
        .into_iter()
        .map(|i| InvitationView {
            nom: i.nom,
            courriel: i.courriel,
            envoyee: horodatage(i.created_at),
            expire: horodatage(i.expires_at),
        })
        .collect();
    let free_cards = cards::free_cards(&state.core, 200).await?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        ReferentPage {
            l: u.layout("Les aidants de ma structure", "/aidants-connect/referent"),
            error,
            message,
            demarches: demarches::ALL
                .iter()
                .filter(|(k, _)| allowed.iter().any(|a| a == k))
                .map(|(_, l)| *l)
                .collect(),
            aidants: views,
            invitations,
            free_cards,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct Done {
    ok: Option<String>,
}

/// The one answer to an invitation, whatever the address belongs to.
const INVITED: &str = "L'invitation est envoyée à cette adresse. La personne rejoindra votre structure si elle \
                       l'accepte ; vous pourrez alors l'activer, une fois formée et équipée.";

/// Invitations a référent may send per day (each one sends an e-mail).
const INVITATIONS_PER_DAY: i64 = 50;

fn done_message(ok: Option<&str>) -> Option<String> {
    Some(
        match ok? {
            "invitation" => INVITED,
            "activation" => "L'aidant est activé et en est prévenu.",
            "desactivation" => "L'aidant est désactivé dans votre structure.",
            "carte" => "La carte est associée à l'aidant.",
            "application" => "L'application est associée à l'aidant.",
            _ => return None,
        }
        .to_string(),
    )
}

/// GET `/aidants-connect/referent`.
pub async fn home(State(state): State<AppState>, u: CurrentUser, Query(q): Query<Done>) -> Result<Response, WebError> {
    page(&state, &u, None, done_message(q.ok.as_deref())).await
}

fn back(ok: &str) -> Response {
    Redirect::to(&format!("/aidants-connect/referent?ok={ok}")).into_response()
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    nom: String,
    #[serde(default)]
    email: String,
}

/// POST `/aidants-connect/referent/aidants`: the same answer whatever the
/// address belongs to (only a malformed name or address is reported).
pub async fn invite(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<InviteForm>,
) -> Result<Response, WebError> {
    let key = format!("invitation-aidant:{}", u.principal.account_id);
    if !ratelimit::hit(&state.core.db, &key, INVITATIONS_PER_DAY, 86_400).await? {
        let m = "Trop d'invitations envoyées aujourd'hui : réessayez demain.".to_string();
        return page(&state, &u, Some(m), None).await;
    }
    let base = state.config.base_url.as_str();
    match invitations::invite(&state.core, &u.principal, &f.nom, &f.email, base).await {
        Ok(_) => Ok(back("invitation")),
        Err(e) => page(&state, &u, Some(refusal_message(e)?), None).await,
    }
}

#[derive(Deserialize)]
pub struct ActivationForm {
    #[serde(default)]
    action: String,
}

/// POST `/aidants-connect/referent/aidants/{id}/activation`.
pub async fn activation(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<ActivationForm>,
) -> Result<Response, WebError> {
    let (outcome, ok) = match f.action.as_str() {
        "activer" => (aidants::activate(&state.core, &u.principal, id).await, "activation"),
        "desactiver" => (
            aidants::deactivate(&state.core, &u.principal, id).await,
            "desactivation",
        ),
        _ => return Err(WebError::BadRequest("choisissez une action".into())),
    };
    match outcome {
        Ok(()) => Ok(back(ok)),
        Err(passerelle_core::CoreError::NotFound(_)) => Err(WebError::NotFound),
        Err(e) => page(&state, &u, Some(refusal_message(e)?), None).await,
    }
}

#[derive(Deserialize)]
pub struct CardForm {
    #[serde(default)]
    numero_serie: String,
    #[serde(default)]
    code: String,
}

/// POST `/aidants-connect/referent/aidants/{id}/carte` (recent TOTP required).
pub async fn card(
    State(state): State<AppState>,
    FreshUser(u): FreshUser,
    Path(id): Path<i64>,
    Form(f): Form<CardForm>,
) -> Result<Response, WebError> {
    match cards::assign(
        &state.core,
        &u.principal,
        id,
        &f.numero_serie,
        &f.code,
        unix_now(&state),
    )
    .await
    {
        Ok(true) => Ok(back("carte")),
        Ok(false) => {
            let m = "Code incorrect : saisissez le code affiché maintenant par la carte.".to_string();
            page(&state, &u, Some(m), None).await
        }
        Err(passerelle_core::CoreError::NotFound(_)) => Err(WebError::NotFound),
        Err(e) => page(&state, &u, Some(refusal_message(e)?), None).await,
    }
}

#[derive(Template)]
#[template(path = "aidants_connect/aidants-application.html")]
pub struct AppPage {
    pub l: Layout,
    pub error: Option<String>,
    pub id: i64,
    pub nom: String,
    pub qr_png_base64: String,
    pub secret_grouped: String,
}

async fn app_page(state: &AppState, u: &CurrentUser, id: i64, error: Option<String>) -> Result<Response, WebError> {
    let e = match cards::start_app(&state.core, &u.principal, id, error.is_none()).await {
        Ok(e) => e,
        Err(passerelle_core::CoreError::NotFound(_)) => return Err(WebError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let nom = aidants::of_structure(&state.core, &u.principal)
        .await?
        .into_iter()
        .find(|a| a.account_id == id)
        .map(|a| a.nom)
        .unwrap_or_default();
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    render(
        status,
        AppPage {
            l: u.layout("Associer une application", "/aidants-connect/referent"),
            error,
            id,
            nom,
            qr_png_base64: e.qr_png_base64,
            secret_grouped: group_secret(&e.secret),
        },
    )
}

/// GET `/aidants-connect/referent/aidants/{id}/application` (recent TOTP required).
pub async fn app_form(
    State(state): State<AppState>,
    FreshUser(u): FreshUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    app_page(&state, &u, id, None).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// POST `/aidants-connect/referent/aidants/{id}/application`.
pub async fn app_confirm(
    State(state): State<AppState>,
    FreshUser(u): FreshUser,
    Path(id): Path<i64>,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    match cards::confirm_app(&state.core, &u.principal, id, &f.code, unix_now(&state)).await {
        Ok(true) => Ok(back("application")),
        Ok(false) => {
            app_page(
                &state,
                &u,
                id,
                Some("Code incorrect. Saisissez le code affiché par l'application.".into()),
            )
            .await
        }
        Err(passerelle_core::CoreError::NotFound(_)) => Err(WebError::NotFound),
        Err(e) => Err(e.into()),
    }
}
