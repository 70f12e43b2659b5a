//! Dates written the French way, for pages, documents and e-mails, and the
//! few calendar helpers shared by the domains (all on `jiff` civil dates).

use jiff::civil::Date;
use jiff::Span;

/// The months, lower case.
pub const MOIS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// The name of month `m` (1 to 12).
pub fn mois(m: usize) -> Option<&'static str> {
    MOIS.get(m.wrapping_sub(1)).copied()
}

/// `2026-10` → `octobre 2026` (unchanged when not a month).
pub fn mois_annee(key: &str) -> String {
    match key.split_once('-') {
        Some((y, m)) => match m.parse::<usize>().ok().and_then(mois) {
            Some(name) => format!("{name} {y}"),
            None => key.to_string(),
        },
        None => key.to_string(),
    }
}

/// The month (`AAAA-MM`) of an instant (µs since the epoch) in Paris: the
/// month the people concerned would name.
pub fn mois_paris(micros: i64) -> String {
    let paris = crate::horloge::paris_of(micros);
    format!("{:04}-{:02}", paris.year(), paris.month())
}

/// `2026-03-31` → `31/03/2026` (unchanged when not a date): a stored day,
/// written for a reader.
pub fn jour_fr(iso: &str) -> String {
    match iso.split('-').collect::<Vec<_>>().as_slice() {
        [y, m, d] => format!("{d}/{m}/{y}"),
        _ => iso.to_string(),
    }
}

/// `JJ/MM/AAAA`: the day of an instant (µs since the epoch), in UTC.
pub fn jour(micros: i64) -> String {
    jj_mm_aaaa(crate::db::datetime_of(micros).date())
}

/// Reads a date written exactly `AAAA-MM-JJ` (how dates are stored and exchanged).
pub fn jour_iso(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    shape.then(|| jour_saisi(text)).flatten()
}

/// Reads a date typed `AAAA-MM-JJ`, the month and day possibly without their
/// leading zero (`2026-3-5`).
pub fn jour_saisi(text: &str) -> Option<Date> {
    Date::strptime("%Y-%m-%d", text).ok()
}

/// `AAAA-MM-JJ`.
pub fn iso(d: Date) -> String {
    d.strftime("%Y-%m-%d").to_string()
}

/// `JJ/MM/AAAA`.
pub fn jj_mm_aaaa(d: Date) -> String {
    d.strftime("%d/%m/%Y").to_string()
}

/// `AAAA-MM`: the month of a date.
pub fn mois_de(d: Date) -> String {
    d.strftime("%Y-%m").to_string()
}

/// `d` plus `n` days (negative: minus), `None` out of the calendar's range.
pub fn plus_jours(d: Date, n: i64) -> Option<Date> {
    Span::new().try_days(n).ok().and_then(|s| d.checked_add(s).ok())
}

/// Days from `a` to `b` (negative when `b` is before `a`).
pub fn jours_entre(a: Date, b: Date) -> i64 {
    a.until(b).map(|s| i64::from(s.get_days())).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_written_the_french_way() {
        assert_eq!(jour_fr("2026-03-31"), "31/03/2026");
        assert_eq!(jour_fr("n'importe"), "n'importe");
        // 2025-11-24T16:00:00Z
        assert_eq!(jour(1_764_000_000_000_000), "24/11/2025");
        assert_eq!(jour(0), "01/01/1970");
    }

    #[test]
    fn an_instant_is_named_by_its_month_in_paris() {
        // 2026-02-28T23:30:00Z is 1 March 00:30 in Paris.
        assert_eq!(mois_paris(1_772_321_400_000_000), "2026-03");
        assert_eq!(mois_paris(1_772_317_800_000_000), "2026-02");
        assert_eq!(mois_paris(0), "1970-01");
    }

    #[test]
    fn dates_are_read_and_written_as_before() {
        let d = jour_iso("2026-03-05").unwrap();
        assert_eq!(
            (iso(d), jj_mm_aaaa(d), mois_de(d)),
            ("2026-03-05".into(), "05/03/2026".into(), "2026-03".into())
        );
        assert_eq!(jour_iso("2026-1-5"), None);
        assert_eq!(jour_saisi("2026-1-5").map(iso).as_deref(), Some("2026-01-05"));
        assert_eq!(jour_iso("20260305"), None);
        assert_eq!(jour_iso("2026-02-30"), None);
        assert_eq!(jour_iso("2026-03-05 "), None);
        assert_eq!(plus_jours(d, 30).map(iso).as_deref(), Some("2026-04-04"));
        assert_eq!(plus_jours(d, -5).map(iso).as_deref(), Some("2026-02-28"));
        assert_eq!(plus_jours(d, i64::MAX), None);
        assert_eq!(jours_entre(d, jour_iso("2026-04-04").unwrap()), 30);
        assert_eq!(jours_entre(jour_iso("2026-04-04").unwrap(), d), -30);
    }

    #[test]
    fn months_are_named() {
        assert_eq!(mois_annee("2026-10"), "octobre 2026");
        assert_eq!(mois_annee("2026-01"), "janvier 2026");
        assert_eq!(mois_annee("2026-13"), "2026-13");
        assert_eq!(mois_annee("n'importe"), "n'importe");
        assert_eq!(mois(0), None);
    }
}
