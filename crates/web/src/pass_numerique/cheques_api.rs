//! The cheque API for places' own software: `POST /api/v1/cheques/verifier`
//! and `POST /api/v1/cheques/encaisser`, authenticated by the place's API key
//! (`Authorization: Bearer pn_…`), never by a session cookie (hence outside
//! the CSRF layer). Every answer is JSON with a stable `motif` key.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use passerelle_core::pass_numerique::guichet::{self, CleApi, Presentateur, Tentative};
use passerelle_core::pass_numerique::redeem::{Motif, Outcome, Verdict};
use serde::Deserialize;
use serde_json::json;

use crate::auth::ClientIp;
use crate::AppState;

/// Refusals of the API itself (the cheque's own are [`Motif`]s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiMotif {
    CleApiInvalide,
    RequeteInvalide,
    CleIdempotenceAbsente,
    TropDeTentatives,
    ErreurInterne,
    ServiceIndisponible,
}

impl ApiMotif {
    #[cfg(test)]
    pub const ALL: [ApiMotif; 6] = [
        ApiMotif::CleApiInvalide,
        ApiMotif::RequeteInvalide,
        ApiMotif::CleIdempotenceAbsente,
        ApiMotif::TropDeTentatives,
        ApiMotif::ErreurInterne,
        ApiMotif::ServiceIndisponible,
    ];

    pub fn key(self) -> &'static str {
        match self {
            ApiMotif::CleApiInvalide => "cle_api_invalide",
            ApiMotif::RequeteInvalide => "requete_invalide",
            ApiMotif::CleIdempotenceAbsente => "cle_idempotence_absente",
            ApiMotif::TropDeTentatives => "trop_de_tentatives",
            ApiMotif::ErreurInterne => "erreur_interne",
            ApiMotif::ServiceIndisponible => "service_indisponible",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ApiMotif::CleApiInvalide => StatusCode::UNAUTHORIZED,
            ApiMotif::RequeteInvalide | ApiMotif::CleIdempotenceAbsente => StatusCode::BAD_REQUEST,
            ApiMotif::TropDeTentatives => StatusCode::TOO_MANY_REQUESTS,
            ApiMotif::ErreurInterne => StatusCode::INTERNAL_SERVER_ERROR,
            ApiMotif::ServiceIndisponible => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            ApiMotif::CleApiInvalide => "Clé d'API absente, inconnue ou révoquée (en-tête Authorization: Bearer pn_…)",
            ApiMotif::RequeteInvalide => "Requête invalide : un objet JSON est attendu",
            ApiMotif::CleIdempotenceAbsente => "En-tête Idempotency-Key obligatoire (1 à 200 caractères)",
            ApiMotif::TropDeTentatives => "Trop de codes erronés : réessayez dans quelques minutes",
            ApiMotif::ErreurInterne => "Erreur interne : réessayez",
            ApiMotif::ServiceIndisponible => crate::indisponible::MESSAGE,
        }
    }
}

fn api_refusal(m: ApiMotif, detail: Option<String>) -> Response {
    let message = match detail {
        Some(d) => format!("{} ({d})", m.message()),
        None => m.message().to_string(),
    };
    (
        m.status(),
        Json(json!({ "valide": false, "motif": m.key(), "message": message })),
    )
        .into_response()
}

fn internal(e: passerelle_core::CoreError) -> Response {
    if e.is_unavailable() {
        // Nothing was done: the same request (same idempotency key) can be sent again.
        tracing::error!(erreur = %e, "API des chèques : base de données indisponible");
        return api_refusal(ApiMotif::ServiceIndisponible, None);
    }
    tracing::error!(erreur = %e, "API des chèques : erreur interne");
    api_refusal(ApiMotif::ErreurInterne, None)
}

fn verdict_response(status: StatusCode, v: &Verdict) -> Response {
    (
        status,
        Json(json!({
            "valide": v.valide,
            "motif": v.motif.key(),
            "message": v.message,
            "valeur_centimes": v.valeur_centimes,
            "fin_validite": v.fin_validite,
            "services_autorises": v.services_autorises,
        })),
    )
        .into_response()
}

/// The place of the API key in `Authorization: Bearer …`.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<CleApi, Response> {
    let key = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(key) = key else {
        return Err(api_refusal(ApiMotif::CleApiInvalide, None));
    };
    match guichet::cle_api(&state.core, key).await {
        Ok(Some(cle)) => Ok(cle),
        Ok(None) => Err(api_refusal(ApiMotif::CleApiInvalide, None)),
        Err(e) => Err(internal(e)),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct VerifyBody {
    /// Le code du chèque, tel que saisi ou lu dans le QR code.
    code: String,
    /// Un service du standard, pour vérifier aussi qu'il est couvert.
    service: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RedeemBody {
    code: String,
    /// Le service rendu : un libellé de la liste `services` du standard, proposé par le lieu.
    service: String,
}

/// The JSON body, or the refusal to send (a body too large keeps its 413).
fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, Box<Response>> {
    b.map(|Json(t)| t).map_err(|e| {
        let status = e.status();
        // In French: the library's own text (in English) only goes to the log.
        tracing::info!(raison = %e.body_text(), "API des chèques : corps refusé");
        let detail = match &e {
            JsonRejection::JsonDataError(_) => {
                "champ manquant ou d'un type inattendu : « code » et « service » sont des textes"
            }
            JsonRejection::JsonSyntaxError(_) => "JSON mal formé",
            JsonRejection::MissingJsonContentType(_) => "en-tête Content-Type: application/json attendu",
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => "corps trop volumineux",
            _ => "corps illisible",
        };
        let mut r = api_refusal(ApiMotif::RequeteInvalide, Some(detail.to_string()));
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            *r.status_mut() = status;
        }
        Box::new(r)
    })
}

/// What both endpoints check first, in this order: the API key, then the
/// JSON body. The limit on failed checks is the counter's
/// ([`guichet`]).
async fn admit<T>(
    state: &AppState,
    headers: &HeaderMap,
    b: Result<Json<T>, JsonRejection>,
) -> Result<(CleApi, T), Box<Response>> {
    let cle = authenticate(state, headers).await.map_err(Box::new)?;
    Ok((cle, body(b)?))
}

/// Tells whether a cheque could be redeemed at the key's place now, without using it.
#[utoipa::path(
    post,
    path = "/api/v1/cheques/verifier",
    request_body = VerifyBody,
    responses(
        (status = 200, description = "Verdict : `{valide, motif, message, valeur_centimes, fin_validite, services_autorises}` (`services_autorises` : les seuls services que paie la commande du chèque, vide si elle les paie tous) ; `motif` vaut `valide` ou la raison du refus (voir /api/v1/cheques/encaisser)"),
        (status = 400, description = "`requete_invalide`"),
        (status = 401, description = "`cle_api_invalide`"),
        (status = 413, description = "`requete_invalide` (corps trop gros)"),
        (status = 429, description = "`trop_de_tentatives`"),
        (status = 500, description = "`erreur_interne`"),
        (status = 503, description = "`service_indisponible` : base de données momentanément injoignable, rien n'a été fait ; renvoyer la même demande (même `Idempotency-Key`) après le délai de l'en-tête `Retry-After`"),
    ),
    security(("cle_api" = [])),
    tag = "cheques"
)]
pub async fn verify(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    b: Result<Json<VerifyBody>, JsonRejection>,
) -> Response {
    let (cle, b) = match admit(&state, &headers, b).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let p = Presentateur::Logiciel { cle: &cle, ip: &ip };
    match guichet::verifier(&state.core, p, &cle.lieu, &b.code, b.service.as_deref()).await {
        Ok(Tentative::Faite(v)) => verdict_response(StatusCode::OK, &v),
        Ok(Tentative::TropDeTentatives) => api_refusal(ApiMotif::TropDeTentatives, None),
        Err(e) => internal(e),
    }
}

/// Redeems a cheque, exactly once. A replay with the same `Idempotency-Key` returns the same receipt.
#[utoipa::path(
    post,
    path = "/api/v1/cheques/encaisser",
    request_body = RedeemBody,
    params(("Idempotency-Key" = String, Header, description = "Identifiant unique de la demande, choisi par le logiciel du lieu (1 à 200 caractères)")),
    responses(
        (status = 201, description = "Encaissé : reçu `{encaissement, cheque, carnet, valeur_centimes, lieu, service, encaisse_le}` avec `motif` = `valide`"),
        (status = 400, description = "`requete_invalide`, `cle_idempotence_absente`"),
        (status = 401, description = "`cle_api_invalide`"),
        (status = 403, description = "`lieu_non_qualifie`, `hors_perimetre`, `service_non_propose`, `service_non_autorise`"),
        (status = 404, description = "`cheque_inconnu`"),
        (status = 409, description = "`deja_encaisse`, `carnet_non_remis`, `cheque_non_actif`, `pas_encore_valable`, `encaissement_annule` (l'encaissement fait avec cette `Idempotency-Key` a été annulé : envoyer une nouvelle clé)"),
        (status = 410, description = "`cheque_annule`, `cheque_expire`"),
        (status = 413, description = "`requete_invalide` (corps trop gros)"),
        (status = 422, description = "`code_mal_saisi`, `service_inconnu`, `cle_idempotence_reutilisee`"),
        (status = 429, description = "`plafond_atteint`, `trop_de_tentatives`"),
        (status = 500, description = "`erreur_interne`"),
        (status = 503, description = "`service_indisponible` : base de données momentanément injoignable, rien n'a été fait ; renvoyer la même demande (même `Idempotency-Key`) après le délai de l'en-tête `Retry-After`"),
    ),
    security(("cle_api" = [])),
    tag = "cheques"
)]
pub async fn redeem_cheque(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    b: Result<Json<RedeemBody>, JsonRejection>,
) -> Response {
    let (cle, b) = match admit(&state, &headers, b).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let Some(idempotency) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200 && !k.chars().any(char::is_control))
    else {
        return api_refusal(ApiMotif::CleIdempotenceAbsente, None);
    };
    let p = Presentateur::Logiciel { cle: &cle, ip: &ip };
    let outcome = guichet::encaisser(&state.core, p, &cle.lieu, &b.code, &b.service, Some(idempotency)).await;
    match outcome {
        Ok(Tentative::TropDeTentatives) => api_refusal(ApiMotif::TropDeTentatives, None),
        Ok(Tentative::Faite(Outcome::Redeemed(r))) | Ok(Tentative::Faite(Outcome::Replayed(r))) => {
            let mut v = serde_json::to_value(&r).unwrap_or_default();
            v["valide"] = json!(true);
            v["motif"] = json!(Motif::Valide.key());
            v["message"] = json!(format!("Chèque encaissé : {} €", r.valeur_centimes.euros()));
            (StatusCode::CREATED, Json(v)).into_response()
        }
        Ok(Tentative::Faite(Outcome::Refused(v))) => {
            let status = StatusCode::from_u16(v.motif.status()).unwrap_or(StatusCode::CONFLICT);
            verdict_response(status, &v)
        }
        Err(e) => internal(e),
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/cheques/verifier", post(verify))
        .route("/api/v1/cheques/encaisser", post(redeem_cheque))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::OpenApi;

    /// Every refusal key, of the cheque and of the API, is documented in the OpenAPI document.
    #[test]
    fn every_motif_is_in_the_openapi_document() {
        let doc = serde_json::to_string(&crate::lieux::api::ApiDoc::openapi()).unwrap();
        for m in Motif::ALL.iter().filter(|m| **m != Motif::Valide) {
            assert!(doc.contains(&format!("`{}`", m.key())), "{} absent", m.key());
        }
        for m in ApiMotif::ALL {
            assert!(doc.contains(&format!("`{}`", m.key())), "{} absent", m.key());
        }
    }
}
