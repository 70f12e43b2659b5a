//! The public habilitation request of a structure (`/aidants-connect/habilitation`)
//! and its follow-up page, opened with the personal link sent to the contact.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::aidants_connect::demarches;
use passerelle_core::aidants_connect::structures::{self, Habilitation, RequestForm};
use passerelle_core::ratelimit;

use crate::aidants_connect::connexion::TokenQuery;
use crate::auth::{render, ClientIp, Visitor};
use crate::error::{refusal_message, WebError};
use crate::forms::{Form, Query};
use crate::templates::{horodatage, Layout};
use crate::AppState;

/// Blank aidant rows offered on the form.
const EXTRA_ROWS: usize = 3;

/// The form's values, to show it again.
pub struct Values {
    pub siret: String,
    pub nom: String,
    pub adresse: String,
    pub contact_courriel: String,
    pub referent_nom: String,
    pub referent_courriel: String,
    pub aidants: Vec<(String, String)>,
    pub types: Vec<(&'static str, &'static str, bool)>,
    pub demarches: Vec<(&'static str, &'static str, bool)>,
}

impl Values {
    fn of(f: &RequestForm) -> Values {
        let mut aidants: Vec<(String, String)> = f
            .aidants
            .iter()
            .filter(|(n, e)| !n.trim().is_empty() || !e.trim().is_empty())
            .cloned()
            .collect();
        aidants.extend(std::iter::repeat_n((String::new(), String::new()), EXTRA_ROWS));
        Values {
            siret: f.siret.clone(),
            nom: f.nom.clone(),
            adresse: f.adresse.clone(),
            contact_courriel: f.contact_courriel.clone(),
            referent_nom: f.referent_nom.clone(),
            referent_courriel: f.referent_courriel.clone(),
            aidants,
            types: structures::TYPES
                .iter()
                .map(|(k, l)| (*k, *l, f.type_structure == *k))
                .collect(),
            demarches: demarches::ALL
                .iter()
                .map(|(k, l)| (*k, *l, f.demarches.iter().any(|d| d == k)))
                .collect(),
        }
    }
}

fn form_of(h: &Habilitation) -> RequestForm {
    RequestForm {
        siret: h.siret.clone(),
        nom: h.nom.clone(),
        type_structure: h.type_structure.clone(),
        adresse: h.adresse.clone(),
        contact_courriel: h.contact_courriel.clone(),
        referent_nom: h.referent_nom.clone(),
        referent_courriel: h.referent_courriel.clone(),
        aidants: h.aidants.iter().map(|a| (a.nom.clone(), a.courriel.clone())).collect(),
        demarches: h.demarches.clone(),
    }
}

/// Reads the posted fields (aidant rows and démarches repeat).
fn parse(fields: &[(String, String)]) -> (RequestForm, String) {
    let mut f = RequestForm::default();
    let mut names = Vec::new();
    let mut emails = Vec::new();
    let mut jeton = String::new();
    for (k, v) in fields {
        match k.as_str() {
            "siret" => f.siret = v.clone(),
            "nom" => f.nom = v.clone(),
            "type_structure" => f.type_structure = v.clone(),
            "adresse" => f.adresse = v.clone(),
            "contact_courriel" => f.contact_courriel = v.clone(),
            "referent_nom" => f.referent_nom = v.clone(),
            "referent_courriel" => f.referent_courriel = v.clone(),
            "aidant_nom" => names.push(v.clone()),
            "aidant_courriel" => emails.push(v.clone()),
            "demarches" => f.demarches.push(v.clone()),
            "jeton" => jeton = v.chars().take(128).collect(),
            _ => {}
        }
    }
    f.aidants = names
        .into_iter()
        .zip(emails)
        .take(structures::MAX_AIDANTS + EXTRA_ROWS)
        .collect();
    (f, jeton)
}

#[derive(Template)]
#[template(path = "aidants_connect/aidants-habilitation.html")]
pub struct RequestPage {
    pub l: Layout,
    pub error: Option<String>,
    pub message: Option<String>,
    pub v: Values,
    /// The follow-up link's token (follow-up page) or None (new request).
    pub jeton: Option<String>,
    pub editable: bool,
    pub numero: Option<i64>,
    pub etat: &'static str,
    pub operator_message: String,
    pub history: Vec<(&'static str, String, String)>,
}

fn new_page(v: &Visitor, f: &RequestForm, error: Option<String>) -> RequestPage {
    RequestPage {
        l: v.layout(
            "Demande d'habilitation Aidants Connect",
            "/aidants-connect/habilitation",
        ),
        error,
        message: None,
        v: Values::of(f),
        jeton: None,
        editable: true,
        numero: None,
        etat: "",
        operator_message: String::new(),
        history: Vec::new(),
    }
}

/// GET `/aidants-connect/habilitation`.
pub async fn form(v: Visitor) -> Result<Response, WebError> {
    render(StatusCode::OK, new_page(&v, &RequestForm::default(), None))
}

/// POST `/aidants-connect/habilitation`.
pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    v: Visitor,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let (f, _) = parse(&fields);
    if !ratelimit::hit(&state.core.db, &format!("habilitation-ip:{ip}"), 20, 3600).await? {
        let e = "Trop de demandes depuis votre réseau. Réessayez dans une heure.".to_string();
        return render(StatusCode::TOO_MANY_REQUESTS, new_page(&v, &f, Some(e)));
    }
    match structures::submit(&state.core, &f, state.config.base_url.as_str()).await {
        Ok((id, _token)) => {
            Ok(Redirect::to(&format!("/aidants-connect/habilitation/envoyee?numero={id}")).into_response())
        }
        Err(e) => render(StatusCode::BAD_REQUEST, new_page(&v, &f, Some(refusal_message(e)?))),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct Sent {
    #[serde(default)]
    numero: i64,
}

/// GET `/aidants-connect/habilitation/envoyee`.
pub async fn sent(v: Visitor, Query(q): Query<Sent>) -> Result<Response, WebError> {
    let mut p = new_page(&v, &RequestForm::default(), None);
    p.editable = false;
    p.numero = Some(q.numero);
    p.message = Some(format!(
        "Votre demande n° {} est déposée. Un courriel de confirmation avec un lien personnel pour la suivre a été envoyé à l'adresse de contact.",
        q.numero
    ));
    render(StatusCode::OK, p)
}

async fn follow_page(
    state: &AppState,
    v: &Visitor,
    token: &str,
    posted: Option<&RequestForm>,
    error: Option<String>,
    message: Option<String>,
) -> Result<Response, WebError> {
    let h = structures::by_token(&state.core, token).await?;
    let history = structures::history(&state.core, h.id)
        .await?
        .into_iter()
        .map(|(etat, m, at)| (etat.label(), m, horodatage(at)))
        .collect();
    let editable = h.etat.editable();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        RequestPage {
            l: v.layout("Suivi de la demande d'habilitation", "/aidants-connect/habilitation"),
            error,
            message,
            v: Values::of(posted.unwrap_or(&form_of(&h))),
            jeton: Some(token.to_string()),
            editable,
            numero: Some(h.id),
            etat: h.etat.label(),
            operator_message: h.message.clone(),
            history,
        },
    )
}

/// GET `/aidants-connect/habilitation/suivi?jeton=…`.
pub async fn follow(
    State(state): State<AppState>,
    v: Visitor,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    let token = q.jeton_str().to_string();
    follow_page(&state, &v, &token, None, None, None).await
}

/// POST `/aidants-connect/habilitation/suivi`: the structure changes its request.
pub async fn follow_submit(
    State(state): State<AppState>,
    v: Visitor,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let (f, token) = parse(&fields);
    match structures::update_by_token(&state.core, &token, &f).await {
        Ok(_) => {
            let m = "La demande est modifiée et transmise de nouveau à l'opérateur.".to_string();
            follow_page(&state, &v, &token, None, None, Some(m)).await
        }
        Err(passerelle_core::CoreError::NotFound(_)) => Err(WebError::NotFound),
        Err(e) => {
            let m = refusal_message(e)?;
            follow_page(&state, &v, &token, Some(&f), Some(m), None).await
        }
    }
}
