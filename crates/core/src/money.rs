//! Money is integer cents everywhere: [`Centimes`] holds the conversions to
//! and from text (French pages, forms, SEPA files); these free functions are
//! thin wrappers for amounts still held as `i64`, and the percentage reader.

use crate::error::{CoreError, CoreResult};
use crate::identifiants::centimes::hundredths;
pub use crate::identifiants::Centimes;

/// `1000` → `10`, `1050` → `10,50`: [`Centimes::euros`] for an amount still held as `i64`.
pub fn euros(cents: i64) -> String {
    Centimes::new(cents).euros()
}

/// `1050` → `10.50`: [`Centimes::decimal`] for an amount still held as `i64`.
pub fn decimal(cents: i64) -> String {
    Centimes::new(cents).decimal()
}

/// [`Centimes::parse_euros`], in cents, for a caller still holding `i64`.
pub fn parse_euros(text: &str, what: &str) -> CoreResult<i64> {
    Centimes::parse_euros(text, what).map(Centimes::centimes)
}

/// Reads a percentage typed by a person (`4`, `4,5 %`) in hundredths of a percent (`450`).
pub fn parse_percent(text: &str, what: &str) -> CoreResult<i64> {
    hundredths(text, '%').ok_or_else(|| {
        CoreError::invalid(format!(
            "{what} : pourcentage attendu (par exemple 4 ou 4,5), « {} » reçu",
            text.trim()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn euros_are_written_the_french_way() {
        assert_eq!(euros(1000), "10");
        assert_eq!(euros(1050), "10,50");
        assert_eq!(euros(5), "0,05");
        assert_eq!(euros(1_045_000), "10\u{a0}450");
        assert_eq!(euros(123_456_789), "1\u{a0}234\u{a0}567,89");
        assert_eq!(euros(-250), "-2,50");
    }

    #[test]
    fn decimals_for_machines() {
        assert_eq!(decimal(1050), "10.50");
        assert_eq!(decimal(5), "0.05");
        assert_eq!(decimal(123_456_789), "1234567.89");
        assert_eq!(decimal(-250), "-2.50");
    }

    #[test]
    fn typed_amounts() {
        assert_eq!(parse_euros("10", "x").ok(), Some(1000));
        assert_eq!(parse_euros("10,5", "x").ok(), Some(1050));
        assert_eq!(parse_euros(" 1 000,05 €", "x").ok(), Some(100_005));
        assert_eq!(parse_euros("0.07", "x").ok(), Some(7));
        assert_eq!(parse_percent("4,5 %", "x").ok(), Some(450));
        for bad in ["", "-3", "1,234", "10,", "abc", "1e3", "99999999999999999999", "1,2,3"] {
            assert!(parse_euros(bad, "valeur").is_err(), "{bad:?} accepté");
        }
    }

    proptest! {
        #[test]
        fn written_amounts_read_back(cents in 0i64..10_000_000_000) {
            prop_assert_eq!(parse_euros(&euros(cents), "x").ok(), Some(cents));
            prop_assert_eq!(parse_euros(&decimal(cents), "x").ok(), Some(cents));
        }

        #[test]
        fn any_text_is_read_or_refused(text in "\\PC{0,20}") {
            let _ = parse_euros(&text, "x");
        }
    }
}
