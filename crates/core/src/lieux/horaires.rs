//! Opening hours in the OpenStreetMap `opening_hours` syntax (the standard's
//! `horaires` field): parsed with the `opening-hours` crate, French public
//! holidays (`PH`), times in the place's local time (see `fuseau`), and said in words.

use std::fmt::Display;
use std::str::FromStr;

use jiff::civil::{Date, DateTime, Weekday};
use jiff::ToSpan;
use opening_hours::localization::Country;
use opening_hours::{Context, OpeningHours, RuleKind};

/// Parsed opening hours of a place.
#[derive(Clone, Debug)]
pub struct Horaires(OpeningHours);

/// Where a place stands at a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Etat {
    /// Open; closes at this time if known (within a week).
    Ouvert { jusqu_a: Option<DateTime> },
    /// Closed; opens at this time if known (within a week).
    Ferme { ouvre_a: Option<DateTime> },
    /// The hours say "unknown" or "on appointment" for now.
    Inconnu,
}

/// The `opening-hours` crate takes and gives date-times of its own date
/// library; they cross over through their ISO text (`2026-11-23T10:15:00`
/// in, `2026-11-23 12:00:00` out), so that the rest of the code knows only
/// `jiff`. `None` out of range (the crate's "no end" is the year 10000).
fn to_oh<T: FromStr>(t: DateTime) -> Option<T> {
    t.strftime("%Y-%m-%dT%H:%M:%S").to_string().parse().ok()
}

fn from_oh<T: Display>(t: &T) -> Option<DateTime> {
    t.to_string().parse().ok()
}

impl Horaires {
    /// Parses an `opening_hours` value; the error is in French.
    pub fn parse(text: &str) -> Result<Horaires, String> {
        let oh = text.trim().parse::<OpeningHours>().map_err(|_| {
            format!(
                "horaires « {} » illisibles au format OpenStreetMap (exemple : Mo-Fr 09:00-12:00,14:00-17:30)",
                text.trim()
            )
        })?;
        // One French holiday calendar for every place (it is reference-counted inside).
        static HOLIDAYS: std::sync::OnceLock<opening_hours::ContextHolidays> = std::sync::OnceLock::new();
        let holidays = HOLIDAYS.get_or_init(|| Country::FR.holidays()).clone();
        Ok(Horaires(oh.with_context(Context::default().with_holidays(holidays))))
    }

    /// The ranges (open, closed, unknown) from `from` to `to`, in order.
    fn ranges(
        &self,
        from: DateTime,
        to: DateTime,
    ) -> impl Iterator<Item = (RuleKind, DateTime, Option<DateTime>)> + '_ {
        to_oh(from)
            .zip(to_oh(to))
            .into_iter()
            .flat_map(|(a, b)| self.0.iter_range(a, b))
            .map_while(|r| Some((r.kind, from_oh(&r.range.start)?, from_oh(&r.range.end))))
    }

    /// State at `t` (the place's local time), with the next change within 8 days.
    pub fn etat(&self, t: DateTime) -> Etat {
        // One pass over the coming week: the first range is the current state,
        // the next ones tell when it changes.
        let mut ranges = self.ranges(t, t.saturating_add(8.days()));
        let Some((kind, _, _)) = ranges.next() else {
            return Etat::Inconnu;
        };
        match kind {
            RuleKind::Open => Etat::Ouvert {
                jusqu_a: ranges.next().map(|r| r.1),
            },
            RuleKind::Closed => Etat::Ferme {
                ouvre_a: ranges.find(|r| r.0 == RuleKind::Open).map(|r| r.1),
            },
            RuleKind::Unknown => Etat::Inconnu,
        }
    }

    pub fn is_open(&self, t: DateTime) -> bool {
        to_oh(t).is_some_and(|t| self.0.is_open(t))
    }

    /// The week starting on `from` (a Monday, say), day by day, in words:
    /// `("lundi", "9 h – 12 h, 14 h – 17 h 30")`, `("dimanche", "fermé")`.
    /// A range that runs past midnight is shown on the day it starts.
    pub fn semaine(&self, from: Date) -> Vec<(String, String)> {
        (0..7)
            .map(|i| {
                let day = from.saturating_add(i.days());
                let start = day.to_datetime(jiff::civil::Time::midnight());
                let end = start.saturating_add(1.day());
                let ranges: Vec<String> = self
                    .ranges(start, end.saturating_add(12.hours()))
                    .filter(|r| r.0 == RuleKind::Open && r.1 >= start && r.1 < end)
                    .map(|(_, a, b)| format!("{} – {}", heure(a), b.map(heure).unwrap_or_default()))
                    .collect();
                let text = if ranges.is_empty() {
                    "fermé".to_string()
                } else {
                    ranges.join(", ")
                };
                (format!("{} {}", jour(day.weekday()), day.strftime("%d/%m")), text)
            })
            .collect()
    }
}

/// `9 h`, `17 h 30`, `minuit`.
pub fn heure(t: DateTime) -> String {
    match (t.hour(), t.minute()) {
        (0, 0) => "minuit".into(),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m:02}"),
    }
}

pub fn jour(d: Weekday) -> &'static str {
    match d {
        Weekday::Monday => "lundi",
        Weekday::Tuesday => "mardi",
        Weekday::Wednesday => "mercredi",
        Weekday::Thursday => "jeudi",
        Weekday::Friday => "vendredi",
        Weekday::Saturday => "samedi",
        Weekday::Sunday => "dimanche",
    }
}

/// « Ouvert maintenant, ferme à 17 h 30 », « Fermé, ouvre demain à 9 h », « Fermé, ouvre lundi à 9 h ».
pub fn en_clair(etat: &Etat, now: DateTime) -> String {
    let when = |t: DateTime| {
        if t.date() == now.date() {
            format!("à {}", heure(t))
        } else if t.date() == now.date().saturating_add(1.day()) {
            format!("demain à {}", heure(t))
        } else {
            format!("{} à {}", jour(t.weekday()), heure(t))
        }
    };
    match etat {
        Etat::Ouvert { jusqu_a: Some(t) } => format!("Ouvert maintenant, ferme {}", when(*t)),
        Etat::Ouvert { jusqu_a: None } => "Ouvert maintenant".into(),
        Etat::Ferme { ouvre_a: Some(t) } => format!("Fermé, ouvre {}", when(*t)),
        Etat::Ferme { ouvre_a: None } => "Fermé".into(),
        Etat::Inconnu => "Horaires à confirmer".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i16, m: i8, d: i8, h: i8, min: i8) -> DateTime {
        jiff::civil::datetime(y, m, d, h, min, 0, 0)
    }

    #[test]
    fn open_now_and_next_change() {
        let h = Horaires::parse("Mo-Fr 09:00-12:00,14:00-17:30; Sa 08:30-12:00").unwrap();
        // Monday 23 November 2026, 10:15.
        let now = at(2026, 11, 23, 10, 15);
        assert_eq!(
            h.etat(now),
            Etat::Ouvert {
                jusqu_a: Some(at(2026, 11, 23, 12, 0))
            }
        );
        assert_eq!(en_clair(&h.etat(now), now), "Ouvert maintenant, ferme à 12 h");
        let lunch = at(2026, 11, 23, 12, 30);
        assert_eq!(en_clair(&h.etat(lunch), lunch), "Fermé, ouvre à 14 h");
        let saturday_noon = at(2026, 11, 28, 12, 30);
        assert_eq!(
            en_clair(&h.etat(saturday_noon), saturday_noon),
            "Fermé, ouvre lundi à 9 h"
        );
        assert_eq!(
            h.semaine(jiff::civil::date(2026, 11, 23))[0],
            ("lundi 23/11".to_string(), "9 h – 12 h, 14 h – 17 h 30".to_string())
        );
        assert_eq!(h.semaine(jiff::civil::date(2026, 11, 23))[6].1, "fermé");
    }

    #[test]
    fn french_public_holidays() {
        let h = Horaires::parse("Mo-Sa 09:00-18:00; PH off").unwrap();
        // Friday 25 December 2026 (Noël) and Wednesday 11 November 2026 (Armistice): closed.
        assert!(!h.is_open(at(2026, 12, 25, 10, 0)));
        assert!(!h.is_open(at(2026, 11, 11, 10, 0)));
        assert!(h.is_open(at(2026, 12, 24, 10, 0)));
        let ph_only = Horaires::parse("PH 10:00-12:00").unwrap();
        assert!(ph_only.is_open(at(2026, 7, 14, 11, 0)));
        assert!(!ph_only.is_open(at(2026, 7, 15, 11, 0)));
    }

    #[test]
    fn closing_past_midnight() {
        let h = Horaires::parse("Fr-Sa 20:00-02:00").unwrap();
        // Friday 27 November 2026, 23:00 and Saturday 01:30: open; Saturday 03:00: closed.
        assert!(h.is_open(at(2026, 11, 27, 23, 0)));
        assert!(h.is_open(at(2026, 11, 28, 1, 30)));
        assert!(!h.is_open(at(2026, 11, 28, 3, 0)));
        let friday = at(2026, 11, 27, 23, 0);
        assert_eq!(
            en_clair(&h.etat(friday), friday),
            "Ouvert maintenant, ferme demain à 2 h"
        );
        let week = h.semaine(jiff::civil::date(2026, 11, 23));
        assert_eq!(week[4].1, "20 h – 2 h");
    }

    #[test]
    fn unreadable_hours_are_refused_in_french() {
        let e = Horaires::parse("le matin sauf le mardi").unwrap_err();
        assert!(e.contains("illisibles au format OpenStreetMap"));
        assert!(Horaires::parse("24/7").unwrap().is_open(at(2026, 1, 1, 3, 0)));
    }
}
