//! The **demonstration online service** ("Mairie numérique de Lormont",
//! fictitious): a relying party of Passerelle's own OpenID Connect provider,
//! mounted only in demonstration mode, so that a new user can see an aidant
//! log in to a public service "as" an usager. It talks to the provider over
//! HTTP, like any registered service: discovery, code flow with PKCE S256,
//! the ES256 ID token checked against the JWKS, then userinfo.
//!
//! It can also log in « with FranceConnect » ([`Via::FranceConnect`]): then
//! it is an online service of the FranceConnect simulator, which sends the
//! aidant on to Aidants Connect as FranceConnect's identity provider and
//! answers with the usager's identity (FranceConnect's own `sub`, signed
//! userinfo; `client_secret_post`, no PKCE, as FranceConnect's services).
//!
//! It keeps nothing in memory nor in the database: the browser carries a
//! random value in a cookie, and `state`, `nonce` and the PKCE verifier are
//! derived from it with a key of the deployment secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use jsonwebtoken::jwk::JwkSet;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::clients;
use crate::aidants_connect::franceconnect::verify::decode_signed;
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, Actor, NewEntry};
use crate::keys::Keys;
use crate::{on_tx, Core};

pub const CLIENT_ID: &str = "service-demo";
pub const NAME: &str = "Mairie numérique de Lormont (service de démonstration)";
/// The démarches this fictitious service accepts.
pub const DEMARCHES: [&str; 3] = ["social", "logement", "papiers"];

fn derive(keys: &Keys, what: &str, browser: &str) -> String {
    let key = keys.subkey("oidc-service-demo");
    let mut m =
        <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(what.as_bytes());
    m.update(b"\0");
    m.update(browser.as_bytes());
    URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
}

/// The service's client secret (derived, so it is never stored in clear).
fn secret(keys: &Keys) -> String {
    derive(keys, "secret", "")
}

fn redirect_uri(base: &str) -> String {
    format!("{base}/service-demo/retour")
}

fn post_logout_uri(base: &str) -> String {
    format!("{base}/service-demo")
}

/// Registers the service with the provider if it is not yet (demonstration
/// data). `base`: the public URL, without a trailing slash.
pub async fn register(core: &Core, base: &str) -> Result<()> {
    if clients::find(&core.db, CLIENT_ID).await?.is_some() {
        return Ok(());
    }
    let demarches: Vec<String> = DEMARCHES.iter().map(|d| d.to_string()).collect();
    let redirect = clients::check_uri(&redirect_uri(base))?;
    let logout = clients::check_uri(&post_logout_uri(base))?;
    let mut tx = core.db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query(
            "INSERT INTO oidc_clients (client_id, nom, secret_empreinte, redirect_uris, post_logout_uris, demarches, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(CLIENT_ID).bind(NAME).bind(Sha256::digest(secret(&core.keys).as_bytes()).to_vec())
        .bind(json!([redirect]).to_string())
        .bind(json!([logout]).to_string())
        .bind(json!(demarches).to_string())
        .bind(tx.horloge.now_micros())
        .execute(&mut *c).await?;
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(Actor::System, actions::OIDC_CLIENT_CREATED).details(
            json!({ "client_id": CLIENT_ID, "nom": NAME, "redirect_uris": [redirect], "demonstration": true }),
        ),
    )
    .await?;
    tx.commit().await
}

/// A new random value for the browser's cookie.
pub fn new_browser_value() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Which provider the service logs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Passerelle's provider, directly (a registered service).
    AidantsConnect,
    /// The FranceConnect simulator, which federates Aidants Connect.
    FranceConnect,
}

/// The relying party's settings for `via`.
struct Rp {
    issuer: String,
    client_id: &'static str,
    secret: String,
    redirect_uri: String,
}

fn rp(keys: &Keys, base: &str, via: Via) -> Rp {
    use crate::aidants_connect::franceconnect::{config, federation};
    match via {
        Via::AidantsConnect => Rp {
            issuer: base.to_string(),
            client_id: CLIENT_ID,
            secret: secret(keys),
            redirect_uri: redirect_uri(base),
        },
        Via::FranceConnect => Rp {
            issuer: format!("{base}{}", config::SIMULATEUR_PATH),
            client_id: federation::FS_CLIENT_ID,
            secret: federation::fs_secret(keys),
            redirect_uri: format!("{base}{}", federation::FS_CALLBACK_PATH),
        },
    }
}

/// The authorisation request the service sends the browser to.
pub fn authorization_url(keys: &Keys, base: &str, browser: &str, via: Via) -> String {
    let rp = rp(keys, base, via);
    let mut url = match url::Url::parse(&format!(
        "{}/{}",
        rp.issuer,
        if via == Via::AidantsConnect {
            "oidc/authorize"
        } else {
            "authorize"
        }
    )) {
        Ok(u) => u,
        Err(_) => return "/".into(),
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", rp.client_id)
            .append_pair("redirect_uri", &rp.redirect_uri)
            .append_pair("scope", "openid profile birth email")
            .append_pair("state", &derive(keys, "state", browser))
            .append_pair("nonce", &derive(keys, "nonce", browser))
            .append_pair("acr_values", "eidas1");
        if via == Via::AidantsConnect {
            let verifier = derive(keys, "pkce", browser);
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            q.append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
        }
    }
    url.into()
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    id_token: String,
}

/// What the service learnt: the ID token's and userinfo's claims.
pub struct LoggedIn {
    pub id_claims: Value,
    pub userinfo: Value,
    pub id_token: String,
}

async fn json<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Option<T> {
    let bytes = resp.bytes().await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn failed(what: &str) -> CoreError {
    CoreError::invalid(format!("connexion au service de démonstration impossible : {what}"))
}

/// The callback: `state` checked against the browser's value, the code
/// exchanged (Aidants Connect: client_secret_basic and the PKCE verifier;
/// FranceConnect: client_secret_post), the ID token's signature, `iss`,
/// `aud`, `exp` and `nonce` checked, then userinfo read (a JWT from
/// FranceConnect, checked like the ID token).
pub async fn finish(keys: &Keys, base: &str, browser: &str, code: &str, state: &str, via: Via) -> Result<LoggedIn> {
    if browser.is_empty() || state != derive(keys, "state", browser) {
        return Err(failed("la réponse ne correspond pas à une demande de ce navigateur"));
    }
    let rp = rp(keys, base, via);
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|_| failed("client HTTP"))?;
    let md = http
        .get(format!("{}/.well-known/openid-configuration", rp.issuer))
        .send()
        .await
        .map_err(|_| failed("découverte injoignable"))?;
    let md: Discovery = json(md).await.ok_or_else(|| failed("découverte illisible"))?;
    let request = http.post(&md.token_endpoint);
    let resp = match via {
        Via::AidantsConnect => request.basic_auth(rp.client_id, Some(&rp.secret)).form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &rp.redirect_uri),
            ("code_verifier", &derive(keys, "pkce", browser)),
        ]),
        Via::FranceConnect => request.form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &rp.redirect_uri),
            ("client_id", rp.client_id),
            ("client_secret", &rp.secret),
        ]),
    }
    .send()
    .await
    .map_err(|_| failed("point de jeton injoignable"))?;
    if !resp.status().is_success() {
        let body: Value = json(resp).await.unwrap_or(Value::Null);
        let err = body["error"].as_str().unwrap_or("erreur inconnue").to_string();
        return Err(failed(&format!("code refusé ({err})")));
    }
    let tokens: TokenResponse = json(resp).await.ok_or_else(|| failed("réponse de jeton illisible"))?;
    let jwks = http
        .get(&md.jwks_uri)
        .send()
        .await
        .map_err(|_| failed("clés injoignables"))?;
    let jwks: JwkSet = json(jwks).await.ok_or_else(|| failed("clés illisibles"))?;
    let id_claims: Value = decode_signed(&tokens.id_token, &jwks, &md.issuer, rp.client_id, true)
        .map_err(|e| failed(&format!("jeton d'identité refusé ({e})")))?;
    if id_claims["nonce"].as_str() != Some(derive(keys, "nonce", browser).as_str()) {
        return Err(failed("nonce différent"));
    }
    let userinfo = http
        .get(&md.userinfo_endpoint)
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .map_err(|_| failed("userinfo injoignable"))?;
    if !userinfo.status().is_success() {
        return Err(failed(&format!("userinfo refusée ({})", userinfo.status().as_u16())));
    }
    let userinfo: Value = match via {
        Via::AidantsConnect => json(userinfo).await.ok_or_else(|| failed("userinfo illisible"))?,
        Via::FranceConnect => {
            let jwt = userinfo.text().await.map_err(|_| failed("userinfo illisible"))?;
            decode_signed(&jwt, &jwks, &md.issuer, rp.client_id, false)
                .map_err(|e| failed(&format!("userinfo refusée ({e})")))?
        }
    };
    if userinfo["sub"] != id_claims["sub"] {
        return Err(failed("userinfo d'une autre personne"));
    }
    Ok(LoggedIn {
        id_claims,
        userinfo,
        id_token: tokens.id_token,
    })
}

/// The provider's logout for this service, back to its home page.
pub fn logout_url(base: &str, id_token: &str) -> String {
    let mut url = match url::Url::parse(&format!("{base}/oidc/logout")) {
        Ok(u) => u,
        Err(_) => return "/".into(),
    };
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", &post_logout_uri(base));
    url.into()
}
