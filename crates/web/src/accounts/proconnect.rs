//! The ProConnect login of professionals: the button of the sign-in page,
//! the callback, and the confirmation of a first link (password, or a link
//! sent by e-mail). The protocol work is in
//! `passerelle_core::accounts::proconnect::flow`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::accounts::proconnect::flow::{self, Outcome, PcError};
use passerelle_core::accounts::proconnect::ProConnect;
use serde::Deserialize;

use crate::auth::{
    after_login, login_page_without_session, refusal_message, refusal_status, render, session_token, ClientIp, Visitor,
    LOGIN_PER_IP, LOGIN_WINDOW_SECS,
};
use crate::cookies;
use crate::error::WebError;
use crate::forms::{Form, Query};
use crate::templates::Layout;
use crate::AppState;

fn configured(state: &AppState) -> Result<&ProConnect, WebError> {
    state.proconnect.as_ref().ok_or(WebError::NotFound)
}

fn random() -> String {
    passerelle_core::aidants_connect::franceconnect::random_token()
}

#[derive(Deserialize, Default)]
pub struct StartQuery {
    #[serde(default)]
    courriel: String,
}

/// `GET /proconnect/connexion`: to ProConnect, bound to this browser. Counted
/// with the password logins of the client's address (each start writes a row).
pub async fn start(
    State(state): State<AppState>,
    v: Visitor,
    ClientIp(ip): ClientIp,
    Query(q): Query<StartQuery>,
) -> Result<Response, WebError> {
    let pc = configured(&state)?;
    let key = format!("connexion-ip:{ip}");
    if !passerelle_core::ratelimit::hit(&state.core.db, &key, LOGIN_PER_IP, LOGIN_WINDOW_SECS).await? {
        let message =
            "Trop de tentatives de connexion depuis votre réseau. Réessayez dans quelques minutes.".to_string();
        let (h, page) = login_page_without_session(&state, v.csrf, Some(message), None)?;
        return Ok((StatusCode::TOO_MANY_REQUESTS, h, page).into_response());
    }
    let browser = random();
    let hint = Some(q.courriel.as_str()).filter(|h| !h.is_empty());
    let url = match flow::start(&state.core, pc, &browser, hint).await {
        Ok(u) => u,
        Err(e) => return refused(&state, String::new(), e).await,
    };
    let mut resp = Redirect::to(&url).into_response();
    cookies::set(
        resp.headers_mut(),
        &state.config,
        cookies::PROCONNECT,
        &browser,
        Some(600),
    );
    Ok(resp)
}

/// The sign-in page with the reason of a refused ProConnect login.
async fn refused(state: &AppState, csrf: String, e: PcError) -> Result<Response, WebError> {
    tracing::info!(motif = e.motif(), "connexion ProConnect refusée");
    flow::record_refusal(&state.core, &e).await?;
    let message = crate::error::capitalise(&e.to_string());
    let (h, page) = login_page_without_session(state, csrf, Some(message), None)?;
    let status = match e {
        PcError::Provider(_) => StatusCode::BAD_GATEWAY,
        PcError::Core(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    Ok((status, h, page).into_response())
}

#[derive(Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// `GET /proconnect/retour`: ProConnect sends the browser back here.
pub async fn callback(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Result<Response, WebError> {
    let pc = configured(&state)?;
    if !q.error.is_empty() {
        let why = format!(
            "{} {}",
            q.error.chars().take(60).collect::<String>(),
            q.error_description.chars().take(200).collect::<String>()
        );
        return refused(&state, v.csrf, PcError::Denied(why.trim().to_string())).await;
    }
    if q.code.is_empty() || q.code.len() > 512 || q.state.is_empty() || q.state.len() > 512 {
        return refused(&state, v.csrf, PcError::UnknownState).await;
    }
    let browser = cookies::get(&headers, &cookies::name(&state.config, cookies::PROCONNECT)).unwrap_or_default();
    // Any previous session of this browser ends here: the new one gets a new token.
    if let Some(old) = session_token(&state, &headers) {
        passerelle_core::accounts::logout(&state.core, &old, None).await?;
    }
    let outcome = match flow::callback(&state.core, pc, &browser, &q.code, &q.state).await {
        Ok(o) => o,
        Err(e) => return refused(&state, v.csrf, e).await,
    };
    let mut resp = answer(&state, &headers, v.csrf, outcome).await?;
    cookies::clear(resp.headers_mut(), &state.config, cookies::PROCONNECT);
    Ok(resp)
}

async fn answer(state: &AppState, headers: &HeaderMap, csrf: String, outcome: Outcome) -> Result<Response, WebError> {
    match outcome {
        Outcome::Login(o) => match after_login(state, headers, o).await? {
            Ok(r) => Ok(r),
            Err(r) => {
                let (h, page) = login_page_without_session(state, csrf, Some(refusal_message(r)), None)?;
                Ok((refusal_status(r), h, page).into_response())
            }
        },
        Outcome::ConfirmLink { jeton, .. } => {
            Ok(Redirect::to(&format!("/proconnect/lier?jeton={jeton}")).into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "accounts/proconnect-lier.html")]
pub struct LinkPage {
    pub l: Layout,
    pub jeton: String,
    pub courriel: String,
    pub error: Option<String>,
    pub info: Option<String>,
}

#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    jeton: String,
}

fn link_page(
    v: &Visitor,
    status: StatusCode,
    jeton: String,
    courriel: String,
    error: Option<String>,
    info: Option<String>,
) -> Result<Response, WebError> {
    render(
        status,
        LinkPage {
            l: v.layout("Lier votre compte à ProConnect", "/connexion"),
            jeton,
            courriel,
            error,
            info,
        },
    )
}

/// `GET /proconnect/lier?jeton=…`: confirm the link of a first login.
pub async fn link(State(state): State<AppState>, v: Visitor, Query(q): Query<LinkQuery>) -> Result<Response, WebError> {
    configured(&state)?;
    match flow::proposal(&state.core, &q.jeton).await? {
        Some(email) => link_page(&v, StatusCode::OK, q.jeton, email, None, None),
        None => refused(&state, v.csrf, PcError::LinkUnknown).await,
    }
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    jeton: String,
    #[serde(default)]
    mot_de_passe: String,
    #[serde(default)]
    action: String,
}

/// `POST /proconnect/lier`: with the password, or « send me a link ».
pub async fn link_submit(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Form(f): Form<LinkForm>,
) -> Result<Response, WebError> {
    configured(&state)?;
    let Some(email) = flow::proposal(&state.core, &f.jeton).await? else {
        return refused(&state, v.csrf, PcError::LinkUnknown).await;
    };
    if f.action == "courriel" {
        flow::send_link(&state.core, state.config.base_url.as_str(), &f.jeton).await?;
        let info = format!("Un lien a été envoyé à {email}. Ouvrez-le dans les 15 minutes pour lier votre compte.");
        return link_page(&v, StatusCode::OK, f.jeton, email, None, Some(info));
    }
    if f.mot_de_passe.is_empty() {
        return link_page(
            &v,
            StatusCode::BAD_REQUEST,
            f.jeton,
            email,
            Some("Saisissez le mot de passe de votre compte Passerelle.".into()),
            None,
        );
    }
    match flow::confirm_with_password(&state.core, &f.jeton, &f.mot_de_passe).await {
        Ok(Outcome::Login(passerelle_core::accounts::LoginOutcome::Refused(r))) => {
            link_page(&v, refusal_status(r), f.jeton, email, Some(refusal_message(r)), None)
        }
        Ok(o) => answer(&state, &headers, v.csrf, o).await,
        Err(e) => refused(&state, v.csrf, e).await,
    }
}

/// `GET /proconnect/lier/{jeton}`: the link sent by e-mail.
pub async fn link_by_mail(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    configured(&state)?;
    match flow::confirm_by_mail(&state.core, &token).await {
        Ok(o) => answer(&state, &headers, v.csrf, o).await,
        Err(e) => refused(&state, v.csrf, e).await,
    }
}
