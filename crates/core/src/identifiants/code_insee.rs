//! The INSEE code of a commune (code officiel géographique): places,
//! official territories, a hub's territory, demo data and imports.

use std::fmt;

use crate::error::{CoreError, Result};

/// The INSEE code of a commune: 5 characters, the département first
/// (`33063` Bordeaux, `2A004` Ajaccio, `97105` Basse-Terre, `98818`
/// Nouméa). Metropolitan départements are `01` to `95` without `20`
/// (Corsica is `2A` and `2B`); overseas codes start with `971` to `978`
/// or `984` to `989`. Surrounding spaces and lower case `2a`/`2b` are
/// accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct CodeInsee(String);

impl CodeInsee {
    pub fn parse(input: &str) -> Result<CodeInsee> {
        let c = input.trim().to_ascii_uppercase();
        let b = c.as_bytes();
        let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
        let shape = b.len() == 5 && digits(&b[2..]) && (digits(&b[..2]) || matches!(&b[..2], b"2A" | b"2B"));
        if !shape {
            return Err(CoreError::invalid(format!(
                "code INSEE invalide « {} » : 5 caractères attendus, le département en tête (33063, 2A004, 97105)",
                input.trim()
            )));
        }
        let known = match &b[..2] {
            b"2A" | b"2B" => true,
            b"00" | b"20" | b"96" | b"99" => false,
            b"97" => (b'1'..=b'8').contains(&b[2]),
            b"98" => (b'4'..=b'9').contains(&b[2]),
            _ => true,
        };
        if !known {
            return Err(CoreError::invalid(format!(
                "code INSEE invalide « {} » : aucun département « {} » (01 à 95, 2A, 2B, 971 à 978, 984 à 989)",
                input.trim(),
                &c[..if b[0] == b'9' { 3 } else { 2 }]
            )));
        }
        Ok(CodeInsee(c))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The département (or overseas collectivity) code: `33`, `2A`, `971`, `988`.
    pub fn departement(&self) -> &str {
        if self.0.starts_with("97") || self.0.starts_with("98") {
            &self.0[..3]
        } else {
            &self.0[..2]
        }
    }
}

impl fmt::Display for CodeInsee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::identifiant_en_base!(CodeInsee, "code INSEE");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_rule_for_every_commune() {
        let dep = |t: &str| CodeInsee::parse(t).map(|c| c.departement().to_string()).ok();
        assert_eq!(dep("33063").as_deref(), Some("33"));
        assert_eq!(dep("01001").as_deref(), Some("01"));
        assert_eq!(dep(" 2a004 ").as_deref(), Some("2A"));
        assert_eq!(dep("2B033").as_deref(), Some("2B"));
        assert_eq!(dep("97105").as_deref(), Some("971"));
        assert_eq!(dep("97411").as_deref(), Some("974"));
        assert_eq!(dep("97611").as_deref(), Some("976"));
        assert_eq!(dep("98818").as_deref(), Some("988"));
        assert_eq!(dep("95127").as_deref(), Some("95"));
        assert_eq!(CodeInsee::parse("2a004").unwrap().as_str(), "2A004");
    }

    #[test]
    fn what_no_commune_has_is_refused_in_french() {
        for bad in [
            "",
            "3306",
            "330630",
            "33 063",
            "2C004",
            "A2004",
            "00000",
            "00123",
            "20004",
            "96001",
            "97001",
            "97901",
            "98001",
            "99100",
            "3306A",
            "３３０６３",
        ] {
            let e = CodeInsee::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("code INSEE invalide « "), "{bad:?} : {e}");
        }
        let e = CodeInsee::parse("20004").unwrap_err().to_string();
        assert!(e.contains("aucun département « 20 »"), "{e}");
        let e = CodeInsee::parse("97901").unwrap_err().to_string();
        assert!(e.contains("« 979 »"), "{e}");
    }

    proptest! {
        #[test]
        fn any_text_is_read_or_refused(text in "\\PC{0,10}") {
            if let Ok(c) = CodeInsee::parse(&text) {
                prop_assert_eq!(c.as_str().len(), 5);
                prop_assert!(c.as_str().starts_with(c.departement()));
                prop_assert_eq!(CodeInsee::parse(c.as_str()).ok(), Some(c));
            }
        }

        #[test]
        fn metropolitan_codes_are_read(dep in 1u32..=95, commune in 0u32..1000) {
            prop_assume!(dep != 20);
            let code = format!("{dep:02}{commune:03}");
            prop_assert_eq!(CodeInsee::parse(&code).map(|c| c.departement().to_string()).ok(), Some(format!("{dep:02}")));
        }
    }
}
