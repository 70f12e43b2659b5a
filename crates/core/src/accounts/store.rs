//! SQL of the accounts domain. Every function works on both engines.

use crate::db::{Db, Tx};
use crate::error::Result;
use crate::identifiants::Siret;
use crate::{on_db, on_tx};

use super::model::{Account, Organisation};

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: i64,
    kind: String,
    name: String,
    // Read as text: organisations created under the older, looser rule may
    // hold a SIRET it now refuses (`controle::sirets_a_reprendre` lists them
    // for the opérateur); one such row must not make every page that lists
    // organisations fail. Written as a `Siret` (`insert_organisation`).
    siret: Option<String>,
    created_at: i64,
}

impl From<OrgRow> for Organisation {
    fn from(r: OrgRow) -> Self {
        Organisation {
            id: r.id,
            kind: r.kind,
            name: r.name,
            siret: r.siret,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: i64,
    organisation_id: i64,
    organisation_name: String,
    email: String,
    display_name: String,
    role: String,
    totp_enabled: bool,
    active: bool,
    created_at: i64,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account {
            id: r.id,
            organisation_id: r.organisation_id,
            organisation_name: r.organisation_name,
            email: r.email,
            display_name: r.display_name,
            role: r.role,
            totp_enabled: r.totp_enabled,
            active: r.active,
            created_at: r.created_at,
        }
    }
}

const ACCOUNT_COLUMNS: &str = "a.id, a.organisation_id, o.name AS organisation_name, a.email, a.display_name, a.role, \
     (a.totp_secret IS NOT NULL) AS totp_enabled, a.active, a.created_at \
     FROM accounts a JOIN organisations o ON o.id = a.organisation_id";

/// What login needs: the account plus its secrets.
#[derive(sqlx::FromRow)]
pub struct Credentials {
    pub id: i64,
    pub role: String,
    pub password_hash: String,
    pub totp_secret: Option<String>,
    pub totp_pending_secret: Option<String>,
    /// When the pending secret was drawn (microseconds).
    pub totp_pending_at: Option<i64>,
    pub totp_last_step: Option<i64>,
    pub active: bool,
}

pub async fn insert_organisation(tx: &mut Tx, kind: &str, name: &str, siret: Option<&Siret>) -> Result<i64> {
    let now = tx.horloge.now_micros();
    Ok(on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO organisations (kind, name, siret, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(kind)
        .bind(name)
        .bind(siret)
        .bind(now)
        .fetch_one(&mut *c)
        .await?
    }))
}

pub async fn organisation(db: &Db, id: i64) -> Result<Option<Organisation>> {
    let row: Option<OrgRow> = on_db!(db, c => {
        sqlx::query_as("SELECT id, kind, name, siret, created_at FROM organisations WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(row.map(Into::into))
}

pub async fn organisations(db: &Db) -> Result<Vec<Organisation>> {
    let rows: Vec<OrgRow> = on_db!(db, c => {
        sqlx::query_as("SELECT id, kind, name, siret, created_at FROM organisations ORDER BY kind, name, id")
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn count_organisations(db: &Db) -> Result<i64> {
    Ok(on_db!(db, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM organisations").fetch_one(&mut *c).await?
    }))
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_account(
    tx: &mut Tx,
    organisation_id: i64,
    email: &str,
    display_name: &str,
    role: &str,
    password_hash: &str,
    totp_secret: Option<&str>,
) -> Result<i64> {
    let now = tx.horloge.now_micros();
    Ok(on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO accounts (organisation_id, email, display_name, role, password_hash, totp_secret, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $7) RETURNING id",
        )
        .bind(organisation_id)
        .bind(email)
        .bind(display_name)
        .bind(role)
        .bind(password_hash)
        .bind(totp_secret)
        .bind(now)
        .fetch_one(&mut *c)
        .await?
    }))
}

pub async fn account(db: &Db, id: i64) -> Result<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} WHERE a.id = $1");
    let row: Option<AccountRow> = on_db!(db, c => {
        sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?
    });
    Ok(row.map(Into::into))
}

pub async fn accounts(db: &Db) -> Result<Vec<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} ORDER BY o.name, a.email");
    let rows: Vec<AccountRow> = on_db!(db, c => {
        sqlx::query_as(&sql).fetch_all(&mut *c).await?
    });
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn credentials_by_email(db: &Db, email: &str) -> Result<Option<Credentials>> {
    Ok(on_db!(db, c => {
        sqlx::query_as(
            "SELECT id, role, password_hash, totp_secret, totp_pending_secret, totp_pending_at, totp_last_step, active FROM accounts WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(&mut *c)
        .await?
    }))
}

pub async fn credentials_by_id(tx: &mut Tx, id: i64) -> Result<Option<Credentials>> {
    Ok(on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT id, role, password_hash, totp_secret, totp_pending_secret, totp_pending_at, totp_last_step, active FROM accounts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *c)
        .await?
    }))
}

/// The stored password hash (to verify outside a write transaction).
pub async fn password_hash(db: &Db, id: i64) -> Result<Option<String>> {
    Ok(on_db!(db, c => {
        sqlx::query_scalar("SELECT password_hash FROM accounts WHERE id = $1").bind(id).fetch_optional(&mut *c).await?
    }))
}

pub async fn set_password_hash(tx: &mut Tx, id: i64, hash: &str) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(hash)
            .bind(tx.horloge.now_micros())
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

pub async fn set_totp_pending(tx: &mut Tx, id: i64, secret: Option<&str>) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "UPDATE accounts SET totp_pending_secret = $2, totp_pending_at = CASE WHEN $2 IS NULL THEN NULL ELSE $3 END, \
             updated_at = $3 WHERE id = $1",
        )
            .bind(id)
            .bind(secret)
            .bind(tx.horloge.now_micros())
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Makes `secret` the account's TOTP secret (or removes it) and records the step just used.
pub async fn set_totp(tx: &mut Tx, id: i64, secret: Option<&str>, last_step: Option<i64>) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "UPDATE accounts SET totp_secret = $2, totp_pending_secret = NULL, totp_pending_at = NULL, totp_last_step = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(secret)
        .bind(last_step)
        .bind(tx.horloge.now_micros())
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// Records `step` as used if it is later than the last used step; false if the
/// code was already used (two requests racing with the same code: one wins).
pub async fn consume_totp_step(tx: &mut Tx, id: i64, step: i64) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE accounts SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
        )
        .bind(id)
        .bind(step)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

pub async fn set_active(tx: &mut Tx, id: i64, active: bool) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE accounts SET active = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(active)
            .bind(tx.horloge.now_micros())
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Notes a completed login (inactivity is counted from it) and clears a pending inactivity warning.
pub async fn note_login(tx: &mut Tx, id: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE accounts SET last_login_at = $2, inactivite_avertie_at = NULL WHERE id = $1")
            .bind(id)
            .bind(tx.horloge.now_micros())
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}
