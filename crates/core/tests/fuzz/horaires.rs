//! Opening hours in the OpenStreetMap syntax (`horaires` of the standard).

use jiff::civil::DateTime;
use jiff::{SignedDuration, ToSpan};
use passerelle_core::lieux::horaires::{en_clair, Horaires};
use proptest::prelude::*;

use crate::support::{assert_french, hostile_text};

/// Pieces of the syntax, valid or not, that a generator glues together.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "Mo", "Tu", "We", "Th", "Fr", "Sa", "Su", "PH", "SH", "Mo-Fr", "Sa-Su", "Mo,We", "Fr-Mo",
            "Jan", "Dec", "Jan-Mar", "week", "easter", "sunrise", "sunset", "dawn", "dusk", "24/7",
            "off", "closed", "open", "unknown", "\"sur rendez-vous\"", "||", ";", ",", " ", "-", "+",
            "[1]", "[-1]", "[1-5]", "/2", "2024", "2024-2030", "00:00", "24:00", "25:61", "9:00",
        ]).prop_map(str::to_string),
        3 => (0u32..30, 0u32..70, 0u32..30, 0u32..70)
            .prop_map(|(a, b, c, d)| format!("{a:02}:{b:02}-{c:02}:{d:02}")),
        1 => (1u32..60).prop_map(|w| format!("week {w}")),
        1 => (-3i32..40, 1u32..15).prop_map(|(d, m)| format!("{m:02}-{d:02}")),
        1 => hostile_text(3),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..12).prop_map(|t| t.join(" "))
}

/// A week's worth of valid hours.
fn valid_hours() -> impl Strategy<Value = String> {
    let days = prop::sample::select(vec!["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su", "Mo-Fr", "Mo-Sa", "PH"]);
    let rule = (days, 0u32..12, 0u32..4, 1u32..12, 0u32..4).prop_map(|(d, h, m, len, m2)| {
        let (start, end) = (h + 6, (h + 6 + len).min(23));
        format!("{d} {start:02}:{:02}-{end:02}:{:02}", m * 15, m2 * 15)
    });
    prop::collection::vec(rule, 1..5).prop_map(|r| r.join("; "))
}

fn moment() -> impl Strategy<Value = DateTime> {
    (0i64..(60 * 365), 0u32..86_400).prop_map(|(days, secs)| {
        jiff::civil::datetime(2000, 1, 1, 0, 0, 0, 0)
            .saturating_add(days.days())
            .saturating_add(SignedDuration::from_secs(i64::from(secs)))
    })
}

/// Everything the pages do with parsed hours.
fn use_hours(h: &Horaires, t: DateTime) -> Result<(), TestCaseError> {
    let etat = h.etat(t);
    prop_assert!(!en_clair(&etat, t).is_empty());
    let _ = h.is_open(t);
    let week = h.semaine(t.date());
    prop_assert_eq!(week.len(), 7);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any expression is read or refused in French; read hours can be used.
    #[test]
    fn any_expression_is_read_or_refused(text in expression(), t in moment()) {
        match Horaires::parse(&text) {
            Ok(h) => use_hours(&h, t)?,
            Err(e) => assert_french(&e)?,
        }
    }

    /// Random text (control characters, quotes, emoji…) too.
    #[test]
    fn any_text_is_read_or_refused(text in hostile_text(20), t in moment()) {
        match Horaires::parse(&text) {
            Ok(h) => use_hours(&h, t)?,
            Err(e) => assert_french(&e)?,
        }
    }

    /// Valid weekly hours are read and can be used.
    #[test]
    fn valid_hours_are_read(text in valid_hours(), t in moment()) {
        let h = Horaires::parse(&text).map_err(TestCaseError::fail)?;
        use_hours(&h, t)?;
    }
}

/// A huge value is refused or read, in bounded time (the validator caps field length before).
#[test]
fn long_values_do_not_hang() {
    let long = vec!["Mo-Fr 09:00-12:00"; 500].join("; ");
    let started = std::time::Instant::now();
    let _ = Horaires::parse(&long).map(|h| h.semaine(jiff::civil::date(2025, 1, 6)));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
