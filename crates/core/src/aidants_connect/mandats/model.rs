//! Mandates of Aidants Connect: durations, derived states, and the token of
//! the attestation's QR code (no personal data: the mandate's number and a
//! keyed signature).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{CoreError, Result};
use crate::keys::Keys;

/// The four durations of the brief.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duration {
    Short,
    Month,
    Semester,
    Long,
}

impl Duration {
    pub const ALL: [Duration; 4] = [Duration::Short, Duration::Month, Duration::Semester, Duration::Long];

    pub fn key(self) -> &'static str {
        match self {
            Duration::Short => "SHORT",
            Duration::Month => "MONTH",
            Duration::Semester => "SEMESTER",
            Duration::Long => "LONG",
        }
    }

    pub fn days(self) -> i64 {
        match self {
            Duration::Short => 1,
            Duration::Month => 31,
            Duration::Semester => 182,
            Duration::Long => 365,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Duration::Short => "Mandat court — expire demain",
            Duration::Month => "Mandat d'un mois",
            Duration::Semester => "Mandat de six mois",
            Duration::Long => "Mandat d'un an (maximum)",
        }
    }

    pub fn parse(key: &str) -> Result<Duration> {
        Duration::ALL
            .into_iter()
            .find(|d| d.key().eq_ignore_ascii_case(key.trim()))
            .ok_or_else(|| CoreError::invalid("choisissez une durée de mandat"))
    }

    /// Expiry (µs) of a mandate concluded at `now` (µs).
    pub fn expiry(self, now: i64) -> i64 {
        now + self.days() * 86_400 * 1_000_000
    }
}

/// The state of a mandate, derived from its dates and its autorisations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum State {
    Active,
    /// Some démarches revoked, others still active.
    PartlyRevoked,
    /// Every démarche revoked before expiry.
    Revoked,
    /// Every démarche ended before expiry, at least one because a newer
    /// mandate took it over (the renewal): not a revocation by anyone.
    Renewed,
    Expired,
}

impl State {
    /// `expires_at` and `now` in µs; `autorisations`: whether each is revoked;
    /// `replaced`: how many of those a newer mandate took over.
    pub fn of(expires_at: i64, now: i64, autorisations: &[bool], replaced: usize) -> State {
        let revoked = autorisations.iter().filter(|r| **r).count();
        if !autorisations.is_empty() && revoked == autorisations.len() {
            if replaced > 0 {
                State::Renewed
            } else {
                State::Revoked
            }
        } else if expires_at <= now {
            State::Expired
        } else if revoked > 0 {
            State::PartlyRevoked
        } else {
            State::Active
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            State::Active => "actif",
            State::PartlyRevoked => "partiellement_revoque",
            State::Revoked => "revoque",
            State::Renewed => "renouvele",
            State::Expired => "expire",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            State::Active => "Actif",
            State::PartlyRevoked => "Actif, certaines démarches révoquées",
            State::Revoked => "Révoqué",
            State::Renewed => "Renouvelé",
            State::Expired => "Expiré",
        }
    }
}

const PURPOSE: &str = "mandat-attestation-qr";

fn mac(keys: &Keys, id: i64) -> [u8; 16] {
    let key = keys.subkey(PURPOSE);
    let mut m =
        <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(&id.to_be_bytes());
    let full = m.finalize().into_bytes();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// The token printed in the attestation's QR code: the mandate's number and
/// a 128-bit keyed signature of it, nothing else.
pub fn verification_token(keys: &Keys, id: i64) -> String {
    let mut bytes = id.to_be_bytes().to_vec();
    bytes.extend_from_slice(&mac(keys, id));
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The mandate a token designates, if its signature holds.
pub fn read_token(keys: &Keys, token: &str) -> Option<i64> {
    if token.len() > 64 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    if bytes.len() != 24 {
        return None;
    }
    let id = i64::from_be_bytes(bytes[..8].try_into().ok()?);
    bool::from(mac(keys, id).ct_eq(&bytes[8..])).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_of_the_brief() {
        assert_eq!(Duration::parse("month").unwrap(), Duration::Month);
        assert_eq!(Duration::Long.days(), 365);
        assert_eq!(Duration::Short.expiry(0), 86_400_000_000);
        assert!(Duration::parse("FOREVER").is_err());
    }

    #[test]
    fn states_are_derived() {
        let (exp, before, after) = (100, 50, 150);
        assert_eq!(State::of(exp, before, &[false, false], 0), State::Active);
        assert_eq!(State::of(exp, before, &[true, false], 0), State::PartlyRevoked);
        assert_eq!(State::of(exp, before, &[true, false], 1), State::PartlyRevoked);
        assert_eq!(State::of(exp, before, &[true, true], 0), State::Revoked);
        assert_eq!(State::of(exp, before, &[true, true], 1), State::Renewed);
        assert_eq!(State::of(exp, before, &[true, true], 2), State::Renewed);
        assert_eq!(State::of(exp, after, &[false, true], 0), State::Expired);
        assert_eq!(State::of(exp, after, &[true, true], 0), State::Revoked);
        assert_eq!(State::of(exp, before, &[], 0), State::Active);
    }

    #[test]
    fn tokens_verify_and_cannot_be_forged() {
        let keys = Keys::ephemeral();
        let t = verification_token(&keys, 42);
        assert_eq!(read_token(&keys, &t), Some(42));
        let other = Keys::ephemeral();
        assert_eq!(read_token(&other, &t), None, "another deployment's key");
        let mut forged = URL_SAFE_NO_PAD.decode(&t).unwrap();
        forged[7] = 43;
        assert_eq!(read_token(&keys, &URL_SAFE_NO_PAD.encode(forged)), None);
        assert_eq!(read_token(&keys, "pas-un-jeton"), None);
    }
}
