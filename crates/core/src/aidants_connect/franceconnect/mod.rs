//! FranceConnect, as an OpenID Connect relying party (code flow), and a
//! simulator of FranceConnect for demonstrations and tests.
//!
//! - [`config`]: settings (issuer, client, redirect URIs), checked at startup;
//! - [`provider`]: discovery, JWKS (cached with a TTL, re-fetched once on an
//!   unknown `kid`), token exchange and userinfo over HTTP;
//! - [`verify`]: the checks of the ID token and of the signed userinfo (pure);
//! - [`flow`]: `state`/`nonce` in the database bound to the browser session,
//!   the callback, the usager stored under a keyed hash of `sub`, the logout;
//! - [`simulateur`]: the simulator's keys, fictitious identities, codes and tokens;
//! - [`federation`]: the simulator's federation mode, where an online service
//!   logs in « with FranceConnect » and the identity comes from Aidants Connect.

pub mod config;
pub mod federation;
pub mod flow;
pub mod provider;
pub mod simulateur;
pub mod verify;

pub use config::FcConfig;
pub use flow::{Identified, LoggedOut};
pub use provider::FranceConnect;

use crate::error::CoreError;

/// Scopes asked of FranceConnect: the identity needed to print a mandate.
pub const SCOPES: &str =
    "openid given_name family_name birthdate birthplace birthcountry gender preferred_username email";
/// Level of assurance asked (eIDAS "faible", FranceConnect's level).
pub const ACR: &str = "eidas1";

/// The identity of an usager, as FranceConnect certifies it (userinfo).
#[derive(Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Identity {
    pub sub: String,
    pub given_name: String,
    pub family_name: String,
    /// `AAAA-MM-JJ`.
    pub birthdate: String,
    /// Code officiel géographique of the commune of birth (empty when born abroad).
    #[serde(default)]
    pub birthplace: String,
    /// Code officiel géographique of the country of birth (99100 for France).
    pub birthcountry: String,
    /// `male` or `female`.
    pub gender: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Nom d'usage.
    #[serde(default)]
    pub preferred_username: Option<String>,
}

/// Never prints `sub` nor the identity: tracing may format values with `Debug`.
impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity { … }")
    }
}

impl Identity {
    /// « né le 24 août 1962 », « née le … », or « date de naissance : … » when the gender is not given.
    pub fn born_on(&self) -> String {
        let verb = match self.gender.as_str() {
            "male" => "né le",
            "female" => "née le",
            _ => "date de naissance :",
        };
        format!("{verb} {}", french_date(&self.birthdate))
    }
}

/// `1962-08-24` → `24 août 1962` (unchanged when not a date).
pub fn french_date(iso: &str) -> String {
    let parts: Vec<&str> = iso.split('-').collect();
    if let [y, m, d] = parts.as_slice() {
        if let (Ok(m), Ok(d)) = (m.parse::<usize>(), d.parse::<u32>()) {
            if (1..=12).contains(&m) && y.len() == 4 {
                let day = if d == 1 { "1er".to_string() } else { d.to_string() };
                return format!("{day} {} {y}", crate::dates_fr::MOIS[m - 1]);
            }
        }
    }
    iso.to_string()
}

/// Why an identification failed. Messages in French, for the aidant; none
/// carries a token, a code or a `sub`.
#[derive(Debug, thiserror::Error)]
pub enum FcError {
    #[error("FranceConnect n'est pas configuré sur ce service")]
    NotConfigured,
    #[error("FranceConnect ne répond pas correctement ({0}). Réessayez dans quelques instants.")]
    Provider(String),
    #[error("l'identification FranceConnect a été interrompue : {0}")]
    Denied(String),
    #[error("cette demande d'identification est inconnue ou a été commencée dans une autre session : recommencez l'identification")]
    UnknownState,
    #[error("cette demande d'identification a déjà été utilisée : recommencez l'identification")]
    ReplayedState,
    #[error("cette demande d'identification a expiré : recommencez l'identification")]
    ExpiredState,
    #[error("la réponse de FranceConnect n'a pas pu être vérifiée ({0}) : l'usager n'est pas identifié")]
    Verification(#[from] verify::VerifyError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<sqlx::Error> for FcError {
    fn from(e: sqlx::Error) -> Self {
        FcError::Core(CoreError::Database(e))
    }
}

impl FcError {
    /// Stable key for the journal.
    pub fn motif(&self) -> &'static str {
        match self {
            FcError::NotConfigured => "non_configure",
            FcError::Provider(_) => "fournisseur",
            FcError::Denied(_) => "interrompue",
            FcError::UnknownState => "state_inconnu",
            FcError::ReplayedState => "state_rejoue",
            FcError::ExpiredState => "state_expire",
            FcError::Verification(v) => v.motif(),
            FcError::Core(_) => "interne",
        }
    }
}

/// SHA-256 of a value, in hex (for `state`, `nonce`, codes and tokens at rest).
pub fn sha256_hex(value: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// 32 random bytes in URL-safe base64 (43 characters).
pub fn random_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_french_and_no_identity_in_debug() {
        assert_eq!(french_date("1962-08-24"), "24 août 1962");
        assert_eq!(french_date("2001-01-01"), "1er janvier 2001");
        assert_eq!(french_date("n/a"), "n/a");
        let id = Identity {
            sub: "abc123".into(),
            given_name: "Angela".into(),
            family_name: "DUBOIS".into(),
            birthdate: "1962-08-24".into(),
            birthplace: "75107".into(),
            birthcountry: "99100".into(),
            gender: "female".into(),
            email: None,
            preferred_username: None,
        };
        assert_eq!(id.born_on(), "née le 24 août 1962");
        assert!(!format!("{id:?}").contains("abc123"));
        assert_eq!(random_token().len(), 43);
    }
}
