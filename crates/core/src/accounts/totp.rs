//! TOTP second factor (RFC 6238): SHA-1, 6 digits, 30-second steps, ±1 step,
//! and a code is accepted only once (the last accepted step is stored).

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::{CoreError, Result};

pub const ISSUER: &str = "Passerelle";
/// Purpose label of the encryption of TOTP seeds in the database.
const SEAL_PURPOSE: &str = "totp";

/// Encrypts a seed for storage (see [`crate::keys::Keys::seal`]).
pub fn seal(core: &crate::Core, secret_b32: &str) -> Result<String> {
    core.keys.seal(SEAL_PURPOSE, secret_b32)
}

/// Decrypts a stored seed.
pub fn open(core: &crate::Core, sealed: &str) -> Result<String> {
    core.keys.open(SEAL_PURPOSE, sealed)
}
const STEP: u64 = 30;

/// A new random secret (160 bits), base32-encoded.
pub fn new_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

fn totp(secret_b32: &str, account: &str) -> Result<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|_| CoreError::invalid("secret TOTP illisible"))?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        bytes,
        Some(ISSUER.to_string()),
        account.to_string(),
    )
    .map_err(|e| CoreError::invalid(format!("secret TOTP invalide : {e}")))
}

/// The `otpauth://` URI to enrol an authenticator app.
pub fn otpauth_uri(secret_b32: &str, account: &str) -> Result<String> {
    Ok(totp(secret_b32, account)?.get_url())
}

/// The enrolment QR code as a base64 PNG (for a `data:` image).
pub fn qr_png_base64(secret_b32: &str, account: &str) -> Result<String> {
    totp(secret_b32, account)?
        .get_qr_base64()
        .map_err(|e| CoreError::invalid(format!("QR code impossible : {e}")))
}

/// The code for a given Unix time (the integration and browser tests use their own implementations).
#[cfg(test)]
fn code_at(secret_b32: &str, unix: u64) -> Result<String> {
    Ok(totp(secret_b32, "")?.generate(unix))
}

/// Checks `code` at `unix` time within ±1 step and returns the matched step if it
/// is later than `last_step` (so each code is accepted once).
pub fn check(secret_b32: &str, code: &str, unix: u64, last_step: Option<i64>) -> Result<Option<i64>> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let t = totp(secret_b32, "")?;
    let now_step = (unix / STEP) as i64;
    let mut matched = None;
    for step in [now_step - 1, now_step, now_step + 1] {
        if step < 0 {
            continue;
        }
        let expected = t.generate(step as u64 * STEP);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            matched = Some(step);
        }
    }
    Ok(matched.filter(|s| last_step.is_none_or(|last| *s > last)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vector_and_window() {
        // RFC 6238 test secret "12345678901234567890", T = 59 s → 94287082 (8 digits), 287082 in 6.
        let secret = Secret::Raw(b"12345678901234567890".to_vec()).to_encoded().to_string();
        assert_eq!(code_at(&secret, 59).unwrap(), "287082");
        assert_eq!(check(&secret, "287 082", 59, None).unwrap(), Some(1));
        // one step late is accepted, two are not
        assert_eq!(check(&secret, "287082", 89, None).unwrap(), Some(1));
        assert_eq!(check(&secret, "287082", 119, None).unwrap(), None);
        // a code is accepted once
        assert_eq!(check(&secret, "287082", 59, Some(1)).unwrap(), None);
        assert_eq!(check(&secret, "abcdef", 59, None).unwrap(), None);
    }

    #[test]
    fn uri_names_the_issuer() {
        let s = new_secret();
        let uri = otpauth_uri(&s, "marie@exemple.fr").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Passerelle:marie%40exemple.fr?secret="),
            "{uri}"
        );
    }
}
