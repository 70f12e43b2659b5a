//! Checks of a place's commune, postcode and INSEE code against the official
//! territories (see [`crate::geographie`]): mismatches are reported; a missing
//! INSEE code is deduced when the postcode and commune name designate exactly
//! one commune (homonyms elsewhere in France are told apart by the postcode).

use std::collections::HashMap;

use super::model::fold;
use super::validate::{Checked, Issue, Normalisation};
use crate::geographie::Commune;
use crate::identifiants::CodeInsee;

/// Communes by INSEE code, and by postcode (for deduction).
pub struct Reference {
    by_code: HashMap<String, Commune>,
    by_postcode: HashMap<String, Vec<String>>,
}

impl Reference {
    pub fn new(by_code: HashMap<String, Commune>) -> Reference {
        let mut by_postcode: HashMap<String, Vec<String>> = HashMap::new();
        for (code, c) in &by_code {
            for cp in &c.codes_postaux {
                by_postcode.entry(cp.clone()).or_default().push(code.clone());
            }
        }
        Reference { by_code, by_postcode }
    }

    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }

    /// Checks (and possibly completes) one valid row.
    pub fn check(&self, line: usize, c: &mut Checked) {
        if self.is_empty() {
            return;
        }
        let warn = |c: &mut Checked, champ: &str, message: String| {
            c.warnings.push(Issue {
                ligne: line,
                champ: champ.into(),
                message,
            });
        };
        let lieu = &c.lieu;
        // Every row alike: a postcode of no commune is named, whatever else the row gives.
        let known_postcode = self.by_postcode.contains_key(lieu.code_postal.as_str());
        if !known_postcode {
            let cp = lieu.code_postal.clone();
            warn(
                c,
                "code_postal",
                format!("code postal {cp} inconnu du référentiel officiel"),
            );
        }
        let lieu = &c.lieu;
        match lieu.code_insee.clone() {
            Some(code) => match self.by_code.get(code.as_str()) {
                None => warn(
                    c,
                    "code_insee",
                    format!("code INSEE {code} inconnu du référentiel officiel des communes"),
                ),
                Some(commune) => {
                    let (nom, cp) = (lieu.commune.clone(), lieu.code_postal.clone());
                    let (official, given) = (fold(&commune.nom), fold(&nom));
                    // « Marseille » for « Marseille 1er Arrondissement » is right.
                    let arrondissement =
                        official.starts_with(&format!("{given} ")) && official.contains("arrondissement");
                    if official != given && !arrondissement {
                        warn(
                            c,
                            "commune",
                            format!("« {nom} » ne correspond pas au code INSEE {code} ({})", commune.nom),
                        );
                    }
                    if known_postcode && !commune.codes_postaux.iter().any(|known| known == cp.as_str()) {
                        warn(
                            c,
                            "code_postal",
                            format!(
                                "le code postal {cp} n'est pas celui de {} ({})",
                                commune.nom,
                                commune.codes_postaux.join(", ")
                            ),
                        );
                    }
                }
            },
            None => {
                let wanted = fold(&lieu.commune);
                let matches: Vec<&String> = self
                    .by_postcode
                    .get(lieu.code_postal.as_str())
                    .map(|codes| {
                        codes
                            .iter()
                            .filter(|code| self.by_code.get(*code).is_some_and(|co| fold(&co.nom) == wanted))
                            .collect()
                    })
                    .unwrap_or_default();
                // The referential is official text: a code of it that the one
                // rule refuses is not deduced (the place keeps no INSEE code).
                let deduced = match matches.as_slice() {
                    [only] => CodeInsee::parse(only).ok(),
                    _ => None,
                };
                if let Some(code) = deduced {
                    c.lieu.code_insee = Some(code);
                    c.normalised.push(Normalisation::CodeInseeDeduit);
                }
            }
        }
    }
}
