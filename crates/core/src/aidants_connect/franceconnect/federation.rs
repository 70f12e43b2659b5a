//! SIMULATEUR FranceConnect, mode fédération — démonstration et tests
//! seulement. It plays FranceConnect's core between an online service and
//! Aidants Connect, as in production: the online service (an FS of the
//! simulator) shows the FranceConnect button; on the simulator's page the
//! aidant picks « Aidants Connect » as identity provider; the simulator, a
//! client of Passerelle's provider registered with the `franceconnect`
//! profile, sends him there as FranceConnect does (`state` and `nonce` of 64
//! hex characters, `prompt=login`, `acr_values=eidas1`, `rep_scope` asked in
//! `claims.id_token` with the online service's démarches, `client_secret_post`,
//! no PKCE); on the way back it exchanges the code over HTTP, checks the ID
//! token (signature by the JWKS, issuer, audience, nonce, `acr`, `rep_scope`
//! read as a list and crossed with the service's) and the signed userinfo
//! (the pivot identity), then answers the online service with a code of its
//! own. Nothing is kept in memory: the pending requests are in the database.

use hmac::{Hmac, Mac};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{json, Value};
use sha2::Sha256;

use super::verify::{self, Expected};
use super::{sha256_hex, Identity, ACR};
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, Actor, NewEntry};
use crate::keys::Keys;
use crate::{on_db, on_tx, Core};

/// The demonstration online service that logs in « with FranceConnect ».
pub const FS_CLIENT_ID: &str = "service-demo-fc";
/// Its callback, under the public URL.
pub const FS_CALLBACK_PATH: &str = "/service-demo/fc/retour";
/// The démarches this online service accepts (its `rep_scope` at FranceConnect).
pub const FS_REP_SCOPE: [&str; 3] = ["social", "logement", "papiers"];
/// The simulator as a client of Passerelle's provider (profile `franceconnect`).
pub const FI_CLIENT_ID: &str = "franceconnect-simulateur";
/// The identity provider's key on the simulator's page.
pub const FI_KEY: &str = "aidants-connect";
/// Where Passerelle sends the browser back to the simulator.
pub const FI_CALLBACK_PATH: &str = "/fc-simulateur/fi/retour";
/// How long the simulator waits for the identity provider, µs.
const PENDING: i64 = 10 * 60 * 1_000_000;

fn derive(keys: &Keys, what: &str) -> String {
    let key = keys.subkey("fc-simulateur-federation");
    let mut m =
        <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(what.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// The online service's secret at the simulator (derived: every instance agrees).
pub fn fs_secret(keys: &Keys) -> String {
    derive(keys, "fs")
}

/// The simulator's secret at Passerelle's provider (64 characters, as FranceConnect's).
pub fn fi_secret(keys: &Keys) -> String {
    derive(keys, "fi")
}

/// Registers the simulator with Passerelle's provider (profile
/// `franceconnect`, ID token and userinfo in ES256) if it is not yet.
/// `base`: the public URL, without a trailing slash.
pub async fn register_fi(core: &Core, base: &str) -> Result<()> {
    use crate::aidants_connect::oidc_provider::clients::{self, Alg, Profil};
    if clients::find(&core.db, FI_CLIENT_ID).await?.is_some() {
        return Ok(());
    }
    let redirect = clients::check_uri(&format!("{base}{FI_CALLBACK_PATH}"))?;
    let digest = <Sha256 as sha2::Digest>::digest(fi_secret(&core.keys).as_bytes()).to_vec();
    let mut tx = core.db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query(
            "INSERT INTO oidc_clients (client_id, nom, secret_empreinte, redirect_uris, post_logout_uris, demarches, created_at, \
             profil, id_token_alg, userinfo_alg) VALUES ($1, $2, $3, $4, '[]', '[]', $5, $6, $7, $7)",
        )
        .bind(FI_CLIENT_ID).bind("FranceConnect (simulateur)").bind(digest)
        .bind(json!([redirect]).to_string())
        .bind(tx.horloge.now_micros()).bind(Profil::FranceConnect).bind(Alg::ES256)
        .execute(&mut *c).await?;
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(Actor::System, actions::OIDC_CLIENT_CREATED).details(json!({
            "client_id": FI_CLIENT_ID, "nom": "FranceConnect (simulateur)", "redirect_uris": [redirect],
            "profil": "franceconnect", "demonstration": true,
        })),
    )
    .await?;
    tx.commit().await
}

/// The online service's request the simulator answers once the identity
/// provider has answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub nonce: String,
}

/// The `rep_scope` an online service of the simulator accepts (FranceConnect
/// keeps it with the service's settings).
pub fn rep_scope_of(fs_client_id: &str) -> Option<&'static [&'static str]> {
    (fs_client_id == FS_CLIENT_ID).then_some(&FS_REP_SCOPE[..])
}

/// 32 random bytes in hex, as FranceConnect's `state` and `nonce`.
fn hex64() -> String {
    let mut b = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    hex::encode(b)
}

/// Keeps the online service's request and returns the URL of Passerelle's
/// authorisation endpoint, with the parameters FranceConnect sends.
pub async fn start(core: &Core, base: &str, fs: &FsRequest) -> Result<String> {
    let (state, nonce) = (hex64(), hex64());
    let now = core.db.now_micros();
    on_db!(&core.db, c => {
        sqlx::query(
            "INSERT INTO fc_simulateur_federation (state_hash, nonce, fs_client_id, fs_redirect_uri, fs_state, fs_nonce, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(sha256_hex(&state)).bind(&nonce).bind(&fs.client_id).bind(&fs.redirect_uri).bind(&fs.state).bind(&fs.nonce)
        .bind(now).bind(now + PENDING)
        .execute(&mut *c).await?;
    });
    let values = rep_scope_of(&fs.client_id).unwrap_or_default();
    let claims = json!({ "id_token": { "rep_scope": { "essential": true, "values": values } } });
    let mut url = url::Url::parse(&format!("{base}/oidc/authorize"))
        .map_err(|e| CoreError::Config(format!("adresse publique invalide : {e}")))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", FI_CLIENT_ID)
        .append_pair("redirect_uri", &format!("{base}{FI_CALLBACK_PATH}"))
        .append_pair("scope", "openid profile email birth")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("acr_values", ACR)
        .append_pair("prompt", "login")
        .append_pair("claims", &claims.to_string());
    Ok(url.into())
}

/// Why the simulator cannot answer the online service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederationError {
    #[error("demande inconnue du simulateur")]
    UnknownState,
    #[error("demande déjà traitée : le retour du fournisseur d'identité a été rejoué")]
    ReplayedState,
    #[error("demande expirée : recommencez la connexion")]
    ExpiredState,
    #[error("le fournisseur d'identité a répondu par une erreur ({0})")]
    Provider(String),
    #[error("le fournisseur d'identité n'a pas pu être joint ({0})")]
    Unreachable(String),
    #[error("réponse du fournisseur d'identité refusée : {0}")]
    Verification(String),
    #[error("aucune des démarches données par le fournisseur d'identité n'est acceptée par ce service (rep_scope)")]
    RepScope,
}

type Pending = (String, String, String, String, String, i64, Option<i64>);

/// The pending request of `state`, marked used (once).
async fn take(core: &Core, state: &str) -> Result<std::result::Result<(String, FsRequest), FederationError>> {
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    let row: Option<Pending> = on_tx!(&mut tx, c => {
        sqlx::query_as(
            "SELECT nonce, fs_client_id, fs_redirect_uri, fs_state, fs_nonce, expires_at, used_at \
             FROM fc_simulateur_federation WHERE state_hash = $1",
        )
        .bind(sha256_hex(state)).fetch_optional(&mut *c).await?
    });
    let Some((nonce, client_id, redirect_uri, fs_state, fs_nonce, expires_at, used_at)) = row else {
        return Ok(Err(FederationError::UnknownState));
    };
    if used_at.is_some() {
        return Ok(Err(FederationError::ReplayedState));
    }
    if expires_at < now {
        return Ok(Err(FederationError::ExpiredState));
    }
    let marked = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE fc_simulateur_federation SET used_at = $2 WHERE state_hash = $1 AND used_at IS NULL")
            .bind(sha256_hex(state)).bind(now).execute(&mut *c).await?.rows_affected()
    });
    tx.commit().await?;
    if marked != 1 {
        return Ok(Err(FederationError::ReplayedState));
    }
    Ok(Ok((
        nonce,
        FsRequest {
            client_id,
            redirect_uri,
            state: fs_state,
            nonce: fs_nonce,
        },
    )))
}

/// What the simulator learnt from the identity provider.
#[derive(Clone)]
pub struct Federated {
    pub identity: Identity,
    /// The démarches the identity provider gave that the service accepts.
    pub rep_scope: Vec<String>,
}

/// The identity provider's answer (`code`, `state`): checked, then the
/// online service's request and what to tell it.
pub async fn finish(
    core: &Core,
    http: &reqwest::Client,
    base: &str,
    code: &str,
    state: &str,
) -> Result<std::result::Result<(FsRequest, Federated), FederationError>> {
    let (nonce, fs) = match take(core, state).await? {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    Ok(exchange(core, http, base, code, &nonce, &fs).await.map(|f| (fs, f)))
}

fn unreachable(e: reqwest::Error) -> FederationError {
    FederationError::Unreachable(e.without_url().to_string())
}

/// The JSON body of a response.
async fn read<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> std::result::Result<T, FederationError> {
    let bytes = resp.bytes().await.map_err(unreachable)?;
    serde_json::from_slice(&bytes).map_err(|_| FederationError::Unreachable("réponse illisible".into()))
}

async fn exchange(
    core: &Core,
    http: &reqwest::Client,
    base: &str,
    code: &str,
    nonce: &str,
    fs: &FsRequest,
) -> std::result::Result<Federated, FederationError> {
    let refused = |e: verify::VerifyError| FederationError::Verification(e.to_string());
    let md: Value = read(
        http.get(format!("{base}/.well-known/openid-configuration"))
            .send()
            .await
            .map_err(unreachable)?,
    )
    .await?;
    let endpoint = |k: &str| {
        md[k]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| FederationError::Unreachable(k.into()))
    };
    let secret = fi_secret(&core.keys);
    let redirect = format!("{base}{FI_CALLBACK_PATH}");
    let resp = http
        .post(endpoint("token_endpoint")?)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect.as_str()),
            ("client_id", FI_CLIENT_ID),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .map_err(unreachable)?;
    let ok = resp.status().is_success();
    let tokens: Value = read(resp).await?;
    if !ok {
        return Err(FederationError::Provider(
            tokens["error"]
                .as_str()
                .unwrap_or("erreur inconnue")
                .chars()
                .take(80)
                .collect(),
        ));
    }
    let jwks: JwkSet = read(http.get(endpoint("jwks_uri")?).send().await.map_err(unreachable)?).await?;
    let id_token = tokens["id_token"].as_str().unwrap_or_default();
    let nonce_hash = sha256_hex(nonce);
    let expected = Expected {
        issuer: base,
        client_id: FI_CLIENT_ID,
        nonce_hash: &nonce_hash,
    };
    let claims = verify::id_token(id_token, &jwks, &expected).map_err(refused)?;
    if claims.acr.as_deref() != Some(ACR) {
        return Err(refused(verify::VerifyError::Acr));
    }
    // rep_scope: read from the ID token, as a list, as FranceConnect does.
    let raw: Value = verify::decode_signed(id_token, &jwks, base, FI_CLIENT_ID, true).map_err(refused)?;
    let given: Vec<String> = match &raw["rep_scope"] {
        Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        Value::Null => Vec::new(),
        _ => return Err(refused(verify::VerifyError::Claim("rep_scope"))),
    };
    let accepted = rep_scope_of(&fs.client_id).unwrap_or_default();
    let rep_scope: Vec<String> = given.into_iter().filter(|d| accepted.contains(&d.as_str())).collect();
    if !accepted.is_empty() && rep_scope.is_empty() {
        return Err(FederationError::RepScope);
    }
    let access = tokens["access_token"].as_str().unwrap_or_default();
    let resp = http
        .get(endpoint("userinfo_endpoint")?)
        .bearer_auth(access)
        .header(reqwest::header::ACCEPT, "application/jwt")
        .send()
        .await
        .map_err(unreachable)?;
    if !resp.status().is_success() {
        return Err(FederationError::Provider(format!(
            "userinfo {}",
            resp.status().as_u16()
        )));
    }
    let is_jwt = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/jwt"));
    let body = resp.text().await.map_err(unreachable)?;
    if !is_jwt {
        return Err(FederationError::Verification(
            "userinfo non signée (application/jwt attendu)".into(),
        ));
    }
    let identity = verify::userinfo(&body, &jwks, base, FI_CLIENT_ID, &claims.sub).map_err(refused)?;
    Ok(Federated { identity, rep_scope })
}

/// Where the browser goes when the identity provider refused (`error`): back
/// to the online service with `access_denied`, if the request is known.
pub async fn refused(core: &Core, state: &str) -> Result<Option<String>> {
    let Ok((_, fs)) = take(core, state).await? else {
        return Ok(None);
    };
    let mut u = url::Url::parse(&fs.redirect_uri).map_err(|e| CoreError::invalid(e.to_string()))?;
    u.query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "Connexion annulée chez le fournisseur d'identité")
        .append_pair("state", &fs.state);
    Ok(Some(u.into()))
}

/// The simulator's HTTP client towards the identity provider: no redirect
/// followed, 10 s at most.
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| CoreError::Io(format!("client HTTP : {e}")))
}

/// Removes the pending requests that expired.
pub async fn purge(core: &Core) -> Result<()> {
    let now = core.db.now_micros();
    on_db!(&core.db, c => {
        sqlx::query("DELETE FROM fc_simulateur_federation WHERE expires_at < $1").bind(now).execute(&mut *c).await?;
    });
    Ok(())
}
