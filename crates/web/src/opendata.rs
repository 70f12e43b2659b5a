//! Public open-data files of the directory, in the national standard.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use passerelle_core::lieux::export;

use crate::error::WebError;
use crate::AppState;

pub async fn lieux_csv(State(state): State<AppState>) -> Result<Response, WebError> {
    let mut buf = Vec::new();
    export::write_csv(&state.core.db, &mut buf).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"lieux-mediation-numerique.csv\"",
            ),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        buf,
    )
        .into_response())
}

pub async fn lieux_json(State(state): State<AppState>) -> Result<Response, WebError> {
    let mut buf = Vec::new();
    export::write_json(&state.core.db, &mut buf).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        buf,
    )
        .into_response())
}
