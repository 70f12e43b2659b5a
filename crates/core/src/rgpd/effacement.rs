//! `passerelle rgpd effacer`: erases or pseudonymises one person's data in one
//! transaction, keeping what the law requires (a mandate's proof for 5 years
//! after its end), and says what was kept and until when. The daily retention
//! job ([`super::conservation`]) uses the same steps once a period is over.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use super::durees::PREUVE_MANDAT;
use super::{Personne, ResolveInput, ACTION_ERASURE, DAY};
use crate::db::Tx;
use crate::error::Result;
use crate::journal::{self, Actor, NewEntry};
use crate::keys::Keys;
use crate::{on_tx, Core};

/// Identity left in place of an erased usager's names.
pub const USAGER_EFFACE: &str = "(effacé)";
/// Name left on an erased account.
pub const COMPTE_EFFACE: &str = "Compte effacé";

/// What an erasure did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Bilan {
    /// Rows (or fields, `table.colonne`) deleted, per table.
    pub supprime: BTreeMap<String, u64>,
    /// Rows whose personal data was replaced, per table.
    pub pseudonymise: BTreeMap<String, u64>,
    /// Autorisations still active, revoked by the erasure.
    pub autorisations_revoquees: u64,
    /// What is kept, why, and until when.
    pub conserve: Vec<Conserve>,
}

/// Something kept after an erasure.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Conserve {
    pub quoi: String,
    pub raison: String,
    /// AAAA-MM-JJ (UTC); none when kept without personal data.
    pub jusqu_au: Option<String>,
}

impl Bilan {
    fn deleted(&mut self, table: &str, n: u64) {
        if n > 0 {
            *self.supprime.entry(table.to_string()).or_default() += n;
        }
    }

    fn pseudonymised(&mut self, table: &str, n: u64) {
        if n > 0 {
            *self.pseudonymise.entry(table.to_string()).or_default() += n;
        }
    }

    /// Adds `other` to this one (the retention job sums the people it erased).
    pub fn add(&mut self, other: Bilan) {
        for (k, v) in other.supprime {
            self.deleted(&k, v);
        }
        for (k, v) in other.pseudonymise {
            self.pseudonymised(&k, v);
        }
        self.autorisations_revoquees += other.autorisations_revoquees;
    }
}

/// Erases `who` (or, without `confirm`, says what would be done and writes
/// nothing). Journaled as `rgpd.effacement` with counts only.
pub async fn erase(core: &Core, actor: &Actor, who: ResolveInput, confirm: bool) -> Result<(Bilan, Personne)> {
    let mut tx = core.db.begin().await?;
    let person = super::resolve(&mut tx, who).await?;
    let now = tx.horloge.now_micros();
    let bilan = match person {
        Personne::Usager(id) => usager_in(&mut tx, id, now, true).await?,
        Personne::Beneficiaire(n) => beneficiaire_in(&mut tx, n).await?,
        Personne::Compte(id) => compte_in(&mut tx, &core.keys, id, now, true).await?,
    };
    let (kind, id) = person.kind_subject();
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), ACTION_ERASURE)
            .subject(kind, id)
            .details(json!({
                "supprime": bilan.supprime,
                "pseudonymise": bilan.pseudonymise,
                "autorisations_revoquees": bilan.autorisations_revoquees,
                "conserve_jusqu_au": bilan.conserve.iter().filter_map(|c| c.jusqu_au.clone()).max(),
            })),
    )
    .await?;
    if confirm {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok((bilan, person))
}

async fn count(tx: &mut Tx, sql: &str, id: i64) -> Result<u64> {
    Ok(on_tx!(tx, c => {
        sqlx::query(sql).bind(id).execute(&mut *c).await?.rows_affected()
    }))
}

/// Records when erasure was asked (the first time), so that the retention job
/// finishes it once nothing has to be kept.
async fn mark_requested(tx: &mut Tx, table: &str, id: i64, now: i64) -> Result<()> {
    let sql = format!("UPDATE {table} SET effacement_demande_at = COALESCE(effacement_demande_at, $2) WHERE id = $1");
    on_tx!(tx, c => {
        sqlx::query(&sql).bind(id).bind(now).execute(&mut *c).await?;
    });
    Ok(())
}

async fn max_expiry(tx: &mut Tx, sql: &str, id: i64) -> Result<Option<i64>> {
    Ok(on_tx!(tx, c => {
        sqlx::query_scalar::<_, Option<i64>>(sql).bind(id).fetch_one(&mut *c).await?
    }))
}

/// An usager: sessions, FranceConnect flows and OIDC codes and tokens
/// deleted, active autorisations revoked, link to FranceConnect and contact
/// forgotten; identity kept while a mandate's proof must be (then the retention
/// job pseudonymises it), otherwise pseudonymised now.
pub(crate) async fn usager_in(tx: &mut Tx, id: i64, now: i64, requested: bool) -> Result<Bilan> {
    let mut b = Bilan::default();
    if requested {
        mark_requested(tx, "usagers", id, now).await?;
    }
    b.autorisations_revoquees = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE autorisations SET revoquee_at = $2, revoquee_par = 'usager' WHERE revoquee_at IS NULL \
             AND mandat_id IN (SELECT id FROM mandats WHERE usager_id = $1 AND expires_at > $2)",
        )
        .bind(id).bind(now).execute(&mut *c).await?.rows_affected()
    });
    for table in [
        "usagers_sessions",
        "oidc_codes",
        "oidc_jetons",
        "oidc_deconnexions",
        "franceconnect_etats",
    ] {
        let n = count(tx, &format!("DELETE FROM {table} WHERE usager_id = $1"), id).await?;
        b.deleted(table, n);
    }
    let last = max_expiry(tx, "SELECT MAX(expires_at) FROM mandats WHERE usager_id = $1", id).await?;
    let until = last.map(|e| e + PREUVE_MANDAT * DAY);
    let erased_sub = format!("efface:{id}");
    match until {
        Some(until) if until > now => {
            let n = on_tx!(tx, c => {
                sqlx::query(
                    "UPDATE usagers SET sub_hash = $2, preferred_username = NULL, email = NULL, updated_at = $3 WHERE id = $1",
                )
                .bind(id).bind(&erased_sub).bind(now).execute(&mut *c).await?.rows_affected()
            });
            b.pseudonymised("usagers", n);
            b.conserve.push(Conserve {
                quoi: "identité de l'usager (nom, prénoms, date et lieu de naissance, sexe), ses mandats, \
                       leurs démarches et leurs utilisations"
                    .into(),
                raison: "preuve des mandats, 5 ans après la fin du dernier (prescription, art. 2224 du Code civil) ; \
                         pseudonymisée ensuite par la tâche de conservation"
                    .into(),
                jusqu_au: Some(super::day_of(until)),
            });
        }
        _ => {
            let n = on_tx!(tx, c => {
                sqlx::query(
                    "UPDATE usagers SET sub_hash = $2, given_name = '', family_name = $3, preferred_username = NULL, \
                     birthdate = '', birthplace = '', birthcountry = '', gender = '', email = NULL, \
                     efface_at = $4, updated_at = $4 WHERE id = $1",
                )
                .bind(id).bind(&erased_sub).bind(USAGER_EFFACE).bind(now).execute(&mut *c).await?.rows_affected()
            });
            b.pseudonymised("usagers", n);
            if last.is_some() {
                b.conserve.push(Conserve {
                    quoi: "mandats, démarches et utilisations, sans identité".into(),
                    raison: "trace des actions faites au nom de l'usager (journal), sans donnée personnelle".into(),
                    jusqu_au: None,
                });
            }
        }
    }
    Ok(b)
}

/// The beneficiary of a booklet: the optional contact and the follow-up codes
/// of the accompaniments paid with its cheques are deleted; the booklet's
/// anonymous profile, cheques and redemptions stay (accounts of the scheme).
pub(crate) async fn beneficiaire_in(tx: &mut Tx, numero: i64) -> Result<Bilan> {
    let mut b = Bilan::default();
    let n = count(
        tx,
        "UPDATE carnets SET contact = NULL WHERE numero = $1 AND contact IS NOT NULL",
        numero,
    )
    .await?;
    b.deleted("carnets.contact", n);
    let n = count(
        tx,
        "UPDATE activites SET suivi = NULL WHERE suivi IS NOT NULL \
         AND cheque_id IN (SELECT id FROM cheques WHERE carnet_id = $1)",
        numero,
    )
    .await?;
    b.deleted("activites.suivi", n);
    b.conserve.push(Conserve {
        quoi: "profil anonyme du carnet (public, commune, tranche d'âge), chèques et encaissements".into(),
        raison: "comptabilité du Pass Numérique et rapports aux commanditaires (10 ans, art. L123-22 du Code de \
                 commerce) ; aucune donnée identifiante"
            .into(),
        jusqu_au: None,
    });
    Ok(b)
}

/// An account: sessions, login links, preferences, e-mails, lockout counters
/// deleted; e-mail address, password, TOTP replaced, account deactivated;
/// the name kept while the mandates it concluded must be proven.
pub(crate) async fn compte_in(tx: &mut Tx, keys: &Keys, id: i64, now: i64, requested: bool) -> Result<Bilan> {
    let mut b = Bilan::default();
    let email: String = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT email FROM accounts WHERE id = $1").bind(id).fetch_one(&mut *c).await?
    });
    if requested {
        mark_requested(tx, "accounts", id, now).await?;
    }
    for table in ["sessions", "liens_connexion", "preferences_courriels"] {
        let n = count(tx, &format!("DELETE FROM {table} WHERE account_id = $1"), id).await?;
        b.deleted(table, n);
    }
    let pseudonym = keys.pseudonym("courriel", &email);
    let n = on_tx!(tx, c => {
        sqlx::query("DELETE FROM courriels WHERE destinataire = $1").bind(&email).execute(&mut *c).await?.rows_affected()
    });
    b.deleted("courriels", n);
    let n = on_tx!(tx, c => {
        sqlx::query("DELETE FROM login_throttle WHERE key = $1 OR key = $2")
            .bind(format!("connexion:{pseudonym}"))
            .bind(format!("totp:{id}"))
            .execute(&mut *c).await?.rows_affected()
    });
    b.deleted("login_throttle", n);
    let n = on_tx!(tx, c => {
        sqlx::query("DELETE FROM rate_limits WHERE key = $1")
            .bind(format!("lien:{pseudonym}"))
            .execute(&mut *c).await?.rows_affected()
    });
    b.deleted("rate_limits", n);
    let n = count(tx, "UPDATE cartes_totp SET account_id = NULL WHERE account_id = $1", id).await?;
    b.pseudonymised("cartes_totp", n);
    let n = count(
        tx,
        "UPDATE aidants_membres SET actif = FALSE WHERE account_id = $1 AND actif = TRUE",
        id,
    )
    .await?;
    b.pseudonymised("aidants_membres", n);
    let n = count(
        tx,
        "DELETE FROM aidants_invitations WHERE account_id = $1 OR courriel = (SELECT email FROM accounts WHERE id = $1)",
        id,
    )
    .await?;
    b.deleted("aidants_invitations", n);
    for table in ["proconnect_comptes", "proconnect_liaisons"] {
        let n = count(tx, &format!("DELETE FROM {table} WHERE account_id = $1"), id).await?;
        b.deleted(table, n);
    }
    let last = max_expiry(tx, "SELECT MAX(expires_at) FROM mandats WHERE aidant_id = $1", id).await?;
    let keep_name = last.map(|e| e + PREUVE_MANDAT * DAY).filter(|until| *until > now);
    let n = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE accounts SET email = $2, password_hash = '!efface', totp_secret = NULL, totp_pending_secret = NULL, \
             totp_last_step = NULL, active = FALSE, last_login_at = NULL, inactivite_avertie_at = NULL, \
             display_name = CASE WHEN $3 THEN display_name ELSE $4 END, \
             efface_at = CASE WHEN $3 THEN NULL ELSE $5 END, updated_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(format!("efface-{id}@efface.invalid"))
        .bind(keep_name.is_some())
        .bind(COMPTE_EFFACE)
        .bind(now)
        .execute(&mut *c).await?.rows_affected()
    });
    b.pseudonymised("accounts", n);
    if let Some(until) = keep_name {
        b.conserve.push(Conserve {
            quoi: "nom de l'aidant sur les mandats qu'il a conclus".into(),
            raison: "preuve des mandats, 5 ans après la fin du dernier (prescription, art. 2224 du Code civil) ; \
                     effacé ensuite par la tâche de conservation"
                .into(),
            jusqu_au: Some(super::day_of(until)),
        });
    }
    b.conserve.push(Conserve {
        quoi: "numéro du compte dans les accompagnements, encaissements, mandats et le journal".into(),
        raison: "statistiques, comptabilité et trace des actions sensibles ; plus de nom ni d'adresse".into(),
        jusqu_au: None,
    });
    Ok(b)
}
