//! The closed list of démarches (procedure categories) of the brief.

use crate::error::{CoreError, Result};

/// (key, label), in the order of the brief.
pub const ALL: [(&str, &str); 10] = [
    ("papiers", "Papiers - Citoyenneté - Élections"),
    ("famille", "Famille - Scolarité"),
    ("social", "Social - Santé"),
    ("travail", "Travail - Formation"),
    ("logement", "Logement"),
    ("transports", "Transports - Mobilité"),
    ("argent", "Argent - Impôts - Consommation"),
    ("justice", "Justice"),
    ("etranger", "Étranger - Europe"),
    ("loisirs", "Loisirs - Sport - Culture"),
];

/// The label of a key (the key itself if unknown, which the database never holds).
pub fn label(key: &str) -> &str {
    ALL.iter().find(|(k, _)| *k == key).map(|(_, l)| *l).unwrap_or(key)
}

/// Checks a list of keys against the closed list; returns them in the list's
/// order, without duplicates. At least one is required.
pub fn parse_list<S: AsRef<str>>(keys: &[S]) -> Result<Vec<&'static str>> {
    for k in keys {
        let k = k.as_ref().trim();
        if !ALL.iter().any(|(key, _)| *key == k) {
            return Err(CoreError::invalid(format!(
                "démarche inconnue « {} »",
                k.chars().take(40).collect::<String>()
            )));
        }
    }
    let chosen: Vec<&'static str> = ALL
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| keys.iter().any(|x| x.as_ref().trim() == *k))
        .collect();
    if chosen.is_empty() {
        return Err(CoreError::invalid("choisissez au moins une démarche"));
    }
    Ok(chosen)
}

/// Splits the stored comma-separated form.
pub fn split(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_ten_keys_of_the_brief_in_their_order() {
        assert_eq!(
            parse_list(&["justice", "papiers", "justice"]).unwrap(),
            vec!["papiers", "justice"]
        );
        assert!(parse_list(&["impots"]).is_err());
        assert!(parse_list::<&str>(&[]).is_err());
        assert_eq!(label("etranger"), "Étranger - Europe");
        assert_eq!(split("a,b"), vec!["a", "b"]);
    }
}
