//! Validators of typed values: SIRET, IBAN, BIC, e-mail, perimeter codes,
//! amounts, public keys of OIDC services. Accepted values read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passerelle_core::accounts::model::{Email, Siret};
use passerelle_core::money::{euros, parse_euros, parse_percent};
use passerelle_core::aidants_connect::oidc_provider::assertion::parse_public_key;
use passerelle_core::pass_numerique::model::Territory;
use passerelle_core::reglements::bank::{parse_bic, parse_iban};

fuzz_target!(|text: &str| {
    if let Ok(s) = Siret::parse(text) {
        assert_eq!(Siret::parse(s.as_str()).ok(), Some(s));
    }
    if let Ok(iban) = parse_iban(text) {
        assert_eq!(parse_iban(&iban).ok(), Some(iban));
    }
    let _ = parse_bic(text);
    if let Ok(e) = Email::parse(text) {
        assert_eq!(Email::parse(e.as_str()).ok(), Some(e));
    }
    if let Ok(t) = Territory::parse(text) {
        assert_eq!(Territory::parse(t.code()).ok(), Some(t));
    }
    if let Ok(cents) = parse_euros(text, "montant") {
        assert_eq!(parse_euros(&euros(cents), "montant").ok(), Some(cents));
    }
    let _ = parse_percent(text, "taux");
    let _ = parse_public_key(text);
});
