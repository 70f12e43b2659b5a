//! What funders and the opérateur see of orders: the list, one order's file
//! (documents, progress, what the caller may do next), a document to print
//! and the choices of the new-order form. Access is decided here, through
//! [`super::authz`].

use super::alerts::{self, EndAlert};
use super::authz::{authorize, Action};
use super::documents_pdf::Parties;
use super::orders::{self, Document, Order, OrderState};
use crate::accounts::{Principal, Role};
use crate::error::{CoreError, Result};
use crate::identifiants::Centimes;
use crate::{on_db, Core};

/// One line of a list of orders.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct OrderLine {
    pub id: i64,
    pub commanditaire: String,
    pub carnets: i64,
    pub cheques_par_carnet: i64,
    pub valeur_centimes: Centimes,
    pub etat: super::orders::OrderState,
    pub debut: String,
    pub fin: String,
}

/// The orders a caller sees, and whether he may create one.
#[derive(Debug, Clone)]
pub struct OrderList {
    pub orders: Vec<OrderLine>,
    pub may_create: bool,
}

/// Orders, newest first: every order for the opérateur, its own for a funder; nobody else.
pub async fn list(core: &Core, who: &Principal) -> Result<OrderList> {
    let funder = match who.role {
        Role::Operateur => None,
        Role::Commanditaire => Some(who.organisation_id),
        _ => return Err(CoreError::Forbidden),
    };
    authorize(who, Action::ViewReports { funder })?;
    let sql = "SELECT c.id, o.name AS commanditaire, c.carnets, c.cheques_par_carnet, c.valeur_centimes, c.etat, c.debut, c.fin \
               FROM commandes c JOIN organisations o ON o.id = c.commanditaire_id \
               WHERE ($1 = 0 OR c.commanditaire_id = $1) ORDER BY c.id DESC LIMIT 500";
    let orders = on_db!(&core.db, c => sqlx::query_as(sql).bind(funder.unwrap_or(0)).fetch_all(&mut *c).await?);
    Ok(OrderList {
        orders,
        may_create: authorize(who, Action::CreateOrder { funder: None }).is_ok(),
    })
}

/// Where the cheques and booklets of an order stand.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Progress {
    /// Cheques by state key.
    pub cheques: Vec<(String, i64)>,
    pub carnets_emis: i64,
    pub carnets_attribues: i64,
    pub carnets_remis: i64,
    pub carnets_perdus: i64,
    /// First and last booklet numbers, once issued.
    pub plage: Option<(i64, i64)>,
}

pub(crate) async fn progress(core: &Core, id: i64) -> Result<Progress> {
    let cheques: Vec<(String, i64)> = on_db!(&core.db, c => {
        sqlx::query_as("SELECT etat, COUNT(*) FROM cheques WHERE commande_id = $1 GROUP BY etat ORDER BY etat")
            .bind(id)
            .fetch_all(&mut *c)
            .await?
    });
    #[allow(clippy::type_complexity)]
    let (emis, attribues, remis, perdus, first, last): (i64, i64, i64, i64, Option<i64>, Option<i64>) = on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT COUNT(*), COUNT(prescripteur_id), COUNT(remis_at), COUNT(perdu_at), MIN(numero), MAX(numero) \
             FROM carnets WHERE commande_id = $1",
        )
        .bind(id)
        .fetch_one(&mut *c)
        .await?
    });
    Ok(Progress {
        cheques,
        carnets_emis: emis,
        carnets_attribues: attribues,
        carnets_remis: remis,
        carnets_perdus: perdus,
        plage: first.zip(last),
    })
}

/// Who issues the documents: the opérateur's organisation (the oldest one).
pub async fn operator_name(core: &Core) -> Result<String> {
    let name: Option<String> = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT name FROM organisations WHERE kind = 'operateur' ORDER BY id LIMIT 1")
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(name.unwrap_or_else(|| "Opérateur du Pass Numérique".into()))
}

/// What the caller may do with an order, decided by [`super::authz`].
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Rights {
    /// The opérateur: payment, issue, printing and allotment.
    pub operator: bool,
    pub accept_quote: bool,
    pub stop_hand_outs: bool,
    pub record_payment: bool,
    pub issue: bool,
}

/// One order as its page shows it.
#[derive(Debug, Clone)]
pub struct OrderFile {
    pub order: Order,
    /// The funder's name.
    pub funder: String,
    pub documents: Vec<Document>,
    pub progress: Progress,
    pub end_alert: Option<EndAlert>,
    pub rights: Rights,
    /// Prescribers the opérateur may allot booklets to (id, name); empty for others.
    pub prescribers: Vec<(i64, String)>,
}

async fn funder_name(core: &Core, order: &Order) -> Result<String> {
    Ok(crate::accounts::store::organisation(&core.db, order.commanditaire_id)
        .await?
        .map(|o| o.name)
        .unwrap_or_default())
}

/// One order's file, for its funder or the opérateur.
pub async fn order_file(core: &Core, who: &Principal, id: i64) -> Result<OrderFile> {
    let order = orders::one(core, who, id).await?;
    let funder = order.commanditaire_id;
    let operator = authorize(who, Action::Administer).is_ok();
    let unpaid = matches!(
        order.etat,
        OrderState::Devis | OrderState::Acceptee | OrderState::Facturee
    );
    let rights = Rights {
        operator,
        accept_quote: order.etat == OrderState::Devis && authorize(who, Action::AcceptQuote { funder }).is_ok(),
        stop_hand_outs: order.emise && authorize(who, Action::StopHandOuts { funder }).is_ok(),
        record_payment: unpaid && operator,
        issue: operator && !order.emise && order.etat != OrderState::Annulee,
    };
    let prescribers = if rights.operator && order.emise {
        crate::accounts::store::organisations(&core.db)
            .await?
            .into_iter()
            .filter(|o| {
                o.kind == "prescripteur" && (order.prescripteurs.is_empty() || order.prescripteurs.contains(&o.id))
            })
            .map(|o| (o.id, o.name))
            .collect()
    } else {
        Vec::new()
    };
    Ok(OrderFile {
        funder: funder_name(core, &order).await?,
        documents: orders::documents(core, id).await?,
        progress: progress(core, id).await?,
        end_alert: alerts::end_alert(core, &order, core.db.horloge().today_paris()).await?,
        rights,
        prescribers,
        order,
    })
}

/// A quote, an invoice or a credit note of an order, with what its PDF needs.
pub async fn document(core: &Core, who: &Principal, id: i64, numero: &str) -> Result<(Document, Order, Parties)> {
    let order = orders::one(core, who, id).await?;
    let Some(doc) = orders::documents(core, id)
        .await?
        .into_iter()
        .find(|d| d.numero == numero)
    else {
        return Err(CoreError::NotFound(format!("document {numero} de la commande {id}")));
    };
    let parties = Parties {
        operator: operator_name(core).await?,
        funder: funder_name(core, &order).await?,
    };
    Ok((doc, order, parties))
}

/// The choices of the new-order form: funders and prescribers as (id, name). The opérateur only.
pub async fn new_order_choices(core: &Core, who: &Principal) -> Result<(Vec<(i64, String)>, Vec<(i64, String)>)> {
    authorize(who, Action::CreateOrder { funder: None })?;
    let all = crate::accounts::store::organisations(&core.db).await?;
    // A funder orders for itself only.
    let operator = authorize(who, Action::Administer).is_ok();
    let of = |kind: &str| {
        all.iter()
            .filter(|o| o.kind == kind && (operator || kind != "commanditaire" || o.id == who.organisation_id))
            .map(|o| (o.id, o.name.clone()))
            .collect::<Vec<_>>()
    };
    Ok((of("commanditaire"), of("prescripteur")))
}
