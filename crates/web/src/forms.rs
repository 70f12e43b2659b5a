//! A form extractor whose refusals are French pages, not plain-text errors.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::WebError;

pub struct Form<T>(pub T);

impl<S, T> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(Form(v)),
            Err(e) => {
                tracing::info!(raison = %e.body_text(), "formulaire refusé");
                Err(WebError::BadRequest(
                    "le formulaire envoyé est incomplet ou mal formé ; rechargez la page et recommencez".into(),
                ))
            }
        }
    }
}

/// A query-string extractor whose refusals are French pages.
pub struct Query<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(_) => Err(WebError::BadRequest("paramètres d'adresse invalides".into())),
        }
    }
}

/// A path-parameter extractor whose refusals are French pages (axum's own
/// answer is English text such as `Cannot parse "abc" to a i64`).
pub struct Path<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(e) => {
                tracing::info!(raison = %e.body_text(), "adresse refusée");
                Err(WebError::BadRequest(
                    "adresse invalide : un élément de l'adresse n'a pas le format attendu (un numéro, par exemple) ; \
                     vérifiez le lien ou revenez à la page précédente"
                        .into(),
                ))
            }
        }
    }
}
