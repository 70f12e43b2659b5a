//! The opérateur's pages: organisations and accounts.

use crate::forms::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::accounts::{self, NewAccount, OrgKind, Role};
use passerelle_core::controle::{self, SiretARevoir};
use passerelle_core::CoreError;
use serde::Deserialize;

use crate::auth::{render, CurrentUser};
use crate::error::{capitalise, WebError};
use crate::forms::{Form, Query};
use crate::templates::{CreatedNotice, OperatorPage, SiretRow};
use crate::AppState;

#[derive(Deserialize)]
pub struct Done {
    ok: Option<String>,
}

async fn view(
    state: &AppState,
    u: &CurrentUser,
    message: Option<String>,
    error: Option<String>,
    created: Option<CreatedNotice>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let all = accounts::admin::overview(&state.core, &u.principal).await?;
    let page = OperatorPage {
        l: u.layout("Espace opérateur", "/operateur"),
        organisations: all.organisations,
        accounts: all.accounts,
        kinds: OrgKind::ALL.iter().map(|k| (k.key(), k.label())).collect(),
        roles: Role::ALL.iter().map(|r| (r.key(), r.label())).collect(),
        message,
        error,
        created,
        sirets: controle::sirets_a_reprendre(&state.core, &u.principal)
            .await?
            .into_iter()
            .map(siret_row)
            .collect(),
    };
    render(status, page)
}

/// Where the opérateur looks at (and has corrected) what holds a SIRET to take up again.
fn siret_row(s: SiretARevoir) -> SiretRow {
    let lien = match (s.table, &s.lieu_ext_id) {
        ("demandes_qualification", _) => Some((format!("/qualification/demandes/{}", s.id), "Voir la demande")),
        ("habilitations", _) => Some((format!("/operateur/habilitations/{}", s.id), "Voir la demande")),
        ("qualifications", Some(ext_id)) => Some((
            format!(
                "/lieux/{}",
                url::form_urlencoded::byte_serialize(ext_id.as_bytes()).collect::<String>()
            ),
            "Voir le lieu",
        )),
        _ => None,
    };
    SiretRow {
        objet: s.objet,
        id: s.id,
        nom: s.nom,
        siret: s.siret,
        motif: s.motif,
        lien,
    }
}

pub async fn page(State(state): State<AppState>, u: CurrentUser, Query(q): Query<Done>) -> Result<Response, WebError> {
    let message = match q.ok.as_deref() {
        Some("organisation") => Some("L'organisation a été créée.".to_string()),
        Some("totp") => {
            Some("La double authentification du compte a été réinitialisée ; ses sessions ont été fermées.".to_string())
        }
        Some("desactivation") => Some("Le compte a été désactivé ; ses sessions ont été fermées.".to_string()),
        Some("reactivation") => Some("Le compte a été réactivé.".to_string()),
        _ => None,
    };
    view(&state, &u, message, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct OrgForm {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    siret: String,
}

/// Domain refusals are shown on the page; other errors become error pages.
async fn refused(state: &AppState, u: &CurrentUser, e: CoreError) -> Result<Response, WebError> {
    match e {
        CoreError::Invalid(m) | CoreError::Conflict(m) => {
            let m = capitalise(&m);
            view(state, u, None, Some(m), None, StatusCode::BAD_REQUEST).await
        }
        other => Err(other.into()),
    }
}

pub async fn create_organisation(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<OrgForm>,
) -> Result<Response, WebError> {
    let siret = Some(f.siret.as_str()).filter(|s| !s.trim().is_empty());
    match accounts::create_organisation(&state.core, &u.principal, &f.kind, &f.nom, siret).await {
        Ok(_) => Ok(Redirect::to("/operateur?ok=organisation").into_response()),
        Err(e) => refused(&state, &u, e).await,
    }
}

#[derive(Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    email: String,
}

pub async fn create_account(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<AccountForm>,
) -> Result<Response, WebError> {
    let Ok(organisation_id) = f.organisation.trim().parse::<i64>() else {
        return refused(&state, &u, CoreError::invalid("choisissez une organisation")).await;
    };
    let new = NewAccount {
        organisation_id,
        email: &f.email,
        display_name: &f.nom,
        role: Some(&f.role),
        password: None,
        with_totp: false,
    };
    match accounts::create_account(&state.core, &u.principal, new).await {
        Ok(created) => {
            let notice = CreatedNotice {
                email: created.account.email.clone(),
                password: created.generated_password.unwrap_or_default(),
            };
            let msg = format!("Le compte de {} a été créé.", created.account.display_name);
            view(&state, &u, Some(msg), None, Some(notice), StatusCode::OK).await
        }
        Err(e) => refused(&state, &u, e).await,
    }
}

/// The account id of an action URL; anything else is a 404, not a parse error.
fn account_id(raw: &str) -> Result<i64, WebError> {
    raw.parse().map_err(|_| WebError::NotFound)
}

pub async fn reset_password(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (email, password) = accounts::admin::reset_password(&state.core, &u.principal, account_id(&id)?).await?;
    let msg = format!("Le mot de passe de {email} a été réinitialisé ; ses sessions ont été fermées.");
    view(
        &state,
        &u,
        Some(msg),
        None,
        Some(CreatedNotice { email, password }),
        StatusCode::OK,
    )
    .await
}

pub async fn reset_totp(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    accounts::admin::reset_totp(&state.core, &u.principal, account_id(&id)?).await?;
    Ok(Redirect::to("/operateur?ok=totp").into_response())
}

#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    actif: String,
}

pub async fn set_active(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<String>,
    Form(f): Form<ActiveForm>,
) -> Result<Response, WebError> {
    let active = match f.actif.as_str() {
        "1" => true,
        "0" => false,
        _ => return Err(WebError::BadRequest("valeur « actif » attendue : 0 ou 1".into())),
    };
    match accounts::admin::set_active(&state.core, &u.principal, account_id(&id)?, active).await {
        Ok(()) => Ok(Redirect::to(if active {
            "/operateur?ok=reactivation"
        } else {
            "/operateur?ok=desactivation"
        })
        .into_response()),
        Err(e) => refused(&state, &u, e).await,
    }
}
