//! SIMULATEUR FranceConnect — démonstration et tests seulement, aucune donnée
//! réelle. Mounted only when `PASSERELLE_FC_SIMULATEUR=1` or in `serve --demo`
//! (refused at startup on a production URL). It answers over HTTP like the real
//! service: discovery, authorisation page (pick a fictitious identity), token,
//! JWKS, userinfo as a signed JWT, end of session. Its codes and tokens are in
//! the database; its key is derived from the data directory's secret.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use passerelle_core::aidants_connect::franceconnect::simulateur::{
    self, OAuthError, Simulateur, TokenRequest, PERSONAS,
};
use passerelle_core::aidants_connect::franceconnect::{federation, french_date, ACR};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{render, Visitor};
use crate::error::WebError;
use crate::forms::{Form, Query};
use crate::templates::Layout;
use crate::AppState;

/// The simulator's pages (a form: inside the CSRF layer). Empty when off.
pub fn pages(on: bool) -> Router<AppState> {
    if !on {
        return Router::new();
    }
    Router::new()
        .route("/fc-simulateur/authorize", get(authorize).post(choose))
        .route(federation::FI_CALLBACK_PATH, get(fi_callback))
}

/// The provider's endpoints, called by the relying party's server. Empty when off.
pub fn api(state: AppState) -> Router {
    if !state.simulateur_on() {
        return Router::new();
    }
    Router::new()
        .route("/fc-simulateur/.well-known/openid-configuration", get(discovery))
        .route("/fc-simulateur/jwks", get(jwks))
        .route("/fc-simulateur/token", axum::routing::post(token))
        .route("/fc-simulateur/userinfo", get(userinfo).post(userinfo))
        .route("/fc-simulateur/session/end", get(end_session))
        .with_state(state)
}

fn sim(state: &AppState) -> Result<Simulateur<'_>, WebError> {
    match &state.franceconnect {
        Some(fc) if fc.config().simulateur => Ok(Simulateur {
            core: &state.core,
            config: fc.config(),
        }),
        _ => Err(WebError::NotFound),
    }
}

/// A fictitious identity as the page lists it.
pub struct PersonaView {
    pub key: &'static str,
    pub nom: String,
    pub naissance: String,
}

#[derive(Template)]
#[template(path = "aidants_connect/fc-simulateur.html")]
pub struct AuthorizePage {
    pub l: Layout,
    pub client_id: String,
    pub redirect_uri: String,
    /// The online service of the federation mode: Aidants Connect is offered.
    pub federation: bool,
    pub fi_key: &'static str,
    pub personas: Vec<PersonaView>,
    pub state: String,
    pub nonce: String,
    pub acr: String,
}

#[derive(Deserialize)]
pub struct AuthorizeQuery {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    response_type: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    nonce: String,
}

fn bounded(v: &str, what: &str) -> Result<(), WebError> {
    if v.is_empty() || v.len() > 512 {
        return Err(WebError::BadRequest(format!(
            "simulateur FranceConnect : paramètre « {what} » absent ou trop long"
        )));
    }
    Ok(())
}

async fn authorize(
    State(state): State<AppState>,
    v: Visitor,
    Query(q): Query<AuthorizeQuery>,
) -> Result<Response, WebError> {
    let s = sim(&state)?;
    s.check_authorize(&q.client_id, &q.redirect_uri, &q.response_type, &q.scope)
        .map_err(|m| WebError::BadRequest(format!("simulateur FranceConnect : {m}")))?;
    bounded(&q.state, "state")?;
    bounded(&q.nonce, "nonce")?;
    // The simulator certifies as FranceConnect does: eidas1, whatever `acr_values` asks.
    let acr = ACR.to_string();
    let personas = PERSONAS
        .iter()
        .map(|p| PersonaView {
            key: p.key,
            nom: format!("{} {}", p.given_name, p.family_name),
            naissance: format!(
                "{} le {}",
                if p.gender == "female" { "née" } else { "né" },
                french_date(p.birthdate)
            ),
        })
        .collect();
    let mut l = Layout::anonymous("Simulateur FranceConnect");
    l.csrf = v.csrf.clone();
    render(
        StatusCode::OK,
        AuthorizePage {
            l,
            federation: q.client_id == federation::FS_CLIENT_ID,
            fi_key: federation::FI_KEY,
            client_id: q.client_id,
            redirect_uri: q.redirect_uri,
            personas,
            state: q.state,
            nonce: q.nonce,
            acr,
        },
    )
}

#[derive(Deserialize)]
pub struct Choice {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    state: String,
    nonce: String,
    acr: String,
    #[serde(default)]
    identite: String,
    #[serde(default)]
    annuler: Option<String>,
}

async fn choose(State(state): State<AppState>, Form(f): Form<Choice>) -> Result<Response, WebError> {
    let s = sim(&state)?;
    bounded(&f.state, "state")?;
    bounded(&f.nonce, "nonce")?;
    // The page's hidden fields are checked again: a registered client and its own address.
    s.check_authorize(&f.client_id, &f.redirect_uri, "code", "openid")
        .map_err(|m| WebError::BadRequest(format!("simulateur FranceConnect : {m}")))?;
    let mut back = url::Url::parse(&f.redirect_uri)
        .map_err(|_| WebError::BadRequest("simulateur FranceConnect : redirect_uri invalide".into()))?;
    if f.annuler.is_some() {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", "L'usager a annulé sa connexion")
            .append_pair("state", &f.state);
        return Ok(Redirect::to(back.as_str()).into_response());
    }
    if f.acr != ACR {
        return Err(WebError::BadRequest(
            "simulateur FranceConnect : niveau de garantie inconnu".into(),
        ));
    }
    if f.identite == federation::FI_KEY && f.client_id == federation::FS_CLIENT_ID {
        // Federation: on to Aidants Connect, FranceConnect's identity provider.
        let fs = federation::FsRequest {
            client_id: f.client_id,
            redirect_uri: f.redirect_uri,
            state: f.state,
            nonce: f.nonce,
        };
        let to = federation::start(&state.core, &crate::aidants_connect::oidc::issuer(&state), &fs).await?;
        return Ok(Redirect::to(&to).into_response());
    }
    let code = s
        .issue_code_to(&f.client_id, &f.redirect_uri, &f.identite, &f.nonce, ACR, None)
        .await?;
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &f.state);
    Ok(Redirect::to(back.as_str()).into_response())
}

#[derive(Deserialize)]
pub struct FiCallback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
}

/// `GET /fc-simulateur/fi/retour`: Aidants Connect answers the simulator;
/// the simulator checks everything over HTTP, then answers the online service.
async fn fi_callback(State(state): State<AppState>, Query(q): Query<FiCallback>) -> Result<Response, WebError> {
    let s = sim(&state)?;
    let refused = |m: String| WebError::BadRequest(format!("Simulateur FranceConnect : {m}"));
    if q.state.is_empty() || q.state.len() > 512 || q.code.len() > 512 {
        return Err(refused("réponse du fournisseur d'identité incomplète".into()));
    }
    if !q.error.is_empty() {
        return match federation::refused(&state.core, &q.state).await? {
            Some(to) => Ok(Redirect::to(&to).into_response()),
            None => Err(refused(federation::FederationError::UnknownState.to_string())),
        };
    }
    let http = federation::http_client()?;
    let base = crate::aidants_connect::oidc::issuer(&state);
    let (fs, federated) = federation::finish(&state.core, &http, &base, &q.code, &q.state)
        .await?
        .map_err(|e| refused(e.to_string()))?;
    let code = s
        .issue_code_to(
            &fs.client_id,
            &fs.redirect_uri,
            federation::FI_KEY,
            &fs.nonce,
            ACR,
            Some(&federated),
        )
        .await?;
    let mut back =
        url::Url::parse(&fs.redirect_uri).map_err(|_| refused("adresse de retour du service invalide".into()))?;
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &fs.state);
    Ok(Redirect::to(back.as_str()).into_response())
}

async fn discovery(State(state): State<AppState>) -> Result<Response, WebError> {
    Ok(Json(sim(&state)?.discovery()).into_response())
}

async fn jwks(State(state): State<AppState>) -> Result<Response, WebError> {
    let s = sim(&state)?;
    let key = simulateur::SigningKey::of(&s.core.keys)?;
    Ok(Json(key.jwks()).into_response())
}

fn oauth_error(e: OAuthError) -> Response {
    let status = match e.0 {
        "invalid_client" => StatusCode::UNAUTHORIZED,
        "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Json(json!({ "error": e.0 }))).into_response()
}

/// `client_id:client_secret` of an HTTP Basic header (each part form-encoded).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let raw = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(raw.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((dec(id)?, dec(secret)?))
}

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let s = sim(&state)?;
    let field = |name: &str| {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (client_id, client_secret) =
        basic_credentials(&headers).unwrap_or_else(|| (field("client_id"), field("client_secret")));
    let req = TokenRequest {
        grant_type: field("grant_type"),
        code: field("code"),
        redirect_uri: field("redirect_uri"),
        client_id,
        client_secret,
    };
    Ok(match s.token(&req).await {
        Ok(v) => {
            let mut res = Json(v).into_response();
            res.headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            res
        }
        Err(e) => oauth_error(e),
    })
}

async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
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
        Err(e) => {
            let mut res = oauth_error(e);
            *res.status_mut() = StatusCode::UNAUTHORIZED;
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            res
        }
    })
}

#[derive(Deserialize)]
pub struct EndSession {
    #[serde(default)]
    id_token_hint: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    post_logout_redirect_uri: String,
}

async fn end_session(State(state): State<AppState>, Query(q): Query<EndSession>) -> Result<Response, WebError> {
    let s = sim(&state)?;
    s.end_session(&q.id_token_hint, &q.post_logout_redirect_uri)
        .map_err(|m| WebError::BadRequest(format!("simulateur FranceConnect : {m}")))?;
    let mut back = s.config.post_logout_redirect_uri.clone();
    back.query_pairs_mut().append_pair("state", &q.state);
    Ok(Redirect::to(back.as_str()).into_response())
}
