//! The directory: import of messy files, idempotence, all-or-nothing, export
//! valid against the national Table Schema, open-data URLs.

use std::path::{Path, PathBuf};

use axum::http::StatusCode;

use crate::support::{cli, TestApp};

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lieux")
        .join(name)
}

/// Copies a fixture next to the test's data (reports are written beside the file).
pub(crate) fn copy(app: &TestApp, name: &str) -> String {
    let to = app.data_dir.parent().unwrap().join(name);
    std::fs::copy(fixture(name), &to).unwrap();
    to.display().to_string()
}

pub(crate) fn run(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let out = cli(app, args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) fn report(app: &TestApp, args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = args.to_vec();
    all.push("--json");
    let (code, out, err) = run(app, &all);
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}")),
    )
}

/// The warnings of an import report (`--json`) on one line and field, joined by « / ».
pub(crate) fn warned(r: &serde_json::Value, line: u64, field: &str) -> String {
    r["avertissements"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|w| w["ligne"] == line && w["champ"] == field)
        .map(|w| w["message"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join(" / ")
}

#[tokio::test]
async fn import_is_idempotent() {
    let app = TestApp::new().await;
    let file = copy(&app, "propre.csv");
    let (code, r) = report(&app, &["lieux", "import", &file, "--source", "Bordeaux Métropole"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!((r["crees"].as_u64(), r["applique"].as_bool()), (Some(3), Some(true)));
    let journal_before = app.scalar_i64("SELECT COUNT(*) FROM journal").await;
    let updated_before = app.scalar_i64("SELECT MAX(updated_at) FROM lieux").await;

    let (code, r) = report(&app, &["lieux", "import", &file, "--source", "Bordeaux Métropole"]);
    assert_eq!(code, 0);
    assert_eq!(
        (r["crees"].as_u64(), r["mis_a_jour"].as_u64(), r["inchanges"].as_u64()),
        (Some(0), Some(0), Some(3))
    );
    assert_eq!(r["applique"], false);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux").await, 3);
    assert_eq!(
        app.scalar_i64("SELECT MAX(updated_at) FROM lieux").await,
        updated_before,
        "nothing rewritten"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM journal").await,
        journal_before,
        "nothing journaled"
    );

    // A changed row is updated, the others left alone; provenance keeps both versions.
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "Ateliers numériques pour tous les publics",
        "Ateliers numériques pour tout le monde",
    );
    std::fs::write(&file, text).unwrap();
    let (_, r) = report(&app, &["lieux", "import", &file]);
    assert_eq!((r["mis_a_jour"].as_u64(), r["inchanges"].as_u64()), (Some(1), Some(2)));
    // Provenance: each place points to the import run and the line that last wrote it.
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux_imports").await, 2);
    assert_eq!(app.scalar_i64("SELECT COUNT(DISTINCT import_id) FROM lieux").await, 2);
    assert_eq!(
        app.scalar_i64("SELECT import_ligne FROM lieux WHERE ext_id = 'mednum-1'")
            .await,
        2
    );
    assert_eq!(
        app.scalar_text(
            "SELECT i.source FROM lieux l JOIN lieux_imports i ON i.id = l.import_id WHERE l.ext_id = 'mednum-1'"
        )
        .await,
        "propre.csv"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'lieux.import'")
            .await,
        2
    );
}

#[tokio::test]
async fn an_invalid_row_blocks_the_whole_import_unless_asked() {
    let app = TestApp::new().await;
    let file = copy(&app, "desordonne.csv");
    let (code, out, _) = run(&app, &["lieux", "import", &file]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Rien n'a été importé"), "{out}");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux").await, 0);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM journal").await, 0);
    // Every bad row is reported with its line and field.
    for expected in [
        "erreur ligne 5 [code_postal]",
        "erreur ligne 5 [services] : valeur inconnue : « Cours de cuisine »",
        "erreur ligne 8 [id] : identifiant « cn-101 » déjà utilisé ligne 2",
    ] {
        assert!(out.contains(expected), "{expected}\n{out}");
    }
    let rejects = std::fs::read_to_string(format!("{file}.rejets.csv")).unwrap();
    assert!(rejects.starts_with("ligne,champ,message\n") && rejects.contains("\n5,code_postal,"));

    let (code, r) = report(
        &app,
        &[
            "lieux",
            "import",
            &file,
            "--ignorer-invalides",
            "--source",
            "Cartographie nationale",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(
        (r["valides"].as_u64(), r["invalides"].as_u64(), r["crees"].as_u64()),
        (Some(5), Some(2), Some(5))
    );
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux").await, 5);
}

#[tokio::test]
async fn messy_files_are_normalised_and_reported_precisely() {
    let app = TestApp::new().await;
    let clean = copy(&app, "propre.csv");
    report(&app, &["lieux", "import", &clean]);
    let file = copy(&app, "desordonne.csv");
    let (_, r) = report(&app, &["lieux", "import", &file, "--ignorer-invalides"]);
    assert_eq!(r["separateur"], ";");
    assert_eq!(r["colonnes_renommees"][0], serde_json::json!(["courriel", "courriels"]));
    assert_eq!(r["colonnes_ignorees"], serde_json::json!(["colonne_maison"]));
    let norms = r["normalisations"].as_object().unwrap();
    assert_eq!(norms["communes en majuscules remises en casse usuelle"], 3);
    assert_eq!(norms["séparateurs « ; » remplacés par « | »"], 1);
    assert_eq!(norms["codes postaux ou INSEE complétés du zéro initial perdu"], 1);
    let warnings: Vec<(u64, &str)> = r["avertissements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["ligne"].as_u64().unwrap(), w["champ"].as_str().unwrap()))
        .collect();
    assert_eq!(warnings, [(2, "pivot"), (2, "latitude"), (2, "date_maj")]);
    // The Mériadeck médiathèque, listed by another source under another id, is reported, not merged.
    assert_eq!(
        r["doublons_probables"],
        serde_json::json!([{ "ligne": 3, "id": "cn-102", "id_existant": "mednum-1" }])
    );
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux").await, 8);
    // A name a spreadsheet would run is data: kept as written, neutralised in the open-data CSV.
    assert_eq!(
        app.scalar_text("SELECT nom FROM lieux WHERE ext_id = 'cn-105'").await,
        "=cmd|' /C calc'!A0"
    );
    let csv = app.browser().get("/open-data/lieux.csv").await.body;
    assert!(csv.contains(",'=cmd|' /C calc'!A0,"), "{csv}");
    // The same file for French spreadsheet software: BOM, semicolons, decimal commas, named so.
    let r = app.browser().get("/open-data/lieux.csv?format=tableur").await;
    assert_eq!(r.status, axum::http::StatusCode::OK);
    let disposition = r.headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.contains("lieux-mediation-numerique-tableur.csv"),
        "{disposition}"
    );
    let fr = r.body.strip_prefix('\u{feff}').expect("a byte-order mark");
    assert!(fr.contains(";'=cmd|' /C calc'!A0;"), "{fr}");
    let machine_rows: Vec<Vec<String>> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    let fr_rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(fr.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(machine_rows.len(), fr_rows.len());
    let mut decimals = 0;
    for (m, f) in machine_rows.iter().zip(&fr_rows) {
        for (a, b) in m.iter().zip(f) {
            let is_decimal = a.contains('.')
                && a.trim_start_matches('-')
                    .replacen('.', "", 1)
                    .bytes()
                    .all(|c| c.is_ascii_digit());
            if is_decimal {
                decimals += 1;
                assert_eq!(b, &a.replacen('.', ",", 1));
            } else {
                assert_eq!(a, b);
            }
        }
    }
    assert!(decimals > 0, "coordinates are decimals: {csv}");
    assert_eq!(
        app.scalar_text("SELECT commune FROM lieux WHERE ext_id = 'cn-103'")
            .await,
        "Nice"
    );
    assert_eq!(
        app.scalar_text("SELECT code_postal FROM lieux WHERE ext_id = 'cn-103'")
            .await,
        "06300"
    );
    assert_eq!(
        app.scalar_text("SELECT departement FROM lieux WHERE ext_id = 'cn-103'")
            .await,
        "06"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM lieux WHERE ext_id = 'cn-101' AND latitude IS NULL")
            .await,
        1
    );
    assert_eq!(
        app.scalar_text("SELECT services FROM lieux WHERE ext_id = 'cn-101'")
            .await,
        "Aide aux démarches administratives|Loisirs et créations numériques"
    );
    assert_eq!(
        app.scalar_text("SELECT import_source FROM lieux WHERE ext_id = 'cn-101'")
            .await,
        "desordonne.csv"
    );
}

#[tokio::test]
async fn json_files_and_hostile_files() {
    let app = TestApp::new().await;
    let file = copy(&app, "lieux.json");
    let (code, r) = report(&app, &["lieux", "import", &file]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["crees"], 2);
    let broken = copy(&app, "tronque.json");
    let (code, _, err) = run(&app, &["lieux", "import", &broken]);
    assert_eq!(code, 2);
    assert!(err.contains("JSON invalide") && err.contains("tronqué"), "{err}");
    // A dry run writes nothing.
    let clean = copy(&app, "propre.csv");
    let (code, r) = report(&app, &["lieux", "import", &clean, "--dry-run"]);
    assert_eq!(
        (code, r["crees"].as_u64(), r["applique"].as_bool()),
        (0, Some(3), Some(false))
    );
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux").await, 2);
    let (code, _, err) = run(&app, &["lieux", "import", "/nonexistent.csv"]);
    assert_eq!(code, 2);
    assert!(err.contains("lecture de « /nonexistent.csv » impossible"));
    let (code, _, err) = run(&app, &["lieux", "import", &clean, "--format", "xml"]);
    assert_eq!(code, 2);
    assert!(err.contains("format « xml » inconnu"));
}

/// Validates a CSV file against the official Table Schema with frictionless
/// (installed by scripts/test into target/pyenv, or found on PATH).
pub(crate) fn frictionless_validate(dir: &Path, csv_name: &str) -> serde_json::Value {
    let candidates = [
        std::env::var("PASSERELLE_FRICTIONLESS").ok().map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/frictionless")),
        Some(PathBuf::from("frictionless")),
    ];
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/data/lieux-mediation-numerique.schema.json"),
        dir.join("schema.json"),
    )
    .unwrap();
    for bin in candidates.into_iter().flatten() {
        let Ok(out) = std::process::Command::new(&bin)
            .args(["validate", "--schema", "schema.json", csv_name, "--json"])
            .current_dir(dir)
            .output()
        else {
            continue;
        };
        return serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "sortie de frictionless illisible ({e}) : {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    }
    panic!("frictionless est introuvable : lancez scripts/test, qui l'installe dans target/pyenv");
}

#[tokio::test]
async fn export_is_exactly_the_standard_and_valid_against_its_table_schema() {
    let app = TestApp::new().await;
    for f in ["propre.csv", "lieux.json"] {
        let file = copy(&app, f);
        assert_eq!(run(&app, &["lieux", "import", &file]).0, 0);
    }
    // A name that a spreadsheet would run as a formula is neutralised in the CSV.
    let dir = app.data_dir.parent().unwrap().to_path_buf();
    let formula = dir.join("formule.csv");
    std::fs::write(
        &formula,
        "id,pivot,nom,commune,code_postal,adresse,date_maj\nf-1,W332001234,+ de numérique,Pau,64000,1 rue,2024-01-01\n",
    )
    .unwrap();
    assert_eq!(run(&app, &["lieux", "import", formula.to_str().unwrap()]).0, 0);

    let out = dir.join("export.csv");
    let (code, _, err) = run(
        &app,
        &["lieux", "export", "--format", "csv", "-o", out.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("6 lieux exportés"));
    let text = std::fs::read_to_string(&out).unwrap();
    let header = text.lines().next().unwrap();
    let schema: serde_json::Value = serde_json::from_str(passerelle_core::lieux::schema::SCHEMA_JSON).unwrap();
    let names: Vec<&str> = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(header, names.join(","));
    assert!(text.contains(",'+ de numérique,"), "{text}");
    assert!(text.contains("Aide aux démarches administratives|Utilisation sécurisée du numérique"));
    let verdict = frictionless_validate(&dir, "export.csv");
    assert_eq!(verdict["valid"], true, "{verdict:#}");

    // A file that breaks the standard is caught by the same validator (the check can fail).
    std::fs::write(dir.join("faux.csv"), text.replacen("33000", "3300", 1)).unwrap();
    assert_eq!(frictionless_validate(&dir, "faux.csv")["valid"], false);

    // The public URLs serve the same data.
    let mut b = app.browser();
    let r = b.get("/open-data/lieux.csv").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers.get("content-type").unwrap(), "text/csv; charset=utf-8");
    assert_eq!(r.body, text);
    let r = b.get("/open-data/lieux.json").await;
    let json: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let first = json.as_array().unwrap()[0].as_object().unwrap();
    assert_eq!(first.keys().count(), 32);
    assert!(r.body.starts_with("[\n{\"id\":"), "keys in the standard's order");
    let (code, stdout, _) = run(&app, &["lieux", "export", "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(stdout, r.body);
}

#[tokio::test]
async fn an_invalid_row_after_chunks_already_written_still_cancels_everything() {
    let app = TestApp::new().await;
    // More rows than one chunk of the pipeline (5,000): earlier chunks are written before the bad row is seen.
    let mut csv = String::from("id,pivot,nom,commune,code_postal,adresse,date_maj\n");
    for i in 0..12_000 {
        let date = if i == 11_000 { "hier" } else { "2024-01-01" };
        csv.push_str(&format!(
            "g-{i},W332001234,Lieu {i},Pessac,33600,{i} avenue Jean Jaurès,{date}\n"
        ));
    }
    let file = app.data_dir.parent().unwrap().join("grand.csv");
    std::fs::write(&file, csv).unwrap();
    let file = file.to_str().unwrap();
    let before = app.journal_actions().await.len();

    let (code, r) = report(&app, &["lieux", "import", file]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(
        (r["invalides"].as_u64(), r["applique"].as_bool()),
        (Some(1), Some(false))
    );
    assert_eq!(r["erreurs"][0]["ligne"], 11_002);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux").await, 0);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux_imports").await, 0);
    assert_eq!(app.journal_actions().await.len(), before);

    let (code, r) = report(&app, &["lieux", "import", file, "--ignorer-invalides"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["crees"], 11_999);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux").await, 11_999);
    assert_eq!(app.scalar_i64("SELECT crees FROM lieux_imports").await, 11_999);
}

/// A code stored by an older import that checked only the standard's pattern
/// (`00100`, INSEE `99100`) breaks neither the search nor the export: they
/// read the stored text; `passerelle controle` lists the place to correct.
#[tokio::test]
async fn a_stored_code_the_rule_refuses_is_listed_not_fatal() {
    let app = TestApp::new().await;
    let file = copy(&app, "propre.csv");
    assert_eq!(run(&app, &["lieux", "import", &file]).0, 0);
    let (code, v) = report(&app, &["controle"]);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(code, 0);
    app.exec("UPDATE lieux SET code_postal = '00100', code_insee = '99100' WHERE ext_id = 'mednum-1'")
        .await
        .unwrap();

    let mut b = app.browser();
    let r = b.get("/api/v1/lieux?q=M%C3%A9diath%C3%A8que").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("\"code_postal\":\"00100\""), "{}", r.body);
    let (code, stdout, err) = run(&app, &["lieux", "export", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("\"code_insee\":\"99100\""), "{stdout}");

    let (code, v) = report(&app, &["controle"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["ok"], false, "{v}");
    let listed = v["codes_lieux_a_reprendre"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{v}");
    assert_eq!(listed[0]["lieu_ext_id"], "mednum-1");
    assert_eq!(listed[0]["champ"], "code_postal");
    assert_eq!(listed[0]["valeur"], "00100");
    assert_eq!(listed[1]["champ"], "code_insee");
    assert!(listed[1]["motif"].as_str().unwrap().contains("« 99100 »"), "{v}");
    let (_, out, _) = run(&app, &["controle"]);
    assert!(out.contains("ÉCART  codes_lieux_valides"), "{out}");
    assert!(out.contains("Code à reprendre : lieu « mednum-1 »"), "{out}");
}
