//! Invitations of aidants: nobody joins a structure without accepting.
//!
//! A référent (or an accepted habilitation request that names an existing
//! aidant) only *proposes*: the invitation is stored and mailed the same way
//! whatever the address belongs to — nothing is looked up, so the référent's
//! answer and its timing say nothing about the accounts of Passerelle.
//! - A person without an account accepts with the link sent to the address:
//!   his account (inactive) and his membership are created then.
//! - An existing aidant accepts after login, with a TOTP code of less than
//!   15 minutes, on his page « Ma structure ».
//! - Any other account cannot accept: the invitation expires.
//!
//! The membership so created is inactive: the référent activates it once the
//! aidant is trained and has a device (`aidants::activate`).

use serde_json::json;

use super::actions;
use super::aidants::add_membership;
use super::authz::{authorize, Action};
use super::structures::{new_token, token_hash};
use crate::accounts::session::Session;
use crate::accounts::{password, store as accounts_store, Email, Principal, Role};
use crate::db::Tx;
use crate::error::{CoreError, Result};
use crate::journal::{self, Actor, NewEntry};
use crate::{mail, on_db, on_tx, Core};

/// How long an invitation may be accepted.
pub const INVITATION_DAYS: i64 = 30;

/// States of an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    EnAttente,
    Acceptee,
    Refusee,
}

crate::texte_en_base!(
    InvitationStatus,
    InvitationStatus::from_key,
    InvitationStatus::key,
    "statut d'invitation"
);

impl InvitationStatus {
    pub const ALL: [InvitationStatus; 3] = [
        InvitationStatus::EnAttente,
        InvitationStatus::Acceptee,
        InvitationStatus::Refusee,
    ];

    /// The value stored in the database.
    pub fn key(self) -> &'static str {
        match self {
            InvitationStatus::EnAttente => "en_attente",
            InvitationStatus::Acceptee => "acceptee",
            InvitationStatus::Refusee => "refusee",
        }
    }

    pub fn from_key(key: &str) -> Option<InvitationStatus> {
        InvitationStatus::ALL.into_iter().find(|s| s.key() == key)
    }
}

const PENDING: InvitationStatus = InvitationStatus::EnAttente;

/// The référent invites someone into his structure. The answer is the same
/// whatever `email` belongs to (a new person, an aidant of another structure,
/// another kind of account, an aidant already member).
pub async fn invite(core: &Core, who: &Principal, nom: &str, email: &str, base_url: &str) -> Result<i64> {
    let structure = who.organisation_id;
    authorize(who, Action::ManageAidants { structure })?;
    let email = Email::parse(email)?;
    let nom = nom.split_whitespace().collect::<Vec<_>>().join(" ");
    if nom.is_empty() || nom.chars().count() > 200 {
        return Err(CoreError::invalid(
            "le nom de l'aidant est obligatoire (200 caractères au plus)",
        ));
    }
    let mut tx = core.db.begin().await?;
    let id = create_in(
        &mut tx,
        core,
        who.actor(),
        Some(who.account_id),
        structure,
        &nom,
        email.as_str(),
        base_url,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Stores (or renews) the pending invitation of `email` into `structure`,
/// journals it and mails the link. Looks up no account.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn create_in(
    tx: &mut Tx,
    core: &Core,
    actor: Actor,
    by: Option<i64>,
    structure: i64,
    nom: &str,
    email: &str,
    base_url: &str,
) -> Result<i64> {
    let (token, hash) = new_token();
    let now = tx.horloge.now_micros();
    let expires = now + INVITATION_DAYS * 86_400 * 1_000_000;
    let renewed: Option<i64> = on_tx!(&mut *tx, c => {
        sqlx::query_scalar(
            "UPDATE aidants_invitations SET nom = $3, jeton_hash = $4, invite_par = $5, created_at = $6, expires_at = $7 \
             WHERE organisation_id = $1 AND courriel = $2 AND statut = $8 RETURNING id",
        )
        .bind(structure).bind(email).bind(nom).bind(&hash).bind(by).bind(now).bind(expires).bind(PENDING)
        .fetch_optional(&mut *c).await?
    });
    let id = match renewed {
        Some(id) => id,
        None => on_tx!(&mut *tx, c => {
            sqlx::query_scalar(
                "INSERT INTO aidants_invitations (organisation_id, courriel, nom, jeton_hash, invite_par, statut, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $8, $6, $7) RETURNING id",
            )
            .bind(structure).bind(email).bind(nom).bind(&hash).bind(by).bind(now).bind(expires).bind(PENDING)
            .fetch_one(&mut *c).await?
        }),
    };
    let structure_name: String = on_tx!(&mut *tx, c => {
        sqlx::query_scalar("SELECT name FROM organisations WHERE id = $1").bind(structure).fetch_one(&mut *c).await?
    });
    journal::append(
        tx,
        &core.keys,
        NewEntry::new(actor, actions::AIDANT_INVITED)
            .subject("invitation", id)
            .subject("organisation", structure)
            .details(json!({ "courriel": core.keys.pseudonym("courriel", email) })),
    )
    .await?;
    mail::enqueue_secret(
        tx,
        &core.keys,
        &format!("aidant:invitation:{id}:{now}"),
        email,
        &format!("Invitation à rejoindre « {structure_name} » comme aidant Aidants Connect"),
        &format!(
            "Bonjour,\n\n« {structure_name} » vous invite à rejoindre sa structure comme aidant Aidants Connect. \
             Vous n'en ferez partie que si vous acceptez, dans les {INVITATION_DAYS} jours.\n\n\
             Pour voir l'invitation, l'accepter ou la refuser, ouvrez ce lien :\n\
             {}/aidants-connect/invitation?jeton={token}\n\n\
             Si vous êtes déjà aidant dans une autre structure, connectez-vous à Passerelle : l'invitation vous attend \
             dans « Ma structure », et l'accepter demande le code de votre double authentification.\n\n\
             Si vous ne connaissez pas cette structure, ignorez ce message : sans votre accord, rien ne change.\n",
            base_url.trim_end_matches('/')
        ),
    )
    .await?;
    Ok(id)
}

/// A pending invitation, as the référent who sent it sees it: only what he typed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Sent {
    pub id: i64,
    pub nom: String,
    pub courriel: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The pending invitations of the référent's structure.
pub async fn sent(core: &Core, who: &Principal) -> Result<Vec<Sent>> {
    let structure = who.organisation_id;
    authorize(who, Action::ManageAidants { structure })?;
    Ok(on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT id, nom, courriel, created_at, expires_at FROM aidants_invitations \
             WHERE organisation_id = $1 AND statut = $3 AND expires_at > $2 ORDER BY created_at DESC, id DESC",
        )
        .bind(structure).bind(core.db.now_micros()).bind(PENDING).fetch_all(&mut *c).await?
    }))
}

/// An invitation as the invited person sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Received {
    pub id: i64,
    pub structure: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The pending invitations addressed to the signed-in aidant.
pub async fn received(core: &Core, who: &Principal) -> Result<Vec<Received>> {
    if who.role != Role::Aidant {
        return Ok(Vec::new());
    }
    let email = own_email(core, who.account_id).await?;
    Ok(on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT i.id, o.name AS structure, i.created_at, i.expires_at FROM aidants_invitations i \
             JOIN organisations o ON o.id = i.organisation_id \
             WHERE i.courriel = $1 AND i.statut = $3 AND i.expires_at > $2 ORDER BY i.created_at, i.id",
        )
        .bind(email).bind(core.db.now_micros()).bind(PENDING).fetch_all(&mut *c).await?
    }))
}

async fn own_email(core: &Core, account: i64) -> Result<String> {
    accounts_store::account(&core.db, account)
        .await?
        .map(|a| a.email)
        .ok_or(CoreError::Forbidden)
}

/// The signed-in aidant accepts (`accept`) or declines an invitation addressed
/// to him. Accepting needs a TOTP code of less than 15 minutes on `session`.
pub async fn answer(core: &Core, who: &Principal, session: &Session, id: i64, accept: bool) -> Result<i64> {
    let email = own_email(core, who.account_id).await?;
    let mine = pending(core, id).await?.filter(|(_, courriel, _)| *courriel == email);
    authorize(
        who,
        Action::AnswerInvitation {
            addressed_to_me: mine.is_some(),
        },
    )?;
    let structure = mine.map(|(s, _, _)| s).ok_or(CoreError::Forbidden)?;
    if accept {
        super::fresh::require_fresh_totp(session, super::fresh::FRESH_TOTP_SECS, core.db.now_micros())?;
    }
    let mut tx = core.db.begin().await?;
    decide(&mut tx, id, Some(who.account_id), accept).await?;
    if accept {
        add_membership(&mut tx, who.account_id, structure).await?;
    }
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(
            who.actor(),
            if accept {
                actions::AIDANT_ACCEPTED
            } else {
                actions::AIDANT_DECLINED
            },
        )
        .subject("invitation", id)
        .subject("compte", who.account_id)
        .subject("organisation", structure),
    )
    .await?;
    if accept {
        notify_referents(&mut tx, structure, id).await?;
    }
    tx.commit().await?;
    Ok(structure)
}

/// (structure, courriel, nom) of a pending, unexpired invitation.
async fn pending(core: &Core, id: i64) -> Result<Option<(i64, String, String)>> {
    Ok(on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT organisation_id, courriel, nom FROM aidants_invitations WHERE id = $1 AND statut = $3 AND expires_at > $2",
        )
        .bind(id).bind(core.db.now_micros()).bind(PENDING).fetch_optional(&mut *c).await?
    }))
}

/// Marks the invitation decided, once (a concurrent answer gets a conflict).
async fn decide(tx: &mut Tx, id: i64, account: Option<i64>, accept: bool) -> Result<()> {
    let n = on_tx!(&mut *tx, c => {
        sqlx::query(
            "UPDATE aidants_invitations SET statut = $2, account_id = $3, decided_at = $4 WHERE id = $1 AND statut = $5",
        )
        .bind(id)
        .bind(if accept { InvitationStatus::Acceptee } else { InvitationStatus::Refusee })
        .bind(account)
        .bind(tx.horloge.now_micros())
        .bind(PENDING)
        .execute(&mut *c).await?.rows_affected()
    });
    if n == 1 {
        Ok(())
    } else {
        Err(CoreError::Conflict("cette invitation a déjà reçu une réponse".into()))
    }
}

async fn notify_referents(tx: &mut Tx, structure: i64, invitation: i64) -> Result<()> {
    let referents: Vec<String> = on_tx!(&mut *tx, c => {
        sqlx::query_scalar("SELECT email FROM accounts WHERE organisation_id = $1 AND role = 'referent' AND active = TRUE")
            .bind(structure).fetch_all(&mut *c).await?
    });
    for to in referents {
        mail::enqueue(
            tx,
            &format!("aidant:invitation:{invitation}:acceptee:{to}"),
            &to,
            "Un aidant a accepté votre invitation",
            "Bonjour,\n\nUne personne invitée a accepté de rejoindre votre structure. Elle apparaît dans la liste de vos \
             aidants : activez-la une fois formée et équipée d'un appareil de double authentification.\n",
        )
        .await?;
    }
    Ok(())
}

/// What the link of an invitation leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Unknown, expired or already answered.
    Invalid,
    /// The address has no account: the link itself accepts or declines.
    Open { structure: String, nom: String },
    /// The address has an account: accept after login (aidant), or not at all.
    SignIn { structure: String },
    /// Accepted with the link: the account waits for its activation.
    Accepted { structure: String },
    /// Declined with the link.
    Declined,
}

/// (invitation id, structure id, structure name, courriel, nom) of a pending link.
async fn by_token(tx: &mut Tx, token: &str) -> Result<Option<(i64, i64, String, String, String)>> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    Ok(on_tx!(&mut *tx, c => {
        sqlx::query_as(
            "SELECT i.id, i.organisation_id, o.name, i.courriel, i.nom FROM aidants_invitations i \
             JOIN organisations o ON o.id = i.organisation_id \
             WHERE i.jeton_hash = $1 AND i.statut = $3 AND i.expires_at > $2",
        )
        .bind(token_hash(token)).bind(tx.horloge.now_micros()).bind(PENDING).fetch_optional(&mut *c).await?
    }))
}

/// What the link `token` offers (for the page it opens).
pub async fn link(core: &Core, token: &str) -> Result<Link> {
    let mut tx = core.db.begin().await?;
    let out = match by_token(&mut tx, token).await? {
        None => Link::Invalid,
        Some((_, _, structure, courriel, nom)) => match super::review::account_by_email(&mut tx, &courriel).await? {
            Some(_) => Link::SignIn { structure },
            None => Link::Open { structure, nom },
        },
    };
    tx.rollback().await?;
    Ok(out)
}

/// Uses the link `token` of an address without account: accepting creates
/// the (inactive) aidant account and its membership; declining closes the
/// invitation. Returns what the page should say.
pub async fn answer_by_link(core: &Core, token: &str, accept: bool) -> Result<Link> {
    let hash = core.argon2.hash(password::generate()).await?;
    let mut tx = core.db.begin().await?;
    let Some((id, structure, name, courriel, nom)) = by_token(&mut tx, token).await? else {
        return Ok(Link::Invalid);
    };
    if super::review::account_by_email(&mut tx, &courriel).await?.is_some() {
        return Ok(Link::SignIn { structure: name });
    }
    if !accept {
        decide(&mut tx, id, None, false).await?;
        journal::append(
            &mut tx,
            &core.keys,
            NewEntry::new(Actor::Anonymous, actions::AIDANT_DECLINED)
                .subject("invitation", id)
                .subject("organisation", structure)
                .details(json!({ "par": "lien" })),
        )
        .await?;
        tx.commit().await?;
        return Ok(Link::Declined);
    }
    let account =
        accounts_store::insert_account(&mut tx, structure, &courriel, &nom, Role::Aidant.key(), &hash, None).await?;
    accounts_store::set_active(&mut tx, account, false).await?;
    decide(&mut tx, id, Some(account), true).await?;
    add_membership(&mut tx, account, structure).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(
            Actor::Account {
                id: account,
                role: Role::Aidant.key().into(),
            },
            actions::AIDANT_ACCEPTED,
        )
        .subject("invitation", id)
        .subject("compte", account)
        .subject("organisation", structure)
        .details(json!({ "nouveau_compte": true, "par": "lien" })),
    )
    .await?;
    notify_referents(&mut tx, structure, id).await?;
    tx.commit().await?;
    Ok(Link::Accepted { structure: name })
}

/// Removes invitations answered or expired more than `days` days ago (retention).
pub async fn purge(core: &Core, days: i64) -> Result<u64> {
    let before = core.db.now_micros() - days * 86_400 * 1_000_000;
    Ok(on_db!(&core.db, c => {
        sqlx::query(
            "DELETE FROM aidants_invitations WHERE (statut <> $2 AND decided_at < $1) OR (statut = $2 AND expires_at < $1)",
        )
        .bind(before).bind(PENDING).execute(&mut *c).await?.rows_affected()
    }))
}
