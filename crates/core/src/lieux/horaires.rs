//! Opening hours in the OpenStreetMap `opening_hours` syntax (the standard's
//! `horaires` field): parsed with the `opening-hours` crate, French public
//! holidays (`PH`), times in Europe/Paris, and said in words.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
use opening_hours::localization::Country;
use opening_hours::{Context, OpeningHours, RuleKind};

/// Parsed opening hours of a place.
#[derive(Clone, Debug)]
pub struct Horaires(OpeningHours);

/// Where a place stands at a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Etat {
    /// Open; closes at this time if known (within a week).
    Ouvert { jusqu_a: Option<NaiveDateTime> },
    /// Closed; opens at this time if known (within a week).
    Ferme { ouvre_a: Option<NaiveDateTime> },
    /// The hours say "unknown" or "on appointment" for now.
    Inconnu,
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

    /// State at `t` (local time in Europe/Paris), with the next change within 8 days.
    pub fn etat(&self, t: NaiveDateTime) -> Etat {
        // One pass over the coming week: the first range is the current state,
        // the next ones tell when it changes.
        let mut ranges = self.0.iter_range(t, t + Duration::days(8));
        let Some(first) = ranges.next() else {
            return Etat::Inconnu;
        };
        match first.kind {
            RuleKind::Open => Etat::Ouvert {
                jusqu_a: ranges.next().map(|r| r.range.start),
            },
            RuleKind::Closed => Etat::Ferme {
                ouvre_a: ranges.find(|r| r.kind == RuleKind::Open).map(|r| r.range.start),
            },
            RuleKind::Unknown => Etat::Inconnu,
        }
    }

    pub fn is_open(&self, t: NaiveDateTime) -> bool {
        self.0.is_open(t)
    }

    /// The week starting on `from` (a Monday, say), day by day, in words:
    /// `("lundi", "9 h – 12 h, 14 h – 17 h 30")`, `("dimanche", "fermé")`.
    /// A range that runs past midnight is shown on the day it starts.
    pub fn semaine(&self, from: NaiveDate) -> Vec<(String, String)> {
        (0..7)
            .map(|i| {
                let day = from + Duration::days(i);
                let start = day.and_time(NaiveTime::MIN);
                let end = start + Duration::days(1);
                let ranges: Vec<String> = self
                    .0
                    .iter_range(start, end + Duration::hours(12))
                    .filter(|r| r.kind == RuleKind::Open && r.range.start >= start && r.range.start < end)
                    .map(|r| format!("{} – {}", heure(r.range.start), heure(r.range.end)))
                    .collect();
                let text = if ranges.is_empty() {
                    "fermé".to_string()
                } else {
                    ranges.join(", ")
                };
                (format!("{} {}", jour(day.weekday()), day.format("%d/%m")), text)
            })
            .collect()
    }
}

/// `9 h`, `17 h 30`, `minuit`.
pub fn heure(t: NaiveDateTime) -> String {
    match (t.hour(), t.minute()) {
        (0, 0) => "minuit".into(),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m:02}"),
    }
}

pub fn jour(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "lundi",
        Weekday::Tue => "mardi",
        Weekday::Wed => "mercredi",
        Weekday::Thu => "jeudi",
        Weekday::Fri => "vendredi",
        Weekday::Sat => "samedi",
        Weekday::Sun => "dimanche",
    }
}

/// « Ouvert maintenant, ferme à 17 h 30 », « Fermé, ouvre demain à 9 h », « Fermé, ouvre lundi à 9 h ».
pub fn en_clair(etat: &Etat, now: NaiveDateTime) -> String {
    let when = |t: NaiveDateTime| {
        if t.date() == now.date() {
            format!("à {}", heure(t))
        } else if t.date() == now.date() + Duration::days(1) {
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

/// Current local time in Europe/Paris (what "ouvert maintenant" means for French places).
pub fn maintenant_paris() -> NaiveDateTime {
    let now = jiff::ZonedDateTime::now();
    let dt = now
        .in_tz("Europe/Paris")
        .map(|z| z.datetime())
        .unwrap_or_else(|_| now.datetime());
    NaiveDate::from_ymd_opt(i32::from(dt.year()), dt.month() as u32, dt.day() as u32)
        .and_then(|d| d.and_hms_opt(dt.hour() as u32, dt.minute() as u32, dt.second() as u32))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
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
            h.semaine(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())[0],
            ("lundi 23/11".to_string(), "9 h – 12 h, 14 h – 17 h 30".to_string())
        );
        assert_eq!(h.semaine(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())[6].1, "fermé");
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
        let week = h.semaine(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(week[4].1, "20 h – 2 h");
    }

    #[test]
    fn unreadable_hours_are_refused_in_french() {
        let e = Horaires::parse("le matin sauf le mardi").unwrap_err();
        assert!(e.contains("illisibles au format OpenStreetMap"));
        assert!(Horaires::parse("24/7").unwrap().is_open(at(2026, 1, 1, 3, 0)));
    }
}
