//! A hub's territory: coverage indicators per département (places, qualified
//! places, population, activity, cheques redeemed), places whose data looks
//! stale or wrong, and corrections the hub proposes to the places.
//!
//! The territory is the hub's départements (`hub_departements`, see
//! [`crate::hubs`]); a place belongs to it as the qualification review decides
//! ([`crate::qualification::applications::scope`]).

pub mod authz;
pub mod corrections;
pub mod indicateurs;
pub mod verification;

use jiff::civil::Date;

/// The twelve months ending with `today`'s month, oldest first (`AAAA-MM`).
pub fn last_twelve_months(today: Date) -> Vec<String> {
    let (mut y, mut m) = (today.year(), today.month());
    let mut out = Vec::with_capacity(12);
    for _ in 0..12 {
        out.push(format!("{y:04}-{m:02}"));
        if m == 1 {
            y -= 1;
            m = 12;
        } else {
            m -= 1;
        }
    }
    out.reverse();
    out
}

/// `part` per 10,000 of `whole`, in hundredths, rounded half up; `None` when
/// `whole` is unknown or zero (no division by zero).
pub fn per_ten_thousand(part: i64, whole: i64) -> Option<i64> {
    if whole <= 0 || part < 0 {
        return None;
    }
    let scaled = i128::from(part) * 1_000_000;
    let w = i128::from(whole);
    Some(((scaled + w / 2) / w) as i64)
}

/// Hundredths as French text: `123` → `1,23`; `None` → `—` (not computable).
pub fn hundredths_fr(v: Option<i64>) -> String {
    match v {
        Some(h) => format!("{},{:02}", h / 100, h % 100),
        None => "—".to_string(),
    }
}

/// An integer with French grouping: `1234567` → `1 234 567` (no-break spaces).
pub use crate::format_fr::entier as integer_fr;

/// Minutes as French hours: `90` → `1 h 30`, `120` → `2 h`.
pub fn hours_fr(minutes: i64) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    if m == 0 {
        format!("{h} h")
    } else {
        format!("{h} h {m:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_ratios() {
        let d = jiff::civil::Date::new(2026, 3, 15).unwrap();
        let m = last_twelve_months(d);
        assert_eq!(m.len(), 12);
        assert_eq!(m[0], "2025-04");
        assert_eq!(m[11], "2026-03");
        assert_eq!(per_ten_thousand(3, 0), None);
        assert_eq!(per_ten_thousand(3, 30_000), Some(100));
        assert_eq!(per_ten_thousand(1, 30_000), Some(33));
        assert_eq!(per_ten_thousand(2, 30_000), Some(67));
        assert_eq!(hundredths_fr(Some(67)), "0,67");
        assert_eq!(hundredths_fr(Some(1234)), "12,34");
        assert_eq!(hundredths_fr(None), "—");
        assert_eq!(hours_fr(90), "1 h 30");
        assert_eq!(hours_fr(120), "2 h");
        assert_eq!(integer_fr(1_234_567), "1\u{a0}234\u{a0}567");
        assert_eq!(integer_fr(999), "999");
    }
}
