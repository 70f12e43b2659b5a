//! The month a digest covers, with its bounds in Europe/Paris.

use crate::error::{CoreError, Result};

/// A calendar month (`AAAA-MM`) and its bounds: instants (µs, UTC) of its
/// first and of the next month's first midnight in Paris, and the same as
/// days (`AAAA-MM-JJ`) for columns that store a Paris day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mois {
    pub cle: String,
    pub debut_micros: i64,
    pub fin_micros: i64,
    pub premier_jour: String,
    pub premier_jour_suivant: String,
    dernier_jour: u8,
}

fn invalid(text: &str) -> CoreError {
    CoreError::invalid(format!(
        "mois invalide « {text} » : AAAA-MM attendu, par exemple 2026-11"
    ))
}

impl Mois {
    /// `2026-11` → November 2026.
    pub fn parse(text: &str) -> Result<Mois> {
        let t = text.trim();
        let (y, m) = t.split_once('-').ok_or_else(|| invalid(t))?;
        if y.len() != 4 || m.len() != 2 {
            return Err(invalid(t));
        }
        let year: i16 = y.parse().map_err(|_| invalid(t))?;
        let month: i8 = m.parse().map_err(|_| invalid(t))?;
        Mois::of(year, month).map_err(|_| invalid(t))
    }

    pub fn of(year: i16, month: i8) -> Result<Mois> {
        let err = |e: jiff::Error| CoreError::invalid(format!("mois invalide : {e}"));
        let first = jiff::civil::Date::new(year, month, 1).map_err(err)?;
        let next = first.last_of_month().tomorrow().map_err(err)?;
        let at = |d: jiff::civil::Date| -> Result<i64> {
            Ok(d.in_tz("Europe/Paris").map_err(err)?.timestamp().as_microsecond())
        };
        Ok(Mois {
            cle: format!("{year:04}-{month:02}"),
            debut_micros: at(first)?,
            fin_micros: at(next)?,
            premier_jour: first.to_string(),
            premier_jour_suivant: next.to_string(),
            dernier_jour: first.days_in_month() as u8,
        })
    }

    /// The month before the one of `today` (the month a digest sent on `today` covers).
    pub fn precedent(today: jiff::civil::Date) -> Result<Mois> {
        let (y, m) = (today.year(), today.month());
        let (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
        Mois::of(y, m)
    }

    /// `novembre 2026`.
    pub fn libelle(&self) -> String {
        crate::pass_numerique::rapports::month_label(&self.cle)
    }

    /// `30 novembre 2026`.
    pub fn dernier_jour_libelle(&self) -> String {
        format!("{} {}", self.dernier_jour, self.libelle())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_paris_midnights() {
        let m = Mois::parse("2026-11").unwrap();
        // 2026-11-01 00:00 Paris = 2026-10-31 23:00 UTC (winter time).
        assert_eq!(m.debut_micros, 1_793_487_600 * 1_000_000);
        assert_eq!(m.fin_micros - m.debut_micros, 30 * 86_400 * 1_000_000);
        assert_eq!(m.premier_jour, "2026-11-01");
        assert_eq!(m.premier_jour_suivant, "2026-12-01");
        assert_eq!(m.libelle(), "novembre 2026");
        assert_eq!(m.dernier_jour_libelle(), "30 novembre 2026");
        assert_eq!(Mois::parse("2026-12").unwrap().premier_jour_suivant, "2027-01-01");
    }

    #[test]
    fn bad_months_are_refused() {
        for bad in ["2026-13", "2026-1", "26-11", "novembre", "", "2026-00"] {
            assert!(Mois::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_previous_month() {
        let d = |s: &str| jiff::civil::Date::strptime("%Y-%m-%d", s).unwrap();
        assert_eq!(Mois::precedent(d("2026-12-01")).unwrap().cle, "2026-11");
        assert_eq!(Mois::precedent(d("2027-01-03")).unwrap().cle, "2026-12");
    }
}
