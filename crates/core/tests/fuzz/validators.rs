//! Validators of typed values at the edge: SIRET, IBAN, BIC, e-mail, INSEE
//! codes of perimeters, amounts, public keys of OIDC services, file names.

use passerelle_core::accounts::model::{Email, Siret};
use passerelle_core::aidants_connect::oidc_provider::assertion::parse_public_key;
use passerelle_core::identifiants::{Bic, Iban, Pivot};
use passerelle_core::money::{parse_percent, Centimes};
use passerelle_core::pass_numerique::model::{Public, Territory};
use passerelle_core::qualification::model::safe_file_name;
use proptest::prelude::*;

use crate::support::{assert_french, hostile_text};

/// Refusals are French; acceptances are returned for further checks.
fn ok_or_french<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<Option<T>, TestCaseError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) => assert_french(&e.to_string()).map(|_| None),
    }
}

/// A valid French IBAN from 23 random digits (BBAN), its key computed.
fn iban_fr(bban: &str) -> String {
    // Letters F=15, R=27, then "00"; the key is 98 - (number mod 97).
    let numeric = format!("{bban}152700");
    let rem = numeric.bytes().fold(0u32, |r, b| (r * 10 + u32::from(b - b'0')) % 97);
    format!("FR{:02}{bban}", 98 - rem)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn sirets_are_read_or_refused(text in prop_oneof![hostile_text(6), "[0-9 ]{10,20}"]) {
        if let Some(s) = ok_or_french(Siret::parse(&text))? {
            prop_assert_eq!(s.as_str().len(), 14);
            // The stored form reads back as itself, and as a place's pivot too.
            prop_assert_eq!(Siret::parse(s.as_str()).map_err(|e| e.to_string()), Ok(s.clone()));
            prop_assert_eq!(Pivot::parse(s.as_str()).map_err(|e| e.to_string()), Ok(Pivot::Siret(s)));
        }
        ok_or_french(Pivot::parse(&text))?;
    }

    #[test]
    fn ibans_and_bics_are_read_or_refused(text in prop_oneof![hostile_text(6), "[A-Z]{2}[0-9]{2}[A-Z0-9 ]{10,30}"]) {
        if let Some(iban) = ok_or_french(Iban::parse(&text))? {
            prop_assert!(iban.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
            prop_assert_eq!(Iban::parse(iban.as_str()).map_err(|e| e.to_string()), Ok(iban.clone()));
        }
        ok_or_french(Bic::parse(&text))?;
    }

    /// A valid IBAN is read however it is typed (spaces, lower case).
    #[test]
    fn valid_ibans_round_trip(bban in "[0-9]{23}", spaced in any::<bool>(), lower in any::<bool>()) {
        let iban = iban_fr(&bban);
        let mut typed = if spaced {
            iban.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
        } else {
            iban.clone()
        };
        if lower {
            typed = typed.to_lowercase();
        }
        prop_assert_eq!(Iban::parse(&typed).map(|i| i.as_str().to_string()).map_err(|e| e.to_string()), Ok(iban));
    }

    #[test]
    fn emails_are_read_or_refused(text in prop_oneof![hostile_text(6), "[a-zA-Z0-9.@_+-]{0,40}"]) {
        if let Some(e) = ok_or_french(Email::parse(&text))? {
            prop_assert_eq!(e.as_str(), e.as_str().trim().to_lowercase());
            prop_assert_eq!(e.as_str().matches('@').count(), 1);
            prop_assert_eq!(Email::parse(e.as_str()).map_err(|e| e.to_string()), Ok(e.clone()));
        }
    }

    #[test]
    fn perimeters_and_publics_are_read_or_refused(text in prop_oneof![hostile_text(4), "[0-9AB]{1,6}"]) {
        if let Some(t) = ok_or_french(Territory::parse(&text))? {
            prop_assert!(matches!(t.code().len(), 2 | 3 | 5));
            prop_assert_eq!(Territory::parse(t.code()).map_err(|e| e.to_string()), Ok(t.clone()));
        }
        if let Some(p) = ok_or_french(Public::parse(&text))? {
            prop_assert_eq!(Public::parse(p.key()).map_err(|e| e.to_string()), Ok(p));
        }
    }

    #[test]
    fn amounts_are_read_or_refused(text in prop_oneof![hostile_text(4), "[0-9 ,.€%\u{a0}]{0,25}"]) {
        if let Some(cents) = ok_or_french(Centimes::parse_euros(&text, "montant"))? {
            prop_assert!(cents.centimes() >= 0);
            prop_assert_eq!(Centimes::parse_euros(&cents.euros(), "montant").map_err(|e| e.to_string()), Ok(cents));
        }
        if let Some(p) = ok_or_french(parse_percent(&text, "taux"))? {
            prop_assert!(p >= 0);
        }
    }

    /// Public keys of OIDC services: PEM or JWK text from the operator's file.
    #[test]
    fn public_keys_are_read_or_refused(text in prop_oneof![
        hostile_text(6),
        "-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]{0,200}\n-----END PUBLIC KEY-----",
        "\\{\"kty\":\"(EC|RSA|oct)\",\"crv\":\"P-256\",\"x\":\"[A-Za-z0-9_-]{0,50}\",\"y\":\"[A-Za-z0-9_-]{0,50}\"\\}",
        "\\{\"keys\":\\[[{}\\[\\]\",:a-z0-9]{0,40}\\]\\}",
    ]) {
        if let Some(pem) = ok_or_french(parse_public_key(&text))? {
            prop_assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        }
    }

    /// Names of uploaded files: no path, no quote, no control character, never empty.
    #[test]
    fn file_names_are_made_safe(text in hostile_text(20)) {
        let name = safe_file_name(&text);
        prop_assert!(!name.is_empty() && name.chars().count() <= 100);
        prop_assert!(!name.contains(['/', '\\', '"', '\'', ';', '<', '>', '`']));
        prop_assert!(!name.chars().any(char::is_control) && !name.starts_with('.'));
    }
}
