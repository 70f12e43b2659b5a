//! Money is integer cents everywhere: [`Centimes`] holds the conversions to
//! and from text (French pages, forms, SEPA files). What remains here are the
//! percentages (an operator's fee), held in hundredths of a percent.

use crate::error::{CoreError, Result};
use crate::identifiants::centimes::hundredths;
pub use crate::identifiants::Centimes;

/// `450` → `4,50`, `400` → `4`: a percentage held in hundredths of a
/// percent, written the French way (as [`Centimes::euros`] writes cents).
pub fn percent(hundredths: i64) -> String {
    Centimes::new(hundredths).euros()
}

/// Reads a percentage typed by a person (`4`, `4,5 %`) in hundredths of a percent (`450`).
pub fn parse_percent(text: &str, what: &str) -> Result<i64> {
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

    // Amounts of money are tested with `Centimes` (identifiants/centimes.rs).

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("4,5 %", "x").ok(), Some(450));
        assert_eq!(parse_percent("4", "x").ok(), Some(400));
        assert_eq!(percent(450), "4,50");
        assert_eq!(percent(400), "4");
        assert_eq!(percent(5), "0,05");
        for bad in ["", "-3", "1,234", "4,5 €", "abc"] {
            assert!(parse_percent(bad, "frais").is_err(), "{bad:?} accepté");
        }
    }

    proptest! {
        #[test]
        fn written_percentages_read_back(h in 0i64..1_000_000) {
            prop_assert_eq!(parse_percent(&percent(h), "x").ok(), Some(h));
        }
    }
}
