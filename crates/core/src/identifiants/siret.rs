//! The SIRET, one rule for every domain (accounts, places, qualification of
//! places, Aidants Connect structures), and the `pivot` of the places
//! standard, where a placeholder of zeros stands for "unknown".

use std::fmt;

use crate::error::{CoreError, Result};

/// La Poste's SIREN: its establishments use a digit sum divisible by 5
/// instead of the Luhn key, except its head office, whose SIRET follows Luhn.
const LA_POSTE: &str = "356000000";
const LA_POSTE_SIEGE: &str = "35600000000048";

/// A SIRET: 14 digits with a valid key (Luhn; La Poste's rule for La Poste's
/// establishments). Spaces typed between the groups are accepted and dropped;
/// `00000000000000` (a placeholder, whose Luhn sum is 0) is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Siret(String);

impl Siret {
    pub fn parse(input: &str) -> Result<Siret> {
        let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.chars().count() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CoreError::invalid(format!(
                "SIRET invalide « {} » : 14 chiffres attendus",
                input.trim()
            )));
        }
        if digits.bytes().all(|b| b == b'0') {
            return Err(CoreError::invalid(
                "SIRET invalide « 00000000000000 » : ce numéro fictif ne désigne aucun établissement",
            ));
        }
        let valid = if digits.starts_with(LA_POSTE) && digits != LA_POSTE_SIEGE {
            digits
                .bytes()
                .map(|b| u32::from(b - b'0'))
                .sum::<u32>()
                .is_multiple_of(5)
        } else {
            luhn(&digits)
        };
        if !valid {
            return Err(CoreError::invalid(format!(
                "SIRET invalide « {} » : la clé de contrôle ne correspond pas ; vérifiez chaque chiffre",
                input.trim()
            )));
        }
        Ok(Siret(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SIREN: the legal entity, the first 9 digits.
    pub fn siren(&self) -> &str {
        &self.0[..9]
    }
}

impl fmt::Display for Siret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Bound as its 14 digits, read back through `Siret::parse`; also gives
// `FromStr`, `TryFrom<String>`, `From<Siret> for String` and `AsRef<str>`.
// Only columns written through this rule are read as `Siret` (see
// `controle::sirets_a_reprendre` for the older rows).
crate::identifiant_en_base!(Siret, "SIRET");

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 {
                    dd - 9
                } else {
                    dd
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The `pivot` of a place in the national standard: its SIRET, its RNA number
/// (an association without SIRET), or the standard's placeholder of zeros for
/// "unknown", kept as such and never taken for a SIRET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pivot {
    Siret(Siret),
    Rna(String),
    /// `00000000000000` (any number of zeros): the producer did not know it.
    Inconnu,
    /// Another identifier the standard allows (a SIREN, a RIDET in New
    /// Caledonia…), kept as written.
    Autre(String),
}

impl Pivot {
    pub fn parse(input: &str) -> Result<Pivot> {
        let p = input.trim();
        if !p.is_empty() && p.bytes().all(|b| b == b'0') {
            return Ok(Pivot::Inconnu);
        }
        if p.len() == 14 && p.bytes().all(|b| b.is_ascii_digit()) {
            return Siret::parse(p).map(Pivot::Siret);
        }
        if p.starts_with(['W', 'w']) {
            if p.len() == 10 && p[1..].bytes().all(|b| b.is_ascii_digit()) {
                return Ok(Pivot::Rna(p.to_uppercase()));
            }
            return Err(CoreError::invalid(format!(
                "numéro RNA « {p} » invalide : W suivi de 9 chiffres attendu"
            )));
        }
        if p.bytes().all(|b| b.is_ascii_digit()) && p.len() > 9 {
            return Err(CoreError::invalid(format!(
                "pivot « {p} » invalide : SIRET (14 chiffres), SIREN (9) ou RNA (W + 9 chiffres) attendu"
            )));
        }
        Ok(Pivot::Autre(p.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_every_siret() {
        assert_eq!(Siret::parse("732 829 320 00074").unwrap().as_str(), "73282932000074");
        assert_eq!(Siret::parse("73282932000074").unwrap().siren(), "732829320");
        assert!(Siret::parse("73282932000075").is_err());
        assert!(Siret::parse("7328293200007").is_err());
        assert!(Siret::parse("7328293200007A").is_err());
        assert!(Siret::parse("1234").is_err());
        // A placeholder passes Luhn (sum 0) but names no establishment.
        let zero = Siret::parse("00000000000000").unwrap_err().to_string();
        assert!(zero.contains("fictif"), "{zero}");
        // Separators other than spaces are not part of a SIRET.
        assert!(Siret::parse("732.829.320.00074").is_err());
        assert!(Siret::parse("732-829-320-00074").is_err());
        // La Poste: digit sum divisible by 5; its head office follows Luhn.
        assert!(Siret::parse("35600000000047").is_ok(), "digit sum 25");
        assert!(Siret::parse("35600000000048").is_ok(), "head office");
        assert!(Siret::parse("35600000000046").is_err(), "digit sum 24");
        // Non-ASCII digits are not digits.
        assert!(Siret::parse("７３２８２９３２０００７４").is_err());
    }

    #[test]
    fn pivots_keep_the_placeholder_apart() {
        assert_eq!(Pivot::parse("00000000000000").unwrap(), Pivot::Inconnu);
        assert_eq!(
            Pivot::parse("73282932000074").unwrap(),
            Pivot::Siret(Siret::parse("73282932000074").unwrap())
        );
        assert_eq!(Pivot::parse("w123456789").unwrap(), Pivot::Rna("W123456789".into()));
        assert!(Pivot::parse("W12").is_err());
        assert!(Pivot::parse("73282932000075").is_err());
        assert!(Pivot::parse("1234567890").is_err());
        assert_eq!(Pivot::parse("732829320").unwrap(), Pivot::Autre("732829320".into()));
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_read_or_refused(text in "\\PC{0,40}") {
            let _ = Siret::parse(&text);
            let _ = Pivot::parse(&text);
        }

        #[test]
        fn one_wrong_digit_of_a_siret_is_caught(pos in 0usize..14, delta in 1u8..10) {
            let good = b"73282932000074";
            let mut bad = good.to_vec();
            bad[pos] = b'0' + (bad[pos] - b'0' + delta) % 10;
            let text = String::from_utf8(bad).unwrap_or_default();
            proptest::prop_assert!(Siret::parse(&text).is_err());
        }
    }
}
