//! Corrections of a place's data proposed by the hub of its territory. The
//! place's own staff or the opérateur accepts (the change goes through the
//! place edit: checked against the standard, journaled, `date_maj` set to
//! today) or refuses with a reason. States: proposée, acceptée, refusée.

use std::collections::BTreeMap;

use serde_json::json;

use super::authz::{authorize, Action, Desk, Scope};
use crate::accounts::Principal;
use crate::db::Tx;
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, NewEntry};
use crate::lieux::edit;
use crate::lieux::validate::check_map;
use crate::qualification::applications::scope;
use crate::{mail, on_db, on_tx, Core};

/// States of a correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionState {
    Proposee,
    Acceptee,
    Refusee,
}

crate::texte_en_base!(
    CorrectionState,
    CorrectionState::from_key,
    CorrectionState::key,
    "état de correction"
);

impl CorrectionState {
    pub const ALL: [CorrectionState; 3] = [
        CorrectionState::Proposee,
        CorrectionState::Acceptee,
        CorrectionState::Refusee,
    ];

    /// The value stored in the database (also the key of the pages' notices).
    pub fn key(self) -> &'static str {
        match self {
            CorrectionState::Proposee => "proposee",
            CorrectionState::Acceptee => "acceptee",
            CorrectionState::Refusee => "refusee",
        }
    }

    pub fn from_key(key: &str) -> Option<CorrectionState> {
        CorrectionState::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            CorrectionState::Proposee => "Proposée",
            CorrectionState::Acceptee => "Acceptée",
            CorrectionState::Refusee => "Refusée",
        }
    }
}

/// Fields of the standard a hub may propose to correct, with their labels.
pub const FIELDS: &[(&str, &str)] = &[
    ("adresse", "Adresse"),
    ("complement_adresse", "Complément d'adresse"),
    ("code_postal", "Code postal"),
    ("commune", "Commune"),
    ("code_insee", "Code INSEE de la commune"),
    ("latitude", "Latitude"),
    ("longitude", "Longitude"),
    ("horaires", "Horaires"),
    ("telephone", "Téléphone"),
    ("courriels", "Adresses électroniques"),
    ("site_web", "Sites web"),
];

const COMMENT_MAX: usize = 2000;

pub fn field_label(field: &str) -> &str {
    FIELDS
        .iter()
        .find(|(k, _)| *k == field)
        .map(|(_, l)| *l)
        .unwrap_or(field)
}

/// A correction as pages show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Correction {
    pub id: i64,
    pub lieu_ext_id: String,
    pub lieu_nom: String,
    pub commune: String,
    pub departement: String,
    pub hub_id: i64,
    pub hub_nom: String,
    pub auteur: String,
    /// (field, value before, proposed value).
    pub changements: Vec<(String, String, String)>,
    pub commentaire: String,
    pub etat: CorrectionState,
    pub motif: String,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub lieu_id: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    lieu_ext_id: String,
    lieu_nom: String,
    commune: String,
    departement: String,
    hub_id: i64,
    hub_nom: String,
    auteur: String,
    changements: String,
    valeurs_avant: String,
    commentaire: String,
    etat: CorrectionState,
    motif: String,
    created_at: i64,
    decided_at: Option<i64>,
    lieu_id: i64,
}

const SELECT: &str = "SELECT c.id, l.ext_id AS lieu_ext_id, l.nom AS lieu_nom, l.commune, l.departement, c.hub_id, \
     o.name AS hub_nom, a.display_name AS auteur, c.changements, c.valeurs_avant, c.commentaire, c.etat, c.motif, \
     c.created_at, c.decided_at, c.lieu_id \
     FROM corrections_lieux c JOIN lieux l ON l.id = c.lieu_id JOIN organisations o ON o.id = c.hub_id \
     JOIN accounts a ON a.id = c.auteur_id";

impl From<Row> for Correction {
    fn from(r: Row) -> Self {
        let new: BTreeMap<String, String> = serde_json::from_str(&r.changements).unwrap_or_default();
        let old: BTreeMap<String, String> = serde_json::from_str(&r.valeurs_avant).unwrap_or_default();
        // In the order of the form.
        let changements = FIELDS
            .iter()
            .filter_map(|(k, _)| {
                new.get(*k)
                    .map(|v| (k.to_string(), old.get(*k).cloned().unwrap_or_default(), v.clone()))
            })
            .collect();
        Correction {
            id: r.id,
            lieu_ext_id: r.lieu_ext_id,
            lieu_nom: r.lieu_nom,
            commune: r.commune,
            departement: r.departement,
            hub_id: r.hub_id,
            hub_nom: r.hub_nom,
            auteur: r.auteur,
            changements,
            commentaire: r.commentaire,
            etat: r.etat,
            motif: r.motif,
            created_at: r.created_at,
            decided_at: r.decided_at,
            lieu_id: r.lieu_id,
        }
    }
}

/// The place a hub may correct: its current values and scope (403 outside its territory).
pub async fn place_for_hub(
    core: &Core,
    who: &Principal,
    ext_id: &str,
) -> Result<(BTreeMap<String, String>, crate::lieux::store::Own)> {
    let (values, own) = edit::current(core, ext_id)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("lieu « {ext_id} »")))?;
    authorize(who, Action::Propose(scope(&core.db, own.id).await?))?;
    Ok((values, own))
}

/// A hub proposes to change some `FIELDS` of a place of its territory.
/// Returns the new correction's id, or the problems the changed record would have.
pub async fn propose(
    core: &Core,
    who: &Principal,
    ext_id: &str,
    proposed: &BTreeMap<String, String>,
    commentaire: &str,
) -> Result<Result<i64, Vec<String>>> {
    let (mut values, own) = place_for_hub(core, who, ext_id).await?;
    let mut changes = BTreeMap::new();
    let mut before = BTreeMap::new();
    for (k, v) in proposed {
        if !FIELDS.iter().any(|(f, _)| f == k) {
            return Err(CoreError::invalid(format!("le champ « {k} » ne se corrige pas ici")));
        }
        let v = v.trim().to_string();
        let old = values.get(k).cloned().unwrap_or_default();
        if v != old {
            before.insert(k.clone(), old);
            changes.insert(k.clone(), v.clone());
            values.insert(k.clone(), v);
        }
    }
    let commentaire = commentaire.trim();
    let mut problems = Vec::new();
    if changes.is_empty() {
        problems.push("Aucune valeur n'est modifiée : changez au moins un champ.".to_string());
    }
    if commentaire.is_empty() {
        problems.push("Expliquez la correction dans le commentaire (source, constat sur place…).".to_string());
    } else if commentaire.chars().count() > COMMENT_MAX {
        problems.push(format!("Le commentaire dépasse {COMMENT_MAX} caractères."));
    }
    if let Err(issues) = check_map(1, &values, core.db.horloge().today_utc()) {
        problems.extend(
            issues
                .into_iter()
                .map(|i| format!("{} : {}", field_label(&i.champ), i.message)),
        );
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    let id: i64 = on_tx!(&mut tx, c => {
        sqlx::query_scalar(
            "INSERT INTO corrections_lieux (lieu_id, hub_id, auteur_id, changements, valeurs_avant, commentaire, etat, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(own.id)
        .bind(who.organisation_id)
        .bind(who.account_id)
        .bind(json!(changes).to_string())
        .bind(json!(before).to_string())
        .bind(commentaire)
        .bind(CorrectionState::Proposee)
        .bind(now)
        .fetch_one(&mut *c)
        .await?
    });
    let fields: Vec<&String> = changes.keys().collect();
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::CORRECTION_PROPOSED)
            .subject("lieu", own.id)
            .details(json!({ "id": ext_id, "correction": id, "champs": fields })),
    )
    .await?;
    let name = values.get("nom").cloned().unwrap_or_default();
    let subject = format!("Correction proposée pour « {name} »");
    let body = format!(
        "Bonjour,\n\nLe hub territorial propose de corriger les données du lieu « {name} » ({}).\n\
         Commentaire : {commentaire}\n\nConnectez-vous à Passerelle, rubrique « Corrections proposées », pour l'accepter ou la refuser.\n",
        fields.iter().map(|f| field_label(f)).collect::<Vec<_>>().join(", ")
    );
    notify_deciders(
        &mut tx,
        &format!("correction:{id}:proposee"),
        own.organisation_id,
        &subject,
        &body,
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// The place's staff if it has a responsible organisation, else the opérateur's.
async fn notify_deciders(tx: &mut Tx, key: &str, owner: Option<i64>, subject: &str, body: &str) -> Result<()> {
    let to = match owner {
        Some(org) => mail::recipients(tx, org, &["lieu"]).await?,
        None => on_tx!(tx, c => {
            sqlx::query_scalar("SELECT email FROM accounts WHERE role = 'operateur' AND active = TRUE ORDER BY id")
                .fetch_all(&mut *c)
                .await?
        }),
    };
    for addr in to {
        mail::enqueue(tx, &format!("{key}:{addr}"), &addr, subject, body).await?;
    }
    Ok(())
}

async fn notify_hub(tx: &mut Tx, c: &Correction, subject: &str, body: &str) -> Result<()> {
    for addr in mail::recipients(tx, c.hub_id, &["hub"]).await? {
        mail::enqueue(
            tx,
            &format!("correction:{}:{}:{addr}", c.id, c.etat.key()),
            &addr,
            subject,
            body,
        )
        .await?;
    }
    Ok(())
}

async fn load(core: &Core, id: i64) -> Result<(Correction, Scope)> {
    let sql = format!("{SELECT} WHERE c.id = $1");
    let row: Option<Row> = on_db!(&core.db, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?);
    let c: Correction = row
        .ok_or_else(|| CoreError::NotFound(format!("correction {id}")))?
        .into();
    let s = scope(&core.db, c.lieu_id).await?;
    Ok((c, s))
}

/// One correction, for its author hub, the place's staff or the opérateur.
pub async fn get(core: &Core, who: &Principal, id: i64) -> Result<(Correction, bool)> {
    let (c, s) = load(core, id).await?;
    authorize(
        who,
        Action::View {
            scope: s,
            author_hub: c.hub_id,
        },
    )?;
    let can_decide = c.etat == CorrectionState::Proposee && authorize(who, Action::Decide(s)).is_ok();
    Ok((c, can_decide))
}

/// The corrections a hub proposed, newest first.
pub async fn by_hub(core: &Core, who: &Principal) -> Result<Vec<Correction>> {
    authorize(who, Action::SeeTerritory)?;
    let sql = format!("{SELECT} WHERE c.hub_id = $1 ORDER BY c.created_at DESC, c.id DESC LIMIT 1000");
    let rows: Vec<Row> =
        on_db!(&core.db, c => sqlx::query_as(&sql).bind(who.organisation_id).fetch_all(&mut *c).await?);
    Ok(rows.into_iter().map(Correction::from).collect())
}

/// The corrections the caller decides: its places' (a place), all (the
/// opérateur); those waiting first, then the newest.
pub async fn to_decide(core: &Core, who: &Principal, desk: Desk) -> Result<Vec<Correction>> {
    authorize(who, Action::ListToDecide(desk))?;
    let filter = match desk {
        Desk::Operator => "$1 = $1",
        Desk::Place => "l.organisation_id = $1",
    };
    let sql = format!(
        "{SELECT} WHERE {filter} ORDER BY CASE WHEN c.etat = $2 THEN 0 ELSE 1 END, c.created_at DESC, c.id DESC LIMIT 1000"
    );
    let rows: Vec<Row> = on_db!(&core.db, c => {
        sqlx::query_as(&sql)
            .bind(who.organisation_id)
            .bind(CorrectionState::Proposee)
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows.into_iter().map(Correction::from).collect())
}

/// Marks a waiting correction decided, in `tx`; a correction decided meanwhile is a conflict.
async fn decide_tx(tx: &mut Tx, who: &Principal, id: i64, etat: CorrectionState, motif: &str) -> Result<()> {
    let n = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE corrections_lieux SET etat = $2, motif = $3, decideur_id = $4, decided_at = $5 WHERE id = $1 AND etat = $6",
        )
        .bind(id)
        .bind(etat)
        .bind(motif)
        .bind(who.account_id)
        .bind(tx.horloge.now_micros())
        .bind(CorrectionState::Proposee)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    if n == 1 {
        Ok(())
    } else {
        Err(CoreError::Conflict("cette correction a déjà été traitée".into()))
    }
}

/// Accepts a correction: the change is applied to the place through the place
/// edit. Returns the problems if the record would no longer meet the standard.
pub async fn accept(core: &Core, who: &Principal, id: i64) -> Result<Result<(), Vec<String>>> {
    let (c, s) = load(core, id).await?;
    authorize(who, Action::Decide(s))?;
    if c.etat != CorrectionState::Proposee {
        return Err(CoreError::Conflict("cette correction a déjà été traitée".into()));
    }
    let changes: BTreeMap<String, String> = c.changements.iter().map(|(k, _, v)| (k.clone(), v.clone())).collect();
    let allowed: Vec<&str> = FIELDS.iter().map(|(k, _)| *k).collect();
    let prepared = match edit::prepare(core, who, &c.lieu_ext_id, &changes, &allowed).await? {
        Ok(p) => p,
        Err(issues) => {
            return Ok(Err(issues
                .into_iter()
                .map(|i| format!("{} : {}", field_label(&i.champ), i.message))
                .collect()))
        }
    };
    let mut tx = core.db.begin().await?;
    edit::lock_unchanged(&mut tx, &prepared).await?;
    decide_tx(&mut tx, who, id, CorrectionState::Acceptee, "").await?;
    edit::write(core, &mut tx, who, &prepared, json!({ "correction": id })).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::CORRECTION_ACCEPTED)
            .subject("lieu", c.lieu_id)
            .details(json!({ "id": c.lieu_ext_id, "correction": id })),
    )
    .await?;
    let done = Correction {
        etat: CorrectionState::Acceptee,
        ..c
    };
    let subject = format!("Correction acceptée pour « {} »", done.lieu_nom);
    let body = format!(
        "Bonjour,\n\nLa correction n° {} que vous avez proposée pour le lieu « {} » a été acceptée et appliquée.\n",
        done.id, done.lieu_nom
    );
    notify_hub(&mut tx, &done, &subject, &body).await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// Refuses a correction, with a reason given to the hub.
pub async fn refuse(core: &Core, who: &Principal, id: i64, motif: &str) -> Result<()> {
    let (c, s) = load(core, id).await?;
    authorize(who, Action::Decide(s))?;
    let motif = motif.trim();
    if motif.is_empty() {
        return Err(CoreError::invalid(
            "indiquez le motif du refus, il sera transmis au hub",
        ));
    }
    if motif.chars().count() > COMMENT_MAX {
        return Err(CoreError::invalid(format!("le motif dépasse {COMMENT_MAX} caractères")));
    }
    let mut tx = core.db.begin().await?;
    decide_tx(&mut tx, who, id, CorrectionState::Refusee, motif).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::CORRECTION_REFUSED)
            .subject("lieu", c.lieu_id)
            .details(json!({ "id": c.lieu_ext_id, "correction": id })),
    )
    .await?;
    let done = Correction {
        etat: CorrectionState::Refusee,
        ..c
    };
    let subject = format!("Correction refusée pour « {} »", done.lieu_nom);
    let body = format!(
        "Bonjour,\n\nLa correction n° {} que vous avez proposée pour le lieu « {} » a été refusée.\nMotif : {motif}\n",
        done.id, done.lieu_nom
    );
    notify_hub(&mut tx, &done, &subject, &body).await?;
    tx.commit().await?;
    Ok(())
}
