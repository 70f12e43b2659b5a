//! The hub's territory: coverage indicators per département
//! (`/hub/territoire`) and the places whose data looks stale or wrong
//! (`/hub/territoire/lieux-a-verifier`). Hub staff only; each hub sees only
//! its départements.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_core::territoire::indicateurs::{self, Figures};
use passerelle_core::territoire::verification::{self, ToCheck};
use passerelle_core::territoire::{hours_fr, hundredths_fr, integer_fr};
use serde::Deserialize;

use crate::auth::{render, CurrentUser};
use crate::error::WebError;
use crate::forms::Query;
use crate::templates::Layout;
use crate::AppState;

/// One line of the table, formatted.
pub struct Line {
    pub code: String,
    pub nom: String,
    pub population: String,
    pub lieux: String,
    pub lieux_10000: String,
    pub qualifies: String,
    pub qualifies_10000: String,
    pub accompagnements: String,
    pub heures: String,
    pub conseillers: String,
    pub cheques: String,
    pub montant: String,
    pub a_verifier: usize,
}

fn line(f: &Figures, a_verifier: usize) -> Line {
    Line {
        code: f.code.clone(),
        nom: f.nom.clone(),
        population: integer_fr(f.population),
        lieux: integer_fr(f.lieux),
        lieux_10000: hundredths_fr(f.lieux_pour_10000()),
        qualifies: integer_fr(f.lieux_qualifies),
        qualifies_10000: hundredths_fr(f.qualifies_pour_10000()),
        accompagnements: integer_fr(f.accompagnements),
        heures: hours_fr(f.minutes),
        conseillers: integer_fr(f.conseillers),
        cheques: integer_fr(f.cheques),
        montant: format!("{} €", f.montant_centimes.euros()),
        a_verifier,
    }
}

#[derive(Template)]
#[template(path = "territoire/territoire.html")]
pub struct TerritoryPage {
    pub l: Layout,
    pub depuis: String,
    pub lines: Vec<Line>,
    pub total: Line,
    /// (month `MM/AAAA`, accompaniments, hours).
    pub mois: Vec<(String, String, String)>,
}

fn month_fr(m: &str) -> String {
    match m.split_once('-') {
        Some((y, mm)) => format!("{mm}/{y}"),
        None => m.to_string(),
    }
}

/// GET `/hub/territoire`.
pub async fn page(State(state): State<AppState>, u: CurrentUser) -> Result<Response, WebError> {
    let today = state.core.db.horloge().today_paris();
    let t = indicateurs::territory(&state.core, &u.principal, today).await?;
    let checks = verification::list(&state.core, &u.principal, "", today).await?;
    let mut per_dep: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &checks {
        *per_dep.entry(c.departement.as_str()).or_default() += 1;
    }
    let lines = t
        .departements
        .iter()
        .map(|f| line(f, per_dep.get(f.code.as_str()).copied().unwrap_or_default()))
        .collect();
    render(
        StatusCode::OK,
        TerritoryPage {
            l: u.layout("Mon territoire", "/hub/territoire"),
            depuis: jiff::civil::Date::strptime("%Y-%m-%d", &t.depuis)
                .map(|d| d.strftime("%d/%m/%Y").to_string())
                .unwrap_or(t.depuis.clone()),
            total: line(&t.total, checks.len()),
            lines,
            mois: t
                .mois
                .iter()
                .map(|m| (month_fr(&m.mois), integer_fr(m.accompagnements), hours_fr(m.minutes)))
                .collect(),
        },
    )
}

#[derive(Template)]
#[template(path = "territoire/territoire-lieux.html")]
pub struct ToCheckPage {
    pub l: Layout,
    /// (code, label, selected).
    pub departements: Vec<(String, String, bool)>,
    pub departement: String,
    pub places: Vec<ToCheck>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ToCheckQuery {
    #[serde(default)]
    departement: String,
}

/// GET `/hub/territoire/lieux-a-verifier?departement=33`.
pub async fn to_check(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<ToCheckQuery>,
) -> Result<Response, WebError> {
    let today = state.core.db.horloge().today_paris();
    let t = indicateurs::territory(&state.core, &u.principal, today).await?;
    // Only one of the hub's départements may be chosen; anything else shows them all.
    let departement = if t.departements.iter().any(|d| d.code == q.departement) {
        q.departement
    } else {
        String::new()
    };
    let places = verification::list(&state.core, &u.principal, &departement, today).await?;
    render(
        StatusCode::OK,
        ToCheckPage {
            l: u.layout("Lieux à vérifier", "/hub/territoire"),
            departements: t
                .departements
                .iter()
                .map(|d| (d.code.clone(), format!("{} — {}", d.code, d.nom), d.code == departement))
                .collect(),
            departement,
            places,
        },
    )
}
