//! The monthly digest's unsubscribe link (`/recapitulatifs/desabonnement/{jeton}`):
//! no login, the token is the account's number signed with a key of the data
//! directory. Opening it only shows the choice (mail scanners and link
//! prefetchers open every link): one button unsubscribes (a form under CSRF,
//! idempotent), and the page then offers to subscribe again.
//! "Mon compte" has the same choice for a signed-in account.

use crate::forms::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_core::recapitulatifs;

use crate::auth::{render, Visitor};
use crate::error::WebError;
use crate::templates::Layout;
use crate::AppState;

#[derive(Template)]
#[template(path = "recapitulatifs/recapitulatif-desabonnement.html")]
pub struct UnsubscribePage {
    pub l: Layout,
    /// `None`: the link is not valid.
    pub email: Option<String>,
    pub abonne: bool,
    pub jeton: String,
    /// Whether this request changed the choice (else it only shows it).
    pub change: bool,
}

async fn follow(state: &AppState, v: &Visitor, token: &str, choice: Option<bool>) -> Result<Response, WebError> {
    let found = recapitulatifs::par_jeton(&state.core, token, choice).await?;
    let status = if found.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    if found.is_none() {
        tracing::warn!("lien de désabonnement non reconnu");
    }
    render(
        status,
        UnsubscribePage {
            l: v.layout("Récapitulatif mensuel par courriel", ""),
            abonne: found.as_ref().is_some_and(|a| a.abonne),
            email: found.map(|a| a.email),
            jeton: token.to_string(),
            change: choice.is_some(),
        },
    )
}

/// `GET /recapitulatifs/desabonnement/{jeton}`: shows the choice and the button.
pub async fn show(State(state): State<AppState>, v: Visitor, Path(token): Path<String>) -> Result<Response, WebError> {
    follow(&state, &v, &token, None).await
}

/// `POST /recapitulatifs/desabonnement/{jeton}`: unsubscribes and confirms.
pub async fn unsubscribe(
    State(state): State<AppState>,
    v: Visitor,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    follow(&state, &v, &token, Some(false)).await
}

/// `POST /recapitulatifs/desabonnement/{jeton}/reabonnement`: subscribes again.
pub async fn resubscribe(
    State(state): State<AppState>,
    v: Visitor,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    follow(&state, &v, &token, Some(true)).await
}
