//! Bank details of a place that gets paid: the holder's name here; the IBAN
//! is [`crate::identifiants::Iban`], the BIC [`crate::identifiants::Bic`],
//! the SIRET [`crate::identifiants::Siret`]. Each reader refuses with a
//! French message saying what is wrong.

use crate::error::{CoreError, Result};

/// The account holder's name, as the bank knows it. It must keep at least
/// one letter or digit in the SEPA Latin set, or the transfer file would name nobody.
pub fn parse_holder(text: &str) -> Result<String> {
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
    fn a_holder_has_1_to_70_characters() {
        let name = "É".repeat(70);
        assert_eq!(parse_holder(&format!("  {name} ")).unwrap(), name);
        for bad in [String::new(), "   ".into(), "É".repeat(71)] {
            let e = parse_holder(&bad).unwrap_err().to_string();
            assert!(e.contains("nom de 1 à 70 caractères"), "{bad:?} : {e}");
        }
    }

    proptest! {
        #[test]
        fn any_text_is_read_or_refused(text in "\\PC{0,40}") {
            let _ = parse_holder(&text);
        }
    }
}
