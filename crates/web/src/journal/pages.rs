//! The opérateur's view of the journal.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_core::journal;
use serde::Deserialize;

use crate::auth::{render, CurrentUser};
use crate::error::WebError;
use crate::forms::Query;
use crate::templates::{JournalPage, JournalRow};
use crate::AppState;

const PAGE: i64 = 100;

#[derive(Deserialize)]
pub struct Params {
    avant: Option<i64>,
}

pub async fn page(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(p): Query<Params>,
) -> Result<Response, WebError> {
    let entries = journal::entries(&state.core.db, &u.principal, p.avant, PAGE).await?;
    let older = if entries.len() as i64 == PAGE {
        entries.last().map(|e| e.seq)
    } else {
        None
    };
    let rows = entries
        .into_iter()
        .map(|e| JournalRow {
            seq: e.seq,
            at: passerelle_core::format_fr::horodatage_secondes(e.at),
            actor: match e.actor_account {
                Some(id) => format!("compte {id} ({})", e.actor_role),
                None => e.actor_role,
            },
            action: e.action,
            subjects: serde_json::from_str::<Vec<String>>(&e.subjects)
                .map(|s| s.join(", "))
                .unwrap_or(e.subjects),
            details: e.details,
        })
        .collect();
    render(
        StatusCode::OK,
        JournalPage {
            l: u.layout("Journal", "/operateur/journal"),
            rows,
            older,
        },
    )
}
