use super::*;
use crate::lieux::schema::standard;

/// A row in the schema's order with these (field, value) pairs.
fn row(pairs: &[(&str, &str)]) -> Vec<String> {
    let std = standard();
    let mut values = vec![String::new(); std.fields.len()];
    for (field, value) in pairs {
        values[std.position(field).unwrap()] = value.to_string();
    }
    values
}

fn value<'a>(values: &'a [String], field: &str) -> &'a str {
    &values[standard().position(field).unwrap()]
}

#[test]
fn every_translation_lands_on_a_value_of_the_standard() {
    for (field, old, new) in LEGACY {
        assert!(labels(field).is_some(), "{field} n'a pas de liste");
        // A legacy value is never one of the field's own values (it would never be looked up).
        assert!(!labels(field).unwrap().contains(old), "{field} : {old}");
        assert_eq!(translate(field, old), Some(Translation::Legacy(new)), "{field} : {old}");
        for (to, label) in *new {
            assert!(
                labels(to).unwrap().contains(label),
                "{to} : « {label} » absent du standard"
            );
        }
    }
}

#[test]
fn a_row_of_version_0_1_is_translated_value_by_value() {
    let mut values = row(&[
        (
            "services",
            "Devenir autonome dans les démarches administratives|Prendre en main un ordinateur|\
             Utiliser le numérique au quotidien|S’équiper en matériel informatique",
        ),
        (
            "publics_specifiquement_adresses",
            "Seniors (+ 65 ans)|Adultes|Surdité|Public langues étrangères|Handicaps psychiques : troubles psychiatriques \
             donnant lieu à des atteintes comportementales",
        ),
        (
            "frais_a_charge",
            "Gratuit : Je peux accéder gratuitement au lieu et à ses services|Adhésion : L'accès au lieu et/ou à ses \
             services nécessite d'y adhérer",
        ),
        ("dispositif_programmes_nationaux", "CNFS|Fabriques de Territoire|APTIC|France Services"),
        (
            "modalites_accompagnement",
            "Seul : j'ai accès à du matériel et une connexion|A ma place : une personne habilitée fait les démarches \
             à ma place|Avec de l'aide",
        ),
    ]);
    let t = translate_row(&mut values);
    assert_eq!(
        value(&values, "services"),
        "Aide aux démarches administratives|Maîtrise des outils numériques du quotidien|\
         Acquisition de matériel informatique à prix solidaire"
    );
    assert_eq!(value(&values, "publics_specifiquement_adresses"), "Seniors");
    assert_eq!(
        value(&values, "prise_en_charge_specifique"),
        "Surdité|Langues étrangères (anglais)|Langues étrangères (autres)|Handicaps mentaux"
    );
    assert_eq!(value(&values, "frais_a_charge"), "Gratuit|Payant");
    assert_eq!(
        value(&values, "dispositif_programmes_nationaux"),
        "Conseillers numériques|France Services"
    );
    assert_eq!(value(&values, "formations_labels"), "Fabriques de Territoire");
    assert_eq!(
        value(&values, "modalites_accompagnement"),
        "En autonomie|Accompagnement individuel"
    );
    assert!(t.legacy && t.spelling);
    assert_eq!(
        t.dropped,
        vec![
            ("publics_specifiquement_adresses", "Adultes".to_string()),
            ("dispositif_programmes_nationaux", "APTIC".to_string())
        ]
    );
    assert!(t
        .translations
        .contains(&"dispositif_programmes_nationaux : « CNFS » → « Conseillers numériques »".to_string()));
    assert!(t.translations.contains(
        &"publics_specifiquement_adresses : « Surdité » → prise_en_charge_specifique : « Surdité »".to_string()
    ));
    assert!(t
        .translations
        .contains(&"publics_specifiquement_adresses : « Adultes » retirée, sans équivalent en v1".to_string()));
}

#[test]
fn the_standard_s_values_written_otherwise_are_recognised() {
    for (field, written, label) in [
        (
            "services",
            "Comprehension du monde numérique",
            "Compréhension du monde numérique",
        ),
        ("frais_a_charge", "GRATUIT", "Gratuit"),
        ("frais_a_charge", "gratuit sous condition", "Gratuit sous condition"),
        (
            "formations_labels",
            "Étapes numériques (La Poste)",
            "Étapes numériques(La Poste)",
        ),
        (
            "modalites_acces",
            "Ce lieu n’accueille pas de public",
            "Ce lieu n'accueille pas de public",
        ),
        (
            "modalites_accompagnement",
            "Dans un atelier collectif : j'apprends collectivement à utiliser le numérique",
            "Dans un atelier collectif",
        ),
        ("itinerance", "itinerant", "Itinérant"),
    ] {
        assert_eq!(
            translate(field, written),
            Some(Translation::Spelling(label)),
            "{field} : {written}"
        );
    }
    // A value of a v1 field is not taken for a legacy one: « Gratuit » is not « Gratuit sous condition ».
    assert_eq!(
        translate("frais_a_charge", "Gratuit : sous réserve"),
        Some(Translation::Spelling("Gratuit"))
    );
}

#[test]
fn unknown_values_and_rows_already_in_v1_are_left_alone() {
    let v1 = row(&[
        ("services", "Aide aux démarches administratives"),
        ("frais_a_charge", "Payant"),
    ]);
    let mut values = v1.clone();
    let t = translate_row(&mut values);
    assert_eq!(values, v1);
    assert!(!t.legacy && !t.spelling && t.translations.is_empty());
    // Not a value of any version: kept for the check to refuse it by name.
    let mut values = row(&[("services", "Numérique et environnement|Prendre en main un ordinateur")]);
    translate_row(&mut values);
    assert_eq!(
        value(&values, "services"),
        "Numérique et environnement|Maîtrise des outils numériques du quotidien"
    );
    assert_eq!(translate("nom", "CNFS"), None);
    assert_eq!(translate("services", ""), None);
}
