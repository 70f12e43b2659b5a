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
