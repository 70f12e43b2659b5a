//! Booklets after issue: allotted to prescribers, handed to beneficiaries
//! (recording only what the funder needs), declared lost.

use serde_json::json;

use super::authz::{authorize, Action};
use super::model::Public;
use super::orders;
use crate::accounts::Principal;
use crate::db::Tx;
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, NewEntry};
use crate::{on_db, on_tx, Core};

/// Age bands recorded at hand-out.
pub const AGE_BANDS: [&str; 7] = ["15-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75-et-plus"];

/// What the hand-out desk offers: the booklets left to hand out, the publics (key, label) they may
/// go to, and the age bands.
#[derive(Debug, Clone)]
pub struct Desk {
    pub a_remettre: Vec<Serie>,
    pub publics: Vec<(&'static str, &'static str)>,
    pub bands: Vec<&'static str>,
}

/// A run of consecutive booklets of one order, allotted to the prescriber and not handed out yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serie {
    pub commande: i64,
    pub premier: i64,
    pub dernier: i64,
}

/// Opens the hand-out desk: prescribers and the opérateur only (which booklets each may hand
/// out is decided again per booklet). A prescriber sees his booklets left to hand out, and only
/// the publics that the order of the first of them allows, the booklet the form presets (all
/// publics when he has none left; another booklet typed is checked against its own order).
pub async fn desk(core: &Core, who: &Principal) -> Result<Desk> {
    authorize(who, Action::HandOutDesk)?;
    let rows: Vec<(i64, i64, String)> = on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT k.numero, k.commande_id, o.publics FROM carnets k JOIN commandes o ON o.id = k.commande_id \
             WHERE k.prescripteur_id = $1 AND k.remis_at IS NULL AND k.perdu_at IS NULL AND o.remises_arretees_at IS NULL \
             ORDER BY k.numero",
        )
        .bind(who.organisation_id)
        .fetch_all(&mut *c)
        .await?
    });
    let mut a_remettre: Vec<Serie> = Vec::new();
    let mut allowed: Vec<&str> = Vec::new();
    for (numero, commande, publics) in &rows {
        match a_remettre.last_mut() {
            Some(s) if s.commande == *commande && s.dernier + 1 == *numero => s.dernier = *numero,
            _ => a_remettre.push(Serie {
                commande: *commande,
                premier: *numero,
                dernier: *numero,
            }),
        }
        // The publics of the booklet preset in the form (the first one left to hand out).
        if *numero == rows[0].0 {
            allowed.extend(publics.split('|'));
        }
    }
    let every = rows.is_empty() || allowed.contains(&Public::ToutPublic.key());
    Ok(Desk {
        a_remettre,
        publics: Public::ALL
            .iter()
            .filter(|p| every || allowed.contains(&p.key()))
            .map(|p| (p.key(), p.label()))
            .collect(),
        bands: AGE_BANDS.to_vec(),
    })
}

/// A booklet as the hand-out needs it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Booklet {
    pub numero: i64,
    pub commande_id: i64,
    pub prescripteur_id: Option<i64>,
    pub remis_at: Option<i64>,
    pub perdu_at: Option<i64>,
}

pub async fn get(core: &Core, numero: i64) -> Result<Booklet> {
    let b: Option<Booklet> = on_db!(&core.db, c => {
        sqlx::query_as("SELECT numero, commande_id, prescripteur_id, remis_at, perdu_at FROM carnets WHERE numero = $1")
            .bind(numero)
            .fetch_optional(&mut *c)
            .await?
    });
    b.ok_or_else(|| CoreError::NotFound(format!("carnet n° {numero}")))
}

/// Allots booklets `from..=to` of an order to a prescriber the order allows
/// (booklets already handed out or lost keep their state and are counted apart).
pub async fn allot(core: &Core, who: &Principal, order_id: i64, prescriber: i64, from: i64, to: i64) -> Result<u64> {
    authorize(who, Action::Administer)?;
    if from > to {
        return Err(CoreError::invalid(format!("plage de carnets vide : {from} > {to}")));
    }
    let order = orders::get(core, order_id).await?;
    if !order.prescripteurs.is_empty() && !order.prescripteurs.contains(&prescriber) {
        return Err(CoreError::invalid(format!(
            "le prescripteur {prescriber} n'est pas autorisé par la commande {order_id} (autorisés : {})",
            order
                .prescripteurs
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    orders::require_kind(core, prescriber, "prescripteur", "un prescripteur").await?;
    let mut tx = core.db.begin().await?;
    let in_order: i64 = on_tx!(&mut tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM carnets WHERE commande_id = $1 AND numero BETWEEN $2 AND $3")
            .bind(order_id)
            .bind(from)
            .bind(to)
            .fetch_one(&mut *c)
            .await?
    });
    if in_order != to - from + 1 {
        return Err(CoreError::invalid(format!(
            "les carnets {from} à {to} ne sont pas tous de la commande {order_id} (émise : {})",
            if order.emise { "oui" } else { "non" }
        )));
    }
    let allotted = on_tx!(&mut tx, c => {
        sqlx::query(
            "UPDATE carnets SET prescripteur_id = $4, attribue_at = $5 \
             WHERE commande_id = $1 AND numero BETWEEN $2 AND $3 AND remis_at IS NULL AND perdu_at IS NULL",
        )
        .bind(order_id)
        .bind(from)
        .bind(to)
        .bind(prescriber)
        .bind(tx.horloge.now_micros())
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::BOOKLETS_ALLOTTED)
            .subject("commande", order_id)
            .subject("organisation", prescriber)
            .details(json!({ "de": from, "a": to, "attribues": allotted })),
    )
    .await?;
    tx.commit().await?;
    Ok(allotted)
}

/// What is recorded when a booklet is handed to a person: no name.
#[derive(Debug, Clone, Default)]
pub struct HandOut {
    pub public: String,
    /// INSEE code of the commune of residence.
    pub commune: String,
    pub tranche_age: Option<String>,
    /// E-mail or phone for reminders, kept only with the person's consent.
    pub contact: Option<String>,
    pub consentement: bool,
}

/// The last day the cheques of booklet `numero` are accepted: its order's end of validity plus
/// the tolerance (what the cheque's page says).
pub async fn last_day(core: &Core, numero: i64) -> Result<Option<jiff::civil::Date>> {
    let booklet = get(core, numero).await?;
    let order = orders::get(core, booklet.commande_id).await?;
    Ok(crate::dates_fr::jour_iso(&order.fin).and_then(|f| crate::dates_fr::plus_jours(f, order.tolerance_jours)))
}

/// Hands a booklet to a beneficiary.
pub async fn hand_out(core: &Core, who: &Principal, numero: i64, h: &HandOut) -> Result<Booklet> {
    let booklet = get(core, numero).await?;
    authorize(
        who,
        Action::HandOut {
            prescriber: booklet.prescripteur_id,
        },
    )?;
    let order = orders::get(core, booklet.commande_id).await?;
    if order.remises_arretees_at.is_some() {
        return Err(CoreError::Conflict(format!(
            "le commanditaire a arrêté la remise des carnets de la commande n° {}",
            order.id
        )));
    }
    let public = Public::parse(&h.public)?;
    if !order
        .publics
        .iter()
        .any(|p| p == public.key() || p == Public::ToutPublic.key())
    {
        let labels: Vec<&str> = order
            .publics
            .iter()
            .map(|k| Public::parse(k).map_or(k.as_str(), |p| p.label()))
            .collect();
        return Err(CoreError::invalid(format!(
            "public « {} » hors de ceux de la commande ({})",
            public.label(),
            labels.join(", ")
        )));
    }
    let commune = h.commune.trim().to_uppercase();
    let known: i64 = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM territoires_communes WHERE code = $1").bind(&commune).fetch_one(&mut *c).await?
    });
    if known == 0 {
        return Err(CoreError::invalid(format!(
            "commune de résidence « {commune} » inconnue du référentiel officiel : saisissez son nom, son code postal ou son code INSEE"
        )));
    }
    let band = match h.tranche_age.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) if AGE_BANDS.contains(&t) => Some(t.to_string()),
        Some(t) => {
            return Err(CoreError::invalid(format!(
                "tranche d'âge « {t} » inconnue (attendues : {})",
                AGE_BANDS.join(", ")
            )))
        }
        None => None,
    };
    let contact = match h.contact.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(_) if !h.consentement => {
            return Err(CoreError::invalid(
                "un contact n'est gardé qu'avec le consentement de la personne",
            ))
        }
        Some(c) if c.chars().count() > 200 => {
            return Err(CoreError::invalid("contact trop long (200 caractères au plus)"))
        }
        // Personal data: kept encrypted under a key of the data directory.
        Some(c) => Some(core.keys.seal("contact-beneficiaire", c)?),
        None => None,
    };
    let account = who.actor().account_id();
    let mut tx = core.db.begin().await?;
    let done = on_tx!(&mut tx, c => {
        sqlx::query(
            "UPDATE carnets SET remis_at = $2, remis_par = $3, public = $4, commune = $5, tranche_age = $6, contact = $7 \
             WHERE numero = $1 AND remis_at IS NULL AND perdu_at IS NULL",
        )
        .bind(numero)
        .bind(tx.horloge.now_micros())
        .bind(account)
        .bind(public.key())
        .bind(&commune)
        .bind(&band)
        .bind(&contact)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    if done != 1 {
        return Err(CoreError::Conflict(if booklet.perdu_at.is_some() {
            format!("le carnet n° {numero} a été déclaré perdu")
        } else {
            format!("le carnet n° {numero} a déjà été remis")
        }));
    }
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::BOOKLET_HANDED_OUT)
            .subject("carnet", numero)
            .subject("commande", booklet.commande_id)
            .details(json!({ "public": public.key(), "commune": commune, "tranche_age": band, "contact": contact.is_some() })),
    )
    .await?;
    tx.commit().await?;
    get(core, numero).await
}

/// Declares a booklet lost: its unused cheques are cancelled. Returns how many.
pub async fn declare_lost(core: &Core, who: &Principal, numero: i64) -> Result<u64> {
    let booklet = get(core, numero).await?;
    authorize(
        who,
        Action::HandOut {
            prescriber: booklet.prescripteur_id,
        },
    )?;
    let mut tx = core.db.begin().await?;
    let marked = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE carnets SET perdu_at = $2 WHERE numero = $1 AND perdu_at IS NULL")
            .bind(numero)
            .bind(tx.horloge.now_micros())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if marked != 1 {
        return Err(CoreError::Conflict(format!(
            "le carnet n° {numero} est déjà déclaré perdu"
        )));
    }
    let cancelled = cancel_unused(&mut tx, numero).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::BOOKLET_LOST)
            .subject("carnet", numero)
            .subject("commande", booklet.commande_id)
            .details(json!({ "cheques_annules": cancelled })),
    )
    .await?;
    tx.commit().await?;
    Ok(cancelled)
}

async fn cancel_unused(tx: &mut Tx, numero: i64) -> Result<u64> {
    Ok(on_tx!(tx, c => {
        sqlx::query("UPDATE cheques SET etat = 'annule', updated_at = $2 WHERE carnet_id = $1 AND etat IN ('en_attente', 'actif')")
            .bind(numero)
            .bind(tx.horloge.now_micros())
            .execute(&mut *c)
            .await?
            .rows_affected()
    }))
}
