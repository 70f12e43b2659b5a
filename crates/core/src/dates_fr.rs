//! Dates written the French way, for pages, documents and e-mails.

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

/// `2026-03-31` → `31/03/2026` (unchanged when not a date).
pub fn jour_iso(iso: &str) -> String {
    match iso.split('-').collect::<Vec<_>>().as_slice() {
        [y, m, d] => format!("{d}/{m}/{y}"),
        _ => iso.to_string(),
    }
}

/// `JJ/MM/AAAA`: the day of an instant (µs since the epoch), in UTC.
pub fn jour(micros: i64) -> String {
    let d = crate::db::datetime_of(micros).date();
    format!("{:02}/{:02}/{}", d.day(), u8::from(d.month()), d.year())
}

/// The month (`AAAA-MM`) of an instant (µs since the epoch) in Paris: the
/// month the people concerned would name.
pub fn mois_paris(micros: i64) -> String {
    let paris = jiff::Timestamp::from_microsecond(micros)
        .and_then(|ts| ts.in_tz("Europe/Paris"))
        .map(|z| (i32::from(z.year()), z.month() as u8));
    // Without the time-zone database (never with the bundled one): UTC.
    let (y, m) = paris.unwrap_or_else(|_| {
        let t = crate::db::datetime_of(micros);
        (t.year(), u8::from(t.month()))
    });
    format!("{y:04}-{m:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_is_named_by_its_month_in_paris() {
        // 2026-02-28T23:30:00Z is 1 March 00:30 in Paris.
        assert_eq!(mois_paris(1_772_321_400_000_000), "2026-03");
        assert_eq!(mois_paris(1_772_317_800_000_000), "2026-02");
        assert_eq!(mois_paris(0), "1970-01");
    }

    #[test]
    fn days_are_written_the_french_way() {
        assert_eq!(jour_iso("2026-03-31"), "31/03/2026");
        assert_eq!(jour_iso("n'importe"), "n'importe");
        // 2025-11-24T16:00:00Z
        assert_eq!(jour(1_764_000_000_000_000), "24/11/2025");
        assert_eq!(jour(0), "01/01/1970");
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
