//! The provider over HTTP: discovery and JWKS (cached in memory with a TTL —
//! the only process state, and harmless with several instances), the token
//! exchange and the signed userinfo. Nothing here logs a token, a code or a `sub`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::config::FcConfig;
use super::verify::VerifyError;
use super::FcError;

/// How long discovery and keys are trusted before being fetched again.
pub const CACHE_TTL: Duration = Duration::from_secs(15 * 60);
/// Largest response read from the provider.
const MAX_BODY: usize = 256 * 1024;
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// What discovery tells us.
#[derive(Clone, Debug, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

/// The token endpoint's answer (tokens are never logged: no `Debug`).
#[derive(Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub id_token: String,
    #[serde(default)]
    pub token_type: String,
}

#[derive(Default)]
struct Cache {
    metadata: Option<(Metadata, Instant)>,
    jwks: Option<(JwkSet, Instant)>,
}

/// The relying party's client of FranceConnect (cheap to clone).
#[derive(Clone)]
pub struct FranceConnect {
    config: Arc<FcConfig>,
    http: reqwest::Client,
    cache: Arc<Mutex<Cache>>,
}

impl std::fmt::Debug for FranceConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FranceConnect")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn provider_err(what: &str) -> FcError {
    FcError::Provider(what.to_string())
}

/// Keeps only a short OAuth error key (`invalid_grant`…), never free text.
pub(crate) fn error_key(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_lowercase() || *c == '_')
        .take(40)
        .collect()
}

impl FranceConnect {
    pub fn new(config: FcConfig) -> Result<FranceConnect, FcError> {
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Passerelle/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| provider_err("client HTTP impossible à créer"))?;
        Ok(FranceConnect {
            config: Arc::new(config),
            http,
            cache: Arc::new(Mutex::new(Cache::default())),
        })
    }

    pub fn config(&self) -> &FcConfig {
        &self.config
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn read(&self, res: reqwest::Response, what: &str) -> Result<Vec<u8>, FcError> {
        let mut res = res;
        if res.content_length().is_some_and(|n| n as usize > MAX_BODY) {
            return Err(provider_err(&format!("{what} : réponse trop volumineuse")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|_| provider_err(&format!("{what} : réponse interrompue")))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BODY {
                return Err(provider_err(&format!("{what} : réponse trop volumineuse")));
            }
        }
        Ok(body)
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &str, what: &str) -> Result<T, FcError> {
        let res = self.http.get(url).send().await.map_err(|e| {
            tracing::warn!(quoi = what, erreur = %e.without_url(), "FranceConnect injoignable");
            provider_err(&format!("{what} injoignable"))
        })?;
        if !res.status().is_success() {
            return Err(provider_err(&format!("{what} : statut {}", res.status().as_u16())));
        }
        let body = self.read(res, what).await?;
        serde_json::from_slice(&body).map_err(|_| provider_err(&format!("{what} illisible")))
    }

    /// Discovery, cached; its `issuer` must be the configured one.
    pub async fn metadata(&self) -> Result<Metadata, FcError> {
        if let Some((m, at)) = &self.cache().metadata {
            if at.elapsed() < CACHE_TTL {
                return Ok(m.clone());
            }
        }
        let m: Metadata = self
            .get_json(&self.config.discovery_url(), "configuration OpenID")
            .await?;
        if m.issuer.trim_end_matches('/') != self.config.issuer_str() {
            return Err(provider_err("la configuration annonce un autre émetteur"));
        }
        self.cache().metadata = Some((m.clone(), Instant::now()));
        Ok(m)
    }

    /// The provider's keys: cached unless `force`; says whether they were just fetched.
    pub async fn jwks(&self, force: bool) -> Result<(JwkSet, bool), FcError> {
        if !force {
            if let Some((k, at)) = &self.cache().jwks {
                if at.elapsed() < CACHE_TTL {
                    return Ok((k.clone(), false));
                }
            }
        }
        let md = self.metadata().await?;
        let keys: JwkSet = self.get_json(&md.jwks_uri, "clés de signature").await?;
        self.cache().jwks = Some((keys.clone(), Instant::now()));
        Ok((keys, true))
    }

    /// Runs a verification against the keys; on an unknown `kid` with keys
    /// from the cache, fetches them again once (key rotation) and retries.
    pub async fn verify<T>(&self, check: impl Fn(&JwkSet) -> Result<T, VerifyError>) -> Result<T, FcError> {
        let (keys, fresh) = self.jwks(false).await?;
        match check(&keys) {
            Err(VerifyError::UnknownKey) if !fresh => {
                let (keys, _) = self.jwks(true).await?;
                Ok(check(&keys)?)
            }
            other => Ok(other?),
        }
    }

    /// Exchanges the code at the token endpoint (`client_secret_post` when the
    /// provider supports it, HTTP Basic otherwise).
    pub async fn exchange_code(&self, md: &Metadata, code: &str) -> Result<Tokens, FcError> {
        let c = &self.config;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", c.redirect_uri.as_str()),
        ];
        let post = md
            .token_endpoint_auth_methods_supported
            .iter()
            .any(|m| m == "client_secret_post");
        let mut req = self.http.post(&md.token_endpoint);
        if post {
            form.push(("client_id", &c.client_id));
            form.push(("client_secret", c.client_secret.expose()));
        } else {
            let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                enc(&c.client_id),
                enc(c.client_secret.expose())
            ));
            req = req.header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"));
        }
        let res = req.form(&form).send().await.map_err(|e| {
            tracing::warn!(erreur = %e.without_url(), "échange du code FranceConnect impossible");
            provider_err("échange du code injoignable")
        })?;
        let status = res.status();
        let body = self.read(res, "échange du code").await?;
        if !status.is_success() {
            #[derive(Deserialize)]
            struct OAuthErr {
                error: String,
            }
            let key = serde_json::from_slice::<OAuthErr>(&body)
                .map(|e| error_key(&e.error))
                .unwrap_or_else(|_| format!("statut {}", status.as_u16()));
            return Err(provider_err(&format!("échange du code refusé : {key}")));
        }
        let t: Tokens =
            serde_json::from_slice(&body).map_err(|_| provider_err("réponse de l'échange du code illisible"))?;
        if !t.token_type.eq_ignore_ascii_case("bearer") {
            return Err(provider_err("type de jeton d'accès inattendu"));
        }
        Ok(t)
    }

    /// The userinfo, which must come signed (`application/jwt`).
    pub async fn userinfo_jwt(&self, md: &Metadata, access_token: &str) -> Result<String, FcError> {
        match self.userinfo(md, access_token).await? {
            (true, body) => Ok(body),
            (false, _) => Err(FcError::Verification(VerifyError::Malformed)),
        }
    }

    /// The userinfo as it came: (signed `application/jwt`?, body).
    pub async fn userinfo(&self, md: &Metadata, access_token: &str) -> Result<(bool, String), FcError> {
        let res = self
            .http
            .get(&md.userinfo_endpoint)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/jwt, application/json")
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(erreur = %e.without_url(), "userinfo du fournisseur injoignable");
                provider_err("lecture de l'identité injoignable")
            })?;
        if !res.status().is_success() {
            return Err(provider_err(&format!(
                "lecture de l'identité : statut {}",
                res.status().as_u16()
            )));
        }
        let jwt = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim().starts_with("application/jwt"));
        let body = self.read(res, "lecture de l'identité").await?;
        String::from_utf8(body)
            .map(|s| (jwt, s.trim().to_string()))
            .map_err(|_| FcError::Verification(VerifyError::Malformed))
    }
}
