//! Files of places in the national standard, CSV and JSON: read, then each
//! row checked. Rows of the demonstration file are mutated the ways real files
//! go wrong; each broken row must be reported on its own line, the others kept.

use passerelle_core::lieux::read::{read, Format};
use passerelle_core::lieux::schema::standard;
use passerelle_core::lieux::validate::{check_row, Issue, MAX_FIELD_CHARS};
use proptest::prelude::*;
use serde_json::Value;

use crate::support::{assert_french, hostile_text};

const DEMO: &str = include_str!("../../data/demo-lieux.csv");

/// The demonstration file: its header and rows (all valid).
/// The day the checks run on (UTC).
fn today() -> jiff::civil::Date {
    passerelle_core::Horloge::systeme().today_utc()
}

fn demo() -> &'static (Vec<String>, Vec<Vec<String>>) {
    static DEMO_ROWS: std::sync::OnceLock<(Vec<String>, Vec<Vec<String>>)> = std::sync::OnceLock::new();
    DEMO_ROWS.get_or_init(|| {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(DEMO.as_bytes());
        let mut all: Vec<Vec<String>> = r
            .records()
            .map(|rec| {
                rec.expect("fichier de démonstration")
                    .iter()
                    .map(str::to_string)
                    .collect()
            })
            .collect();
        let header = all.remove(0);
        (header, all)
    })
}

/// What a row of the generated file suffers.
#[derive(Debug, Clone)]
enum Mutation {
    Keep,
    /// Spaces around a value: normalised, still valid.
    Spaces(usize),
    /// A required field left empty.
    EmptyRequired(usize),
    /// A value longer than any field may be.
    Huge(usize),
    /// A spreadsheet formula in the name.
    Formula,
    /// Latin-1 bytes in a value.
    BadUtf8(usize),
    /// One value too many.
    ExtraColumn,
    /// Anything (no line break) in a value.
    Random(usize, String),
}

fn mutation(width: usize) -> impl Strategy<Value = Mutation> {
    let required: Vec<usize> = demo()
        .0
        .iter()
        .enumerate()
        .filter(|(_, n)| standard().field(n).is_some_and(|f| f.required))
        .map(|(i, _)| i)
        .collect();
    prop_oneof![
        4 => Just(Mutation::Keep),
        1 => (0..width).prop_map(Mutation::Spaces),
        1 => prop::sample::select(required).prop_map(Mutation::EmptyRequired),
        1 => (0..width).prop_map(Mutation::Huge),
        1 => Just(Mutation::Formula),
        1 => (0..width).prop_map(Mutation::BadUtf8),
        1 => Just(Mutation::ExtraColumn),
        2 => (0..width, hostile_text(8)).prop_map(|(i, t)| Mutation::Random(i, t.replace(['\n', '\r'], " "))),
    ]
}

/// A field quoted the CSV way, as bytes (`raw` may hold invalid UTF-8).
fn quoted(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![b'"'];
    for &b in raw {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

struct File {
    bytes: Vec<u8>,
    /// (line, mutation) of each data row.
    rows: Vec<(usize, Mutation)>,
}

fn file(mutations: Vec<(usize, Mutation)>, semicolon: bool, bom: bool, crlf: bool) -> File {
    let (header, rows) = demo();
    let sep = if semicolon { b';' } else { b',' };
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut bytes = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
    bytes.extend(header.join(if semicolon { ";" } else { "," }).as_bytes());
    bytes.extend(eol);
    let mut out = Vec::new();
    for (i, (source, m)) in mutations.into_iter().enumerate() {
        let mut values: Vec<Vec<u8>> = rows[source % rows.len()]
            .iter()
            .map(|v| v.as_bytes().to_vec())
            .collect();
        values[0] = format!("fz-{i}").into_bytes();
        match &m {
            Mutation::Keep | Mutation::Formula | Mutation::ExtraColumn => {}
            Mutation::Spaces(f) => values[*f] = [b"  ".as_slice(), &values[*f], b" \t"].concat(),
            Mutation::EmptyRequired(f) => values[*f].clear(),
            Mutation::Huge(f) => values[*f] = "é".repeat(MAX_FIELD_CHARS + 1).into_bytes(),
            Mutation::BadUtf8(f) => values[*f].extend_from_slice(b"M\xe9diath\xe8que"),
            Mutation::Random(f, t) => values[*f] = t.clone().into_bytes(),
        }
        if matches!(m, Mutation::Formula) {
            values[2] = b"=HYPERLINK(\"http://x\")".to_vec();
        }
        if matches!(m, Mutation::ExtraColumn) {
            values.push(b"en trop".to_vec());
        }
        let line: Vec<Vec<u8>> = values.iter().map(|v| quoted(v)).collect();
        bytes.extend(line.join(&sep));
        bytes.extend(eol);
        out.push((i + 2, m));
    }
    File { bytes, rows: out }
}

fn issues_are_sane(issues: &[Issue], line: usize) -> Result<(), TestCaseError> {
    prop_assert!(!issues.is_empty());
    for i in issues {
        prop_assert_eq!(i.ligne, line, "{:?}", i);
        assert_french(&i.message)?;
    }
    Ok(())
}

fn name_of(column: usize) -> String {
    demo().0[column].clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Each broken row is reported on its line (with its field when known);
    /// the untouched rows are valid.
    #[test]
    fn broken_rows_are_reported_on_their_line(
        mutations in prop::collection::vec((0usize..100, mutation(32)), 1..30),
        semicolon in any::<bool>(),
        bom in any::<bool>(),
        crlf in any::<bool>(),
    ) {
        let f = file(mutations, semicolon, bom, crlf);
        let parsed = read(&f.bytes, Format::Csv).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.rows.len() + parsed.unreadable.len(), f.rows.len());
        for (line, m) in &f.rows {
            let unreadable: Vec<&Issue> = parsed.unreadable.iter().filter(|i| i.ligne == *line).collect();
            let row = parsed.rows.iter().find(|(l, _)| l == line);
            match m {
                Mutation::BadUtf8(c) => {
                    prop_assert_eq!(unreadable.len(), 1);
                    prop_assert_eq!(&unreadable[0].champ, &name_of(*c));
                    assert_french(&unreadable[0].message)?;
                }
                Mutation::ExtraColumn => {
                    prop_assert_eq!(unreadable.len(), 1);
                    assert_french(&unreadable[0].message)?;
                }
                _ => {
                    prop_assert!(unreadable.is_empty());
                    let Some((_, values)) = row else {
                        return Err(TestCaseError::fail(format!("ligne {line} perdue")));
                    };
                    let checked = check_row(*line, values, today());
                    match (m, checked) {
                        (Mutation::Keep | Mutation::Spaces(_), Ok(c)) => prop_assert_eq!(c.lieu.id, format!("fz-{}", line - 2)),
                        (Mutation::Keep | Mutation::Spaces(_), Err(e)) => {
                            return Err(TestCaseError::fail(format!("ligne valide refusée : {e:?}")))
                        }
                        (Mutation::EmptyRequired(c) | Mutation::Huge(c), Err(e)) => {
                            issues_are_sane(&e, *line)?;
                            prop_assert!(e.iter().any(|i| i.champ == name_of(*c)), "{:?}", e);
                        }
                        // A name a spreadsheet would run is data, kept as written (CSV writers neutralise it).
                        (Mutation::Formula, Ok(c)) => prop_assert_eq!(c.lieu.nom, "=HYPERLINK(\"http://x\")"),
                        (Mutation::Random(..), Err(e)) => issues_are_sane(&e, *line)?,
                        (Mutation::Random(..), Ok(_)) => {}
                        (m, Ok(_)) => return Err(TestCaseError::fail(format!("ligne {line} ({m:?}) acceptée"))),
                        (m, Err(_)) => return Err(TestCaseError::fail(format!("cas imprévu {m:?}"))),
                    }
                }
            }
        }
    }

    /// Any bytes, after a valid header or not: read or refused in French, and
    /// every row read can be checked.
    #[test]
    fn any_bytes_are_read_or_refused(
        body in prop::collection::vec(any::<u8>(), 0..3000),
        text in hostile_text(40),
        header in any::<bool>(),
    ) {
        for tail in [body.clone(), text.into_bytes()] {
            let mut bytes = if header { [demo().0.join(","), "\n".into()].concat().into_bytes() } else { Vec::new() };
            bytes.extend(tail);
            for format in [Format::Csv, Format::Json] {
                match read(&bytes, format) {
                    Ok(parsed) => {
                        for i in &parsed.unreadable {
                            assert_french(&i.message)?;
                        }
                        for (line, values) in &parsed.rows {
                            prop_assert!(*line >= 1);
                            if let Err(e) = check_row(*line, values, today()) {
                                issues_are_sane(&e, *line)?;
                            }
                        }
                    }
                    Err(e) => assert_french(&e.to_string())?,
                }
            }
        }
    }

    /// JSON files: the element's position is its line; values of any type.
    #[test]
    fn json_elements_are_reported_by_position(
        items in prop::collection::vec((0usize..100, 0usize..32, 0u8..8), 1..20),
    ) {
        let (header, rows) = demo();
        let mut array = Vec::new();
        for (i, (source, column, how)) in items.iter().enumerate() {
            let mut object = serde_json::Map::new();
            for (name, value) in header.iter().zip(&rows[source % rows.len()]) {
                object.insert(name.clone(), Value::from(value.as_str()));
            }
            object.insert("id".into(), Value::from(format!("fz-{i}")));
            let name = header[column % header.len()].clone();
            let element = match how {
                0 => Value::from("pas un objet"),
                1 => { object.insert(name, serde_json::json!({"imbrique": true})); Value::Object(object) }
                2 => { object.insert(name, Value::Null); Value::Object(object) }
                3 => { object.insert(name, serde_json::json!(12.5)); Value::Object(object) }
                4 => { object.insert(name, serde_json::json!([1, "deux"])); Value::Object(object) }
                _ => Value::Object(object),
            };
            array.push((i + 1, *how, element));
        }
        let bytes = serde_json::to_vec(&array.iter().map(|(_, _, e)| e).collect::<Vec<_>>())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let parsed = read(&bytes, Format::Json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.rows.len() + parsed.unreadable.len(), array.len());
        for (line, how, _) in &array {
            let unreadable = parsed.unreadable.iter().any(|i| i.ligne == *line);
            prop_assert_eq!(unreadable, matches!(how, 0 | 1 | 4), "élément {} ({})", line, how);
            if let Some((_, values)) = parsed.rows.iter().find(|(l, _)| l == line) {
                match (how, check_row(*line, values, today())) {
                    (5.., Err(e)) => return Err(TestCaseError::fail(format!("élément valide refusé : {e:?}"))),
                    (_, Err(e)) => issues_are_sane(&e, *line)?,
                    _ => {}
                }
            }
        }
    }

    /// A valid place written back as the standard says reads back to the same place.
    #[test]
    fn valid_places_round_trip(sources in prop::collection::vec(0usize..100, 1..10)) {
        let rows = &demo().1;
        // The test writes an input file in the standard, formulas and all.
        #[allow(clippy::disallowed_types)]
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut digests = Vec::new();
        for (i, s) in sources.iter().enumerate() {
            let mut row = rows[s % rows.len()].clone();
            row[0] = format!("fz-{i}");
            let lieu = check_row(i + 2, &row, today()).map_err(|e| TestCaseError::fail(format!("{e:?}")))?.lieu;
            if i == 0 {
                w.write_record(lieu.standard_values().iter().map(|(n, _)| *n)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            w.write_record(lieu.standard_values().iter().map(|(_, v)| v.as_ref())).map_err(|e| TestCaseError::fail(e.to_string()))?;
            digests.push(lieu.digest());
        }
        let bytes = w.into_inner().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let parsed = read(&bytes, Format::Csv).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(parsed.unreadable.is_empty());
        let again: Vec<String> = parsed
            .rows
            .iter()
            .map(|(l, v)| check_row(*l, v, today()).map(|c| c.lieu.digest()).map_err(|e| TestCaseError::fail(format!("{e:?}"))))
            .collect::<Result<_, _>>()?;
        prop_assert_eq!(again, digests);
    }
}
