//! What the official standard accepts is kept: Passerelle's stricter checks give warnings on
//! import, and the places wait for their hub at /hub/territoire/lieux-a-verifier.

use crate::lieux::{report, run};
use crate::lieux_pages::signed_in;
use crate::support::{load_territories, TestApp};

#[tokio::test]
async fn places_the_standard_accepts_are_kept_and_listed_for_their_hub() {
    let app = TestApp::new().await;
    load_territories(&app);
    let file = app.data_dir.parent().unwrap().join("a-verifier.csv");
    // Each row is valid for the standard's Table Schema and fails one of Passerelle's checks.
    let today = passerelle_core::Horloge::systeme().today_paris().to_string();
    std::fs::write(
        &file,
        "id,pivot,nom,commune,code_postal,code_insee,adresse,date_maj,latitude,longitude,courriels\n\
         cle,73282932000075,Médiathèque de Pessac,Pessac,33600,33318,1 rue,TODAY,44.806,-0.631,\n\
         inverse,73282932000074,Espace numérique de Talence,Talence,33400,33522,1 rue,TODAY,-0.588,44.808,\n\
         epoch,73282932000074,Cyberbase de Mérignac,Mérignac,33700,33281,1 rue,1970-01-01,44.838,-0.657,\n\
         futur,73282932000074,Tiers-lieu de Bègles,Bègles,33130,33039,1 rue,2099-05-01,44.808,-0.548,\n\
         inconnu,73282932000074,Point numérique de Nice,Nice,06922,,1 rue,TODAY,43.70,7.27,\n\
         courriel,73282932000074,Atelier de Cenon,Cenon,33150,33119,1 rue,TODAY,44.857,-0.531,pas-un-courriel\n"
            .replace("TODAY", &today),
    )
    .unwrap();
    let (code, r) = report(&app, &["lieux", "import", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["crees"], 6, "{r:#}");
    assert_eq!(r["erreurs"].as_array().map(Vec::len), Some(0), "{r:#}");
    let warned = |line: u64, field: &str| crate::lieux::warned(&r, line, field);
    assert!(warned(2, "pivot").contains("clé de contrôle"), "{r:#}");
    assert!(warned(3, "latitude").contains("semblent inversées"), "{r:#}");
    assert!(warned(4, "date_maj").contains("date fictive"), "{r:#}");
    assert!(warned(5, "date_maj").contains("dans le futur"), "{r:#}");
    assert_eq!(
        warned(6, "code_postal"),
        "code postal 06922 inconnu du référentiel officiel"
    );
    assert!(warned(7, "courriels").contains("retirée"), "{r:#}");

    // The hub of Gironde and Alpes-Maritimes.
    let (mut hub, hub_org) = signed_in(&app, "hub", "hub", "hub@exemple.fr").await;
    let (code, out, err) = run(
        &app,
        &[
            "organisations",
            "territoire",
            "--organisation",
            &hub_org.to_string(),
            "--departements",
            "33,06",
        ],
    );
    assert_eq!(code, 0, "{out} {err}");
    let page = hub.get("/hub/territoire/lieux-a-verifier").await;
    assert_eq!(page.status, axum::http::StatusCode::OK);
    for expected in [
        "Pivot à vérifier : SIRET invalide « 73282932000075 »",
        "Coordonnées (-0.588, 44.808) hors de la France métropolitaine (département 33) ; latitude et longitude semblent inversées",
        "Date de mise à jour fictive (01/01/1970)",
        "Date de mise à jour dans le futur (01/05/2099)",
        "Le code postal 06922 n&#39;est celui d&#39;aucune commune du référentiel officiel",
    ] {
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
    // The e-mail address was dropped on import: nothing left to check at Cenon.
    assert!(!page.body.contains("Atelier de Cenon"), "{}", page.body);
}
