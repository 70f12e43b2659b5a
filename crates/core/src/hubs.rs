//! Hubs territoriaux: the départements each hub covers, and the hub of a place.

use serde_json::json;

use crate::db::{Db, Tx};
use crate::error::{CoreError, Result};
use crate::journal::{self, actions, Actor, NewEntry};
use crate::{on_db, on_tx, Core};

/// A hub, as a place shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hub {
    pub id: i64,
    pub nom: String,
}

/// A département code as INSEE writes it: `1` → `01`, `2a` → `2A`.
fn normalise_code(raw: &str) -> String {
    let c = raw.trim().to_uppercase();
    if c.len() == 1 && c.bytes().all(|b| b.is_ascii_digit()) {
        format!("0{c}")
    } else {
        c
    }
}

/// Sets the départements a hub covers (replacing its previous territory).
/// `actor` is `System` from the command line. Codes must be official
/// départements (`passerelle territoires charger`), and a département already
/// covered by another hub is refused.
pub async fn set_departements(
    core: &Core,
    actor: &Actor,
    organisation_id: i64,
    codes: &[String],
) -> Result<Vec<String>> {
    let org = crate::accounts::store::organisation(&core.db, organisation_id)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("organisation {organisation_id}")))?;
    if org.kind != "hub" {
        return Err(CoreError::invalid(format!(
            "l'organisation {organisation_id} « {} » n'est pas un hub territorial",
            org.name
        )));
    }
    let mut wanted: Vec<String> = codes
        .iter()
        .map(|c| normalise_code(c))
        .filter(|c| !c.is_empty())
        .collect();
    wanted.sort();
    wanted.dedup();
    let known: Vec<String> = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT code FROM territoires_departements").fetch_all(&mut *c).await?
    });
    if known.is_empty() {
        return Err(CoreError::invalid(
            "les territoires officiels ne sont pas chargés : lancez d'abord « passerelle territoires charger »",
        ));
    }
    let unknown: Vec<&str> = wanted
        .iter()
        .filter(|c| !known.contains(c))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(CoreError::invalid(format!(
            "départements inconnus : {} (codes INSEE attendus, par exemple 33, 2A, 971)",
            unknown.join(", ")
        )));
    }
    let mut tx = core.db.begin().await?;
    let taken: Vec<(String, String)> = on_tx!(&mut tx, c => {
        sqlx::query_as(
            "SELECT h.departement, o.name FROM hub_departements h JOIN organisations o ON o.id = h.organisation_id \
             WHERE h.organisation_id <> $1 ORDER BY h.departement",
        )
        .bind(organisation_id)
        .fetch_all(&mut *c)
        .await?
    });
    let clashes: Vec<String> = taken
        .iter()
        .filter(|(d, _)| wanted.contains(d))
        .map(|(d, hub)| format!("{d} (déjà couvert par « {hub} »)"))
        .collect();
    if !clashes.is_empty() {
        return Err(CoreError::Conflict(format!(
            "un département n'appartient qu'à un hub : {}",
            clashes.join(", ")
        )));
    }
    replace(&mut tx, organisation_id, &wanted).await?;
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::HUB_TERRITORY)
            .subject("organisation", organisation_id)
            .details(json!({ "departements": wanted })),
    )
    .await?;
    tx.commit().await?;
    Ok(wanted)
}

async fn replace(tx: &mut Tx, organisation_id: i64, codes: &[String]) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM hub_departements WHERE organisation_id = $1").bind(organisation_id).execute(&mut *c).await?;
        for code in codes {
            sqlx::query("INSERT INTO hub_departements (departement, organisation_id) VALUES ($1, $2)")
                .bind(code)
                .bind(organisation_id)
                .execute(&mut *c)
                .await?;
        }
    });
    Ok(())
}

/// The départements a hub covers, in code order.
pub async fn departements(db: &Db, organisation_id: i64) -> Result<Vec<String>> {
    Ok(on_db!(db, c => {
        sqlx::query_scalar("SELECT departement FROM hub_departements WHERE organisation_id = $1 ORDER BY departement")
            .bind(organisation_id)
            .fetch_all(&mut *c)
            .await?
    }))
}

/// The hub whose territory holds a département, if any.
pub async fn of_departement(db: &Db, departement: &str) -> Result<Option<Hub>> {
    if departement.is_empty() {
        return Ok(None);
    }
    let row: Option<(i64, String)> = on_db!(db, c => {
        sqlx::query_as(
            "SELECT o.id, o.name FROM hub_departements h JOIN organisations o ON o.id = h.organisation_id WHERE h.departement = $1",
        )
        .bind(departement)
        .fetch_optional(&mut *c)
        .await?
    });
    Ok(row.map(|(id, nom)| Hub { id, nom }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_written_as_insee_does() {
        assert_eq!(super::normalise_code(" 1 "), "01");
        assert_eq!(super::normalise_code("2a"), "2A");
        assert_eq!(super::normalise_code("971"), "971");
        assert_eq!(super::normalise_code("33"), "33");
    }
}
