//! What funders and the opérateur see of orders: lists and progress.

use crate::error::CoreResult;
use crate::{on_db, Core};

/// One line of a list of orders.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct OrderLine {
    pub id: i64,
    pub commanditaire: String,
    pub carnets: i64,
    pub cheques_par_carnet: i64,
    pub valeur_centimes: i64,
    pub etat: super::orders::OrderState,
    pub debut: String,
    pub fin: String,
}

/// Orders, newest first: all of them, or those of one funder.
pub async fn list(core: &Core, funder: Option<i64>) -> CoreResult<Vec<OrderLine>> {
    let sql = "SELECT c.id, o.name AS commanditaire, c.carnets, c.cheques_par_carnet, c.valeur_centimes, c.etat, c.debut, c.fin \
               FROM commandes c JOIN organisations o ON o.id = c.commanditaire_id \
               WHERE ($1 = 0 OR c.commanditaire_id = $1) ORDER BY c.id DESC LIMIT 500";
    Ok(on_db!(&core.db, c => sqlx::query_as(sql).bind(funder.unwrap_or(0)).fetch_all(&mut *c).await?))
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

pub async fn progress(core: &Core, id: i64) -> CoreResult<Progress> {
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
pub async fn operator_name(core: &Core) -> CoreResult<String> {
    let name: Option<String> = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT name FROM organisations WHERE kind = 'operateur' ORDER BY id LIMIT 1")
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(name.unwrap_or_else(|| "Opérateur du Pass Numérique".into()))
}
