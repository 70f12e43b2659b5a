//! Every CSV download in two forms, from one place: the machine form (UTF-8,
//! `,`, decimal point; what scripts read, unchanged) and, with
//! `?format=tableur` on the same address, the form French spreadsheet
//! software opens well (UTF-8 with a byte-order mark, `;`, decimal comma),
//! named `…-tableur.csv`. Handlers write the machine form only; this layer
//! converts their answer when asked ([`passerelle_core::tableur::pour_tableur`]).

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::WebError;

/// The query parameter and its value that ask for the spreadsheet form.
pub const PARAM: &str = "format";
pub const VALUE: &str = "tableur";

/// The largest CSV converted (the directory's whole export is a few MB).
const LIMIT: usize = 256 * 1024 * 1024;

/// Whether the query string asks for the spreadsheet form.
pub fn asked(query: Option<&str>) -> bool {
    query.is_some_and(|q| url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == PARAM && v == VALUE))
}

fn is_csv(res: &Response) -> bool {
    res.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/csv"))
}

/// `name.csv` → `name-tableur.csv` in a `Content-Disposition` header.
pub fn renamed(disposition: &str) -> String {
    match disposition.rfind(".csv\"") {
        Some(i) => format!("{}-{VALUE}{}", &disposition[..i], &disposition[i..]),
        None => disposition.to_string(),
    }
}

pub async fn layer(req: Request, next: Next) -> Response {
    let wanted = asked(req.uri().query());
    let res = next.run(req).await;
    if !wanted || !res.status().is_success() || !is_csv(&res) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // The directory's whole export is tens of MB: converted off the async workers.
    let converted = match axum::body::to_bytes(body, LIMIT).await {
        Ok(bytes) => tokio::task::spawn_blocking(move || passerelle_core::tableur::pour_tableur(&bytes))
            .await
            .unwrap_or_else(|e| Err(e.to_string())),
        Err(e) => Err(e.to_string()),
    };
    let out = match converted {
        Ok(out) => out,
        Err(e) => {
            return WebError::from(passerelle_core::CoreError::Io(format!(
                "conversion du fichier CSV pour tableur impossible : {e}"
            )))
            .into_response()
        }
    };
    parts.headers.remove(CONTENT_LENGTH);
    // Another body than the machine form's: its validator does not apply.
    parts.headers.remove(ETAG);
    if let Some(d) = parts.headers.get(CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()) {
        if let Ok(v) = HeaderValue::from_str(&renamed(d)) {
            parts.headers.insert(CONTENT_DISPOSITION, v);
        }
    }
    Response::from_parts(parts, Body::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parameter_and_the_name() {
        assert!(asked(Some("format=tableur")));
        assert!(asked(Some("commanditaire=3&format=tableur")));
        assert!(!asked(Some("format=machine")));
        assert!(!asked(Some("tableur")));
        assert!(!asked(None));
        assert_eq!(
            renamed("attachment; filename=\"rapport-commande-2.csv\""),
            "attachment; filename=\"rapport-commande-2-tableur.csv\""
        );
        assert_eq!(renamed("inline"), "inline");
    }
}
