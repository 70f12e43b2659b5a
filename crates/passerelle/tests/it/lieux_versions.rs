//! Files published between versions of the standard, in the shape producers publish them:
//! the 0.1.x columns and values (`;` inside lists, communes in capitals, placeholder pivots,
//! epoch dates) and the v1 betas' long labels. Every row that differs from v1 only by its
//! vocabulary is kept, and the export is valid against the official Table Schema.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::lieux::{copy, frictionless_validate, report, run};
use crate::support::TestApp;

/// The exported places by id, each field as the standard writes it (lists joined by `|`).
fn exported(app: &TestApp) -> BTreeMap<String, BTreeMap<String, String>> {
    let (code, stdout, err) = run(app, &["lieux", "export", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let places: Vec<serde_json::Map<String, Value>> = serde_json::from_str(&stdout).unwrap();
    places
        .into_iter()
        .map(|p| {
            let fields: BTreeMap<String, String> = p
                .into_iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::Array(items) => items
                            .iter()
                            .map(|i| i.as_str().unwrap_or_default())
                            .collect::<Vec<_>>()
                            .join("|"),
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (k, text)
                })
                .collect();
            (fields["id"].clone(), fields)
        })
        .collect()
}

#[tokio::test]
async fn a_file_of_version_0_1_is_kept_whole_and_exported_valid() {
    let app = TestApp::new().await;
    let file = copy(&app, "v0_1_conseillers.csv");
    let (code, r) = report(&app, &["lieux", "import", &file, "--source", "Conseillers numériques"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(
        (r["lignes"].as_u64(), r["invalides"].as_u64(), r["crees"].as_u64()),
        (Some(4), Some(0), Some(4)),
        "{r:#}"
    );
    let renamed: Vec<(String, String)> = serde_json::from_value(r["colonnes_renommees"].clone()).unwrap();
    for (old, new) in [
        ("publics_accueillis", "publics_specifiquement_adresses"),
        ("conditions_acces", "frais_a_charge"),
        ("labels_nationaux", "dispositif_programmes_nationaux"),
        ("courriel", "courriels"),
    ] {
        assert!(renamed.contains(&(old.into(), new.into())), "{old} : {renamed:?}");
    }
    assert_eq!(
        r["normalisations"]["valeurs d'anciennes versions du standard traduites en v1"], 4,
        "{r:#}"
    );
    let translated = &r["valeurs_traduites"];
    for (translation, n) in [
        (
            "dispositif_programmes_nationaux : « CNFS » → « Conseillers numériques »",
            2,
        ),
        (
            "publics_specifiquement_adresses : « Adultes » retirée, sans équivalent en v1",
            2,
        ),
        (
            "dispositif_programmes_nationaux : « APTIC » retirée, sans équivalent en v1",
            1,
        ),
        (
            "frais_a_charge : « Adhésion : L'accès au lieu et/ou à ses services nécessite d'y adhérer » → « Payant »",
            1,
        ),
        (
            "services : « Prendre en main un ordinateur » → « Maîtrise des outils numériques du quotidien »",
            1,
        ),
    ] {
        assert_eq!(translated[translation], n, "{translation} : {translated:#}");
    }
    // A value with no v1 equivalent is dropped with a warning naming it, never a rejection.
    let warnings: Vec<(u64, String, String)> = r["avertissements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["ligne"].as_u64().unwrap(),
                w["champ"].as_str().unwrap().into(),
                w["message"].as_str().unwrap().into(),
            )
        })
        .collect();
    for (line, field, value) in [
        (2, "publics_specifiquement_adresses", "« Adultes »"),
        (3, "dispositif_programmes_nationaux", "« APTIC »"),
        (4, "publics_specifiquement_adresses", "« Adultes »"),
    ] {
        assert!(
            warnings
                .iter()
                .any(|(l, f, m)| *l == line && f == field && m.contains(value) && m.contains("pas d'équivalent en v1")),
            "ligne {line} {field} {value} : {warnings:#?}"
        );
    }

    let places = exported(&app);
    let p = &places["cnfs-001"];
    assert_eq!(p["commune"], "Bordeaux");
    assert_eq!(
        p["services"],
        "Aide aux démarches administratives|Maîtrise des outils numériques du quotidien"
    );
    assert_eq!(p["publics_specifiquement_adresses"], "Seniors");
    assert_eq!(p["frais_a_charge"], "Gratuit");
    assert_eq!(
        p["dispositif_programmes_nationaux"],
        "Conseillers numériques|France Services"
    );
    assert_eq!(
        p["modalites_accompagnement"],
        "Accompagnement individuel|Dans un atelier collectif"
    );
    let p = &places["cnfs-002"];
    assert_eq!(p["publics_specifiquement_adresses"], "Jeunes|Familles et/ou enfants");
    assert_eq!(
        p["prise_en_charge_specifique"],
        "Langues étrangères (anglais)|Langues étrangères (autres)"
    );
    assert_eq!(p["frais_a_charge"], "Payant");
    assert_eq!(
        p["services"],
        "Accès internet et matériel informatique|Acquisition de matériel informatique à prix solidaire"
    );
    assert_eq!(p["modalites_accompagnement"], "En autonomie");
    let p = &places["cnfs-003"];
    assert_eq!(p["publics_specifiquement_adresses"], "");
    assert_eq!(p["frais_a_charge"], "Gratuit sous condition");
    assert_eq!(p["dispositif_programmes_nationaux"], "Point d'accès numérique CAF");
    assert_eq!(p["formations_labels"], "Fabriques de Territoire");
    let p = &places["cnfs-004"];
    assert_eq!(p["publics_specifiquement_adresses"], "Femmes");
    assert_eq!(p["prise_en_charge_specifique"], "Surdité|Handicaps mentaux|Illettrisme");
    assert_eq!(
        p["dispositif_programmes_nationaux"],
        "Aidants Connect|Grande école du numérique|Point d'accès numérique CAF"
    );
    assert_eq!(
        p["services"],
        "Insertion professionnelle via le numérique|Loisirs et créations numériques|Parentalité et éducation avec le numérique"
    );

    // The official validator accepts what was kept.
    let dir = app.data_dir.parent().unwrap().to_path_buf();
    let out = dir.join("export.csv");
    let (code, _, err) = run(
        &app,
        &["lieux", "export", "--format", "csv", "-o", out.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let verdict = frictionless_validate(&dir, "export.csv");
    assert_eq!(verdict["valid"], true, "{verdict:#}");
}

#[tokio::test]
async fn the_long_labels_of_the_v1_betas_are_read_as_the_standard_s_values() {
    let app = TestApp::new().await;
    let file = copy(&app, "v1_beta.json");
    let (code, r) = report(&app, &["lieux", "import", &file]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(
        (r["invalides"].as_u64(), r["crees"].as_u64()),
        (Some(0), Some(2)),
        "{r:#}"
    );
    assert_eq!(
        r["normalisations"]
            ["valeurs de listes écrites autrement (casse, accents, explication) ramenées à celles du standard"],
        2,
        "{r:#}"
    );
    let places = exported(&app);
    let p = &places["coop-1"];
    assert_eq!(
        p["services"],
        "Compréhension du monde numérique|Utilisation sécurisée du numérique"
    );
    assert_eq!(p["modalites_accompagnement"], "Dans un atelier collectif|À distance");
    assert_eq!(p["frais_a_charge"], "Payant");
    assert_eq!(p["formations_labels"], "Étapes numériques(La Poste)");
    let p = &places["coop-2"];
    assert_eq!(p["itinerance"], "Itinérant");
    assert_eq!(p["modalites_acces"], "Ce lieu n'accueille pas de public");
    assert_eq!(p["frais_a_charge"], "Gratuit");
    // A value of no version is still refused, by name.
    let bad = app.data_dir.parent().unwrap().join("faux.json");
    std::fs::write(
        &bad,
        r#"[{"id": "x-1", "pivot": "21330063500017", "nom": "Lieu", "commune": "Bordeaux", "code_postal": "33000", "adresse": "1 rue", "date_maj": "2024-01-01", "services": ["Numérique et environnement"]}]"#,
    )
    .unwrap();
    let (code, r) = report(&app, &["lieux", "import", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{r:#}");
    assert!(
        r["erreurs"][0]["message"]
            .as_str()
            .unwrap()
            .contains("« Numérique et environnement »"),
        "{r:#}"
    );
}

/// A hub's file: `;` between columns, communes in capitals, and on every row something that
/// the official Table Schema accepts and Passerelle's own checks do not: each row is kept with a
/// warning, and the export is valid.
#[tokio::test]
async fn what_the_standard_accepts_is_kept_with_warnings() {
    let app = TestApp::new().await;
    crate::support::load_territories(&app);
    let file = copy(&app, "v1_hub_point_virgule.csv");
    let (code, r) = report(&app, &["lieux", "import", &file, "--source", "Hub Gironde"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(
        (r["lignes"].as_u64(), r["invalides"].as_u64(), r["crees"].as_u64()),
        (Some(5), Some(0), Some(5)),
        "{r:#}"
    );
    assert_eq!(r["separateur"], ";", "{r:#}");
    let warned = |line: u64, field: &str| crate::lieux::warned(&r, line, field);
    assert!(warned(2, "pivot").contains("clé de contrôle"), "{r:#}");
    assert!(warned(3, "latitude").contains("semblent inversées"), "{r:#}");
    assert!(
        warned(3, "courriels").contains("« contact(at)lormont.fr » : retirée"),
        "{r:#}"
    );
    assert!(warned(3, "site_web").contains("retirée"), "{r:#}");
    assert!(
        warned(4, "code_insee").contains("99100") && warned(4, "code_insee").ends_with("retiré"),
        "{r:#}"
    );
    assert!(warned(5, "pivot").contains("fictif"), "{r:#}");
    assert!(warned(5, "date_maj").contains("date fictive"), "{r:#}");
    assert_eq!(
        warned(5, "code_postal"),
        "code postal 06922 inconnu du référentiel officiel"
    );
    assert!(warned(6, "latitude").contains("impossibles : retirées"), "{r:#}");
    assert!(warned(6, "date_maj").contains("dans le futur"), "{r:#}");

    let places = exported(&app);
    assert_eq!(places["hub-01"]["nom"], "@telier connecté de Bacalan");
    assert_eq!(places["hub-02"]["nom"], "- Espace jeunes de Lormont");
    assert_eq!(places["hub-02"]["courriels"], "");
    // The foreign-country code is dropped, and the commune's code deduced from its name and postcode.
    assert_eq!(places["hub-03"]["code_insee"], "33119");
    assert_eq!(places["hub-05"]["latitude"], "");
    // The official validator accepts what was kept.
    let dir = app.data_dir.parent().unwrap().to_path_buf();
    let out = dir.join("export-hub.csv");
    let (code, _, err) = run(
        &app,
        &["lieux", "export", "--format", "csv", "-o", out.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let verdict = frictionless_validate(&dir, "export-hub.csv");
    assert_eq!(verdict["valid"], true, "{verdict:#}");
    // The open-data CSV neutralises the values a spreadsheet would run.
    let mut b = app.browser();
    let csv = b.get("/open-data/lieux.csv").await.body;
    assert!(
        csv.contains("'@telier connecté de Bacalan") && csv.contains("'=Association Clic Solidaire"),
        "{csv}"
    );
}
