//! The place's side of the workflow: start an application, fill it in,
//! attach documents, file it. Reading applications and lists for everyone.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::authz::{authorize, Action, Scope};
use super::model::{self, ApplicationState, Draft, Questionnaire, ServiceOffer};
use super::notify;
use crate::accounts::Principal;
use crate::db::{is_unique_violation, Db, Tx};
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, NewEntry};
use crate::{on_db, on_tx, Core};

/// An application, with the place it is for.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Application {
    pub id: i64,
    pub lieu_id: i64,
    pub lieu_ext_id: String,
    pub lieu_nom: String,
    pub commune: String,
    pub departement: String,
    pub organisation_id: i64,
    pub etat: ApplicationState,
    /// As typed while a draft (checked only when filed): kept as text.
    pub siret: String,
    pub raison_sociale: String,
    pub forme_juridique: String,
    pub adresse: String,
    pub representant_nom: String,
    pub representant_qualite: String,
    pub representant_courriel: String,
    pub charte_acceptee_at: Option<i64>,
    pub questionnaire: String,
    pub services: String,
    pub iban: String,
    pub bic: String,
    pub titulaire: String,
    pub message: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deposee_at: Option<i64>,
    pub decidee_at: Option<i64>,
}

impl Application {
    pub fn draft(&self) -> Draft {
        Draft {
            siret: self.siret.clone(),
            raison_sociale: self.raison_sociale.clone(),
            forme_juridique: self.forme_juridique.clone(),
            adresse: self.adresse.clone(),
            representant_nom: self.representant_nom.clone(),
            representant_qualite: self.representant_qualite.clone(),
            representant_courriel: self.representant_courriel.clone(),
            charte: self.charte_acceptee_at.is_some(),
            questionnaire: serde_json::from_str::<Questionnaire>(&self.questionnaire).unwrap_or_default(),
            services: serde_json::from_str::<Vec<ServiceOffer>>(&self.services).unwrap_or_default(),
            iban: self.iban.clone(),
            bic: self.bic.clone(),
            titulaire: self.titulaire.clone(),
        }
    }

    /// The place may still change it.
    pub fn editable(&self) -> bool {
        self.etat.editable()
    }
}

const APPLICATION_SQL: &str = "SELECT d.id, d.lieu_id, l.ext_id AS lieu_ext_id, l.nom AS lieu_nom, l.commune, l.departement, \
     d.organisation_id, d.etat, d.siret, d.raison_sociale, d.forme_juridique, d.adresse, d.representant_nom, \
     d.representant_qualite, d.representant_courriel, d.charte_acceptee_at, d.questionnaire, d.services, d.iban, d.bic, \
     d.titulaire, d.message, d.created_at, d.updated_at, d.deposee_at, d.decidee_at \
     FROM demandes_qualification d JOIN lieux l ON l.id = d.lieu_id";

/// A supporting document, without its content.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Document {
    pub id: i64,
    pub nature: String,
    pub nom_fichier: String,
    pub type_mime: String,
    pub taille: i64,
    pub sha256: String,
    pub created_at: i64,
}

/// One step of an application's history.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Event {
    pub etat: ApplicationState,
    pub message: String,
    pub auteur: Option<String>,
    pub at: i64,
}

/// The scope of a place (owner, hub, delegation), for authorisation.
pub async fn scope(db: &Db, place_id: i64) -> Result<Scope> {
    let row: Option<(Option<i64>, Option<i64>, i64)> = on_db!(db, c => {
        sqlx::query_as(
            "SELECT l.organisation_id, h.organisation_id, (SELECT COUNT(*) FROM hubs_instruction i WHERE i.organisation_id = h.organisation_id) \
             FROM lieux l LEFT JOIN hub_departements h ON h.departement = l.departement WHERE l.id = $1",
        )
        .bind(place_id)
        .fetch_optional(&mut *c)
        .await?
    });
    let (owner, hub, delegated) = row.ok_or_else(|| CoreError::NotFound(format!("lieu {place_id}")))?;
    Ok(Scope {
        owner,
        hub,
        delegated: delegated > 0,
    })
}

pub(crate) async fn load(db: &Db, id: i64) -> Result<Application> {
    let sql = format!("{APPLICATION_SQL} WHERE d.id = $1");
    let a: Option<Application> = on_db!(db, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?);
    a.ok_or_else(|| CoreError::NotFound(format!("demande de qualification {id}")))
}

pub(crate) async fn load_tx(tx: &mut Tx, id: i64) -> Result<Application> {
    let sql = format!("{APPLICATION_SQL} WHERE d.id = $1");
    let a: Option<Application> = on_tx!(tx, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?);
    a.ok_or_else(|| CoreError::NotFound(format!("demande de qualification {id}")))
}

pub(crate) async fn record(
    tx: &mut Tx,
    id: i64,
    etat: ApplicationState,
    message: &str,
    who: Option<i64>,
) -> Result<i64> {
    Ok(on_tx!(tx, c => {
        sqlx::query_scalar("INSERT INTO demandes_historique (demande_id, etat, message, compte_id, at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(id)
            .bind(etat)
            .bind(message)
            .bind(who)
            .bind(tx.horloge.now_micros())
            .fetch_one(&mut *c)
            .await?
    }))
}

/// Opens an application for a place of the caller's organisation, or returns
/// the one in progress. A place already qualified (or suspended) cannot apply.
pub async fn start(core: &Core, who: &Principal, ext_id: &str) -> Result<i64> {
    let place = crate::pass_numerique::places::by_ext_id(&core.db, ext_id).await?;
    authorize(who, Action::Apply(scope(&core.db, place.id).await?))?;
    let owner = place.organisation_id.ok_or(CoreError::Forbidden)?;
    let current: Option<i64> = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT id FROM demandes_qualification WHERE lieu_id = $1 AND etat IN ($2, $3, $4)")
            .bind(place.id)
            .bind(ApplicationState::Brouillon)
            .bind(ApplicationState::Deposee)
            .bind(ApplicationState::AModifier)
            .fetch_optional(&mut *c)
            .await?
    });
    if let Some(id) = current {
        return Ok(id);
    }
    if super::decisions::qualification_of(&core.db, place.id).await?.is_some() {
        return Err(CoreError::Conflict(format!(
            "le lieu « {} » est déjà qualifié (ou sa qualification est suspendue)",
            place.nom
        )));
    }
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    let inserted = on_tx!(&mut tx, c => {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO demandes_qualification (lieu_id, organisation_id, etat, raison_sociale, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(place.id)
        .bind(owner)
        .bind(ApplicationState::Brouillon)
        .bind(&place.nom)
        .bind(now)
        .fetch_one(&mut *c)
        .await
    });
    let id = match inserted {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            return Err(CoreError::Conflict("une demande est déjà en cours pour ce lieu".into()))
        }
        Err(e) => return Err(e.into()),
    };
    record(&mut tx, id, ApplicationState::Brouillon, "", Some(who.account_id)).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::QUALIFICATION_APPLICATION)
            .subject("lieu", place.id)
            .subject("demande_qualification", id),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// What the caller may do with an application he sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rights {
    /// Change and file it (the place's staff, while it is a draft or sent back).
    pub edit: bool,
    /// Decide on it (the hub of its territory or the opérateur, once filed).
    pub review: bool,
}

/// An application, if the caller may see it, and what he may do with it.
pub async fn get(core: &Core, who: &Principal, id: i64) -> Result<(Application, Rights)> {
    let a = load(&core.db, id).await?;
    let s = scope(&core.db, a.lieu_id).await?;
    authorize(who, Action::View(s))?;
    let rights = Rights {
        edit: a.editable() && authorize(who, Action::Apply(s)).is_ok(),
        review: a.etat == ApplicationState::Deposee && authorize(who, Action::Review(s)).is_ok(),
    };
    Ok((a, rights))
}

async fn editable(core: &Core, who: &Principal, id: i64) -> Result<Application> {
    let a = load(&core.db, id).await?;
    authorize(who, Action::Apply(scope(&core.db, a.lieu_id).await?))?;
    if !a.editable() {
        return Err(CoreError::Conflict(format!(
            "la demande ne peut plus être modifiée (état : {})",
            a.etat.label().to_lowercase()
        )));
    }
    Ok(a)
}

/// Saves what the place typed (nothing is checked yet, except lengths: the
/// SIRET of a draft is stored as typed, and bound as a `Siret` only when the
/// application is filed).
pub async fn save(core: &Core, who: &Principal, id: i64, draft: Draft) -> Result<()> {
    let a = editable(core, who, id).await?;
    let d = draft.tidy();
    let charte = if d.charte {
        Some(a.charte_acceptee_at.unwrap_or_else(|| core.db.now_micros()))
    } else {
        None
    };
    let questionnaire = serde_json::to_string(&d.questionnaire).map_err(|e| CoreError::Io(e.to_string()))?;
    let services = serde_json::to_string(&d.services).map_err(|e| CoreError::Io(e.to_string()))?;
    on_db!(&core.db, c => {
        sqlx::query(
            "UPDATE demandes_qualification SET siret = $2, raison_sociale = $3, forme_juridique = $4, adresse = $5, \
             representant_nom = $6, representant_qualite = $7, representant_courriel = $8, charte_acceptee_at = $9, \
             questionnaire = $10, services = $11, iban = $12, bic = $13, titulaire = $14, updated_at = $15 \
             WHERE id = $1 AND etat IN ($16, $17)",
        )
        .bind(id).bind(&d.siret).bind(&d.raison_sociale).bind(&d.forme_juridique).bind(&d.adresse)
        .bind(&d.representant_nom).bind(&d.representant_qualite).bind(&d.representant_courriel).bind(charte)
        .bind(&questionnaire).bind(&services).bind(&d.iban).bind(&d.bic).bind(&d.titulaire).bind(core.db.now_micros())
        .bind(ApplicationState::Brouillon).bind(ApplicationState::AModifier)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

pub async fn documents(db: &Db, id: i64) -> Result<Vec<Document>> {
    Ok(on_db!(db, c => {
        sqlx::query_as(
            "SELECT id, nature, nom_fichier, type_mime, taille, sha256, created_at FROM demandes_pieces WHERE demande_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&mut *c)
        .await?
    }))
}

/// Attaches a document: PDF, PNG or JPEG (by content), 5 Mo at most.
pub async fn attach(core: &Core, who: &Principal, id: i64, nature: &str, name: &str, bytes: &[u8]) -> Result<i64> {
    let a = editable(core, who, id).await?;
    if !model::DOCUMENT_KINDS.iter().any(|(k, _, _)| *k == nature) {
        return Err(CoreError::invalid("choisissez la nature de la pièce"));
    }
    if bytes.is_empty() {
        return Err(CoreError::invalid("le fichier est vide"));
    }
    if bytes.len() > model::MAX_DOCUMENT_BYTES {
        return Err(CoreError::invalid(format!(
            "le fichier dépasse {} Mo",
            model::MAX_DOCUMENT_BYTES >> 20
        )));
    }
    let mime =
        model::sniff(bytes).ok_or_else(|| CoreError::invalid("seuls les fichiers PDF, PNG et JPEG sont acceptés"))?;
    let name = model::safe_file_name(name);
    let digest = hex::encode(Sha256::digest(bytes));
    let mut tx = core.db.begin().await?;
    let count: i64 = on_tx!(&mut tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM demandes_pieces WHERE demande_id = $1").bind(id).fetch_one(&mut *c).await?
    });
    if count >= model::MAX_DOCUMENTS {
        return Err(CoreError::invalid(format!(
            "{} pièces au plus par demande ; retirez-en une d'abord",
            model::MAX_DOCUMENTS
        )));
    }
    let size = bytes.len() as i64;
    let piece: i64 = on_tx!(&mut tx, c => {
        sqlx::query_scalar(
            "INSERT INTO demandes_pieces (demande_id, nature, nom_fichier, type_mime, taille, sha256, contenu, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(id).bind(nature).bind(&name).bind(mime).bind(size).bind(&digest).bind(bytes).bind(tx.horloge.now_micros())
        .fetch_one(&mut *c)
        .await?
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::QUALIFICATION_DOCUMENT)
            .subject("lieu", a.lieu_id)
            .subject("demande_qualification", id)
            .details(json!({ "piece": piece, "nature": nature, "taille": size, "sha256": digest })),
    )
    .await?;
    tx.commit().await?;
    Ok(piece)
}

/// Removes a document from an application still being prepared.
pub async fn detach(core: &Core, who: &Principal, id: i64, piece: i64) -> Result<()> {
    editable(core, who, id).await?;
    let n = on_db!(&core.db, c => {
        sqlx::query("DELETE FROM demandes_pieces WHERE id = $1 AND demande_id = $2").bind(piece).bind(id).execute(&mut *c).await?.rows_affected()
    });
    if n == 0 {
        return Err(CoreError::NotFound(format!("pièce {piece}")));
    }
    Ok(())
}

/// A document and its content, for whoever may see the application.
pub async fn document(core: &Core, who: &Principal, id: i64, piece: i64) -> Result<(Document, Vec<u8>)> {
    get(core, who, id).await?;
    let row: Option<(Document, Vec<u8>)> = on_db!(&core.db, c => {
        let meta: Option<Document> = sqlx::query_as(
            "SELECT id, nature, nom_fichier, type_mime, taille, sha256, created_at FROM demandes_pieces WHERE id = $1 AND demande_id = $2",
        )
        .bind(piece).bind(id).fetch_optional(&mut *c).await?;
        match meta {
            Some(m) => {
                let bytes: Vec<u8> = sqlx::query_scalar("SELECT contenu FROM demandes_pieces WHERE id = $1").bind(piece).fetch_one(&mut *c).await?;
                Some((m, bytes))
            }
            None => None,
        }
    });
    row.ok_or_else(|| CoreError::NotFound(format!("pièce {piece}")))
}

/// What still stops the application from being filed (empty when complete).
pub async fn missing(core: &Core, a: &Application) -> Result<Vec<String>> {
    let kinds: Vec<String> = documents(&core.db, a.id).await?.into_iter().map(|d| d.nature).collect();
    Ok(model::check(&a.draft(), &kinds).err().unwrap_or_default())
}

/// Files the application for review: everything is checked first, and every
/// gap is reported at once.
pub async fn file(core: &Core, who: &Principal, id: i64) -> Result<()> {
    let a = editable(core, who, id).await?;
    let kinds: Vec<String> = documents(&core.db, id).await?.into_iter().map(|d| d.nature).collect();
    let filed = model::check(&a.draft(), &kinds)
        .map_err(|p| CoreError::invalid(format!("la demande est incomplète : {}", p.join(" ; "))))?;
    let taken: Option<String> = on_db!(&core.db, c => {
        sqlx::query_scalar(
            "SELECT l.nom FROM qualifications q JOIN lieux l ON l.id = q.lieu_id \
             WHERE q.siret = $1 AND q.etat IN ('active', 'suspendue') AND q.lieu_id <> $2",
        )
        .bind(&filed.siret)
        .bind(a.lieu_id)
        .fetch_optional(&mut *c)
        .await?
    });
    if let Some(other) = taken {
        return Err(CoreError::Conflict(format!(
            "le SIRET {} est déjà celui du lieu qualifié « {other} » : un SIRET ne qualifie qu'un lieu",
            filed.siret
        )));
    }
    let s = scope(&core.db, a.lieu_id).await?;
    let offers = serde_json::to_string(&filed.offers).map_err(|e| CoreError::Io(e.to_string()))?;
    let mut tx = core.db.begin().await?;
    let n = on_tx!(&mut tx, c => {
        sqlx::query(
            "UPDATE demandes_qualification SET etat = $9, siret = $2, iban = $3, bic = $4, titulaire = $5, \
             representant_courriel = $6, services = $7, deposee_at = $8, updated_at = $8 \
             WHERE id = $1 AND etat IN ($10, $11)",
        )
        .bind(id).bind(&filed.siret).bind(&filed.iban).bind(&filed.bic).bind(&filed.titulaire)
        .bind(&filed.representant_courriel).bind(&offers).bind(tx.horloge.now_micros())
        .bind(ApplicationState::Deposee).bind(ApplicationState::Brouillon).bind(ApplicationState::AModifier)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    if n != 1 {
        return Err(CoreError::Conflict(
            "la demande a changé entre-temps ; rechargez la page".into(),
        ));
    }
    let event = record(&mut tx, id, ApplicationState::Deposee, "", Some(who.account_id)).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::QUALIFICATION_FILED)
            .subject("lieu", a.lieu_id)
            .subject("demande_qualification", id)
            .details(json!({ "siret": filed.siret, "services": filed.offers.len(), "pieces": kinds.len() })),
    )
    .await?;
    notify::to_place(
        &mut tx,
        &notify::Notice {
            key: format!("qualification:{id}:{event}"),
            place_org: a.organisation_id,
            legal_rep: Some(&filed.representant_courriel),
            subject: format!("Demande de qualification déposée : {}", a.lieu_nom),
            body: format!(
                "Bonjour,\n\nLa demande de qualification au Pass Numérique du lieu « {} » (SIRET {}) a été déposée. \
                 Elle va être instruite ; vous serez prévenu de la décision par courriel.\n\n\
                 Si vous n'êtes pas à l'origine de cette demande, répondez à ce message.\n",
                a.lieu_nom, filed.siret
            ),
        },
    )
    .await?;
    notify::to_reviewers(
        &mut tx,
        &format!("qualification:{id}:{event}:instruction"),
        s.delegated.then_some(s.hub).flatten(),
        &format!("Demande de qualification à instruire : {}", a.lieu_nom),
        &format!(
            "Bonjour,\n\nLe lieu « {} » ({} {}) a déposé sa demande de qualification au Pass Numérique (n° {id}). \
             Elle vous attend dans Passerelle, rubrique Qualification.\n",
            a.lieu_nom, a.departement, a.commune
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One line of a list of applications.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Summary {
    pub id: i64,
    pub lieu_ext_id: String,
    pub lieu_nom: String,
    pub commune: String,
    pub departement: String,
    pub etat: ApplicationState,
    /// As typed while a draft (checked only when filed): kept as text.
    pub siret: String,
    pub updated_at: i64,
}

/// Applications the caller may see (the opérateur: all; a hub: its
/// territory; a place: its own), optionally in one state, newest first.
pub async fn list(core: &Core, who: &Principal, etat: Option<ApplicationState>) -> Result<Vec<Summary>> {
    authorize(who, Action::List)?;
    let (filter, org) = match who.role {
        // Every filter uses $1 (PostgreSQL needs each bound parameter used).
        crate::accounts::Role::Operateur => ("$1 = 0", 0),
        crate::accounts::Role::Hub => (
            "l.departement IN (SELECT departement FROM hub_departements WHERE organisation_id = $1)",
            who.organisation_id,
        ),
        _ => ("d.organisation_id = $1", who.organisation_id),
    };
    let sql = format!(
        "SELECT d.id, l.ext_id AS lieu_ext_id, l.nom AS lieu_nom, l.commune, l.departement, d.etat, d.siret, d.updated_at \
         FROM demandes_qualification d JOIN lieux l ON l.id = d.lieu_id \
         WHERE {filter} AND ($2 = '' OR d.etat = $2) ORDER BY d.updated_at DESC, d.id DESC LIMIT 1000"
    );
    Ok(on_db!(&core.db, c => {
        sqlx::query_as(&sql).bind(org).bind(etat.map_or("", ApplicationState::key)).fetch_all(&mut *c).await?
    }))
}

/// The history of an application, oldest first.
pub async fn history(db: &Db, id: i64) -> Result<Vec<Event>> {
    Ok(on_db!(db, c => {
        sqlx::query_as(
            "SELECT h.etat, h.message, a.display_name AS auteur, h.at FROM demandes_historique h \
             LEFT JOIN accounts a ON a.id = h.compte_id WHERE h.demande_id = $1 ORDER BY h.id",
        )
        .bind(id)
        .fetch_all(&mut *c)
        .await?
    }))
}

/// A place of the caller's organisation and where it stands.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct PlaceStatus {
    pub id: i64,
    pub ext_id: String,
    pub nom: String,
    pub commune: String,
    /// Active or suspended, when qualified.
    pub qualification: Option<model::QualificationState>,
    pub motif: Option<String>,
    /// The latest application: id and state.
    pub demande_id: Option<i64>,
    pub demande_etat: Option<ApplicationState>,
}

/// The places a place's staff are responsible for, by name.
pub async fn places_of(core: &Core, who: &Principal) -> Result<Vec<PlaceStatus>> {
    if who.role != crate::accounts::Role::Lieu {
        return Err(CoreError::Forbidden);
    }
    Ok(on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT l.id, l.ext_id, l.nom, l.commune, q.etat AS qualification, q.motif, d.id AS demande_id, d.etat AS demande_etat \
             FROM lieux l \
             LEFT JOIN qualifications q ON q.lieu_id = l.id AND q.etat IN ('active', 'suspendue') \
             LEFT JOIN demandes_qualification d ON d.id = (SELECT MAX(id) FROM demandes_qualification WHERE lieu_id = l.id) \
             WHERE l.organisation_id = $1 ORDER BY l.nom LIMIT 500",
        )
        .bind(who.organisation_id)
        .fetch_all(&mut *c)
        .await?
    }))
}
