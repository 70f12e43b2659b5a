//! `/static/dsfr/…`: the DSFR files embedded in the binary, or those of a folder
//! when `PASSERELLE_ASSETS_DIR` names one (then served as files from disk).

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;

/// The router mounted at `/static/dsfr`.
pub fn service(dir: Option<&std::path::Path>) -> Router {
    match dir {
        Some(d) => Router::new().fallback_service(ServeDir::new(d)),
        None => Router::new().route("/{*path}", get(embedded)),
    }
}

async fn embedded(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(f) = passerelle_assets::dsfr::fichier(&path) else {
        return (StatusCode::NOT_FOUND, "fichier introuvable").into_response();
    };
    let etag = format!("\"{}\"", f.empreinte);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag));
    let content_type = if f.type_mime.starts_with("text/") || f.type_mime.ends_with("javascript") {
        format!("{}; charset=utf-8", f.type_mime)
    } else {
        f.type_mime
    };
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if matches {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    (h, f.contenu).into_response()
}
