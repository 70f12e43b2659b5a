//! Database outages: every 503 says when to come back (`Retry-After`), and the
//! JSON routes answer JSON, never the HTML page. The 503 itself comes from the
//! errors of the domain ([`passerelle_core::CoreError::is_unavailable`]): the pool
//! gives up after its acquire timeout (`passerelle serve --delai-base`) instead
//! of letting the request hang, and recovers by itself when the database is back.

use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// What a client of the JSON routes reads during an outage.
pub const MESSAGE: &str = "Service momentanément indisponible : réessayez dans quelques instants";

/// Seconds a client should wait before trying again.
pub const RETRY_AFTER_SECS: &str = "5";

/// Routes whose clients are programs: they get JSON errors.
pub(crate) fn json_route(path: &str) -> bool {
    path.starts_with("/api/") || matches!(path, "/oidc/token" | "/oidc/userinfo" | "/oidc/jwks" | "/healthz")
}

/// The outage layer: JSON for the JSON routes, `Retry-After` on every 503.
pub async fn layer(req: Request, next: Next) -> Response {
    let json = json_route(req.uri().path());
    let mut res = next.run(req).await;
    if res.status() != StatusCode::SERVICE_UNAVAILABLE {
        return res;
    }
    let html = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    if json && html {
        res = (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "erreur": { "message": MESSAGE } })),
        )
            .into_response();
    }
    res.headers_mut()
        .entry(RETRY_AFTER)
        .or_insert(HeaderValue::from_static(RETRY_AFTER_SECS));
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::WebError;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    async fn call(path: &str) -> (StatusCode, Option<String>, String) {
        let app = Router::new()
            .route("/api/v1/x", get(|| async { WebError::Unavailable }))
            .route("/page", get(|| async { WebError::Unavailable }))
            .route("/ok", get(|| async { "bien" }))
            .layer(axum::middleware::from_fn(layer));
        let res = app
            .oneshot(axum::http::Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let retry = res.headers().get(RETRY_AFTER).map(|v| v.to_str().unwrap().to_string());
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, retry, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn an_outage_is_a_french_page_or_json_with_retry_after() {
        let (status, retry, body) = call("/page").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some(RETRY_AFTER_SECS));
        assert!(body.contains("Service momentanément indisponible") && body.contains("<html lang=\"fr\""));

        let (status, retry, body) = call("/api/v1/x").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some(RETRY_AFTER_SECS));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["erreur"]["message"], MESSAGE);

        let (status, retry, _) = call("/ok").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(retry, None);
    }
}
