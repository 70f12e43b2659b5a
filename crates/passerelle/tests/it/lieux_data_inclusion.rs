//! The directory in the data·inclusion v1 schema, validated by the schema's own package
//! (`data-inclusion-schema` from PyPI): from the command line and at its open-data URLs.

use std::path::Path;
use std::process::Command;

use crate::lieux::{copy, report, run};
use crate::support::TestApp;

/// Runs the package's validator on two files: (success, what it printed).
fn validate(structures: &Path, services: &Path) -> (bool, String) {
    let python = std::env::var("PASSERELLE_PYTHON").expect("PASSERELLE_PYTHON absent : lancez scripts/test");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data_inclusion/valider.py");
    let out = Command::new(python)
        .arg(script)
        .arg(structures)
        .arg(services)
        .output()
        .expect("python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn read(path: &Path) -> Vec<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test]
async fn the_directory_is_valid_for_data_inclusion_from_the_cli_and_the_open_data_urls() {
    let app = TestApp::new().await;
    app.load_demo().await;
    // Files of earlier versions: legacy values, a placeholder date, a bad SIRET key.
    for name in ["v0_1_conseillers.csv", "v1_beta.json"] {
        let file = copy(&app, name);
        let (code, r) = report(&app, &["lieux", "import", &file]);
        assert_eq!(code, 0, "{r:#}");
    }
    app.exec("UPDATE lieux SET date_maj = '1970-01-01' WHERE ext_id = 'cnfs-002'")
        .await
        .unwrap();
    let places = app.scalar_i64("SELECT COUNT(*) FROM lieux").await;

    let dir = app.data_dir.parent().unwrap().join("data-inclusion");
    let (code, _, err) = run(
        &app,
        &[
            "lieux",
            "export",
            "--format",
            "data-inclusion",
            "-o",
            dir.to_str().unwrap(),
            "--base-url",
            "https://passerelle.exemple.fr",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (structures, services) = (dir.join("structures.json"), dir.join("services.json"));
    let (ok, text) = validate(&structures, &services);
    assert!(ok, "{text}");
    assert!(text.contains(&format!("{places} structures et ")), "{text}");
    assert!(err.contains(&format!("{places} structures et ")), "{err}");

    let s = read(&structures);
    let by_id = |id: &str| {
        s.iter()
            .find(|x| x["id"] == format!("passerelle--{id}"))
            .unwrap()
            .clone()
    };
    // A legacy « CNFS » is a network of data·inclusion; the page of the place is its source.
    let cnfs = by_id("cnfs-001");
    assert_eq!(
        cnfs["reseaux_porteurs"],
        serde_json::json!(["conseillers-numeriques", "france-service"])
    );
    assert_eq!(cnfs["lien_source"], "https://passerelle.exemple.fr/lieux/cnfs-001");
    assert_eq!(cnfs["siret"], "21330063500017");
    assert_eq!(cnfs["date_maj"], "2024-03-12");
    // A placeholder date: the day Passerelle received the place (never ahead of UTC's day).
    let today = passerelle_core::lieux::data_inclusion::latest_day(&passerelle_core::Horloge::systeme()).to_string();
    assert_eq!(by_id("cnfs-002")["date_maj"], today.as_str());
    // One service per service of the standard, with its thematiques.
    let v = read(&services);
    let of = |id: &str| -> Vec<serde_json::Value> {
        v.iter()
            .filter(|x| x["structure_id"] == format!("passerelle--{id}"))
            .cloned()
            .collect()
    };
    let cnfs_services = of("cnfs-001");
    assert!(!cnfs_services.is_empty());
    let demarches = cnfs_services
        .iter()
        .find(|x| x["nom"] == "Aide aux démarches administratives")
        .expect("démarches");
    assert_eq!(demarches["type"], "accompagnement");
    assert!(demarches["thematiques"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("numerique--acceder-a-des-services-en-ligne")));
    assert_eq!(demarches["publics"], serde_json::json!(["seniors"]));

    // The same at the open-data URLs, with the service's own address.
    let mut b = app.browser();
    for name in ["structures.json", "services.json"] {
        let r = b.get(&format!("/open-data/data-inclusion/{name}")).await;
        assert_eq!(r.status, axum::http::StatusCode::OK, "{name}");
        std::fs::write(dir.join(format!("http-{name}")), &r.body).unwrap();
    }
    let (ok, text) = validate(&dir.join("http-structures.json"), &dir.join("http-services.json"));
    assert!(ok, "{text}");
    assert_eq!(read(&dir.join("http-services.json")).len(), v.len());
    assert_eq!(b.get("/open-data/data-inclusion/autre.json").await.status, 404);
    assert!(b
        .get("/open-data/")
        .await
        .body
        .contains("/open-data/data-inclusion/structures.json"));

    // The validator is not a formality: a service type of no vocabulary is refused.
    let mut broken = v.clone();
    broken[0]["type"] = serde_json::json!("cours-de-cuisine");
    broken[0]["date_maj"] = serde_json::json!("1970-01-01");
    std::fs::write(dir.join("casse.json"), serde_json::to_vec(&broken).unwrap()).unwrap();
    let (ok, text) = validate(&structures, &dir.join("casse.json"));
    assert!(!ok, "{text}");
    assert!(text.contains("type") && text.contains("date_maj"), "{text}");
    // A folder is required.
    let (code, _, err) = run(&app, &["lieux", "export", "--format", "data-inclusion"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("-o DOSSIER"), "{err}");
}
