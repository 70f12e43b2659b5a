//! Whether a place's coordinates fall in its territory: the rough bounds of metropolitan France
//! and of each overseas territory, with a margin. No package ships a position for every commune
//! (see `search::communes`), so a place is checked against its département's territory, which
//! catches the mistakes real files carry — swapped latitude and longitude, a sign lost, a
//! place geocoded to a homonym overseas — not a place put in the wrong street.

/// (département codes, south, north, west, east, « hors de … »).
type Bounds = (&'static [&'static str], f64, f64, f64, f64, &'static str);

const OVERSEAS: &[Bounds] = &[
    (&["971"], 15.8, 16.55, -61.85, -60.95, "la Guadeloupe"),
    (&["972"], 14.35, 14.9, -61.25, -60.8, "la Martinique"),
    (&["973"], 2.1, 5.8, -54.65, -51.6, "la Guyane"),
    (&["974"], -21.4, -20.85, 55.2, 55.85, "La Réunion"),
    (&["975"], 46.7, 47.15, -56.45, -56.1, "Saint-Pierre-et-Miquelon"),
    (&["976"], -13.05, -12.6, 44.95, 45.35, "Mayotte"),
    (&["977"], 17.85, 17.97, -62.95, -62.78, "Saint-Barthélemy"),
    (&["978"], 18.0, 18.13, -63.16, -62.96, "Saint-Martin"),
    (&["986"], -14.4, -13.15, -178.25, -176.1, "Wallis-et-Futuna"),
    (&["987"], -27.7, -7.8, -154.8, -134.4, "la Polynésie française"),
    (&["988"], -22.9, -18.9, 158.0, 168.3, "la Nouvelle-Calédonie"),
];
/// Metropolitan France with Corsica.
const METROPOLE: Bounds = (&[], 41.3, 51.15, -5.2, 9.6, "la France métropolitaine");
const MARGIN_DEG: f64 = 0.1;

fn bounds(departement: &str) -> Option<&'static Bounds> {
    if let Some(b) = OVERSEAS.iter().find(|b| b.0.contains(&departement)) {
        return Some(b);
    }
    let metro = departement.len() == 2
        && (matches!(departement, "2A" | "2B") || departement.parse::<u8>().is_ok_and(|n| (1..=95).contains(&n)));
    metro.then_some(&METROPOLE)
}

fn inside(b: &Bounds, lat: f64, lon: f64) -> bool {
    (b.1 - MARGIN_DEG..=b.2 + MARGIN_DEG).contains(&lat) && (b.3 - MARGIN_DEG..=b.4 + MARGIN_DEG).contains(&lon)
}

/// Why the coordinates cannot be those of a place of `departement`, in French; `None` when they
/// may be (or the département is not known).
pub fn hors_territoire(departement: &str, lat: f64, lon: f64) -> Option<String> {
    let b = bounds(departement)?;
    if inside(b, lat, lon) {
        return None;
    }
    let hint = if inside(b, lon, lat) {
        " ; latitude et longitude semblent inversées"
    } else {
        ""
    };
    Some(format!(
        "coordonnées ({lat}, {lon}) hors de {} (département {departement}){hint}",
        b.5
    ))
}

#[cfg(test)]
mod tests {
    use super::hors_territoire;

    #[test]
    fn places_are_checked_against_their_territory() {
        assert_eq!(hors_territoire("33", 44.8378, -0.5792), None);
        assert_eq!(hors_territoire("2A", 41.9192, 8.7386), None);
        assert_eq!(hors_territoire("988", -22.2758, 166.458), None);
        assert_eq!(hors_territoire("987", -9.8, -139.03), None, "Marquises");
        assert_eq!(hors_territoire("974", -20.8789, 55.4481), None);
        let swapped = hors_territoire("33", -0.5792, 44.8378).unwrap_or_default();
        assert!(swapped.contains("hors de la France métropolitaine"), "{swapped}");
        assert!(swapped.contains("inversées"), "{swapped}");
        // Geocoded to Saint-Denis (93) for a place of La Réunion.
        let homonym = hors_territoire("974", 48.9362, 2.3574).unwrap_or_default();
        assert_eq!(
            homonym,
            "coordonnées (48.9362, 2.3574) hors de La Réunion (département 974)"
        );
        // A sign lost: Bordeaux at +0.5792 is still in France; Pointe-à-Pitre at +61.5 is not.
        assert!(hors_territoire("971", 16.24, 61.53).is_some());
        // An unknown département is not checked.
        assert_eq!(hors_territoire("00", 0.0, 0.0), None);
        assert_eq!(hors_territoire("", 10.0, 10.0), None);
    }
}
