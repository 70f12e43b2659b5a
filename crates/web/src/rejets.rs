//! The last word on refusals made by the framework itself: axum's extractors
//! (path, query, form, JSON, multipart, body size) answer in plain English
//! text, e.g. `Cannot parse "abc" to a i64`. Our own extractors
//! ([`crate::forms`]) already answer French pages; this layer catches whatever
//! still slips through, so that no visitor or program ever reads an English
//! error: pages get a French page, JSON routes a JSON error in French.

use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::error::error_page;

/// What the visitor reads, by status.
fn message(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "Envoi trop volumineux",
            "Les données envoyées dépassent la taille permise.",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "Format non pris en charge",
            "Le format des données envoyées n'est pas celui attendu (en-tête Content-Type).",
        ),
        _ => (
            "Demande invalide",
            "La demande est incomplète ou mal formée : un paramètre de l'adresse ou une donnée envoyée \
             n'a pas le format attendu.",
        ),
    }
}

/// Rewrites a plain-text 4xx answer (only the framework writes those) in French.
pub async fn layer(req: Request, next: Next) -> Response {
    let json = crate::indisponible::json_route(req.uri().path());
    let res = next.run(req).await;
    let plain = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/plain"));
    // The statuses of axum's rejections; our own plain-text answers (the
    // metrics' 401, for instance) are French already and keep their text.
    let rejection = matches!(
        res.status(),
        StatusCode::BAD_REQUEST
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::UNPROCESSABLE_ENTITY
    );
    if !rejection || !plain {
        return res;
    }
    let status = res.status();
    let (title, text) = message(status);
    tracing::info!(statut = status.as_u16(), "refus du cadriciel reformulé en français");
    if json {
        (status, Json(json!({ "erreur": { "message": text } }))).into_response()
    } else {
        error_page(status, title, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::extract::Path;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    async fn call(path: &str) -> (StatusCode, String, String) {
        let app = Router::new()
            .route("/n/{id}", get(|Path(id): Path<i64>| async move { id.to_string() }))
            .route("/api/n/{id}", get(|Path(id): Path<i64>| async move { id.to_string() }))
            .layer(axum::middleware::from_fn(layer));
        let res = app
            .oneshot(Request::builder().uri(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let ct = res
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = String::from_utf8(to_bytes(res.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
        (status, ct, body)
    }

    #[tokio::test]
    async fn english_rejections_become_french_pages_or_json() {
        let (status, ct, body) = call("/n/abc").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(ct.starts_with("text/html"), "{ct}");
        assert!(
            body.contains("Demande invalide") && !body.contains("Cannot parse"),
            "{body}"
        );

        let (status, ct, body) = call("/api/n/abc").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(ct.starts_with("application/json"), "{ct}");
        assert!(body.contains("mal formée") && !body.contains("Cannot parse"), "{body}");

        // A success in plain text is left alone.
        assert_eq!(call("/n/12").await.2, "12");
    }
}
