//! Personal data (RGPD): the retention periods, enforced by a daily job
//! ([`conservation`]); everything held about one person as JSON ([`export`]);
//! erasure or pseudonymisation of a person, keeping what the law requires
//! ([`effacement`]). Every table and period is described in
//! `docs/DONNEES-PERSONNELLES.md`.
//!
//! The journal itself is never touched: it names people only by reference
//! (`usager:12`, `compte:3`, `carnet:1001`) or by keyed hash, so erasing a
//! person elsewhere leaves every entry, and `journal verify`, intact.

pub mod conservation;
pub mod effacement;
pub mod export;
mod rows;

use crate::db::Tx;
use crate::error::{CoreError, Result};
use crate::on_tx;

/// Journal actions.
pub const ACTION_EXPORT: &str = "rgpd.export";
pub const ACTION_ERASURE: &str = "rgpd.effacement";
pub const ACTION_RETENTION: &str = "rgpd.conservation";

/// Name of the daily job in `taches_planifiees`.
pub const JOB: &str = "conservation-des-donnees";

const DAY: i64 = 86_400 * 1_000_000;

/// Retention periods, in days (see `docs/DONNEES-PERSONNELLES.md`).
pub mod durees {
    /// A mandate's proof (the usager's identity, the aidant's name, its uses)
    /// is kept this long after the mandate's end: 5 years, the common
    /// limitation period (art. 2224 du Code civil).
    pub const PREUVE_MANDAT: i64 = 5 * 365 + 1;
    /// An usager identified without any mandate.
    pub const USAGER_SANS_MANDAT: i64 = 90;
    /// An account deactivated (and unused) for this long is pseudonymised.
    pub const COMPTE_DESACTIVE: i64 = 2 * 365;
    /// FranceConnect flows (state, nonce, sealed ID token) after their start.
    pub const PARCOURS_FRANCECONNECT: i64 = 30;
    /// Simulator codes and tokens, OIDC codes and access tokens, login links, after expiry.
    pub const JETONS_EXPIRES: i64 = 7;
    /// Queued e-mails (recipient and body) after their creation.
    pub const COURRIELS: i64 = 90;
    /// Rate-limit counters (IP addresses) and login lockouts after their last use.
    pub const COMPTEURS: i64 = 2;
    /// A beneficiary's optional contact after the end of the order's validity.
    pub const CONTACT_BENEFICIAIRE: i64 = 90;
}

/// The person an export or an erasure is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personne {
    /// An usager of Aidants Connect (`usagers.id`).
    Usager(i64),
    /// The beneficiary of a Pass Numérique booklet, known only by the booklet's number.
    Beneficiaire(i64),
    /// An account (`accounts.id`).
    Compte(i64),
}

impl Personne {
    /// The journal reference of the person (`usager:12`, `carnet:1001`, `compte:3`).
    pub fn reference(&self) -> String {
        match self {
            Personne::Usager(id) => format!("usager:{id}"),
            Personne::Beneficiaire(n) => format!("carnet:{n}"),
            Personne::Compte(id) => format!("compte:{id}"),
        }
    }

    /// In French, for messages.
    pub fn label(&self) -> String {
        match self {
            Personne::Usager(id) => format!("l'usager n° {id}"),
            Personne::Beneficiaire(n) => format!("le bénéficiaire du carnet n° {n}"),
            Personne::Compte(id) => format!("le compte n° {id}"),
        }
    }

    fn kind_subject(&self) -> (&'static str, i64) {
        match self {
            Personne::Usager(id) => ("usager", *id),
            Personne::Beneficiaire(n) => ("carnet", *n),
            Personne::Compte(id) => ("compte", *id),
        }
    }
}

/// Reads an account given as a number or an e-mail address.
pub fn parse_compte(text: &str) -> Result<CompteRef, CoreError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(CoreError::invalid(
            "indiquez le numéro du compte ou son adresse électronique",
        ));
    }
    match t.parse::<i64>() {
        Ok(id) => Ok(CompteRef::Id(id)),
        Err(_) if t.contains('@') => Ok(CompteRef::Courriel(t.to_lowercase())),
        Err(_) => Err(CoreError::invalid(format!(
            "« {t} » n'est ni un numéro de compte ni une adresse électronique"
        ))),
    }
}

/// An account as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompteRef {
    Id(i64),
    Courriel(String),
}

/// Checks that the person exists (and resolves an account's e-mail), in `tx`.
pub async fn resolve(tx: &mut Tx, who: ResolveInput) -> Result<Personne> {
    match who {
        ResolveInput::Usager(id) => {
            let found: Option<i64> = on_tx!(tx, c => {
                sqlx::query_scalar("SELECT id FROM usagers WHERE id = $1").bind(id).fetch_optional(&mut *c).await?
            });
            found
                .map(Personne::Usager)
                .ok_or_else(|| CoreError::NotFound(format!("aucun usager n° {id}")))
        }
        ResolveInput::Beneficiaire(n) => {
            let found: Option<(i64, Option<i64>)> = on_tx!(tx, c => {
                sqlx::query_as("SELECT numero, remis_at FROM carnets WHERE numero = $1")
                    .bind(n)
                    .fetch_optional(&mut *c)
                    .await?
            });
            match found {
                None => Err(CoreError::NotFound(format!("aucun carnet n° {n}"))),
                Some((_, None)) => Err(CoreError::NotFound(format!(
                    "le carnet n° {n} n'a pas été remis : il n'a pas de bénéficiaire"
                ))),
                Some((numero, Some(_))) => Ok(Personne::Beneficiaire(numero)),
            }
        }
        ResolveInput::Compte(CompteRef::Id(id)) => {
            let found: Option<i64> = on_tx!(tx, c => {
                sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1").bind(id).fetch_optional(&mut *c).await?
            });
            found
                .map(Personne::Compte)
                .ok_or_else(|| CoreError::NotFound(format!("aucun compte n° {id}")))
        }
        ResolveInput::Compte(CompteRef::Courriel(email)) => {
            let found: Option<i64> = on_tx!(tx, c => {
                sqlx::query_scalar("SELECT id FROM accounts WHERE email = $1")
                    .bind(&email)
                    .fetch_optional(&mut *c)
                    .await?
            });
            found
                .map(Personne::Compte)
                .ok_or_else(|| CoreError::NotFound("aucun compte avec cette adresse électronique".into()))
        }
    }
}

/// A person as given on the command line, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveInput {
    Usager(i64),
    Beneficiaire(i64),
    Compte(CompteRef),
}

/// `micros` as an RFC 3339 date (UTC), for exports and messages.
pub fn date_of(micros: i64) -> String {
    jiff::Timestamp::from_microsecond(micros)
        .map(|d| d.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| micros.to_string())
}

/// `micros` as a day (AAAA-MM-JJ, UTC), for "kept until".
pub fn day_of(micros: i64) -> String {
    jiff::Timestamp::from_microsecond(micros)
        .map(|d| d.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| micros.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_a_number_or_an_address() {
        assert_eq!(parse_compte(" 42 ").unwrap(), CompteRef::Id(42));
        assert_eq!(
            parse_compte("Marie@Exemple.fr").unwrap(),
            CompteRef::Courriel("marie@exemple.fr".into())
        );
        assert!(parse_compte("").is_err());
        assert!(parse_compte("marie").unwrap_err().to_string().contains("ni un numéro"));
    }

    #[test]
    fn references_are_those_of_the_journal() {
        assert_eq!(Personne::Usager(3).reference(), "usager:3");
        assert_eq!(Personne::Beneficiaire(1001).reference(), "carnet:1001");
        assert_eq!(Personne::Compte(7).reference(), "compte:7");
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(date_of(86_400_000_000), "1970-01-02T00:00:00Z");
    }
}
