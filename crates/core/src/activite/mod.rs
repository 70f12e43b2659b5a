//! Activity log of conseillers numériques and médiateurs: each accompaniment
//! with an anonymous profile of the person helped, the person's own list, edits
//! within 7 days, CSV export and statistics (own and structure's).

pub mod authz;
pub mod model;
pub mod stats;

use serde_json::json;

use crate::accounts::Principal;
use crate::db::Tx;
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, NewEntry};
use crate::{on_db, on_tx, Core};
use authz::{authorize, Action};
pub use model::{FieldError, Input, Valid};

/// An entry can be changed for this long after it was written.
pub const EDIT_WINDOW_MICROS: i64 = 7 * 24 * 3600 * 1_000_000;

pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub compte_id: i64,
    pub organisation_id: i64,
    pub lieu_id: Option<i64>,
    pub lieu_nom: Option<String>,
    pub jour: String,
    pub duree_minutes: i64,
    pub nature: String,
    pub participants: i64,
    pub thematiques: String,
    pub tranche_age: String,
    pub commune_insee: String,
    pub departement: String,
    pub statut: String,
    pub suivi: Option<String>,
    pub cheque_id: Option<i64>,
    pub mandat_utilisation_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Entry {
    pub fn editable_at(&self, now: i64) -> bool {
        now - self.created_at <= EDIT_WINDOW_MICROS
    }
    pub fn themes(&self) -> Vec<&str> {
        self.thematiques.split(',').filter(|t| !t.is_empty()).collect()
    }
    pub fn input(&self) -> Input {
        Input {
            jour: self.jour.clone(),
            lieu_id: self.lieu_id,
            duree_minutes: self.duree_minutes.to_string(),
            nature: self.nature.clone(),
            participants: self.participants.to_string(),
            thematiques: self.themes().into_iter().map(String::from).collect(),
            tranche_age: self.tranche_age.clone(),
            commune_insee: self.commune_insee.clone(),
            statut: self.statut.clone(),
            suivi: self.suivi.clone().unwrap_or_default(),
            cheque_id: self.cheque_id,
            mandat_utilisation_id: self.mandat_utilisation_id,
        }
    }
}

const ENTRY_SQL: &str = "SELECT a.id, a.compte_id, a.organisation_id, a.lieu_id, l.nom AS lieu_nom, a.jour, \
     a.duree_minutes, a.nature, a.participants, a.thematiques, a.tranche_age, a.commune_insee, a.departement, \
     a.statut, a.suivi, a.cheque_id, a.mandat_utilisation_id, a.created_at, a.updated_at \
     FROM activites a LEFT JOIN lieux l ON l.id = a.lieu_id";

/// An option of a select: (id, label).
pub type Choice = (i64, String);

/// Raw rows behind [`FormChoices`].
type ChoiceRows = (
    Vec<Choice>,
    Vec<(i64, i64, i64, String)>,
    Vec<(i64, String, i64)>,
    Option<Option<i64>>,
);

/// What the form offers: the organisation's places, the cheques redeemed at
/// them in the last 30 days, the person's own Aidants Connect uses of the last 30 days.
#[derive(Debug, Clone, Default)]
pub struct FormChoices {
    pub lieux: Vec<Choice>,
    pub cheques: Vec<Choice>,
    pub utilisations: Vec<Choice>,
    /// The place of the person's last entry, to preselect.
    pub dernier_lieu: Option<i64>,
}

pub async fn form_choices(core: &Core, who: &Principal) -> Result<FormChoices> {
    authorize(who, Action::Log)?;
    let since = core.db.now_micros() - 30 * 24 * 3600 * 1_000_000;
    let since_day = core
        .db
        .horloge()
        .today_paris()
        .saturating_sub(jiff::Span::new().days(30))
        .to_string();
    let (lieux, cheques, utilisations, dernier): ChoiceRows = on_db!(&core.db, c => {
        let lieux = sqlx::query_as("SELECT id, nom FROM lieux WHERE organisation_id = $1 ORDER BY nom")
            .bind(who.organisation_id)
            .fetch_all(&mut *c)
            .await?;
        let cheques = sqlx::query_as(
            "SELECT e.cheque_id, e.carnet_id, ch.rang, e.jour FROM encaissements e \
             JOIN cheques ch ON ch.id = e.cheque_id JOIN lieux l ON l.id = e.lieu_id \
             WHERE l.organisation_id = $1 AND e.annule_at IS NULL AND e.jour >= $2 \
             ORDER BY e.at DESC LIMIT 100",
        )
        .bind(who.organisation_id)
        .bind(&since_day)
        .fetch_all(&mut *c)
        .await?;
        let utilisations = sqlx::query_as(
            "SELECT id, demarche, at FROM mandats_utilisations WHERE aidant_id = $1 AND at >= $2 \
             ORDER BY at DESC LIMIT 100",
        )
        .bind(who.account_id)
        .bind(since)
        .fetch_all(&mut *c)
        .await?;
        let dernier = sqlx::query_scalar(
            "SELECT lieu_id FROM activites WHERE compte_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(who.account_id)
        .fetch_optional(&mut *c)
        .await?;
        (lieux, cheques, utilisations, dernier)
    });
    Ok(FormChoices {
        lieux,
        cheques: cheques
            .into_iter()
            .map(|(id, carnet, rang, jour)| {
                let le = crate::dates_fr::jour_fr(&jour);
                (id, format!("Carnet {carnet}, chèque {rang}, encaissé le {le}"))
            })
            .collect(),
        utilisations: utilisations
            .into_iter()
            .map(|(id, demarche, at)| {
                let quoi = crate::aidants_connect::demarches::label(&demarche);
                (id, format!("{quoi}, le {}", crate::format_fr::horodatage(at)))
            })
            .collect(),
        dernier_lieu: dernier.flatten(),
    })
}

/// Checks the links to the database (place of the organisation, commune known
/// when the référentiel is loaded, cheque redeemed at one of its places, one's
/// own Aidants Connect use) and returns the commune's département.
async fn check_links(tx: &mut Tx, who: &Principal, v: &Valid, errors: &mut Vec<FieldError>) -> Result<String> {
    let (lieu_ok, communes, departement, cheque_ok, use_ok): (bool, i64, Option<String>, bool, bool) = on_tx!(tx, c => {
        let lieu_ok = match v.lieu_id {
            None => true,
            Some(id) => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM lieux WHERE id = $1 AND organisation_id = $2")
                .bind(id).bind(who.organisation_id).fetch_one(&mut *c).await? > 0,
        };
        let communes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM territoires_communes").fetch_one(&mut *c).await?;
        let departement: Option<String> = sqlx::query_scalar("SELECT departement FROM territoires_communes WHERE code = $1")
            .bind(&v.commune_insee).fetch_optional(&mut *c).await?;
        let cheque_ok = match v.cheque_id {
            None => true,
            Some(id) => sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM encaissements e JOIN lieux l ON l.id = e.lieu_id \
                 WHERE e.cheque_id = $1 AND e.annule_at IS NULL AND l.organisation_id = $2")
                .bind(id).bind(who.organisation_id).fetch_one(&mut *c).await? > 0,
        };
        let use_ok = match v.mandat_utilisation_id {
            None => true,
            Some(id) => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM mandats_utilisations WHERE id = $1 AND aidant_id = $2")
                .bind(id).bind(who.account_id).fetch_one(&mut *c).await? > 0,
        };
        (lieu_ok, communes, departement, cheque_ok, use_ok)
    });
    if !lieu_ok {
        errors.push(("lieu_id", "Ce lieu n’est pas un lieu de votre structure.".into()));
    }
    let departement = if v.commune_insee.is_empty() {
        String::new()
    } else if let Some(d) = departement {
        d
    } else if communes > 0 {
        errors.push((
            "commune_insee",
            format!("Aucune commune n’a le code INSEE {}.", v.commune_insee),
        ));
        String::new()
    } else {
        departement_of_code(&v.commune_insee)
    };
    if !cheque_ok {
        errors.push((
            "cheque_id",
            "Ce chèque n’a pas été encaissé dans un lieu de votre structure.".into(),
        ));
    }
    if !use_ok {
        errors.push((
            "mandat_utilisation_id",
            "Cette utilisation d’Aidants Connect n’est pas la vôtre.".into(),
        ));
    }
    Ok(departement)
}

/// The département of a commune code when the référentiel is not loaded.
pub fn departement_of_code(code: &str) -> String {
    if code.starts_with("97") {
        code.get(..3).unwrap_or("").to_string()
    } else {
        code.get(..2).unwrap_or("").to_string()
    }
}

/// Result of a write: the entry's id, or the refused fields.
pub type Written = Result<i64, Vec<FieldError>>;

/// Validates the form and checks its links in the database, reporting every
/// refused field at once; returns the checked entry and its département.
async fn check(tx: &mut Tx, who: &Principal, input: &Input) -> Result<Result<(Valid, String), Vec<FieldError>>> {
    let today = tx.horloge.today_paris();
    let (v, mut errors) = match model::validate(input, today) {
        Ok(v) => (Some(v), Vec::new()),
        Err(e) => (None, e),
    };
    // The links are checked even when a field is bad, to report everything at once.
    let probe = v.clone().unwrap_or_else(|| Valid {
        jour: today,
        lieu_id: input.lieu_id,
        duree_minutes: 1,
        nature: "individuel",
        participants: 1,
        thematiques: Vec::new(),
        tranche_age: "non_renseigne",
        commune_insee: String::new(),
        statut: "non_renseigne",
        suivi: None,
        cheque_id: input.cheque_id,
        mandat_utilisation_id: input.mandat_utilisation_id,
    });
    let departement = check_links(tx, who, &probe, &mut errors).await?;
    Ok(match v.filter(|_| errors.is_empty()) {
        Some(v) => Ok((v, departement)),
        None => Err(errors),
    })
}

/// Records an accompaniment.
pub async fn record(core: &Core, who: &Principal, input: &Input) -> Result<Written> {
    authorize(who, Action::Log)?;
    let mut tx = core.db.begin().await?;
    let (v, departement) = match check(&mut tx, who, input).await? {
        Ok(ok) => ok,
        Err(errors) => return Ok(Err(errors)),
    };
    let now = tx.horloge.now_micros();
    let id: i64 = on_tx!(&mut tx, c => {
        sqlx::query_scalar(
            "INSERT INTO activites (compte_id, organisation_id, lieu_id, jour, mois, duree_minutes, nature, participants, \
             thematiques, tranche_age, commune_insee, departement, statut, suivi, cheque_id, mandat_utilisation_id, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17) \
             RETURNING id",
        )
        .bind(who.account_id)
        .bind(who.organisation_id)
        .bind(v.lieu_id)
        .bind(v.jour.to_string())
        .bind(v.jour.strftime("%Y-%m").to_string())
        .bind(v.duree_minutes)
        .bind(v.nature)
        .bind(v.participants)
        .bind(v.thematiques.join(","))
        .bind(v.tranche_age)
        .bind(&v.commune_insee)
        .bind(&departement)
        .bind(v.statut)
        .bind(&v.suivi)
        .bind(v.cheque_id)
        .bind(v.mandat_utilisation_id)
        .bind(now)
        .fetch_one(&mut *c)
        .await?
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::ACTIVITE_CREATED)
            .subject("activite", id)
            .details(json!({ "organisation": who.organisation_id, "nature": v.nature, "mois": v.jour.strftime("%Y-%m").to_string() })),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(id))
}

async fn load(core: &Core, id: i64) -> Result<Entry> {
    let sql = format!("{ENTRY_SQL} WHERE a.id = $1");
    let e: Option<Entry> = on_db!(&core.db, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?);
    e.ok_or_else(|| CoreError::NotFound("accompagnement".into()))
}

/// One's own entry; another person's is "not found" (its existence is not revealed).
pub async fn own(core: &Core, who: &Principal, id: i64) -> Result<Entry> {
    authorize(who, Action::Log)?;
    let e = load(core, id).await?;
    if authorize(who, Action::Change { author: e.compte_id }).is_err() {
        return Err(CoreError::NotFound("accompagnement".into()));
    }
    Ok(e)
}

fn check_window(e: &Entry, now: i64) -> Result<()> {
    if e.editable_at(now) {
        Ok(())
    } else {
        Err(CoreError::Conflict(
            "Cet accompagnement a été saisi il y a plus de 7 jours : il ne peut plus être modifié ni supprimé.".into(),
        ))
    }
}

/// Edits one's own entry, within 7 days of its creation.
pub async fn edit(core: &Core, who: &Principal, id: i64, input: &Input) -> Result<Written> {
    let e = own(core, who, id).await?;
    check_window(&e, core.db.now_micros())?;
    let mut tx = core.db.begin().await?;
    let (v, departement) = match check(&mut tx, who, input).await? {
        Ok(ok) => ok,
        Err(errors) => return Ok(Err(errors)),
    };
    let changed = on_tx!(&mut tx, c => {
        sqlx::query(
            "UPDATE activites SET lieu_id = $2, jour = $3, mois = $4, duree_minutes = $5, nature = $6, participants = $7, \
             thematiques = $8, tranche_age = $9, commune_insee = $10, departement = $11, statut = $12, suivi = $13, \
             cheque_id = $14, mandat_utilisation_id = $15, updated_at = $16 WHERE id = $1 AND compte_id = $17 AND created_at >= $18",
        )
        .bind(id)
        .bind(v.lieu_id)
        .bind(v.jour.to_string())
        .bind(v.jour.strftime("%Y-%m").to_string())
        .bind(v.duree_minutes)
        .bind(v.nature)
        .bind(v.participants)
        .bind(v.thematiques.join(","))
        .bind(v.tranche_age)
        .bind(&v.commune_insee)
        .bind(&departement)
        .bind(v.statut)
        .bind(&v.suivi)
        .bind(v.cheque_id)
        .bind(v.mandat_utilisation_id)
        .bind(tx.horloge.now_micros())
        .bind(who.account_id)
        .bind(tx.horloge.now_micros() - EDIT_WINDOW_MICROS)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    journal_change(tx, core, who, changed, actions::ACTIVITE_EDITED, id).await?;
    Ok(Ok(id))
}

/// Ends an edit or a deletion of one's own entry: exactly one row changed
/// (otherwise it is not his, or past its window), journaled, committed.
async fn journal_change(
    mut tx: crate::db::Tx,
    core: &Core,
    who: &Principal,
    changed: u64,
    action: &'static str,
    id: i64,
) -> Result<()> {
    if changed != 1 {
        return Err(CoreError::NotFound("accompagnement".into()));
    }
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), action).subject("activite", id),
    )
    .await?;
    tx.commit().await
}

/// Deletes one's own entry, within 7 days of its creation.
pub async fn delete(core: &Core, who: &Principal, id: i64) -> Result<()> {
    let e = own(core, who, id).await?;
    check_window(&e, core.db.now_micros())?;
    let mut tx = core.db.begin().await?;
    let changed = on_tx!(&mut tx, c => {
        sqlx::query("DELETE FROM activites WHERE id = $1 AND compte_id = $2 AND created_at >= $3")
            .bind(id)
            .bind(who.account_id)
            .bind(tx.horloge.now_micros() - EDIT_WINDOW_MICROS)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    journal_change(tx, core, who, changed, actions::ACTIVITE_DELETED, id).await
}

/// One page of one's own entries, most recent day first, optionally only those
/// of one follow-up code; and whether there is a next page.
pub async fn list_own(core: &Core, who: &Principal, suivi: Option<&str>, page: i64) -> Result<(Vec<Entry>, bool)> {
    authorize(who, Action::Log)?;
    let page = page.max(1);
    let suivi = suivi.map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty());
    let sql = format!(
        "{ENTRY_SQL} WHERE a.compte_id = $1 AND ($4 IS NULL OR a.suivi = $4) ORDER BY a.jour DESC, a.id DESC LIMIT $2 OFFSET $3"
    );
    let mut rows: Vec<Entry> = on_db!(&core.db, c => sqlx::query_as(&sql)
        .bind(who.account_id)
        .bind(PAGE_SIZE + 1)
        .bind((page - 1) * PAGE_SIZE)
        .bind(&suivi)
        .fetch_all(&mut *c)
        .await?);
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Ok((rows, more))
}

async fn all_of(core: &Core, column: &str, id: i64) -> Result<Vec<Entry>> {
    let sql = format!("{ENTRY_SQL} WHERE a.{column} = $1 ORDER BY a.jour, a.id");
    Ok(on_db!(&core.db, c => sqlx::query_as(&sql).bind(id).fetch_all(&mut *c).await?))
}

/// CSV export of one's own activity (French headers, labels).
pub async fn export_csv(core: &Core, who: &Principal) -> Result<Vec<u8>> {
    authorize(who, Action::Log)?;
    let rows = all_of(core, "compte_id", who.account_id).await?;
    let mut w = crate::tableur::Csv::new(Vec::new());
    let io = |e: csv::Error| CoreError::Io(e.to_string());
    w.write_record([
        "date",
        "lieu",
        "durée (minutes)",
        "type",
        "participants",
        "thématiques",
        "tranche d’âge",
        "commune (code INSEE)",
        "département",
        "situation",
        "code de suivi",
        "chèque lié",
        "utilisation Aidants Connect liée",
    ])
    .map_err(io)?;
    for e in &rows {
        let themes: Vec<String> = e.themes().into_iter().map(model::theme_label).collect();
        w.write_record([
            e.jour.clone(),
            e.lieu_nom.clone().unwrap_or_default(),
            e.duree_minutes.to_string(),
            model::label_of(model::NATURES, &e.nature).to_string(),
            e.participants.to_string(),
            themes.join(" ; "),
            model::label_of(model::TRANCHES_AGE, &e.tranche_age).to_string(),
            e.commune_insee.clone(),
            e.departement.clone(),
            model::label_of(model::STATUTS, &e.statut).to_string(),
            e.suivi.clone().unwrap_or_default(),
            e.cheque_id.map(|i| i.to_string()).unwrap_or_default(),
            e.mandat_utilisation_id.map(|i| i.to_string()).unwrap_or_default(),
        ])
        .map_err(io)?;
    }
    w.into_inner().map_err(|e| CoreError::Io(e.to_string()))
}

/// Statistics of one's own activity.
pub async fn own_stats(core: &Core, who: &Principal) -> Result<stats::Stats> {
    authorize(who, Action::Log)?;
    Ok(stats::compute(&all_of(core, "compte_id", who.account_id).await?))
}

/// Statistics of an organisation's activity.
pub async fn structure_stats(core: &Core, who: &Principal, organisation: i64) -> Result<stats::Stats> {
    authorize(who, Action::ViewStructure { organisation })?;
    Ok(stats::compute(&all_of(core, "organisation_id", organisation).await?))
}
