//! SIMULATEUR ProConnect — démonstration et tests seulement. Mounted only when
//! `PASSERELLE_PROCONNECT_SIMULATEUR=1` or in `serve --demo` (refused at
//! startup on a production URL). Its page asks for the agent's address and
//! whether he « used » a second factor; the rest answers over HTTP like
//! ProConnect. The protocol is in `passerelle_core::accounts::proconnect::simulateur`.

use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use passerelle_core::accounts::proconnect::simulateur::{self, Agent, OAuthError, Simulateur};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{render, Visitor};
use crate::error::WebError;
use crate::forms::{Form, Query};
use crate::templates::Layout;
use crate::AppState;

/// The simulator's page (a form: inside the CSRF layer). Empty when off.
pub fn pages(on: bool) -> Router<AppState> {
    if !on {
        return Router::new();
    }
    Router::new().route("/pc-simulateur/authorize", get(authorize).post(choose))
}

/// The endpoints called by the relying party's server. Empty when off.
pub fn api(state: AppState) -> Router {
    if !state.pc_simulateur_on() {
        return Router::new();
    }
    Router::new()
        .route("/pc-simulateur/.well-known/openid-configuration", get(discovery))
        .route("/pc-simulateur/jwks", get(jwks))
        .route("/pc-simulateur/token", axum::routing::post(token))
        .route("/pc-simulateur/userinfo", get(userinfo))
        .route("/pc-simulateur/session/end", get(end_session))
        .with_state(state)
}

fn sim(state: &AppState) -> Result<Simulateur<'_>, WebError> {
    match &state.proconnect {
        Some(pc) if pc.config().simulateur => Ok(Simulateur { core: &state.core, pc }),
        _ => Err(WebError::NotFound),
    }
}

#[derive(Template)]
#[template(path = "accounts/pc-simulateur.html")]
pub struct AuthorizePage {
    pub l: Layout,
    pub state: String,
    pub nonce: String,
    pub courriel: String,
    pub amr_asked: bool,
}

#[derive(Deserialize)]
pub struct AuthorizeQuery {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    login_hint: String,
    #[serde(default)]
    claims: String,
}

async fn authorize(
    State(state): State<AppState>,
    v: Visitor,
    Query(q): Query<AuthorizeQuery>,
) -> Result<Response, WebError> {
    let s = sim(&state)?;
    s.check_authorize(&q.client_id, &q.redirect_uri, &q.scope, &q.state, &q.nonce)
        .map_err(|m| WebError::BadRequest(format!("simulateur ProConnect : {m}")))?;
    // amr only when the service asked for it (claims.id_token.amr).
    let amr_asked = serde_json::from_str::<serde_json::Value>(&q.claims)
        .ok()
        .is_some_and(|c| c["id_token"].get("amr").is_some());
    let mut l = Layout::anonymous("Simulateur ProConnect");
    l.csrf = v.csrf.clone();
    render(
        StatusCode::OK,
        AuthorizePage {
            l,
            state: q.state,
            nonce: q.nonce,
            courriel: q.login_hint.chars().take(254).collect(),
            amr_asked,
        },
    )
}

#[derive(Deserialize)]
pub struct Choice {
    state: String,
    nonce: String,
    #[serde(default)]
    courriel: String,
    #[serde(default)]
    prenom: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    siret: String,
    #[serde(default)]
    mfa: Option<String>,
    #[serde(default)]
    non_verifiee: Option<String>,
    #[serde(default)]
    amr_asked: String,
    #[serde(default)]
    annuler: Option<String>,
}

async fn choose(State(state): State<AppState>, Form(f): Form<Choice>) -> Result<Response, WebError> {
    let s = sim(&state)?;
    let config = s.pc.config();
    if f.state.len() > 512 || f.nonce.len() > 512 {
        return Err(WebError::BadRequest(
            "simulateur ProConnect : state ou nonce trop long".into(),
        ));
    }
    let mut back = config.redirect_uri.clone();
    if f.annuler.is_some() {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", "L'agent a annulé sa connexion")
            .append_pair("state", &f.state);
        return Ok(Redirect::to(back.as_str()).into_response());
    }
    let siret: String = f.siret.chars().filter(|c| c.is_ascii_digit()).collect();
    if !(siret.is_empty() || siret.len() == 14) {
        return Err(WebError::BadRequest(
            "simulateur ProConnect : le SIRET a 14 chiffres".into(),
        ));
    }
    let agent = Agent {
        email: f.courriel.trim().to_lowercase(),
        given_name: Some(f.prenom.trim())
            .filter(|p| !p.is_empty())
            .unwrap_or("Camille")
            .to_string(),
        usual_name: Some(f.nom.trim())
            .filter(|p| !p.is_empty())
            .unwrap_or("Agent")
            .to_string(),
        siret,
        mfa: f.mfa.is_some(),
        email_verified: f.non_verifiee.is_none(),
        amr_asked: f.amr_asked == "1",
    };
    let code = s
        .issue_code(&agent, &f.nonce)
        .await
        .map_err(|e| WebError::BadRequest(format!("simulateur ProConnect : {e}")))?;
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &f.state);
    Ok(Redirect::to(back.as_str()).into_response())
}

async fn discovery(State(state): State<AppState>) -> Result<Response, WebError> {
    Ok(Json(sim(&state)?.discovery()).into_response())
}

async fn jwks(State(state): State<AppState>) -> Result<Response, WebError> {
    let s = sim(&state)?;
    Ok(Json(simulateur::key(&s.core.keys)?.jwks()).into_response())
}

fn oauth_error(e: OAuthError) -> Response {
    let status = match e.0 {
        "invalid_client" | "invalid_token" => StatusCode::UNAUTHORIZED,
        "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Json(json!({ "error": e.0 }))).into_response()
}

async fn token(State(state): State<AppState>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let s = sim(&state)?;
    let field = |name: &str| {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    if field("grant_type") != "authorization_code" {
        return Ok(oauth_error(OAuthError("unsupported_grant_type")));
    }
    Ok(
        match s
            .token(
                &field("client_id"),
                &field("client_secret"),
                &field("code"),
                &field("redirect_uri"),
            )
            .await
        {
            Ok(v) => ([(header::CACHE_CONTROL, "no-store")], Json(v)).into_response(),
            Err(e) => oauth_error(e),
        },
    )
}

async fn userinfo(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Result<Response, WebError> {
    let s = sim(&state)?;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim()
        .to_string();
    Ok(match s.userinfo(&bearer).await {
        Ok(jwt) => ([(header::CONTENT_TYPE, "application/jwt")], jwt).into_response(),
        Err(e) => oauth_error(e),
    })
}

#[derive(Deserialize)]
pub struct EndSession {
    #[serde(default)]
    state: String,
}

/// `GET /pc-simulateur/session/end`: back to the sign-in page.
async fn end_session(State(state): State<AppState>, Query(q): Query<EndSession>) -> Result<Response, WebError> {
    let s = sim(&state)?;
    let mut back = s.pc.config().post_logout_redirect_uri.clone();
    back.query_pairs_mut().append_pair("state", &q.state);
    Ok(Redirect::to(back.as_str()).into_response())
}
