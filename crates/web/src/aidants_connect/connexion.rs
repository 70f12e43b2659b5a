//! Aidants Connect login pieces: the login link by e-mail (first factor of
//! référents and aidants), the recent-TOTP check of sensitive steps
//! (`/connexion/totp-recent?suivant=…`) and its extractor [`FreshUser`].

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::accounts::session;
use passerelle_core::accounts::{LoginOutcome, Refusal};
use passerelle_core::aidants_connect::fresh::{self, Recheck, FRESH_TOTP_SECS};
use passerelle_core::aidants_connect::magic_link;
use passerelle_core::ratelimit;
use serde::Deserialize;

use crate::auth::{
    back_to_login, codes_allowed, render, session_token, unix_now, ClientIp, CurrentUser, NeedLogin, Visitor,
};
use crate::cookies;
use crate::error::WebError;
use crate::forms::{Form, Query};
use crate::templates::Layout;
use crate::AppState;

/// The one answer to a link request, whatever the address.
const SENT: &str = "Si cette adresse correspond à un compte de référent ou d'aidant actif, un lien de connexion \
                    vient d'y être envoyé. Il est valable 15 minutes et ne sert qu'une fois.";
/// The one answer to a bad link, as for any failed login.
const UNIFORM: &str = "Les informations saisies ne permettent pas de vous identifier.";

#[derive(Template)]
#[template(path = "accounts/connexion-lien.html")]
pub struct LinkPage {
    pub l: Layout,
    pub message: Option<String>,
    pub error: Option<String>,
    /// Set on the page a link opens: the button that uses it.
    pub jeton: Option<String>,
}

fn anonymous(v: &Visitor, title: &str) -> Layout {
    Layout {
        title: title.into(),
        user: None,
        csrf: v.csrf.clone(),
        current: "/connexion",
        usager: false,
    }
}

/// GET `/connexion/lien`.
pub async fn link_page(v: Visitor) -> Result<Response, WebError> {
    let l = anonymous(&v, "Recevoir un lien de connexion");
    render(
        StatusCode::OK,
        LinkPage {
            l,
            message: None,
            error: None,
            jeton: None,
        },
    )
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    email: String,
}

/// POST `/connexion/lien`: always the same answer.
pub async fn link_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    v: Visitor,
    Form(f): Form<LinkForm>,
) -> Result<Response, WebError> {
    let email = f.email.trim().to_lowercase();
    let per_ip = ratelimit::hit(&state.core.db, &format!("lien-ip:{ip}"), 20, 3600).await?;
    let per_address = ratelimit::hit(
        &state.core.db,
        &format!("lien:{}", state.core.keys.pseudonym("courriel", &email)),
        5,
        3600,
    )
    .await?;
    if per_ip && per_address {
        magic_link::request(&state.core, &email, state.config.base_url.as_str()).await?;
    }
    let l = anonymous(&v, "Recevoir un lien de connexion");
    render(
        StatusCode::OK,
        LinkPage {
            l,
            message: Some(SENT.into()),
            error: None,
            jeton: None,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct TokenQuery {
    #[serde(default)]
    jeton: String,
}

impl TokenQuery {
    pub fn jeton_str(&self) -> &str {
        &self.jeton
    }
}

/// GET `/connexion/lien/ouvrir?jeton=…`: a page with a button, so that mail
/// scanners that follow links do not use it up.
pub async fn link_open(v: Visitor, Query(q): Query<TokenQuery>) -> Result<Response, WebError> {
    let l = anonymous(&v, "Se connecter avec le lien reçu");
    let jeton = q.jeton.chars().take(128).collect();
    render(
        StatusCode::OK,
        LinkPage {
            l,
            message: None,
            error: None,
            jeton: Some(jeton),
        },
    )
}

/// POST `/connexion/lien/ouvrir`: uses the link, then asks the TOTP code.
pub async fn link_use(
    State(state): State<AppState>,
    headers: HeaderMap,
    v: Visitor,
    ClientIp(ip): ClientIp,
    Form(f): Form<TokenQuery>,
) -> Result<Response, WebError> {
    // Guessing links is pointless (256 bits), but each failure is journaled:
    // bounded per address so that nobody fills the journal.
    if !ratelimit::hit(&state.core.db, &format!("lien-ouvrir-ip:{ip}"), 30, 3600).await? {
        let l = anonymous(&v, "Recevoir un lien de connexion");
        return render(
            StatusCode::TOO_MANY_REQUESTS,
            LinkPage {
                l,
                message: None,
                error: Some("Trop de tentatives depuis cette adresse : réessayez dans une heure.".into()),
                jeton: None,
            },
        );
    }
    if let Some(old) = session_token(&state, &headers) {
        passerelle_core::accounts::logout(&state.core, &old, None).await?;
    }
    let mut h = HeaderMap::new();
    match magic_link::consume(&state.core, &f.jeton).await? {
        LoginOutcome::NeedTotp { token } => {
            cookies::set(&mut h, &state.config, cookies::SESSION, &token, None);
            Ok((h, Redirect::to("/connexion/totp")).into_response())
        }
        LoginOutcome::NeedEnrolment { token, .. } => {
            cookies::set(&mut h, &state.config, cookies::SESSION, &token, None);
            Ok((h, Redirect::to("/connexion/activation-totp")).into_response())
        }
        _ => {
            let l = anonymous(&v, "Recevoir un lien de connexion");
            render(
                StatusCode::UNAUTHORIZED,
                LinkPage {
                    l,
                    message: None,
                    error: Some(UNIFORM.into()),
                    jeton: None,
                },
            )
        }
    }
}

/// A local path to go back to after the check (never another site).
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= 2048
        && !next.chars().any(char::is_control);
    if ok {
        next.to_string()
    } else {
        "/mon-compte".into()
    }
}

/// A signed-in user whose last TOTP check is less than 15 minutes old; the
/// others are sent to `/connexion/totp-recent` and brought back.
pub struct FreshUser(pub CurrentUser);

impl FromRequestParts<AppState> for FreshUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let u = CurrentUser::from_request_parts(parts, state)
            .await
            .map_err(NeedLogin::into_response)?;
        if fresh::require_fresh_totp(&u.session, FRESH_TOTP_SECS, state.core.db.now_micros()).is_ok() {
            return Ok(FreshUser(u));
        }
        let back = if parts.method == Method::GET {
            parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default()
        } else {
            parts
                .headers
                .get("referer")
                .and_then(|r| r.to_str().ok())
                .and_then(|r| url::Url::parse(r).ok())
                .filter(|r| r.origin() == state.config.base_url.origin())
                .map(|r| r.path().to_string())
                .unwrap_or_default()
        };
        let next: String = url::form_urlencoded::byte_serialize(safe_next(&back).as_bytes()).collect();
        Err(Redirect::to(&format!("/connexion/totp-recent?suivant={next}")).into_response())
    }
}

#[derive(Template)]
#[template(path = "accounts/totp-recent.html")]
pub struct RecentPage {
    pub l: Layout,
    pub error: Option<String>,
    pub message: Option<String>,
    pub suivant: String,
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    suivant: String,
}

/// GET `/connexion/totp-recent?suivant=…`.
pub async fn recent_page(
    State(state): State<AppState>,
    u: CurrentUser,
    Query(q): Query<NextQuery>,
) -> Result<Response, WebError> {
    let last = u
        .session
        .totp_verified_at
        .filter(|_| session::totp_is_fresh(&u.session, FRESH_TOTP_SECS, state.core.db.now_micros()));
    render(
        StatusCode::OK,
        RecentPage {
            l: u.layout("Confirmer avec votre code", "/mon-compte"),
            error: None,
            message: last.map(|_| "Votre dernier code date de moins de 15 minutes.".to_string()),
            suivant: safe_next(&q.suivant),
        },
    )
}

#[derive(Deserialize)]
pub struct RecentForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    suivant: String,
}

/// POST `/connexion/totp-recent`.
pub async fn recent_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    u: CurrentUser,
    Form(f): Form<RecentForm>,
) -> Result<Response, WebError> {
    let next = safe_next(&f.suivant);
    if !codes_allowed(&state, &ip).await? {
        return back_to_login(&state, u.csrf, Refusal::Locked(crate::auth::LOGIN_WINDOW_SECS));
    }
    match fresh::recheck(&state.core, &u.token, &f.code, unix_now(&state)).await? {
        Recheck::Accepted => Ok(Redirect::to(&next).into_response()),
        Recheck::Wrong => render(
            StatusCode::UNAUTHORIZED,
            RecentPage {
                l: u.layout("Confirmer avec votre code", "/mon-compte"),
                error: Some("Code incorrect ou déjà utilisé. Attendez le code suivant et réessayez.".into()),
                message: None,
                suivant: next,
            },
        ),
        Recheck::Locked(secs) => back_to_login(&state, u.csrf, Refusal::Locked(secs)),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(
            safe_next("/aidants-connect/referent?x=1"),
            "/aidants-connect/referent?x=1"
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil",
            "",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(bad), "/mon-compte", "{bad}");
        }
    }
}
