//! The postcode of an address (La Poste): places, official territories
//! (the postcodes of a commune), demo data and imports.

use std::fmt;

use crate::error::{CoreError, Result};

/// A French postcode: 5 digits, the first two never `00` (`33000`,
/// `06000`, `20000` Ajaccio, `97400`, `98800`). Surrounding spaces are
/// accepted; a postcode that lost its leading zero in a spreadsheet
/// (`6000`) is refused here, and completed only where an import says so.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct CodePostal(String);

impl CodePostal {
    pub fn parse(input: &str) -> Result<CodePostal> {
        let c = input.trim();
        if c.len() != 5 || !c.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CoreError::invalid(format!(
                "code postal invalide « {c} » : 5 chiffres attendus (par exemple 33000)"
            )));
        }
        if c.starts_with("00") {
            return Err(CoreError::invalid(format!(
                "code postal invalide « {c} » : aucun code postal ne commence par 00"
            )));
        }
        Ok(CodePostal(c.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The département the postcode belongs to, when nothing better (an INSEE
    /// code) is known: overseas codes have three digits (`974`), Corsican
    /// postcodes `200xx`–`201xx` are Corse-du-Sud (`2A`), `202xx` and above
    /// Haute-Corse (`2B`); elsewhere the first two digits.
    pub fn departement(&self) -> &str {
        let c = self.0.as_str();
        if c.starts_with("97") || c.starts_with("98") {
            &c[..3]
        } else if let Some(rest) = c.strip_prefix("20") {
            if rest.starts_with(['0', '1']) {
                "2A"
            } else {
                "2B"
            }
        } else {
            &c[..2]
        }
    }
}

impl fmt::Display for CodePostal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::identifiant_en_base!(CodePostal, "code postal");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn five_digits_and_nothing_else() {
        for good in ["33000", "06000", "20000", "97400", "98800", " 75001 ", "01000"] {
            assert_eq!(CodePostal::parse(good).unwrap().as_str(), good.trim());
        }
        for bad in [
            "",
            "6000",
            "330000",
            "33 000",
            "3300A",
            "00000",
            "00100",
            "２００００",
            "-3300",
        ] {
            let e = CodePostal::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("code postal invalide « "), "{bad:?} : {e}");
        }
    }

    proptest! {
        #[test]
        fn any_text_is_read_or_refused(text in "\\PC{0,10}") {
            if let Ok(c) = CodePostal::parse(&text) {
                prop_assert_eq!(CodePostal::parse(c.as_str()).ok(), Some(c));
            }
        }

        #[test]
        fn every_five_digit_code_past_00_is_read(n in 1_000u32..100_000) {
            let code = format!("{n:05}");
            prop_assert_eq!(CodePostal::parse(&code).map(|c| c.to_string()).ok(), Some(code));
        }
    }
}
