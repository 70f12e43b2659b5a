//! Identification of an usager with FranceConnect, for an aidant or a référent
//! (the mandate itself comes later): start, callback, logout. Every refusal is
//! a French page and a journal entry with its reason (never a token or a `sub`).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::aidants_connect::franceconnect::{flow, FcError};
use passerelle_core::aidants_connect::usagers;
use serde::Deserialize;

use crate::auth::{render, CurrentUser, Visitor};
use crate::error::WebError;
use crate::forms::Query;
use crate::templates::Layout;
use crate::AppState;

/// An identified usager, as the page shows him.
pub struct UsagerView {
    pub nom: String,
    pub naissance: String,
    pub nouvel: bool,
}

#[derive(Template)]
#[template(path = "aidants_connect/franceconnect.html")]
pub struct FranceConnectPage {
    pub l: Layout,
    pub usager: Option<UsagerView>,
    pub erreur: Option<String>,
    pub info: Option<String>,
    /// A FranceConnect session may be closed (`/franceconnect/deconnexion`).
    pub deconnexion: bool,
}

fn page(
    user: &CurrentUser,
    status: StatusCode,
    p: impl FnOnce(Layout) -> FranceConnectPage,
) -> Result<Response, WebError> {
    render(
        status,
        p(user.layout("Identification de l'usager avec FranceConnect", "")),
    )
}

/// The status of a refused FranceConnect round trip's page.
pub(crate) fn refusal_status(e: &FcError) -> StatusCode {
    match e {
        FcError::NotConfigured => StatusCode::SERVICE_UNAVAILABLE,
        FcError::Provider(_) => StatusCode::BAD_GATEWAY,
        FcError::Denied(_) => StatusCode::OK,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A refused identification: journaled (reason key only), then shown in French.
async fn refused(state: &AppState, user: &CurrentUser, e: FcError) -> Result<Response, WebError> {
    let e = match e {
        FcError::Core(c) => return Err(c.into()),
        e => e,
    };
    let status = refusal_status(&e);
    tracing::warn!(motif = e.motif(), "identification FranceConnect refusée");
    if !matches!(e, FcError::NotConfigured) {
        flow::record_refusal(&state.core, &user.principal, &e).await?;
    }
    let message = crate::error::capitalise(&e.to_string());
    let interrupted = matches!(e, FcError::Denied(_));
    page(user, status, |l| FranceConnectPage {
        l,
        usager: None,
        erreur: (!interrupted).then(|| message.clone()),
        info: interrupted.then_some(message),
        deconnexion: false,
    })
}

/// `GET /franceconnect`: the page with the FranceConnect button.
pub async fn home(user: CurrentUser) -> Result<Response, WebError> {
    flow::may_identify(&user.principal)?;
    page(&user, StatusCode::OK, |l| FranceConnectPage {
        l,
        usager: None,
        erreur: None,
        info: None,
        deconnexion: false,
    })
}

/// `GET /franceconnect/connexion`: sends the browser to FranceConnect.
pub async fn start(State(state): State<AppState>, user: CurrentUser) -> Result<Response, WebError> {
    match flow::start(&state.core, state.franceconnect.as_ref(), &user.principal, &user.token).await {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(e) => refused(&state, &user, e).await,
    }
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /franceconnect/retour`: FranceConnect sends the browser back here,
/// for an aidant's identification of an usager or an usager's own sign-in
/// (told apart by the `state`).
pub async fn callback(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Result<Response, WebError> {
    if let Some(st) = q.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 512) {
        if usagers::signin::is_usager_state(&state.core, st).await? {
            return crate::aidants_connect::espace_usager::callback(&state, &headers, &v.csrf, q.code, st, q.error)
                .await;
        }
    }
    let Some(user) = v.user else {
        return Ok(Redirect::to("/connexion").into_response());
    };
    let back = flow::Callback {
        code: q.code.as_deref(),
        state: q.state.as_deref().unwrap_or_default(),
        error: q.error.as_deref(),
    };
    match flow::callback(
        &state.core,
        state.franceconnect.as_ref(),
        &user.principal,
        &user.token,
        back,
    )
    .await
    {
        Ok(done) => {
            let id = &done.identity;
            let nom = match &id.preferred_username {
                Some(usage) if !usage.is_empty() && usage != &id.family_name => {
                    format!("{} {} (nom d'usage {usage})", id.given_name, id.family_name)
                }
                _ => format!("{} {}", id.given_name, id.family_name),
            };
            let usager = UsagerView {
                nom,
                naissance: id.born_on(),
                nouvel: done.nouvel_usager,
            };
            page(&user, StatusCode::OK, |l| FranceConnectPage {
                l,
                usager: Some(usager),
                erreur: None,
                info: None,
                deconnexion: true,
            })
        }
        Err(e) => refused(&state, &user, e).await,
    }
}

/// `GET /franceconnect/deconnexion`: closes the usager's FranceConnect session.
pub async fn logout(State(state): State<AppState>, user: CurrentUser) -> Result<Response, WebError> {
    match flow::logout_url(&state.core, state.franceconnect.as_ref(), &user.principal, &user.token).await {
        Ok(Some(url)) => Ok(Redirect::to(&url).into_response()),
        Ok(None) => page(&user, StatusCode::OK, |l| FranceConnectPage {
            l,
            usager: None,
            erreur: None,
            info: Some("Aucune session FranceConnect n'est ouverte depuis cette session.".into()),
            deconnexion: false,
        }),
        Err(e) => refused(&state, &user, e).await,
    }
}

#[derive(Deserialize)]
pub struct LogoutReturn {
    state: Option<String>,
}

/// `GET /franceconnect/deconnexion/retour`: back from FranceConnect's logout.
pub async fn logout_return(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Query(q): Query<LogoutReturn>,
) -> Result<Response, WebError> {
    let st = q.state.unwrap_or_default();
    if !st.is_empty() && st.len() <= 512 && usagers::signin::is_usager_state(&state.core, &st).await? {
        return crate::aidants_connect::espace_usager::sign_out_return(&state, &headers, &v.csrf, &st).await;
    }
    let Some(user) = v.user else {
        return Ok(Redirect::to("/connexion").into_response());
    };
    match flow::logout_return(&state.core, &user.principal, &user.token, &st).await {
        Ok(_) => page(&user, StatusCode::OK, |l| FranceConnectPage {
            l,
            usager: None,
            erreur: None,
            info: Some("L'usager est déconnecté de FranceConnect.".into()),
            deconnexion: false,
        }),
        Err(e) => refused(&state, &user, e).await,
    }
}
