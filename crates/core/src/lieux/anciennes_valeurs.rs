//! Values of the closed lists as earlier versions of the standard wrote them, and their v1.0.x
//! equivalents. Real files are published half-way between versions: the 0.1.x columns are
//! renamed by the reader (`labels_nationaux` → `dispositif_programmes_nationaux`…), and here
//! their values are translated, so that a row which differs from v1 only by its vocabulary is
//! kept.
//!
//! Sources (read in their published history, not copied):
//! - the standard's repository (LaMednum/standard-mediation-num): the 0.1.0 and 0.1.1 lists,
//!   and its « descriptif des évolutions » 0.1.1 → 1.0.1 (15 services condensed into 9,
//!   `publics_accueillis` split into two fields, `labels_nationaux` split into two fields…);
//! - the configuration with which the ANCT converts the Conseillers numériques feed, still
//!   published in 0.1, into v1 (anct-cartographie-nationale/mednum-cli,
//!   `conseiller-numerique.config.json`), and the other 0.1 sources' configurations there;
//! - the ANCT package `@gouvfr-anct/lieux-de-mediation-numerique`: 0.1 value → data·inclusion
//!   slug (v1.22) composed with slug → v1 value (v2.3);
//! - the v1 betas' long labels, rewritten by La Coop de la médiation numérique's migration
//!   of March 2025.
//!
//! Where the sources differ, the choice is written beside the entry.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::model::fold;
use super::vocabulaires::{labels, VOCABULARIES};

const SERVICES: &str = "services";
const PUBLICS: &str = "publics_specifiquement_adresses";
const PRISE_EN_CHARGE: &str = "prise_en_charge_specifique";
const FRAIS: &str = "frais_a_charge";
const DISPOSITIFS: &str = "dispositif_programmes_nationaux";
const FORMATIONS: &str = "formations_labels";
const ACCOMPAGNEMENT: &str = "modalites_accompagnement";

/// v1 values, each with its field: (field, value).
type Targets = &'static [(&'static str, &'static str)];

const DEMARCHES: &[(&str, &str)] = &[(SERVICES, "Aide aux démarches administratives")];
const OUTILS: &[(&str, &str)] = &[(SERVICES, "Maîtrise des outils numériques du quotidien")];
const COMPREHENSION: &[(&str, &str)] = &[(SERVICES, "Compréhension du monde numérique")];
const INSERTION: &[(&str, &str)] = &[(SERVICES, "Insertion professionnelle via le numérique")];
const ACCES: &[(&str, &str)] = &[(SERVICES, "Accès internet et matériel informatique")];
const INDIVIDUEL: &[(&str, &str)] = &[(ACCOMPAGNEMENT, "Accompagnement individuel")];
const CAF: &[(&str, &str)] = &[(DISPOSITIFS, "Point d'accès numérique CAF")];
const CONSEILLERS: &[(&str, &str)] = &[(DISPOSITIFS, "Conseillers numériques")];
const DROPPED: &[(&str, &str)] = &[];

/// (field in v1, value of an earlier version, its v1 values with their field). An empty list:
/// no v1 equivalent, the value is dropped with a warning. Values are compared by [`key`]: case,
/// accents, punctuation and an explanation after « : » do not matter.
const LEGACY: &[(&str, &str, Targets)] = &[
    // services: the 15 of 0.1.x condensed into the 9 of v1 (the same table in the ANCT's
    // Conseillers numériques configuration and through the package's data·inclusion slugs).
    (
        SERVICES,
        "Devenir autonome dans les démarches administratives",
        DEMARCHES,
    ),
    (
        SERVICES,
        "Réaliser des démarches administratives avec un accompagnement",
        DEMARCHES,
    ),
    (SERVICES, "Accompagner les démarches de santé", DEMARCHES),
    // The national cartography's labels of 2022, before the standard's.
    (
        SERVICES,
        "Gagner en autonomie dans les démarches administratives",
        DEMARCHES,
    ),
    (
        SERVICES,
        "Être accompagné dans les démarches administratives",
        DEMARCHES,
    ),
    (SERVICES, "Prendre en main un smartphone ou une tablette", OUTILS),
    (SERVICES, "Prendre en main un ordinateur", OUTILS),
    (SERVICES, "Utiliser le numérique au quotidien", OUTILS),
    (SERVICES, "Approfondir ma culture numérique", COMPREHENSION),
    (SERVICES, "Promouvoir la citoyenneté numérique", COMPREHENSION),
    (SERVICES, "Favoriser mon insertion professionnelle", INSERTION),
    (SERVICES, "Créer et développer mon entreprise", INSERTION),
    (SERVICES, "Accéder à une connexion internet", ACCES),
    (SERVICES, "Accéder à du matériel", ACCES),
    (
        SERVICES,
        "S'équiper en matériel informatique",
        &[(SERVICES, "Acquisition de matériel informatique à prix solidaire")],
    ),
    (
        SERVICES,
        "Créer avec le numérique",
        &[(SERVICES, "Loisirs et créations numériques")],
    ),
    (
        SERVICES,
        "Soutenir la parentalité et l'éducation avec le numérique",
        &[(SERVICES, "Parentalité et éducation avec le numérique")],
    ),
    // publics_accueillis (read as publics_specifiquement_adresses) was split in two fields.
    (PUBLICS, "Seniors (+ 65 ans)", &[(PUBLICS, "Seniors")]),
    (PUBLICS, "Familles/enfants", &[(PUBLICS, "Familles et/ou enfants")]),
    (PUBLICS, "Jeunes (16-26 ans)", &[(PUBLICS, "Jeunes")]),
    (PUBLICS, "Uniquement femmes", &[(PUBLICS, "Femmes")]),
    // No v1 public for adults: every source drops it.
    (PUBLICS, "Adultes", DROPPED),
    (
        PUBLICS,
        "Handicaps psychiques",
        &[(PRISE_EN_CHARGE, "Handicaps mentaux")],
    ),
    (
        PUBLICS,
        "Personnes en situation d'illettrisme",
        &[(PRISE_EN_CHARGE, "Illettrisme")],
    ),
    // The ANCT's configuration gives both language values (the package gives « autres » only):
    // a place that welcomed people of foreign languages did not say which.
    (
        PUBLICS,
        "Public langues étrangères",
        &[
            (PRISE_EN_CHARGE, "Langues étrangères (anglais)"),
            (PRISE_EN_CHARGE, "Langues étrangères (autres)"),
        ],
    ),
    // conditions_acces (read as frais_a_charge): « Gratuit : … » and the others are v1 values
    // with their explanation. Adhesion is paid in every source; the Pass numérique makes the
    // place free under a condition (the package; the ANCT's configuration has no rule for it).
    (FRAIS, "Adhésion", &[(FRAIS, "Payant")]),
    (FRAIS, "Accepte le Pass numérique", &[(FRAIS, "Gratuit sous condition")]),
    // labels_nationaux (read as dispositif_programmes_nationaux) was split in two fields.
    (DISPOSITIFS, "CNFS", CONSEILLERS),
    (DISPOSITIFS, "Conseiller numérique", CONSEILLERS),
    (DISPOSITIFS, "Conseillers numériques France Services", CONSEILLERS),
    (DISPOSITIFS, "Conseiller numérique France Services", CONSEILLERS),
    (
        DISPOSITIFS,
        "Grandes écoles du numérique",
        &[(DISPOSITIFS, "Grande école du numérique")],
    ),
    (DISPOSITIFS, "Point relais CAF", CAF),
    (DISPOSITIFS, "Point numérique CAF", CAF),
    (
        DISPOSITIFS,
        "Fabrique de Territoire",
        &[(FORMATIONS, "Fabriques de Territoire")],
    ),
    // Labels of 0.1.x that v1 no longer lists (none of the sources maps them).
    (DISPOSITIFS, "APTIC", DROPPED),
    (DISPOSITIFS, "French Tech", DROPPED),
    (DISPOSITIFS, "Campus connecté", DROPPED),
    (DISPOSITIFS, "Relais pôle emploi", DROPPED),
    // modalites_accompagnement: 0.1.x short labels (with or without their explanation).
    (ACCOMPAGNEMENT, "Seul", &[(ACCOMPAGNEMENT, "En autonomie")]),
    (ACCOMPAGNEMENT, "Avec de l'aide", INDIVIDUEL),
    (ACCOMPAGNEMENT, "À ma place", INDIVIDUEL),
    (
        ACCOMPAGNEMENT,
        "Dans un atelier",
        &[(ACCOMPAGNEMENT, "Dans un atelier collectif")],
    ),
    (
        ACCOMPAGNEMENT,
        "À distance (par téléphone ou en visioconférence)",
        &[(ACCOMPAGNEMENT, "À distance")],
    ),
];

/// Legacy columns that v1 split in two: a value of the second field found in the first is moved.
const SPLIT: &[(&str, &str)] = &[(PUBLICS, PRISE_EN_CHARGE), (DISPOSITIFS, FORMATIONS)];

/// What becomes of a value that is not in its field's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Translation {
    /// The standard's value written otherwise: case, accents, spaces, punctuation, or an
    /// explanation after « : » (« GRATUIT », « Gratuit : Je peux accéder… »).
    Spelling(&'static str),
    /// A value of the other field that a legacy column was split into: (that field, its value).
    Moved(&'static str, &'static str),
    /// A value of an earlier version: its v1 values, each with its field. Empty: no v1
    /// equivalent.
    Legacy(Targets),
}

/// The comparison key: the part before « : », folded, letters and digits only.
fn key(value: &str) -> String {
    let head = value.split(':').next().unwrap_or(value);
    fold(head).replace(' ', "")
}

type Table = HashMap<(&'static str, String), Translation>;

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let mut table = Table::new();
    for (field, old, new) in LEGACY {
        table.insert((*field, key(old)), Translation::Legacy(new));
    }
    for (from, to) in SPLIT {
        for label in labels(to).unwrap_or_default() {
            table.insert((*from, key(label)), Translation::Moved(to, label));
        }
    }
    // The field's own values come last and win: a spelling is never taken for a legacy value.
    for (field, _) in VOCABULARIES {
        for label in labels(field).unwrap_or_default() {
            table.insert((*field, key(label)), Translation::Spelling(label));
        }
    }
    table
});

/// The translation of `value`, which is not in the list of `field`, if one is known.
pub fn translate(field: &str, value: &str) -> Option<Translation> {
    let (field, _) = VOCABULARIES.iter().find(|(f, _)| *f == field)?;
    TABLE.get(&(*field, key(value))).copied()
}

/// What [`translate_row`] changed in one row.
#[derive(Debug, Default)]
pub struct Translated {
    /// Some value of an earlier version was translated (or dropped).
    pub legacy: bool,
    /// Some value was the standard's, written otherwise.
    pub spelling: bool,
    /// « field : « old » → « new » », once per value translated, for the report's counts.
    pub translations: Vec<String>,
    /// (field, value) of the values dropped for want of a v1 equivalent.
    pub dropped: Vec<(&'static str, String)>,
}

/// Translates, in a row given as its values in the schema's order, every value of a closed
/// list that is not the standard's but has a known translation. Unknown values stay, for the
/// check to refuse them by name.
pub fn translate_row(values: &mut [String]) -> Translated {
    let mut out = Translated::default();
    let mut moved: Vec<(&'static str, &'static str)> = Vec::new();
    for (field, _) in VOCABULARIES {
        let (Some(list), Some(i)) = (labels(field), super::vocabulaires::field_position(field)) else {
            continue;
        };
        let value = &values[i];
        if value.is_empty() || value.split('|').all(|v| list.contains(&v)) {
            continue;
        }
        let mut kept: Vec<String> = Vec::new();
        for part in value.split('|') {
            if list.contains(&part) {
                kept.push(part.to_string());
                continue;
            }
            match translate(field, part) {
                None => kept.push(part.to_string()),
                Some(Translation::Spelling(label)) => {
                    out.spelling = true;
                    out.translations.push(format!("{field} : « {part} » → « {label} »"));
                    kept.push(label.to_string());
                }
                Some(Translation::Moved(to, label)) => {
                    out.legacy = true;
                    out.translations
                        .push(format!("{field} : « {part} » → {to} : « {label} »"));
                    moved.push((to, label));
                }
                Some(Translation::Legacy([])) => {
                    out.legacy = true;
                    out.translations
                        .push(format!("{field} : « {part} » retirée, sans équivalent en v1"));
                    out.dropped.push((field, part.to_string()));
                }
                Some(Translation::Legacy(targets)) => {
                    out.legacy = true;
                    let names: Vec<String> = targets
                        .iter()
                        .map(|(to, label)| {
                            if to == field {
                                format!("« {label} »")
                            } else {
                                format!("{to} : « {label} »")
                            }
                        })
                        .collect();
                    out.translations
                        .push(format!("{field} : « {part} » → {}", names.join(", ")));
                    for &(to, label) in targets {
                        if to == *field {
                            kept.push(label.to_string());
                        } else {
                            moved.push((to, label));
                        }
                    }
                }
            }
        }
        values[i] = join_unique(kept.iter().map(String::as_str));
    }
    for (to, label) in moved {
        if let Some(i) = super::vocabulaires::field_position(to) {
            let current = std::mem::take(&mut values[i]);
            values[i] = join_unique(current.split('|').filter(|v| !v.is_empty()).chain([label]));
        }
    }
    out
}

/// `|`-joined, each value once, in first-seen order.
fn join_unique<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen.join("|")
}

#[cfg(test)]
#[path = "anciennes_valeurs_tests.rs"]
mod tests;
