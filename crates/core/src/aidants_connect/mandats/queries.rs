//! Reading mandates: a structure's list (search, pages), one mandate, the
//! usager's own mandates, and the public check of an attestation's QR code.
//! States are derived here from dates and autorisations, never stored.

use super::authz::{acting_structure, same_structure};
use super::model::{read_token, Duration, State};
use crate::accounts::Principal;
use crate::aidants_connect::demarches;
use crate::db::Db;
use crate::error::{CoreError, Result};
use crate::{on_db, Core};

/// The usager's identity as FranceConnect certified it.
#[derive(Debug, Clone)]
pub struct Usager {
    pub id: i64,
    pub given_name: String,
    pub family_name: String,
    /// `AAAA-MM-JJ`.
    pub birthdate: String,
    /// Code officiel géographique of the commune of birth (empty when born abroad).
    pub birthplace: String,
    /// Its name in the official list (empty when the list is not loaded, or born abroad).
    pub birthplace_nom: String,
    pub birthcountry: String,
    /// The married or usage name FranceConnect gave (`preferred_username`), if any.
    pub nom_usage: Option<String>,
}

impl Usager {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }

    /// The certified name with the usage name when there is one
    /// (« Marie DURAND, nom d'usage : MARTIN »): what the attestation names.
    pub fn identity(&self) -> String {
        match self.nom_usage.as_deref().filter(|n| !n.trim().is_empty()) {
            Some(n) => format!("{}, nom d'usage : {n}", self.full_name()),
            None => self.full_name(),
        }
    }

    /// `JJ/MM/AAAA`.
    pub fn birthdate_fr(&self) -> String {
        match self.birthdate.split('-').collect::<Vec<_>>().as_slice() {
            [y, m, d] => format!("{d}/{m}/{y}"),
            _ => self.birthdate.clone(),
        }
    }

    /// Where he was born, as certified: « Paris 7e Arrondissement (75107) », with the name the
    /// commune bore on the birth date (« Hellemmes-Lille (59298) »), the code alone (« commune
    /// 75107 ») without the official lists, or the country's code when born abroad: no package
    /// of a registry ships the INSEE list of countries with their names.
    pub fn birthplace_label(&self) -> String {
        if self.birthplace.is_empty() {
            format!("à l'étranger (code pays INSEE {})", self.birthcountry)
        } else if self.birthplace_nom.is_empty() {
            format!("commune {}", self.birthplace)
        } else {
            format!("{} ({})", self.birthplace_nom, self.birthplace)
        }
    }

    /// Initials only (the public check shows no more).
    pub fn initials(&self) -> String {
        let first = |s: &str| {
            s.chars()
                .next()
                .map(|c| c.to_uppercase().to_string())
                .unwrap_or_default()
        };
        format!("{}. {}.", first(&self.given_name), first(&self.family_name))
    }
}

/// Who revoked an autorisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokedBy {
    Aidant,
    Usager,
    /// Superseded by a newer mandate of the same structure.
    Remplacement,
}

impl RevokedBy {
    pub fn key(self) -> &'static str {
        match self {
            RevokedBy::Aidant => "aidant",
            RevokedBy::Usager => "usager",
            RevokedBy::Remplacement => "remplacement",
        }
    }

    fn parse(s: &str) -> RevokedBy {
        match s {
            "usager" => RevokedBy::Usager,
            "remplacement" => RevokedBy::Remplacement,
            _ => RevokedBy::Aidant,
        }
    }
}

/// One démarche of a mandate.
#[derive(Debug, Clone)]
pub struct Autorisation {
    pub id: i64,
    pub demarche: String,
    pub revoquee_at: Option<i64>,
    pub revoquee_par: Option<RevokedBy>,
    /// The aidant who revoked it (name), when an aidant did.
    pub revoquee_par_aidant: Option<String>,
    /// The mandate that superseded it.
    pub remplacee_par_mandat: Option<i64>,
}

impl Autorisation {
    pub fn label(&self) -> &str {
        demarches::label(&self.demarche)
    }

    pub fn revoked(&self) -> bool {
        self.revoquee_at.is_some()
    }

    /// Active, Révoquée, Remplacée, Expirée.
    pub fn state_label(&self, expires_at: i64, now: i64) -> &'static str {
        match self.revoquee_par {
            Some(RevokedBy::Remplacement) => "Remplacée",
            Some(_) => "Révoquée",
            None if expires_at <= now => "Expirée",
            None => "Active",
        }
    }

    /// Who revoked it, in French.
    pub fn revoked_by_label(&self) -> String {
        match (self.revoquee_par, &self.revoquee_par_aidant) {
            (Some(RevokedBy::Usager), _) => "l'usager".into(),
            (Some(RevokedBy::Aidant), Some(n)) => format!("l'aidant {n}"),
            (Some(RevokedBy::Aidant), None) => "un aidant".into(),
            (Some(RevokedBy::Remplacement), _) => match self.remplacee_par_mandat {
                Some(m) => format!("remplacement par le mandat n° {m}"),
                None => "remplacement par un nouveau mandat".into(),
            },
            (None, _) => String::new(),
        }
    }
}

/// A mandate with everything its pages and attestation show.
#[derive(Debug, Clone)]
pub struct Mandate {
    pub id: i64,
    pub organisation_id: i64,
    pub structure: String,
    pub usager: Usager,
    pub aidant_id: i64,
    pub aidant: String,
    pub duree: Duration,
    pub texte_version: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub renouvelle: Option<i64>,
    /// The newer mandate that took this one over, if any: its latest
    /// renewal, else the mandate that took over its last démarches.
    pub renouvele_par: Option<i64>,
    pub autorisations: Vec<Autorisation>,
    pub state: State,
}

impl Mandate {
    /// The state in words, with the mandate that took over a renewed one
    /// (« Renouvelé par le mandat n° 4 »): a renewal is not a revocation.
    pub fn etat(&self) -> String {
        etat(self.state, self.renouvele_par)
    }

    pub fn any_revoked(&self) -> bool {
        self.autorisations.iter().any(Autorisation::revoked)
    }

    /// The démarches still usable now.
    pub fn active_demarches(&self, now: i64) -> Vec<&str> {
        if self.expires_at <= now {
            return Vec::new();
        }
        self.autorisations
            .iter()
            .filter(|a| !a.revoked())
            .map(|a| a.demarche.as_str())
            .collect()
    }
}

/// See [`Mandate::etat`].
pub fn etat(state: State, renouvele_par: Option<i64>) -> String {
    match (state, renouvele_par) {
        (State::Renewed, Some(n)) => format!("Renouvelé par le mandat n° {n}"),
        (State::Expired, Some(n)) => format!("Expiré, renouvelé par le mandat n° {n}"),
        (s, _) => s.label().to_string(),
    }
}

type MandateRow = (
    i64,
    i64,
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
);

const SELECT: &str =
    "SELECT m.id, m.organisation_id, o.name, u.id, u.given_name, u.family_name, u.birthdate, u.birthplace, \
     u.birthcountry, m.aidant_id, a.display_name, m.duree, CAST(m.texte_version AS BIGINT), m.created_at, m.expires_at, m.renouvelle \
     FROM mandats m JOIN organisations o ON o.id = m.organisation_id JOIN usagers u ON u.id = m.usager_id \
     JOIN accounts a ON a.id = m.aidant_id";

async fn autorisations(db: &Db, mandat: i64) -> Result<Vec<Autorisation>> {
    type R = (i64, String, Option<i64>, Option<String>, Option<String>, Option<i64>);
    let rows: Vec<R> = on_db!(db, c => {
        sqlx::query_as(
            "SELECT a.id, a.demarche, a.revoquee_at, a.revoquee_par, c.display_name, r.mandat_id FROM autorisations a \
             LEFT JOIN accounts c ON c.id = a.revoquee_par_compte LEFT JOIN autorisations r ON r.id = a.remplacee_par \
             WHERE a.mandat_id = $1 ORDER BY a.id",
        )
        .bind(mandat)
        .fetch_all(&mut *c)
        .await?
    });
    let mut out: Vec<Autorisation> = rows
        .into_iter()
        .map(|(id, demarche, revoquee_at, par, aidant, remplacee)| Autorisation {
            id,
            demarche,
            revoquee_at,
            revoquee_par: par.as_deref().map(RevokedBy::parse),
            revoquee_par_aidant: aidant,
            remplacee_par_mandat: remplacee,
        })
        .collect();
    // In the order of the closed list.
    out.sort_by_key(|a| demarches::ALL.iter().position(|(k, _)| *k == a.demarche));
    Ok(out)
}

/// The usage name of an usager (`preferred_username` of FranceConnect).
pub(super) async fn nom_usage(db: &Db, usager: i64) -> Result<Option<String>> {
    let name: Option<Option<String>> = on_db!(db, c => {
        sqlx::query_scalar("SELECT preferred_username FROM usagers WHERE id = $1")
            .bind(usager)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(name.flatten())
}

/// The latest mandate that renews `mandat`.
async fn latest_renewal(db: &Db, mandat: i64) -> Result<Option<i64>> {
    Ok(on_db!(db, c => {
        sqlx::query_scalar("SELECT id FROM mandats WHERE renouvelle = $1 ORDER BY id DESC LIMIT 1")
            .bind(mandat)
            .fetch_optional(&mut *c)
            .await?
    }))
}

async fn build(db: &Db, r: MandateRow) -> Result<Mandate> {
    let autorisations = autorisations(db, r.0).await?;
    let birthplace_nom = crate::communes_historiques::name_on(db, &r.7, &r.6).await?;
    let revoked: Vec<bool> = autorisations.iter().map(Autorisation::revoked).collect();
    let replaced_by = autorisations.iter().filter_map(|a| a.remplacee_par_mandat).max();
    let replaced = autorisations
        .iter()
        .filter(|a| a.remplacee_par_mandat.is_some())
        .count();
    let state = State::of(r.14, db.now_micros(), &revoked, replaced);
    // A renewal names its mandate; a mandate all of whose démarches newer
    // ones took over (without naming it) was renewed by the latest of them.
    let renouvele_par = match latest_renewal(db, r.0).await? {
        Some(n) => Some(n),
        None if state == State::Renewed => replaced_by,
        None => None,
    };
    Ok(Mandate {
        id: r.0,
        organisation_id: r.1,
        structure: r.2,
        usager: Usager {
            id: r.3,
            given_name: r.4,
            family_name: r.5,
            birthdate: r.6,
            birthplace: r.7,
            birthplace_nom,
            birthcountry: r.8,
            nom_usage: nom_usage(db, r.3).await?,
        },
        aidant_id: r.9,
        aidant: r.10,
        duree: Duration::parse(&r.11)?,
        texte_version: r.12,
        created_at: r.13,
        expires_at: r.14,
        renouvelle: r.15,
        renouvele_par,
        autorisations,
        state,
    })
}

/// One mandate, with no access decision (callers decide).
pub(crate) async fn load(db: &Db, id: i64) -> Result<Mandate> {
    let sql = format!("{SELECT} WHERE m.id = $1");
    let row: Option<MandateRow> = on_db!(db, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?);
    match row {
        Some(r) => build(db, r).await,
        None => Err(CoreError::NotFound("mandat".into())),
    }
}

/// One mandate of the structure `who` acts for (NotFound for any other).
pub async fn detail(core: &Core, who: &Principal, id: i64) -> Result<Mandate> {
    let acting = acting_structure(core, who).await?;
    let m = load(&core.db, id).await?;
    same_structure(acting, m.organisation_id)?;
    Ok(m)
}

/// Every mandate of an usager, across structures, newest first (his own
/// space: the caller has authenticated him).
pub async fn of_usager(db: &Db, usager_id: i64) -> Result<Vec<Mandate>> {
    let sql = format!("{SELECT} WHERE m.usager_id = $1 ORDER BY m.created_at DESC, m.id DESC");
    let rows: Vec<MandateRow> = on_db!(db, c => sqlx::query_as(&sql).bind(usager_id).fetch_all(&mut *c).await?);
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(build(db, r).await?);
    }
    Ok(out)
}

/// One mandate of the usager `usager_id` (NotFound if it is not his): for
/// his own space (detail, attestation, revocation certificate).
pub async fn of_usager_one(db: &Db, usager_id: i64, id: i64) -> Result<Mandate> {
    let m = load(db, id).await?;
    if m.usager.id != usager_id {
        return Err(CoreError::NotFound("mandat".into()));
    }
    Ok(m)
}

pub const PAGE_SIZE: i64 = 20;

/// A page of a structure's mandates.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<Mandate>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
}

/// The mandates of the structure `who` acts for, newest first, searched on
/// the usager's names (case-insensitive), by pages of [`PAGE_SIZE`].
pub async fn list(core: &Core, who: &Principal, search: &str, page: i64) -> Result<ListPage> {
    let structure = acting_structure(core, who).await?;
    let needle: String = search.trim().chars().take(100).collect::<String>().to_lowercase();
    let pattern = format!(
        "%{}%",
        needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
    );
    let filter = "m.organisation_id = $1 AND (LOWER(u.given_name || ' ' || u.family_name) LIKE $2 ESCAPE '\\' \
                  OR LOWER(u.family_name || ' ' || u.given_name) LIKE $2 ESCAPE '\\')";
    let count_sql = format!("SELECT COUNT(*) FROM mandats m JOIN usagers u ON u.id = m.usager_id WHERE {filter}");
    let total: i64 = on_db!(&core.db, c => {
        sqlx::query_scalar(&count_sql).bind(structure).bind(&pattern).fetch_one(&mut *c).await?
    });
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    let sql = format!("{SELECT} WHERE {filter} ORDER BY m.created_at DESC, m.id DESC LIMIT $3 OFFSET $4");
    let rows: Vec<MandateRow> = on_db!(&core.db, c => {
        sqlx::query_as(&sql)
            .bind(structure)
            .bind(&pattern)
            .bind(PAGE_SIZE)
            .bind((page - 1) * PAGE_SIZE)
            .fetch_all(&mut *c)
            .await?
    });
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(build(&core.db, r).await?);
    }
    Ok(ListPage {
        items,
        total,
        page,
        pages,
    })
}

/// What anyone who scans an attestation's QR code may see: no personal data
/// (initials at most).
#[derive(Debug, Clone)]
pub struct PublicCheck {
    pub id: i64,
    pub structure: String,
    pub initiales: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub state: State,
    /// The state in words (see [`Mandate::etat`]).
    pub etat: String,
    /// (label, state label)
    pub demarches: Vec<(String, &'static str)>,
}

/// The mandate a QR token designates, if the token is authentic.
pub async fn public_check(core: &Core, token: &str) -> Result<Option<PublicCheck>> {
    let Some(id) = read_token(&core.keys, token) else {
        return Ok(None);
    };
    let m = match load(&core.db, id).await {
        Ok(m) => m,
        Err(CoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let now = core.db.now_micros();
    Ok(Some(PublicCheck {
        id: m.id,
        structure: m.structure.clone(),
        initiales: m.usager.initials(),
        created_at: m.created_at,
        expires_at: m.expires_at,
        state: m.state,
        etat: m.etat(),
        demarches: m
            .autorisations
            .iter()
            .map(|a| (a.label().to_string(), a.state_label(m.expires_at, now)))
            .collect(),
    }))
}

/// The name of a structure (recap page).
pub async fn structure_name(db: &Db, id: i64) -> Result<String> {
    let name: Option<String> = on_db!(db, c => {
        sqlx::query_scalar("SELECT name FROM organisations WHERE id = $1").bind(id).fetch_optional(&mut *c).await?
    });
    name.ok_or_else(|| CoreError::NotFound("structure".into()))
}
