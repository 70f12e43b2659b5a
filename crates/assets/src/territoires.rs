//! The official territories: `@etalab/decoupage-administratif` (today's régions,
//! départements, communes and EPCI) and the history of communes from its
//! version 0.8 (`decoupage-administratif-historique`).

/// The files of today's list, by their names in the package's `data/` folder.
const ACTUELS: [(&str, &[u8]); 4] = [
    (
        "regions.json",
        include_bytes!("../../../node_modules/@etalab/decoupage-administratif/data/regions.json"),
    ),
    (
        "departements.json",
        include_bytes!("../../../node_modules/@etalab/decoupage-administratif/data/departements.json"),
    ),
    (
        "communes.json",
        include_bytes!("../../../node_modules/@etalab/decoupage-administratif/data/communes.json"),
    ),
    (
        "epci.json",
        include_bytes!("../../../node_modules/@etalab/decoupage-administratif/data/epci.json"),
    ),
];

/// `historique-communes.json` of the history package.
pub const HISTORIQUE: &[u8] =
    include_bytes!("../../../node_modules/decoupage-administratif-historique/data/historique-communes.json");

/// A file of today's list (`regions.json`, `departements.json`, `communes.json`, `epci.json`).
pub fn fichier(name: &str) -> Option<&'static [u8]> {
    ACTUELS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}
