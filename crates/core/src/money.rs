//! Money is integer cents everywhere; these are the only conversions to and
//! from text (French pages, forms, SEPA files).

use crate::error::{CoreError, CoreResult};

/// `1000` → `10`, `1050` → `10,50`, `1045000` → `10 450` (French grouping, no-break space).
pub fn euros(cents: i64) -> String {
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
pub fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:02}",
        (cents / 100).unsigned_abs(),
        (cents % 100).unsigned_abs()
    )
}

/// Reads an amount in euros typed by a person: `10`, `10,5`, `10.50`, `1 000,00 €`.
/// At most two decimals; never negative; refuses anything else with a French message.
pub fn parse_euros(text: &str, what: &str) -> CoreResult<i64> {
    hundredths(text, '€').ok_or_else(|| {
        CoreError::invalid(format!(
            "{what} : montant en euros attendu (par exemple 10 ou 10,50), « {} » reçu",
            text.trim()
        ))
    })
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

/// A non-negative decimal number with at most two decimals, times 100.
fn hundredths(text: &str, unit: char) -> Option<i64> {
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
