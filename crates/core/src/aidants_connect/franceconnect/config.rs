//! Settings of FranceConnect: from `PASSERELLE_FC_*` (read by the binary) and
//! the public URL. The simulator replaces the provider when enabled.

use url::Url;

use crate::error::{CoreError, Result};
use crate::keys::Keys;

/// Path under which the simulator is served.
pub const SIMULATEUR_PATH: &str = "/fc-simulateur";
/// Client identifier registered with the simulator when none is given.
pub const SIMULATEUR_CLIENT_ID: &str = "passerelle-demonstration";
/// Callback of the code flow, under the public URL.
pub const CALLBACK_PATH: &str = "/franceconnect/retour";
/// Where FranceConnect sends the browser back after a logout.
pub const LOGOUT_CALLBACK_PATH: &str = "/franceconnect/deconnexion/retour";

/// What the environment says (all optional).
#[derive(Clone, Default)]
pub struct FcSettings {
    /// `PASSERELLE_FC_ISSUER`: discovery base URL (`…/api/v2`).
    pub issuer: Option<String>,
    /// `PASSERELLE_FC_CLIENT_ID`.
    pub client_id: Option<String>,
    /// `PASSERELLE_FC_CLIENT_SECRET`.
    pub client_secret: Option<String>,
    /// `PASSERELLE_FC_SIMULATEUR=1`.
    pub simulateur: bool,
}

/// A client secret: never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The relying party's settings, resolved.
#[derive(Clone, Debug)]
pub struct FcConfig {
    /// Issuer; discovery is at `{issuer}/.well-known/openid-configuration`.
    pub issuer: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub redirect_uri: Url,
    pub post_logout_redirect_uri: Url,
    /// The built-in simulator plays FranceConnect (demonstration, tests).
    pub simulateur: bool,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

pub fn is_local(u: &Url) -> bool {
    matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]" | "::1"))
}

impl FcConfig {
    /// Resolves the settings. `None`: FranceConnect is off (nothing set).
    /// The simulator runs with `PASSERELLE_FC_SIMULATEUR=1`, or in a demo when no
    /// provider is set; it is refused on a production URL (https, not localhost)
    /// outside a demo. The simulator's client secret, when not given, is derived
    /// from the data directory's secret (every instance agrees).
    pub fn resolve(settings: &FcSettings, base_url: &Url, demo: bool, keys: &Keys) -> Result<Option<FcConfig>> {
        let issuer = given(&settings.issuer);
        let client_id = given(&settings.client_id);
        let secret = given(&settings.client_secret);
        let simulateur = settings.simulateur || (demo && issuer.is_none());
        let redirect_uri = join(base_url, CALLBACK_PATH)?;
        let post_logout_redirect_uri = join(base_url, LOGOUT_CALLBACK_PATH)?;
        if simulateur {
            if issuer.is_some() {
                return Err(CoreError::Config(
                    "PASSERELLE_FC_SIMULATEUR et PASSERELLE_FC_ISSUER s'excluent : le simulateur joue le rôle de FranceConnect. \
                     Retirez l'un des deux."
                        .into(),
                ));
            }
            if base_url.scheme() == "https" && !is_local(base_url) && !demo {
                return Err(CoreError::Config(format!(
                    "le simulateur FranceConnect (PASSERELLE_FC_SIMULATEUR) est refusé en production ({base_url}) : \
                     il délivre des identités fictives. Utilisez-le en démonstration (--demo) ou sur localhost."
                )));
            }
            return Ok(Some(FcConfig {
                issuer: join(base_url, SIMULATEUR_PATH)?,
                client_id: client_id.unwrap_or_else(|| SIMULATEUR_CLIENT_ID.to_string()),
                client_secret: Secret(
                    secret.unwrap_or_else(|| hex::encode(keys.subkey("fc-simulateur-client-secret"))),
                ),
                redirect_uri,
                post_logout_redirect_uri,
                simulateur: true,
            }));
        }
        let (issuer, client_id, secret) = match (issuer, client_id, secret) {
            (None, None, None) => return Ok(None),
            (Some(i), Some(c), Some(s)) => (i, c, s),
            _ => {
                return Err(CoreError::Config(
                    "FranceConnect est à moitié configuré : PASSERELLE_FC_ISSUER, PASSERELLE_FC_CLIENT_ID et \
                     PASSERELLE_FC_CLIENT_SECRET vont ensemble (ou aucun des trois)"
                        .into(),
                ))
            }
        };
        let issuer_url = Url::parse(issuer.trim_end_matches('/')).map_err(|_| {
            CoreError::Config(format!(
                "PASSERELLE_FC_ISSUER invalide « {issuer} » : une URL est attendue, par exemple \
                 https://fcp-low.integ01.dev-franceconnect.fr/api/v2"
            ))
        })?;
        if issuer_url.scheme() != "https" && !is_local(&issuer_url) {
            return Err(CoreError::Config(format!(
                "PASSERELLE_FC_ISSUER doit être en https (reçu « {issuer} »)"
            )));
        }
        Ok(Some(FcConfig {
            issuer: issuer_url,
            client_id,
            client_secret: Secret(secret),
            redirect_uri,
            post_logout_redirect_uri,
            simulateur: false,
        }))
    }

    /// The issuer as it must appear in tokens (no trailing slash).
    pub fn issuer_str(&self) -> String {
        self.issuer.as_str().trim_end_matches('/').to_string()
    }

    /// The discovery document's URL.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer_str())
    }
}

fn join(base: &Url, path: &str) -> Result<Url> {
    base.join(path)
        .map_err(|_| CoreError::Config(format!("URL publique inutilisable pour {path}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn off_by_default_simulator_on_demand_and_never_in_production() {
        let k = Keys::ephemeral();
        let none = FcSettings::default();
        assert!(FcConfig::resolve(&none, &url("https://p.gouv.fr"), false, &k)
            .unwrap()
            .is_none());
        let sim = FcSettings {
            simulateur: true,
            ..Default::default()
        };
        let c = FcConfig::resolve(&sim, &url("http://localhost:8080"), false, &k)
            .unwrap()
            .unwrap();
        assert!(c.simulateur);
        assert_eq!(c.issuer_str(), "http://localhost:8080/fc-simulateur");
        assert_eq!(c.redirect_uri.as_str(), "http://localhost:8080/franceconnect/retour");
        assert_eq!(c.client_secret.expose().len(), 64);
        assert!(!format!("{c:?}").contains(c.client_secret.expose()));
        let e = FcConfig::resolve(&sim, &url("https://passerelle.exemple.gouv.fr"), false, &k).unwrap_err();
        assert!(e.to_string().contains("refusé en production"), "{e}");
        assert!(FcConfig::resolve(&sim, &url("https://passerelle.exemple.gouv.fr"), true, &k).is_ok());
        assert!(
            FcConfig::resolve(&none, &url("http://localhost:8080"), true, &k)
                .unwrap()
                .unwrap()
                .simulateur
        );
    }

    #[test]
    fn a_real_provider_needs_all_three_settings_and_https() {
        let k = Keys::ephemeral();
        let half = FcSettings {
            issuer: Some("https://fc.exemple.fr/api/v2".into()),
            ..Default::default()
        };
        assert!(FcConfig::resolve(&half, &url("https://p.gouv.fr"), false, &k).is_err());
        let mut full = FcSettings {
            issuer: Some("https://fc.exemple.fr/api/v2/".into()),
            client_id: Some("id".into()),
            client_secret: Some("secret".into()),
            simulateur: false,
        };
        let c = FcConfig::resolve(&full, &url("https://p.gouv.fr"), false, &k)
            .unwrap()
            .unwrap();
        assert_eq!(
            c.discovery_url(),
            "https://fc.exemple.fr/api/v2/.well-known/openid-configuration"
        );
        assert!(!c.simulateur);
        full.issuer = Some("http://fc.exemple.fr".into());
        assert!(FcConfig::resolve(&full, &url("https://p.gouv.fr"), false, &k).is_err());
        full.issuer = Some("https://fc.exemple.fr".into());
        full.simulateur = true;
        assert!(FcConfig::resolve(&full, &url("http://localhost:8080"), false, &k).is_err());
    }
}
