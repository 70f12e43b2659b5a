//! The national standard's Table Schema (v1.0.2), embedded in the binary: the
//! field order, required fields, patterns and lengths all come from the file.

use std::sync::OnceLock;

use regex::Regex;

/// The schema file, as published (a copy of `shared/data`; a test checks they match).
pub const SCHEMA_JSON: &str = include_str!("../../data/lieux-mediation-numerique.schema.json");

#[derive(Debug)]
pub struct Field {
    pub name: String,
    pub kind: FieldKind,
    pub required: bool,
    pub pattern: Option<Regex>,
    pub max_length: Option<usize>,
    /// A closed list (an enum generated from this schema).
    pub vocabulary: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Number,
    Date,
}

#[derive(Debug)]
pub struct Standard {
    pub version: String,
    pub fields: Vec<Field>,
}

impl Standard {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.position(name).map(|i| &self.fields[i])
    }

    /// Position of a field in the schema's order (rows are vectors in that order).
    pub fn position(&self, name: &str) -> Option<usize> {
        super::vocabulaires::field_position(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| f.name.as_str())
    }
}

/// The standard, parsed once.
pub fn standard() -> &'static Standard {
    static S: OnceLock<Standard> = OnceLock::new();
    S.get_or_init(|| parse(SCHEMA_JSON).expect("le schéma embarqué est valide (vérifié par les tests)"))
}

fn parse(json: &str) -> Result<Standard, String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let version = v["version"].as_str().unwrap_or_default().to_string();
    let fields = v["fields"]
        .as_array()
        .ok_or("fields manquant")?
        .iter()
        .map(|f| {
            let c = &f["constraints"];
            let name = f["name"].as_str().ok_or("name manquant")?;
            Ok(Field {
                vocabulary: super::vocabulaires::VOCABULARIES
                    .iter()
                    .any(|(field, _)| *field == name),
                name: name.to_string(),
                kind: match f["type"].as_str() {
                    Some("number") => FieldKind::Number,
                    Some("date") => FieldKind::Date,
                    _ => FieldKind::Text,
                },
                required: c["required"].as_bool().unwrap_or(false),
                // Table Schema patterns match the whole value.
                pattern: match c["pattern"].as_str() {
                    Some(p) => Some(Regex::new(&format!("^(?:{p})$")).map_err(|e| e.to_string())?),
                    None => None,
                },
                max_length: c["maxLength"].as_u64().map(|n| n as usize),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Standard { version, fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_schema_is_the_reference_file() {
        // The reference data lives beside the repository when it is checked out in the workplace.
        let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/lieux-mediation-numerique.schema.json");
        if let Ok(text) = std::fs::read_to_string(&reference) {
            assert_eq!(text, SCHEMA_JSON, "crates/core/data/ diverge de shared/data/");
        }
        let s = standard();
        assert_eq!(s.version, "v1.0.2");
        assert_eq!(s.fields.len(), 32);
        let required: Vec<_> = s
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(
            required,
            ["id", "pivot", "nom", "commune", "code_postal", "adresse", "date_maj"]
        );
        assert!(s
            .field("code_postal")
            .unwrap()
            .pattern
            .as_ref()
            .unwrap()
            .is_match("33000"));
        assert!(!s
            .field("code_postal")
            .unwrap()
            .pattern
            .as_ref()
            .unwrap()
            .is_match("330000"));
    }
}
