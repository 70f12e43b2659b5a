//! The BIC of a bank (ISO 9362), next to every IBAN: the opérateur's
//! account, the bank details of a place, the SEPA transfer file.

use std::fmt;

use crate::error::{CoreError, Result};

/// A BIC: 4 letters (bank), 2 letters (country), 2 letters or digits
/// (place), optionally 3 letters or digits (branch): `BNPAFRPP`,
/// `CCBPFRPPBDX`. Spaces and lower case are accepted and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Bic(String);

impl Bic {
    pub fn parse(input: &str) -> Result<Bic> {
        let s: String = input
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let b = s.as_bytes();
        let alnum = |r: &[u8]| r.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        let ok = (b.len() == 8 || b.len() == 11) && b[..6].iter().all(u8::is_ascii_uppercase) && alnum(&b[6..]);
        if !ok {
            return Err(CoreError::invalid(format!(
                "BIC invalide « {} » : 8 ou 11 caractères attendus (4 lettres de la banque, 2 du pays, 2 du lieu, 3 de l'agence au besoin), par exemple BNPAFRPP ou BNPAFRPPXXX",
                input.trim()
            )));
        }
        Ok(Bic(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn country(&self) -> &str {
        &self.0[4..6]
    }
}

impl fmt::Display for Bic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::identifiant_en_base!(Bic, "BIC");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_rule_for_every_bic() {
        assert_eq!(Bic::parse("bnpa fr pp").unwrap().as_str(), "BNPAFRPP");
        assert_eq!(Bic::parse("CCBPFRPPBDX").unwrap().to_string(), "CCBPFRPPBDX");
        assert_eq!(Bic::parse("PSSTFRPPBOR").unwrap().country(), "FR");
        assert!(Bic::parse("DEUTDEFF500").is_ok(), "digits in the branch");
        assert!(Bic::parse("BNPAFRP1").is_ok(), "a digit in the place");
        for bad in [
            "",
            "BNPAFRPPX",
            "BNP1FRPP",
            "BNPAFRP",
            "BNPAFRPPXXXX",
            "BNPA-FR-PP",
            "BNPAFRPÉ",
            "00000000",
        ] {
            let e = Bic::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("BIC invalide « "), "{bad:?} : {e}");
        }
    }

    proptest! {
        #[test]
        fn any_text_is_read_or_refused(text in "\\PC{0,20}") {
            if let Ok(b) = Bic::parse(&text) {
                prop_assert_eq!(Bic::parse(b.as_str()).ok(), Some(b));
            }
        }

        #[test]
        fn well_shaped_bics_are_read_in_any_case(bic in "[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?", lower in any::<bool>()) {
            let typed = if lower { bic.to_lowercase() } else { bic.clone() };
            prop_assert_eq!(Bic::parse(&typed).ok().map(|b| b.as_str().to_string()), Some(bic));
        }
    }
}
