//! Read side of mandates for the OpenID Connect provider: which usagers an
//! aidant may act for in his current structure, and which autorisations are
//! active. An autorisation is active when it is not revoked and its mandate
//! has not expired (`expires_at > now`).

use crate::db::{Tx, TxConn};
use crate::error::Result;
use crate::{on_db, on_tx, Db};

/// An usager as the aidant picks him (never more than the name and birth date).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UsagerChoice {
    pub id: i64,
    pub given_name: String,
    pub family_name: String,
    pub birthdate: String,
}

/// An active autorisation with what the provider needs to check it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ActiveAutorisation {
    pub id: i64,
    pub mandat_id: i64,
    pub usager_id: i64,
    pub structure_id: i64,
    pub demarche: String,
    pub expires_at: i64,
}

/// Most usagers a search returns.
pub const MAX_RESULTS: i64 = 50;

/// `q` as a LIKE pattern: lower case, wildcards escaped, spaces as wildcards.
fn pattern(q: &str) -> String {
    let mut p = String::from("%");
    for ch in q.trim().chars().take(100).flat_map(char::to_lowercase) {
        match ch {
            '%' | '_' | '\\' => {
                p.push('\\');
                p.push(ch);
            }
            c if c.is_whitespace() => {
                if !p.ends_with('%') {
                    p.push('%');
                }
            }
            c => p.push(c),
        }
    }
    if !p.ends_with('%') {
        p.push('%');
    }
    p
}

/// Usagers with at least one active autorisation in `structure`, whose name
/// (given then family, or family then given) contains `q`; at most `limit`
/// (capped at [`MAX_RESULTS`]), by name.
pub async fn usagers_with_active_mandate(
    db: &Db,
    structure: i64,
    q: &str,
    limit: i64,
    now: i64,
) -> Result<Vec<UsagerChoice>> {
    let pat = pattern(q);
    let limit = limit.clamp(1, MAX_RESULTS);
    Ok(on_db!(db, c => {
        sqlx::query_as(
            "SELECT u.id, u.given_name, u.family_name, u.birthdate FROM usagers u \
             WHERE EXISTS (SELECT 1 FROM mandats m JOIN autorisations a ON a.mandat_id = m.id \
                           WHERE m.usager_id = u.id AND m.organisation_id = $1 AND m.expires_at > $2 AND a.revoquee_at IS NULL) \
             AND (LOWER(u.given_name || ' ' || u.family_name) LIKE $3 ESCAPE '\\' \
                  OR LOWER(u.family_name || ' ' || u.given_name) LIKE $3 ESCAPE '\\') \
             ORDER BY u.family_name, u.given_name, u.id LIMIT $4",
        )
        .bind(structure).bind(now).bind(&pat).bind(limit).fetch_all(&mut *c).await?
    }))
}

/// One usager, if he has an active autorisation in `structure`.
pub async fn usager_in_structure(db: &Db, structure: i64, usager: i64, now: i64) -> Result<Option<UsagerChoice>> {
    Ok(on_db!(db, c => {
        sqlx::query_as(
            "SELECT u.id, u.given_name, u.family_name, u.birthdate FROM usagers u WHERE u.id = $3 \
             AND EXISTS (SELECT 1 FROM mandats m JOIN autorisations a ON a.mandat_id = m.id \
                         WHERE m.usager_id = u.id AND m.organisation_id = $1 AND m.expires_at > $2 AND a.revoquee_at IS NULL)",
        )
        .bind(structure).bind(now).bind(usager).fetch_optional(&mut *c).await?
    }))
}

const ACTIVE: &str =
    "SELECT a.id, a.mandat_id, m.usager_id, m.organisation_id AS structure_id, a.demarche, m.expires_at \
                      FROM autorisations a JOIN mandats m ON m.id = a.mandat_id \
                      WHERE a.revoquee_at IS NULL AND m.expires_at > $1";

/// The active autorisations of `usager` in `structure`, by démarche.
pub async fn active_autorisations(db: &Db, structure: i64, usager: i64, now: i64) -> Result<Vec<ActiveAutorisation>> {
    let sql = format!("{ACTIVE} AND m.organisation_id = $2 AND m.usager_id = $3 ORDER BY a.demarche, a.id");
    Ok(on_db!(db, c => {
        sqlx::query_as(&sql).bind(now).bind(structure).bind(usager).fetch_all(&mut *c).await?
    }))
}

/// The autorisation `id` if it is active, read inside the caller's transaction. On PostgreSQL
/// the rows are locked (`FOR SHARE`) until the end of the transaction: a revocation waits for
/// the use being written, never lands in between. On SQLite, transactions begin IMMEDIATE: one
/// writer at a time already.
pub async fn active_autorisation_tx(tx: &mut Tx, id: i64, now: i64) -> Result<Option<ActiveAutorisation>> {
    let sql = match tx.conn {
        TxConn::Postgres(_) => format!("{ACTIVE} AND a.id = $2 FOR SHARE OF a, m"),
        TxConn::Sqlite(_) => format!("{ACTIVE} AND a.id = $2"),
    };
    Ok(on_tx!(tx, c => {
        sqlx::query_as(&sql).bind(now).bind(id).fetch_optional(&mut *c).await?
    }))
}

#[cfg(test)]
mod tests {
    use super::pattern;

    #[test]
    fn search_patterns_escape_wildcards() {
        assert_eq!(pattern(""), "%");
        assert_eq!(pattern("  Jean  Dupont "), "%jean%dupont%");
        assert_eq!(pattern("50%_x"), "%50\\%\\_x%");
    }
}
