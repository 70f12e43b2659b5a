//! The JSON API of the directory (`/api/v1/…`) and its OpenAPI document.
//! Errors are JSON: `{"erreur": {"parametre": "…", "message": "…"}}`.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use passerelle_core::lieux::schema::standard;
use passerelle_core::lieux::search::{Query, Results};
use passerelle_core::lieux::store::{self, Value};
use passerelle_core::lieux::vocabulaires::{DispositifProgrammesNationaux, PublicsSpecifiquementAdresses, Services};
use serde_json::json;
use utoipa::OpenApi;

use crate::AppState;

/// A JSON error naming the parameter at fault.
pub struct ApiError {
    status: StatusCode,
    parameter: Option<&'static str>,
    message: String,
}

impl ApiError {
    fn bad(parameter: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            parameter: Some(parameter),
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "erreur": { "message": self.message } });
        if let Some(p) = self.parameter {
            body["erreur"]["parametre"] = json!(p);
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<passerelle_core::CoreError> for ApiError {
    fn from(e: passerelle_core::CoreError) -> Self {
        if e.is_unavailable() {
            tracing::error!(erreur = %e, "API : base de données indisponible");
            return ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                parameter: None,
                message: crate::indisponible::MESSAGE.into(),
            };
        }
        use passerelle_core::CoreError;
        let (status, message) = match e {
            CoreError::Invalid(m) => (StatusCode::BAD_REQUEST, m),
            CoreError::NotFound(m) => (StatusCode::NOT_FOUND, format!("introuvable : {m}")),
            CoreError::Forbidden => (StatusCode::FORBIDDEN, "action non autorisée".into()),
            CoreError::Conflict(m) => (StatusCode::CONFLICT, m),
            other => {
                tracing::error!(erreur = %other, "API : erreur interne");
                (StatusCode::INTERNAL_SERVER_ERROR, "erreur interne".into())
            }
        };
        ApiError {
            status,
            parameter: None,
            message,
        }
    }
}

/// Parameters of `GET /api/v1/lieux` (for the OpenAPI document; parsing is done by hand to name the faulty parameter).
#[allow(dead_code)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchParams {
    /// Latitude du point de recherche (WGS84), avec `lon`.
    lat: Option<f64>,
    /// Longitude du point de recherche (WGS84), avec `lat`.
    lon: Option<f64>,
    /// Rayon en kilomètres autour du point (par défaut 20, au plus 1000).
    rayon_km: Option<f64>,
    /// Services offerts, séparés par `|` (valeurs du standard) : le lieu doit les offrir tous.
    services: Option<String>,
    /// Publics spécifiquement adressés, séparés par `|` : tous requis.
    publics: Option<String>,
    /// `true` : seulement les lieux qui acceptent le Pass Numérique ; `false` : seulement les autres.
    pass_numerique: Option<bool>,
    /// Dispositifs ou programmes nationaux, séparés par `|` (par exemple `Aidants Connect`) : tous requis.
    dispositif: Option<String>,
    /// `true` : seulement les lieux ouverts à l'heure de la requête, chacun à son heure locale (outre-mer compris), jours fériés compris.
    ouvert_maintenant: Option<bool>,
    /// Texte cherché dans le nom, la commune et le code postal (sans accents ni casse).
    q: Option<String>,
    /// Page, à partir de 1.
    page: Option<u32>,
    /// Résultats par page (par défaut 20, au plus 100).
    par_page: Option<u32>,
}

const KNOWN: &[&str] = &[
    "lat",
    "lon",
    "rayon_km",
    "services",
    "publics",
    "pass_numerique",
    "dispositif",
    "ouvert_maintenant",
    "q",
    "page",
    "par_page",
];

fn number(name: &'static str, v: &str) -> Result<f64, ApiError> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| ApiError::bad(name, format!("nombre attendu, reçu « {v} »")))
}

fn boolean(name: &'static str, v: &str) -> Result<bool, ApiError> {
    match v.trim() {
        "true" | "1" | "oui" => Ok(true),
        "false" | "0" | "non" => Ok(false),
        _ => Err(ApiError::bad(name, format!("true ou false attendu, reçu « {v} »"))),
    }
}

fn list<T>(name: &'static str, v: &str, from: fn(&str) -> Option<T>, all: &[&str]) -> Result<Vec<T>, ApiError> {
    v.split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            from(s).ok_or_else(|| {
                ApiError::bad(
                    name,
                    format!("valeur inconnue « {s} » ; valeurs possibles : {}", all.join(", ")),
                )
            })
        })
        .collect()
}

fn integer(name: &'static str, v: &str, min: u32, max: u32) -> Result<usize, ApiError> {
    v.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .map(|n| n as usize)
        .ok_or_else(|| ApiError::bad(name, format!("entier entre {min} et {max} attendu, reçu « {v} »")))
}

/// Parses the query string into a search, naming the first parameter at fault.
pub fn parse_search(raw: Option<&str>, now: jiff::Timestamp) -> Result<Query, ApiError> {
    let mut q = Query {
        page: 1,
        per_page: 20,
        now: Some(now),
        ..Default::default()
    };
    let (mut lat, mut lon) = (None, None);
    let mut seen = std::collections::HashSet::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let Some(name) = KNOWN.iter().copied().find(|n| *n == k) else {
            return Err(ApiError::bad(
                "?",
                format!(
                    "paramètre inconnu « {k} » ; paramètres possibles : {}",
                    KNOWN.join(", ")
                ),
            ));
        };
        if !seen.insert(name) {
            return Err(ApiError::bad(name, "paramètre répété"));
        }
        if v.is_empty() {
            continue;
        }
        match name {
            "lat" => {
                lat = Some(number(name, &v)?)
                    .filter(|x| (-90.0..=90.0).contains(x))
                    .map(Some)
                    .ok_or_else(|| ApiError::bad(name, "latitude hors de [-90, 90]"))?
            }
            "lon" => {
                lon = Some(number(name, &v)?)
                    .filter(|x| (-180.0..=180.0).contains(x))
                    .map(Some)
                    .ok_or_else(|| ApiError::bad(name, "longitude hors de [-180, 180]"))?
            }
            "rayon_km" => {
                let r = number(name, &v)?;
                if !(0.0..=1000.0).contains(&r) || r == 0.0 {
                    return Err(ApiError::bad(name, "rayon entre 0 et 1000 km attendu"));
                }
                q.radius_km = Some(r);
            }
            "services" => {
                let all: Vec<&str> = Services::ALL.iter().map(|s| s.label()).collect();
                q.services = list(name, &v, Services::from_label, &all)?;
            }
            "publics" => {
                let all: Vec<&str> = PublicsSpecifiquementAdresses::ALL.iter().map(|s| s.label()).collect();
                q.publics = list(name, &v, PublicsSpecifiquementAdresses::from_label, &all)?;
            }
            "dispositif" => {
                let all: Vec<&str> = DispositifProgrammesNationaux::ALL.iter().map(|s| s.label()).collect();
                q.dispositifs = list(name, &v, DispositifProgrammesNationaux::from_label, &all)?;
            }
            "pass_numerique" => q.pass_numerique = Some(boolean(name, &v)?),
            "ouvert_maintenant" if boolean(name, &v)? => q.open_at = Some(now),
            "q" => {
                if v.chars().count() > 200 {
                    return Err(ApiError::bad(name, "200 caractères au plus"));
                }
                q.text = Some(v.into_owned());
            }
            "page" => q.page = integer(name, &v, 1, 100_000)?,
            "par_page" => q.per_page = integer(name, &v, 1, 100)?,
            _ => {}
        }
    }
    match (lat, lon) {
        (Some(a), Some(o)) => {
            q.near = Some((a, o));
            q.radius_km = Some(q.radius_km.unwrap_or(20.0));
        }
        (None, None) => {
            if q.radius_km.is_some() {
                return Err(ApiError::bad("rayon_km", "un rayon demande aussi lat et lon"));
            }
        }
        (None, Some(_)) => return Err(ApiError::bad("lat", "lat et lon vont ensemble")),
        (Some(_), None) => return Err(ApiError::bad("lon", "lat et lon vont ensemble")),
    }
    Ok(q)
}

/// Searches places, nearest first when `lat`/`lon` are given (alphabetical otherwise).
#[utoipa::path(
    get,
    path = "/api/v1/lieux",
    params(SearchParams),
    responses(
        (status = 200, description = "Une page de résultats, du plus proche au plus lointain", body = Results),
        (status = 400, description = "Paramètre invalide : `{\"erreur\": {\"parametre\", \"message\"}}`"),
    ),
    tag = "lieux"
)]
pub async fn search(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let q = parse_search(raw.as_deref(), state.core.db.horloge().now())?;
    let index = state.lieux.get(&state.core.db).await?;
    let body = index
        .search(&q)
        .to_json()
        .map_err(|e| passerelle_core::CoreError::Io(format!("réponse JSON : {e}")))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// One place: every field of the national standard, plus what Passerelle adds under `passerelle`.
#[utoipa::path(
    get,
    path = "/api/v1/lieux/{id}",
    params(("id" = String, Path, description = "Identifiant du lieu dans le standard (champ `id`)")),
    responses(
        (status = 200, description = "Le lieu"),
        (status = 404, description = "Lieu introuvable"),
    ),
    tag = "lieux"
)]
pub async fn one(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let Some((values, own)) = store::by_ext_id(&state.core.db, &id).await? else {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            parameter: None,
            message: "lieu introuvable".into(),
        });
    };
    let mut obj = serde_json::Map::new();
    for (name, v) in standard().names().zip(values) {
        obj.insert(
            name.to_string(),
            match v {
                Value::Text(t) if t.is_empty() => serde_json::Value::Null,
                Value::Text(t) => json!(t),
                Value::Number(n) => json!(n),
            },
        );
    }
    let hub = passerelle_core::hubs::of_departement(&state.core.db, &own.departement).await?;
    obj.insert(
        "passerelle".into(),
        json!({
            "pass_numerique": own.pass_numerique,
            "hub": hub,
            "departement": Some(own.departement).filter(|d| !d.is_empty()),
            "labels": own.labels.split('|').filter(|l| !l.is_empty()).collect::<Vec<_>>(),
            "mis_a_jour": passerelle_core::db::rfc3339_of(own.updated_at),
        }),
    );
    Ok(Json(serde_json::Value::Object(obj)))
}

/// Version of the API and of the places standard served.
#[utoipa::path(get, path = "/api/v1/version", responses((status = 200, description = "Versions")), tag = "lieux")]
pub async fn version() -> Json<serde_json::Value> {
    Json(json!({ "passerelle": env!("CARGO_PKG_VERSION"), "standard_lieux": standard().version }))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "API Passerelle",
        description = "Annuaire des lieux de médiation numérique (standard national v1.0.2) et chèques du Pass Numérique."
    ),
    paths(search, one, version, crate::pass_numerique::cheques_api::verify, crate::pass_numerique::cheques_api::redeem_cheque),
    components(schemas(
        Results,
        passerelle_core::lieux::search::Hit,
        crate::pass_numerique::cheques_api::VerifyBody,
        crate::pass_numerique::cheques_api::RedeemBody
    )),
    modifiers(&ApiKeyScheme),
    tags(
        (name = "lieux", description = "Lieux de médiation numérique"),
        (name = "cheques", description = "Vérification et encaissement des chèques, par la clé d'API du lieu")
    )
)]
pub struct ApiDoc;

/// The places' API key (`Authorization: Bearer pn_…`).
struct ApiKeyScheme;

impl utoipa::Modify for ApiKeyScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("cle_api", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// `/api/openapi.json`
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
