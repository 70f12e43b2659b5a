//! ProConnect, the State's login for professionals (it replaced AgentConnect
//! and Inclusion Connect), as an OpenID Connect relying party: every
//! professional role may log in with it.
//!
//! - this file: settings (`PASSERELLE_PROCONNECT_*`), checked at startup; the
//!   simulator replaces ProConnect in a demonstration or on `localhost`;
//! - [`flow`]: state and nonce bound to the browser, the ID token checked
//!   against the JWKS (issuer, audience, nonce, expiry), `acr` and `amr`
//!   read, the account found by its link or proposed for a link (confirmed by
//!   password or by a link sent to the account's address);
//! - [`simulateur`]: a ProConnect for demonstrations and tests.
//!
//! The HTTP side (discovery and JWKS cached, code exchange in
//! `client_secret_post`, userinfo in JWT or JSON) is FranceConnect's relying
//! party client, which is a plain OpenID Connect client.

pub mod flow;
pub mod simulateur;

use url::Url;

use crate::aidants_connect::franceconnect::config::{is_local, FcConfig, Secret};
use crate::aidants_connect::franceconnect::FranceConnect;
use crate::error::{CoreError, Result};
use crate::keys::Keys;

/// Path under which the simulator is served.
pub const SIMULATEUR_PATH: &str = "/pc-simulateur";
/// Client identifier registered with the simulator when none is given.
pub const SIMULATEUR_CLIENT_ID: &str = "passerelle-demonstration";
/// Callback of the code flow, under the public URL.
pub const CALLBACK_PATH: &str = "/proconnect/retour";
/// Where ProConnect sends the browser back after a logout.
pub const LOGOUT_CALLBACK_PATH: &str = "/connexion";

/// What the environment says (all optional).
#[derive(Clone, Default)]
pub struct PcSettings {
    /// `PASSERELLE_PROCONNECT_ISSUER`, e.g. `https://auth.agentconnect.gouv.fr/api/v2`.
    pub issuer: Option<String>,
    /// `PASSERELLE_PROCONNECT_CLIENT_ID`.
    pub client_id: Option<String>,
    /// `PASSERELLE_PROCONNECT_CLIENT_SECRET`.
    pub client_secret: Option<String>,
    /// `PASSERELLE_PROCONNECT_SIMULATEUR=1`.
    pub simulateur: bool,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn join(base: &Url, path: &str) -> Result<Url> {
    base.join(path)
        .map_err(|_| CoreError::Config(format!("URL publique inutilisable pour {path}")))
}

/// The relying party of ProConnect: its settings and its HTTP client.
#[derive(Clone, Debug)]
pub struct ProConnect {
    pub rp: FranceConnect,
}

impl ProConnect {
    pub fn config(&self) -> &FcConfig {
        self.rp.config()
    }

    /// Resolves the settings. `None`: ProConnect is off (nothing set). The
    /// simulator runs with `PASSERELLE_PROCONNECT_SIMULATEUR=1`, or in a demo
    /// when no issuer is set; it is refused on a production URL outside a demo.
    pub fn resolve(settings: &PcSettings, base_url: &Url, demo: bool, keys: &Keys) -> Result<Option<ProConnect>> {
        let issuer = given(&settings.issuer);
        let client_id = given(&settings.client_id);
        let secret = given(&settings.client_secret);
        let simulateur = settings.simulateur || (demo && issuer.is_none());
        let redirect_uri = join(base_url, CALLBACK_PATH)?;
        let post_logout_redirect_uri = join(base_url, LOGOUT_CALLBACK_PATH)?;
        let config = if simulateur {
            if issuer.is_some() {
                return Err(CoreError::Config(
                    "PASSERELLE_PROCONNECT_SIMULATEUR et PASSERELLE_PROCONNECT_ISSUER s'excluent : le simulateur joue \
                     le rôle de ProConnect. Retirez l'un des deux."
                        .into(),
                ));
            }
            if base_url.scheme() == "https" && !is_local(base_url) && !demo {
                return Err(CoreError::Config(format!(
                    "le simulateur ProConnect (PASSERELLE_PROCONNECT_SIMULATEUR) est refusé en production ({base_url}) : \
                     il connecte n'importe qui avec l'adresse qu'on tape. Utilisez-le en démonstration (--demo) ou sur localhost."
                )));
            }
            FcConfig {
                issuer: join(base_url, SIMULATEUR_PATH)?,
                client_id: client_id.unwrap_or_else(|| SIMULATEUR_CLIENT_ID.to_string()),
                client_secret: Secret::new(
                    secret.unwrap_or_else(|| hex::encode(keys.subkey("pc-simulateur-client-secret"))),
                ),
                redirect_uri,
                post_logout_redirect_uri,
                simulateur: true,
            }
        } else {
            let (issuer, client_id, secret) = match (issuer, client_id, secret) {
                (None, None, None) => return Ok(None),
                (Some(i), Some(c), Some(s)) => (i, c, s),
                _ => {
                    return Err(CoreError::Config(
                        "ProConnect est à moitié configuré : PASSERELLE_PROCONNECT_ISSUER, PASSERELLE_PROCONNECT_CLIENT_ID \
                         et PASSERELLE_PROCONNECT_CLIENT_SECRET vont ensemble (ou aucun des trois)"
                            .into(),
                    ))
                }
            };
            let issuer_url = Url::parse(issuer.trim_end_matches('/')).map_err(|_| {
                CoreError::Config(format!(
                    "PASSERELLE_PROCONNECT_ISSUER invalide « {issuer} » : une URL est attendue, par exemple \
                     https://fca.integ01.dev-agentconnect.fr/api/v2"
                ))
            })?;
            if issuer_url.scheme() != "https" && !is_local(&issuer_url) {
                return Err(CoreError::Config(format!(
                    "PASSERELLE_PROCONNECT_ISSUER doit être en https (reçu « {issuer} »)"
                )));
            }
            FcConfig {
                issuer: issuer_url,
                client_id,
                client_secret: Secret::new(secret),
                redirect_uri,
                post_logout_redirect_uri,
                simulateur: false,
            }
        };
        let rp = FranceConnect::new(config).map_err(|e| CoreError::Config(e.to_string()))?;
        Ok(Some(ProConnect { rp }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn off_by_default_all_three_or_none_and_the_simulator_never_in_production() {
        let k = Keys::ephemeral();
        let prod = url("https://passerelle.exemple.gouv.fr");
        assert!(ProConnect::resolve(&PcSettings::default(), &prod, false, &k)
            .unwrap()
            .is_none());
        let half = PcSettings {
            issuer: Some("https://auth.agentconnect.gouv.fr/api/v2".into()),
            ..Default::default()
        };
        let e = ProConnect::resolve(&half, &prod, false, &k).unwrap_err().to_string();
        assert!(e.contains("à moitié configuré"), "{e}");
        let full = PcSettings {
            issuer: Some("https://auth.agentconnect.gouv.fr/api/v2/".into()),
            client_id: Some("id".into()),
            client_secret: Some("secret".into()),
            simulateur: false,
        };
        let pc = ProConnect::resolve(&full, &prod, false, &k).unwrap().unwrap();
        assert_eq!(pc.config().issuer_str(), "https://auth.agentconnect.gouv.fr/api/v2");
        assert_eq!(
            pc.config().redirect_uri.as_str(),
            "https://passerelle.exemple.gouv.fr/proconnect/retour"
        );
        let http = PcSettings {
            issuer: Some("http://auth.exemple.fr/api/v2".into()),
            ..full.clone()
        };
        assert!(ProConnect::resolve(&http, &prod, false, &k)
            .unwrap_err()
            .to_string()
            .contains("https"));
        let sim = PcSettings {
            simulateur: true,
            ..Default::default()
        };
        assert!(ProConnect::resolve(&sim, &prod, false, &k)
            .unwrap_err()
            .to_string()
            .contains("refusé en production"));
        let demo = ProConnect::resolve(&PcSettings::default(), &prod, true, &k)
            .unwrap()
            .unwrap();
        assert!(demo.config().simulateur);
        assert_eq!(
            demo.config().issuer_str(),
            "https://passerelle.exemple.gouv.fr/pc-simulateur"
        );
        let both = PcSettings {
            simulateur: true,
            ..full
        };
        assert!(ProConnect::resolve(&both, &url("http://localhost:8080"), false, &k)
            .unwrap_err()
            .to_string()
            .contains("s'excluent"));
    }
}
