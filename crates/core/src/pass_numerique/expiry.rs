//! Expiry: after the last day of use plus the tolerance, the unused cheques
//! of a paid order become expired, and the funder receives a credit note
//! (avoir) for the face value of its unused cheques (expired, or cancelled
//! with a lost booklet); the operator's fee is not refunded.

use serde_json::json;

use super::orders::{add_document, Amounts};
use crate::error::{CoreError, Result};
use crate::identifiants::Centimes;
use crate::journal::{self, actions, Actor, NewEntry};
use crate::{on_db, on_tx, Core};

/// Expires what is due at `today` (Europe/Paris) and issues the credit notes
/// owed. Idempotent: a second run changes nothing. Returns the cheques expired.
pub async fn expire_due(core: &Core, actor: &Actor, today: jiff::civil::Date) -> Result<u64> {
    let due: Vec<(i64, String, i64, Centimes)> = on_db!(&core.db, c => {
        sqlx::query_as("SELECT id, fin, tolerance_jours, valeur_centimes FROM commandes WHERE etat = 'payee' AND emise_at IS NOT NULL")
            .fetch_all(&mut *c)
            .await?
    });
    let mut total = 0;
    for (order, fin, tolerance, value) in due {
        let last = jiff::civil::Date::strptime("%Y-%m-%d", &fin)
            .ok()
            .and_then(|f| crate::dates_fr::plus_jours(f, tolerance));
        if last.is_none_or(|l| l >= today) {
            continue;
        }
        let mut tx = core.db.begin().await?;
        let n = on_tx!(&mut tx, c => {
            sqlx::query("UPDATE cheques SET etat = 'expire', updated_at = $2 WHERE commande_id = $1 AND etat = 'actif'")
                .bind(order)
                .bind(tx.horloge.now_micros())
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        // Credit owed: the face value of every unused cheque, less what earlier credit notes covered.
        let (unused, credited): (i64, Centimes) = on_tx!(&mut tx, c => {
            (
                sqlx::query_scalar("SELECT COUNT(*) FROM cheques WHERE commande_id = $1 AND etat IN ('expire', 'annule')")
                    .bind(order)
                    .fetch_one(&mut *c)
                    .await?,
                sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(valeur_centimes), 0) AS BIGINT) FROM documents WHERE commande_id = $1 AND type = 'avoir'",
                )
                .bind(order)
                .fetch_one(&mut *c)
                .await?,
            )
        });
        let owed = value.checked_mul(unused).map(|face| face - credited).ok_or_else(|| {
            CoreError::Io(format!(
                "commande {order} : valeur des chèques non utilisés hors limites"
            ))
        })?;
        let credit = if owed > Centimes::ZERO {
            let amounts = Amounts {
                valeur_centimes: owed,
                frais_centimes: Centimes::ZERO,
                total_centimes: owed,
            };
            Some(
                add_document(&mut tx, super::orders::DocumentKind::Avoir, order, amounts)
                    .await?
                    .numero,
            )
        } else {
            None
        };
        if n > 0 || credit.is_some() {
            journal::append(
                &mut tx,
                &core.keys,
                NewEntry::new(actor.clone(), actions::CHEQUES_EXPIRED)
                    .subject("commande", order)
                    .details(
                        json!({ "cheques_expires": n, "avoir": credit, "avoir_centimes": owed.max(Centimes::ZERO) }),
                    ),
            )
            .await?;
        }
        tx.commit().await?;
        total += n;
    }
    Ok(total)
}
