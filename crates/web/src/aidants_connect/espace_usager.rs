//! The usager's own space (`/espace-usager`): sign-in with FranceConnect,
//! his mandates and their uses, revocation with a receipt, sign-out. The
//! usager is found from his own session cookie only; every page shows his
//! rows and nobody else's.

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::aidants_connect::franceconnect::{random_token as random_browser_token, FcError};
use passerelle_core::aidants_connect::usagers::{self, space};

use crate::auth::{csrf_of, render, ClientIp};
use crate::cookies;
use crate::error::WebError;
use crate::templates::{horodatage, Layout};
use crate::AppState;

/// A signed-in usager.
pub struct CurrentUsager {
    pub usager_id: i64,
    pub token: String,
    pub csrf: String,
}

impl CurrentUsager {
    pub fn layout(&self, title: &str) -> Layout {
        Layout {
            title: title.to_string(),
            user: None,
            csrf: self.csrf.clone(),
            current: "/espace-usager",
            usager: true,
        }
    }
}

/// Rejection: to the sign-in page for a page view, 403 otherwise.
pub enum NeedUsager {
    Redirect,
    Error(WebError),
}

impl IntoResponse for NeedUsager {
    fn into_response(self) -> Response {
        match self {
            NeedUsager::Redirect => Redirect::to("/espace-usager").into_response(),
            NeedUsager::Error(e) => e.into_response(),
        }
    }
}

async fn current_usager(parts: &Parts, state: &AppState) -> Result<Option<CurrentUsager>, WebError> {
    let Some(token) = cookies::get(&parts.headers, &cookies::name(&state.config, cookies::USAGER)) else {
        return Ok(None);
    };
    Ok(usagers::session::load(&state.core.db, &token)
        .await?
        .map(|usager_id| CurrentUsager {
            usager_id,
            token,
            csrf: csrf_of(parts),
        }))
}

impl FromRequestParts<AppState> for CurrentUsager {
    type Rejection = NeedUsager;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match current_usager(parts, state).await {
            Ok(Some(u)) => Ok(u),
            Ok(None) if parts.method == axum::http::Method::GET => Err(NeedUsager::Redirect),
            Ok(None) => Err(NeedUsager::Error(WebError::Forbidden)),
            Err(e) => Err(NeedUsager::Error(e)),
        }
    }
}

/// An usager, signed in or not (the space's home page).
pub struct MaybeUsager {
    pub usager: Option<CurrentUsager>,
    pub csrf: String,
}

impl FromRequestParts<AppState> for MaybeUsager {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(MaybeUsager {
            usager: current_usager(parts, state).await?,
            csrf: csrf_of(parts),
        })
    }
}

/// One use of a mandate, as shown.
pub struct UseView {
    pub quand: String,
    pub mandat_id: i64,
    pub demarche: String,
    pub aidant: String,
    pub structure: String,
    pub service: String,
    pub preuve: i64,
}

#[derive(Template)]
#[template(path = "aidants_connect/espace-usager-connexion.html")]
pub struct SignInPage {
    pub l: Layout,
    pub erreur: Option<String>,
    pub info: Option<String>,
}

#[derive(Template)]
#[template(path = "aidants_connect/espace-usager.html")]
pub struct SpacePage {
    pub l: Layout,
    pub nom: String,
    pub naissance: String,
    pub mandats: Vec<crate::aidants_connect::espace_usager_mandats::MandatView>,
    pub utilisations: Vec<UseView>,
}

fn sign_in_page(
    csrf: &str,
    status: StatusCode,
    erreur: Option<String>,
    info: Option<String>,
) -> Result<Response, WebError> {
    let l = Layout {
        title: "Mon espace usager".into(),
        user: None,
        csrf: csrf.to_string(),
        current: "/espace-usager",
        usager: false,
    };
    render(status, SignInPage { l, erreur, info })
}

/// `GET /espace-usager`: his mandates and their uses, or the sign-in button.
pub async fn home(State(state): State<AppState>, v: MaybeUsager) -> Result<Response, WebError> {
    let Some(u) = v.usager else {
        return sign_in_page(&v.csrf, StatusCode::OK, None, None);
    };
    let me = space::me(&state.core.db, u.usager_id).await?;
    let utilisations = space::uses(&state.core.db, u.usager_id, 200)
        .await?
        .into_iter()
        .map(|x| UseView {
            quand: horodatage(x.at),
            mandat_id: x.mandat_id,
            demarche: x.demarche_label().to_string(),
            aidant: x.aidant,
            structure: x.structure,
            service: x.service,
            preuve: x.journal_seq,
        })
        .collect();
    let mandats = crate::aidants_connect::espace_usager_mandats::of_usager(&state, u.usager_id).await?;
    render(
        StatusCode::OK,
        SpacePage {
            l: u.layout("Mon espace usager"),
            nom: me.name(),
            naissance: me.birthdate_fr(),
            mandats,
            utilisations,
        },
    )
}

/// `GET /espace-usager/connexion`: to FranceConnect, with a fresh browser-binding cookie.
pub async fn start(
    State(state): State<AppState>,
    v: MaybeUsager,
    ClientIp(ip): ClientIp,
) -> Result<Response, WebError> {
    // Each start stores a state: bounded per address.
    if !passerelle_core::ratelimit::hit(&state.core.db, &format!("usager-connexion-ip:{ip}"), 30, 3600).await? {
        return sign_in_page(
            &v.csrf,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Trop de tentatives de connexion depuis cette adresse : réessayez dans une heure.".into()),
            None,
        );
    }
    let Some(fc) = state.franceconnect.as_ref() else {
        return sign_in_page(
            &v.csrf,
            StatusCode::SERVICE_UNAVAILABLE,
            Some(crate::error::capitalise(&FcError::NotConfigured.to_string())),
            None,
        );
    };
    let browser = random_browser_token();
    match usagers::signin::start(&state.core, fc, &browser).await {
        Ok(url) => {
            let mut resp = Redirect::to(&url).into_response();
            cookies::set(
                resp.headers_mut(),
                &state.config,
                cookies::FC_BROWSER,
                &browser,
                Some(600),
            );
            Ok(resp)
        }
        Err(e) => refused(&state, &v.csrf, e).await,
    }
}

async fn refused(state: &AppState, csrf: &str, e: FcError) -> Result<Response, WebError> {
    let e = match e {
        FcError::Core(c) => return Err(c.into()),
        e => e,
    };
    let status = crate::aidants_connect::franceconnect::refusal_status(&e);
    tracing::warn!(motif = e.motif(), "connexion d'un usager à son espace refusée");
    // Journaled only when a real sign-in was under way (a state of ours was
    // used): an unknown state is anybody's request, and must not fill the journal.
    if !matches!(e, FcError::NotConfigured | FcError::UnknownState) {
        usagers::signin::record_refusal(&state.core, &e).await?;
    }
    let message = crate::error::capitalise(&e.to_string());
    let interrupted = matches!(e, FcError::Denied(_));
    sign_in_page(
        csrf,
        status,
        (!interrupted).then(|| message.clone()),
        interrupted.then_some(message),
    )
}

fn browser_cookie(state: &AppState, headers: &HeaderMap) -> String {
    cookies::get(headers, &cookies::name(&state.config, cookies::FC_BROWSER)).unwrap_or_default()
}

/// The FranceConnect callback of an usager's sign-in (dispatched from
/// `/franceconnect/retour` by the nature of its `state`).
pub async fn callback(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
    code: Option<String>,
    st: &str,
    error: Option<String>,
) -> Result<Response, WebError> {
    let browser = browser_cookie(state, headers);
    let Some(fc) = state.franceconnect.as_ref() else {
        return refused(state, csrf, FcError::NotConfigured).await;
    };
    if browser.is_empty() {
        return refused(state, csrf, FcError::UnknownState).await;
    }
    if let Some(error) = error {
        let e = usagers::signin::provider_error(&state.core, &browser, st, &error).await;
        return refused(state, csrf, e).await;
    }
    let code = code.unwrap_or_default();
    if code.is_empty() || code.len() > 2048 {
        return refused(
            state,
            csrf,
            FcError::Denied("FranceConnect n'a pas renvoyé de code".into()),
        )
        .await;
    }
    match usagers::signin::finish(&state.core, fc, &browser, &code, st).await {
        Ok(done) => {
            let mut resp = Redirect::to("/espace-usager").into_response();
            cookies::clear(resp.headers_mut(), &state.config, cookies::FC_BROWSER);
            cookies::set(
                resp.headers_mut(),
                &state.config,
                cookies::USAGER,
                &done.session_token,
                None,
            );
            Ok(resp)
        }
        Err(e) => refused(state, csrf, e).await,
    }
}

/// `POST /espace-usager/deconnexion`: ends the session, then FranceConnect's.
pub async fn sign_out(State(state): State<AppState>, u: CurrentUsager) -> Result<Response, WebError> {
    let browser = random_browser_token();
    let next = match usagers::signin::sign_out(
        &state.core,
        state.franceconnect.as_ref(),
        u.usager_id,
        &u.token,
        &browser,
    )
    .await
    {
        Ok(next) => next,
        Err(FcError::Core(e)) => return Err(e.into()),
        Err(e) => {
            // Signed out here; only FranceConnect's side could not be closed.
            tracing::warn!(motif = e.motif(), "déconnexion FranceConnect de l'usager impossible");
            None
        }
    };
    let mut resp = match next {
        Some(url) => {
            let mut r = Redirect::to(&url).into_response();
            cookies::set(r.headers_mut(), &state.config, cookies::FC_BROWSER, &browser, Some(600));
            r
        }
        None => Redirect::to("/espace-usager/deconnecte").into_response(),
    };
    cookies::clear(resp.headers_mut(), &state.config, cookies::USAGER);
    Ok(resp)
}

/// Back from FranceConnect's logout of an usager (dispatched from
/// `/franceconnect/deconnexion/retour`).
pub async fn sign_out_return(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
    st: &str,
) -> Result<Response, WebError> {
    let browser = browser_cookie(state, headers);
    if let Err(e) = usagers::signin::sign_out_return(&state.core, &browser, st).await {
        return refused(state, csrf, e).await;
    }
    let mut resp = Redirect::to("/espace-usager/deconnecte").into_response();
    cookies::clear(resp.headers_mut(), &state.config, cookies::FC_BROWSER);
    Ok(resp)
}

/// `GET /espace-usager/deconnecte`.
pub async fn signed_out(v: MaybeUsager) -> Result<Response, WebError> {
    sign_in_page(
        &v.csrf,
        StatusCode::OK,
        None,
        Some("Vous êtes déconnecté de votre espace.".into()),
    )
}
