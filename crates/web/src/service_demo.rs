//! The demonstration online service (fictitious town hall), mounted only with
//! `serve --demo`: "Se connecter avec Aidants Connect", then what the service
//! learnt about the usager through Passerelle's OpenID Connect provider.
//! The protocol work is in `passerelle_core::aidants_connect::oidc_provider::service_demo`.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::aidants_connect::oidc_provider::service_demo as demo;
use serde::Deserialize;

use crate::aidants_connect::oidc::issuer;
use crate::auth::{render, Visitor};
use crate::cookies;
use crate::error::WebError;
use crate::forms::Query;
use crate::AppState;

#[derive(Template)]
#[template(path = "service-demo.html")]
pub struct ServicePage {
    pub l: crate::templates::Layout,
    pub nom_service: &'static str,
    pub erreur: Option<String>,
    /// (label, value) of what the service received.
    pub identite: Vec<(String, String)>,
    pub deconnexion: Option<String>,
    /// The FranceConnect button is offered (the simulator federates Aidants Connect).
    pub franceconnect: bool,
    /// Who the identity came from, once connected.
    pub fournisseur: &'static str,
}

fn mounted(state: &AppState) -> Result<(), WebError> {
    if state.service_demo {
        Ok(())
    } else {
        Err(WebError::NotFound)
    }
}

#[allow(clippy::too_many_arguments)]
fn page(
    state: &AppState,
    v: &Visitor,
    fournisseur: &'static str,
    status: StatusCode,
    erreur: Option<String>,
    identite: Vec<(String, String)>,
    deconnexion: Option<String>,
) -> Result<Response, WebError> {
    render(
        status,
        ServicePage {
            l: v.layout("Service en ligne de démonstration", ""),
            nom_service: demo::NAME,
            erreur,
            identite,
            deconnexion,
            franceconnect: state.simulateur_on(),
            fournisseur,
        },
    )
}

/// `GET /service-demo`.
pub async fn home(State(state): State<AppState>, v: Visitor) -> Result<Response, WebError> {
    mounted(&state)?;
    page(&state, &v, "Aidants Connect", StatusCode::OK, None, Vec::new(), None)
}

/// `GET /service-demo/connexion`: to Passerelle's `/oidc/authorize`.
pub async fn start(state: State<AppState>) -> Result<Response, WebError> {
    begin(state, demo::Via::AidantsConnect).await
}

/// `GET /service-demo/fc/connexion`: to the FranceConnect simulator, which
/// offers Aidants Connect as identity provider.
pub async fn start_fc(state: State<AppState>) -> Result<Response, WebError> {
    if !state.simulateur_on() {
        return Err(WebError::NotFound);
    }
    begin(state, demo::Via::FranceConnect).await
}

async fn begin(State(state): State<AppState>, via: demo::Via) -> Result<Response, WebError> {
    mounted(&state)?;
    let browser = demo::new_browser_value();
    let url = demo::authorization_url(&state.core.keys, &issuer(&state), &browser, via);
    let mut resp = Redirect::to(&url).into_response();
    cookies::set(
        resp.headers_mut(),
        &state.config,
        cookies::SERVICE_DEMO,
        &browser,
        Some(900),
    );
    Ok(resp)
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

const CLAIMS: [(&str, &str); 9] = [
    ("given_name", "Prénoms"),
    ("family_name", "Nom de naissance"),
    ("preferred_username", "Nom d'usage"),
    ("birthdate", "Date de naissance"),
    ("birthplace", "Lieu de naissance (code INSEE)"),
    ("birthcountry", "Pays de naissance (code INSEE)"),
    ("email", "Courriel"),
    ("sub", "Identifiant de l'usager pour ce service (sub)"),
    ("acr", "Niveau d'authentification (acr)"),
];

/// `GET /service-demo/retour`: the provider sends the browser back here.
pub async fn callback(
    state: State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    q: Query<Callback>,
) -> Result<Response, WebError> {
    back(state, v, headers, q, demo::Via::AidantsConnect).await
}

/// `GET /service-demo/fc/retour`: the FranceConnect simulator sends the browser back here.
pub async fn callback_fc(
    state: State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    q: Query<Callback>,
) -> Result<Response, WebError> {
    back(state, v, headers, q, demo::Via::FranceConnect).await
}

async fn back(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Query(q): Query<Callback>,
    via: demo::Via,
) -> Result<Response, WebError> {
    mounted(&state)?;
    let provider = match via {
        demo::Via::AidantsConnect => "Aidants Connect",
        demo::Via::FranceConnect => "FranceConnect",
    };
    if let Some(e) = q.error {
        let why = q.error_description.unwrap_or_default();
        let msg = format!(
            "Connexion refusée par {provider} ({}) {}",
            e.chars().take(60).collect::<String>(),
            why.chars().take(200).collect::<String>()
        );
        return page(&state, &v, provider, StatusCode::OK, Some(msg), Vec::new(), None);
    }
    let browser = cookies::get(&headers, &cookies::name(&state.config, cookies::SERVICE_DEMO)).unwrap_or_default();
    let code = q.code.unwrap_or_default();
    let st = q.state.unwrap_or_default();
    if code.is_empty() || code.len() > 512 || st.len() > 512 {
        return page(
            &state,
            &v,
            provider,
            StatusCode::BAD_REQUEST,
            Some(format!("Réponse de {provider} incomplète.")),
            Vec::new(),
            None,
        );
    }
    let base = issuer(&state);
    match demo::finish(&state.core.keys, &base, &browser, &code, &st, via).await {
        Ok(done) => {
            let mut identite: Vec<(String, String)> = Vec::new();
            for (k, label) in CLAIMS {
                let v = done.userinfo.get(k).or_else(|| done.id_claims.get(k));
                if let Some(s) = v.and_then(|x| x.as_str()).filter(|s| !s.is_empty()) {
                    let shown = match k {
                        // Received as the standard's AAAA-MM-JJ; read as JJ/MM/AAAA.
                        "birthdate" => passerelle_core::dates_fr::jour_fr(s),
                        _ => s.to_string(),
                    };
                    identite.push((label.to_string(), shown));
                }
            }
            // Through FranceConnect: the identity provider the aidant picked there.
            if let Some(idp) = done.id_claims.get("idp").and_then(|x| x.as_str()) {
                identite.push((
                    "Fournisseur d'identité choisi sur FranceConnect (idp)".into(),
                    idp.to_string(),
                ));
            }
            // Everything else the provider said (the aidant, the démarche…).
            if let Some(obj) = done.userinfo.as_object() {
                for (k, val) in obj {
                    if CLAIMS.iter().any(|(c, _)| c == k) {
                        continue;
                    }
                    let text = match val {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    identite.push((k.clone(), text));
                }
            }
            // The FranceConnect simulator's logout is for Passerelle's own client only.
            let logout = (via == demo::Via::AidantsConnect).then(|| demo::logout_url(&base, &done.id_token));
            let mut resp = page(&state, &v, provider, StatusCode::OK, None, identite, logout)?;
            cookies::clear(resp.headers_mut(), &state.config, cookies::SERVICE_DEMO);
            Ok(resp)
        }
        Err(e) => page(
            &state,
            &v,
            provider,
            StatusCode::BAD_REQUEST,
            Some(crate::error::capitalise(&e.to_string())),
            Vec::new(),
            None,
        ),
    }
}
