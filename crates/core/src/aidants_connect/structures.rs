//! Habilitation requests of structures: the public form, the follow-up link
//! sent to the contact (to read and, when asked, change the request), lists
//! and reading for the opérateur. Decisions are in [`super::review`].

use base64::Engine;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::authz::{authorize, Action};
use super::{actions, demarches};
use crate::accounts::{Email, Principal};
use crate::db::Tx;
use crate::error::{CoreError, Result};
use crate::identifiants::Siret;
use crate::journal::{self, Actor, NewEntry};
use crate::{mail, on_db, on_tx, Core};

/// States of a habilitation request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HabilitationState {
    Deposee,
    AModifier,
    Acceptee,
    Refusee,
}

crate::texte_en_base!(
    HabilitationState,
    HabilitationState::from_key,
    HabilitationState::key,
    "état de demande d'habilitation"
);

impl HabilitationState {
    pub const ALL: [HabilitationState; 4] = [
        HabilitationState::Deposee,
        HabilitationState::AModifier,
        HabilitationState::Acceptee,
        HabilitationState::Refusee,
    ];

    /// The value stored in the database.
    pub fn key(self) -> &'static str {
        match self {
            HabilitationState::Deposee => "deposee",
            HabilitationState::AModifier => "a_modifier",
            HabilitationState::Acceptee => "acceptee",
            HabilitationState::Refusee => "refusee",
        }
    }

    pub fn from_key(key: &str) -> Option<HabilitationState> {
        HabilitationState::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            HabilitationState::Deposee => "Déposée, à instruire",
            HabilitationState::AModifier => "Modifications demandées",
            HabilitationState::Acceptee => "Acceptée",
            HabilitationState::Refusee => "Refusée",
        }
    }

    /// The structure may still change its request (through its follow-up link).
    pub fn editable(self) -> bool {
        matches!(self, HabilitationState::Deposee | HabilitationState::AModifier)
    }
}

/// Most aidants in one request.
pub const MAX_AIDANTS: usize = 50;
const MAX_TEXT: usize = 300;

/// Kinds of structure: (key, label).
pub const TYPES: [(&str, &str); 6] = [
    ("france_services", "France Services"),
    ("ccas", "CCAS ou CIAS"),
    ("mairie", "Mairie"),
    ("association", "Association"),
    ("departement", "Conseil départemental"),
    ("autre", "Autre structure"),
];

pub fn type_label(key: &str) -> &str {
    TYPES.iter().find(|(k, _)| *k == key).map(|(_, l)| *l).unwrap_or(key)
}

/// A random token for a link (256 bits, URL-safe) and its stored SHA-256.
pub(crate) fn new_token() -> (String, Vec<u8>) {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let h = token_hash(&t);
    (t, h)
}

pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// What the form sends, as typed.
#[derive(Debug, Clone, Default)]
pub struct RequestForm {
    pub siret: String,
    pub nom: String,
    pub type_structure: String,
    pub adresse: String,
    pub contact_courriel: String,
    pub referent_nom: String,
    pub referent_courriel: String,
    /// (name, e-mail) of each aidant to train; empty rows are ignored.
    pub aidants: Vec<(String, String)>,
    pub demarches: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AidantToTrain {
    pub nom: String,
    pub courriel: String,
}

/// A checked request.
#[derive(Debug, Clone)]
struct Checked {
    siret: Siret,
    nom: String,
    type_structure: String,
    adresse: String,
    contact: String,
    referent_nom: String,
    referent_courriel: String,
    aidants: Vec<AidantToTrain>,
    demarches: Vec<&'static str>,
}

fn text(input: &str, what: &str, errors: &mut Vec<String>) -> String {
    let t = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.is_empty() {
        errors.push(format!("{what} est obligatoire"));
    } else if t.chars().count() > MAX_TEXT || t.chars().any(char::is_control) {
        errors.push(format!("{what} doit faire au plus {MAX_TEXT} caractères"));
    }
    t
}

fn email(input: &str, what: &str, errors: &mut Vec<String>) -> String {
    match Email::parse(input) {
        Ok(e) => e.as_str().to_string(),
        Err(_) => {
            errors.push(format!("{what} : adresse électronique invalide"));
            String::new()
        }
    }
}

/// Checks everything and reports every problem at once.
fn check(f: &RequestForm) -> Result<Checked> {
    let mut errors = Vec::new();
    let siret = Siret::parse(&f.siret).map_err(|e| errors.push(e.to_string())).ok();
    let nom = text(&f.nom, "le nom de la structure", &mut errors);
    let type_structure = f.type_structure.trim().to_string();
    if !TYPES.iter().any(|(k, _)| *k == type_structure) {
        errors.push("choisissez le type de la structure".into());
    }
    let adresse = text(&f.adresse, "l'adresse", &mut errors);
    let contact = email(&f.contact_courriel, "courriel de contact", &mut errors);
    let referent_nom = text(&f.referent_nom, "le nom du référent", &mut errors);
    let referent_courriel = email(&f.referent_courriel, "courriel du référent", &mut errors);
    let mut aidants: Vec<AidantToTrain> = Vec::new();
    for (i, (n, e)) in f.aidants.iter().enumerate() {
        if n.trim().is_empty() && e.trim().is_empty() {
            continue;
        }
        let what = format!("aidant n° {}", i + 1);
        let nom = text(n, &format!("le nom de l'{what}"), &mut errors);
        let courriel = email(e, &what, &mut errors);
        if !courriel.is_empty() && (courriel == referent_courriel || aidants.iter().any(|a| a.courriel == courriel)) {
            errors.push(format!("{what} : l'adresse {courriel} apparaît deux fois"));
        }
        aidants.push(AidantToTrain { nom, courriel });
    }
    if aidants.is_empty() {
        errors.push("indiquez au moins un aidant à former".into());
    }
    if aidants.len() > MAX_AIDANTS {
        errors.push(format!("{MAX_AIDANTS} aidants au plus par demande"));
    }
    let demarches = demarches::parse_list(&f.demarches).unwrap_or_else(|e| {
        errors.push(e.to_string());
        Vec::new()
    });
    let (Some(siret), true) = (siret, errors.is_empty()) else {
        return Err(CoreError::invalid(format!(
            "la demande est incomplète : {}",
            errors.join(" ; ")
        )));
    };
    Ok(Checked {
        siret,
        nom,
        type_structure,
        adresse,
        contact,
        referent_nom,
        referent_courriel,
        aidants,
        demarches,
    })
}

/// A stored request.
#[derive(Debug, Clone)]
pub struct Habilitation {
    pub id: i64,
    pub etat: HabilitationState,
    /// Read as text: requests filed under the older, looser rule may hold a
    /// SIRET it now refuses (`controle::sirets_a_reprendre` lists them); one
    /// such row must not make the opérateur's list fail.
    pub siret: String,
    pub nom: String,
    pub type_structure: String,
    pub adresse: String,
    pub contact_courriel: String,
    pub referent_nom: String,
    pub referent_courriel: String,
    pub aidants: Vec<AidantToTrain>,
    pub demarches: Vec<String>,
    pub message: String,
    pub organisation_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    etat: HabilitationState,
    siret: String,
    nom: String,
    type_structure: String,
    adresse: String,
    contact_courriel: String,
    referent_nom: String,
    referent_courriel: String,
    aidants: String,
    demarches: String,
    message: String,
    organisation_id: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl From<Row> for Habilitation {
    fn from(r: Row) -> Self {
        Habilitation {
            id: r.id,
            etat: r.etat,
            siret: r.siret,
            nom: r.nom,
            type_structure: r.type_structure,
            adresse: r.adresse,
            contact_courriel: r.contact_courriel,
            referent_nom: r.referent_nom,
            referent_courriel: r.referent_courriel,
            aidants: serde_json::from_str(&r.aidants).unwrap_or_default(),
            demarches: demarches::split(&r.demarches),
            message: r.message,
            organisation_id: r.organisation_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str =
    "id, etat, siret, nom, type_structure, adresse, contact_courriel, referent_nom, referent_courriel, \
                       aidants, demarches, message, organisation_id, created_at, updated_at FROM habilitations";

pub(crate) async fn load_tx(tx: &mut Tx, id: i64) -> Result<Habilitation> {
    let sql = format!("SELECT {COLUMNS} WHERE id = $1");
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?);
    row.map(Into::into)
        .ok_or_else(|| CoreError::NotFound("demande d'habilitation".into()))
}

/// Adds a line to a request's history; returns its id (for e-mail keys).
pub(crate) async fn record(
    tx: &mut Tx,
    id: i64,
    etat: HabilitationState,
    message: &str,
    by: Option<i64>,
) -> Result<i64> {
    Ok(on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO habilitations_historique (habilitation_id, etat, message, compte_id, at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(id).bind(etat).bind(message).bind(by).bind(tx.horloge.now_micros())
        .fetch_one(&mut *c)
        .await?
    }))
}

/// The opérateur's staff, who review requests.
pub(crate) async fn notify_operators(tx: &mut Tx, key: &str, subject: &str, body: &str) -> Result<()> {
    let to: Vec<String> = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT email FROM accounts WHERE role = 'operateur' AND active = TRUE ORDER BY id")
            .fetch_all(&mut *c)
            .await?
    });
    for addr in to {
        mail::enqueue(tx, &format!("{key}:{addr}"), &addr, subject, body).await?;
    }
    Ok(())
}

fn follow_link(base_url: &str, token: &str) -> String {
    format!(
        "{}/aidants-connect/habilitation/suivi?jeton={token}",
        base_url.trim_end_matches('/')
    )
}

/// Files a new request from the public form. Returns its id and the token of
/// its follow-up link (also sent to the contact by e-mail).
pub async fn submit(core: &Core, f: &RequestForm, base_url: &str) -> Result<(i64, String)> {
    let c = check(f)?;
    let (token, hash) = new_token();
    let now = core.db.now_micros();
    let aidants = serde_json::to_string(&c.aidants).map_err(|e| CoreError::invalid(e.to_string()))?;
    let mut tx = core.db.begin().await?;
    let id: i64 = on_tx!(&mut tx, cn => {
        sqlx::query_scalar(
            "INSERT INTO habilitations (jeton_hash, etat, siret, nom, type_structure, adresse, contact_courriel, referent_nom, \
             referent_courriel, aidants, demarches, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        )
        .bind(&hash).bind(HabilitationState::Deposee).bind(&c.siret).bind(&c.nom).bind(&c.type_structure).bind(&c.adresse)
        .bind(&c.contact).bind(&c.referent_nom).bind(&c.referent_courriel).bind(&aidants)
        .bind(c.demarches.join(",")).bind(now)
        .fetch_one(&mut *cn)
        .await?
    });
    let event = record(&mut tx, id, HabilitationState::Deposee, "", None).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(Actor::Anonymous, actions::REQUEST_FILED)
            .subject("habilitation", id)
            .details(json!({
                "siret": c.siret,
                "type": c.type_structure,
                "aidants": c.aidants.len(),
                "demarches": c.demarches,
                "contact": core.keys.pseudonym("courriel", &c.contact),
            })),
    )
    .await?;
    mail::enqueue_secret(
        &mut tx,
        &core.keys,
        &format!("habilitation:{id}:{event}:contact"),
        &c.contact,
        &format!("Demande d'habilitation Aidants Connect reçue : {}", c.nom),
        &format!(
            "Bonjour,\n\nNous avons reçu la demande d'habilitation à Aidants Connect de « {} » (n° {id}).\n\n\
             Suivez-la, et modifiez-la si l'opérateur vous le demande, avec ce lien personnel (ne le transmettez pas) :\n{}\n",
            c.nom,
            follow_link(base_url, &token)
        ),
    )
    .await?;
    notify_operators(
        &mut tx,
        &format!("habilitation:{id}:{event}:instruction"),
        &format!("Nouvelle demande d'habilitation Aidants Connect : {}", c.nom),
        &format!(
            "Bonjour,\n\nLa demande n° {id} de « {} » est à instruire dans Passerelle (Opérateur, Habilitations).\n",
            c.nom
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((id, token))
}

/// The request of a follow-up link (any state), or NotFound.
pub async fn by_token(core: &Core, token: &str) -> Result<Habilitation> {
    if token.is_empty() || token.len() > 128 {
        return Err(CoreError::NotFound("demande d'habilitation".into()));
    }
    let sql = format!("SELECT {COLUMNS} WHERE jeton_hash = $1");
    let row: Option<Row> = on_db!(&core.db, c => {
        sqlx::query_as(&sql).bind(token_hash(token)).fetch_optional(&mut *c).await?
    });
    row.map(Into::into)
        .ok_or_else(|| CoreError::NotFound("demande d'habilitation".into()))
}

/// Changes a request through its follow-up link, while it is filed or changes
/// are asked; it goes back to the opérateur (state « déposée »).
pub async fn update_by_token(core: &Core, token: &str, f: &RequestForm) -> Result<i64> {
    let h = by_token(core, token).await?;
    let c = check(f)?;
    let aidants = serde_json::to_string(&c.aidants).map_err(|e| CoreError::invalid(e.to_string()))?;
    let mut tx = core.db.begin().await?;
    let changed = on_tx!(&mut tx, cn => {
        sqlx::query(
            "UPDATE habilitations SET etat = $2, siret = $3, nom = $4, type_structure = $5, adresse = $6, contact_courriel = $7, \
             referent_nom = $8, referent_courriel = $9, aidants = $10, demarches = $11, updated_at = $12 \
             WHERE id = $1 AND etat IN ($2, $13)",
        )
        .bind(h.id).bind(HabilitationState::Deposee).bind(&c.siret).bind(&c.nom).bind(&c.type_structure).bind(&c.adresse).bind(&c.contact)
        .bind(&c.referent_nom).bind(&c.referent_courriel).bind(&aidants).bind(c.demarches.join(",")).bind(tx.horloge.now_micros())
        .bind(HabilitationState::AModifier)
        .execute(&mut *cn)
        .await?
        .rows_affected()
    });
    if changed == 0 {
        return Err(CoreError::Conflict(format!(
            "cette demande ne peut plus être modifiée (état : {})",
            h.etat.label().to_lowercase()
        )));
    }
    let event = record(
        &mut tx,
        h.id,
        HabilitationState::Deposee,
        "modifiée par la structure",
        None,
    )
    .await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(Actor::Anonymous, actions::REQUEST_CHANGED)
            .subject("habilitation", h.id)
            .details(json!({ "etat_precedent": h.etat, "aidants": c.aidants.len(), "demarches": c.demarches })),
    )
    .await?;
    notify_operators(
        &mut tx,
        &format!("habilitation:{}:{event}:instruction", h.id),
        &format!("Demande d'habilitation modifiée : {}", c.nom),
        &format!(
            "Bonjour,\n\nLa demande n° {} de « {} » a été modifiée et est à instruire de nouveau.\n",
            h.id, c.nom
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(h.id)
}

/// Requests for the opérateur, newest first; `etat` filters.
pub async fn list(core: &Core, who: &Principal, etat: Option<HabilitationState>) -> Result<Vec<Habilitation>> {
    authorize(who, Action::Review)?;
    let sql = format!("SELECT {COLUMNS} WHERE ($1 = '' OR etat = $1) ORDER BY updated_at DESC, id DESC");
    let rows: Vec<Row> = on_db!(&core.db, c => {
        sqlx::query_as(&sql).bind(etat.map_or("", HabilitationState::key)).fetch_all(&mut *c).await?
    });
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One history line: (state, message, when).
pub type Event = (HabilitationState, String, i64);

/// One request and its history, for the opérateur.
pub async fn get(core: &Core, who: &Principal, id: i64) -> Result<(Habilitation, Vec<Event>)> {
    authorize(who, Action::Review)?;
    let mut tx = core.db.begin().await?;
    let h = load_tx(&mut tx, id).await?;
    tx.rollback().await?;
    let history = history(core, id).await?;
    Ok((h, history))
}

pub async fn history(core: &Core, id: i64) -> Result<Vec<Event>> {
    Ok(on_db!(&core.db, c => {
        sqlx::query_as("SELECT etat, message, at FROM habilitations_historique WHERE habilitation_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut *c)
            .await?
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> RequestForm {
        RequestForm {
            siret: "732 829 320 00074".into(),
            nom: "CCAS de Bègles".into(),
            type_structure: "ccas".into(),
            adresse: "1 rue X, 33130 Bègles".into(),
            contact_courriel: "contact@begles.fr".into(),
            referent_nom: "Awa".into(),
            referent_courriel: "awa@begles.fr".into(),
            aidants: vec![("Léo".into(), "leo@begles.fr".into()), (String::new(), String::new())],
            demarches: vec!["social".into()],
        }
    }

    #[test]
    fn a_complete_request_passes_and_every_gap_is_reported() {
        let c = check(&form()).unwrap();
        assert_eq!(c.aidants.len(), 1);
        let bad = RequestForm {
            siret: "73282932000075".into(),
            type_structure: "banque".into(),
            aidants: vec![("Léo".into(), "awa@begles.fr".into())],
            demarches: vec![],
            ..form()
        };
        let e = check(&bad).unwrap_err().to_string();
        for gap in ["SIRET", "type", "deux fois", "démarche"] {
            assert!(e.contains(gap), "{gap}: {e}");
        }
    }
}
