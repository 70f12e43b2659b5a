//! The joint statement of expired cheques (« état des chèques expirés »): for
//! an order, its unused cheques by booklet — expired after the tolerance, or
//! cancelled with a lost booklet — their face value, and the credit notes
//! they justify. Once the expiry has run, the statement's total equals the
//! sum of the order's credit notes (`expiry::expire_due` credits exactly the
//! face value of these cheques). Booklet numbers only: never a cheque's code.

use serde::Serialize;

use super::Count;
use crate::accounts::Principal;
use crate::error::{CoreError, Result};
use crate::identifiants::Centimes;
use crate::pass_numerique::authz::{authorize, Action};
use crate::pass_numerique::orders::{self, Order};
use crate::{on_db, Core};

/// One booklet with unused cheques.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookletLine {
    pub carnet: i64,
    /// The booklet was declared lost (its unused cheques were cancelled).
    pub perdu: bool,
    pub expires: Count,
    pub annules: Count,
}

/// A credit note of the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditNote {
    pub numero: String,
    pub valeur_centimes: Centimes,
    /// Microseconds since 1970 (UTC).
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    pub commande: i64,
    pub commanditaire: String,
    pub valeur_cheque_centimes: Centimes,
    /// Last day of use and the day after which cheques expire (end + tolerance).
    pub fin: String,
    pub expiration_apres: String,
    pub carnets: Vec<BookletLine>,
    pub expires: Count,
    pub annules: Count,
    /// Face value of every unused cheque listed: expired + cancelled.
    pub total_centimes: Centimes,
    pub avoirs: Vec<CreditNote>,
    pub avoirs_centimes: Centimes,
}

impl Statement {
    /// The listed cheques are exactly what the credit notes cover.
    pub fn balanced(&self) -> bool {
        self.total_centimes == self.avoirs_centimes
    }
}

/// The statement of order `id`: the opérateur and the order's funder.
pub async fn statement(core: &Core, who: &Principal, id: i64) -> Result<Statement> {
    let order = orders::get(core, id).await?;
    authorize(
        who,
        Action::ViewOrder {
            funder: order.commanditaire_id,
        },
    )?;
    build(core, &order).await
}

async fn build(core: &Core, order: &Order) -> Result<Statement> {
    // PostgreSQL sums integers as NUMERIC: each sum is cast back to BIGINT.
    let sql = "SELECT x.carnet_id, k.perdu_at IS NOT NULL, x.ne, x.ve, x.na, x.va FROM ( \
                 SELECT carnet_id, \
                   CAST(SUM(CASE WHEN etat = 'expire' THEN 1 ELSE 0 END) AS BIGINT) AS ne, \
                   CAST(SUM(CASE WHEN etat = 'expire' THEN valeur_centimes ELSE 0 END) AS BIGINT) AS ve, \
                   CAST(SUM(CASE WHEN etat = 'annule' THEN 1 ELSE 0 END) AS BIGINT) AS na, \
                   CAST(SUM(CASE WHEN etat = 'annule' THEN valeur_centimes ELSE 0 END) AS BIGINT) AS va \
                 FROM cheques WHERE commande_id = $1 AND etat IN ('expire', 'annule') GROUP BY carnet_id) x \
               LEFT JOIN carnets k ON k.numero = x.carnet_id ORDER BY x.carnet_id";
    let rows: Vec<(i64, bool, i64, Centimes, i64, Centimes)> =
        on_db!(&core.db, c => sqlx::query_as(sql).bind(order.id).fetch_all(&mut *c).await?);
    let mut expires = Count::default();
    let mut annules = Count::default();
    let carnets: Vec<BookletLine> = rows
        .into_iter()
        .map(|(carnet, perdu, ne, ve, na, va)| {
            let e = Count {
                cheques: ne,
                valeur_centimes: ve,
            };
            let a = Count {
                cheques: na,
                valeur_centimes: va,
            };
            expires.add(e);
            annules.add(a);
            BookletLine {
                carnet,
                perdu,
                expires: e,
                annules: a,
            }
        })
        .collect();
    let avoirs: Vec<CreditNote> = orders::documents(core, order.id)
        .await?
        .into_iter()
        .filter(|d| d.kind == orders::DocumentKind::Avoir)
        .map(|d| CreditNote {
            numero: d.numero,
            valeur_centimes: d.valeur_centimes,
            created_at: d.created_at,
        })
        .collect();
    let commanditaire = crate::accounts::store::organisation(&core.db, order.commanditaire_id)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let expiration_apres = jiff::civil::Date::strptime("%Y-%m-%d", &order.fin)
        .ok()
        .and_then(|f| crate::dates_fr::plus_jours(f, order.tolerance_jours))
        .map(|d| d.strftime("%Y-%m-%d").to_string())
        .ok_or_else(|| CoreError::Io(format!("fin de validité illisible en base : {}", order.fin)))?;
    Ok(Statement {
        commande: order.id,
        commanditaire,
        valeur_cheque_centimes: order.valeur_centimes,
        fin: order.fin.clone(),
        expiration_apres,
        total_centimes: expires.valeur_centimes + annules.valeur_centimes,
        avoirs_centimes: avoirs.iter().map(|a| a.valeur_centimes).sum(),
        carnets,
        expires,
        annules,
        avoirs,
    })
}

/// `type,reference,carnet_perdu,cheques_expires,valeur_expiree_centimes,cheques_annules,valeur_annulee_centimes,valeur_totale_centimes`:
/// one `carnet` row per booklet (reference: its number), one `total` row (reference: the order),
/// one `avoir` row per credit note (reference: its number; only its amount).
pub fn csv(s: &Statement) -> Result<Vec<u8>> {
    let io = |e: csv::Error| CoreError::Io(format!("état des chèques expirés en CSV : {e}"));
    let mut w = crate::tableur::Csv::new(Vec::new());
    w.write_record([
        "type",
        "reference",
        "carnet_perdu",
        "cheques_expires",
        "valeur_expiree_centimes",
        "cheques_annules",
        "valeur_annulee_centimes",
        "valeur_totale_centimes",
    ])
    .map_err(io)?;
    let counts = |e: Count, a: Count| {
        [
            e.cheques.to_string(),
            e.valeur_centimes.centimes().to_string(),
            a.cheques.to_string(),
            a.valeur_centimes.centimes().to_string(),
            (e.valeur_centimes + a.valeur_centimes).centimes().to_string(),
        ]
    };
    for b in &s.carnets {
        let mut rec = vec![
            "carnet".to_string(),
            b.carnet.to_string(),
            if b.perdu { "oui" } else { "non" }.to_string(),
        ];
        rec.extend(counts(b.expires, b.annules));
        w.write_record(&rec).map_err(io)?;
    }
    let mut rec = vec!["total".to_string(), s.commande.to_string(), String::new()];
    rec.extend(counts(s.expires, s.annules));
    w.write_record(&rec).map_err(io)?;
    for a in &s.avoirs {
        w.write_record([
            "avoir",
            &a.numero,
            "",
            "",
            "",
            "",
            "",
            &a.valeur_centimes.centimes().to_string(),
        ])
        .map_err(io)?;
    }
    w.into_inner()
        .map_err(|e| CoreError::Io(format!("état des chèques expirés en CSV : {e}")))
}
