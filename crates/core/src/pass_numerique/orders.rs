//! Orders of funders: quote → accepted → invoice → payment (activation), with
//! documents numbered without gaps per kind and year.

use serde_json::json;

use super::authz::{authorize, Action};
use super::model::{Perimetre, Public, Territory};
use crate::accounts::Principal;
use crate::db::{lock, Tx};
use crate::error::{CoreError, Result};
use crate::identifiants::Centimes;
use crate::journal::{self, actions, NewEntry};
use crate::lieux::model::ListeServices;
use crate::{on_db, on_tx, Core};

/// Lock key serialising the numbering of documents (PostgreSQL).
const DOCUMENTS_LOCK: i64 = 0x5041_5353_0001;

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Devis,
    Acceptee,
    Facturee,
    Payee,
    Annulee,
}

crate::texte_en_base!(OrderState, OrderState::from_key, OrderState::key, "état de commande");

impl OrderState {
    /// The value stored in the database.
    pub fn key(self) -> &'static str {
        match self {
            OrderState::Devis => "devis",
            OrderState::Acceptee => "acceptee",
            OrderState::Facturee => "facturee",
            OrderState::Payee => "payee",
            OrderState::Annulee => "annulee",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OrderState::Devis => "Devis envoyé",
            OrderState::Acceptee => "Devis accepté",
            OrderState::Facturee => "Facturée",
            OrderState::Payee => "Payée",
            OrderState::Annulee => "Annulée",
        }
    }

    pub const ALL: [OrderState; 5] = [
        OrderState::Devis,
        OrderState::Acceptee,
        OrderState::Facturee,
        OrderState::Payee,
        OrderState::Annulee,
    ];

    pub fn from_key(k: &str) -> Option<OrderState> {
        OrderState::ALL.into_iter().find(|s| s.key() == k)
    }
}

/// What a funder orders.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub commanditaire_id: i64,
    pub carnets: i64,
    pub cheques_par_carnet: i64,
    pub valeur_centimes: Centimes,
    /// First and last day of use (Europe/Paris).
    pub debut: jiff::civil::Date,
    pub fin: jiff::civil::Date,
    /// Days after `fin` during which cheques are still accepted.
    pub tolerance_jours: i64,
    pub perimetre: Perimetre,
    pub publics: Vec<Public>,
    /// Empty: every service.
    pub services: ListeServices,
    /// Empty: every prescriber.
    pub prescripteurs: Vec<i64>,
    /// At most this many cheques of one booklet per place and day.
    pub plafond_jour: i64,
    /// Text printed on the booklets (the funder's name by default).
    pub marque: String,
    /// The operator's fee, in hundredths of a percent of the face value (400 = 4 %).
    pub frais_pour_dix_mille: i64,
}

impl NewOrder {
    /// The opérateur's usual fee: 4 % of the cheques' value.
    pub const FRAIS_POUR_DIX_MILLE: i64 = 400;

    /// An order with the brief's defaults.
    pub fn new(commanditaire_id: i64, carnets: i64, debut: jiff::civil::Date, fin: jiff::civil::Date) -> NewOrder {
        NewOrder {
            commanditaire_id,
            carnets,
            cheques_par_carnet: 10,
            valeur_centimes: Centimes::new(1000),
            debut,
            fin,
            tolerance_jours: 30,
            perimetre: Perimetre::default(),
            publics: vec![Public::ToutPublic],
            services: ListeServices::default(),
            prescripteurs: Vec::new(),
            plafond_jour: 2,
            marque: String::new(),
            frais_pour_dix_mille: Self::FRAIS_POUR_DIX_MILLE,
        }
    }

    fn check(&self) -> Result<()> {
        // Bounds said as people typed them: euros, percents, counts grouped by thousands.
        let within = |v: i64, lo: i64, hi: i64, what: &str, say: &dyn Fn(i64) -> String| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(CoreError::invalid(format!(
                    "{what} : entre {} et {} attendu, {} reçu",
                    say(lo),
                    say(hi),
                    say(v)
                )))
            }
        };
        let count = |n: i64| crate::format_fr::entier(n);
        let euros = |c: i64| format!("{} €", Centimes::new(c).euros());
        let percent = |p: i64| format!("{} %", crate::money::percent(p));
        within(self.carnets, 1, 1_000_000, "nombre de carnets", &count)?;
        within(self.cheques_par_carnet, 1, 50, "chèques par carnet", &count)?;
        within(
            self.valeur_centimes.centimes(),
            1,
            100_000,
            "valeur d'un chèque",
            &euros,
        )?;
        within(self.tolerance_jours, 0, 366, "jours de tolérance", &count)?;
        within(self.plafond_jour, 1, 50, "plafond par carnet, lieu et jour", &count)?;
        within(self.frais_pour_dix_mille, 0, 10_000, "frais de l'opérateur", &percent)?;
        if self.fin < self.debut {
            return Err(CoreError::invalid("la fin de validité précède le début"));
        }
        if self.perimetre.is_empty() {
            return Err(CoreError::invalid(
                "le périmètre est vide : au moins un code de département ou de commune",
            ));
        }
        if self.publics.is_empty() {
            return Err(CoreError::invalid("au moins un public (par exemple « Tout public »)"));
        }
        if self.marque.chars().count() > 200 {
            return Err(CoreError::invalid(
                "le texte imprimé sur les carnets dépasse 200 caractères",
            ));
        }
        Ok(())
    }

    /// Face value of the whole order, fee and total, in cents.
    pub fn amounts(&self) -> Amounts {
        amounts(
            self.carnets,
            self.cheques_par_carnet,
            self.valeur_centimes,
            self.frais_pour_dix_mille,
        )
    }
}

/// Amounts of an order, in cents (fee rounded half up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Amounts {
    pub valeur_centimes: Centimes,
    pub frais_centimes: Centimes,
    pub total_centimes: Centimes,
}

pub fn amounts(carnets: i64, per_booklet: i64, value: Centimes, fee_per_ten_thousand: i64) -> Amounts {
    let face = carnets * per_booklet * value.centimes();
    let fee = (face * fee_per_ten_thousand + 5_000) / 10_000;
    Amounts {
        valeur_centimes: Centimes::new(face),
        frais_centimes: Centimes::new(fee),
        total_centimes: Centimes::new(face + fee),
    }
}

/// An order as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Order {
    pub id: i64,
    pub commanditaire_id: i64,
    pub carnets: i64,
    pub cheques_par_carnet: i64,
    pub valeur_centimes: Centimes,
    pub frais_pour_dix_mille: i64,
    pub debut: String,
    pub fin: String,
    pub tolerance_jours: i64,
    pub perimetre: Perimetre,
    pub publics: Vec<String>,
    pub services: ListeServices,
    pub prescripteurs: Vec<i64>,
    pub plafond_jour: i64,
    pub marque: String,
    pub etat: OrderState,
    pub reference_paiement: Option<String>,
    pub emise: bool,
    /// The funder stopped the hand-out of the booklets (e.g. near the end of validity).
    pub remises_arretees_at: Option<i64>,
}

impl Order {
    pub fn amounts(&self) -> Amounts {
        amounts(
            self.carnets,
            self.cheques_par_carnet,
            self.valeur_centimes,
            self.frais_pour_dix_mille,
        )
    }
}

/// The kind of a document of an order, numbered without gaps per kind and year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Devis,
    Facture,
    Avoir,
}

crate::texte_en_base!(
    DocumentKind,
    DocumentKind::from_key,
    DocumentKind::key,
    "type de document"
);

impl DocumentKind {
    pub const ALL: [DocumentKind; 3] = [DocumentKind::Devis, DocumentKind::Facture, DocumentKind::Avoir];

    /// The value stored in the database.
    pub fn key(self) -> &'static str {
        match self {
            DocumentKind::Devis => "devis",
            DocumentKind::Facture => "facture",
            DocumentKind::Avoir => "avoir",
        }
    }

    pub fn from_key(k: &str) -> Option<DocumentKind> {
        DocumentKind::ALL.into_iter().find(|d| d.key() == k)
    }

    /// The start of its number (`FAC-2026-000001`).
    pub fn prefix(self) -> &'static str {
        match self {
            DocumentKind::Devis => "DEV",
            DocumentKind::Facture => "FAC",
            DocumentKind::Avoir => "AVO",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            DocumentKind::Devis => "Devis",
            DocumentKind::Facture => "Facture",
            DocumentKind::Avoir => "Avoir",
        }
    }
}

/// A quote, an invoice or a credit note.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Document {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: DocumentKind,
    pub numero: String,
    pub commande_id: i64,
    pub valeur_centimes: Centimes,
    pub frais_centimes: Centimes,
    pub total_centimes: Centimes,
    pub created_at: i64,
}

fn split(s: &str, sep: char) -> Vec<String> {
    s.split(sep).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

fn date_text(d: jiff::civil::Date) -> String {
    crate::dates_fr::iso(d)
}

/// Parses `AAAA-MM-JJ`.
pub fn parse_date(text: &str, what: &str) -> Result<jiff::civil::Date> {
    crate::dates_fr::jour_iso(text.trim())
        .ok_or_else(|| CoreError::invalid(format!("{what} : date AAAA-MM-JJ attendue, « {} » reçu", text.trim())))
}

/// Refuses an organisation that does not exist or is not of `kind` (`what` names it in the message).
pub(super) async fn require_kind(core: &Core, id: i64, kind: &str, what: &str) -> Result<()> {
    match crate::accounts::store::organisation(&core.db, id).await? {
        Some(o) if o.kind == kind => Ok(()),
        Some(o) => Err(CoreError::invalid(format!(
            "l'organisation {id} « {} » n'est pas {what}",
            o.name
        ))),
        None => Err(CoreError::NotFound(format!("organisation {id}"))),
    }
}

/// Checks every code of a perimeter against the official territories.
async fn check_perimeter(tx: &mut Tx, perimeter: &Perimetre) -> Result<()> {
    let loaded: i64 = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM territoires_departements").fetch_one(&mut *c).await?
    });
    if loaded == 0 {
        return Err(CoreError::invalid(
            "les territoires officiels ne sont pas chargés : lancez d'abord « passerelle territoires charger »",
        ));
    }
    let mut unknown = Vec::new();
    for t in perimeter {
        let sql = match t {
            Territory::Departement(_) => "SELECT COUNT(*) FROM territoires_departements WHERE code = $1",
            Territory::Commune(_) => "SELECT COUNT(*) FROM territoires_communes WHERE code = $1",
        };
        let n: i64 = on_tx!(tx, c => sqlx::query_scalar(sql).bind(t.code()).fetch_one(&mut *c).await?);
        if n == 0 {
            unknown.push(t.code().to_string());
        }
    }
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(CoreError::invalid(format!(
            "codes de périmètre inconnus du référentiel officiel : {}",
            unknown.join(", ")
        )))
    }
}

/// Creates an order and its quote: the opérateur only (`Principal::SYSTEME` from the command line).
pub async fn create(core: &Core, who: &Principal, new: &NewOrder) -> Result<(Order, Document)> {
    authorize(
        who,
        Action::CreateOrder {
            funder: Some(new.commanditaire_id),
        },
    )?;
    // The opérateur's fee is the opérateur's to set: a funder's own order carries the usual one.
    if authorize(who, Action::Administer).is_err() && new.frais_pour_dix_mille != NewOrder::FRAIS_POUR_DIX_MILLE {
        return Err(CoreError::Forbidden);
    }
    let actor = &who.actor();
    new.check()?;
    require_kind(core, new.commanditaire_id, "commanditaire", "un commanditaire").await?;
    for p in &new.prescripteurs {
        require_kind(core, *p, "prescripteur", "un prescripteur").await?;
    }
    let mut tx = core.db.begin().await?;
    check_perimeter(&mut tx, &new.perimetre).await?;
    let now = tx.horloge.now_micros();
    let publics: Vec<&str> = new.publics.iter().map(|p| p.key()).collect();
    let id: i64 = on_tx!(&mut tx, c => {
        sqlx::query_scalar(
            "INSERT INTO commandes (commanditaire_id, carnets, cheques_par_carnet, valeur_centimes, frais_pour_dix_mille, \
             debut, fin, tolerance_jours, perimetre, publics, services, plafond_jour, marque, etat, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'devis', $14, $14) RETURNING id",
        )
        .bind(new.commanditaire_id)
        .bind(new.carnets)
        .bind(new.cheques_par_carnet)
        .bind(new.valeur_centimes)
        .bind(new.frais_pour_dix_mille)
        .bind(date_text(new.debut))
        .bind(date_text(new.fin))
        .bind(new.tolerance_jours)
        .bind(&new.perimetre)
        .bind(publics.join("|"))
        .bind(&new.services)
        .bind(new.plafond_jour)
        .bind(new.marque.trim())
        .bind(now)
        .fetch_one(&mut *c)
        .await?
    });
    for p in &new.prescripteurs {
        on_tx!(&mut tx, c => {
            sqlx::query("INSERT INTO commande_prescripteurs (commande_id, organisation_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(*p)
                .execute(&mut *c)
                .await?;
        });
    }
    let quote = add_document(&mut tx, DocumentKind::Devis, id, new.amounts()).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::ORDER_CREATED)
            .subject("commande", id)
            .subject("organisation", new.commanditaire_id)
            .details(json!({
                "carnets": new.carnets,
                "cheques_par_carnet": new.cheques_par_carnet,
                "valeur_centimes": new.valeur_centimes,
                "devis": quote.numero,
                "total_centimes": quote.total_centimes,
            })),
    )
    .await?;
    tx.commit().await?;
    let order = get(core, id).await?;
    Ok((order, quote))
}

/// Adds a document with the next number of its kind and year (no gap: a
/// rolled-back transaction uses no number).
pub(super) async fn add_document(tx: &mut Tx, kind: DocumentKind, order_id: i64, a: Amounts) -> Result<Document> {
    lock(tx, DOCUMENTS_LOCK).await?;
    let year = i64::from(tx.horloge.today_utc().year());
    let rank: i64 = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT COALESCE(MAX(rang), 0) + 1 FROM documents WHERE type = $1 AND annee = $2")
            .bind(kind)
            .bind(year)
            .fetch_one(&mut *c)
            .await?
    });
    let numero = format!("{}-{year}-{rank:06}", kind.prefix());
    let now = tx.horloge.now_micros();
    let id: i64 = on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO documents (type, annee, rang, numero, commande_id, valeur_centimes, frais_centimes, total_centimes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(kind)
        .bind(year)
        .bind(rank)
        .bind(&numero)
        .bind(order_id)
        .bind(a.valeur_centimes)
        .bind(a.frais_centimes)
        .bind(a.total_centimes)
        .bind(now)
        .fetch_one(&mut *c)
        .await?
    });
    Ok(Document {
        id,
        kind,
        numero,
        commande_id: order_id,
        valeur_centimes: a.valeur_centimes,
        frais_centimes: a.frais_centimes,
        total_centimes: a.total_centimes,
        created_at: now,
    })
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: i64,
    commanditaire_id: i64,
    carnets: i64,
    cheques_par_carnet: i64,
    valeur_centimes: Centimes,
    frais_pour_dix_mille: i64,
    debut: String,
    fin: String,
    tolerance_jours: i64,
    perimetre: Perimetre,
    publics: String,
    services: ListeServices,
    plafond_jour: i64,
    marque: String,
    etat: OrderState,
    reference_paiement: Option<String>,
    emise_at: Option<i64>,
    remises_arretees_at: Option<i64>,
}

/// One order, for its funder or the opérateur.
pub async fn one(core: &Core, who: &Principal, id: i64) -> Result<Order> {
    let order = get(core, id).await?;
    authorize(
        who,
        Action::ViewOrder {
            funder: order.commanditaire_id,
        },
    )?;
    Ok(order)
}

/// One order, for the domain's own rules (no caller: see [`one`]).
pub(crate) async fn get(core: &Core, id: i64) -> Result<Order> {
    let row: Option<OrderRow> = on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT id, commanditaire_id, carnets, cheques_par_carnet, valeur_centimes, frais_pour_dix_mille, debut, fin, \
             tolerance_jours, perimetre, publics, services, plafond_jour, marque, etat, reference_paiement, emise_at, \
             remises_arretees_at FROM commandes WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *c)
        .await?
    });
    let Some(r) = row else {
        return Err(CoreError::NotFound(format!("commande {id}")));
    };
    let prescripteurs: Vec<i64> = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT organisation_id FROM commande_prescripteurs WHERE commande_id = $1 ORDER BY organisation_id")
            .bind(id)
            .fetch_all(&mut *c)
            .await?
    });
    Ok(Order {
        id: r.id,
        commanditaire_id: r.commanditaire_id,
        carnets: r.carnets,
        cheques_par_carnet: r.cheques_par_carnet,
        valeur_centimes: r.valeur_centimes,
        frais_pour_dix_mille: r.frais_pour_dix_mille,
        debut: r.debut,
        fin: r.fin,
        tolerance_jours: r.tolerance_jours,
        perimetre: r.perimetre,
        publics: split(&r.publics, '|'),
        services: r.services,
        prescripteurs,
        plafond_jour: r.plafond_jour,
        marque: r.marque,
        etat: r.etat,
        reference_paiement: r.reference_paiement,
        emise: r.emise_at.is_some(),
        remises_arretees_at: r.remises_arretees_at,
    })
}

/// The documents of an order, oldest first (its caller has checked access to the order).
pub(crate) async fn documents(core: &Core, order_id: i64) -> Result<Vec<Document>> {
    let rows: Vec<(i64, DocumentKind, String, Centimes, Centimes, Centimes, i64)> = on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT id, type, numero, valeur_centimes, frais_centimes, total_centimes, created_at FROM documents \
             WHERE commande_id = $1 ORDER BY id",
        )
        .bind(order_id)
        .fetch_all(&mut *c)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|(id, kind, numero, v, f, t, at)| Document {
            id,
            kind,
            numero,
            commande_id: order_id,
            valeur_centimes: v,
            frais_centimes: f,
            total_centimes: t,
            created_at: at,
        })
        .collect())
}

/// Sets the state of an order if it is in one of `from`.
async fn transition(tx: &mut Tx, id: i64, from: &[OrderState], to: OrderState) -> Result<bool> {
    let mut changed = 0;
    for f in from {
        changed += on_tx!(tx, c => {
            sqlx::query("UPDATE commandes SET etat = $3, updated_at = $4 WHERE id = $1 AND etat = $2")
                .bind(id)
                .bind(*f)
                .bind(to)
                .bind(tx.horloge.now_micros())
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
    }
    Ok(changed > 0)
}

/// The funder accepts the quote of its order.
pub async fn accept(core: &Core, who: &Principal, id: i64) -> Result<()> {
    let order = get(core, id).await?;
    authorize(
        who,
        Action::AcceptQuote {
            funder: order.commanditaire_id,
        },
    )?;
    let mut tx = core.db.begin().await?;
    if !transition(&mut tx, id, &[OrderState::Devis], OrderState::Acceptee).await? {
        return Err(CoreError::Conflict(format!(
            "le devis de la commande {id} n'est plus à accepter ({})",
            order.etat.label().to_lowercase()
        )));
    }
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::ORDER_ACCEPTED).subject("commande", id),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records the payment of an order: its quote is accepted and its invoice
/// issued if that was not done yet, and its issued cheques become active (no
/// cheque is active before the money is received). The opérateur only. Returns the invoice.
pub async fn pay(core: &Core, who: &Principal, id: i64, reference: &str) -> Result<Document> {
    authorize(who, Action::Administer)?;
    let actor = &who.actor();
    let reference = reference.trim();
    if reference.is_empty() || reference.chars().count() > 140 {
        return Err(CoreError::invalid("référence du paiement : 1 à 140 caractères"));
    }
    let order = get(core, id).await?;
    let mut tx = core.db.begin().await?;
    match order.etat {
        OrderState::Payee => {
            return Err(CoreError::Conflict(format!(
                "la commande {id} est déjà payée (référence {})",
                order.reference_paiement.unwrap_or_default()
            )))
        }
        OrderState::Annulee => return Err(CoreError::Conflict(format!("la commande {id} est annulée"))),
        _ => {}
    }
    if transition(&mut tx, id, &[OrderState::Devis], OrderState::Acceptee).await? {
        journal::append(
            &mut tx,
            &core.keys,
            NewEntry::new(actor.clone(), actions::ORDER_ACCEPTED).subject("commande", id),
        )
        .await?;
    }
    let invoice = if transition(&mut tx, id, &[OrderState::Acceptee], OrderState::Facturee).await? {
        let doc = add_document(&mut tx, DocumentKind::Facture, id, order.amounts()).await?;
        journal::append(
            &mut tx,
            &core.keys,
            NewEntry::new(actor.clone(), actions::ORDER_INVOICED)
                .subject("commande", id)
                .details(json!({ "facture": doc.numero, "total_centimes": doc.total_centimes })),
        )
        .await?;
        doc
    } else {
        documents(core, id)
            .await?
            .into_iter()
            .rev()
            .find(|d| d.kind == DocumentKind::Facture)
            .ok_or_else(|| CoreError::Io(format!("commande {id} facturée sans facture")))?
    };
    let now = tx.horloge.now_micros();
    let paid = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE commandes SET etat = 'payee', reference_paiement = $2, payee_at = $3, updated_at = $3 WHERE id = $1 AND etat = 'facturee'")
            .bind(id)
            .bind(reference)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if paid != 1 {
        return Err(CoreError::Conflict(format!(
            "la commande {id} a changé entre-temps : réessayez"
        )));
    }
    let activated = super::issue::activate(&mut tx, id).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::ORDER_PAID)
            .subject("commande", id)
            .details(json!({ "reference": reference, "facture": invoice.numero, "cheques_actives": activated })),
    )
    .await?;
    tx.commit().await?;
    Ok(invoice)
}
