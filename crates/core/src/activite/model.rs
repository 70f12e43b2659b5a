//! An accompaniment: closed vocabularies and the validation of a form, which
//! reports every bad field at once, in French.

use jiff::civil::Date;

use crate::identifiants::CodeInsee;
use crate::lieux::vocabulaires::Services;

/// Kinds of accompaniment: (key, label).
pub const NATURES: &[(&str, &str)] = &[
    ("individuel", "Accompagnement individuel"),
    ("atelier", "Atelier collectif"),
    ("aide_ponctuelle", "Aide ponctuelle"),
];

pub const TRANCHES_AGE: &[(&str, &str)] = &[
    ("non_renseigne", "Non renseigné"),
    ("moins_18", "Moins de 18 ans"),
    ("18_25", "18 à 25 ans"),
    ("26_39", "26 à 39 ans"),
    ("40_59", "40 à 59 ans"),
    ("60_69", "60 à 69 ans"),
    ("70_plus", "70 ans et plus"),
];

pub const STATUTS: &[(&str, &str)] = &[
    ("non_renseigne", "Autre ou non renseigné"),
    ("salarie", "Salarié"),
    ("sans_emploi", "Sans emploi"),
    ("retraite", "Retraité"),
    ("etudiant", "Étudiant ou scolaire"),
];

pub const DUREE_MAX: i64 = 8 * 60;
pub const PARTICIPANTS_MAX: i64 = 200;

/// Stable key of a service of the standard (its label folded to ASCII snake case).
pub fn theme_key(s: Services) -> String {
    let mut out = String::new();
    for c in s.label().chars() {
        let c = match c {
            'é' | 'è' | 'ê' | 'ë' | 'É' => 'e',
            'à' | 'â' => 'a',
            'î' | 'ï' => 'i',
            'ô' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            c if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
            _ => '_',
        };
        if c == '_' && (out.is_empty() || out.ends_with('_')) {
            continue;
        }
        out.push(c);
    }
    out.trim_end_matches('_').to_string()
}

/// All themes: (key, label).
pub fn themes() -> Vec<(String, &'static str)> {
    Services::ALL.iter().map(|s| (theme_key(*s), s.label())).collect()
}

pub fn theme_label(key: &str) -> String {
    Services::ALL
        .iter()
        .find(|s| theme_key(**s) == key)
        .map(|s| s.label().to_string())
        .unwrap_or_else(|| key.to_string())
}

pub fn label_of(list: &[(&str, &'static str)], key: &str) -> &'static str {
    list.iter().find(|(k, _)| *k == key).map(|(_, l)| *l).unwrap_or("?")
}

/// The form as typed.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub jour: String,
    pub lieu_id: Option<i64>,
    pub duree_minutes: String,
    pub nature: String,
    pub participants: String,
    pub thematiques: Vec<String>,
    pub tranche_age: String,
    pub commune_insee: String,
    pub statut: String,
    pub suivi: String,
    pub cheque_id: Option<i64>,
    pub mandat_utilisation_id: Option<i64>,
}

/// A checked accompaniment (links to places, cheques and uses are checked
/// against the database by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valid {
    pub jour: Date,
    pub lieu_id: Option<i64>,
    pub duree_minutes: i64,
    pub nature: &'static str,
    pub participants: i64,
    pub thematiques: Vec<String>,
    pub tranche_age: &'static str,
    pub commune_insee: String,
    pub statut: &'static str,
    pub suivi: Option<String>,
    pub cheque_id: Option<i64>,
    pub mandat_utilisation_id: Option<i64>,
}

/// One refused field: (field name, message).
pub type FieldError = (&'static str, String);

fn closed(list: &[(&'static str, &'static str)], v: &str) -> Option<&'static str> {
    list.iter().find(|(k, _)| *k == v.trim()).map(|(k, _)| *k)
}

/// Checks every field; `today` is the day in Paris.
pub fn validate(input: &Input, today: Date) -> Result<Valid, Vec<FieldError>> {
    let mut errors: Vec<FieldError> = Vec::new();
    let jour = match Date::strptime("%Y-%m-%d", input.jour.trim()) {
        Ok(d) if d > today => {
            errors.push(("jour", "La date ne peut pas être dans le futur.".into()));
            None
        }
        Ok(d) if crate::dates_fr::jours_entre(d, today) > 366 => {
            errors.push(("jour", "La date doit dater de moins d’un an.".into()));
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(("jour", "Indiquez la date au format AAAA-MM-JJ.".into()));
            None
        }
    };
    let duree = match input.duree_minutes.trim().parse::<i64>() {
        Ok(m) if (1..=DUREE_MAX).contains(&m) => Some(m),
        _ => {
            errors.push((
                "duree_minutes",
                format!("La durée est un nombre de minutes entre 1 et {DUREE_MAX}."),
            ));
            None
        }
    };
    let nature = closed(NATURES, &input.nature);
    if nature.is_none() {
        errors.push(("nature", "Choisissez le type d’accompagnement.".into()));
    }
    let participants = if nature == Some("atelier") {
        match input.participants.trim().parse::<i64>() {
            Ok(n) if (1..=PARTICIPANTS_MAX).contains(&n) => Some(n),
            _ => {
                errors.push((
                    "participants",
                    format!("Pour un atelier, indiquez le nombre de participants (1 à {PARTICIPANTS_MAX})."),
                ));
                None
            }
        }
    } else {
        Some(1)
    };
    let keys: Vec<String> = themes().into_iter().map(|(k, _)| k).collect();
    let mut thematiques: Vec<String> = Vec::new();
    for t in &input.thematiques {
        let t = t.trim();
        if t.is_empty() {
            continue;
        }
        if !keys.iter().any(|k| k == t) {
            errors.push(("thematiques", format!("Thématique inconnue : « {t} ».")));
        } else if !thematiques.iter().any(|k| k == t) {
            thematiques.push(t.to_string());
        }
    }
    if thematiques.is_empty() && !errors.iter().any(|(f, _)| *f == "thematiques") {
        errors.push(("thematiques", "Choisissez au moins une thématique.".into()));
    }
    // Keep the standard's order, whatever the form's.
    thematiques.sort_by_key(|t| keys.iter().position(|k| k == t));
    let tranche_age = closed(TRANCHES_AGE, &input.tranche_age);
    if tranche_age.is_none() {
        errors.push((
            "tranche_age",
            "Choisissez une tranche d’âge (ou « Non renseigné »).".into(),
        ));
    }
    let statut = closed(STATUTS, &input.statut);
    if statut.is_none() {
        errors.push((
            "statut",
            "Choisissez une situation (ou « Autre ou non renseigné »).".into(),
        ));
    }
    // Optional: empty, or a commune's INSEE code by the one rule of `CodeInsee`.
    let typed = input.commune_insee.trim();
    let commune = if typed.is_empty() {
        Ok(String::new())
    } else {
        CodeInsee::parse(typed).map(String::from)
    };
    let commune = commune.unwrap_or_else(|_| {
        errors.push((
            "commune_insee",
            "Le code INSEE de la commune a 5 caractères (par exemple 33063), ou laissez vide.".into(),
        ));
        String::new()
    });
    let suivi = input.suivi.trim().to_ascii_uppercase();
    let suivi_ok = suivi.is_empty()
        || ((4..=12).contains(&suivi.len())
            && suivi.chars().all(|c| c.is_ascii_alphanumeric())
            && suivi.chars().any(|c| c.is_ascii_digit()));
    if !suivi_ok {
        errors.push((
            "suivi",
            "Le code de suivi a 4 à 12 lettres et chiffres, dont au moins un chiffre (jamais un nom).".into(),
        ));
    }
    let (Some(jour), Some(duree_minutes), Some(nature), Some(participants), Some(tranche_age), Some(statut), true) = (
        jour,
        duree,
        nature,
        participants,
        tranche_age,
        statut,
        errors.is_empty(),
    ) else {
        return Err(errors);
    };
    Ok(Valid {
        jour,
        lieu_id: input.lieu_id,
        duree_minutes,
        nature,
        participants,
        thematiques,
        tranche_age,
        commune_insee: commune,
        statut,
        suivi: (!suivi.is_empty()).then_some(suivi),
        cheque_id: input.cheque_id,
        mandat_utilisation_id: input.mandat_utilisation_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::new(2026, 12, 1).unwrap()
    }

    #[test]
    fn theme_keys_are_stable_ascii() {
        let keys: Vec<String> = themes().into_iter().map(|(k, _)| k).collect();
        assert!(
            keys.contains(&"aide_aux_demarches_administratives".to_string()),
            "{keys:?}"
        );
        assert!(keys
            .iter()
            .all(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        let mut dedup = keys.clone();
        dedup.dedup();
        assert_eq!(dedup.len(), keys.len());
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let input = Input {
            jour: "2027-01-01".into(),
            duree_minutes: "0".into(),
            nature: "atelier".into(),
            participants: "0".into(),
            thematiques: vec!["inconnue".into()],
            tranche_age: "x".into(),
            commune_insee: "123".into(),
            statut: "y".into(),
            suivi: "Martin".into(),
            ..Input::default()
        };
        let errs = validate(&input, today()).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            [
                "jour",
                "duree_minutes",
                "participants",
                "thematiques",
                "tranche_age",
                "statut",
                "commune_insee",
                "suivi"
            ]
        );
    }

    #[test]
    fn a_valid_individual_accompaniment_counts_one_person() {
        let input = Input {
            jour: "2026-11-30".into(),
            duree_minutes: "30".into(),
            nature: "individuel".into(),
            participants: "12".into(),
            thematiques: vec![theme_key(Services::ALL[1]), theme_key(Services::ALL[0])],
            tranche_age: "60_69".into(),
            commune_insee: "2a004".into(),
            statut: "retraite".into(),
            suivi: "ab12".into(),
            ..Input::default()
        };
        let v = validate(&input, today()).unwrap();
        assert_eq!(v.participants, 1);
        assert_eq!(v.thematiques[0], theme_key(Services::ALL[0]));
        assert_eq!(v.commune_insee, "2A004");
        assert_eq!(v.suivi.as_deref(), Some("AB12"));
    }
}
