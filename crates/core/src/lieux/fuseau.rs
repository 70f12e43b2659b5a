//! The time zone of a place. The directory lists places in every French territory: opening
//! hours are written in local time, so « ouvert maintenant » and the next opening are computed
//! in the place's own zone, and the page names it. The zone follows the INSEE code (or, failing
//! it, the postcode): names from the IANA database (bundled with jiff), one per territory, two
//! more for the Marquesas and the Gambier islands of French Polynesia.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::horloge::Horloge;

/// A place's time zone: its IANA name and how the page says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fuseau {
    pub iana: &'static str,
    /// « heure de Paris », « heure de la Nouvelle-Calédonie »…
    pub nom: &'static str,
}

pub const PARIS: Fuseau = Fuseau {
    iana: "Europe/Paris",
    nom: "heure de Paris",
};

/// (INSEE or postcode prefix, zone). Longest prefixes first.
const ZONES: &[(&str, Fuseau)] = &[
    // Polynésie française: the Marquesas (Fatu-Hiva, Hiva-Oa, Nuku-Hiva, Tahuata, Ua-Huka,
    // Ua-Pou) are half an hour ahead of Tahiti, the Gambier one hour.
    ("98718", MARQUISES),
    ("98723", MARQUISES),
    ("98731", MARQUISES),
    ("98746", MARQUISES),
    ("98756", MARQUISES),
    ("98757", MARQUISES),
    (
        "98719",
        Fuseau {
            iana: "Pacific/Gambier",
            nom: "heure des Gambier",
        },
    ),
    // Postcodes of Saint-Barthélemy and Saint-Martin, within the Guadeloupe's 971.
    ("97133", SAINT_BARTHELEMY),
    ("97150", SAINT_MARTIN),
    (
        "971",
        Fuseau {
            iana: "America/Guadeloupe",
            nom: "heure de la Guadeloupe",
        },
    ),
    (
        "972",
        Fuseau {
            iana: "America/Martinique",
            nom: "heure de la Martinique",
        },
    ),
    (
        "973",
        Fuseau {
            iana: "America/Cayenne",
            nom: "heure de la Guyane",
        },
    ),
    (
        "974",
        Fuseau {
            iana: "Indian/Reunion",
            nom: "heure de La Réunion",
        },
    ),
    (
        "975",
        Fuseau {
            iana: "America/Miquelon",
            nom: "heure de Saint-Pierre-et-Miquelon",
        },
    ),
    (
        "976",
        Fuseau {
            iana: "Indian/Mayotte",
            nom: "heure de Mayotte",
        },
    ),
    ("977", SAINT_BARTHELEMY),
    ("978", SAINT_MARTIN),
    (
        "986",
        Fuseau {
            iana: "Pacific/Wallis",
            nom: "heure de Wallis-et-Futuna",
        },
    ),
    (
        "987",
        Fuseau {
            iana: "Pacific/Tahiti",
            nom: "heure de Tahiti",
        },
    ),
    (
        "988",
        Fuseau {
            iana: "Pacific/Noumea",
            nom: "heure de la Nouvelle-Calédonie",
        },
    ),
];

const MARQUISES: Fuseau = Fuseau {
    iana: "Pacific/Marquesas",
    nom: "heure des Marquises",
};
const SAINT_BARTHELEMY: Fuseau = Fuseau {
    iana: "America/St_Barthelemy",
    nom: "heure de Saint-Barthélemy",
};
const SAINT_MARTIN: Fuseau = Fuseau {
    iana: "America/Marigot",
    nom: "heure de Saint-Martin",
};

fn by_prefix(code: &str) -> Option<Fuseau> {
    ZONES
        .iter()
        .find(|(prefix, _)| code.starts_with(prefix))
        .map(|(_, f)| *f)
}

/// The zone of a place from its INSEE code, else its postcode; Paris for metropolitan France.
pub fn of_place(code_insee: Option<&str>, code_postal: &str) -> Fuseau {
    code_insee
        .filter(|c| !c.is_empty())
        .and_then(by_prefix)
        .or_else(|| by_prefix(code_postal))
        .unwrap_or(PARIS)
}

impl Fuseau {
    /// The local date and time now in this zone.
    pub fn maintenant(&self, horloge: &Horloge) -> DateTime {
        self.local(horloge.now())
    }

    /// The local date and time of the instant `t` in this zone.
    pub fn local(&self, t: Timestamp) -> DateTime {
        // Every name above is in jiff's bundled database (tested); Paris if one ever were not.
        let tz = TimeZone::get(self.iana).unwrap_or_else(|_| crate::horloge::paris());
        t.to_zoned_datetime(tz).datetime()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_territory_has_its_zone_and_its_name() {
        for (prefix, f) in ZONES {
            assert!(TimeZone::get(f.iana).is_ok(), "{prefix} : {}", f.iana);
        }
        for (insee, postcode, nom) in [
            (Some("98818"), "98800", "heure de la Nouvelle-Calédonie"),
            (Some("97411"), "97400", "heure de La Réunion"),
            (Some("98723"), "98741", "heure des Marquises"),
            (Some("98735"), "98714", "heure de Tahiti"),
            (Some("97701"), "97133", "heure de Saint-Barthélemy"),
            (None, "97133", "heure de Saint-Barthélemy"),
            (None, "97150", "heure de Saint-Martin"),
            (None, "97100", "heure de la Guadeloupe"),
            (Some("2A004"), "20000", "heure de Paris"),
            (Some("33063"), "33000", "heure de Paris"),
            (Some(""), "75001", "heure de Paris"),
        ] {
            assert_eq!(of_place(insee, postcode).nom, nom, "{insee:?} {postcode}");
        }
    }

    #[test]
    fn the_local_time_is_the_place_s() {
        let h = Horloge::parse("2026-12-07T23:00:00Z").unwrap();
        let at = |insee: &str| of_place(Some(insee), "").maintenant(&h).to_string();
        assert_eq!(at("33063"), "2026-12-08T00:00:00");
        assert_eq!(at("98818"), "2026-12-08T10:00:00");
        assert_eq!(at("98735"), "2026-12-07T13:00:00");
        assert_eq!(at("98723"), "2026-12-07T13:30:00");
        assert_eq!(at("97302"), "2026-12-07T20:00:00");
    }
}
