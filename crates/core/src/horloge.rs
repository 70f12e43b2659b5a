//! The clock: the only place that reads the system's wall time.
//!
//! Domain code asks the [`Horloge`] carried by the [`crate::Db`] handle (and by
//! the transactions opened from it) what time it is; it never calls
//! `jiff::Timestamp::now()` itself (a clippy rule forbids it outside this module).
//! In production the clock is the system clock, possibly shifted by a
//! configured offset (`PASSERELLE_HORLOGE`); tests set it to a fixed instant
//! or shift it, so that "it is 31 January 23:59 in Paris" can be tested.

use std::sync::{Arc, LazyLock, RwLock};

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ZonedDateTime as Zoned};

use crate::error::{CoreError, Result};

/// The time zone in which French people name days and months.
pub const PARIS: &str = "Europe/Paris";

/// How the clock differs from the system clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reglage {
    /// The system clock moved by this much (time flows).
    Decalage(SignedDuration),
    /// Always this instant (time stands still).
    Fixe(Timestamp),
}

/// A clock. Cloning shares the setting: a test that sets the time of its
/// application sets it for every handle cloned from it.
#[derive(Clone, Debug, Default)]
pub struct Horloge {
    reglage: Option<Arc<RwLock<Reglage>>>,
}

impl Horloge {
    /// The system clock.
    pub fn systeme() -> Horloge {
        Horloge::default()
    }

    /// A clock with this setting (it can be changed later with [`Horloge::regler`]).
    pub fn reglee(reglage: Reglage) -> Horloge {
        Horloge {
            reglage: Some(Arc::new(RwLock::new(reglage))),
        }
    }

    /// Changes the setting of a clock made by [`Horloge::reglee`] (and of its
    /// clones); a system clock cannot be changed.
    pub fn regler(&self, reglage: Reglage) -> Result<()> {
        let Some(cell) = &self.reglage else {
            return Err(CoreError::Config("l'horloge du système ne se règle pas".into()));
        };
        *cell.write().unwrap_or_else(|p| p.into_inner()) = reglage;
        Ok(())
    }

    /// The current setting (`None` for the system clock).
    pub fn reglage(&self) -> Option<Reglage> {
        self.reglage
            .as_ref()
            .map(|cell| *cell.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Reads `PASSERELLE_HORLOGE`-style text: an instant with its offset or zone
    /// (`2027-01-31T23:59:00+01:00[Europe/Paris]`, `2027-01-31T22:59:00Z`) stops
    /// the clock at that instant; a signed duration (`+72h`, `-PT72H`, `72h ago`)
    /// moves the system clock.
    pub fn parse(text: &str) -> Result<Horloge> {
        Ok(Horloge::reglee(parse_reglage(text)?))
    }

    /// The setting as [`Horloge::parse`] reads it back (`None` for the system clock).
    pub fn texte(&self) -> Option<String> {
        self.reglage().map(|r| match r {
            Reglage::Fixe(t) => t.to_string(),
            Reglage::Decalage(d) => format!("{d:#}"),
        })
    }

    /// Now.
    #[allow(clippy::disallowed_methods)] // The one place that reads the system clock.
    pub fn now(&self) -> Timestamp {
        match self.reglage() {
            None => Timestamp::now(),
            Some(Reglage::Fixe(t)) => t,
            Some(Reglage::Decalage(d)) => Timestamp::now().saturating_add(d).unwrap_or(Timestamp::MAX),
        }
    }

    /// Now, in microseconds since the Unix epoch (how instants are stored).
    pub fn now_micros(&self) -> i64 {
        self.now().as_microsecond()
    }

    /// Now, in Paris.
    pub fn now_paris(&self) -> Zoned {
        self.now().to_zoned_datetime(paris())
    }

    /// The local date and time in Paris (what "ouvert maintenant" means for French places).
    pub fn maintenant_paris(&self) -> DateTime {
        self.now_paris().datetime()
    }

    /// Today's date in Paris.
    pub fn today_paris(&self) -> Date {
        self.now_paris().date()
    }

    /// Today's date in UTC (the bound of dates written by other systems).
    pub fn today_utc(&self) -> Date {
        self.now().to_zoned_datetime(TimeZone::UTC).date()
    }
}

fn parse_reglage(text: &str) -> Result<Reglage> {
    let text = text.trim();
    if let Ok(z) = text.parse::<Zoned>() {
        return Ok(Reglage::Fixe(z.timestamp()));
    }
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(Reglage::Fixe(t));
    }
    if let Ok(d) = text.parse::<SignedDuration>() {
        return Ok(Reglage::Decalage(d));
    }
    Err(CoreError::Config(format!(
        "réglage d'horloge « {text} » illisible : un instant (2027-01-31T23:59:00+01:00[Europe/Paris]) \
         ou un décalage (+72h, -PT72H)"
    )))
}

/// The Europe/Paris zone, looked up once per process (a clone is a reference
/// count): every search result's "ouvert maintenant" and every French date asks
/// for it, and a lookup by name goes through the time-zone database's lock.
pub fn paris() -> TimeZone {
    static ZONE: LazyLock<TimeZone> = LazyLock::new(|| {
        // The database is bundled in the binary, so the zone is always found;
        // UTC is a fallback that cannot happen in practice.
        TimeZone::get(PARIS).unwrap_or(TimeZone::UTC)
    });
    ZONE.clone()
}

/// The instant `micros` (µs since the epoch) as a timestamp (the epoch when out of range).
pub fn timestamp_of(micros: i64) -> Timestamp {
    Timestamp::from_microsecond(micros).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The instant `micros` in Paris.
pub fn paris_of(micros: i64) -> Zoned {
    timestamp_of(micros).to_zoned_datetime(paris())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_stands_still_and_can_be_moved() {
        let h = Horloge::parse("2027-01-31T23:59:59+01:00[Europe/Paris]").unwrap();
        assert_eq!(h.today_paris(), jiff::civil::date(2027, 1, 31));
        assert_eq!(h.now_micros(), h.now_micros());
        let copy = h.clone();
        h.regler(Reglage::Fixe("2027-01-31T23:00:00Z".parse().unwrap()))
            .unwrap();
        assert_eq!(copy.today_paris(), jiff::civil::date(2027, 2, 1));
        assert_eq!(copy.texte().as_deref(), Some("2027-01-31T23:00:00Z"));
        assert_eq!(Horloge::parse(&copy.texte().unwrap()).unwrap().now(), copy.now());
    }

    #[test]
    fn an_offset_clock_moves_the_system_clock() {
        let h = Horloge::parse("+72h").unwrap();
        let ahead = h.now_micros() - Horloge::systeme().now_micros();
        assert!(
            (71 * 3600 * 1_000_000..=73 * 3600 * 1_000_000).contains(&ahead),
            "{ahead}"
        );
        assert_eq!(Horloge::parse(&h.texte().unwrap()).unwrap().reglage(), h.reglage());
        assert!(Horloge::parse("-PT72H").is_ok());
    }

    #[test]
    fn the_system_clock_cannot_be_set_and_bad_settings_are_refused_in_french() {
        assert!(Horloge::systeme().regler(Reglage::Fixe(Timestamp::UNIX_EPOCH)).is_err());
        let e = Horloge::parse("demain").unwrap_err().to_string();
        assert!(e.contains("réglage d'horloge « demain » illisible"), "{e}");
    }
}
