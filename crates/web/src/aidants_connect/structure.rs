//! The aidant's side of structures: « Ma structure » (the explicit choice of
//! the current structure, the invitations received, accepted with a recent
//! TOTP code or declined), and the page the link of an invitation opens.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::aidants_connect::aidants::{self, Current};
use passerelle_core::aidants_connect::demarches;
use passerelle_core::aidants_connect::invitations::{self, Link};
use serde::Deserialize;

use crate::aidants_connect::connexion::{safe_next, FreshUser, TokenQuery};
use crate::auth::{render, CurrentUser, NeedLogin, Visitor};
use crate::error::{refusal_message, WebError};
use crate::forms::{Form, Query};
use crate::templates::{horodatage, Layout};
use crate::AppState;

/// Where an aidant who acts for no structure may still go: choosing it,
/// answering invitations, his account, signing in and out.
const WITHOUT_STRUCTURE: [&str; 5] = [
    "/aidants-connect/structure",
    "/aidants-connect/invitations/",
    "/mon-compte",
    "/connexion",
    "/deconnexion",
];

/// An aidant with several active structures and none chosen (or the chosen
/// one no longer active) must choose before anything else: pages send him to
/// the choice and back, other requests are refused.
pub(crate) fn must_choose(u: &CurrentUser, parts: &Parts) -> Option<NeedLogin> {
    if u.structure != Some(aidants::Current::MustChoose) {
        return None;
    }
    let path = parts.uri.path();
    if WITHOUT_STRUCTURE.iter().any(|p| path == *p || path.starts_with(p)) {
        return None;
    }
    if parts.method != axum::http::Method::GET {
        return Some(NeedLogin::Error(WebError::Forbidden));
    }
    let back = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let next: String = url::form_urlencoded::byte_serialize(safe_next(back).as_bytes()).collect();
    Some(NeedLogin::To(format!("/aidants-connect/structure?suivant={next}")))
}

pub struct InvitationView {
    pub id: i64,
    pub structure: String,
    pub recue: String,
    pub expire: String,
}

#[derive(Template)]
#[template(path = "aidants_connect/aidants-structure.html")]
pub struct StructurePage {
    pub l: Layout,
    pub error: Option<String>,
    pub message: Option<String>,
    /// The structure acted for, if chosen.
    pub courante: Option<String>,
    /// Several active structures and none chosen.
    pub a_choisir: bool,
    /// (id, name, active, current)
    pub structures: Vec<(i64, String, bool, bool)>,
    /// Some structures are active (to choose from), some are not.
    pub actives: bool,
    pub inactives: bool,
    pub demarches: Vec<&'static str>,
    pub invitations: Vec<InvitationView>,
    /// Where to go back after the choice (a local path, or empty).
    pub suivant: String,
}

#[derive(Deserialize, Default)]
pub struct StructureQuery {
    ok: Option<String>,
    #[serde(default)]
    suivant: String,
}

fn done_message(ok: Option<&str>) -> Option<String> {
    Some(
        match ok? {
            "choix" => "Vous agissez maintenant pour cette structure.",
            "acceptation" => {
                "Invitation acceptée. Le référent de la structure vous activera une fois votre formation et votre \
                 appareil de double authentification vérifiés ; vous pourrez alors la choisir ici."
            }
            "refus" => "Invitation refusée : vous ne rejoignez pas cette structure.",
            _ => return None,
        }
        .to_string(),
    )
}

async fn page(
    state: &AppState,
    u: &CurrentUser,
    error: Option<String>,
    message: Option<String>,
    suivant: &str,
) -> Result<Response, WebError> {
    let structures = aidants::own_structures(&state.core, &u.principal).await?;
    let current = match &u.structure {
        Some(Current::Acting { id, name }) => Some((*id, name.clone())),
        _ => None,
    };
    let allowed = match &current {
        Some((id, _)) => aidants::allowed_demarches(&state.core.db, *id).await?,
        None => Vec::new(),
    };
    let invitations = invitations::received(&state.core, &u.principal)
        .await?
        .into_iter()
        .map(|i| InvitationView {
            id: i.id,
            structure: i.structure,
            recue: horodatage(i.created_at),
            expire: horodatage(i.expires_at),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let current_id = current.as_ref().map(|(id, _)| *id);
    let actives = structures.iter().any(|s| s.2);
    let inactives = structures.iter().any(|s| !s.2);
    render(
        status,
        StructurePage {
            l: u.layout("Ma structure", "/aidants-connect/structure"),
            error,
            message,
            a_choisir: matches!(u.structure, Some(Current::MustChoose)),
            courante: current.map(|(_, name)| name),
            structures: structures
                .into_iter()
                .map(|(id, name, active)| (id, name, active, Some(id) == current_id))
                .collect(),
            actives,
            inactives,
            demarches: demarches::ALL
                .iter()
                .filter(|(k, _)| allowed.iter().any(|a| a == k))
                .map(|(_, l)| *l)
                .collect(),
            invitations,
            suivant: if suivant.is_empty() {
                String::new()
            } else {
                safe_next(suivant)
            },
        },
    )
}

/// GET `/aidants-connect/structure`: the aidant's structures, the current
/// one (to choose when there are several), the invitations received.
pub async fn structure(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<StructureQuery>,
) -> Result<Response, WebError> {
    page(&state, &u, None, done_message(q.ok.as_deref()), &q.suivant).await
}

#[derive(Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    structure: i64,
    #[serde(default)]
    suivant: String,
}

/// POST `/aidants-connect/structure`: the explicit choice of the current structure.
pub async fn switch(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<SwitchForm>,
) -> Result<Response, WebError> {
    aidants::switch(&state.core, &u.principal, &u.token, f.structure).await?;
    if f.suivant.is_empty() {
        Ok(Redirect::to("/aidants-connect/structure?ok=choix").into_response())
    } else {
        Ok(Redirect::to(&safe_next(&f.suivant)).into_response())
    }
}

/// POST `/aidants-connect/invitations/{id}/accepter` (recent TOTP required).
pub async fn accept(
    State(state): State<AppState>,
    FreshUser(u): FreshUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    answer(&state, &u, id, true).await
}

/// POST `/aidants-connect/invitations/{id}/refuser`.
pub async fn decline(State(state): State<AppState>, u: CurrentUser, Path(id): Path<i64>) -> Result<Response, WebError> {
    answer(&state, &u, id, false).await
}

async fn answer(state: &AppState, u: &CurrentUser, id: i64, accept: bool) -> Result<Response, WebError> {
    match invitations::answer(&state.core, &u.principal, &u.session, id, accept).await {
        Ok(_) => {
            let ok = if accept { "acceptation" } else { "refus" };
            Ok(Redirect::to(&format!("/aidants-connect/structure?ok={ok}")).into_response())
        }
        Err(e @ (passerelle_core::CoreError::Invalid(_) | passerelle_core::CoreError::Conflict(_))) => {
            page(state, u, Some(refusal_message(e)?), None, "").await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "aidants_connect/aidants-invitation.html")]
pub struct LinkPage {
    pub l: Layout,
    /// The structure inviting, when the link is valid.
    pub structure: Option<String>,
    /// The link itself can answer (the address has no account yet).
    pub par_lien: bool,
    pub jeton: String,
    pub message: Option<String>,
    pub error: Option<String>,
}

fn link_page(v: &Visitor, state: Link, jeton: String) -> Result<Response, WebError> {
    let l = Layout {
        title: "Invitation à rejoindre une structure".into(),
        user: None,
        csrf: v.csrf.clone(),
        current: "/connexion",
        usager: false,
    };
    let (status, structure, par_lien, message, error) = match state {
        Link::Invalid => (
            StatusCode::NOT_FOUND,
            None,
            false,
            None,
            Some("Ce lien d'invitation n'est pas valable : il a expiré ou a déjà servi.".to_string()),
        ),
        Link::Open { structure, .. } => (StatusCode::OK, Some(structure), true, None, None),
        Link::SignIn { structure } => (
            StatusCode::OK,
            Some(structure),
            false,
            Some(
                "Cette adresse a déjà un compte sur Passerelle. Si c'est un compte d'aidant, connectez-vous : \
                 l'invitation vous attend dans « Ma structure », où vous l'accepterez avec le code de votre double \
                 authentification."
                    .to_string(),
            ),
            None,
        ),
        Link::Accepted { structure } => (
            StatusCode::OK,
            Some(structure),
            false,
            Some(
                "Invitation acceptée. Le référent de la structure activera votre compte après votre formation et \
                 vous remettra un appareil de double authentification ; vous recevrez alors un courriel."
                    .to_string(),
            ),
            None,
        ),
        Link::Declined => (
            StatusCode::OK,
            None,
            false,
            Some("Invitation refusée : aucun compte n'est créé à votre adresse.".to_string()),
            None,
        ),
    };
    render(
        status,
        LinkPage {
            l,
            structure,
            par_lien,
            jeton: if par_lien { jeton } else { String::new() },
            message,
            error,
        },
    )
}

/// GET `/aidants-connect/invitation?jeton=…`: what the invitation offers (a
/// page with buttons, so that mail scanners following links answer nothing).
pub async fn link_open(
    State(state): State<AppState>,
    v: Visitor,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    let jeton: String = q.jeton_str().chars().take(128).collect();
    let s = invitations::link(&state.core, &jeton).await?;
    link_page(&v, s, jeton)
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    jeton: String,
    #[serde(default)]
    reponse: String,
}

/// POST `/aidants-connect/invitation`: accepts or declines with the link (an address without account).
pub async fn link_answer(
    State(state): State<AppState>,
    v: Visitor,
    Form(f): Form<LinkForm>,
) -> Result<Response, WebError> {
    let accept = match f.reponse.as_str() {
        "accepter" => true,
        "refuser" => false,
        _ => return Err(WebError::BadRequest("choisissez d'accepter ou de refuser".into())),
    };
    let s = invitations::answer_by_link(&state.core, &f.jeton, accept).await?;
    link_page(&v, s, f.jeton)
}
