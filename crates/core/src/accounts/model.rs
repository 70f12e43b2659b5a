//! Organisations, roles and accounts: the typed values of the accounts domain.

use crate::error::{CoreError, Result};

/// The kinds of organisation of the brief.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgKind {
    Operateur,
    Commanditaire,
    Prescripteur,
    Lieu,
    Hub,
    StructureHabilitee,
}

impl OrgKind {
    pub const ALL: [OrgKind; 6] = [
        OrgKind::Operateur,
        OrgKind::Commanditaire,
        OrgKind::Prescripteur,
        OrgKind::Lieu,
        OrgKind::Hub,
        OrgKind::StructureHabilitee,
    ];

    /// Stable key stored in the database and used on the command line.
    pub fn key(self) -> &'static str {
        match self {
            OrgKind::Operateur => "operateur",
            OrgKind::Commanditaire => "commanditaire",
            OrgKind::Prescripteur => "prescripteur",
            OrgKind::Lieu => "lieu",
            OrgKind::Hub => "hub",
            OrgKind::StructureHabilitee => "structure_habilitee",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OrgKind::Operateur => "Opérateur",
            OrgKind::Commanditaire => "Commanditaire",
            OrgKind::Prescripteur => "Prescripteur",
            OrgKind::Lieu => "Lieu de médiation numérique",
            OrgKind::Hub => "Hub territorial",
            OrgKind::StructureHabilitee => "Structure habilitée",
        }
    }

    /// Parses a kind as people type it: with or without accents, any case,
    /// `-`, `_` or spaces between words (« structure habilitée », « opérateur »).
    pub fn parse(input: &str) -> Result<OrgKind> {
        let k = fold(input);
        OrgKind::ALL.into_iter().find(|kind| kind.key() == k).ok_or_else(|| {
            CoreError::invalid(format!(
                "type d'organisation inconnu « {} » ; types possibles : {}",
                input.trim(),
                OrgKind::ALL.iter().map(|k| k.key()).collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// The roles an account of this kind of organisation may have.
    pub fn roles(self) -> &'static [Role] {
        match self {
            OrgKind::Operateur => &[Role::Operateur],
            OrgKind::Commanditaire => &[Role::Commanditaire],
            OrgKind::Prescripteur => &[Role::Prescripteur],
            OrgKind::Lieu => &[Role::Lieu],
            OrgKind::Hub => &[Role::Hub],
            OrgKind::StructureHabilitee => &[Role::Referent, Role::Aidant],
        }
    }
}

/// The roles of accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Operateur,
    Commanditaire,
    Prescripteur,
    Lieu,
    Hub,
    Referent,
    Aidant,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Operateur,
        Role::Commanditaire,
        Role::Prescripteur,
        Role::Lieu,
        Role::Hub,
        Role::Referent,
        Role::Aidant,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Role::Operateur => "operateur",
            Role::Commanditaire => "commanditaire",
            Role::Prescripteur => "prescripteur",
            Role::Lieu => "lieu",
            Role::Hub => "hub",
            Role::Referent => "referent",
            Role::Aidant => "aidant",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Operateur => "Opérateur",
            Role::Commanditaire => "Commanditaire",
            Role::Prescripteur => "Agent prescripteur",
            Role::Lieu => "Équipe d'un lieu",
            Role::Hub => "Hub territorial",
            Role::Referent => "Référent Aidants Connect",
            Role::Aidant => "Aidant",
        }
    }

    pub fn parse(input: &str) -> Result<Role> {
        let k = fold(input);
        Role::ALL.into_iter().find(|r| r.key() == k).ok_or_else(|| {
            CoreError::invalid(format!(
                "rôle inconnu « {} » ; rôles possibles : {}",
                input.trim(),
                Role::ALL.iter().map(|r| r.key()).collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// The brief requires a TOTP second factor for these roles.
    pub fn requires_totp(self) -> bool {
        matches!(
            self,
            Role::Operateur | Role::Commanditaire | Role::Referent | Role::Aidant
        )
    }
}

/// Lower-cases, removes French accents and turns `-`/spaces into `_`.
fn fold(input: &str) -> String {
    input
        .trim()
        .chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
            'à' | 'â' | 'À' | 'Â' => 'a',
            'î' | 'ï' | 'Î' | 'Ï' => 'i',
            'ô' | 'Ô' => 'o',
            'ù' | 'û' | 'ü' | 'Ù' | 'Û' | 'Ü' => 'u',
            'ç' | 'Ç' => 'c',
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

pub use crate::identifiants::Siret;

/// An e-mail address, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email> {
        let e = input.trim().to_lowercase();
        let err = || CoreError::invalid(format!("adresse électronique invalide « {} »", input.trim()));
        if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err());
        }
        let (local, domain) = e.split_once('@').ok_or_else(err)?;
        if local.is_empty()
            || domain.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(err());
        }
        Ok(Email(e))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Organisation {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub siret: Option<String>,
    pub created_at: i64,
}

impl Organisation {
    pub fn kind_label(&self) -> &'static str {
        OrgKind::parse(&self.kind).map(|k| k.label()).unwrap_or("Inconnu")
    }
}

/// An account, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Account {
    pub id: i64,
    pub organisation_id: i64,
    pub organisation_name: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub totp_enabled: bool,
    pub active: bool,
    pub created_at: i64,
}

impl Account {
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role).ok()
    }

    pub fn role_label(&self) -> &'static str {
        self.role().map(|r| r.label()).unwrap_or("Inconnu")
    }

    pub fn requires_totp(&self) -> bool {
        self.role().is_some_and(Role::requires_totp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_as_typed() {
        assert_eq!(
            OrgKind::parse("Structure habilitée").unwrap(),
            OrgKind::StructureHabilitee
        );
        assert_eq!(OrgKind::parse("opérateur").unwrap(), OrgKind::Operateur);
        assert_eq!(
            OrgKind::parse("structure-habilitee").unwrap(),
            OrgKind::StructureHabilitee
        );
        assert!(OrgKind::parse("banque")
            .unwrap_err()
            .to_string()
            .contains("types possibles"));
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse("  Marie.Dupont@Exemple.FR ").unwrap().as_str(),
            "marie.dupont@exemple.fr"
        );
        for bad in ["", "a", "a@b", "@b.fr", "a@.fr", "a b@c.fr", "a@b@c.fr"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
