//! The opérateur's list of probable duplicates in the directory, and the merge of two records
//! (`/operateur/lieux/doublons`). The same as `passerelle lieux doublons` and `lieux fusionner`.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::lieux::doublons::{self, Candidat};
use passerelle_core::lieux::{fusion, import};
use passerelle_core::CoreError;

use crate::auth::{render, CurrentUser};
use crate::error::WebError;
use crate::templates::Layout;
use crate::AppState;

/// Pairs shown on the page (the command line lists them all).
const SHOWN: usize = 200;

#[derive(Template)]
#[template(path = "lieux/doublons.html")]
pub struct DoublonsPage {
    pub l: Layout,
    pub total: usize,
    pub candidats: Vec<Candidat>,
    /// « « b-7 » fusionné dans « a-1 » (champs repris : …) ».
    pub fait: Option<String>,
    pub erreur: Option<String>,
}

async fn page(
    state: &AppState,
    u: &CurrentUser,
    fait: Option<String>,
    erreur: Option<String>,
) -> Result<Response, WebError> {
    import::may_import(&u.principal)?;
    let mut candidats = doublons::candidats(&state.core.db).await?;
    let total = candidats.len();
    candidats.truncate(SHOWN);
    for c in &mut candidats {
        for f in [&mut c.a, &mut c.b] {
            f.date_maj = passerelle_core::dates_fr::jour_fr(&f.date_maj);
        }
    }
    let status = if erreur.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        DoublonsPage {
            l: u.layout("Doublons de l'annuaire", "/operateur"),
            total,
            candidats,
            fait,
            erreur,
        },
    )
}

/// GET `/operateur/lieux/doublons` (`?garde=…&fusionne=…` after a merge).
pub async fn list(
    State(state): State<AppState>,
    u: CurrentUser,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let (mut garde, mut fusionne) = (String::new(), String::new());
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "garde" => garde = v.chars().take(200).collect(),
            "fusionne" => fusionne = v.chars().take(200).collect(),
            _ => {}
        }
    }
    let fait = (!garde.is_empty() && !fusionne.is_empty())
        .then(|| format!("La fiche « {fusionne} » a été fusionnée dans « {garde} »."));
    page(&state, &u, fait, None).await
}

/// POST `/operateur/lieux/fusionner` (fields `garde`, `fusionne`).
pub async fn merge(
    State(state): State<AppState>,
    u: CurrentUser,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> Result<Response, WebError> {
    let (mut garde, mut fusionne) = (String::new(), String::new());
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "garde" => garde = v.into_owned(),
            "fusionne" => fusionne = v.into_owned(),
            _ => {}
        }
    }
    match fusion::fusionner(&state.core, &u.principal, &garde, &fusionne).await {
        Ok(done) => {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("garde", &done.garde)
                .append_pair("fusionne", &done.fusionne);
            Ok(Redirect::to(&format!("/operateur/lieux/doublons?{}", q.finish())).into_response())
        }
        Err(CoreError::Invalid(m)) => page(&state, &u, None, Some(m)).await,
        Err(e) => Err(e.into()),
    }
}
