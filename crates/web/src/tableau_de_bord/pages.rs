//! `/tableau-de-bord`: the public national dashboard — the plan's indicators
//! against its targets, a map of France by département for a chosen
//! indicator, and trends by month (each chart followed by its table). The
//! figures come from the shared snapshot of `tableau_de_bord::donnees`.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_core::carte;
use passerelle_core::indicateurs::publish;
use passerelle_core::tableau_de_bord::donnees::{self, Donnees, Mois};
use passerelle_core::tableau_de_bord::{self as tdb, per_mille};
use serde::Deserialize;

use crate::auth::{render, Visitor};
use crate::error::WebError;
use crate::forms::Query;
use crate::tableau_de_bord::charts::{self, Bar};
use crate::AppState;

/// One indicator line: label, value, target (if any) and progress.
pub struct Indicator {
    pub label: &'static str,
    pub value: String,
    pub target: Option<String>,
    /// "12,5 %" of the target.
    pub progress: Option<String>,
}

/// An indicator the map can show: key (in `?carte=`), label, unit (singular, plural).
pub const MAP_INDICATORS: [(&str, &str, (&str, &str)); 4] = [
    ("lieux", "Lieux de médiation numérique", ("lieu", "lieux")),
    (
        "lieux-qualifies",
        "Lieux qualifiés pour le Pass Numérique",
        ("lieu qualifié", "lieux qualifiés"),
    ),
    (
        "cheques-encaisses",
        "Chèques Pass Numérique encaissés",
        ("chèque", "chèques"),
    ),
    ("heures", "Heures d'accompagnement enregistrées", ("heure", "heures")),
];

/// The map section, shared by the public and the opérateur's dashboards.
pub struct MapSection {
    /// (key, label, selected) for the indicator chooser.
    pub choices: Vec<(&'static str, &'static str, bool)>,
    pub title: String,
    pub svg: Option<String>,
    /// (class, fill, text) of the legend.
    pub legende: Vec<(String, &'static str, String)>,
    /// (code, name, figure) for the table under the map.
    pub rows: Vec<(String, String, String)>,
    /// The chooser's action (the page itself).
    pub action: &'static str,
    /// How the figures were protected, when they were.
    pub note: Option<&'static str>,
}

/// A trend chart and its table.
pub struct Trend {
    pub svg: String,
}

#[derive(Template)]
#[template(path = "tableau_de_bord/tableau-de-bord.html")]
pub struct DashboardPage {
    pub l: crate::templates::Layout,
    pub indicators: Vec<Indicator>,
    pub carte: MapSection,
    pub trends: Vec<Trend>,
    /// (month, redeemed, accompaniments, hours, mandates, uses)
    pub months: Vec<[String; 6]>,
    pub calcule: String,
}

#[derive(Deserialize, Default)]
pub struct MapQuery {
    pub carte: Option<String>,
}

/// French thousands separator (narrow no-break space).
pub fn fr(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn line(label: &'static str, value: i64, target: Option<i64>) -> Indicator {
    Indicator {
        label,
        value: fr(value),
        target: target.map(fr),
        progress: target.map(|t| {
            let pm = per_mille(value, t);
            format!("{},{} %", pm / 10, pm % 10)
        }),
    }
}

/// "03/2026" for "2026-03".
pub fn month_label(m: &str) -> String {
    m.split_once('-').map_or(m.to_string(), |(y, mo)| format!("{mo}/{y}"))
}

/// "01/12/2026 06:15:00 UTC" for the snapshot's instant.
pub fn computed_label(micros: i64) -> String {
    crate::templates::horodatage(micros)
}

/// The value of indicator `key` in a département; `None` when suppressed
/// (public figures: a count of people from 1 to 4 is not shown).
fn value_of(key: &str, d: &donnees::Departement, public: bool) -> Option<i64> {
    let (v, count) = match key {
        "lieux-qualifies" => (d.lieux_qualifies, None),
        "cheques-encaisses" => (d.cheques_encaisses, Some(d.cheques_encaisses)),
        "heures" => (d.minutes_accompagnement / 60, Some(d.accompagnements)),
        _ => (d.lieux, None),
    };
    match count {
        Some(n) if public && publish(n).is_none() => None,
        // Rounded to the ten in public: the all-time figure of a département is
        // also the sum of its months in the open data, some of them hidden.
        Some(_) if public => Some(round_to_ten(v)),
        _ => Some(v),
    }
}

/// The nearest multiple of ten (halves up).
pub fn round_to_ten(v: i64) -> i64 {
    (v + 5).div_euclid(10) * 10
}

/// The map of `key` (an unknown key shows the places) and its table.
pub fn map_section(data: &Donnees, key: Option<&str>, public: bool, action: &'static str) -> MapSection {
    let (key, label, unit) = MAP_INDICATORS
        .iter()
        .copied()
        .find(|(k, _, _)| Some(*k) == key)
        .unwrap_or(MAP_INDICATORS[0]);
    let values: BTreeMap<String, i64> = data
        .departements
        .iter()
        .filter_map(|(code, d)| value_of(key, d, public).map(|v| (code.clone(), v)))
        .collect();
    let names: BTreeMap<String, String> = data
        .departements
        .iter()
        .map(|(c, d)| (c.clone(), d.nom.clone()))
        .collect();
    let svg = match carte::embedded() {
        Ok(shapes) => Some(carte::svg(
            shapes,
            &values,
            &names,
            &format!("{label} par département"),
            unit,
        )),
        Err(e) => {
            tracing::warn!(erreur = %e, "carte des départements indisponible : tableau seul");
            None
        }
    };
    let (bounds, _) = carte::classes(&values);
    MapSection {
        choices: MAP_INDICATORS.iter().map(|(k, l, _)| (*k, *l, *k == key)).collect(),
        title: format!("{label} par département"),
        svg,
        legende: carte::legend(&bounds)
            .into_iter()
            .map(|(c, t)| {
                let f = carte::fill(&c);
                let t = if c == "classe-vide" && public {
                    "aucune donnée, ou secret statistique (1 à 4)".to_string()
                } else {
                    t
                };
                (c, f, t)
            })
            .collect(),
        rows: data
            .departements
            .iter()
            .map(|(code, d)| {
                let figure = value_of(key, d, public).map_or_else(|| "secret statistique (1 à 4)".to_string(), fr);
                (code.clone(), d.nom.clone(), figure)
            })
            .collect(),
        action,
        note: (public && matches!(key, "cheques-encaisses" | "heures"))
            .then_some("Chiffres arrondis à la dizaine ; de 1 à 4, ils ne sont pas publiés (secret statistique)."),
    }
}

/// A column chart of one monthly series.
pub fn trend(id: &str, title: &'static str, months: &[Mois], value: impl Fn(&Mois) -> i64) -> Result<Trend, WebError> {
    let bars: Vec<Bar> = months
        .iter()
        .map(|m| Bar {
            label: month_label(&m.mois),
            value: value(m),
        })
        .collect();
    let desc = format!(
        "Diagramme en barres sur {} mois ; chiffres dans le tableau des tendances.",
        bars.len()
    );
    Ok(Trend {
        svg: charts::columns(id, title, &desc, &bars).html()?,
    })
}

/// `GET /tableau-de-bord`.
pub async fn page(State(state): State<AppState>, v: Visitor, Query(q): Query<MapQuery>) -> Result<Response, WebError> {
    let snapshot = donnees::get(&state.core, state.config.dashboard_max_age).await?;
    let data = &snapshot.data;
    let n = &data.national;
    let indicators = vec![
        line("Lieux de médiation numérique dans l'annuaire", n.lieux, None),
        line(
            "Lieux qualifiés pour le Pass Numérique",
            n.lieux_qualifies,
            Some(tdb::TARGET_QUALIFIED_PLACES),
        ),
        line("Chèques Pass Numérique émis", n.cheques_emis, Some(tdb::TARGET_PASSES)),
        line("Chèques Pass Numérique encaissés", n.cheques_encaisses, None),
        line(
            "Heures d'accompagnement enregistrées",
            n.minutes_accompagnement / 60,
            None,
        ),
        line(
            "Conseillers et médiateurs actifs (accompagnement ces 90 derniers jours)",
            n.conseillers_actifs,
            Some(tdb::TARGET_CONSEILLERS),
        ),
        line(
            "Structures habilitées Aidants Connect",
            n.structures_aidants_connect,
            None,
        ),
        line("Aidants actifs", n.aidants_actifs, None),
        line("Mandats actifs", n.mandats_actifs, None),
        line("Utilisations de mandats cette année", n.utilisations_annee, None),
    ];
    let trends = vec![
        trend(
            "graphique-encaissements",
            "Chèques Pass Numérique encaissés par mois",
            &data.mois,
            |m| m.cheques_encaisses,
        )?,
        trend(
            "graphique-accompagnements",
            "Accompagnements enregistrés par mois",
            &data.mois,
            |m| m.accompagnements,
        )?,
        trend(
            "graphique-mandats",
            "Utilisations de mandats Aidants Connect par mois",
            &data.mois,
            |m| m.utilisations_mandats,
        )?,
    ];
    let months = data
        .mois
        .iter()
        .map(|m| {
            [
                month_label(&m.mois),
                fr(m.cheques_encaisses),
                fr(m.accompagnements),
                fr(m.minutes_accompagnement / 60),
                fr(m.mandats_conclus),
                fr(m.utilisations_mandats),
            ]
        })
        .collect();
    render(
        StatusCode::OK,
        DashboardPage {
            carte: map_section(data, q.carte.as_deref(), true, "/tableau-de-bord"),
            l: v.layout("Tableau de bord national", "/tableau-de-bord"),
            indicators,
            trends,
            months,
            calcule: computed_label(snapshot.computed_at),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::fr;

    #[test]
    fn public_figures_are_rounded_to_the_ten() {
        use super::round_to_ten;
        assert_eq!(
            (round_to_ten(5), round_to_ten(14), round_to_ten(15), round_to_ten(0)),
            (10, 10, 20, 0)
        );
    }

    #[test]
    fn thousands_are_separated_the_french_way() {
        assert_eq!(fr(0), "0");
        assert_eq!(fr(999), "999");
        assert_eq!(fr(2_000_000), "2\u{202f}000\u{202f}000");
        assert_eq!(fr(-1234), "-1\u{202f}234");
    }
}
