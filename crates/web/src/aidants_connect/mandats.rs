//! Aidants Connect mandates, the aidant's pages: the structure's list, a new
//! mandate (usager identified with FranceConnect, démarches and duration,
//! recap with the mandate text and the declaration), the detail, renewal.
//! Access is decided by the domain (`mandats::authz`); sensitive steps go
//! through [`FreshUser`] (TOTP of less than 15 minutes).

use crate::forms::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::aidants_connect::mandats::attestation_pdf::moment;
use passerelle_core::aidants_connect::mandats::authz::acting_structure;
use passerelle_core::aidants_connect::mandats::conclude::{self, check_renewable, identified_usager, MandateRequest};
use passerelle_core::aidants_connect::mandats::queries::{self, Mandate, Usager};
use passerelle_core::aidants_connect::mandats::{texts, Duration};
use passerelle_core::aidants_connect::{aidants, demarches};
use passerelle_core::CoreError;

use crate::aidants_connect::connexion::FreshUser;
use crate::auth::{render, CurrentUser};
use crate::error::{refusal_message, WebError};
use crate::forms::{Form, Query};
use crate::templates::Layout;
use crate::AppState;

const SECTION: &str = "/aidants-connect/mandats";

/// One row of the list.
pub struct Row {
    pub id: i64,
    pub usager: String,
    pub demarches: String,
    pub conclu: String,
    pub expire: String,
    pub etat: String,
}

#[derive(Template)]
#[template(path = "aidants_connect/mandats-liste.html")]
pub struct ListPage {
    pub l: Layout,
    pub q: String,
    pub rows: Vec<Row>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub q_encoded: String,
}

/// `GET /aidants-connect/mandats?q=…&page=N`.
pub async fn list(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(f): Query<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let q = field(&f, "q").unwrap_or_default();
    let page = field(&f, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let p = queries::list(&state.core, &u.principal, &q, page).await?;
    let rows = p
        .items
        .iter()
        .map(|m| Row {
            id: m.id,
            usager: m.usager.full_name(),
            demarches: m.autorisations.iter().map(|a| a.label()).collect::<Vec<_>>().join(", "),
            conclu: moment(m.created_at),
            expire: moment(m.expires_at),
            etat: m.etat(),
        })
        .collect();
    render(
        StatusCode::OK,
        ListPage {
            l: u.layout("Mandats de la structure", SECTION),
            q_encoded: url::form_urlencoded::byte_serialize(q.as_bytes()).collect(),
            q,
            rows,
            total: p.total,
            page: p.page,
            pages: p.pages,
        },
    )
}

pub(crate) fn field(f: &[(String, String)], name: &str) -> Option<String> {
    f.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.chars().take(200).collect())
}

fn request_of(f: &[(String, String)]) -> (Vec<String>, Option<Duration>, bool) {
    let demarches = f
        .iter()
        .filter(|(k, _)| k == "demarches")
        .map(|(_, v)| v.chars().take(40).collect())
        .take(20)
        .collect();
    let duree = field(f, "duree").and_then(|d| Duration::parse(&d).ok());
    let declaration = field(f, "declaration").is_some_and(|v| v == "oui");
    (demarches, duree, declaration)
}

/// A démarche checkbox or a duration radio.
pub struct Option_ {
    pub key: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "aidants_connect/mandats-nouveau.html")]
pub struct NewPage {
    pub l: Layout,
    /// Every problem of the form at once: (id of the fieldset, message).
    pub errors: Vec<(&'static str, String)>,
    /// None: nobody identified on this session in the last 30 minutes.
    pub usager: Option<String>,
    /// Where the form goes (recap of a new mandate or of a renewal).
    pub action: String,
    pub renouvelle: Option<i64>,
    pub demarches: Vec<Option_>,
    pub durees: Vec<Option_>,
}

impl NewPage {
    pub fn err(&self, field: &str) -> Option<&str> {
        crate::templates::field_error(&self.errors, field)
    }
}

/// Ids of the form's two groups (the summary links to them).
const DEMARCHES: &str = "demarches-ensemble";
const DUREE: &str = "duree-ensemble";

async fn options(
    state: &AppState,
    structure: i64,
    chosen: &[String],
    duree: Option<Duration>,
) -> Result<(Vec<Option_>, Vec<Option_>), WebError> {
    let allowed = aidants::allowed_demarches(&state.core.db, structure).await?;
    let d = demarches::ALL
        .iter()
        .filter(|(k, _)| allowed.iter().any(|a| a == k))
        .map(|(k, l)| Option_ {
            key: k,
            label: l,
            checked: chosen.iter().any(|c| c == k),
        })
        .collect();
    let durees = Duration::ALL
        .iter()
        .map(|x| Option_ {
            key: x.key(),
            label: x.label(),
            checked: Some(*x) == duree,
        })
        .collect();
    Ok((d, durees))
}

async fn identified(state: &AppState, u: &CurrentUser) -> Result<Option<Usager>, WebError> {
    match identified_usager(&state.core.db, &u.principal, &u.token).await? {
        Some(id) => Ok(Some(conclude::usager(&state.core.db, id).await?)),
        None => Ok(None),
    }
}

/// `GET /aidants-connect/mandats/nouveau`.
pub async fn new_form(State(state): State<AppState>, u: CurrentUser) -> Result<Response, WebError> {
    let structure = acting_structure(&state.core, &u.principal).await?;
    let usager = identified(&state, &u).await?;
    let (demarches, durees) = options(&state, structure, &[], None).await?;
    render(
        StatusCode::OK,
        NewPage {
            l: u.layout("Nouveau mandat", SECTION),
            errors: Vec::new(),
            usager: usager.map(|x| format!("{}, date de naissance : {}", x.full_name(), x.birthdate_fr())),
            action: format!("{SECTION}/recapitulatif"),
            renouvelle: None,
            demarches,
            durees,
        },
    )
}

#[derive(Template)]
#[template(path = "aidants_connect/mandats-recapitulatif.html")]
pub struct RecapPage {
    pub l: Layout,
    pub error: Option<String>,
    pub usager: Usager,
    pub structure: String,
    /// Posted back: the mandate is concluded for the structure shown, or not at all.
    pub structure_id: i64,
    pub demarches: Vec<(&'static str, &'static str)>,
    pub duree: &'static str,
    pub duree_label: &'static str,
    pub expire: String,
    pub texte: String,
    pub texte_version: i64,
    pub empreinte: String,
    /// Where the confirmation is posted.
    pub action: String,
    pub renouvelle: Option<i64>,
}

#[allow(clippy::too_many_arguments)]
async fn recap(
    state: &AppState,
    u: &CurrentUser,
    structure: i64,
    usager: Usager,
    f: &[(String, String)],
    action: String,
    renouvelle: Option<i64>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let (chosen, duree, _) = request_of(f);
    // Both groups are checked, so that one submission reports every problem.
    let mut errors: Vec<(&'static str, String)> = Vec::new();
    if chosen.is_empty() {
        errors.push((DEMARCHES, "Choisissez au moins une démarche.".into()));
    } else {
        let req = MandateRequest {
            demarches: chosen.clone(),
            duree: duree.unwrap_or(Duration::Short),
            declaration: true,
            usager: None,
            structure: None,
        };
        if let Err(e) = conclude::check_request(&state.core.db, structure, &req).await {
            let mut m = refusal_message(e)?;
            if !m.ends_with('.') {
                m.push('.');
            }
            errors.push((DEMARCHES, m));
        }
    }
    if duree.is_none() {
        errors.push((DUREE, "Choisissez une durée de mandat.".into()));
    }
    let (Some(duree), true) = (duree, errors.is_empty()) else {
        let (demarches, durees) = options(state, structure, &chosen, duree).await?;
        let back = match renouvelle {
            Some(id) => format!("{SECTION}/{id}/renouveler/recapitulatif"),
            None => format!("{SECTION}/recapitulatif"),
        };
        return render(
            StatusCode::BAD_REQUEST,
            NewPage {
                l: u.layout("Nouveau mandat", SECTION),
                errors,
                usager: Some(format!(
                    "{}, date de naissance : {}",
                    usager.full_name(),
                    usager.birthdate_fr()
                )),
                action: back,
                renouvelle,
                demarches,
                durees,
            },
        );
    };
    let keys = demarches::parse_list(&chosen)?;
    let text = texts::get(&state.core.db, texts::CURRENT).await?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        RecapPage {
            l: u.layout("Récapitulatif du mandat", SECTION),
            error,
            usager,
            structure: queries::structure_name(&state.core.db, structure).await?,
            structure_id: structure,
            demarches: keys.iter().map(|k| (*k, demarches::label(k))).collect(),
            duree: duree.key(),
            duree_label: duree.label(),
            expire: moment(duree.expiry(state.core.db.now_micros())),
            texte: text.texte,
            texte_version: text.version,
            empreinte: text.empreinte,
            action,
            renouvelle,
        },
    )
}

/// `GET /aidants-connect/mandats/recapitulatif?demarches=…&duree=…`.
pub async fn recap_new(
    State(state): State<AppState>,
    FreshUser(u): FreshUser,
    Query(f): Query<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let structure = acting_structure(&state.core, &u.principal).await?;
    let Some(usager) = identified(&state, &u).await? else {
        return Ok(Redirect::to(&format!("{SECTION}/nouveau")).into_response());
    };
    recap(&state, &u, structure, usager, &f, SECTION.to_string(), None, None).await
}

/// `POST /aidants-connect/mandats`: concludes the mandate.
pub async fn create(
    State(state): State<AppState>,
    FreshUser(u): FreshUser,
    Form(f): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let structure = acting_structure(&state.core, &u.principal).await?;
    let (chosen, duree, declaration) = request_of(&f);
    let Some(duree) = duree else {
        return Err(WebError::BadRequest("choisissez une durée de mandat".into()));
    };
    let req = MandateRequest {
        demarches: chosen,
        duree,
        declaration,
        usager: field(&f, "usager").and_then(|v| v.parse().ok()),
        structure: field(&f, "structure").and_then(|v| v.parse().ok()),
    };
    match conclude::conclude(&state.core, &u.principal, &u.session, &u.token, &req).await {
        Ok(id) => Ok(Redirect::to(&format!("{SECTION}/{id}?conclu=1")).into_response()),
        Err(e @ CoreError::Invalid(_)) => {
            let m = refusal_message(e)?;
            match identified(&state, &u).await? {
                Some(usager) => {
                    let msg = Some(crate::error::capitalise(&m));
                    recap(&state, &u, structure, usager, &f, SECTION.to_string(), None, msg).await
                }
                None => Err(WebError::BadRequest(m)),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// What the detail page shows of an autorisation.
pub struct AutView {
    pub demarche: String,
    pub label: String,
    pub etat: &'static str,
    pub revoquee: Option<String>,
    pub revocable: bool,
}

#[derive(Template)]
#[template(path = "aidants_connect/mandats-detail.html")]
pub struct DetailPage {
    pub l: Layout,
    pub message: Option<String>,
    pub error: Option<String>,
    pub m: Mandate,
    pub etat: String,
    pub conclu: String,
    pub expire: String,
    pub autorisations: Vec<AutView>,
    pub revocable: bool,
    pub renouvelable: bool,
    pub revocation_pdf: bool,
    /// Only an aidant concludes, renews and revokes (a référent reads).
    pub aidant: bool,
}

/// The detail page of a mandate (shared with the revocation handlers).
pub(crate) async fn detail_page(
    state: &AppState,
    u: &CurrentUser,
    id: i64,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let m = queries::detail(&state.core, &u.principal, id).await?;
    let now = state.core.db.now_micros();
    let autorisations: Vec<AutView> = m
        .autorisations
        .iter()
        .map(|a| AutView {
            demarche: a.demarche.clone(),
            label: a.label().to_string(),
            etat: a.state_label(m.expires_at, now),
            revoquee: a
                .revoquee_at
                .map(|at| format!("le {} par {}", moment(at), a.revoked_by_label())),
            revocable: !a.revoked() && m.expires_at > now,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        DetailPage {
            aidant: u.principal.role == passerelle_core::accounts::Role::Aidant,
            l: u.layout(&format!("Mandat n° {}", m.id), SECTION),
            message,
            error,
            etat: m.etat(),
            conclu: moment(m.created_at),
            expire: moment(m.expires_at),
            revocable: autorisations.iter().any(|a| a.revocable),
            renouvelable: check_renewable(&m, now).is_ok(),
            revocation_pdf: m.any_revoked(),
            autorisations,
            m,
        },
    )
}

/// `GET /aidants-connect/mandats/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Query(f): Query<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let message = match field(&f, "conclu").as_deref() {
        Some("1") => Some("Le mandat est conclu. Imprimez l'attestation et faites-la signer par l'usager.".to_string()),
        _ => None,
    };
    detail_page(&state, &u, id, message, None).await
}

/// `GET /aidants-connect/mandats/{id}/renouveler`: démarches and duration again.
pub async fn renew_form(
    State(state): State<AppState>,
    FreshUser(u): FreshUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let m = queries::detail(&state.core, &u.principal, id).await?;
    check_renewable(&m, state.core.db.now_micros())?;
    let chosen: Vec<String> = m
        .active_demarches(state.core.db.now_micros())
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (demarches, durees) = options(&state, m.organisation_id, &chosen, Some(m.duree)).await?;
    render(
        StatusCode::OK,
        NewPage {
            l: u.layout(&format!("Renouveler le mandat n° {id}"), SECTION),
            errors: Vec::new(),
            usager: Some(format!(
                "{}, date de naissance : {}",
                m.usager.full_name(),
                m.usager.birthdate_fr()
            )),
            action: format!("{SECTION}/{id}/renouveler/recapitulatif"),
            renouvelle: Some(id),
            demarches,
            durees,
        },
    )
}

/// `GET /aidants-connect/mandats/{id}/renouveler/recapitulatif`.
pub async fn renew_recap(
    State(state): State<AppState>,
    FreshUser(u): FreshUser,
    Path(id): Path<i64>,
    Query(f): Query<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let m = queries::detail(&state.core, &u.principal, id).await?;
    check_renewable(&m, state.core.db.now_micros())?;
    let action = format!("{SECTION}/{id}/renouveler");
    recap(&state, &u, m.organisation_id, m.usager, &f, action, Some(id), None).await
}

/// `POST /aidants-connect/mandats/{id}/renouveler`.
pub async fn renew(
    State(state): State<AppState>,
    FreshUser(u): FreshUser,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let (chosen, duree, declaration) = request_of(&f);
    let Some(duree) = duree else {
        return Err(WebError::BadRequest("choisissez une durée de mandat".into()));
    };
    let req = MandateRequest {
        demarches: chosen,
        duree,
        declaration,
        usager: None,
        structure: None,
    };
    match conclude::renew(&state.core, &u.principal, &u.session, id, &req).await {
        Ok(new) => Ok(Redirect::to(&format!("{SECTION}/{new}?conclu=1")).into_response()),
        Err(e @ CoreError::Invalid(_)) => {
            let m = queries::detail(&state.core, &u.principal, id).await?;
            let msg = Some(crate::error::capitalise(&refusal_message(e)?));
            let action = format!("{SECTION}/{id}/renouveler");
            recap(&state, &u, m.organisation_id, m.usager, &f, action, Some(id), msg).await
        }
        Err(e) => Err(e.into()),
    }
}
