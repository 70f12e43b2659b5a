//! Funders' reports: `/commandes/{id}/rapport` (one order) and `/rapports`
//! (a funder's orders together; the opérateur chooses the funder or sees all),
//! each as a page (tables and SVG charts) and as CSV; the joint statement of
//! an order's expired cheques (`/commandes/{id}/expires.pdf|csv`). Who sees what is decided
//! by `pass_numerique::rapports` (and its `authz`), never here.

use crate::forms::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use passerelle_core::pass_numerique::rapports::{self, expires, expires_pdf, Count, Report, Row};
use passerelle_core::pass_numerique::reports;
use passerelle_core::pdf::Fonts;
use serde::Deserialize;

use crate::auth::{render, CurrentUser};
use crate::error::WebError;
use crate::forms::Query;
use crate::tableau_de_bord::charts::{self, Bar};
use crate::templates::Layout;
use crate::AppState;

/// A line of the totals' table.
pub struct TotalRow {
    pub libelle: &'static str,
    pub carnets: String,
    pub cheques: String,
    pub valeur: String,
}

pub struct SectionRow {
    pub nom: String,
    pub carnets_remis: Option<i64>,
    pub encaisses: i64,
    pub valeur: String,
}

/// One breakdown: a heading, maybe a chart, and its table.
pub struct Section {
    pub id: &'static str,
    pub heading: &'static str,
    pub caption: String,
    pub key_header: &'static str,
    pub hand_outs: bool,
    /// Inline SVG, rendered (and escaped) by the `_graphique.svg` template.
    pub chart: Option<String>,
    pub rows: Vec<SectionRow>,
}

#[derive(Template)]
#[template(path = "pass_numerique/rapport.html")]
pub struct ReportPage {
    pub l: Layout,
    pub titre: String,
    pub csv: String,
    /// The opérateur's choice of funder on `/rapports`: (id, name, selected).
    pub funders: Option<Vec<(i64, String, bool)>>,
    /// Link back to the order, on an order's report.
    pub commande: Option<i64>,
    pub totals: Vec<TotalRow>,
    pub avoirs: String,
    pub sections: Vec<Section>,
}

fn total(libelle: &'static str, carnets: Option<i64>, c: Count) -> TotalRow {
    TotalRow {
        libelle,
        carnets: carnets.map(|n| n.to_string()).unwrap_or_else(|| "—".into()),
        cheques: c.cheques.to_string(),
        valeur: format!("{} €", c.valeur_centimes.euros()),
    }
}

fn section(
    id: &'static str,
    heading: &'static str,
    key_header: &'static str,
    rows: &[Row],
    with_key: bool,
    chart: Option<charts::Chart>,
) -> Result<Section, WebError> {
    Ok(Section {
        id,
        heading,
        caption: format!("Chèques encaissés {}", heading.to_lowercase()),
        key_header,
        hand_outs: rows.iter().any(|r| r.carnets_remis.is_some()),
        chart: match chart {
            Some(c) if !rows.is_empty() => Some(c.html()?),
            _ => None,
        },
        rows: rows
            .iter()
            .map(|r| SectionRow {
                nom: if with_key && !r.cle.is_empty() {
                    format!("{} ({})", r.libelle, r.cle)
                } else {
                    r.libelle.clone()
                },
                carnets_remis: r.carnets_remis,
                encaisses: r.encaisses,
                valeur: format!("{} €", r.valeur_encaissee_centimes.euros()),
            })
            .collect(),
    })
}

fn bars(rows: &[Row]) -> Vec<Bar> {
    rows.iter()
        .map(|r| Bar {
            label: r.libelle.clone(),
            value: r.encaisses,
        })
        .collect()
}

fn page(
    l: Layout,
    r: &Report,
    csv: String,
    funders: Option<Vec<(i64, String, bool)>>,
    commande: Option<i64>,
) -> Result<ReportPage, WebError> {
    let t = &r.totaux;
    let n = |rows: &[Row], one: &str, many: &str| {
        passerelle_core::format_fr::nombre(i64::try_from(rows.len()).unwrap_or(i64::MAX), one, many)
    };
    let months = charts::columns(
        "graphique-mois",
        &format!("Chèques encaissés par mois — {}", r.titre),
        &format!(
            "Diagramme en barres sur {} ; chiffres dans le tableau qui suit.",
            n(&r.par_mois, "mois", "mois")
        ),
        &r.par_mois
            .iter()
            .map(|m| Bar {
                label: m
                    .cle
                    .split_once('-')
                    .map_or(m.cle.clone(), |(y, mo)| format!("{mo}/{y}")),
                value: m.encaisses,
            })
            .collect::<Vec<_>>(),
    );
    let deps = charts::rows(
        "graphique-departements",
        &format!("Chèques encaissés par département — {}", r.titre),
        &format!(
            "Diagramme en barres horizontales sur {} ; chiffres dans le tableau qui suit.",
            n(&r.par_departement, "département", "départements")
        ),
        &bars(&r.par_departement),
    );
    let publics = charts::rows(
        "graphique-publics",
        &format!("Chèques encaissés par public — {}", r.titre),
        &format!(
            "Diagramme en barres horizontales sur {} ; chiffres dans le tableau qui suit.",
            n(&r.par_public, "public", "publics")
        ),
        &bars(&r.par_public),
    );
    Ok(ReportPage {
        l,
        titre: r.titre.clone(),
        csv,
        funders,
        commande,
        totals: vec![
            total("Émis", Some(t.carnets_emis), t.emis),
            total("Remis aux bénéficiaires", Some(t.carnets_remis), t.remis),
            total("Encaissés", None, t.encaisses),
            total(
                "Non utilisés (encore valables ou en attente du paiement)",
                None,
                t.non_utilises,
            ),
            total("Expirés", None, t.expires),
            total("Annulés (carnets perdus)", Some(t.carnets_perdus), t.annules),
        ],
        avoirs: t.avoirs_centimes.euros(),
        sections: vec![
            section("mois", "Par mois", "Mois", &r.par_mois, false, Some(months))?,
            section(
                "departements",
                "Par département",
                "Département",
                &r.par_departement,
                true,
                Some(deps),
            )?,
            section("publics", "Par public", "Public", &r.par_public, false, Some(publics))?,
            section(
                "communes",
                "Par commune",
                "Commune (code INSEE)",
                &r.par_commune,
                true,
                None,
            )?,
            section("lieux", "Par lieu", "Lieu (identifiant)", &r.par_lieu, true, None)?,
        ],
    })
}

/// `GET /commandes/{id}/rapport`
pub async fn order(State(state): State<AppState>, u: CurrentUser, Path(id): Path<i64>) -> Result<Response, WebError> {
    let r = rapports::order_report(&state.core, &u.principal, id).await?;
    let l = u.layout(&format!("Rapport de la commande n° {id}"), "/commandes");
    render(
        StatusCode::OK,
        page(l, &r, format!("/commandes/{id}/rapport.csv"), None, Some(id))?,
    )
}

/// `GET /commandes/{id}/rapport.csv`
pub async fn order_csv(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let r = rapports::order_report(&state.core, &u.principal, id).await?;
    Ok(crate::pages::download(
        "text/csv; charset=utf-8",
        &format!("rapport-commande-{id}.csv"),
        rapports::csv::csv(&r)?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct FunderQuery {
    commanditaire: Option<String>,
}

impl FunderQuery {
    /// `?commanditaire=` : absent or empty for every funder.
    fn funder(&self) -> Result<Option<i64>, WebError> {
        match self.commanditaire.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(t) => t
                .parse()
                .map(Some)
                .map_err(|_| WebError::BadRequest(format!("commanditaire : numéro attendu, « {t} » reçu"))),
        }
    }
}

/// `GET /rapports`
pub async fn funders(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<FunderQuery>,
) -> Result<Response, WebError> {
    let asked = q.funder()?;
    let r = rapports::funders_report(&state.core, &u.principal, asked).await?;
    let choice = rapports::funder_choices(&state.core, &u.principal).await?.map(|all| {
        all.into_iter()
            .map(|(id, name)| (id, name, Some(id) == asked))
            .collect()
    });
    let csv = match asked {
        Some(f) => format!("/rapports.csv?commanditaire={f}"),
        None => "/rapports.csv".into(),
    };
    render(
        StatusCode::OK,
        page(
            u.layout("Rapports du Pass Numérique", "/rapports"),
            &r,
            csv,
            choice,
            None,
        )?,
    )
}

/// `GET /rapports.csv`
pub async fn funders_csv(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<FunderQuery>,
) -> Result<Response, WebError> {
    let asked = q.funder()?;
    let r = rapports::funders_report(&state.core, &u.principal, asked).await?;
    let name = match r.perimetre {
        rapports::Scope::Funder(f) => format!("rapport-commanditaire-{f}.csv"),
        _ => "rapport-commandes.csv".into(),
    };
    Ok(crate::pages::download(
        "text/csv; charset=utf-8",
        &name,
        rapports::csv::csv(&r)?,
    ))
}

/// `GET /commandes/{id}/expires.csv`: the joint statement of the order's expired cheques.
pub async fn expired_csv(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let s = expires::statement(&state.core, &u.principal, id).await?;
    Ok(crate::pages::download(
        "text/csv; charset=utf-8",
        &format!("cheques-expires-commande-{id}.csv"),
        expires::csv(&s)?,
    ))
}

/// `GET /commandes/{id}/expires.pdf`
pub async fn expired_pdf(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let s = expires::statement(&state.core, &u.principal, id).await?;
    let fonts = Fonts::of(state.config.fonts_dir.as_deref())?;
    let operator = reports::operator_name(&state.core).await?;
    let bytes = tokio::task::spawn_blocking(move || expires_pdf::pdf(&fonts, &operator, &s))
        .await
        .map_err(|e| WebError::Internal(format!("état des chèques expirés en PDF : {e}")))??;
    Ok(crate::pages::download(
        "application/pdf",
        &format!("cheques-expires-commande-{id}.pdf"),
        bytes,
    ))
}
