//! Bank details of a place that gets paid: IBAN (ISO 13616 mod-97, SEPA
//! countries), BIC (ISO 9362 shape); the SIRET is [`crate::identifiants::Siret`]. Each reader
//! refuses with a French message saying what is wrong.

use iban::IbanLike;

use crate::error::{CoreError, CoreResult};

/// Countries and territories of the SEPA scheme (EPC list), by IBAN prefix.
const SEPA_COUNTRIES: &[&str] = &[
    "AD", "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GI", "GR", "HR", "HU", "IE",
    "IS", "IT", "LI", "LT", "LU", "LV", "MC", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK", "SM", "VA",
];

fn compact(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '.')
        .collect::<String>()
        .to_uppercase()
}

/// An IBAN of the SEPA area, in electronic form (`FR7630006000011234567890189`).
pub fn parse_iban(text: &str) -> CoreResult<String> {
    let s = compact(text);
    let iban: iban::Iban = s.parse().map_err(|_| {
        CoreError::invalid(format!(
            "IBAN « {} » invalide : longueur, format du pays ou clé de contrôle (modulo 97) fausse",
            text.trim()
        ))
    })?;
    let country = iban.country_code();
    if !SEPA_COUNTRIES.contains(&country) {
        return Err(CoreError::invalid(format!(
            "IBAN : le pays {country} n'appartient pas à la zone SEPA ; un virement SEPA y est impossible"
        )));
    }
    Ok(iban.electronic_str().to_string())
}

/// A BIC: 4 letters (bank), 2 letters (country), 2 letters or digits (place),
/// optionally 3 letters or digits (branch).
pub fn parse_bic(text: &str) -> CoreResult<String> {
    let s = compact(text);
    let b = s.as_bytes();
    let alnum = |r: &[u8]| r.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let ok = (s.len() == 8 || s.len() == 11) && b[..6].iter().all(u8::is_ascii_uppercase) && alnum(&b[6..]);
    if ok {
        Ok(s)
    } else {
        Err(CoreError::invalid(format!(
            "BIC « {} » invalide : 8 ou 11 caractères attendus, par exemple BNPAFRPP ou BNPAFRPPXXX",
            text.trim()
        )))
    }
}

/// The account holder's name, as the bank knows it. It must keep at least
/// one letter or digit in the SEPA Latin set, or the transfer file would name nobody.
pub fn parse_holder(text: &str) -> CoreResult<String> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > 70 {
        return Err(CoreError::invalid(
            "titulaire du compte : nom de 1 à 70 caractères attendu",
        ));
    }
    if !super::sepa::sepa_text(t, 70).chars().any(|c| c.is_ascii_alphanumeric()) {
        return Err(CoreError::invalid(
            "titulaire du compte : nom en lettres latines attendu, comme la banque l'écrit (un virement SEPA n'accepte que l'alphabet latin)",
        ));
    }
    Ok(t.to_string())
}

/// `FR76 3000 6000 …` for reading.
pub fn grouped_iban(iban: &str) -> String {
    iban.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `FR76 •••• … 0189`: enough to recognise an account, not to use it.
pub fn masked_iban(iban: &str) -> String {
    let n = iban.len();
    if n < 8 {
        return "••••".into();
    }
    format!("{} •••• {}", &iban[..4], &iban[n - 4..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Found by fuzzing: a name with no Latin letter was accepted, and the
    /// transfer file then had an empty `<Nm/>`, which banks reject.
    #[test]
    fn holders_without_latin_letters_are_refused() {
        for bad in ["𞸀", "数字", "«»", "…"] {
            let e = parse_holder(bad).unwrap_err().to_string();
            assert!(e.contains("lettres latines"), "{bad:?} : {e}");
        }
        assert_eq!(parse_holder(" Œuvre d’Émile ").unwrap(), "Œuvre d’Émile");
    }

    #[test]
    fn iban_and_bic() {
        assert_eq!(
            parse_iban("fr76 3000 6000 0112 3456 7890 189").ok().as_deref(),
            Some("FR7630006000011234567890189")
        );
        assert!(parse_iban("FR7630006000011234567890188").is_err(), "mod 97");
        assert!(parse_iban("BR1800360305000010009795493C1").is_err(), "outside SEPA");
        assert_eq!(parse_bic("bnpa fr pp").ok().as_deref(), Some("BNPAFRPP"));
        assert!(parse_bic("BNPAFRPPX").is_err());
        assert!(parse_bic("BNP1FRPP").is_err());
        assert_eq!(
            grouped_iban("FR7630006000011234567890189"),
            "FR76 3000 6000 0112 3456 7890 189"
        );
        assert_eq!(masked_iban("FR7630006000011234567890189"), "FR76 •••• 0189");
    }

    proptest! {
        #[test]
        fn any_text_is_read_or_refused(text in "\\PC{0,40}") {
            let _ = parse_iban(&text);
            let _ = parse_bic(&text);
        }
    }
}
