//! What the search page says about the commune it understood: its name and département, what
//! the distances are measured from when no place is listed in it, and the other communes the
//! text may mean.

use passerelle_core::lieux::search::communes::{Commune, Lecture, Repere};
use passerelle_core::lieux::search::Compris;

/// Another commune the searched text may mean, as a link.
#[derive(Clone, Debug)]
pub struct Autre {
    pub nom: String,
    pub url: String,
}

/// The commune understood, in words.
#[derive(Clone, Debug)]
pub struct Autour {
    /// « de Talence (Gironde) », « du Mont-Dore (Nouvelle-Calédonie) ».
    pub de: String,
    /// What the distances are measured from, when it is not the commune's own places.
    pub repere: Option<String>,
    /// The title of the list of other communes (« Autres communes de ce nom »).
    pub autres_titre: &'static str,
    pub autres: Vec<Autre>,
}

/// Whether a name starts with a vowel sound (elision: « d'Angoulême »).
fn elided(nom: &str) -> bool {
    nom.chars()
        .next()
        .is_some_and(|c| "AEIOUYÂÉÈÊÎÏÔÛaeiouyâéèêîïôû".contains(c))
}

/// « de Talence », « d'Angoulême », « du Mont-Dore », « des Abymes ».
pub fn de(nom: &str) -> String {
    if let Some(rest) = nom.strip_prefix("Le ") {
        format!("du {rest}")
    } else if let Some(rest) = nom.strip_prefix("Les ") {
        format!("des {rest}")
    } else if elided(nom) {
        format!("d'{nom}")
    } else {
        format!("de {nom}")
    }
}

/// « à Talence », « au Mont-Dore », « aux Abymes ».
fn a(nom: &str) -> String {
    if let Some(rest) = nom.strip_prefix("Le ") {
        format!("au {rest}")
    } else if let Some(rest) = nom.strip_prefix("Les ") {
        format!("aux {rest}")
    } else {
        format!("à {nom}")
    }
}

/// « Talence (Gironde) », « Saint-Denis (La Réunion) ».
fn nommer(c: &Commune) -> String {
    if c.departement_nom.is_empty() {
        c.nom.clone()
    } else {
        format!("{} ({})", c.nom, c.departement_nom)
    }
}

impl Autour {
    /// `raw` is the query string of the page, kept in the links to the other communes.
    pub fn of(c: &Compris<'_>, raw: Option<&str>) -> Autour {
        let de_nom = de(&nommer(c.commune));
        let sans_lieu = format!("Aucun lieu n'est encore listé {}", a(&c.commune.nom));
        let repere = match c.position.map(|p| p.1) {
            Some(Repere::Commune) => None,
            Some(Repere::CodePostal) => Some(format!(
                "{sans_lieu} : les distances sont mesurées depuis les lieux qui partagent son code postal."
            )),
            Some(Repere::Epci) => Some(format!(
                "{sans_lieu} : les distances sont mesurées depuis le centre des lieux de son intercommunalité, {}.",
                c.commune.epci_nom
            )),
            Some(Repere::Departement) => Some(format!(
                "{sans_lieu}{} : les distances sont mesurées depuis le centre des lieux du département ({}).",
                if c.commune.epci.is_empty() {
                    ""
                } else {
                    " ni dans son intercommunalité"
                },
                c.commune.departement_nom
            )),
            None => Some(format!(
                "Aucun lieu n'est encore listé dans le département {}, {}.",
                de(&c.commune.nom),
                c.commune.departement_nom
            )),
        };
        let kept: Vec<(String, String)> = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .filter(|(k, _)| k != "page" && k != "commune")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let autres = c
            .autres
            .iter()
            .map(|o| {
                let mut link = url::form_urlencoded::Serializer::new(String::new());
                link.extend_pairs(&kept).append_pair("commune", &o.code);
                Autre {
                    nom: nommer(o),
                    url: format!("/lieux?{}#resultats", link.finish()),
                }
            })
            .collect();
        Autour {
            de: de_nom,
            repere,
            autres_titre: match c.lecture {
                Lecture::CodePostal => "Ce code postal couvre aussi :",
                Lecture::Nom | Lecture::CodeInsee => "Vous cherchiez une autre commune de ce nom ?",
            },
            autres,
        }
    }
}
