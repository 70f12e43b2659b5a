//! The vocabulary of the Pass Numérique: cheque states, publics, perimeters.

use crate::error::{CoreError, Result};

/// Every cheque is in exactly one state; transitions only go forward (the one
/// exception, a redemption cancelled by its place within 24 h before any
/// statement, is journaled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChequeState {
    /// Issued; its order is not paid yet.
    EnAttente,
    Actif,
    Encaisse,
    Expire,
    Annule,
}

crate::texte_en_base!(ChequeState, ChequeState::from_key, ChequeState::key, "état de chèque");

impl ChequeState {
    pub const ALL: [ChequeState; 5] = [
        ChequeState::EnAttente,
        ChequeState::Actif,
        ChequeState::Encaisse,
        ChequeState::Expire,
        ChequeState::Annule,
    ];

    /// The value stored in the database.
    pub fn key(self) -> &'static str {
        match self {
            ChequeState::EnAttente => "en_attente",
            ChequeState::Actif => "actif",
            ChequeState::Encaisse => "encaisse",
            ChequeState::Expire => "expire",
            ChequeState::Annule => "annule",
        }
    }

    pub fn from_key(key: &str) -> Option<ChequeState> {
        ChequeState::ALL.into_iter().find(|s| s.key() == key)
    }

    /// Whether a cheque may go from `self` to `to`.
    pub fn may_become(self, to: ChequeState) -> bool {
        use ChequeState::*;
        matches!(
            (self, to),
            (EnAttente, Actif) | (EnAttente, Annule) | (Actif, Encaisse) | (Actif, Expire) | (Actif, Annule)
            // A redemption cancelled by its place (within 24 h, before any statement).
            | (Encaisse, Actif)
        )
    }
}

/// The publics an order targets (keys of the command line and the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Public {
    ToutPublic,
    Jeunes,
    Etudiants,
    Familles,
    Seniors,
    Femmes,
    DemandeursEmploi,
    PersonnesHandicapees,
    MinimaSociaux,
}

impl Public {
    pub const ALL: [Public; 9] = [
        Public::ToutPublic,
        Public::Jeunes,
        Public::Etudiants,
        Public::Familles,
        Public::Seniors,
        Public::Femmes,
        Public::DemandeursEmploi,
        Public::PersonnesHandicapees,
        Public::MinimaSociaux,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Public::ToutPublic => "tout-public",
            Public::Jeunes => "jeunes",
            Public::Etudiants => "etudiants",
            Public::Familles => "familles",
            Public::Seniors => "seniors",
            Public::Femmes => "femmes",
            Public::DemandeursEmploi => "demandeurs-emploi",
            Public::PersonnesHandicapees => "personnes-handicapees",
            Public::MinimaSociaux => "minima-sociaux",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Public::ToutPublic => "Tout public",
            Public::Jeunes => "Jeunes",
            Public::Etudiants => "Étudiants",
            Public::Familles => "Familles",
            Public::Seniors => "Seniors",
            Public::Femmes => "Femmes",
            Public::DemandeursEmploi => "Demandeurs d'emploi",
            Public::PersonnesHandicapees => "Personnes en situation de handicap",
            Public::MinimaSociaux => "Bénéficiaires des minima sociaux",
        }
    }

    pub fn parse(key: &str) -> Result<Public> {
        let k = key.trim().to_lowercase().replace(['_', ' '], "-");
        Public::ALL.into_iter().find(|p| p.key() == k).ok_or_else(|| {
            CoreError::invalid(format!(
                "public inconnu « {} » (attendus : {})",
                key.trim(),
                Public::ALL.map(Public::key).join(", ")
            ))
        })
    }
}

/// One territory of an order's perimeter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Territory {
    /// INSEE code of a département (`33`, `2A`, `971`).
    Departement(String),
    /// INSEE code of a commune (`33318`).
    Commune(String),
}

impl Territory {
    /// A code of 2 or 3 characters is a département, of 5 a commune.
    pub fn parse(code: &str) -> Result<Territory> {
        let c = code.trim().to_uppercase();
        let insee_chars = c.bytes().all(|b| b.is_ascii_digit() || b == b'A' || b == b'B');
        match c.len() {
            2 | 3 if insee_chars => Ok(Territory::Departement(c)),
            5 if insee_chars => Ok(Territory::Commune(c)),
            _ => Err(CoreError::invalid(format!(
                "code de périmètre « {} » invalide : 2 ou 3 caractères pour un département (33, 2A, 971), 5 pour une commune (33318)",
                code.trim()
            ))),
        }
    }

    pub fn code(&self) -> &str {
        match self {
            Territory::Departement(c) | Territory::Commune(c) => c,
        }
    }

    /// Whether a place of commune `commune` in département `departement` lies in this territory.
    pub fn contains(&self, commune: &str, departement: &str) -> bool {
        match self {
            Territory::Departement(d) => d == departement,
            Territory::Commune(c) => c == commune,
        }
    }
}

/// An order's perimeter: the territories where its cheques may be used. Read
/// once (form, command line, database) and checked as this set; stored as its
/// codes joined by `,` (`33,33318`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Perimetre(Vec<Territory>);

crate::texte_lu_en_base!(Perimetre, Perimetre::parse);

impl Perimetre {
    /// Codes separated by commas, semicolons or blanks (the stored form is
    /// `33,33318`); each is a département or a commune. Empty text gives an
    /// empty perimeter (refused when an order is checked).
    pub fn parse(text: &str) -> Result<Perimetre> {
        text.split([',', ';', ' ', '\n', '\r', '\t'])
            .filter(|c| !c.is_empty())
            .map(Territory::parse)
            .collect::<Result<Vec<_>>>()
            .map(Perimetre)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Territory> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The codes, in the order given.
    pub fn codes(&self) -> Vec<&str> {
        self.0.iter().map(Territory::code).collect()
    }

    /// Whether a place of commune `commune` in département `departement` lies in the perimeter.
    pub fn contains(&self, commune: &str, departement: &str) -> bool {
        self.0.iter().any(|t| t.contains(commune, departement))
    }
}

impl From<Vec<Territory>> for Perimetre {
    fn from(territories: Vec<Territory>) -> Perimetre {
        Perimetre(territories)
    }
}

impl<'a> IntoIterator for &'a Perimetre {
    type Item = &'a Territory;
    type IntoIter = std::slice::Iter<'a, Territory>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The stored form: codes joined by `,`.
impl std::fmt::Display for Perimetre {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.codes().join(","))
    }
}

/// In JSON, the list of codes (`["33", "33318"]`).
impl serde::Serialize for Perimetre {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Territory::code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_only_go_forward_but_for_a_cancelled_redemption() {
        use ChequeState::*;
        let allowed: Vec<(ChequeState, ChequeState)> = ChequeState::ALL
            .into_iter()
            .flat_map(|a| ChequeState::ALL.into_iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.may_become(*b))
            .collect();
        assert_eq!(
            allowed,
            [
                (EnAttente, Actif),
                (EnAttente, Annule),
                (Actif, Encaisse),
                (Actif, Expire),
                (Actif, Annule),
                (Encaisse, Actif)
            ]
        );
        for s in ChequeState::ALL {
            assert_eq!(ChequeState::from_key(s.key()), Some(s));
        }
    }

    #[test]
    fn publics_and_perimeters_are_read_as_the_command_line_writes_them() {
        assert_eq!(Public::parse("Demandeurs-Emploi").unwrap(), Public::DemandeursEmploi);
        assert_eq!(Public::parse("tout public").unwrap(), Public::ToutPublic);
        assert!(Public::parse("retraités").unwrap_err().to_string().contains("seniors"));
        assert_eq!(Territory::parse("33").unwrap(), Territory::Departement("33".into()));
        assert_eq!(Territory::parse("2a").unwrap(), Territory::Departement("2A".into()));
        assert_eq!(Territory::parse("971").unwrap(), Territory::Departement("971".into()));
        assert_eq!(Territory::parse(" 33318 ").unwrap(), Territory::Commune("33318".into()));
        assert!(Territory::parse("3331").is_err());
        assert!(Territory::parse("<b>").is_err());
        assert!(Territory::Departement("33".into()).contains("33318", "33"));
        assert!(!Territory::Commune("33063".into()).contains("33318", "33"));
    }

    #[test]
    fn a_perimeter_is_read_once_and_written_back_as_stored() {
        let p = Perimetre::parse("33,33318").unwrap();
        assert_eq!(p.to_string(), "33,33318");
        assert_eq!(Perimetre::parse("2a; 33063\n").unwrap().to_string(), "2A,33063");
        assert!(p.contains("33063", "33"));
        assert!(Perimetre::parse("33318").unwrap().contains("33318", "33"));
        assert!(!Perimetre::parse("33318").unwrap().contains("33063", "33"));
        assert!(Perimetre::parse("").unwrap().is_empty());
        assert!(Perimetre::parse("33,x").unwrap_err().to_string().contains("« x »"));
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"["33","33318"]"#);
    }
}
