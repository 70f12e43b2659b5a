//! Reading files in the standard: CSV (UTF-8 with or without BOM, `,` or `;`
//! detected) and JSON (array of objects). Legacy column names are mapped and
//! reported; unknown columns are reported and ignored.

use std::collections::BTreeMap;

use super::schema::standard;
use super::validate::Issue;
use crate::error::{CoreError, Result};

/// More columns than this is not a places file (protects against 10⁶-column headers).
pub const MAX_COLUMNS: usize = 500;

/// Old names seen in published files, and their name in v1.0.2.
pub const LEGACY_NAMES: &[(&str, &str)] = &[
    ("courriel", "courriels"),
    ("accessibilite", "fiche_acces_libre"),
    ("labels_nationaux", "dispositif_programmes_nationaux"),
    ("labels_autres", "autres_formations_labels"),
    ("publics_accueillis", "publics_specifiquement_adresses"),
    ("conditions_acces", "frais_a_charge"),
    ("cle_ban", ""),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            other => Err(CoreError::invalid(format!("format « {other} » inconnu : csv ou json"))),
        }
    }

    /// From the file name's extension, CSV by default.
    pub fn guess(name: &str) -> Format {
        if name.to_ascii_lowercase().ends_with(".json") {
            Format::Json
        } else {
            Format::Csv
        }
    }
}

/// A file read into rows of (standard field → raw value).
#[derive(Debug, Default)]
pub struct Parsed {
    /// (line number, values in the schema's field order). For JSON, the number
    /// is the element's position (1 = first).
    pub rows: Vec<(usize, Vec<String>)>,
    /// (name in the file, name in the standard).
    pub renamed: Vec<(String, String)>,
    pub unknown_columns: Vec<String>,
    /// Rows that could not even be read (encoding, column count…).
    pub unreadable: Vec<Issue>,
    /// `,` or `;` for CSV.
    pub delimiter: Option<char>,
}

/// Maps the file's column names to the standard's; None for ignored columns.
fn map_columns(names: &[String], parsed: &mut Parsed) -> Vec<Option<String>> {
    let std = standard();
    let mut seen = std::collections::HashSet::new();
    let present: std::collections::HashSet<String> = names.iter().map(|n| n.trim().to_lowercase()).collect();
    names
        .iter()
        .map(|raw| {
            let name = raw.trim().trim_start_matches('\u{feff}').to_lowercase();
            let target = if std.field(&name).is_some() {
                Some(name.clone())
            } else if let Some((_, new)) = LEGACY_NAMES.iter().find(|(old, _)| *old == name) {
                if new.is_empty() || present.contains(*new) {
                    parsed.unknown_columns.push(raw.clone());
                    None
                } else {
                    parsed.renamed.push((name.clone(), new.to_string()));
                    Some(new.to_string())
                }
            } else {
                parsed.unknown_columns.push(raw.clone());
                None
            };
            target.filter(|t| seen.insert(t.clone()))
        })
        .collect()
}

/// The message for a file that is neither CSV nor JSON in UTF-8 (a spreadsheet, a PDF, an archive,
/// a text in another encoding).
pub const FORMAT_NON_RECONNU: &str = "format non reconnu (CSV ou JSON en UTF-8 attendu)";

pub fn read(bytes: &[u8], format: Format) -> Result<Parsed> {
    // What people upload instead of a CSV: a spreadsheet (.xlsx and .ods are zip archives, .xls
    // an OLE2 file), a PDF, a compressed file, or « Unicode text » saved by a spreadsheet (UTF-16).
    const NOT_TEXT: &[(&[u8], &str)] = &[
        (b"PK\x03\x04", "un classeur (.xlsx, .ods) ou une archive zip"),
        (b"\xD0\xCF\x11\xE0", "un classeur Excel (.xls)"),
        (b"%PDF", "un PDF"),
        (b"\x1F\x8B", "un fichier compressé (gzip)"),
        (b"\xFF\xFE", "du texte en UTF-16"),
        (b"\xFE\xFF", "du texte en UTF-16"),
    ];
    if let Some((_, what)) = NOT_TEXT.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Err(CoreError::invalid(format!(
            "{FORMAT_NON_RECONNU} : le fichier est {what}"
        )));
    }
    match format {
        Format::Csv => read_csv(bytes),
        Format::Json => read_json(bytes),
    }
}

fn detect_delimiter(bytes: &[u8]) -> u8 {
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let (mut commas, mut semis, mut quoted) = (0, 0, false);
    for b in first_line {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semis += 1,
            _ => {}
        }
    }
    if semis > commas {
        b';'
    } else {
        b','
    }
}

/// Line numbers of records from their byte offsets. The csv crate's own line
/// count is one short after a `\r\n` line end (files saved on Windows): a
/// record's line is counted here as 1 + the line feeds before its first byte.
struct Lines<'a> {
    bytes: &'a [u8],
    /// Offset up to which line feeds are counted, and their number.
    counted: usize,
    feeds: usize,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Lines {
            bytes,
            counted: 0,
            feeds: 0,
        }
    }

    /// The line of the record starting at `offset` (offsets only grow).
    fn of(&mut self, position: Option<&csv::Position>) -> usize {
        let Some(offset) = position.map(|p| p.byte() as usize) else {
            return 0;
        };
        // The record starts after the line end that may remain at its offset.
        let mut start = offset.min(self.bytes.len());
        while matches!(self.bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        if start > self.counted {
            self.feeds += self.bytes[self.counted..start].iter().filter(|b| **b == b'\n').count();
            self.counted = start;
        }
        self.feeds + 1
    }
}

fn read_csv(bytes: &[u8]) -> Result<Parsed> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(CoreError::invalid("le fichier est vide"));
    }
    let delimiter = detect_delimiter(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(bytes);
    let mut parsed = Parsed {
        delimiter: Some(delimiter as char),
        ..Default::default()
    };
    let mut records = reader.byte_records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(CoreError::invalid(format!("en-tête illisible : {e}"))),
        None => return Err(CoreError::invalid("le fichier est vide")),
    };
    if header.len() > MAX_COLUMNS {
        return Err(CoreError::invalid(format!(
            "l'en-tête compte {} colonnes ({MAX_COLUMNS} au plus) : ce n'est pas un fichier de lieux",
            header.len()
        )));
    }
    let Ok(names) = header
        .iter()
        .map(|h| std::str::from_utf8(h).map(str::to_string))
        .collect::<std::result::Result<Vec<String>, _>>()
    else {
        return Err(CoreError::invalid(format!(
            "{FORMAT_NON_RECONNU} : la première ligne n'est pas en UTF-8"
        )));
    };
    let columns = map_columns(&names, &mut parsed);
    if columns.iter().all(Option::is_none) {
        return Err(CoreError::invalid(format!(
            "{FORMAT_NON_RECONNU} : aucune colonne du standard des lieux dans la première ligne"
        )));
    }
    check_required_columns(&columns)?;
    let positions: Vec<Option<usize>> = columns
        .iter()
        .map(|c| c.as_deref().and_then(|n| standard().position(n)))
        .collect();
    let width = standard().fields.len();
    let mut lines = Lines::new(bytes);
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = lines.of(e.position());
                parsed.unreadable.push(Issue {
                    ligne: line,
                    champ: String::new(),
                    message: format!("ligne illisible ({})", crate::format_fr::erreur_csv(&e)),
                });
                continue;
            }
        };
        let line = lines.of(record.position());
        if record.len() != header.len() {
            parsed.unreadable.push(Issue {
                ligne: line,
                champ: String::new(),
                message: format!(
                    "{} colonnes au lieu de {} (séparateur ou guillemet mal placé ?)",
                    record.len(),
                    header.len()
                ),
            });
            continue;
        }
        let mut values = vec![String::new(); width];
        let mut bad_encoding = None;
        for (i, field) in record.iter().enumerate() {
            let Some(Some(pos)) = positions.get(i) else { continue };
            match std::str::from_utf8(field) {
                Ok(s) => values[*pos] = s.to_string(),
                Err(_) => bad_encoding = Some(standard().fields[*pos].name.clone()),
            }
        }
        if let Some(name) = bad_encoding {
            parsed.unreadable.push(Issue {
                ligne: line,
                champ: name,
                message: "texte qui n'est pas en UTF-8 : enregistrez le fichier en UTF-8".into(),
            });
            continue;
        }
        parsed.rows.push((line, values));
    }
    Ok(parsed)
}

fn check_required_columns(columns: &[Option<String>]) -> Result<()> {
    let missing: Vec<&str> = standard()
        .fields
        .iter()
        .filter(|f| f.required && !columns.iter().flatten().any(|c| *c == f.name))
        .map(|f| f.name.as_str())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(CoreError::invalid(format!(
            "colonnes obligatoires absentes : {}",
            missing.join(", ")
        )))
    }
}

fn read_json(bytes: &[u8]) -> Result<Parsed> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        CoreError::invalid(format!(
            "JSON invalide (ligne {}, colonne {}) : {}",
            e.line(),
            e.column(),
            json_reason(&e)
        ))
    })?;
    let serde_json::Value::Array(items) = value else {
        return Err(CoreError::invalid(
            "le JSON doit être un tableau d'objets (un objet par lieu)",
        ));
    };
    let mut parsed = Parsed::default();
    let mut names: Vec<String> = Vec::new();
    for item in &items {
        if let serde_json::Value::Object(m) = item {
            for k in m.keys() {
                if !names.contains(k) {
                    names.push(k.clone());
                    if names.len() > MAX_COLUMNS {
                        return Err(CoreError::invalid(format!(
                            "plus de {MAX_COLUMNS} noms de champs différents : ce n'est pas un fichier de lieux"
                        )));
                    }
                }
            }
        }
    }
    let columns = map_columns(&names, &mut parsed);
    let target: BTreeMap<&str, &str> = names
        .iter()
        .zip(&columns)
        .filter_map(|(n, c)| c.as_deref().map(|c| (n.as_str(), c)))
        .collect();
    for (i, item) in items.iter().enumerate() {
        let line = i + 1;
        let serde_json::Value::Object(m) = item else {
            parsed.unreadable.push(Issue {
                ligne: line,
                champ: String::new(),
                message: "élément qui n'est pas un objet".into(),
            });
            continue;
        };
        let mut values = vec![String::new(); standard().fields.len()];
        let mut bad = None;
        for (k, v) in m {
            let Some(name) = target.get(k.as_str()) else { continue };
            let Some(pos) = standard().position(name) else { continue };
            let text = match v {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Array(a) if a.iter().all(|x| x.is_string()) => {
                    a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("|")
                }
                _ => {
                    bad = Some(name.to_string());
                    continue;
                }
            };
            values[pos] = text;
        }
        if let Some(field) = bad {
            parsed.unreadable.push(Issue {
                ligne: line,
                champ: field,
                message: "valeur d'un type inattendu (objet ou tableau mixte)".into(),
            });
            continue;
        }
        parsed.rows.push((line, values));
    }
    Ok(parsed)
}

fn json_reason(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "fichier tronqué",
        serde_json::error::Category::Syntax => "erreur de syntaxe",
        serde_json::error::Category::Data => "donnée inattendue",
        serde_json::error::Category::Io => "erreur de lecture",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(row: &'a [String], name: &str) -> &'a str {
        &row[standard().position(name).unwrap()]
    }

    #[test]
    fn csv_with_bom_semicolons_and_legacy_names() {
        let file = "\u{feff}id;pivot;nom;commune;code_postal;adresse;date_maj;courriel;colonne_perso\n\
                    a;73282932000074;\"Lieu; un\";Bordeaux;33000;1 rue;2024-01-01;a@b.fr;x\n";
        let p = read(file.as_bytes(), Format::Csv).unwrap();
        assert_eq!(p.delimiter, Some(';'));
        assert_eq!(p.renamed, vec![("courriel".to_string(), "courriels".to_string())]);
        assert_eq!(p.unknown_columns, vec!["colonne_perso".to_string()]);
        assert_eq!(p.rows[0].0, 2);
        assert_eq!(value(&p.rows[0].1, "nom"), "Lieu; un");
        assert_eq!(value(&p.rows[0].1, "courriels"), "a@b.fr");
    }

    #[test]
    fn hostile_files_give_clear_errors() {
        let huge_header = (0..1_000_000).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
        assert!(read(huge_header.as_bytes(), Format::Csv)
            .unwrap_err()
            .to_string()
            .contains("colonnes"));
        assert!(read(b"", Format::Csv).unwrap_err().to_string().contains("vide"));
        assert!(read(b"id,nom\nx,y\n", Format::Csv)
            .unwrap_err()
            .to_string()
            .contains("colonnes obligatoires absentes"));
        let e = read(b"[{\"id\": \"a\", \"nom\": \"tron", Format::Json)
            .unwrap_err()
            .to_string();
        assert!(e.contains("JSON invalide") && e.contains("tronqué"), "{e}");
        assert!(read(b"{\"id\": 1}", Format::Json)
            .unwrap_err()
            .to_string()
            .contains("tableau"));
        // Neither CSV nor JSON in UTF-8: said so, not « colonnes obligatoires absentes ».
        for bytes in [
            b"PK\x03\x04\x14\x00\x06\x00".as_slice(),
            b"%PDF-1.7\n\x00\x01",
            b"\xFF\xFEi\x00d\x00,\x00",
            b"Bonjour,\nvoici la liste des lieux que vous m'avez demand\xe9e.\n",
            "Nom du lieu;Ville\nMédiathèque;Pau\n".as_bytes(),
            b"Nom du lieu;M\xe9diath\xe8que\n",
        ] {
            let e = read(bytes, Format::Csv).unwrap_err().to_string();
            assert!(
                e.starts_with("format non reconnu (CSV ou JSON en UTF-8 attendu)"),
                "{e}"
            );
        }
        // Latin-1 bytes in a row: that row is reported, others are read.
        let mut latin1 = b"id,pivot,nom,commune,code_postal,adresse,date_maj\n".to_vec();
        latin1.extend_from_slice(b"a,1,M\xe9diath\xe8que,Lyon,69001,1 rue,2024-01-01\nb,1,Ok,Lyon,69001,1 rue,2024-01-01\nc,1,trop,de,colonnes,ici,x,y\n");
        let p = read(&latin1, Format::Csv).unwrap();
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.unreadable.len(), 2);
        assert_eq!((p.unreadable[0].ligne, p.unreadable[0].champ.as_str()), (2, "nom"));
        assert_eq!(p.unreadable[1].ligne, 4);
    }

    /// Found by the fuzzing of imports: with Windows line ends, every row was
    /// reported one line too early.
    #[test]
    fn line_numbers_hold_with_windows_line_ends_and_blank_lines() {
        let file = "id,pivot,nom,commune,code_postal,adresse,date_maj\r\n\
                    a,1,Un,Lyon,69001,1 rue,2024-01-01\r\n\r\n\
                    b,1,\"Deux\r\nlignes\",Lyon,69001,1 rue,2024-01-01\r\n\
                    c,1,Trois,Lyon\r\n";
        let p = read(file.as_bytes(), Format::Csv).unwrap();
        assert_eq!(p.rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec![2, 4]);
        assert_eq!(p.unreadable[0].ligne, 6);
    }

    #[test]
    fn json_values_are_read_as_the_standard_writes_them() {
        let file = r#"[{"id":"a","latitude":44.8,"services":["Aide aux démarches administratives","Loisirs et créations numériques"],"complement_adresse":null},"pas un objet"]"#;
        let p = read(file.as_bytes(), Format::Json).unwrap();
        assert_eq!(value(&p.rows[0].1, "latitude"), "44.8");
        assert_eq!(
            value(&p.rows[0].1, "services"),
            "Aide aux démarches administratives|Loisirs et créations numériques"
        );
        assert_eq!(p.unreadable[0].ligne, 2);
    }
}
