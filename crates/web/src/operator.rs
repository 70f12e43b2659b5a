//! The opérateur's pages: organisations and accounts.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::accounts::{self, authorize, store, Action, NewAccount, OrgKind, Role};
use passerelle_core::CoreError;
use serde::Deserialize;

use crate::auth::{render, CurrentUser};
use crate::error::WebError;
use crate::forms::Form;
use crate::templates::{CreatedNotice, OperatorPage};
use crate::AppState;

#[derive(Deserialize)]
pub struct Done {
    ok: Option<String>,
}

async fn view(
    state: &AppState,
    u: &CurrentUser,
    message: Option<String>,
    error: Option<String>,
    created: Option<CreatedNotice>,
    status: StatusCode,
) -> Result<Response, WebError> {
    authorize(&u.principal, Action::Administer)?;
    let page = OperatorPage {
        l: u.layout("Espace opérateur", "/operateur"),
        organisations: store::organisations(&state.core.db).await?,
        accounts: store::accounts(&state.core.db).await?,
        kinds: OrgKind::ALL.iter().map(|k| (k.key(), k.label())).collect(),
        roles: Role::ALL.iter().map(|r| (r.key(), r.label())).collect(),
        message,
        error,
        created,
    };
    render(status, page)
}

pub async fn page(State(state): State<AppState>, u: CurrentUser, Query(q): Query<Done>) -> Result<Response, WebError> {
    let message = match q.ok.as_deref() {
        Some("organisation") => Some("L'organisation a été créée.".to_string()),
        _ => None,
    };
    view(&state, &u, message, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct OrgForm {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    siret: String,
}

/// Domain refusals are shown on the page; other errors become error pages.
async fn refused(state: &AppState, u: &CurrentUser, e: CoreError) -> Result<Response, WebError> {
    match e {
        CoreError::Invalid(m) | CoreError::Conflict(m) => {
            let mut c = m.chars();
            let m = c
                .next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default();
            view(state, u, None, Some(m), None, StatusCode::BAD_REQUEST).await
        }
        other => Err(other.into()),
    }
}

pub async fn create_organisation(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<OrgForm>,
) -> Result<Response, WebError> {
    authorize(&u.principal, Action::Administer)?;
    let siret = Some(f.siret.as_str()).filter(|s| !s.trim().is_empty());
    match accounts::create_organisation(&state.core, &u.principal.actor(), &f.kind, &f.nom, siret).await {
        Ok(_) => Ok(Redirect::to("/operateur?ok=organisation").into_response()),
        Err(e) => refused(&state, &u, e).await,
    }
}

#[derive(Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    email: String,
}

pub async fn create_account(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<AccountForm>,
) -> Result<Response, WebError> {
    authorize(&u.principal, Action::Administer)?;
    let Ok(organisation_id) = f.organisation.trim().parse::<i64>() else {
        return refused(&state, &u, CoreError::invalid("choisissez une organisation")).await;
    };
    let new = NewAccount {
        organisation_id,
        email: &f.email,
        display_name: &f.nom,
        role: Some(&f.role),
        password: None,
        with_totp: false,
    };
    match accounts::create_account(&state.core, &u.principal.actor(), new).await {
        Ok(created) => {
            let notice = CreatedNotice {
                email: created.account.email.clone(),
                password: created.generated_password.unwrap_or_default(),
            };
            let msg = format!("Le compte de {} a été créé.", created.account.display_name);
            view(&state, &u, Some(msg), None, Some(notice), StatusCode::OK).await
        }
        Err(e) => refused(&state, &u, e).await,
    }
}
