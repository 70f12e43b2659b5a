//! Open data: the `/open-data/` page (datasets, stable URLs, dates, data
//! dictionary), the directory in the national standard, and the monthly
//! indicators per département (small counts suppressed).

use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use passerelle_core::indicateurs;
use passerelle_core::journal;
use passerelle_core::lieux::export;

use crate::auth::{render, Visitor};
use crate::error::WebError;
use crate::templates::horodatage;
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

/// The directory in the data·inclusion v1 schema: `structures.json` or `services.json`.
pub async fn data_inclusion(
    State(state): State<AppState>,
    crate::forms::Path(file): crate::forms::Path<String>,
) -> Result<Response, WebError> {
    let today = passerelle_core::lieux::data_inclusion::latest_day(state.core.db.horloge());
    let base = state.config.base_url.origin().ascii_serialization();
    let export = passerelle_core::lieux::data_inclusion::build(&state.core.db, Some(&base), today).await?;
    let body = match file.as_str() {
        "structures.json" => serde_json::to_vec(&export.structures),
        "services.json" => serde_json::to_vec(&export.services),
        _ => return Err(WebError::NotFound),
    }
    .map_err(|e| WebError::Internal(format!("export data·inclusion : {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
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
#[template(path = "tableau_de_bord/open-data.html")]
pub struct OpenDataPage {
    pub l: crate::templates::Layout,
    pub jeux: Vec<Dataset>,
    pub seuil: i64,
}

fn date(micros: Option<i64>) -> String {
    micros.map(horodatage).unwrap_or_else(|| "aucune donnée encore".into())
}

/// `GET /open-data/`: the datasets, their stable URLs, dates and data dictionary.
pub async fn index(State(state): State<AppState>, v: Visitor) -> Result<Response, WebError> {
    let age = state.config.dashboard_max_age;
    let lieux_maj = indicateurs::lieux_last_modified(&state.core.db).await?;
    let departements = indicateurs::published(&state.core, age).await?;
    let pass = indicateurs::pass_numerique::published(&state.core, age).await?;
    let aidants = indicateurs::aidants_connect::published(&state.core, age).await?;
    let tete = journal::latest_checkpoint(&state.core.db).await?;
    let jeux = vec![
        Dataset {
            titre: "Lieux de médiation numérique",
            description: "L'annuaire des lieux, au standard national des lieux de médiation numérique (Table Schema v1.0.2) : une ligne par lieu, sans donnée personnelle.",
            fichiers: vec![("CSV", "/open-data/lieux.csv"), ("CSV pour tableur (Excel, LibreOffice)", "/open-data/lieux.csv?format=tableur"), ("JSON", "/open-data/lieux.json")],
            mise_a_jour: date(lieux_maj),
            colonnes: Vec::new(),
        },
        Dataset {
            titre: "Lieux de médiation numérique au schéma data·inclusion",
            description: "Le même annuaire au schéma data·inclusion v1 : une structure par lieu, un service par service proposé (thématiques, publics, frais et modes de mobilisation traduits vers les valeurs de data·inclusion).",
            fichiers: vec![
                ("JSON (structures)", "/open-data/data-inclusion/structures.json"),
                ("JSON (services)", "/open-data/data-inclusion/services.json"),
            ],
            mise_a_jour: date(lieux_maj),
            colonnes: Vec::new(),
        },
        Dataset {
            titre: "Indicateurs mensuels par département",
            description: "Une ligne par département (Corse et outre-mer compris) et par mois, lignes à zéro comprises : chèques encaissés, lieux qualifiés, accompagnements et heures d'accompagnement.",
            fichiers: vec![
                ("CSV", "/open-data/indicateurs-departements.csv"), ("CSV pour tableur (Excel, LibreOffice)", "/open-data/indicateurs-departements.csv?format=tableur"),
                ("JSON", "/open-data/indicateurs-departements.json"),
            ],
            mise_a_jour: date(departements.last_modified),
            colonnes: indicateurs::COLUMNS.to_vec(),
        },
        Dataset {
            titre: "Pass Numérique par département et public",
            description: "Une ligne par département, public et mois, lignes à zéro comprises : carnets remis aux bénéficiaires résidant dans le département, chèques encaissés dans ses lieux et leur valeur.",
            fichiers: vec![
                ("CSV", "/open-data/pass-numerique-departements-publics.csv"), ("CSV pour tableur (Excel, LibreOffice)", "/open-data/pass-numerique-departements-publics.csv?format=tableur"),
                ("JSON", "/open-data/pass-numerique-departements-publics.json"),
            ],
            mise_a_jour: date(pass.last_modified),
            colonnes: indicateurs::pass_numerique::COLUMNS.to_vec(),
        },
        Dataset {
            titre: "Aidants Connect par mois et domaine de démarches",
            description: "Une ligne par mois et par domaine de démarches, lignes à zéro comprises : mandats conclus et utilisations par les services en ligne (chiffres nationaux). Le JSON donne aussi le nombre de structures habilitées et d'aidants actifs.",
            fichiers: vec![
                ("CSV", "/open-data/aidants-connect.csv"), ("CSV pour tableur (Excel, LibreOffice)", "/open-data/aidants-connect.csv?format=tableur"),
                ("JSON", "/open-data/aidants-connect.json"),
            ],
            mise_a_jour: date(aidants.last_modified),
            colonnes: indicateurs::aidants_connect::COLUMNS.to_vec(),
        },
        Dataset {
            titre: "Tête signée du journal",
            description: "Le dernier point de contrôle du journal infalsifiable de la plateforme, signé (Ed25519) : numéro, entrée, empreinte, point précédent, clé publique. Tout témoin extérieur peut la relever régulièrement et la conserver : « passerelle journal verify --temoin » prouve ensuite que le journal prolonge ce qu'il a vu, sans rien réécrire ni supprimer. Aucune donnée personnelle.",
            fichiers: vec![("JSON", journal::tete::PATH)],
            mise_a_jour: date(tete.map(|c| c.at)),
            colonnes: TETE_COLUMNS.to_vec(),
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

const TETE_COLUMNS: [(&str, &str); 9] = [
    ("numero", "numéro du point de contrôle (1, 2, 3… sans trou)"),
    ("seq", "numéro de l'entrée du journal signée"),
    (
        "debut",
        "première entrée couverte par ce point (celle qui suit le point précédent)",
    ),
    ("empreinte", "empreinte SHA-256 de l'entrée signée (hexadécimal)"),
    (
        "at",
        "date du point (microsecondes depuis 1970, UTC) ; « date » la donne en RFC 3339",
    ),
    ("empreinte_segment", "SHA-256 des empreintes des entrées n° debut à seq"),
    (
        "precedent",
        "empreinte du point de contrôle précédent (chaîne des points)",
    ),
    (
        "cle, cle_publique",
        "identifiant et clé publique Ed25519 du déploiement",
    ),
    ("signature", "signature Ed25519 de ces champs (hexadécimal)"),
];

/// `GET /open-data/journal-tete.json`: the signed head of the journal, for witnesses.
pub async fn journal_tete(State(state): State<AppState>) -> Result<Response, WebError> {
    let cp = journal::latest_checkpoint(&state.core.db)
        .await?
        .ok_or(WebError::NotFound)?;
    let doc = journal::tete::tete_json(&cp, &state.core.keys.journal_verifying());
    let body = serde_json::to_vec_pretty(&doc)
        .map_err(|e| WebError::from(passerelle_core::CoreError::Io(format!("JSON : {e}"))))?;
    let mut resp = file(body, JSON, None, Some(cp.at));
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=60"),
    );
    Ok(resp)
}

fn last_modified(micros: Option<i64>) -> Option<(header::HeaderName, String)> {
    let t = passerelle_core::db::datetime_of(micros?);
    Some((
        header::LAST_MODIFIED,
        t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string(),
    ))
}

/// A published file with its `Last-Modified` date.
fn file(body: Vec<u8>, content_type: &'static str, name: Option<&'static str>, lm: Option<i64>) -> Response {
    let mut resp = (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response();
    if let Some(name) = name {
        if let Ok(v) = format!("inline; filename=\"{name}\"").parse() {
            resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    if let Some((k, v)) = last_modified(lm) {
        if let Ok(v) = v.parse() {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

/// The JSON document of a dataset: the threshold, the dictionary and the rows (and extras).
fn json_doc(columns: &[(&str, &str)], rows: serde_json::Value, extra: serde_json::Value) -> Result<Vec<u8>, WebError> {
    let mut doc = serde_json::json!({
        "seuil_secret_statistique": indicateurs::SECRET_THRESHOLD,
        "colonnes": columns.iter().map(|(k, d)| serde_json::json!({ "nom": k, "description": d })).collect::<Vec<_>>(),
        "lignes": rows,
    });
    if let (Some(doc), serde_json::Value::Object(extra)) = (doc.as_object_mut(), extra) {
        doc.extend(extra);
    }
    serde_json::to_vec(&doc).map_err(|e| WebError::from(passerelle_core::CoreError::Io(format!("JSON : {e}"))))
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, WebError> {
    serde_json::to_value(v).map_err(|e| WebError::from(passerelle_core::CoreError::Io(format!("JSON : {e}"))))
}

const CSV: &str = "text/csv; charset=utf-8";
const JSON: &str = "application/json";

/// `GET /open-data/indicateurs-departements.csv`.
pub async fn indicateurs_csv(State(state): State<AppState>) -> Result<Response, WebError> {
    let p = indicateurs::published(&state.core, state.config.dashboard_max_age).await?;
    let body = indicateurs::to_csv(&p.rows)?;
    Ok(file(body, CSV, Some("indicateurs-departements.csv"), p.last_modified))
}

/// `GET /open-data/indicateurs-departements.json`.
pub async fn indicateurs_json(State(state): State<AppState>) -> Result<Response, WebError> {
    let p = indicateurs::published(&state.core, state.config.dashboard_max_age).await?;
    let body = json_doc(&indicateurs::COLUMNS, to_value(&p.rows)?, serde_json::json!({}))?;
    Ok(file(body, JSON, None, p.last_modified))
}

/// `GET /open-data/pass-numerique-departements-publics.csv`.
pub async fn pass_csv(State(state): State<AppState>) -> Result<Response, WebError> {
    let p = indicateurs::pass_numerique::published(&state.core, state.config.dashboard_max_age).await?;
    let body = indicateurs::pass_numerique::to_csv(&p.rows)?;
    Ok(file(
        body,
        CSV,
        Some("pass-numerique-departements-publics.csv"),
        p.last_modified,
    ))
}

/// `GET /open-data/pass-numerique-departements-publics.json`.
pub async fn pass_json(State(state): State<AppState>) -> Result<Response, WebError> {
    let p = indicateurs::pass_numerique::published(&state.core, state.config.dashboard_max_age).await?;
    let body = json_doc(
        &indicateurs::pass_numerique::COLUMNS,
        to_value(&p.rows)?,
        serde_json::json!({}),
    )?;
    Ok(file(body, JSON, None, p.last_modified))
}

/// `GET /open-data/aidants-connect.csv`.
pub async fn aidants_csv(State(state): State<AppState>) -> Result<Response, WebError> {
    let p = indicateurs::aidants_connect::published(&state.core, state.config.dashboard_max_age).await?;
    let body = indicateurs::aidants_connect::to_csv(&p.rows)?;
    Ok(file(body, CSV, Some("aidants-connect.csv"), p.last_modified))
}

/// `GET /open-data/aidants-connect.json`.
pub async fn aidants_json(State(state): State<AppState>) -> Result<Response, WebError> {
    let p = indicateurs::aidants_connect::published(&state.core, state.config.dashboard_max_age).await?;
    let body = json_doc(
        &indicateurs::aidants_connect::COLUMNS,
        to_value(&p.rows)?,
        serde_json::json!({
            "structures_habilitees": p.structures_habilitees,
            "aidants_actifs": p.aidants_actifs,
        }),
    )?;
    Ok(file(body, JSON, None, p.last_modified))
}

#[cfg(test)]
mod tests {
    #[test]
    fn last_modified_is_an_http_date() {
        let (name, value) = super::last_modified(Some(1_772_321_400_123_456)).unwrap();
        assert_eq!(name, axum::http::header::LAST_MODIFIED);
        assert_eq!(value, "Sat, 28 Feb 2026 23:30:00 GMT");
        assert_eq!(
            super::last_modified(Some(0)).unwrap().1,
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(super::last_modified(None), None);
    }
}
