//! Export in the standard: exactly its fields, in its order, `|`-separated
//! lists. CSV cells that a spreadsheet would run as a formula are neutralised.

use std::io::Write;

use super::schema::standard;
use super::store::{self, Value};
use crate::db::Db;
use crate::error::{CoreError, CoreResult};

/// Prefixes with `'` a cell that a spreadsheet would read as a formula: one
/// starting with `=`, `@`, a tab or a carriage return, or with `+`/`-` not
/// followed by a digit (so `+33…` phones and negative coordinates stay valid).
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let mut chars = cell.chars();
    let risky = match chars.next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => !chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    };
    if risky {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

fn number(n: Option<f64>) -> String {
    n.map(|x| x.to_string()).unwrap_or_default()
}

fn io(e: impl std::fmt::Display) -> CoreError {
    CoreError::Io(format!("écriture de l'export : {e}"))
}

pub async fn write_csv(db: &Db, out: impl Write) -> CoreResult<usize> {
    let rows = store::standard_rows(db).await?;
    let mut w = csv::WriterBuilder::new().from_writer(out);
    w.write_record(standard().names()).map_err(io)?;
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .map(|v| match v {
                Value::Text(t) => neutralise(t).into_owned(),
                Value::Number(n) => number(*n),
            })
            .collect();
        w.write_record(&cells).map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok(rows.len())
}

pub async fn write_json(db: &Db, mut out: impl Write) -> CoreResult<usize> {
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

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_neutralised_but_phones_and_coordinates_are_not() {
        use super::neutralise;
        assert_eq!(neutralise("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("-x"), "'-x");
        assert_eq!(neutralise("+33123456789"), "+33123456789");
        assert_eq!(neutralise("-0.58"), "-0.58");
        assert_eq!(neutralise("Médiathèque"), "Médiathèque");
        assert_eq!(neutralise(""), "");
    }
}
