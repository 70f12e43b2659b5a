//! Export in the standard: exactly its fields, in its order, `|`-separated
//! lists. CSV cells that a spreadsheet would run as a formula are neutralised.

use std::io::Write;

use super::schema::standard;
use super::store::{self, Value};
use crate::db::Db;
use crate::error::{CoreError, Result};

pub use crate::tableur::neutralise;

fn number(n: Option<f64>) -> String {
    n.map(|x| x.to_string()).unwrap_or_default()
}

fn io(e: impl std::fmt::Display) -> CoreError {
    CoreError::Io(format!("écriture de l'export : {e}"))
}

pub async fn write_csv(db: &Db, out: impl Write) -> Result<usize> {
    let rows = store::standard_rows(db).await?;
    let mut w = crate::tableur::Csv::new(out);
    w.write_record(standard().names()).map_err(io)?;
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .map(|v| match v {
                Value::Text(t) => t.clone(),
                Value::Number(n) => number(*n),
            })
            .collect();
        w.write_record(&cells).map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok(rows.len())
}

pub async fn write_json(db: &Db, mut out: impl Write) -> Result<usize> {
    let rows = store::standard_rows(db).await?;
    let names: Vec<&str> = standard().names().collect();
    out.write_all(b"[").map_err(io)?;
    for (i, row) in rows.iter().enumerate() {
        // Keys in the standard's order (serde_json's map would sort them).
        out.write_all(if i > 0 { b",\n{" } else { b"\n{" }).map_err(io)?;
        for (j, (name, v)) in names.iter().zip(row).enumerate() {
            let value = match v {
                Value::Text(t) if t.is_empty() => serde_json::Value::Null,
                Value::Text(t) => serde_json::Value::String(t.clone()),
                Value::Number(Some(n)) => serde_json::Number::from_f64(*n).map_or(serde_json::Value::Null, Into::into),
                Value::Number(None) => serde_json::Value::Null,
            };
            if j > 0 {
                out.write_all(b",").map_err(io)?;
            }
            serde_json::to_writer(&mut out, name).map_err(io)?;
            out.write_all(b":").map_err(io)?;
            serde_json::to_writer(&mut out, &value).map_err(io)?;
        }
        out.write_all(b"}").map_err(io)?;
    }
    out.write_all(b"\n]\n").map_err(io)?;
    out.flush().map_err(io)?;
    Ok(rows.len())
}
