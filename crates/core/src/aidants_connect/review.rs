//! The opérateur decides on habilitation requests: accept (creates the
//! structure, its allowed démarches, the référent's account and the aidants'
//! accounts, inactive until trained — an aidant who already has an account is
//! only invited, and joins if he accepts), refuse with reasons, or ask changes.
//! One transaction per decision, with its journal entry and e-mails.

use serde_json::json;

use super::authz::{authorize, Action};
use super::structures::{load_tx, record, Habilitation, HabilitationState};
use super::{actions, aidants, invitations};
use crate::accounts::{password, store as accounts_store, OrgKind, Principal, Role};
use crate::db::{is_unique_violation, Tx};
use crate::error::{CoreError, Result};
use crate::identifiants::Siret;
use crate::journal::{self, NewEntry};
use crate::qualification::decisions::Decision;
use crate::{mail, on_tx, Core};

/// The account with this e-mail, if any: (id, role).
pub(crate) async fn account_by_email(tx: &mut Tx, email: &str) -> Result<Option<(i64, String)>> {
    Ok(on_tx!(tx, c => {
        sqlx::query_as("SELECT id, role FROM accounts WHERE email = $1").bind(email).fetch_optional(&mut *c).await?
    }))
}

fn login_help(base_url: &str) -> String {
    format!(
        "Pour vous connecter, demandez un lien de connexion à votre adresse sur {}/connexion/lien, \
         puis saisissez le code de votre application d'authentification ou de votre carte.",
        base_url.trim_end_matches('/')
    )
}

/// The opérateur's decision form: refused to whoever may not review, then
/// read (`decision`: the form's key, `message`: reasons or changes asked).
pub async fn decide_form(
    core: &Core,
    who: &Principal,
    id: i64,
    decision: &str,
    message: &str,
    base_url: &str,
) -> Result<()> {
    authorize(who, Action::Review)?;
    decide(core, who, id, Decision::parse(decision, message)?, base_url).await
}

/// Decides on a filed request.
pub async fn decide(core: &Core, who: &Principal, id: i64, decision: Decision, base_url: &str) -> Result<()> {
    authorize(who, Action::Review)?;
    // Password hashes of the new accounts are computed before the write transaction.
    // Nobody knows these passwords: structure accounts sign in with a link by e-mail.
    let mut hashes = Vec::new();
    if decision == Decision::Approve {
        let mut tx = core.db.begin().await?;
        let h = load_tx(&mut tx, id).await?;
        tx.rollback().await?;
        for _ in 0..=h.aidants.len() {
            hashes.push(core.argon2.hash(password::generate()).await?);
        }
    }
    let mut tx = core.db.begin().await?;
    let h = load_tx(&mut tx, id).await?;
    if h.etat != HabilitationState::Deposee {
        return Err(CoreError::Conflict(format!(
            "seule une demande déposée peut être instruite (état : {})",
            h.etat.label().to_lowercase()
        )));
    }
    let now = tx.horloge.now_micros();
    let (etat, message) = match &decision {
        Decision::Approve => (HabilitationState::Acceptee, String::new()),
        Decision::Refuse { reasons } => (HabilitationState::Refusee, reasons.clone()),
        Decision::AskChanges { message } => (HabilitationState::AModifier, message.clone()),
    };
    let mut details = json!({ "decision": etat, "message": message });
    let mut entry_subjects = Vec::new();
    let mut org_id = None;
    let mut already_aidants = Vec::new();
    if decision == Decision::Approve {
        let (org, created, invited) = accept(&mut tx, core, who, &h, &hashes, base_url).await?;
        org_id = Some(org);
        details["organisation"] = json!(org);
        details["comptes_crees"] = json!(created.len());
        details["invitations"] = json!(invited.len());
        already_aidants = invited;
        entry_subjects.push(("organisation", org));
        entry_subjects.extend(created.into_iter().map(|a| ("compte", a)));
    }
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE habilitations SET etat = $2, message = $3, organisation_id = $4, decidee_at = $5, updated_at = $5 WHERE id = $1")
            .bind(id).bind(etat).bind(&message).bind(org_id).bind(now).execute(&mut *c).await?;
    });
    let event = record(&mut tx, id, etat, &message, Some(who.account_id)).await?;
    let mut entry = NewEntry::new(who.actor(), actions::REQUEST_DECIDED)
        .subject("habilitation", id)
        .details(details);
    for (k, v) in entry_subjects {
        entry = entry.subject(k, v);
    }
    journal::append(&mut tx, &core.keys, entry).await?;
    notify(&mut tx, &h, &decision, event, base_url, &already_aidants).await?;
    tx.commit().await
}

/// Creates the structure and its accounts; returns the organisation, the
/// accounts created and the addresses of existing aidants, who are only
/// invited: they join the new structure if they accept.
async fn accept(
    tx: &mut Tx,
    core: &Core,
    who: &Principal,
    h: &Habilitation,
    hashes: &[String],
    base_url: &str,
) -> Result<(i64, Vec<i64>, Vec<String>)> {
    // The request holds the SIRET as checked when it was filed (one filed
    // under the older, looser rule is refused here, with the rule's message).
    let siret = Siret::parse(&h.siret)?;
    let org =
        match accounts_store::insert_organisation(tx, OrgKind::StructureHabilitee.key(), &h.nom, Some(&siret)).await {
            Ok(id) => id,
            Err(CoreError::Database(e)) if is_unique_violation(&e) => {
                return Err(CoreError::Conflict(format!(
                    "une structure habilitée avec le SIRET {} existe déjà",
                    h.siret
                )))
            }
            Err(e) => return Err(e),
        };
    for d in &h.demarches {
        on_tx!(&mut *tx, c => {
            sqlx::query("INSERT INTO structures_demarches (organisation_id, demarche) VALUES ($1, $2)")
                .bind(org).bind(d).execute(&mut *c).await?;
        });
    }
    let mut created = Vec::new();
    let mut invited = Vec::new();
    let mut hashes = hashes.iter();
    let mut next_hash = || {
        hashes
            .next()
            .cloned()
            .ok_or_else(|| CoreError::invalid("demande modifiée pendant l'instruction : recommencez"))
    };
    if account_by_email(tx, &h.referent_courriel).await?.is_some() {
        return Err(CoreError::Conflict(format!(
            "le référent {} a déjà un compte dans Passerelle ; un référent ne gère qu'une structure",
            h.referent_courriel
        )));
    }
    let referent = accounts_store::insert_account(
        tx,
        org,
        &h.referent_courriel,
        &h.referent_nom,
        Role::Referent.key(),
        &next_hash()?,
        None,
    )
    .await?;
    created.push(referent);
    for a in &h.aidants {
        let account = match account_by_email(tx, &a.courriel).await? {
            Some((_, role)) if role == Role::Aidant.key() => {
                let by = Some(who.account_id);
                invitations::create_in(tx, core, who.actor(), by, org, &a.nom, &a.courriel, base_url).await?;
                invited.push(a.courriel.clone());
                continue;
            }
            Some(_) => {
                return Err(CoreError::Conflict(format!(
                    "l'adresse {} appartient déjà à un compte qui n'est pas celui d'un aidant",
                    a.courriel
                )))
            }
            None => {
                let id = accounts_store::insert_account(
                    tx,
                    org,
                    &a.courriel,
                    &a.nom,
                    Role::Aidant.key(),
                    &next_hash()?,
                    None,
                )
                .await?;
                accounts_store::set_active(tx, id, false).await?;
                created.push(id);
                id
            }
        };
        aidants::add_membership(tx, account, org).await?;
    }
    Ok((org, created, invited))
}

async fn notify(
    tx: &mut Tx,
    h: &Habilitation,
    decision: &Decision,
    event: i64,
    base_url: &str,
    invited: &[String],
) -> Result<()> {
    let key = format!("habilitation:{}:{event}", h.id);
    let (subject, body) = match decision {
        Decision::Approve => (
            format!("Structure habilitée à Aidants Connect : {}", h.nom),
            format!(
                "Bonjour,\n\nLa demande d'habilitation de « {} » est acceptée. Le référent, {}, peut se connecter à \
                 Passerelle pour gérer les aidants de la structure. Chaque aidant sera activé après sa formation.\n\n{}\n",
                h.nom,
                h.referent_nom,
                login_help(base_url)
            ),
        ),
        Decision::Refuse { reasons } => (
            format!("Demande d'habilitation refusée : {}", h.nom),
            format!("Bonjour,\n\nLa demande d'habilitation de « {} » est refusée, pour le motif suivant :\n\n{reasons}\n", h.nom),
        ),
        Decision::AskChanges { message } => (
            format!("Demande d'habilitation à compléter : {}", h.nom),
            format!(
                "Bonjour,\n\nLa demande d'habilitation de « {} » doit être complétée :\n\n{message}\n\n\
                 Modifiez-la avec le lien personnel reçu lors du dépôt.\n",
                h.nom
            ),
        ),
    };
    let mut to = vec![h.contact_courriel.clone()];
    if *decision == Decision::Approve {
        to.push(h.referent_courriel.clone());
    }
    to.dedup();
    for addr in to {
        mail::enqueue(tx, &format!("{key}:{addr}"), &addr, &subject, &body).await?;
    }
    if *decision == Decision::Approve {
        for a in h.aidants.iter().filter(|a| !invited.contains(&a.courriel)) {
            mail::enqueue(
                tx,
                &format!("{key}:aidant:{}", a.courriel),
                &a.courriel,
                &format!("Vous êtes inscrit comme aidant de {}", h.nom),
                &format!(
                    "Bonjour,\n\n« {} » vous a inscrit comme aidant Aidants Connect. Votre compte sera activé par votre \
                     référent après votre formation et le test de compétences numériques.\n",
                    h.nom
                ),
            )
            .await?;
        }
    }
    Ok(())
}
