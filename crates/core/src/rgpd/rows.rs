//! Rows of any table as JSON objects (column name → value), the same on both
//! engines: what an export shows. Secrets (hashes of tokens, sealed keys,
//! password hashes) are never shown, only said to be present; instants
//! (`at`, `…_at`) are written as RFC 3339 dates.

use serde_json::{Map, Value};
use sqlx::{Column, Row, TypeInfo};

use crate::db::{Tx, TxConn};
use crate::error::Result;

/// A parameter of an export query.
pub(crate) enum Bind {
    I(i64),
    T(String),
}

/// Columns never exported in clear.
const SECRETS: &[&str] = &[
    "password_hash",
    "totp_secret",
    "totp_pending_secret",
    "graine",
    "id_hash",
    "jeton_hash",
    "token_hash",
    "code_hash",
    "state_hash",
    "nonce_hash",
    "session_hash",
    "sub_hash",
    "id_token_scelle",
    "empreinte",
    "code_empreinte",
    "code_challenge",
    "nonce",
];

const SECRET_PRESENT: &str = "(présent, non communiqué)";

fn shown(name: &str, value: Value) -> Value {
    if value.is_null() {
        return value;
    }
    if SECRETS.contains(&name) {
        return Value::String(SECRET_PRESENT.into());
    }
    if name == "at" || name.ends_with("_at") {
        if let Some(micros) = value.as_i64() {
            return Value::String(super::date_of(micros));
        }
    }
    value
}

macro_rules! row_to_json {
    ($row:expr) => {{
        let row = $row;
        let mut map = Map::new();
        for (i, col) in row.columns().iter().enumerate() {
            // SQLite stores booleans as integers: the declared type tells them apart.
            let boolean = col.type_info().name().eq_ignore_ascii_case("BOOLEAN")
                || col.type_info().name().eq_ignore_ascii_case("BOOL");
            let value = if boolean && row.try_get::<Option<bool>, _>(i).is_ok() {
                row.try_get::<Option<bool>, _>(i).ok().flatten().map(Value::from)
            } else if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                v.map(Value::from)
            } else if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
                v.map(Value::from)
            } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
                v.map(Value::from)
            } else if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
                v.map(Value::from)
            } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                v.map(Value::from)
            } else if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
                v.map(|b| Value::String(hex::encode(b)))
            } else {
                Some(Value::String("(illisible)".into()))
            };
            map.insert(col.name().to_string(), shown(col.name(), value.unwrap_or(Value::Null)));
        }
        map
    }};
}

/// Runs `sql` in `tx` and returns its rows as JSON objects.
pub(crate) async fn fetch(tx: &mut Tx, sql: &str, binds: &[Bind]) -> Result<Vec<Map<String, Value>>> {
    Ok(match &mut tx.conn {
        TxConn::Sqlite(t) => {
            let mut q = sqlx::query(sql);
            for b in binds {
                q = match b {
                    Bind::I(v) => q.bind(*v),
                    Bind::T(v) => q.bind(v.clone()),
                };
            }
            let rows = q.fetch_all(&mut **t).await?;
            rows.iter().map(|r| row_to_json!(r)).collect()
        }
        TxConn::Postgres(t) => {
            let mut q = sqlx::query(sql);
            for b in binds {
                q = match b {
                    Bind::I(v) => q.bind(*v),
                    Bind::T(v) => q.bind(v.clone()),
                };
            }
            let rows = q.fetch_all(&mut **t).await?;
            rows.iter().map(|r| row_to_json!(r)).collect()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hidden_and_instants_are_dates() {
        assert_eq!(
            shown("password_hash", Value::from("$argon2id$…")),
            Value::from(SECRET_PRESENT)
        );
        assert_eq!(shown("password_hash", Value::Null), Value::Null);
        assert_eq!(shown("created_at", Value::from(0)), Value::from("1970-01-01T00:00:00Z"));
        assert_eq!(
            shown("at", Value::from(86_400_000_000_i64)),
            Value::from("1970-01-02T00:00:00Z")
        );
        assert_eq!(shown("given_name", Value::from("Angela")), Value::from("Angela"));
        assert_eq!(shown("numero", Value::from(7)), Value::from(7));
    }
}
