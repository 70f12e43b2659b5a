//! Settlement pages: the opérateur runs settlements and follows batches
//! (`/reglements…`); a place's staff see their statements (`/releves…`).
//! Access is decided by the settlement domain, which every call below goes through.

use crate::forms::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::pass_numerique::reports;
use passerelle_core::pdf::Fonts;
use passerelle_core::reglements::batches::{self, LotState, Statement, StatementState};
use passerelle_core::reglements::{self, documents, run};
use serde::Deserialize;

use crate::auth::{render, CurrentUser};
use crate::error::{refusal_message, WebError};
use crate::forms::{Form, Query};
use crate::templates::{LotPage, LotRow, SettlementPage, StatementPage, StatementRow, StatementsPage};
use crate::AppState;

fn row(s: &Statement, full_iban: bool) -> StatementRow {
    StatementRow {
        numero: s.numero.clone(),
        lieu: s.lieu.clone(),
        periode: format!(
            "du {} au {}",
            passerelle_core::dates_fr::jour_fr(&s.premier_jour),
            passerelle_core::dates_fr::jour_fr(&s.dernier_jour)
        ),
        lignes: s.lignes,
        total: s.total_centimes.euros(),
        compte: format!(
            "{} — {}",
            s.titulaire,
            if full_iban { s.iban.to_string() } else { s.iban.masked() }
        ),
        etat: s.etat.label(),
        motif_rejet: s.motif_rejet.clone(),
        rejetable: false,
    }
}

#[derive(Debug, Deserialize)]
pub struct Done {
    ok: Option<String>,
}

async fn settlement_page(
    state: &AppState,
    u: &CurrentUser,
    message: Option<String>,
    error: Option<String>,
    outcome: Option<run::Outcome>,
) -> Result<Response, WebError> {
    let debtor = reglements::debtor(&state.core, &u.principal).await?;
    let lots = batches::lots(&state.core, &u.principal)
        .await?
        .into_iter()
        .map(|l| LotRow {
            id: l.id,
            msg_id: l.msg_id,
            jusqu_au: passerelle_core::dates_fr::jour_fr(&l.jusqu_au),
            virements: l.virements,
            total: l.total_centimes.euros(),
            etat: l.etat.label(),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        SettlementPage {
            l: u.layout("Règlement des lieux", "/reglements"),
            compte: debtor.map(|d| (d.nom, d.iban.to_string(), d.bic.to_string())),
            jusqu_au: run::default_cutoff(state.core.db.horloge().today_paris())
                .strftime("%Y-%m-%d")
                .to_string(),
            created: outcome
                .as_ref()
                .map(|o| {
                    o.releves
                        .iter()
                        .map(|s| (s.numero.clone(), s.lieu.clone(), s.lignes, s.total_centimes.euros()))
                        .collect()
                })
                .unwrap_or_default(),
            held_back: outcome
                .as_ref()
                .map(|o| {
                    o.en_attente
                        .iter()
                        .map(|h| {
                            (
                                h.lieu.clone(),
                                h.encaissements,
                                h.total_centimes.euros(),
                                h.motif.clone(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            lots,
            message,
            error,
        },
    )
}

/// `GET /reglements`
pub async fn page(State(state): State<AppState>, u: CurrentUser, Query(q): Query<Done>) -> Result<Response, WebError> {
    let message = match q.ok.as_deref() {
        Some("compte") => Some("Le compte de l'opérateur est enregistré.".to_string()),
        _ => None,
    };
    settlement_page(&state, &u, message, None, None).await
}

#[derive(Debug, Deserialize)]
pub struct RunForm {
    jusqu_au: String,
}

/// `POST /reglements/generer`: one run; the page then shows what was stated and who waits.
pub async fn generate(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<RunForm>,
) -> Result<Response, WebError> {
    let created = state
        .core
        .db
        .horloge()
        .maintenant_paris()
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let outcome = match run::parse_day(&f.jusqu_au, "date limite") {
        Ok(cutoff) => {
            run::generate(
                &state.core,
                &u.principal,
                cutoff,
                state.core.db.horloge().today_paris(),
                &created,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(o) => {
            let message = match &o.msg_id {
                Some(msg) => format!(
                    "Lot {msg} créé : {}, {} € à virer. Téléchargez son fichier SEPA depuis la page du lot.",
                    passerelle_core::format_fr::nombre(
                        i64::try_from(o.releves.len()).unwrap_or(i64::MAX),
                        "relevé",
                        "relevés"
                    ),
                    o.total_centimes.euros()
                ),
                None => format!(
                    "Rien de nouveau à régler avant le {} : aucun relevé, aucun virement.",
                    passerelle_core::dates_fr::jour_fr(&o.jusqu_au.to_string())
                ),
            };
            settlement_page(&state, &u, Some(message), None, Some(o)).await
        }
        Err(e) => settlement_page(&state, &u, None, Some(refusal_message(e)?), None).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct AccountForm {
    nom: String,
    iban: String,
    bic: String,
}

/// `POST /reglements/compte`: the opérateur's account, debited by the transfers.
pub async fn set_account(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(f): Form<AccountForm>,
) -> Result<Response, WebError> {
    match reglements::set_debtor(&state.core, &u.principal, &f.nom, &f.iban, &f.bic).await {
        Ok(_) => Ok(Redirect::to("/reglements?ok=compte").into_response()),
        Err(e) => settlement_page(&state, &u, None, Some(refusal_message(e)?), None).await,
    }
}

async fn lot_page(
    state: &AppState,
    u: &CurrentUser,
    id: i64,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let lot = batches::lot(&state.core, &u.principal, id).await?;
    let sent = lot.etat != LotState::Genere;
    let statements = batches::statements_of_lot(&state.core, &u.principal, id)
        .await?
        .iter()
        .map(|s| StatementRow {
            rejetable: sent && s.etat != StatementState::Rejete,
            ..row(s, true)
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        LotPage {
            l: u.layout(&format!("Lot de virements {}", lot.msg_id), "/reglements"),
            id,
            msg_id: lot.msg_id,
            jusqu_au: passerelle_core::dates_fr::jour_fr(&lot.jusqu_au),
            virements: lot.virements,
            total: lot.total_centimes.euros(),
            etat: lot.etat.label(),
            may_send: lot.etat == LotState::Genere,
            may_execute: lot.etat == LotState::Envoye,
            statements,
            message,
            error,
        },
    )
}

/// `GET /reglements/lots/{id}`
pub async fn lot(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    let message = match q.ok.as_deref() {
        Some("envoye") => Some("Le lot est marqué envoyé à la banque.".to_string()),
        Some("execute") => Some("Le lot est marqué exécuté : ses relevés sont payés.".to_string()),
        Some("rejet") => {
            Some("Le rejet est enregistré : ces encaissements seront repris au prochain règlement.".to_string())
        }
        _ => None,
    };
    lot_page(&state, &u, id, message, None).await
}

/// `GET /reglements/lots/{id}/sepa.xml`: the file as produced by the run.
pub async fn sepa(State(state): State<AppState>, u: CurrentUser, Path(id): Path<i64>) -> Result<Response, WebError> {
    let lot = batches::lot(&state.core, &u.principal, id).await?;
    let xml = batches::sepa_xml(&state.core, &u.principal, id).await?;
    Ok(crate::pages::download(
        "application/xml; charset=utf-8",
        &format!("{}.xml", lot.msg_id),
        xml.into_bytes(),
    ))
}

/// `POST /reglements/lots/{id}/envoye`
pub async fn mark_sent(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    match batches::mark_sent(&state.core, &u.principal, id).await {
        Ok(_) => Ok(Redirect::to(&format!("/reglements/lots/{id}?ok=envoye")).into_response()),
        Err(e) => lot_page(&state, &u, id, None, Some(refusal_message(e)?)).await,
    }
}

/// `POST /reglements/lots/{id}/execute`
pub async fn mark_executed(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    match batches::mark_executed(&state.core, &u.principal, id).await {
        Ok(_) => Ok(Redirect::to(&format!("/reglements/lots/{id}?ok=execute")).into_response()),
        Err(e) => lot_page(&state, &u, id, None, Some(refusal_message(e)?)).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct RejectForm {
    motif: String,
}

/// `POST /reglements/releves/{numero}/rejet`: the bank rejected this transfer.
pub async fn reject(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(numero): Path<String>,
    Form(f): Form<RejectForm>,
) -> Result<Response, WebError> {
    let lot_id = batches::statement(&state.core, &u.principal, &numero).await?.lot_id;
    match batches::reject(&state.core, &u.principal, &numero, &f.motif).await {
        Ok(_) => Ok(Redirect::to(&format!("/reglements/lots/{lot_id}?ok=rejet")).into_response()),
        Err(e) => lot_page(&state, &u, lot_id, None, Some(refusal_message(e)?)).await,
    }
}

/// `GET /releves`: the statements of the user's places.
pub async fn statements(State(state): State<AppState>, u: CurrentUser) -> Result<Response, WebError> {
    let rows = batches::statements_of_own_places(&state.core, &u.principal)
        .await?
        .iter()
        .map(|s| row(s, false))
        .collect();
    render(
        StatusCode::OK,
        StatementsPage {
            l: u.layout("Relevés du Pass Numérique", "/releves"),
            statements: rows,
        },
    )
}

/// `GET /releves/{numero}`
pub async fn statement(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(numero): Path<String>,
) -> Result<Response, WebError> {
    let (s, lines) = batches::statement_with_lines(&state.core, &u.principal, &numero).await?;
    let lines = lines
        .into_iter()
        .map(|l| {
            (
                passerelle_core::dates_fr::jour_fr(&l.jour),
                format!("{} / {}", l.carnet, l.rang),
                l.service,
                l.valeur_centimes.euros(),
            )
        })
        .collect();
    render(
        StatusCode::OK,
        StatementPage {
            l: u.layout(&format!("Relevé {}", s.numero), "/releves"),
            s: row(&s, false),
            jusqu_au: passerelle_core::dates_fr::jour_fr(&s.jusqu_au),
            lines,
        },
    )
}

/// `GET /releves/{numero}/csv`
pub async fn statement_csv(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(numero): Path<String>,
) -> Result<Response, WebError> {
    let (s, lines) = batches::statement_with_lines(&state.core, &u.principal, &numero).await?;
    Ok(crate::pages::download(
        "text/csv; charset=utf-8",
        &format!("{}.csv", s.numero),
        documents::csv(&s, &lines)?,
    ))
}

/// `GET /releves/{numero}/pdf`
pub async fn statement_pdf(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(numero): Path<String>,
) -> Result<Response, WebError> {
    let (s, lines) = batches::statement_with_lines(&state.core, &u.principal, &numero).await?;
    let fonts = Fonts::of(state.config.fonts_dir.as_deref())?;
    let operator = reports::operator_name(&state.core).await?;
    let bytes = tokio::task::spawn_blocking(move || documents::pdf(&fonts, &operator, &s, &lines))
        .await
        .map_err(|e| WebError::Internal(format!("relevé en PDF : {e}")))??;
    Ok(crate::pages::download(
        "application/pdf",
        &format!("{numero}.pdf"),
        bytes,
    ))
}
