//! `/oidc/authorize`, the aidant's side of the OpenID Connect provider: the
//! request is read strictly (`authorize::parse`) at every step, from the
//! query or from the hidden fields of the form (nothing kept in memory:
//! several instances); the aidant must be signed in, acting for his current
//! structure, with a TOTP check of less than 15 minutes. Step 1 picks the
//! usager (server-side search among those with an active mandate in his
//! structure), step 2 the démarche; the POST issues the code.

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use passerelle_core::aidants_connect::fresh::{self, FRESH_TOTP_SECS};
use passerelle_core::aidants_connect::oidc_provider::authorize::{self, Refusal, Request};
use passerelle_core::aidants_connect::oidc_provider::clients::Client;
use passerelle_core::aidants_connect::oidc_provider::reauth::{self, Decision};
use passerelle_core::aidants_connect::oidc_provider::tokens::Authn;
use passerelle_core::aidants_connect::oidc_provider::{consent, demarche_label};
use passerelle_core::CoreError;

use crate::auth::{render, CurrentUser, Visitor};
use crate::error::WebError;
use crate::templates::Layout;
use crate::AppState;

/// Usagers listed at most on step 1.
const SHOWN: i64 = 20;

#[derive(Template)]
#[template(path = "aidants_connect/oidc-usager.html")]
pub struct UsagerPage {
    pub l: Layout,
    pub service: String,
    pub hidden: Vec<(String, String)>,
    pub q: String,
    pub usagers: Vec<UsagerLink>,
    pub truncated: bool,
    pub cancel: String,
}

pub struct UsagerLink {
    pub family_name: String,
    pub given_name: String,
    pub birthdate: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "aidants_connect/oidc-demarche.html")]
pub struct DemarchePage {
    pub l: Layout,
    pub service: String,
    pub usager: String,
    pub usager_id: i64,
    pub hidden: Vec<(String, String)>,
    /// (autorisation id, démarche label)
    pub offers: Vec<(i64, String)>,
    pub back: String,
}

type Pairs = [(String, String)];

/// A request that passed every gate.
struct Gate {
    user: CurrentUser,
    request: Request,
    client: Client,
    /// The OpenID Connect parameters, to carry to the next step.
    oidc: Vec<(String, String)>,
    /// This step's own parameters (`q`, `usager`, …), first value of each.
    own: Vec<(String, String)>,
    /// When and on which session the aidant authenticated.
    authn: Authn,
}

impl Gate {
    fn own(&self, name: &str) -> Option<&str> {
        self.own.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn query(&self, extra: &[(&str, &str)]) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.extend_pairs(&self.oidc);
        s.extend_pairs(extra);
        s.finish()
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Reads the request and checks the aidant; `Err` is the response to send
/// (refusal page, redirect to the service, to the login or to the TOTP check).
async fn gate(
    state: &AppState,
    v: Visitor,
    pairs: Vec<(String, String)>,
    own_names: &[&str],
    again: impl Fn(&Pairs, &Pairs) -> String,
) -> Result<Result<Gate, Response>, WebError> {
    let (own, oidc): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(k, _)| own_names.contains(&k.as_str()));
    let (request, client) = match authorize::parse(&state.core.db, &oidc).await? {
        Ok(ok) => ok,
        Err(Refusal::Page(m)) => return Err(WebError::BadRequest(m)),
        Err(r) => {
            let Some(to) = r.location() else {
                return Err(WebError::BadRequest("adresse de retour invalide".into()));
            };
            return Ok(Err(Redirect::to(&to).into_response()));
        }
    };
    let Some(user) = v.user else {
        let next = encode(&again(&oidc, &own));
        // login_hint: the e-mail the service suggests, filled in on the sign-in page.
        let hint = request
            .login_hint
            .as_deref()
            .map(|h| format!("&courriel={}", encode(h)))
            .unwrap_or_default();
        return Ok(Err(
            Redirect::to(&format!("/connexion?suivant={next}{hint}")).into_response()
        ));
    };
    let now = state.core.db.now_micros();
    if fresh::require_fresh_totp(&user.session, FRESH_TOTP_SECS, now).is_err() {
        let next = encode(&again(&oidc, &own));
        return Ok(Err(
            Redirect::to(&format!("/connexion/totp-recent?suivant={next}")).into_response()
        ));
    }
    // max_age and prompt=login: a newer check may be needed (see reauth).
    let given = oidc.iter().find(|(k, _)| k == reauth::PARAM).map(|(_, v)| v.as_str());
    let auth_time = match reauth::decide(&state.core.keys, &user.session, &user.token, &request, given, now) {
        Decision::Fresh { auth_time } => auth_time,
        Decision::Again { marker } => {
            let mut marked: Vec<(String, String)> = oidc.into_iter().filter(|(k, _)| k != reauth::PARAM).collect();
            marked.push((reauth::PARAM.to_string(), marker));
            let next = encode(&again(&marked, &own));
            return Ok(Err(
                Redirect::to(&format!("/connexion/totp-recent?suivant={next}")).into_response()
            ));
        }
    };
    let authn = Authn {
        auth_time,
        sid: passerelle_core::accounts::session::sid(&user.token),
    };
    Ok(Ok(Gate {
        user,
        request,
        client,
        oidc,
        own,
        authn,
    }))
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The same GET page again (for the login and TOTP checks to come back to).
fn same(path: &'static str) -> impl Fn(&Pairs, &Pairs) -> String {
    move |oidc, own| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.extend_pairs(oidc);
        s.extend_pairs(own);
        format!("{path}?{}", s.finish())
    }
}

/// GET `/oidc/authorize` (the service's request, strictly) and
/// GET `/oidc/authorize/usagers?…&q=` (the search of step 1).
pub async fn start(state: State<AppState>, v: Visitor, uri: Uri) -> Result<Response, WebError> {
    usagers_step(state, v, uri, &[], "/oidc/authorize").await
}

pub async fn search(state: State<AppState>, v: Visitor, uri: Uri) -> Result<Response, WebError> {
    usagers_step(state, v, uri, &["q"], "/oidc/authorize/usagers").await
}

async fn usagers_step(
    State(state): State<AppState>,
    v: Visitor,
    uri: Uri,
    own: &[&str],
    path: &'static str,
) -> Result<Response, WebError> {
    let g = match gate(&state, v, query_pairs(&uri), own, same(path)).await? {
        Ok(g) => g,
        Err(r) => return Ok(r),
    };
    let q: String = g.own("q").unwrap_or("").trim().chars().take(100).collect();
    let found = consent::usagers(&state.core, &g.user.principal, &q, SHOWN + 1).await?;
    let truncated = found.len() as i64 > SHOWN;
    let usagers = found
        .into_iter()
        .take(SHOWN as usize)
        .map(|u| UsagerLink {
            href: format!("/oidc/authorize/demarche?{}", g.query(&[("usager", &u.id.to_string())])),
            family_name: u.family_name,
            given_name: u.given_name,
            birthdate: passerelle_core::aidants_connect::franceconnect::french_date(&u.birthdate),
        })
        .collect();
    render(
        StatusCode::OK,
        UsagerPage {
            l: g.user.layout("Choisir l'usager", "/aidants-connect/structure"),
            service: g.client.nom.clone(),
            hidden: g.oidc.clone(),
            q,
            usagers,
            truncated,
            cancel: consent::cancel(&g.request).unwrap_or_else(|| "/".into()),
        },
    )
}

fn usager_id(g: &Gate) -> Result<i64, WebError> {
    g.own("usager")
        .and_then(|u| u.parse::<i64>().ok())
        .ok_or_else(|| WebError::BadRequest("choisissez un usager".into()))
}

/// GET `/oidc/authorize/demarche?…&usager=ID`: step 2.
pub async fn demarche(State(state): State<AppState>, v: Visitor, uri: Uri) -> Result<Response, WebError> {
    let g = match gate(
        &state,
        v,
        query_pairs(&uri),
        &["usager"],
        same("/oidc/authorize/demarche"),
    )
    .await?
    {
        Ok(g) => g,
        Err(r) => return Ok(r),
    };
    let usager = usager_id(&g)?;
    let (person, offers) = consent::offers(&state.core, &g.user.principal, &g.request, &g.client, usager).await?;
    render(
        StatusCode::OK,
        DemarchePage {
            l: g.user.layout("Choisir la démarche", "/aidants-connect/structure"),
            service: g.client.nom.clone(),
            usager: format!("{} {}", person.given_name, person.family_name),
            usager_id: usager,
            hidden: g.oidc.clone(),
            offers: offers
                .into_iter()
                .map(|a| (a.id, demarche_label(&a.demarche).unwrap_or(&a.demarche).to_string()))
                .collect(),
            back: format!("/oidc/authorize/usagers?{}", g.query(&[])),
        },
    )
}

/// POST `/oidc/authorize/demarche`: issues the code (or cancels).
pub async fn choose(State(state): State<AppState>, v: Visitor, body: axum::body::Bytes) -> Result<Response, WebError> {
    if v.user.is_none() {
        return Err(WebError::Forbidden);
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let own = ["csrf_token", "usager", "autorisation", "action"];
    // Back to step 2 (a GET) after a TOTP check.
    let again = |oidc: &Pairs, own: &Pairs| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.extend_pairs(oidc);
        s.extend_pairs(own.iter().filter(|(k, _)| k == "usager"));
        format!("/oidc/authorize/demarche?{}", s.finish())
    };
    let g = match gate(&state, v, pairs, &own, again).await? {
        Ok(g) => g,
        Err(r) => return Ok(r),
    };
    if g.own("action") == Some("annuler") {
        let to =
            consent::cancel(&g.request).ok_or_else(|| WebError::BadRequest("adresse de retour invalide".into()))?;
        return Ok(Redirect::to(&to).into_response());
    }
    let usager = usager_id(&g)?;
    let autorisation = g
        .own("autorisation")
        .and_then(|a| a.parse::<i64>().ok())
        .ok_or_else(|| WebError::BadRequest("choisissez une démarche".into()))?;
    match consent::complete(
        &state.core,
        &g.user.principal,
        &g.request,
        &g.client,
        usager,
        autorisation,
        &g.authn,
    )
    .await
    {
        Ok(to) => Ok(Redirect::to(&to).into_response()),
        Err(CoreError::NotFound(_)) => Err(WebError::NotFound),
        Err(e) => Err(e.into()),
    }
}
