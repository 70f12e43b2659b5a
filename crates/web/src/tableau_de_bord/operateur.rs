//! `/operateur/tableau-de-bord`: the opérateur's richer dashboard — the same
//! snapshot as the public page, without statistical secrecy, with amounts,
//! coverage per 10,000 inhabitants and every monthly series; and
//! `POST /operateur/tableau-de-bord/recalculer` to recompute it at once.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::tableau_de_bord::donnees::{self, Departement};
use passerelle_core::tableau_de_bord::{self as tdb};

use crate::auth::{render, CurrentUser};
use crate::error::WebError;
use crate::forms::{Form, Query};
use crate::tableau_de_bord::pages::{computed_label, fr, map_section, month_label, trend, MapQuery, MapSection, Trend};
use crate::AppState;

#[derive(Template)]
#[template(path = "tableau_de_bord/tableau-de-bord-operateur.html")]
pub struct OperatorDashboard {
    pub l: crate::templates::Layout,
    pub csrf: String,
    pub calcule: String,
    pub recalcule: bool,
    /// (label, value)
    pub figures: Vec<(&'static str, String)>,
    pub carte: MapSection,
    pub trends: Vec<Trend>,
    pub months: Vec<[String; 10]>,
    pub departements: Vec<[String; 9]>,
}

/// Per 10,000 inhabitants, one decimal ("—" without population).
fn per_10k(n: i64, population: i64) -> String {
    if population <= 0 {
        return "—".into();
    }
    let tenths = (i128::from(n) * 100_000 + i128::from(population) / 2) / i128::from(population);
    format!("{},{}", tenths / 10, tenths % 10)
}

fn departement_row(code: &str, d: &Departement) -> [String; 9] {
    [
        format!("{} ({code})", d.nom),
        fr(d.population),
        fr(d.lieux),
        per_10k(d.lieux, d.population),
        fr(d.lieux_qualifies),
        per_10k(d.lieux_qualifies, d.population),
        fr(d.cheques_encaisses),
        fr(d.accompagnements),
        fr(d.minutes_accompagnement / 60),
    ]
}

#[derive(serde::Deserialize, Default)]
pub struct PageQuery {
    pub carte: Option<String>,
    pub ok: Option<String>,
}

/// `GET /operateur/tableau-de-bord`.
pub async fn page(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    tdb::authorize_detail(&u.principal)?;
    let snapshot = donnees::get(&state.core, state.config.dashboard_max_age).await?;
    let data = &snapshot.data;
    let n = &data.national;
    let figures = vec![
        ("Lieux dans l'annuaire", fr(n.lieux)),
        ("Lieux qualifiés (objectif 1 000)", fr(n.lieux_qualifies)),
        ("Chèques émis (objectif 2 000 000)", fr(n.cheques_emis)),
        ("Valeur faciale émise", data.valeur_emise_centimes.euros()),
        ("Chèques encaissés", fr(n.cheques_encaisses)),
        ("Valeur encaissée", data.valeur_encaissee_centimes.euros()),
        ("Heures d'accompagnement", fr(n.minutes_accompagnement / 60)),
        (
            "Conseillers actifs sur 90 jours (objectif 4 000)",
            fr(n.conseillers_actifs),
        ),
        (
            "Structures habilitées Aidants Connect",
            fr(n.structures_aidants_connect),
        ),
        ("Aidants actifs", fr(n.aidants_actifs)),
        ("Mandats actifs", fr(n.mandats_actifs)),
        ("Utilisations de mandats cette année", fr(n.utilisations_annee)),
    ];
    let trends = vec![
        trend("graphique-emissions", "Chèques émis par mois", &data.mois, |m| {
            m.cheques_emis
        })?,
        trend(
            "graphique-encaissements",
            "Chèques encaissés par mois",
            &data.mois,
            |m| m.cheques_encaisses,
        )?,
        trend(
            "graphique-heures",
            "Heures d'accompagnement par mois",
            &data.mois,
            |m| m.minutes_accompagnement / 60,
        )?,
        trend("graphique-mandats", "Mandats conclus par mois", &data.mois, |m| {
            m.mandats_conclus
        })?,
    ];
    let months = data
        .mois
        .iter()
        .map(|m| {
            [
                month_label(&m.mois),
                fr(m.cheques_emis),
                m.valeur_emise_centimes.euros(),
                fr(m.cheques_encaisses),
                m.valeur_encaissee_centimes.euros(),
                fr(m.accompagnements),
                fr(m.personnes_accompagnees),
                fr(m.minutes_accompagnement / 60),
                fr(m.mandats_conclus),
                fr(m.utilisations_mandats),
            ]
        })
        .collect();
    let departements = data
        .departements
        .iter()
        .map(|(code, d)| departement_row(code, d))
        .collect();
    render(
        StatusCode::OK,
        OperatorDashboard {
            l: u.layout("Tableau de bord de l'opérateur", "/operateur/tableau-de-bord"),
            csrf: u.csrf.clone(),
            calcule: computed_label(snapshot.computed_at),
            recalcule: q.ok.as_deref() == Some("recalcul"),
            figures,
            carte: map_section(data, q.carte.as_deref(), false, "/operateur/tableau-de-bord"),
            trends,
            months,
            departements,
        },
    )
}

/// `POST /operateur/tableau-de-bord/recalculer`: recompute the snapshot now.
pub async fn recompute(
    State(state): State<AppState>,
    u: CurrentUser,
    Form(_): Form<MapQuery>,
) -> Result<Response, WebError> {
    tdb::authorize_detail(&u.principal)?;
    passerelle_core::agregats::refresh(&state.core, donnees::SNAPSHOT, donnees::compute).await?;
    Ok(Redirect::to("/operateur/tableau-de-bord?ok=recalcul").into_response())
}

#[cfg(test)]
mod tests {
    use super::per_10k;

    #[test]
    fn coverage_is_rounded_to_one_decimal() {
        assert_eq!(per_10k(3, 100_000), "0,3");
        assert_eq!(per_10k(1, 30_000), "0,3");
        assert_eq!(per_10k(2, 30_000), "0,7");
        assert_eq!(per_10k(5, 0), "—");
        assert_eq!(per_10k(120, 1_600_000), "0,8");
    }
}
