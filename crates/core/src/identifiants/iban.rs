//! The IBAN of an account paid or debited by SEPA transfer: the opérateur's
//! account, the bank details of a place (qualification form, change of bank
//! details, import of qualified places, settlement). One rule, one message.

use std::fmt;

use iban::IbanLike;

use crate::error::{CoreError, Result};

/// Countries and territories of the SEPA scheme (EPC list) with the length
/// of their IBAN in the ISO 13616 registry. The French overseas departments
/// and territories use `FR` IBANs.
const SEPA: &[(&str, usize)] = &[
    ("AD", 24),
    ("AT", 20),
    ("BE", 16),
    ("BG", 22),
    ("CH", 21),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("EE", 20),
    ("ES", 24),
    ("FI", 18),
    ("FR", 27),
    ("GB", 22),
    ("GI", 23),
    ("GR", 27),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IS", 26),
    ("IT", 27),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MT", 31),
    ("NL", 18),
    ("NO", 15),
    ("PL", 28),
    ("PT", 25),
    ("RO", 24),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("VA", 22),
];

/// An IBAN of the SEPA area (ISO 13616), kept in its electronic form
/// (`FR7630006000011234567890189`). Spaces typed between the groups and
/// lower case letters are accepted; the key (mod 97), the length of the
/// country and the national format of the account are checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Iban(String);

impl Iban {
    pub fn parse(input: &str) -> Result<Iban> {
        let shown = input.trim();
        let invalid = |why: String| CoreError::invalid(format!("IBAN invalide « {shown} » : {why}"));
        let s: String = input
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() < 5 || !b.iter().all(u8::is_ascii_alphanumeric) {
            return Err(invalid(
                "2 lettres du pays, 2 chiffres de clé puis le numéro de compte en lettres et chiffres attendus".into(),
            ));
        }
        if !b[..2].iter().all(u8::is_ascii_uppercase) || !b[2..4].iter().all(u8::is_ascii_digit) {
            return Err(invalid(
                "l'IBAN commence par les 2 lettres du pays puis 2 chiffres de clé (par exemple FR76)".into(),
            ));
        }
        let country = &s[..2];
        let Some(&(_, len)) = SEPA.iter().find(|(c, _)| *c == country) else {
            return Err(invalid(format!(
                "le pays {country} n'appartient pas à la zone SEPA ; un virement SEPA y est impossible"
            )));
        };
        if b.len() != len {
            return Err(invalid(format!(
                "un IBAN {country} compte {len} caractères, celui-ci en a {}",
                b.len()
            )));
        }
        if !(2..=98).contains(&s[2..4].parse::<u8>().unwrap_or(0)) || mod97(&s) != 1 {
            return Err(invalid(
                "la clé de contrôle (modulo 97) ne correspond pas ; vérifiez chaque caractère".into(),
            ));
        }
        // The national format of the account (letters and digits where the
        // registry puts them), from the ISO 13616 registry of the `iban` crate.
        let checked: iban::Iban = s
            .parse()
            .map_err(|_| invalid(format!("le numéro de compte ne suit pas le format des IBAN {country}")))?;
        Ok(Iban(checked.electronic_str().to_string()))
    }

    /// The electronic form, without spaces: SEPA files, storage, comparisons.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn country(&self) -> &str {
        &self.0[..2]
    }

    /// `FR76 •••• 0189`: enough to recognise an account, not to use it
    /// (pages of a place's staff, journal, statements).
    pub fn masked(&self) -> String {
        let n = self.0.len();
        format!("{} •••• {}", &self.0[..4], &self.0[n - 4..])
    }
}

/// The remainder of the IBAN, its first four characters moved to the end and
/// each letter read as two digits (A = 10 … Z = 35), divided by 97.
fn mod97(s: &str) -> u32 {
    let (head, tail) = s.split_at(4);
    tail.bytes().chain(head.bytes()).fold(0u32, |r, c| {
        if c.is_ascii_digit() {
            (r * 10 + u32::from(c - b'0')) % 97
        } else {
            (r * 100 + u32::from(c - b'A') + 10) % 97
        }
    })
}

/// `FR76 3000 6000 0112 3456 7890 189`: the paper form, for reading.
impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, group) in self.0.as_bytes().chunks(4).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(std::str::from_utf8(group).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

crate::identifiant_en_base!(Iban, "IBAN");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOOD: &str = "FR7630006000011234567890189";

    #[test]
    fn one_rule_for_every_iban() {
        let i = Iban::parse("fr76 3000 6000 0112 3456 7890 189").unwrap();
        assert_eq!(i.as_str(), GOOD);
        assert_eq!(i.to_string(), "FR76 3000 6000 0112 3456 7890 189");
        assert_eq!(i.masked(), "FR76 •••• 0189");
        assert_eq!(i.country(), "FR");
        assert_eq!(
            Iban::parse(" FR14\u{a0}2004 1010 0505 0001 3M02 606 ")
                .unwrap()
                .as_str(),
            "FR1420041010050500013M02606"
        );
        assert_eq!(
            Iban::parse("DE44 5001 0517 5407 3249 31").unwrap().as_str(),
            "DE44500105175407324931"
        );
        assert_eq!(
            Iban::parse("BE68539007547034").unwrap().to_string(),
            "BE68 5390 0754 7034"
        );
    }

    #[test]
    fn each_mistake_has_its_french_message() {
        let e = |t: &str| Iban::parse(t).unwrap_err().to_string();
        assert!(
            e("FR7630006000011234567890188").contains("modulo 97"),
            "{}",
            e("FR7630006000011234567890188")
        );
        assert!(e("BR1800360305000010009795493C1").contains("zone SEPA"));
        assert!(e("FR763000600001123456789018").contains("27 caractères"));
        assert!(e("FR76 0000").contains("27 caractères"));
        assert!(e("").starts_with("IBAN invalide"));
        assert!(e("7630006000011234567890189FR").contains("2 lettres du pays"));
        assert!(e("FR76-3000-6000-0112-3456-7890-189").starts_with("IBAN invalide"));
        // All zeros: check digits 00 are outside 02..98, whatever the remainder.
        assert!(e("FR00 0000 0000 0000 0000 0000 000").contains("modulo 97"));
        // Non-ASCII letters and digits are refused, not folded.
        assert!(Iban::parse("ＦＲ7630006000011234567890189").is_err());
        for msg in [e("x"), e("FR7630006000011234567890188")] {
            assert!(msg.starts_with("IBAN invalide « "), "{msg}");
        }
    }

    #[test]
    fn ibans_with_runs_of_letters_are_read() {
        // The registry's examples for Malta and the United Kingdom: letters in a
        // row (MTLCAST, NWBK) each read as two digits, the remainder kept small.
        assert_eq!(
            Iban::parse("MT84 MALT 0110 0001 2345 MTLC AST0 01S").unwrap().as_str(),
            "MT84MALT011000012345MTLCAST001S"
        );
        assert_eq!(
            Iban::parse("GB29 NWBK 6016 1331 9268 19").unwrap().masked(),
            "GB29 •••• 6819"
        );
        assert!(Iban::parse("MT84 MALT 0110 0001 2345 MTLC AST0 01T").is_err());
    }

    #[test]
    fn five_characters_are_enough_to_be_told_the_length() {
        // From five characters on, the message is about the country's length.
        let e = |t: &str| Iban::parse(t).unwrap_err().to_string();
        assert!(e("FR761").contains("27 caractères"), "{}", e("FR761"));
        assert!(e("FR76").contains("2 lettres du pays"), "{}", e("FR76"));
    }

    #[test]
    fn the_national_format_is_checked_too() {
        // A right key and length, but a letter where France has digits (bank code).
        let mut s = String::from("FR00A0006000011234567890189");
        let key = 98 - mod97(&s);
        s.replace_range(2..4, &format!("{key:02}"));
        let e = Iban::parse(&s).unwrap_err().to_string();
        assert!(e.contains("format des IBAN FR"), "{e}");
    }

    proptest! {
        #[test]
        fn any_text_is_read_or_refused(text in "\\PC{0,40}") {
            if let Ok(i) = Iban::parse(&text) {
                // The grouped paper form (not `as_str`) reads back too.
                let grouped = i.to_string();
                prop_assert_eq!(Iban::parse(&grouped).ok(), Some(i.clone()));
                prop_assert_eq!(Iban::parse(i.as_str()).ok(), Some(i));
            }
        }

        #[test]
        fn one_wrong_character_is_caught(pos in 4usize..27, delta in 1u8..10) {
            let mut bad = GOOD.as_bytes().to_vec();
            bad[pos] = b'0' + (bad[pos] - b'0' + delta) % 10;
            let text = String::from_utf8(bad).unwrap_or_default();
            prop_assert!(Iban::parse(&text).is_err());
        }
    }
}
