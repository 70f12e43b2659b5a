//! Before the end of validity: the funder is alerted 30, 15 and 7 days ahead
//! (e-mail, and on its order pages) with where its booklets stand; it may then
//! stop the hand-out of the order's booklets.

use jiff::civil::Date;

use super::orders::{self, Order, OrderState};
use crate::error::Result;
use crate::{on_db, on_tx, Core};

/// Days before the last day of use when the funder is alerted.
pub const THRESHOLDS: [i64; 3] = [7, 15, 30];

/// Where an order's booklets stand as its end nears.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EndAlert {
    pub commande: i64,
    pub fin: String,
    pub jours_restants: i64,
    /// The alert this falls under: 30, 15 or 7 days.
    pub seuil: i64,
    pub carnets_emis: i64,
    pub carnets_remis: i64,
    pub carnets_non_remis: i64,
    /// Handed-out booklets with cheques both redeemed and still unused.
    pub carnets_entames: i64,
    pub remises_arretees: bool,
}

/// The alert of an order at `today`, if it is paid, issued and within 30 days of its end.
pub async fn end_alert(core: &Core, order: &Order, today: Date) -> Result<Option<EndAlert>> {
    let order_id = order.id;
    if order.etat != OrderState::Payee || !order.emise {
        return Ok(None);
    }
    let Ok(fin) = Date::strptime("%Y-%m-%d", &order.fin) else {
        return Ok(None);
    };
    let left = crate::dates_fr::jours_entre(today, fin);
    let Some(&seuil) = THRESHOLDS.iter().find(|&&t| (0..=t).contains(&left)) else {
        return Ok(None);
    };
    let (emis, remis, non_remis): (i64, i64, i64) = on_db!(&core.db, c => {
        sqlx::query_as(
            "SELECT COUNT(*), COUNT(remis_at), \
             CAST(COALESCE(SUM(CASE WHEN remis_at IS NULL AND perdu_at IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM carnets WHERE commande_id = $1",
        )
        .bind(order_id)
        .fetch_one(&mut *c)
        .await?
    });
    let entames: i64 = on_db!(&core.db, c => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT carnet_id FROM cheques WHERE commande_id = $1 GROUP BY carnet_id \
             HAVING SUM(CASE WHEN etat = 'encaisse' THEN 1 ELSE 0 END) > 0 \
             AND SUM(CASE WHEN etat = 'actif' THEN 1 ELSE 0 END) > 0) x",
        )
        .bind(order_id)
        .fetch_one(&mut *c)
        .await?
    });
    Ok(Some(EndAlert {
        commande: order_id,
        fin: order.fin.clone(),
        jours_restants: left,
        seuil,
        carnets_emis: emis,
        carnets_remis: remis,
        carnets_non_remis: non_remis,
        carnets_entames: entames,
        remises_arretees: order.remises_arretees_at.is_some(),
    }))
}

fn mail_body(a: &EndAlert, base_url: &str) -> String {
    format!(
        "Bonjour,\n\n\
         Les chèques de votre commande n° {} du Pass Numérique ne seront plus utilisables après le {} \
         (dans {}).\n\n\
         Où en sont vos carnets :\n\
         - carnets émis : {}\n\
         - remis à des bénéficiaires : {}\n\
         - pas encore remis : {}\n\
         - remis et entamés (des chèques restent à utiliser) : {}\n\n\
         Vous pouvez arrêter la remise des carnets de cette commande depuis sa page :\n{}/commandes/{}\n\n\
         Après la période de tolérance, les chèques non utilisés expirent et vous recevez un avoir pour leur valeur.\n\n\
         Passerelle — Pass Numérique\n",
        a.commande,
        crate::dates_fr::jour_fr(&a.fin),
        crate::format_fr::nombre(a.jours_restants, "jour", "jours"),
        a.carnets_emis,
        a.carnets_remis,
        a.carnets_non_remis,
        a.carnets_entames,
        base_url.trim_end_matches('/'),
        a.commande
    )
}

/// Queues the alerts due at `today` to every funder's account; an alert is
/// queued once per order, threshold and recipient, however often this runs.
/// Returns the messages queued.
pub async fn queue_due(core: &Core, today: Date, base_url: &str) -> Result<usize> {
    let orders: Vec<(i64, i64)> = on_db!(&core.db, c => {
        sqlx::query_as("SELECT id, commanditaire_id FROM commandes WHERE etat = 'payee' AND emise_at IS NOT NULL ORDER BY id")
            .fetch_all(&mut *c)
            .await?
    });
    let mut queued = 0;
    for (order, funder) in orders {
        let Some(alert) = end_alert(core, &orders::get(core, order).await?, today).await? else {
            continue;
        };
        let mut tx = core.db.begin().await?;
        let to = crate::mail::recipients(&mut tx, funder, &["commanditaire"]).await?;
        for email in to {
            let key = format!("fin-de-validite:{order}:{}:{email}", alert.seuil);
            let subject = format!(
                "Pass Numérique : la commande n° {order} prend fin dans {}",
                crate::format_fr::nombre(alert.jours_restants, "jour", "jours")
            );
            if crate::mail::enqueue(&mut tx, &key, &email, &subject, &mail_body(&alert, base_url)).await? {
                queued += 1;
            }
        }
        tx.commit().await?;
    }
    Ok(queued)
}

/// The funder (or the opérateur) stops, or resumes, the hand-out of an order's booklets.
pub async fn set_hand_outs_stopped(
    core: &Core,
    who: &crate::accounts::Principal,
    order_id: i64,
    stopped: bool,
) -> Result<()> {
    let order = orders::get(core, order_id).await?;
    super::authz::authorize(
        who,
        super::authz::Action::StopHandOuts {
            funder: order.commanditaire_id,
        },
    )?;
    let mut tx = core.db.begin().await?;
    let at = if stopped { Some(tx.horloge.now_micros()) } else { None };
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE commandes SET remises_arretees_at = $2 WHERE id = $1")
            .bind(order_id)
            .bind(at)
            .execute(&mut *c)
            .await?;
    });
    crate::journal::append(
        &mut tx,
        &core.keys,
        crate::journal::NewEntry::new(who.actor(), crate::journal::actions::HAND_OUTS_STOPPED)
            .subject("commande", order_id)
            .details(serde_json::json!({ "remises_arretees": stopped })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
