//! Concluding and renewing a mandate. Both need a TOTP code checked less than
//! 15 minutes ago on the session, démarches among the structure's allowed
//! ones, and the aidant's declaration. Concluding needs an usager identified
//! with FranceConnect on the same session within the last 30 minutes;
//! renewing takes the usager of the renewed mandate. One transaction: the
//! mandate, one autorisation per démarche, the supersession of the usager's
//! active autorisations of the same structure and démarche, the journal.

use serde_json::json;

use super::actions;
use super::authz::{acting_structure_for_change as acting_structure, same_structure};
use super::model::{Duration, State};
use super::queries::{self, Usager};
use super::texts;
use crate::accounts::session::Session;
use crate::accounts::Principal;
use crate::aidants_connect::franceconnect::sha256_hex;
use crate::aidants_connect::fresh::{require_fresh_totp, FRESH_TOTP_SECS};
use crate::aidants_connect::{aidants, demarches};
use crate::db::{Db, Tx};
use crate::error::{CoreError, Result};
use crate::journal::{self, NewEntry};
use crate::{on_db, on_tx, Core};

/// How long after his FranceConnect identification an usager may be given a mandate.
pub const IDENTIFIED_SECS: i64 = 30 * 60;
/// A mandate expired for longer than this cannot be renewed.
pub const RENEWABLE_AFTER_EXPIRY_SECS: i64 = 365 * 86_400;

/// What the aidant chose on the form.
#[derive(Debug, Clone)]
pub struct MandateRequest {
    pub demarches: Vec<String>,
    pub duree: Duration,
    /// "Je déclare avoir informé l'usager…" was ticked.
    pub declaration: bool,
    /// The usager shown on the recap page (a new mandate must be for him:
    /// another identification since then is refused). Unused for a renewal.
    pub usager: Option<i64>,
    /// The structure shown on the recap page: a new mandate is concluded for
    /// it or not at all (the current structure may not have changed since).
    /// Unused for a renewal (the renewed mandate's structure).
    pub structure: Option<i64>,
}

/// The usager identified with FranceConnect on this session (token) by this
/// account within the last 30 minutes, if any.
pub async fn identified_usager(db: &Db, who: &Principal, session_token: &str) -> Result<Option<i64>> {
    Ok(identification(db, who, session_token).await?.map(|(_, usager)| usager))
}

/// The last identification (row, usager) of this session and account in the
/// last 30 minutes, if no mandate was concluded with it yet.
pub async fn identification(db: &Db, who: &Principal, session_token: &str) -> Result<Option<(i64, i64)>> {
    let since = db.now_micros() - IDENTIFIED_SECS * 1_000_000;
    Ok(on_db!(db, c => {
        sqlx::query_as(
            "SELECT id, usager_id FROM franceconnect_etats WHERE session_hash = $1 AND nature = 'connexion' AND account_id = $2 \
             AND usager_id IS NOT NULL AND used_at >= $3 AND mandat_id IS NULL ORDER BY used_at DESC, id DESC LIMIT 1",
        )
        .bind(sha256_hex(session_token))
        .bind(who.account_id)
        .bind(since)
        .fetch_optional(&mut *c)
        .await?
    }))
}

/// The usager's identity (for the recap page).
pub async fn usager(db: &Db, id: i64) -> Result<Usager> {
    type R = (String, String, String, String, String);
    let r: Option<R> = on_db!(db, c => {
        sqlx::query_as("SELECT given_name, family_name, birthdate, birthplace, birthcountry FROM usagers WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
    });
    let (given_name, family_name, birthdate, birthplace, birthcountry) =
        r.ok_or_else(|| CoreError::NotFound("usager".into()))?;
    let birthplace_nom = crate::communes_historiques::name_on(db, &birthplace, &birthdate).await?;
    Ok(Usager {
        id,
        given_name,
        family_name,
        birthdate,
        birthplace_nom,
        birthplace,
        birthcountry,
        nom_usage: super::queries::nom_usage(db, id).await?,
    })
}

/// Checks the request against the structure's allowed démarches.
pub async fn check_request(db: &Db, structure: i64, req: &MandateRequest) -> Result<Vec<&'static str>> {
    let chosen = demarches::parse_list(&req.demarches)?;
    let allowed = aidants::allowed_demarches(db, structure).await?;
    if let Some(d) = chosen.iter().find(|d| !allowed.iter().any(|a| a == *d)) {
        return Err(CoreError::invalid(format!(
            "la démarche « {} » n'est pas autorisée pour votre structure",
            demarches::label(d)
        )));
    }
    Ok(chosen)
}

fn require_declaration(req: &MandateRequest) -> Result<()> {
    if req.declaration {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "cochez la déclaration : vous devez avoir informé l'usager avant de conclure le mandat",
        ))
    }
}

/// Concludes a mandate for the usager identified on this session.
pub async fn conclude(
    core: &Core,
    who: &Principal,
    session: &Session,
    session_token: &str,
    req: &MandateRequest,
) -> Result<i64> {
    let structure = acting_structure(core, who).await?;
    require_fresh_totp(session, FRESH_TOTP_SECS, core.db.now_micros())?;
    let (row, usager) = identification(&core.db, who, session_token).await?.ok_or_else(|| {
        CoreError::invalid("aucun usager identifié avec FranceConnect sur cette session depuis moins de 30 minutes")
    })?;
    let chosen = check_request(&core.db, structure, req).await?;
    require_declaration(req)?;
    if req.usager != Some(usager) {
        return Err(CoreError::invalid(
            "l'usager identifié avec FranceConnect a changé depuis le récapitulatif : relisez le récapitulatif avec l'usager présent",
        ));
    }
    if req.structure != Some(structure) {
        return Err(CoreError::invalid(
            "la structure pour laquelle vous agissez a changé depuis le récapitulatif : relisez le récapitulatif avec l'usager présent",
        ));
    }
    create(
        core,
        who,
        structure,
        usager,
        &chosen,
        req.duree,
        Origin::Identification(row),
    )
    .await
}

/// Renews mandate `old` of the structure (active, or expired less than a
/// year ago, not entirely revoked): a new mandate, no new FranceConnect step.
pub async fn renew(core: &Core, who: &Principal, session: &Session, old: i64, req: &MandateRequest) -> Result<i64> {
    let structure = acting_structure(core, who).await?;
    let m = queries::load(&core.db, old).await?;
    same_structure(structure, m.organisation_id)?;
    require_fresh_totp(session, FRESH_TOTP_SECS, core.db.now_micros())?;
    check_renewable(&m, core.db.now_micros())?;
    let chosen = check_request(&core.db, structure, req).await?;
    require_declaration(req)?;
    create(
        core,
        who,
        structure,
        m.usager.id,
        &chosen,
        req.duree,
        Origin::Renewal(old),
    )
    .await
}

/// Whether a mandate may be renewed at `now`.
pub fn check_renewable(m: &queries::Mandate, now: i64) -> Result<()> {
    if let (State::Renewed | State::Expired, Some(n)) = (m.state, m.renouvele_par) {
        return Err(CoreError::invalid(format!(
            "ce mandat a déjà été renouvelé par le mandat n° {n} : c'est celui-là qu'il faut renouveler"
        )));
    }
    if m.state == State::Revoked {
        return Err(CoreError::invalid(
            "ce mandat est révoqué : il ne peut pas être renouvelé ; concluez un nouveau mandat",
        ));
    }
    if m.expires_at + RENEWABLE_AFTER_EXPIRY_SECS * 1_000_000 < now {
        return Err(CoreError::invalid(
            "ce mandat a expiré il y a plus d'un an : concluez un nouveau mandat",
        ));
    }
    Ok(())
}

/// Where a new mandate comes from.
pub(crate) enum Origin {
    /// A FranceConnect identification (its row), used up by the mandate.
    Identification(i64),
    /// The renewal of this mandate (no new FranceConnect step).
    Renewal(i64),
    /// Demonstration data.
    Demo,
}

pub(crate) async fn create(
    core: &Core,
    who: &Principal,
    structure: i64,
    usager: i64,
    chosen: &[&'static str],
    duree: Duration,
    origin: Origin,
) -> Result<i64> {
    let (renews, identification) = match origin {
        Origin::Identification(row) => (None, Some(row)),
        Origin::Renewal(old) => (Some(old), None),
        Origin::Demo => (None, None),
    };
    let now = core.db.now_micros();
    let expires = duree.expiry(now);
    let version = texts::CURRENT;
    let mut tx = core.db.begin().await?;
    // Serialises the mandates of one usager (a row lock on PostgreSQL; SQLite
    // writes one transaction at a time), so supersession never misses one.
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE usagers SET updated_at = updated_at WHERE id = $1")
            .bind(usager)
            .execute(&mut *c)
            .await?;
    });
    let id: i64 = on_tx!(&mut tx, c => {
        sqlx::query_scalar(
            "INSERT INTO mandats (organisation_id, usager_id, aidant_id, duree, texte_version, created_at, expires_at, renouvelle) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(structure)
        .bind(usager)
        .bind(who.account_id)
        .bind(duree.key())
        .bind(version)
        .bind(now)
        .bind(expires)
        .bind(renews)
        .fetch_one(&mut *c)
        .await?
    });
    if let Some(row) = identification {
        // One mandate per FranceConnect identification (the usager was there for it).
        let used = on_tx!(&mut tx, c => {
            sqlx::query("UPDATE franceconnect_etats SET mandat_id = $1 WHERE id = $2 AND mandat_id IS NULL")
                .bind(id)
                .bind(row)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        if used != 1 {
            return Err(CoreError::invalid(
                "un mandat a déjà été conclu avec cette identification FranceConnect : identifiez de nouveau l'usager",
            ));
        }
    }
    let mut superseded = Vec::new();
    for d in chosen {
        let new: i64 = on_tx!(&mut tx, c => {
            sqlx::query_scalar("INSERT INTO autorisations (mandat_id, demarche) VALUES ($1, $2) RETURNING id")
                .bind(id)
                .bind(*d)
                .fetch_one(&mut *c)
                .await?
        });
        for (old_aut, old_mandat) in supersede(&mut tx, structure, usager, d, id, new, now).await? {
            superseded.push((old_aut, old_mandat, *d, new));
        }
    }
    let action = if renews.is_some() {
        actions::RENEWED
    } else {
        actions::CREATED
    };
    let mut details =
        json!({ "demarches": chosen, "duree": duree.key(), "texte_version": version, "expire_at": expires });
    if let Some(old) = renews {
        details["renouvelle"] = old.into();
    }
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), action)
            .subject("mandat", id)
            .subject("usager", usager)
            .subject("organisation", structure)
            .subject("compte", who.account_id)
            .details(details),
    )
    .await?;
    for (old_aut, old_mandat, d, new) in superseded {
        journal::append(
            &mut tx,
            &core.keys,
            NewEntry::new(who.actor(), actions::SUPERSEDED)
                .subject("mandat", old_mandat)
                .subject("autorisation", old_aut)
                .subject("usager", usager)
                .subject("organisation", structure)
                .details(json!({ "demarche": d, "remplacee_par": new, "nouveau_mandat": id })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Revokes the usager's still-active autorisations of `structure` for
/// `demarche` (other than those of mandate `mandat`), pointing them at `new`.
/// Returns (autorisation, mandate) of each.
async fn supersede(
    tx: &mut Tx,
    structure: i64,
    usager: i64,
    demarche: &str,
    mandat: i64,
    new: i64,
    now: i64,
) -> Result<Vec<(i64, i64)>> {
    let old: Vec<(i64, i64)> = on_tx!(&mut *tx, c => {
        sqlx::query_as(
            "SELECT a.id, a.mandat_id FROM autorisations a JOIN mandats m ON m.id = a.mandat_id \
             WHERE m.organisation_id = $1 AND m.usager_id = $2 AND a.demarche = $3 AND a.revoquee_at IS NULL \
             AND m.expires_at > $4 AND m.id <> $5 ORDER BY a.id",
        )
        .bind(structure)
        .bind(usager)
        .bind(demarche)
        .bind(now)
        .bind(mandat)
        .fetch_all(&mut *c)
        .await?
    });
    for (a, _) in &old {
        on_tx!(&mut *tx, c => {
            sqlx::query(
                "UPDATE autorisations SET revoquee_at = $1, revoquee_par = 'remplacement', remplacee_par = $2 \
                 WHERE id = $3 AND revoquee_at IS NULL",
            )
            .bind(now)
            .bind(new)
            .bind(*a)
            .execute(&mut *c)
            .await?;
        });
    }
    Ok(old)
}
