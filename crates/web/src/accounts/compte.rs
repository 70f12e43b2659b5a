//! "Mon compte": one's own information, password and second factor. The
//! current password asked by these forms is a login attempt: a failure counts
//! towards the login lockout, and a locked account is refused here too (429).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use passerelle_core::{accounts, recapitulatifs};
use serde::Deserialize;

use crate::auth::{group_secret, render, unix_now, CurrentUser};
use crate::error::{capitalise, WebError};
use crate::forms::{Form, Query};
use crate::templates::{AccountPage, EnrolPage};
use crate::AppState;

#[derive(Deserialize)]
pub struct Done {
    ok: Option<String>,
}

fn done_message(key: Option<&str>) -> Option<String> {
    match key? {
        "mot-de-passe" => Some("Votre mot de passe a été changé. Vos autres sessions ont été fermées.".into()),
        "totp" => Some("La double authentification est activée sur votre nouvel appareil.".into()),
        "totp-retrait" => Some("La double authentification est désactivée.".into()),
        "recapitulatif-oui" => Some("Vous recevrez le récapitulatif mensuel par courriel.".into()),
        "recapitulatif-non" => Some("Vous ne recevrez plus le récapitulatif mensuel par courriel.".into()),
        _ => None,
    }
}

async fn account_page(
    state: &AppState,
    u: &CurrentUser,
    message: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let recapitulatif = if recapitulatifs::concerne(u.principal.role) {
        Some(recapitulatifs::abonne(&state.core.db, u.principal.account_id).await?)
    } else {
        None
    };
    render(
        status,
        AccountPage {
            l: u.layout("Mon compte", "/mon-compte"),
            account: u.account.clone(),
            message,
            error,
            recapitulatif,
            sessions: accounts::session::count(&state.core.db, u.principal.account_id).await?,
            travail: crate::auth::home_of(u.principal.role),
        },
    )
}

pub async fn page(State(state): State<AppState>, u: CurrentUser, Query(q): Query<Done>) -> Result<Response, WebError> {
    account_page(&state, &u, done_message(q.ok.as_deref()), None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct DigestForm {
    /// The checkbox: present when ticked.
    recapitulatif: Option<String>,
}

/// `POST /mon-compte/recapitulatifs`: funders' and hubs' accounts choose
/// whether they get the monthly digest.
pub async fn set_digest(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<DigestForm>,
) -> Result<Response, WebError> {
    if !recapitulatifs::concerne(u.principal.role) {
        return Err(WebError::Forbidden);
    }
    let oui = f.recapitulatif.is_some();
    recapitulatifs::set_abonne(&state.core.db, u.principal.account_id, oui).await?;
    let done = if oui { "recapitulatif-oui" } else { "recapitulatif-non" };
    Ok(axum::response::IntoResponse::into_response(Redirect::to(&format!(
        "/mon-compte?ok={done}"
    ))))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    actuel: String,
    #[serde(default)]
    nouveau: String,
    #[serde(default)]
    confirmation: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<PasswordForm>,
) -> Result<Response, WebError> {
    if f.nouveau != f.confirmation {
        return account_page(
            &state,
            &u,
            None,
            Some("La confirmation ne correspond pas au nouveau mot de passe.".into()),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    match accounts::change_password(&state.core, &u.principal, &f.actuel, &f.nouveau, Some(&u.token)).await {
        Ok(()) => Ok(axum::response::IntoResponse::into_response(Redirect::to(
            "/mon-compte?ok=mot-de-passe",
        ))),
        Err(passerelle_core::CoreError::Invalid(m)) => {
            account_page(&state, &u, None, Some(capitalise(&m)), StatusCode::BAD_REQUEST).await
        }
        Err(e @ passerelle_core::CoreError::Locked(_)) => {
            account_page(&state, &u, None, Some(e.to_string()), StatusCode::TOO_MANY_REQUESTS).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn totp_view(
    state: &AppState,
    u: &CurrentUser,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    // A new secret when the page is shown; the same one again after a mistyped code.
    let renew = error.is_none();
    let e = accounts::start_totp_enrolment(&state.core, u.principal.account_id, renew).await?;
    render(
        status,
        EnrolPage {
            l: u.layout("Activer la double authentification", "/mon-compte"),
            error,
            action: "/mon-compte/totp",
            at_login: false,
            ask_password: u.account.totp_enabled,
            qr_png_base64: e.qr_png_base64,
            secret_grouped: group_secret(&e.secret),
        },
    )
}

pub async fn totp_page(State(state): State<AppState>, u: CurrentUser) -> Result<Response, WebError> {
    totp_view(&state, &u, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    mot_de_passe: String,
}

pub async fn totp_confirm(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    let password = Some(f.mot_de_passe.as_str());
    match accounts::confirm_totp(
        &state.core,
        &u.principal,
        &f.code,
        password,
        Some(&u.token),
        unix_now(&state),
    )
    .await
    {
        Ok(true) => Ok(axum::response::IntoResponse::into_response(Redirect::to(
            "/mon-compte?ok=totp",
        ))),
        Ok(false) => {
            let msg = "Code incorrect. Saisissez le code affiché par le nouvel appareil.".to_string();
            totp_view(&state, &u, Some(msg), StatusCode::BAD_REQUEST).await
        }
        Err(passerelle_core::CoreError::Invalid(m)) => {
            totp_view(&state, &u, Some(capitalise(&m)), StatusCode::BAD_REQUEST).await
        }
        Err(e @ passerelle_core::CoreError::Locked(_)) => {
            totp_view(&state, &u, Some(e.to_string()), StatusCode::TOO_MANY_REQUESTS).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    mot_de_passe: String,
}

pub async fn totp_remove(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<RemoveForm>,
) -> Result<Response, WebError> {
    match accounts::remove_totp(&state.core, &u.principal, &f.mot_de_passe, Some(&u.token)).await {
        Ok(()) => Ok(axum::response::IntoResponse::into_response(Redirect::to(
            "/mon-compte?ok=totp-retrait",
        ))),
        Err(passerelle_core::CoreError::Invalid(m)) => {
            account_page(&state, &u, None, Some(capitalise(&m)), StatusCode::BAD_REQUEST).await
        }
        Err(e @ passerelle_core::CoreError::Locked(_)) => {
            account_page(&state, &u, None, Some(e.to_string()), StatusCode::TOO_MANY_REQUESTS).await
        }
        Err(e) => Err(e.into()),
    }
}
