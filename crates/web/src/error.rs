//! Errors of the web layer and their pages. Nothing internal reaches the user:
//! causes are logged (with the request id), the page says what to do in French.

use std::any::Any;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use passerelle_core::CoreError;

use crate::templates::{ErrorPage, Layout};

#[derive(Debug)]
pub enum WebError {
    NotFound,
    MethodNotAllowed,
    Forbidden,
    BadRequest(String),
    CsrfRefused,
    PayloadTooLarge,
    /// Too many failed attempts (429); the message says how long to wait.
    TooManyAttempts(String),
    Unavailable,
    Internal(String),
}

impl From<CoreError> for WebError {
    fn from(e: CoreError) -> Self {
        if let CoreError::Busy = e {
            tracing::warn!("calculs Argon2 saturés : 503");
            return WebError::Unavailable;
        }
        if let CoreError::Locked(_) = e {
            return WebError::TooManyAttempts(e.to_string());
        }
        if e.is_unavailable() {
            tracing::error!(erreur = %e, "base de données indisponible");
            return WebError::Unavailable;
        }
        match e {
            CoreError::Invalid(m) | CoreError::Conflict(m) => WebError::BadRequest(m),
            CoreError::NotFound(_) => WebError::NotFound,
            CoreError::Forbidden => WebError::Forbidden,
            CoreError::Unavailable(m) => {
                tracing::error!(erreur = %m, "base de données indisponible");
                WebError::Unavailable
            }
            CoreError::Database(e) => {
                tracing::error!(erreur = %e, "erreur de base de données");
                WebError::Internal("base de données".into())
            }
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(format!("gabarit : {e}"))
    }
}

/// A refusal of the domain (bad input, conflict, unknown thing) becomes a French
/// message to show on the page that was used; anything else stays an error.
pub(crate) fn refusal_message(e: CoreError) -> Result<String, WebError> {
    match e {
        CoreError::Invalid(m) | CoreError::Conflict(m) => Ok(capitalise(&m)),
        // The domain names what it did not find (« carnet n° 999 »): say that it is not there.
        CoreError::NotFound(m) => Ok(format!("Introuvable : {m}.")),
        other => Err(other.into()),
    }
}

impl WebError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page non trouvée",
                "La page que vous cherchez est introuvable. Vérifiez l'adresse saisie, ou revenez à l'accueil.".into(),
            ),
            WebError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "Action impossible",
                "Cette adresse n'accepte pas ce type de requête.".into(),
            ),
            WebError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Accès refusé",
                "Votre compte ne permet pas d'accéder à cette page. Si vous pensez que c'est une erreur, contactez l'opérateur.".into(),
            ),
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Demande invalide", capitalise(m)),
            WebError::CsrfRefused => (
                StatusCode::FORBIDDEN,
                "Formulaire expiré",
                "Ce formulaire n'a pas pu être vérifié (il a peut-être expiré, ou vient d'un autre site). Rechargez la page et recommencez.".into(),
            ),
            WebError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Envoi trop volumineux",
                "Les données envoyées dépassent la taille autorisée.".into(),
            ),
            WebError::TooManyAttempts(m) => (StatusCode::TOO_MANY_REQUESTS, "Trop de tentatives", m.clone()),
            WebError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Service momentanément indisponible",
                "Le service ne peut pas répondre pour le moment. Réessayez dans quelques instants.".into(),
            ),
            WebError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Erreur inattendue",
                "Une erreur est survenue de notre côté. L'équipe technique est prévenue ; réessayez dans quelques instants.".into(),
            ),
        }
    }
}

/// A domain message (lower-case start) as a sentence.
pub(crate) fn capitalise(m: &str) -> String {
    let mut c = m.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if let WebError::Internal(cause) = &self {
            tracing::error!(cause = %cause, "erreur interne");
        }
        let (status, title, message) = self.parts();
        error_page(status, title, &message)
    }
}

pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let page = ErrorPage {
        l: Layout::anonymous(title),
        status: status.as_u16(),
        title: title.to_string(),
        message: message.to_string(),
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, message.to_string()).into_response(),
    }
}

/// The 500 page after a panic in a handler (the panic itself is logged, not shown).
pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("panique");
    tracing::error!(panique = %detail, "panique dans un traitement");
    WebError::Internal("panique".into()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_a_french_500_page_without_details() {
        let res = panic_response(Box::new("secret interne : jeton=abc"));
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("Erreur inattendue") && body.contains("<html lang=\"fr\""));
        assert!(!body.contains("jeton=abc"));
    }

    #[tokio::test]
    async fn database_outages_are_503() {
        let res = WebError::from(CoreError::Database(sqlx::Error::PoolTimedOut)).into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
