//! Money: an amount in integer cents of euro, never a float. Read once from
//! what a person typed (`parse_euros`), stored as a BIGINT/INTEGER of cents
//! on both engines, written back the French way (`euros`) or for machines
//! (`decimal`: SEPA files, CSV).

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub};

use crate::error::{CoreError, Result};

/// An amount in cents of euro (`1050` = 10,50 €). Negative amounts exist
/// (a credit note, a difference); what people type is never negative.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct Centimes(i64);

impl Centimes {
    pub const ZERO: Centimes = Centimes(0);

    pub const fn new(cents: i64) -> Centimes {
        Centimes(cents)
    }

    /// Whole euros: `Centimes::from_euros(10)` = 10,00 €.
    pub const fn from_euros(euros: i64) -> Centimes {
        Centimes(euros * 100)
    }

    /// The number of cents.
    pub const fn centimes(self) -> i64 {
        self.0
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `n` times this amount, or `None` past `i64` (a quantity typed by someone).
    pub fn checked_mul(self, n: i64) -> Option<Centimes> {
        self.0.checked_mul(n).map(Centimes)
    }

    pub fn checked_add(self, other: Centimes) -> Option<Centimes> {
        self.0.checked_add(other.0).map(Centimes)
    }

    /// `n` times this amount, held at the bounds of `i64` (a total on a page, never a payment).
    pub fn saturating_mul(self, n: i64) -> Centimes {
        Centimes(self.0.saturating_mul(n))
    }

    /// This amount plus another, held at the bounds of `i64` (a total on a page, never a payment).
    pub fn saturating_add(self, other: Centimes) -> Centimes {
        Centimes(self.0.saturating_add(other.0))
    }

    /// `1000` → `10`, `1050` → `10,50`, `1045000` → `10 450` (French
    /// grouping with a no-break space; no currency sign).
    pub fn euros(self) -> String {
        let cents = self.0;
        let units = (cents / 100).unsigned_abs().to_string();
        let mut grouped = String::new();
        for (i, c) in units.chars().enumerate() {
            if i > 0 && (units.len() - i).is_multiple_of(3) {
                grouped.push('\u{a0}');
            }
            grouped.push(c);
        }
        let sign = if cents < 0 { "-" } else { "" };
        if cents % 100 == 0 {
            format!("{sign}{grouped}")
        } else {
            format!("{sign}{grouped},{:02}", (cents % 100).abs())
        }
    }

    /// `1050` → `10.50`: two decimals, a dot, no grouping (SEPA files, CSV for machines).
    pub fn decimal(self) -> String {
        let cents = self.0;
        let sign = if cents < 0 { "-" } else { "" };
        format!(
            "{sign}{}.{:02}",
            (cents / 100).unsigned_abs(),
            (cents % 100).unsigned_abs()
        )
    }

    /// Reads an amount in euros typed by a person: `10`, `10,5`, `10.50`,
    /// `1 000,00 €`. At most two decimals; never negative; anything else is
    /// refused with a French message naming `what`.
    pub fn parse_euros(text: &str, what: &str) -> Result<Centimes> {
        hundredths(text, '€').map(Centimes).ok_or_else(|| {
            CoreError::invalid(format!(
                "{what} : montant en euros attendu (par exemple 10 ou 10,50), « {} » reçu",
                text.trim()
            ))
        })
    }
}

/// A non-negative decimal number with at most two decimals, times 100,
/// `unit` (`€`, `%`) allowed at the end.
pub(crate) fn hundredths(text: &str, unit: char) -> Option<i64> {
    let cleaned: String = text
        .trim()
        .trim_end_matches(unit)
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    let (units, fraction) = match cleaned.split_once([',', '.']) {
        Some((u, f)) => (u, Some(f)),
        None => (cleaned.as_str(), None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(units) || fraction.is_some_and(|f| !digits(f) || f.len() > 2) {
        return None;
    }
    let units: i64 = units.parse().ok()?;
    let cents: i64 = match fraction {
        None => 0,
        Some(f) if f.len() == 1 => f.parse::<i64>().ok()? * 10,
        Some(f) => f.parse().ok()?,
    };
    units.checked_mul(100)?.checked_add(cents)
}

/// `10,50 €`: an amount in a sentence.
impl fmt::Display for Centimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\u{a0}€", self.euros())
    }
}

impl Add for Centimes {
    type Output = Centimes;
    fn add(self, other: Centimes) -> Centimes {
        Centimes(self.0 + other.0)
    }
}

impl AddAssign for Centimes {
    fn add_assign(&mut self, other: Centimes) {
        self.0 += other.0;
    }
}

impl Sub for Centimes {
    type Output = Centimes;
    fn sub(self, other: Centimes) -> Centimes {
        Centimes(self.0 - other.0)
    }
}

impl Neg for Centimes {
    type Output = Centimes;
    fn neg(self) -> Centimes {
        Centimes(-self.0)
    }
}

impl Sum for Centimes {
    fn sum<I: Iterator<Item = Centimes>>(iter: I) -> Centimes {
        Centimes(iter.map(|c| c.0).sum())
    }
}

impl<'a> Sum<&'a Centimes> for Centimes {
    fn sum<I: Iterator<Item = &'a Centimes>>(iter: I) -> Centimes {
        iter.copied().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn euros_are_written_the_french_way() {
        assert_eq!(Centimes::new(1000).euros(), "10");
        assert_eq!(Centimes::new(1050).euros(), "10,50");
        assert_eq!(Centimes::new(5).euros(), "0,05");
        assert_eq!(Centimes::ZERO.euros(), "0");
        assert_eq!(Centimes::new(1_045_000).euros(), "10\u{a0}450");
        // Groups of three start after the first digit, never before it.
        assert_eq!(Centimes::new(10_000).euros(), "100");
        assert_eq!(Centimes::new(10_000_000).euros(), "100\u{a0}000");
        assert_eq!(Centimes::new(123_456_789).euros(), "1\u{a0}234\u{a0}567,89");
        assert_eq!(Centimes::new(-250).euros(), "-2,50");
        assert_eq!(Centimes::new(-5).euros(), "-0,05");
        assert_eq!(Centimes::new(1050).to_string(), "10,50\u{a0}€");
        assert_eq!(Centimes::from_euros(12), Centimes::new(1200));
    }

    #[test]
    fn decimals_for_machines() {
        assert_eq!(Centimes::new(1050).decimal(), "10.50");
        assert_eq!(Centimes::new(5).decimal(), "0.05");
        assert_eq!(Centimes::ZERO.decimal(), "0.00");
        assert_eq!(Centimes::new(123_456_789).decimal(), "1234567.89");
        assert_eq!(Centimes::new(-250).decimal(), "-2.50");
    }

    #[test]
    fn typed_amounts() {
        let read = |t: &str| Centimes::parse_euros(t, "x").ok().map(Centimes::centimes);
        assert_eq!(read("10"), Some(1000));
        assert_eq!(read("10,5"), Some(1050));
        assert_eq!(read(" 1 000,05 €"), Some(100_005));
        assert_eq!(read("0.07"), Some(7));
        assert_eq!(read("0"), Some(0));
        assert_eq!(read("0,00"), Some(0));
        for bad in [
            "",
            "-3",
            "1,234",
            "10,",
            "abc",
            "1e3",
            "99999999999999999999",
            "1,2,3",
            "€",
            "１０",
        ] {
            let e = Centimes::parse_euros(bad, "Prix").unwrap_err().to_string();
            assert!(e.starts_with("Prix : montant en euros attendu"), "{bad:?} : {e}");
        }
    }

    #[test]
    fn arithmetic_stays_in_cents() {
        let lines = [Centimes::new(1050), Centimes::new(250), Centimes::new(-300)];
        assert_eq!(lines.iter().sum::<Centimes>(), Centimes::new(1000));
        assert_eq!(lines.into_iter().sum::<Centimes>(), Centimes::new(1000));
        assert_eq!(Centimes::new(1050).checked_mul(3), Some(Centimes::new(3150)));
        assert_eq!(Centimes::new(i64::MAX).checked_mul(2), None);
        assert_eq!(Centimes::new(i64::MAX).checked_add(Centimes::new(1)), None);
        assert_eq!(Centimes::new(i64::MAX).saturating_mul(2), Centimes::new(i64::MAX));
        assert_eq!(Centimes::new(-5).saturating_mul(3), Centimes::new(-15));
        assert_eq!(
            Centimes::new(i64::MAX).saturating_add(Centimes::new(1)),
            Centimes::new(i64::MAX)
        );
        let mut t = Centimes::ZERO;
        t += Centimes::new(5);
        assert_eq!(t - Centimes::new(7), -Centimes::new(2));
        assert!(Centimes::ZERO.is_zero());
        assert!(!Centimes::new(1).is_zero());
        assert!(!Centimes::new(-1).is_zero());
        assert_eq!(Centimes::new(1050) + Centimes::new(250), Centimes::new(1300));
        assert_eq!(
            Centimes::new(1050).checked_add(Centimes::new(-50)),
            Some(Centimes::new(1000))
        );
    }

    proptest! {
        #[test]
        fn written_amounts_read_back(cents in 0i64..10_000_000_000) {
            let c = Centimes::new(cents);
            prop_assert_eq!(Centimes::parse_euros(&c.euros(), "x").ok(), Some(c));
            prop_assert_eq!(Centimes::parse_euros(&c.decimal(), "x").ok(), Some(c));
            prop_assert_eq!(Centimes::parse_euros(&c.to_string(), "x").ok(), Some(c));
        }

        #[test]
        fn any_text_is_read_or_refused(text in "\\PC{0,20}") {
            if let Ok(c) = Centimes::parse_euros(&text, "x") {
                prop_assert!(c.centimes() >= 0);
            }
        }
    }
}
