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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_named() {
        assert_eq!(mois_annee("2026-10"), "octobre 2026");
        assert_eq!(mois_annee("2026-01"), "janvier 2026");
        assert_eq!(mois_annee("2026-13"), "2026-13");
        assert_eq!(mois_annee("n'importe"), "n'importe");
        assert_eq!(mois(0), None);
    }
}
