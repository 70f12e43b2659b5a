//! Aidants Connect mandates: revocation (confirmation, then revoke), the
//! attestation and revocation certificate in PDF, and the public check of
//! an attestation's QR code (`/mandats/verifier/{token}`, no login, no
//! personal data).

use crate::forms::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::aidants_connect::mandats::attestation_pdf::{self, moment, verification_url};
use passerelle_core::aidants_connect::mandats::queries::{self, Mandate};
use passerelle_core::aidants_connect::mandats::{revoke, texts, Revoker, State as MandateState};
use passerelle_core::pdf::Fonts;
use passerelle_core::{ratelimit, CoreError};

use crate::aidants_connect::connexion::FreshUser;
use crate::aidants_connect::mandats::{detail_page, field};
use crate::auth::{render, ClientIp, CurrentUser, Visitor};
use crate::error::{refusal_message, WebError};
use crate::forms::{Form, Query};
use crate::templates::Layout;
use crate::AppState;

#[derive(Template)]
#[template(path = "aidants_connect/mandats-revoquer.html")]
pub struct ConfirmPage {
    pub l: Layout,
    pub id: i64,
    pub usager: String,
    /// (key, label) of the démarche; None: the whole mandate.
    pub demarche: Option<(String, String)>,
}

/// `GET /aidants-connect/mandats/{id}/revoquer[?demarche=…]`: confirmation.
pub async fn confirm(
    State(state): State<AppState>,
    FreshUser(u): FreshUser,
    Path(id): Path<i64>,
    Query(f): Query<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let m = queries::detail(&state.core, &u.principal, id).await?;
    let demarche = match field(&f, "demarche").filter(|d| !d.is_empty()) {
        Some(d) => {
            let a = m
                .autorisations
                .iter()
                .find(|a| a.demarche == d)
                .ok_or(WebError::NotFound)?;
            Some((a.demarche.clone(), a.label().to_string()))
        }
        None => None,
    };
    render(
        StatusCode::OK,
        ConfirmPage {
            l: u.layout("Révoquer", "/aidants-connect/mandats"),
            id,
            usager: m.usager.full_name(),
            demarche,
        },
    )
}

/// `POST /aidants-connect/mandats/{id}/revoquer` (field `demarche`, empty for the whole mandate).
pub async fn submit(
    State(state): State<AppState>,
    FreshUser(u): FreshUser,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let demarche = field(&f, "demarche").filter(|d| !d.is_empty());
    let revoker = Revoker::Aidant {
        who: &u.principal,
        session: &u.session,
    };
    match revoke(&state.core, revoker, id, demarche.as_deref()).await {
        Ok(r) => {
            let what = if r.whole { "mandat" } else { "demarche" };
            Ok(Redirect::to(&format!("/aidants-connect/mandats/{id}/revoque?quoi={what}")).into_response())
        }
        Err(e @ CoreError::Invalid(_)) => {
            let m = crate::error::capitalise(&refusal_message(e)?);
            detail_page(&state, &u, id, None, Some(m)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /aidants-connect/mandats/{id}/revoque`: the detail page after a revocation.
pub async fn done(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Query(f): Query<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let m = match field(&f, "quoi").as_deref() {
        Some("mandat") => "Le mandat est révoqué. Imprimez le certificat de révocation pour l'usager.",
        _ => "La démarche est révoquée. Imprimez le certificat de révocation pour l'usager.",
    };
    detail_page(&state, &u, id, Some(m.to_string()), None).await
}

fn fonts(state: &AppState) -> Result<Fonts, WebError> {
    Ok(Fonts::of(state.config.fonts_dir.as_deref())?)
}

/// The attestation of a mandate in PDF (for the aidant's and the usager's pages).
pub async fn attestation_bytes(state: &AppState, m: Mandate) -> Result<Vec<u8>, WebError> {
    let text = texts::get(&state.core.db, m.texte_version).await?;
    let url = verification_url(&state.core.keys, state.config.base_url.as_str(), m.id);
    let fonts = fonts(state)?;
    tokio::task::spawn_blocking(move || attestation_pdf::attestation(&fonts, &m, &text, &url))
        .await
        .map_err(|e| WebError::Internal(format!("attestation en PDF : {e}")))?
        .map_err(WebError::from)
}

/// The revocation certificate of a mandate in PDF (404 when nothing is revoked).
pub async fn revocation_bytes(state: &AppState, m: Mandate) -> Result<Vec<u8>, WebError> {
    let url = verification_url(&state.core.keys, state.config.base_url.as_str(), m.id);
    let fonts = fonts(state)?;
    tokio::task::spawn_blocking(move || attestation_pdf::revocation(&fonts, &m, &url))
        .await
        .map_err(|e| WebError::Internal(format!("certificat de révocation en PDF : {e}")))?
        .map_err(WebError::from)
}

/// `GET /aidants-connect/mandats/{id}/attestation.pdf`.
pub async fn attestation(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let m = queries::detail(&state.core, &u.principal, id).await?;
    let bytes = attestation_bytes(&state, m).await?;
    Ok(crate::pages::download(
        "application/pdf",
        &format!("attestation-mandat-{id}.pdf"),
        bytes,
    ))
}

/// `GET /aidants-connect/mandats/{id}/revocation.pdf`.
pub async fn revocation(
    State(state): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let m = queries::detail(&state.core, &u.principal, id).await?;
    let bytes = revocation_bytes(&state, m).await?;
    Ok(crate::pages::download(
        "application/pdf",
        &format!("revocation-mandat-{id}.pdf"),
        bytes,
    ))
}

#[derive(Template)]
#[template(path = "aidants_connect/mandats-verifier.html")]
pub struct CheckPage {
    pub l: Layout,
    pub trop: bool,
    pub check: Option<queries::PublicCheck>,
    pub conclu: String,
    pub expire: String,
    pub actif: bool,
}

const FAILURES: i64 = 30;
const WINDOW_SECS: i64 = 15 * 60;

/// `GET /mandats/verifier/{token}`: public, rate-limited on unknown tokens.
pub async fn verify(
    State(state): State<AppState>,
    v: Visitor,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let key = format!("mandat-verif-echecs-ip:{ip}");
    let l = v.layout("Vérifier une attestation de mandat", "");
    // Counted as a failure before the look-up, given back if the token is known.
    let Some(counted) = ratelimit::count_failure(&state.core.db, &[(&key, FAILURES)], WINDOW_SECS).await? else {
        let page = CheckPage {
            l,
            trop: true,
            check: None,
            conclu: String::new(),
            expire: String::new(),
            actif: false,
        };
        return render(StatusCode::TOO_MANY_REQUESTS, page);
    };
    let check = queries::public_check(&state.core, &token).await;
    match &check {
        Ok(None) => counted.keep(&state.core.db).await?,
        _ => counted.refund(&state.core.db).await?,
    }
    let check = check?;
    let status = if check.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let (conclu, expire, actif) = match &check {
        Some(c) => (
            moment(c.created_at),
            moment(c.expires_at),
            matches!(c.state, MandateState::Active | MandateState::PartlyRevoked),
        ),
        None => Default::default(),
    };
    render(
        status,
        CheckPage {
            l,
            trop: false,
            check,
            conclu,
            expire,
            actif,
        },
    )
}
