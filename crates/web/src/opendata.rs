//! Open data: the `/open-data/` page (datasets, stable URLs, dates, data
//! dictionary), the directory in the national standard, and the monthly
//! indicators per département (small counts suppressed).

use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use passerelle_core::indicateurs;
use passerelle_core::lieux::export;

use crate::auth::{render, Visitor};
use crate::error::WebError;
use crate::templates::format_utc;
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

/// A dataset on the `/open-data/` page.
pub struct Dataset {
    pub titre: &'static str,
    pub description: &'static str,
    /// (format, stable URL)
    pub fichiers: Vec<(&'static str, &'static str)>,
    pub mise_a_jour: String,
    /// (column, meaning)
    pub colonnes: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "open-data.html")]
pub struct OpenDataPage {
    pub l: crate::templates::Layout,
    pub jeux: Vec<Dataset>,
    pub seuil: i64,
}

fn date(micros: Option<i64>) -> String {
    micros.map(format_utc).unwrap_or_else(|| "aucune donnée encore".into())
}

/// `GET /open-data/`: the datasets, their stable URLs, dates and data dictionary.
pub async fn index(State(state): State<AppState>, v: Visitor) -> Result<Response, WebError> {
    let lieux_maj = indicateurs::lieux_last_modified(&state.core.db).await?;
    let counts = indicateurs::counts(&state.core.db).await?;
    let jeux = vec![
        Dataset {
            titre: "Lieux de médiation numérique",
            description: "L'annuaire des lieux, au standard national des lieux de médiation numérique (Table Schema v1.0.2) : une ligne par lieu, sans donnée personnelle.",
            fichiers: vec![("CSV", "/open-data/lieux.csv"), ("JSON", "/open-data/lieux.json")],
            mise_a_jour: date(lieux_maj),
            colonnes: Vec::new(),
        },
        Dataset {
            titre: "Indicateurs mensuels par département",
            description: "Une ligne par département (Corse et outre-mer compris) et par mois, lignes à zéro comprises.",
            fichiers: vec![
                ("CSV", "/open-data/indicateurs-departements.csv"),
                ("JSON", "/open-data/indicateurs-departements.json"),
            ],
            mise_a_jour: date(counts.last_modified),
            colonnes: indicateurs::COLUMNS.to_vec(),
        },
    ];
    render(
        StatusCode::OK,
        OpenDataPage {
            l: v.layout("Données ouvertes", "/open-data/"),
            jeux,
            seuil: indicateurs::SECRET_THRESHOLD,
        },
    )
}

fn last_modified(micros: Option<i64>) -> Option<(header::HeaderName, String)> {
    let t = passerelle_core::db::datetime_of(micros?);
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&fmt).ok().map(|v| (header::LAST_MODIFIED, v))
}

async fn indicators(state: &AppState) -> Result<(Vec<indicateurs::Row>, Option<i64>), WebError> {
    let counts = indicateurs::counts(&state.core.db).await?;
    Ok((
        indicateurs::rows(&counts, &indicateurs::current_month()),
        counts.last_modified,
    ))
}

/// `GET /open-data/indicateurs-departements.csv`.
pub async fn indicateurs_csv(State(state): State<AppState>) -> Result<Response, WebError> {
    let (rows, lm) = indicators(&state).await?;
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"indicateurs-departements.csv\"",
            ),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        indicateurs::to_csv(&rows)?,
    )
        .into_response();
    if let Some((k, v)) = last_modified(lm) {
        if let Ok(v) = v.parse() {
            resp.headers_mut().insert(k, v);
        }
    }
    Ok(resp)
}

/// `GET /open-data/indicateurs-departements.json`.
pub async fn indicateurs_json(State(state): State<AppState>) -> Result<Response, WebError> {
    let (rows, lm) = indicators(&state).await?;
    let mut resp = (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(serde_json::json!({
            "seuil_secret_statistique": indicateurs::SECRET_THRESHOLD,
            "colonnes": indicateurs::COLUMNS.iter().map(|(k, d)| serde_json::json!({ "nom": k, "description": d })).collect::<Vec<_>>(),
            "lignes": rows,
        })),
    )
        .into_response();
    if let Some((k, v)) = last_modified(lm) {
        if let Ok(v) = v.parse() {
            resp.headers_mut().insert(k, v);
        }
    }
    Ok(resp)
}
