//! Passerelle as an OpenID Connect provider (Aidants Connect): an aidant logs
//! in to a registered online service on behalf of an usager who gave his
//! structure a mandate. Code flow only, exact redirect URIs, PKCE S256,
//! single-use codes of 60 s, ES256 ID tokens with key rotation (or HS256 with
//! the client's secret), pairwise `sub` for online services, the usager's
//! stable `sub` for FranceConnect (profile `franceconnect`), `auth_time` of
//! the aidant's last TOTP check, `sid` and back-channel logout.

pub mod assertion;
pub mod authorize;
pub mod backchannel;
pub mod clients;
pub mod consent;
pub mod keys;
pub mod logout;
pub mod reauth;
pub mod service_demo;
pub mod tokens;
pub mod userinfo;

use serde_json::{json, Value};

/// The démarches of the brief: (key, label).
pub use crate::aidants_connect::demarches::ALL as DEMARCHES;

pub fn demarche_label(key: &str) -> Option<&'static str> {
    DEMARCHES.iter().find(|(k, _)| *k == key).map(|(_, l)| *l)
}

/// `/.well-known/openid-configuration` for `issuer` (the public base URL, no trailing slash).
pub fn discovery(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oidc/authorize"),
        "token_endpoint": format!("{issuer}/oidc/token"),
        "userinfo_endpoint": format!("{issuer}/oidc/userinfo"),
        "jwks_uri": format!("{issuer}/oidc/jwks"),
        "end_session_endpoint": format!("{issuer}/oidc/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "prompt_values_supported": ["login", "consent", "select_account", "none"],
        "display_values_supported": ["page", "touch"],
        "ui_locales_supported": ["fr-FR", "fr"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": ["ES256", "HS256"],
        "userinfo_signing_alg_values_supported": ["ES256", "HS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": userinfo::SCOPES.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "at_hash", "sid", "given_name", "family_name", "preferred_username", "birthdate", "birthplace", "birthcountry", "gender", "email", "rep_scope"],
        "acr_values_supported": [authorize::ACR],
        // Only for rep_scope (the démarches the request accepts).
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
    })
}
