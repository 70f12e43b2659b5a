//! Aidants of a structure: memberships (an account may be aidant in several
//! structures; he joins one only by accepting an invitation, see
//! [`super::invitations`]), training, activation and deactivation by the
//! référent, the current structure of a session (always an explicit choice
//! when there are several).

use serde_json::json;

use super::actions;
use super::authz::{authorize, Action};
use crate::accounts::session;
use crate::accounts::{store as accounts_store, Principal};
use crate::db::{Db, Tx};
use crate::error::{CoreError, Result};
use crate::journal::{self, NewEntry};
use crate::{mail, on_db, on_tx, Core};

/// Adds `account` to `structure` (inactive) and its training record if missing.
pub(crate) async fn add_membership(tx: &mut Tx, account: i64, structure: i64) -> Result<bool> {
    let now = tx.horloge.now_micros();
    let added = on_tx!(&mut *tx, c => {
        sqlx::query(
            "INSERT INTO aidants_membres (account_id, organisation_id, actif, created_at, updated_at) VALUES ($1, $2, FALSE, $3, $3) \
             ON CONFLICT (account_id, organisation_id) DO NOTHING",
        )
        .bind(account).bind(structure).bind(now).execute(&mut *c).await?.rows_affected()
    });
    on_tx!(&mut *tx, c => {
        sqlx::query("INSERT INTO aidants_formations (account_id, updated_at) VALUES ($1, $2) ON CONFLICT (account_id) DO NOTHING")
            .bind(account).bind(now).execute(&mut *c).await?;
    });
    Ok(added == 1)
}

/// Whether `account` is a member of `structure`: None if not, Some(active) otherwise.
pub async fn membership(db: &Db, account: i64, structure: i64) -> Result<Option<bool>> {
    Ok(on_db!(db, c => {
        sqlx::query_scalar("SELECT actif FROM aidants_membres WHERE account_id = $1 AND organisation_id = $2")
            .bind(account).bind(structure).fetch_optional(&mut *c).await?
    }))
}

/// An aidant as the référent sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AidantRow {
    pub account_id: i64,
    pub nom: String,
    pub courriel: String,
    pub actif: bool,
    pub formee_at: Option<i64>,
    pub test_reussi_at: Option<i64>,
    pub totp: bool,
    pub carte: Option<String>,
    pub last_login_at: Option<i64>,
}

impl AidantRow {
    pub fn trained(&self) -> bool {
        self.formee_at.is_some() && self.test_reussi_at.is_some()
    }
}

const ROW: &str =
    "SELECT a.id AS account_id, a.display_name AS nom, a.email AS courriel, m.actif, f.formee_at, f.test_reussi_at, \
     (a.totp_secret IS NOT NULL) AS totp, k.numero_serie AS carte, a.last_login_at \
     FROM aidants_membres m JOIN accounts a ON a.id = m.account_id \
     LEFT JOIN aidants_formations f ON f.account_id = a.id LEFT JOIN cartes_totp k ON k.account_id = a.id";

/// The aidants of the référent's structure.
pub async fn of_structure(core: &Core, who: &Principal) -> Result<Vec<AidantRow>> {
    let structure = who.organisation_id;
    authorize(who, Action::ManageAidants { structure })?;
    let sql = format!("{ROW} WHERE m.organisation_id = $1 ORDER BY a.display_name, a.id");
    Ok(on_db!(&core.db, c => sqlx::query_as(&sql).bind(structure).fetch_all(&mut *c).await?))
}

/// An aidant whose training or test is not recorded yet, with the names of his structures.
#[derive(Debug, Clone)]
pub struct Trainee {
    pub account_id: i64,
    pub nom: String,
    pub courriel: String,
    pub formee_at: Option<i64>,
    pub test_reussi_at: Option<i64>,
    pub structures: Vec<String>,
}

/// Aidants waiting for their training to be recorded (opérateur).
pub async fn to_train(core: &Core, who: &Principal) -> Result<Vec<Trainee>> {
    authorize(who, Action::Review)?;
    type R = (i64, String, String, Option<i64>, Option<i64>, String);
    let rows: Vec<R> = on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT a.id, a.display_name, a.email, f.formee_at, f.test_reussi_at, o.name FROM aidants_formations f \
             JOIN accounts a ON a.id = f.account_id JOIN aidants_membres m ON m.account_id = a.id \
             JOIN organisations o ON o.id = m.organisation_id \
             WHERE f.formee_at IS NULL OR f.test_reussi_at IS NULL ORDER BY a.display_name, a.id, o.name",
        )
        .fetch_all(&mut *c)
        .await?
    });
    let mut out: Vec<Trainee> = Vec::new();
    for (id, nom, courriel, formee_at, test_reussi_at, structure) in rows {
        match out.last_mut() {
            Some(t) if t.account_id == id => t.structures.push(structure),
            _ => out.push(Trainee {
                account_id: id,
                nom,
                courriel,
                formee_at,
                test_reussi_at,
                structures: vec![structure],
            }),
        }
    }
    Ok(out)
}

/// One aidant of the référent's structure (NotFound for anyone else's).
async fn member_of_mine(core: &Core, who: &Principal, account: i64) -> Result<AidantRow> {
    let structure = who.organisation_id;
    authorize(who, Action::ManageAidants { structure })?;
    let sql = format!("{ROW} WHERE m.organisation_id = $1 AND a.id = $2");
    let row: Option<AidantRow> = on_db!(&core.db, c => {
        sqlx::query_as(&sql).bind(structure).bind(account).fetch_optional(&mut *c).await?
    });
    row.ok_or_else(|| CoreError::NotFound("aidant".into()))
}

pub(crate) async fn check_member(core: &Core, who: &Principal, account: i64) -> Result<AidantRow> {
    member_of_mine(core, who, account).await
}

/// A day typed in a form (`AAAA-MM-JJ` or `JJ/MM/AAAA`), as noon UTC in µs; empty is `None`.
fn form_day(input: &str, what: &str) -> Result<Option<i64>> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(None);
    }
    let d = crate::reglements::run::parse_day(input, what)?;
    d.to_datetime(jiff::civil::time(12, 0, 0, 0))
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .map(|t| Some(t.timestamp().as_microsecond()))
        .map_err(|_| CoreError::invalid(format!("{what} : date invalide")))
}

/// [`record_training`] from the form's text fields: the caller is checked
/// before anything typed is read.
pub async fn record_training_form(
    core: &Core,
    who: &Principal,
    account: i64,
    formee_le: &str,
    test_le: &str,
) -> Result<()> {
    authorize(who, Action::Review)?;
    let trained_at = form_day(formee_le, "date de formation")?;
    let test_at = form_day(test_le, "date du test")?;
    if trained_at.is_none() && test_at.is_none() {
        return Err(CoreError::invalid("indiquez une date de formation ou de test"));
    }
    record_training(core, who, account, trained_at, test_at).await
}

/// The opérateur records an aidant's training and digital-skills test (dates in µs; None leaves as is).
pub async fn record_training(
    core: &Core,
    who: &Principal,
    account: i64,
    trained_at: Option<i64>,
    test_at: Option<i64>,
) -> Result<()> {
    authorize(who, Action::Review)?;
    let now = core.db.now_micros();
    if trained_at.is_some_and(|t| t > now) || test_at.is_some_and(|t| t > now) {
        return Err(CoreError::invalid(
            "une date de formation ou de test ne peut pas être dans le futur",
        ));
    }
    let mut tx = core.db.begin().await?;
    let n = on_tx!(&mut tx, c => {
        sqlx::query(
            "UPDATE aidants_formations SET formee_at = COALESCE($2, formee_at), test_reussi_at = COALESCE($3, test_reussi_at), \
             updated_at = $4 WHERE account_id = $1",
        )
        .bind(account).bind(trained_at).bind(test_at).bind(now).execute(&mut *c).await?.rows_affected()
    });
    if n == 0 {
        return Err(CoreError::NotFound("aidant".into()));
    }
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::AIDANT_TRAINED)
            .subject("compte", account)
            .details(json!({ "formation": trained_at, "test": test_at })),
    )
    .await?;
    tx.commit().await
}

/// The référent activates an aidant of his structure: trained, test passed, and a TOTP device.
pub async fn activate(core: &Core, who: &Principal, account: i64) -> Result<()> {
    let a = member_of_mine(core, who, account).await?;
    if !a.trained() {
        return Err(CoreError::invalid(
            "l'aidant doit avoir suivi la formation et réussi le test de compétences numériques avant d'être activé",
        ));
    }
    if !a.totp {
        return Err(CoreError::invalid(
            "associez d'abord un appareil de double authentification (application ou carte) à l'aidant",
        ));
    }
    let mut tx = core.db.begin().await?;
    // A closed account is reopened only if it was closed for having no active
    // structure left; one closed while it still had some was closed by the opérateur.
    let (account_active, others): (bool, i64) = on_tx!(&mut tx, c => {
        sqlx::query_as(
            "SELECT a.active, (SELECT COUNT(*) FROM aidants_membres m WHERE m.account_id = a.id AND m.actif = TRUE \
             AND m.organisation_id <> $2) FROM accounts a WHERE a.id = $1",
        )
        .bind(account).bind(who.organisation_id).fetch_one(&mut *c).await?
    });
    if !account_active && others > 0 {
        return Err(CoreError::invalid(
            "le compte de cet aidant a été fermé par l'opérateur : lui seul peut le rouvrir",
        ));
    }
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE aidants_membres SET actif = TRUE, updated_at = $3 WHERE account_id = $1 AND organisation_id = $2")
            .bind(account).bind(who.organisation_id).bind(tx.horloge.now_micros()).execute(&mut *c).await?;
    });
    if !account_active {
        accounts_store::set_active(&mut tx, account, true).await?;
    }
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::AIDANT_ACTIVATED)
            .subject("compte", account)
            .subject("organisation", who.organisation_id),
    )
    .await?;
    let now = tx.now_micros();
    mail::enqueue(
        &mut tx,
        &format!("aidant:{account}:structure:{}:activation:{now}", who.organisation_id),
        &a.courriel,
        "Votre compte d'aidant Aidants Connect est activé",
        "Bonjour,\n\nVotre référent a activé votre compte d'aidant. Connectez-vous avec un lien reçu par courriel \
         (page « Recevoir un lien de connexion ») puis le code de votre application ou de votre carte.\n",
    )
    .await?;
    tx.commit().await
}

/// The référent deactivates an aidant in his structure. Without any other
/// active structure, the account is closed and its sessions end.
pub async fn deactivate(core: &Core, who: &Principal, account: i64) -> Result<()> {
    member_of_mine(core, who, account).await?;
    let mut tx = core.db.begin().await?;
    deactivate_in(&mut tx, account, Some(who.organisation_id)).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::AIDANT_DEACTIVATED)
            .subject("compte", account)
            .subject("organisation", who.organisation_id),
    )
    .await?;
    tx.commit().await
}

/// Ends the membership in `structure` (all of them with None); closes the
/// account when no active membership is left. Returns whether it was closed.
pub(crate) async fn deactivate_in(tx: &mut Tx, account: i64, structure: Option<i64>) -> Result<bool> {
    let now = tx.horloge.now_micros();
    let left: i64 = on_tx!(&mut *tx, c => {
        sqlx::query("UPDATE aidants_membres SET actif = FALSE, updated_at = $3 WHERE account_id = $1 AND ($2 IS NULL OR organisation_id = $2)")
            .bind(account).bind(structure).bind(now).execute(&mut *c).await?;
        sqlx::query_scalar("SELECT COUNT(*) FROM aidants_membres WHERE account_id = $1 AND actif = TRUE")
            .bind(account).fetch_one(&mut *c).await?
    });
    if left == 0 {
        accounts_store::set_active(tx, account, false).await?;
        session::delete_others(tx, account, None).await?;
    }
    Ok(left == 0)
}

/// The structures of an aidant: (id, name, active membership), by name (for display only).
pub async fn structures_of(db: &Db, account: i64) -> Result<Vec<(i64, String, bool)>> {
    Ok(on_db!(db, c => {
        sqlx::query_as(
            "SELECT o.id, o.name, m.actif FROM aidants_membres m JOIN organisations o ON o.id = m.organisation_id \
             WHERE m.account_id = $1 ORDER BY o.name, o.id",
        )
        .bind(account).fetch_all(&mut *c).await?
    }))
}

/// The aidant's own structures (his page « Ma structure »).
pub async fn own_structures(core: &Core, who: &Principal) -> Result<Vec<(i64, String, bool)>> {
    authorize(who, Action::OwnStructures)?;
    structures_of(&core.db, who.account_id).await
}

/// `Principal::organisation_id` of an aidant who acts for no structure (none
/// chosen among several, or none active): no organisation has this id, so
/// every check on the current structure fails closed.
pub const NO_STRUCTURE: i64 = 0;

/// The structure a session acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Current {
    /// The session's explicit choice, or its only active membership (then
    /// recorded on the session, so that a structure joined later never
    /// takes its place).
    Acting { id: i64, name: String },
    /// Several active memberships and none chosen, or the chosen one is no
    /// longer active: the aidant must choose; nothing is picked for him.
    MustChoose,
    /// No active membership.
    NoStructure,
}

impl Current {
    /// The id to put in `Principal::organisation_id`.
    pub fn id(&self) -> i64 {
        match self {
            Current::Acting { id, .. } => *id,
            _ => NO_STRUCTURE,
        }
    }
}

/// The structure the aidant of session `token` acts for: the session's choice
/// while that membership is active, never another one picked for him.
pub async fn current_structure(core: &Core, token: &str, account: i64, chosen: Option<i64>) -> Result<Current> {
    let active: Vec<(i64, String)> = structures_of(&core.db, account)
        .await?
        .into_iter()
        .filter(|(_, _, a)| *a)
        .map(|(id, name, _)| (id, name))
        .collect();
    Ok(match (chosen, active.as_slice()) {
        (_, []) => Current::NoStructure,
        (Some(c), _) => match active.into_iter().find(|(id, _)| *id == c) {
            Some((id, name)) => Current::Acting { id, name },
            None => Current::MustChoose,
        },
        (None, [(id, name)]) => {
            let mut tx = core.db.begin().await?;
            session::set_structure(&mut tx, token, *id).await?;
            tx.commit().await?;
            Current::Acting {
                id: *id,
                name: name.clone(),
            }
        }
        (None, _) => Current::MustChoose,
    })
}

/// Switches the current structure of the session `token` (an explicit choice, journaled).
pub async fn switch(core: &Core, who: &Principal, token: &str, structure: i64) -> Result<()> {
    let member = membership(&core.db, who.account_id, structure).await? == Some(true);
    authorize(who, Action::SwitchStructure { member })?;
    let mut tx = core.db.begin().await?;
    session::set_structure(&mut tx, token, structure).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::CURRENT_STRUCTURE)
            .subject("compte", who.account_id)
            .subject("organisation", structure)
            .details(json!({ "precedente": Some(who.organisation_id).filter(|o| *o != NO_STRUCTURE) })),
    )
    .await?;
    tx.commit().await
}

/// Checks that `who` acts for his current structure as an active member (mandates, OpenID provider).
pub async fn require_acting(core: &Core, who: &Principal) -> Result<i64> {
    let member = membership(&core.db, who.account_id, who.organisation_id).await? == Some(true);
    authorize(
        who,
        Action::ActFor {
            structure: who.organisation_id,
            member,
        },
    )?;
    Ok(who.organisation_id)
}

/// The allowed démarches of a structure.
pub async fn allowed_demarches(db: &Db, structure: i64) -> Result<Vec<String>> {
    Ok(on_db!(db, c => {
        sqlx::query_scalar("SELECT demarche FROM structures_demarches WHERE organisation_id = $1 ORDER BY demarche")
            .bind(structure).fetch_all(&mut *c).await?
    }))
}
