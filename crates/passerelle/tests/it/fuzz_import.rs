//! Fuzzing of the import of places into the database: files whose rows are
//! broken at random. Without `--ignore-invalides` nothing is written and every
//! bad line is reported; with it, exactly the good rows are kept. Hostile files
//! through the command line and the upload page never crash anything.

use std::collections::BTreeSet;

use passerelle_core::accounts::Principal;
use passerelle_core::lieux::import::{import, Options};
use passerelle_core::lieux::read::Format;
use proptest::prelude::*;

use crate::fuzz_support::{french, not_5xx, runner};
use crate::lieux::run;
use crate::lieux_pages::{multipart, signed_in};
use crate::support::TestApp;

const DEMO: &str = include_str!("../../../core/data/demo-lieux.csv");

/// How a row of the file is broken, if at all.
#[derive(Debug, Clone, Copy)]
enum Row {
    Good,
    /// The name (required) left empty.
    NoName,
    /// A postcode that is not one.
    BadPostcode,
    /// One value too many.
    ExtraColumn,
    /// Latin-1 bytes in the name.
    Latin1,
}

fn row() -> impl Strategy<Value = Row> {
    prop_oneof![
        5 => Just(Row::Good),
        1 => Just(Row::NoName),
        1 => Just(Row::BadPostcode),
        1 => Just(Row::ExtraColumn),
        1 => Just(Row::Latin1),
    ]
}

/// A CSV file of the demonstration's places, row `i` getting the id `{prefix}-{i}`
/// and broken as told. Returns the file and the lines of the bad rows.
fn file(prefix: &str, rows: &[Row]) -> (Vec<u8>, BTreeSet<usize>) {
    let mut lines = DEMO.lines();
    let header = lines.next().unwrap_or_default();
    let demo: Vec<&str> = lines.collect();
    let mut bytes = format!("{header}\r\n").into_bytes();
    let mut bad = BTreeSet::new();
    for (i, r) in rows.iter().enumerate() {
        let source = demo[i % demo.len()];
        // Demonstration rows start with their id, and have no quoted comma before the name.
        let rest = source.split_once(',').map(|(_, r)| r).unwrap_or_default();
        let mut line = format!("{prefix}-{i},{rest}").into_bytes();
        let fields: Vec<&str> = rest.splitn(4, ',').collect();
        match r {
            Row::Good => {}
            Row::NoName => line = format!("{prefix}-{i},{},,{}", fields[0], fields[2..].join(",")).into_bytes(),
            Row::BadPostcode => {
                let after: Vec<&str> = fields[3].splitn(2, ',').collect();
                line = format!(
                    "{prefix}-{i},{},{},{},3300X,{}",
                    fields[0],
                    fields[1],
                    fields[2],
                    after.get(1).unwrap_or(&"")
                )
                .into_bytes();
            }
            Row::ExtraColumn => line.extend_from_slice(b",en trop"),
            Row::Latin1 => {
                line = format!("{prefix}-{i},{},", fields[0]).into_bytes();
                line.extend_from_slice(b"M\xe9diath\xe8que,");
                line.extend_from_slice(fields[2..].join(",").as_bytes());
            }
        }
        if !matches!(r, Row::Good) {
            bad.insert(i + 2);
        }
        bytes.extend(line);
        bytes.extend_from_slice(b"\r\n");
    }
    (bytes, bad)
}

#[test]
fn bad_rows_are_reported_and_good_rows_kept_only_when_asked() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::new());
    let case = std::sync::atomic::AtomicU32::new(0);
    runner(24)
        .run(
            &(prop::collection::vec(row(), 1..40), any::<bool>()),
            |(rows, ignore)| {
                let case = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (bytes, bad) = file(&format!("fz{case}"), &rows);
                rt.block_on(async {
                    let before = app.scalar_i64("SELECT COUNT(*) FROM lieux").await;
                    let journal = app.scalar_i64("SELECT COUNT(*) FROM journal").await;
                    let options = Options {
                        source: "fuzz".into(),
                        file_name: "fuzz.csv".into(),
                        ignore_invalid: ignore,
                        dry_run: false,
                    };
                    let report = import(&app.core, &Principal::SYSTEME, &bytes, Format::Csv, &options, |_, _| {})
                        .await
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let reported: BTreeSet<usize> = report.erreurs.iter().map(|e| e.ligne).collect();
                    prop_assert_eq!(&reported, &bad, "lignes fautives mal rapportées");
                    for e in &report.erreurs {
                        french(&e.message)?;
                    }
                    let good = rows.len() - bad.len();
                    let after = app.scalar_i64("SELECT COUNT(*) FROM lieux").await;
                    let kept = bad.is_empty() || ignore;
                    prop_assert_eq!(report.applique, kept && good > 0);
                    prop_assert_eq!(after - before, if kept { good as i64 } else { 0 });
                    prop_assert_eq!(report.valides, good);
                    let journaled = app.scalar_i64("SELECT COUNT(*) FROM journal").await - journal;
                    prop_assert_eq!(journaled, i64::from(report.applique));
                    Ok(())
                })
            },
        )
        .unwrap();
}

#[test]
fn hostile_files_on_the_command_line_are_refused_in_french() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::new());
    let dir = tempfile::tempdir().unwrap();
    let huge_header = (0..200_000).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("vide.csv", Vec::new()),
        ("binaire.csv", (0..=255u8).cycle().take(5000).collect()),
        ("latin1.csv", b"id,nom\n\xe9\xe8\xe0\n".to_vec()),
        ("colonnes.csv", huge_header.into_bytes()),
        ("tronque.json", br#"[{"id": "a", "nom": "tron"#.to_vec()),
        ("objet.json", br#"{"id": 1}"#.to_vec()),
        ("profond.json", [vec![b'['; 100_000], vec![b']'; 100_000]].concat()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let (code, _, err) = run(&app, &["lieux", "import", path.to_str().unwrap()]);
        assert!(matches!(code, 1 | 2), "{name} : code {code}, {err}");
        assert!(!err.contains("panicked"), "{name} : {err}");
        let message = err.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
        french(message).unwrap_or_else(|e| panic!("{name} : {e}"));
    }
    assert_eq!(rt.block_on(app.scalar_i64("SELECT COUNT(*) FROM lieux")), 0);
}

#[test]
fn random_uploads_never_fail() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (app, op) = rt.block_on(async {
        let app = TestApp::new().await;
        let (op, _) = signed_in(&app, "operateur", "operateur", "op.import@exemple.fr").await;
        (app, op)
    });
    let token = op.cookie("passerelle_csrf").cloned().unwrap();
    let op = tokio::sync::Mutex::new(op);
    let strategy = (
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..2000),
            prop::collection::vec(row(), 0..10).prop_map(|r| file("up", &r).0)
        ],
        prop::sample::select(vec!["lieux.csv", "lieux.json", "", "../../x", "a\"b.csv"]),
        "\\PC{0,20}",
        any::<bool>(),
    );
    runner(24)
        .run(&strategy, |(bytes, name, source, dry)| {
            rt.block_on(async {
                let mut op = op.lock().await;
                let mut fields: Vec<(&str, Option<&str>, &[u8])> = vec![
                    ("csrf_token", None, token.as_bytes()),
                    ("fichier", Some(name), &bytes),
                    ("source", None, source.as_bytes()),
                ];
                if dry {
                    fields.push(("dry_run", None, b"on"));
                }
                let (ct, body) = multipart(&fields);
                let cookies = op.cookie_header();
                let req = axum::http::Request::post("/operateur/lieux/import")
                    .header(axum::http::header::CONTENT_TYPE, ct)
                    .header(axum::http::header::COOKIE, cookies)
                    .header("sec-fetch-site", "same-origin")
                    .header(axum::http::header::ORIGIN, crate::support::BASE)
                    .body(axum::body::Body::from(body))
                    .unwrap();
                let r = op.send(req).await;
                not_5xx(&r, "POST /operateur/lieux/import")
            })
        })
        .unwrap();
    drop(app);
}
