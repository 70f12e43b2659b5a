//! Qualification pages, the reviewers' side (the opérateur, hubs): lists of
//! applications and qualified places, decisions, suspension and withdrawal,
//! and the validation of bank details by the opérateur.

use crate::forms::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::qualification::bank_details::BankDetailsState;
use passerelle_core::qualification::decisions::{self, Change};
use passerelle_core::qualification::model::{ApplicationState, QualificationState};
use passerelle_core::qualification::{applications, bank_details};
use serde::Deserialize;

use crate::auth::{render, CurrentUser};
use crate::error::{refusal_message, WebError};
use crate::forms::{Form, Query};
use crate::qualification::pages::{application_page, HomeQuery};
use crate::templates::{horodatage, Layout};
use crate::AppState;

pub struct ApplicationRow {
    pub id: i64,
    pub lieu: String,
    pub commune: String,
    pub departement: String,
    pub siret: String,
    pub etat: &'static str,
    pub date: String,
}

pub struct QualifiedRow {
    pub ext_id: String,
    pub lieu: String,
    pub commune: String,
    pub departement: String,
    pub siret: String,
    pub etat: &'static str,
    pub motif: String,
    /// The changes the viewer may make: (form value, label).
    pub changes: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "qualification/qualification-instruction.html")]
pub struct ReviewPage {
    pub l: Layout,
    pub message: Option<String>,
    pub error: Option<String>,
    pub is_hub: bool,
    pub is_operator: bool,
    pub delegated: bool,
    pub pending_bank: usize,
    pub states: Vec<(&'static str, &'static str, bool)>,
    pub applications: Vec<ApplicationRow>,
    pub qualified: Vec<QualifiedRow>,
    pub can_change: bool,
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// `/qualification` for the opérateur and hubs.
pub(crate) async fn page(
    state: &AppState,
    u: &CurrentUser,
    q: HomeQuery,
    error: Option<String>,
) -> Result<Response, WebError> {
    // Filed applications first: they are the ones waiting for someone.
    let etat = q.etat.unwrap_or_else(|| ApplicationState::Deposee.key().to_string());
    // « toutes » (or nothing), a state, or an unknown key, which lists nothing
    // (`decisions::qualified` below checks the same right as `applications::list`).
    let list = match (etat.as_str(), ApplicationState::from_key(&etat)) {
        ("" | "toutes", _) => applications::list(&state.core, &u.principal, None).await?,
        (_, Some(s)) => applications::list(&state.core, &u.principal, Some(s)).await?,
        (_, None) => Vec::new(),
    };
    let desk = decisions::review_desk(&state.core, &u.principal).await?;
    let (is_operator, delegated, can_change) = (desk.operator, desk.delegated, desk.may_change);
    let pending_bank = if is_operator {
        bank_details::pending(&state.core, &u.principal).await?.len()
    } else {
        0
    };
    let qualified = decisions::qualified(&state.core, &u.principal)
        .await?
        .into_iter()
        .map(|r| QualifiedRow {
            changes: match (can_change, r.etat) {
                (true, QualificationState::Active) => vec![("suspendre", "Suspendre"), ("retirer", "Retirer")],
                (true, QualificationState::Suspendue) => vec![("retablir", "Rétablir"), ("retirer", "Retirer")],
                _ => Vec::new(),
            },
            ext_id: r.lieu_ext_id,
            lieu: r.lieu_nom,
            commune: r.commune,
            departement: r.departement,
            siret: r.siret.unwrap_or_default(),
            etat: r.etat.label(),
            motif: r.motif,
        })
        .collect();
    let message = match q.ok.as_deref() {
        Some("etat") => Some("La qualification est mise à jour et le lieu en est prévenu.".to_string()),
        _ => None,
    };
    let states = [
        (ApplicationState::Deposee.key(), "Déposées, à instruire"),
        (ApplicationState::AModifier.key(), "Modifications demandées"),
        (ApplicationState::Brouillon.key(), "Brouillons"),
        (ApplicationState::Approuvee.key(), "Approuvées"),
        (ApplicationState::Refusee.key(), "Refusées"),
        ("toutes", "Toutes"),
    ]
    .into_iter()
    .map(|(k, label)| (k, label, k == etat))
    .collect();
    render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        ReviewPage {
            l: u.layout("Qualification des lieux", "/qualification"),
            message,
            error,
            is_hub: desk.hub,
            is_operator,
            delegated,
            pending_bank,
            states,
            applications: list
                .into_iter()
                .map(|a| ApplicationRow {
                    id: a.id,
                    lieu: a.lieu_nom,
                    commune: a.commune,
                    departement: a.departement,
                    siret: a.siret,
                    etat: a.etat.label(),
                    date: horodatage(a.updated_at),
                })
                .collect(),
            qualified,
            can_change,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    message: String,
}

/// POST `/qualification/demandes/{id}/decision`.
pub async fn decide(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, WebError> {
    match decisions::decide_form(&state.core, &u.principal, id, &f.decision, &f.message).await {
        Ok(()) => Ok(see_other(&format!("/qualification/demandes/{id}?ok=decision"))),
        Err(e) => {
            let m = refusal_message(e)?;
            application_page(&state, &u, id, None, None, Some(m), StatusCode::BAD_REQUEST).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    changement: String,
    #[serde(default)]
    motif: String,
}

/// POST `/qualification/lieux/{ext_id}/etat`: suspend, withdraw or reinstate.
pub async fn change(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(ext_id): Path<String>,
    Form(f): Form<ChangeForm>,
) -> Result<Response, WebError> {
    let change = match f.changement.as_str() {
        "suspendre" => Change::Suspend,
        "retirer" => Change::Withdraw,
        "retablir" => Change::Reinstate,
        _ => return Err(WebError::BadRequest("choisissez une action".into())),
    };
    match decisions::change(&state.core, &u.principal, &ext_id, change, &f.motif).await {
        Ok(()) => Ok(see_other("/qualification?ok=etat")),
        Err(e) => {
            let m = refusal_message(e)?;
            page(&state, &u, HomeQuery::default(), Some(m)).await
        }
    }
}

pub struct BankRow {
    pub id: i64,
    pub lieu: String,
    pub nouveau: String,
    pub actuel: String,
    pub date: String,
}

#[derive(Template)]
#[template(path = "qualification/coordonnees-a-valider.html")]
pub struct BankPage {
    pub l: Layout,
    pub message: Option<String>,
    pub error: Option<String>,
    pub rows: Vec<BankRow>,
}

async fn bank_page(
    state: &AppState,
    u: &CurrentUser,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let pending = bank_details::pending(&state.core, &u.principal).await?;
    let mut rows = Vec::new();
    for d in pending {
        let place = passerelle_core::pass_numerique::places::by_ext_id(&state.core.db, &d.lieu_ext_id).await?;
        let actuel = bank_details::of_place(&state.core.db, place.id)
            .await?
            .into_iter()
            .find(|c| c.etat == BankDetailsState::Validees)
            .map(|c| format!("{} — {}", c.titulaire, c.iban.masked()))
            .unwrap_or_else(|| "aucun".into());
        rows.push(BankRow {
            id: d.id,
            lieu: d.lieu_nom,
            nouveau: format!("{} — {} ({})", d.titulaire, d.iban, d.bic),
            actuel,
            date: horodatage(d.created_at),
        });
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        BankPage {
            l: u.layout("Coordonnées bancaires à valider", "/reglements"),
            message,
            error,
            rows,
        },
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct Done {
    ok: Option<String>,
}

/// GET `/reglements/coordonnees`.
pub async fn bank_list(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    let message =
        q.ok.map(|_| "La décision est enregistrée et le lieu en est prévenu.".to_string());
    bank_page(&state, &u, message, None).await
}

#[derive(Debug, Deserialize)]
pub struct BankDecision {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    motif: String,
}

/// POST `/reglements/coordonnees/{id}`: validate or refuse a change.
pub async fn bank_review(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<BankDecision>,
) -> Result<Response, WebError> {
    let refusal = match f.decision.as_str() {
        "valider" => None,
        "refuser" => Some(f.motif.as_str()),
        _ => return Err(WebError::BadRequest("choisissez une décision".into())),
    };
    match bank_details::review(&state.core, &u.principal, id, refusal).await {
        Ok(()) => Ok(see_other("/reglements/coordonnees?ok=1")),
        Err(e) => {
            let m = refusal_message(e)?;
            bank_page(&state, &u, None, Some(m)).await
        }
    }
}
