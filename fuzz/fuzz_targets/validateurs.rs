//! Validators of typed values: SIRET, IBAN, BIC, e-mail, perimeter codes,
//! amounts, public keys of OIDC services. Accepted values read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passerelle_core::accounts::model::{Email, Siret};
use passerelle_core::aidants_connect::oidc_provider::assertion::parse_public_key;
use passerelle_core::identifiants::{Bic, Iban};
use passerelle_core::money::{parse_percent, Centimes};
use passerelle_core::pass_numerique::model::Territory;

fuzz_target!(|text: &str| {
    if let Ok(s) = Siret::parse(text) {
        assert_eq!(Siret::parse(s.as_str()).ok(), Some(s));
    }
    if let Ok(iban) = Iban::parse(text) {
        assert_eq!(Iban::parse(&iban.to_string()).ok(), Some(iban.clone()));
        assert_eq!(Iban::parse(iban.as_str()).ok(), Some(iban));
    }
    if let Ok(bic) = Bic::parse(text) {
        assert_eq!(Bic::parse(bic.as_str()).ok(), Some(bic));
    }
    if let Ok(e) = Email::parse(text) {
        assert_eq!(Email::parse(e.as_str()).ok(), Some(e));
    }
    if let Ok(t) = Territory::parse(text) {
        assert_eq!(Territory::parse(t.code()).ok(), Some(t));
    }
    if let Ok(cents) = Centimes::parse_euros(text, "montant") {
        assert_eq!(Centimes::parse_euros(&cents.euros(), "montant").ok(), Some(cents));
    }
    let _ = parse_percent(text, "taux");
    let _ = parse_public_key(text);
});
