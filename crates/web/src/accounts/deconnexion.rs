//! Signing out: « Se déconnecter » ends the session of this device only;
//! « Se déconnecter partout » (account page) ends every session of the account.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use passerelle_core::accounts;

use crate::auth::{login_page_without_session, session_token, CurrentUser, Visitor};
use crate::error::WebError;
use crate::AppState;

/// `POST /deconnexion`: ends this session only; the account page offers
/// « Se déconnecter partout » for the others.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, v: Visitor) -> Result<Response, WebError> {
    if let Some(token) = session_token(&state, &headers) {
        let actor = v.user.as_ref().map(|u| u.principal.actor());
        accounts::logout(&state.core, &token, actor).await?;
    }
    signed_out(&state, v.csrf, "Vous êtes déconnecté.")
}

/// `POST /mon-compte/deconnexion-partout`: ends every session of the account,
/// on every device, this one included.
pub async fn logout_everywhere(State(state): State<AppState>, u: CurrentUser) -> Result<Response, WebError> {
    let closed = accounts::logout_everywhere(&state.core, u.principal.actor()).await?;
    let info = match closed {
        0 | 1 => "Vous êtes déconnecté. Aucune autre session n'était ouverte.".to_string(),
        n => format!("Vous êtes déconnecté de tous vos appareils ({n} sessions fermées, celle-ci comprise)."),
    };
    signed_out(&state, u.csrf.clone(), &info)
}

fn signed_out(state: &AppState, csrf: String, info: &str) -> Result<Response, WebError> {
    Ok(login_page_without_session(state, csrf, None, Some(info.to_string()))?.into_response())
}
