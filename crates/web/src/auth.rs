//! Who is asking: session extractors, login (password, TOTP, forced enrolment) and logout.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use passerelle_core::accounts::session::{self, Stage};
use passerelle_core::accounts::{self, Account, LoginOutcome, Principal, Refusal, Role};
use passerelle_core::aidants_connect::aidants;
use passerelle_core::ratelimit;
use serde::Deserialize;

use crate::cookies;
use crate::error::WebError;
use crate::forms::Form;
use crate::security::CsrfToken;
use crate::templates::{EnrolPage, Layout, LoginPage, NavUser, TotpPage};
use crate::AppState;

/// Logins allowed per client address in [`LOGIN_WINDOW_SECS`], on top of the per-account lockout.
pub(crate) const LOGIN_PER_IP: i64 = 60;
pub(crate) const LOGIN_WINDOW_SECS: i64 = 600;

pub(crate) fn csrf_of(parts: &Parts) -> String {
    parts
        .extensions
        .get::<CsrfToken>()
        .map(|t| t.0.clone())
        .unwrap_or_default()
}

pub(crate) fn session_token(state: &AppState, headers: &HeaderMap) -> Option<String> {
    cookies::get(headers, &cookies::name(&state.config, cookies::SESSION))
}

/// A fully signed-in account. Pages that need one redirect to the login page otherwise.
pub struct CurrentUser {
    /// For an aidant, `organisation_id` is his current structure (chosen on the session).
    pub principal: Principal,
    pub account: Account,
    pub token: String,
    pub csrf: String,
    pub session: session::Session,
    /// For an aidant, the structure he acts for (None for other roles).
    pub structure: Option<aidants::Current>,
}

impl CurrentUser {
    pub fn layout(&self, title: &str, current: &'static str) -> Layout {
        Layout {
            title: title.to_string(),
            user: Some(NavUser {
                name: self.account.display_name.clone(),
                role_label: self.account.role_label(),
                is_operator: self.principal.role == Role::Operateur,
                is_place: self.principal.role == Role::Lieu,
                sees_orders: matches!(self.principal.role, Role::Operateur | Role::Commanditaire),
                is_prescriber: self.principal.role == Role::Prescripteur,
                is_hub: self.principal.role == Role::Hub,
                is_referent: self.principal.role == Role::Referent,
                is_aidant: self.principal.role == Role::Aidant,
                structure: match &self.structure {
                    Some(aidants::Current::Acting { name, .. }) => Some(name.clone()),
                    Some(aidants::Current::MustChoose) => Some("à choisir".into()),
                    Some(aidants::Current::NoStructure) => Some("aucune active".into()),
                    None => None,
                },
            }),
            csrf: self.csrf.clone(),
            current,
            usager: false,
        }
    }
}

async fn current_user(parts: &Parts, state: &AppState) -> Result<Option<CurrentUser>, WebError> {
    let Some(token) = session_token(state, &parts.headers) else {
        return Ok(None);
    };
    let Some(s) = session::load(&state.core.db, &token).await? else {
        return Ok(None);
    };
    if s.stage != Stage::Active {
        return Ok(None);
    }
    let Some((mut principal, account)) = accounts::principal(&state.core, s.account_id).await? else {
        return Ok(None);
    };
    let mut structure = None;
    if principal.role == Role::Aidant {
        let current = aidants::current_structure(&state.core, &token, s.account_id, s.structure_id).await?;
        // Without any active structure, acting checks fail on the membership anyway.
        if current != aidants::Current::NoStructure {
            principal.organisation_id = current.id();
        }
        structure = Some(current);
    }
    Ok(Some(CurrentUser {
        principal,
        account,
        token,
        csrf: csrf_of(parts),
        session: s,
        structure,
    }))
}

/// Rejection of [`CurrentUser`]: to the login page for a page view, 401 otherwise.
pub enum NeedLogin {
    Redirect,
    /// Elsewhere first (an aidant must choose his structure).
    To(String),
    Error(WebError),
}

impl IntoResponse for NeedLogin {
    fn into_response(self) -> Response {
        match self {
            NeedLogin::Redirect => Redirect::to("/connexion").into_response(),
            NeedLogin::To(path) => Redirect::to(&path).into_response(),
            NeedLogin::Error(e) => e.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = NeedLogin;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match current_user(parts, state).await {
            Ok(Some(u)) => match crate::aidants_connect::structure::must_choose(&u, parts) {
                Some(elsewhere) => Err(elsewhere),
                None => Ok(u),
            },
            Ok(None) if parts.method == axum::http::Method::GET => Err(NeedLogin::Redirect),
            Ok(None) => Err(NeedLogin::Error(WebError::Forbidden)),
            Err(e) => Err(NeedLogin::Error(e)),
        }
    }
}

/// The visitor, signed in or not (for public pages).
pub struct Visitor {
    pub user: Option<CurrentUser>,
    pub csrf: String,
}

impl Visitor {
    pub fn layout(&self, title: &str, current: &'static str) -> Layout {
        match &self.user {
            Some(u) => u.layout(title, current),
            None => Layout {
                title: title.to_string(),
                user: None,
                csrf: self.csrf.clone(),
                current,
                usager: false,
            },
        }
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Visitor {
            user: current_user(parts, state).await?,
            csrf: csrf_of(parts),
        })
    }
}

/// A session between password and second factor, at a given stage.
pub struct Pending {
    pub token: String,
    pub account_id: i64,
    pub stage: Stage,
    pub csrf: String,
}

impl FromRequestParts<AppState> for Pending {
    type Rejection = Redirect;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = session_token(state, &parts.headers).ok_or(Redirect::to("/connexion"))?;
        match session::load(&state.core.db, &token).await {
            Ok(Some(s)) if s.stage != Stage::Active => Ok(Pending {
                token,
                account_id: s.account_id,
                stage: s.stage,
                csrf: csrf_of(parts),
            }),
            _ => Err(Redirect::to("/connexion")),
        }
    }
}

/// The client's address, for rate limits: the TCP peer, or — behind a trusted
/// reverse proxy (`PASSERELLE_TRUST_PROXY`) — the last address that proxy
/// appended to `X-Forwarded-For`. IPv6 clients are counted per /64.
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .next_back()
            .map(str::to_string);
        Ok(ClientIp(client_key(
            peer,
            forwarded.as_deref(),
            state.config.trust_proxy,
        )))
    }
}

pub fn client_key(peer: Option<std::net::IpAddr>, forwarded_for: Option<&str>, trust_proxy: bool) -> String {
    let from_proxy = forwarded_for
        .filter(|_| trust_proxy)
        .and_then(|h| h.rsplit(',').next())
        .and_then(|last| last.trim().parse::<std::net::IpAddr>().ok());
    match from_proxy.or(peer) {
        Some(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(std::net::IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_default(),
        Some(ip) => ip.to_string(),
        None => "inconnue".into(),
    }
}

#[cfg(test)]
mod client_key_tests {
    use super::client_key;

    #[test]
    fn forwarded_for_is_trusted_only_when_configured_and_ipv6_counts_per_64() {
        let peer = Some("10.0.0.2".parse().unwrap());
        assert_eq!(client_key(peer, Some("1.2.3.4, 5.6.7.8"), false), "10.0.0.2");
        assert_eq!(client_key(peer, Some("1.2.3.4, 5.6.7.8"), true), "5.6.7.8");
        assert_eq!(client_key(peer, Some("pas une adresse"), true), "10.0.0.2");
        assert_eq!(
            client_key(Some("2001:db8:1:2:3:4:5:6".parse().unwrap()), None, false),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            client_key(Some("::ffff:1.2.3.4".parse().unwrap()), None, false),
            "1.2.3.4"
        );
        assert_eq!(client_key(None, None, true), "inconnue");
    }
}

pub(crate) fn render(status: StatusCode, page: impl Template) -> Result<Response, WebError> {
    Ok((status, Html(page.render()?)).into_response())
}

const GENERIC_REFUSAL: &str = "Adresse électronique ou mot de passe incorrect.";

pub(crate) fn refusal_message(r: Refusal) -> String {
    match r {
        Refusal::Invalid => GENERIC_REFUSAL.into(),
        Refusal::Locked(secs) => accounts::throttle::lock_message(secs),
        Refusal::Expired => "Votre connexion a expiré. Recommencez en saisissant votre mot de passe.".into(),
    }
}

pub(crate) fn refusal_status(r: Refusal) -> StatusCode {
    match r {
        Refusal::Locked(_) => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::UNAUTHORIZED,
    }
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    suivant: String,
    /// The e-mail to fill in (a service's `login_hint`, through `/oidc/authorize`).
    #[serde(default)]
    courriel: String,
}

/// GET `/connexion[?suivant=/chemin]`: the page to come back to after signing
/// in (a local path) is kept 15 minutes in a cookie, whichever way the person
/// signs in (password or link by e-mail).
pub async fn login_page(
    State(state): State<AppState>,
    v: Visitor,
    crate::forms::Query(q): crate::forms::Query<LoginQuery>,
) -> Result<Response, WebError> {
    let next = (!q.suivant.is_empty()).then(|| crate::aidants_connect::connexion::safe_next(&q.suivant));
    if let Some(u) = &v.user {
        return Ok(Redirect::to(next.as_deref().unwrap_or(home_of(u.principal.role))).into_response());
    }
    let page = render(
        StatusCode::OK,
        LoginPage {
            l: v.layout("Connexion", "/connexion"),
            error: None,
            info: None,
            email: q.courriel.trim().chars().take(254).collect(),
            proconnect: state.proconnect.is_some(),
        },
    )?;
    let mut h = HeaderMap::new();
    if let Some(n) = next {
        cookies::set_next(&mut h, &state.config, &n);
    }
    Ok((h, page).into_response())
}

/// The page of a role's daily work, where its sign-in leads: the place's counter, the
/// prescriber's booklets to hand out, the funder's orders, the hub's territory, the référent's
/// aidants, the aidant's mandates, the opérateur's queues.
pub fn home_of(role: Role) -> &'static str {
    match role {
        Role::Operateur => "/operateur",
        Role::Commanditaire => "/commandes",
        Role::Prescripteur => "/remettre",
        Role::Lieu => "/encaisser",
        Role::Hub => "/hub/territoire",
        Role::Referent => "/aidants-connect/referent",
        Role::Aidant => "/aidants-connect/mandats",
    }
}

/// Where a completed sign-in goes: the kept page if any (then forgotten), else the page of the
/// account's work (« Mon compte » if the account is gone meanwhile).
async fn after_sign_in(
    state: &AppState,
    request: &HeaderMap,
    h: &mut HeaderMap,
    account_id: i64,
) -> Result<String, WebError> {
    Ok(match cookies::next_path(request, &state.config) {
        Some(n) => {
            cookies::clear(h, &state.config, cookies::NEXT);
            crate::aidants_connect::connexion::safe_next(&n)
        }
        None => match accounts::principal(&state.core, account_id).await? {
            Some((p, _)) => home_of(p.role).to_string(),
            None => "/mon-compte".into(),
        },
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    mot_de_passe: String,
}

/// Sets the session cookie of a new session and a fresh CSRF token (rotation at login).
pub(crate) fn signed_in_headers(state: &AppState, token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    cookies::set(&mut h, &state.config, cookies::SESSION, token, None);
    let mut b = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    let csrf = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b);
    cookies::set(&mut h, &state.config, cookies::CSRF, &csrf, None);
    h
}

pub async fn login_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    v: Visitor,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    let page = |status: StatusCode, error: String| {
        render(
            status,
            LoginPage {
                l: v.layout("Connexion", "/connexion"),
                error: Some(error),
                info: None,
                email: f.email.trim().chars().take(254).collect(),
                proconnect: state.proconnect.is_some(),
            },
        )
    };
    if f.email.trim().is_empty() || f.mot_de_passe.is_empty() {
        return page(
            StatusCode::BAD_REQUEST,
            "Saisissez votre adresse électronique et votre mot de passe.".into(),
        );
    }
    if !ratelimit::hit(
        &state.core.db,
        &format!("connexion-ip:{ip}"),
        LOGIN_PER_IP,
        LOGIN_WINDOW_SECS,
    )
    .await?
    {
        return page(
            StatusCode::TOO_MANY_REQUESTS,
            "Trop de tentatives de connexion depuis votre réseau. Réessayez dans quelques minutes.".into(),
        );
    }
    // Any previous session of this browser ends here: the new one gets a new token.
    if let Some(old) = session_token(&state, &headers) {
        accounts::logout(&state.core, &old, None).await?;
    }
    let outcome = accounts::login_password(&state.core, &f.email, &f.mot_de_passe).await?;
    match after_login(&state, &headers, outcome).await? {
        Ok(r) => Ok(r),
        Err(r) => page(refusal_status(r), refusal_message(r)),
    }
}

/// Where a login step leads (session cookie set): the page after sign-in,
/// the TOTP code, or the enrolment of a second factor; `Err`: the refusal.
/// Shared by the password and ProConnect logins.
pub(crate) async fn after_login(
    state: &AppState,
    headers: &HeaderMap,
    outcome: LoginOutcome,
) -> Result<Result<Response, Refusal>, WebError> {
    Ok(Ok(match outcome {
        LoginOutcome::SignedIn { token, account_id } => {
            let mut h = signed_in_headers(state, &token);
            let to = after_sign_in(state, headers, &mut h, account_id).await?;
            (h, Redirect::to(&to)).into_response()
        }
        LoginOutcome::NeedTotp { token } => {
            let mut h = HeaderMap::new();
            cookies::set(&mut h, &state.config, cookies::SESSION, &token, None);
            (h, Redirect::to("/connexion/totp")).into_response()
        }
        LoginOutcome::NeedEnrolment { token, .. } => {
            let mut h = HeaderMap::new();
            cookies::set(&mut h, &state.config, cookies::SESSION, &token, None);
            (h, Redirect::to("/connexion/activation-totp")).into_response()
        }
        LoginOutcome::Refused(r) => return Ok(Err(r)),
    }))
}

pub async fn totp_page(p: Pending) -> Result<Response, WebError> {
    if p.stage != Stage::Totp {
        return Ok(Redirect::to("/connexion").into_response());
    }
    let l = Layout {
        title: "Double authentification".into(),
        user: None,
        csrf: p.csrf,
        current: "/connexion",
        usager: false,
    };
    render(StatusCode::OK, TotpPage { l, error: None })
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// Now in seconds since the epoch, from the deployment's clock (for TOTP codes).
pub(crate) fn unix_now(state: &AppState) -> u64 {
    u64::try_from(state.core.db.horloge().now().as_second()).unwrap_or(0)
}

/// The login page again after a refusal that ends the pending session.
pub(crate) fn back_to_login(state: &AppState, csrf: String, r: Refusal) -> Result<Response, WebError> {
    let (h, page) = login_page_without_session(state, csrf, Some(refusal_message(r)), None)?;
    Ok((refusal_status(r), h, page).into_response())
}

/// The login page, with the headers that clear the session cookie (after a
/// refusal, or a logout).
pub(crate) fn login_page_without_session(
    state: &AppState,
    csrf: String,
    error: Option<String>,
    info: Option<String>,
) -> Result<(HeaderMap, Html<String>), WebError> {
    let mut h = HeaderMap::new();
    cookies::clear(&mut h, &state.config, cookies::SESSION);
    let page = LoginPage {
        l: Layout {
            title: "Connexion".into(),
            user: None,
            csrf,
            current: "/connexion",
            usager: false,
        },
        error,
        info,
        email: String::new(),
        proconnect: state.proconnect.is_some(),
    };
    Ok((h, Html(page.render()?)))
}

/// Second-factor codes allowed per client address in [`LOGIN_WINDOW_SECS`].
const CODES_PER_IP: i64 = 60;

/// Counts a second-factor code from `ip`; false once over the limit.
pub(crate) async fn codes_allowed(state: &AppState, ip: &str) -> Result<bool, WebError> {
    Ok(ratelimit::hit(
        &state.core.db,
        &format!("code-ip:{ip}"),
        CODES_PER_IP,
        LOGIN_WINDOW_SECS,
    )
    .await?)
}

pub async fn totp_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: HeaderMap,
    p: Pending,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    if p.stage != Stage::Totp {
        return Ok(Redirect::to("/connexion").into_response());
    }
    if !codes_allowed(&state, &ip).await? {
        return back_to_login(&state, p.csrf, Refusal::Locked(LOGIN_WINDOW_SECS));
    }
    match accounts::login_totp(&state.core, &p.token, &f.code, unix_now(&state)).await? {
        LoginOutcome::SignedIn { token, account_id } => {
            let mut h = signed_in_headers(&state, &token);
            let to = after_sign_in(&state, &request, &mut h, account_id).await?;
            Ok((h, Redirect::to(&to)).into_response())
        }
        LoginOutcome::Refused(Refusal::Invalid) => {
            let l = Layout {
                title: "Double authentification".into(),
                user: None,
                csrf: p.csrf,
                current: "/connexion",
                usager: false,
            };
            render(
                StatusCode::UNAUTHORIZED,
                TotpPage {
                    l,
                    error: Some("Code incorrect ou déjà utilisé. Attendez le code suivant et réessayez.".into()),
                },
            )
        }
        LoginOutcome::Refused(r) => back_to_login(&state, p.csrf, r),
        _ => Ok(Redirect::to("/connexion").into_response()),
    }
}

/// Groups a base32 secret by four characters for reading aloud or typing.
pub fn group_secret(s: &str) -> String {
    s.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn enrol_view(
    state: &AppState,
    p: &Pending,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let e = accounts::start_totp_enrolment(&state.core, p.account_id, error.is_none()).await?;
    let l = Layout {
        title: "Activer la double authentification".into(),
        user: None,
        csrf: p.csrf.clone(),
        current: "/connexion",
        usager: false,
    };
    render(
        status,
        EnrolPage {
            l,
            error,
            action: "/connexion/activation-totp",
            at_login: true,
            ask_password: false,
            qr_png_base64: e.qr_png_base64,
            secret_grouped: group_secret(&e.secret),
        },
    )
}

pub async fn enrol_page(State(state): State<AppState>, p: Pending) -> Result<Response, WebError> {
    if p.stage != Stage::Enrol {
        return Ok(Redirect::to("/connexion").into_response());
    }
    enrol_view(&state, &p, None, StatusCode::OK).await
}

pub async fn enrol_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    p: Pending,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    if p.stage != Stage::Enrol {
        return Ok(Redirect::to("/connexion").into_response());
    }
    if !codes_allowed(&state, &ip).await? {
        return back_to_login(&state, p.csrf, Refusal::Locked(LOGIN_WINDOW_SECS));
    }
    match accounts::finish_enrolment(&state.core, &p.token, &f.code, unix_now(&state)).await? {
        LoginOutcome::SignedIn { token, .. } => {
            Ok((signed_in_headers(&state, &token), Redirect::to("/mon-compte?ok=totp")).into_response())
        }
        LoginOutcome::Refused(Refusal::Invalid) => {
            enrol_view(
                &state,
                &p,
                Some("Code incorrect. Vérifiez l'heure de votre téléphone et saisissez le code affiché.".into()),
                StatusCode::UNAUTHORIZED,
            )
            .await
        }
        LoginOutcome::Refused(r) => back_to_login(&state, p.csrf, r),
        _ => Ok(Redirect::to("/connexion").into_response()),
    }
}
