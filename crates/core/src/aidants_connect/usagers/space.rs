//! What the usager sees of himself: his identity as FranceConnect gave it,
//! and every use of his mandates by an online service (aidant, structure,
//! service, démarche, time, and the journal entry that proves it).

use crate::aidants_connect::demarches;
use crate::db::Db;
use crate::error::{CoreError, Result};
use crate::on_db;

/// The usager as FranceConnect identified him.
#[derive(Debug, Clone)]
pub struct Me {
    pub id: i64,
    pub given_name: String,
    pub family_name: String,
    pub birthdate: String,
}

impl Me {
    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }

    /// `JJ/MM/AAAA` (the stored form is `AAAA-MM-JJ`).
    pub fn birthdate_fr(&self) -> String {
        match self.birthdate.split('-').collect::<Vec<_>>().as_slice() {
            [y, m, d] => format!("{d}/{m}/{y}"),
            _ => self.birthdate.clone(),
        }
    }
}

pub async fn me(db: &Db, usager_id: i64) -> Result<Me> {
    let row: Option<(String, String, String)> = on_db!(db, c => {
        sqlx::query_as("SELECT given_name, family_name, birthdate FROM usagers WHERE id = $1")
            .bind(usager_id)
            .fetch_optional(&mut *c)
            .await?
    });
    let (given_name, family_name, birthdate) = row.ok_or_else(|| CoreError::NotFound("usager inconnu".into()))?;
    Ok(Me {
        id: usager_id,
        given_name,
        family_name,
        birthdate,
    })
}

/// One use of a mandate by an online service.
#[derive(Debug, Clone)]
pub struct Use {
    pub at: i64,
    pub mandat_id: i64,
    pub demarche: String,
    pub aidant: String,
    pub structure: String,
    pub service: String,
    pub journal_seq: i64,
}

impl Use {
    pub fn demarche_label(&self) -> &str {
        demarches::label(&self.demarche)
    }
}

/// The latest uses of the usager's mandates, newest first (his own only).
pub async fn uses(db: &Db, usager_id: i64, limit: i64) -> Result<Vec<Use>> {
    type Row = (i64, i64, String, String, String, Option<String>, String, i64);
    let rows: Vec<Row> = on_db!(db, c => {
        sqlx::query_as(
            "SELECT u.at, u.mandat_id, u.demarche, a.display_name, o.name, s.nom, u.client_id, u.journal_seq \
             FROM mandats_utilisations u \
             JOIN accounts a ON a.id = u.aidant_id \
             JOIN organisations o ON o.id = u.structure_id \
             LEFT JOIN oidc_clients s ON s.client_id = u.client_id \
             WHERE u.usager_id = $1 ORDER BY u.at DESC, u.id DESC LIMIT $2",
        )
        .bind(usager_id)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(
            |(at, mandat_id, demarche, aidant, structure, service, client_id, journal_seq)| Use {
                at,
                mandat_id,
                demarche,
                aidant,
                structure,
                service: service.unwrap_or(client_id),
                journal_seq,
            },
        )
        .collect())
}
