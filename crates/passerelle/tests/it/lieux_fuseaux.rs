//! Places in every French territory: opening hours are read in the place's own time zone.

use crate::lieux::report;
use crate::support::TestApp;

#[tokio::test]
async fn a_noumea_place_is_open_in_noumea_time_while_paris_sleeps() {
    let app = TestApp::new().await;
    let file = app.data_dir.parent().unwrap().join("outre-mer.csv");
    std::fs::write(
        &file,
        "id,pivot,nom,commune,code_postal,code_insee,adresse,date_maj,horaires\n\
         noumea,W332001234,Case numérique de Nouméa,Nouméa,98800,98818,1 rue de Sébastopol,2024-01-01,Mo-Fr 08:00-17:00\n\
         pau,W332001234,Espace numérique de Pau,Pau,64000,64445,1 rue,2024-01-01,Mo-Fr 08:00-17:00\n",
    )
    .unwrap();
    let (code, r) = report(&app, &["lieux", "import", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{r:#}");
    // Monday 7 December 2026, 23:00 UTC: midnight in Paris (closed), 10:00 on Tuesday in Nouméa.
    app.set_now("2026-12-07T23:00:00Z");
    let mut b = app.browser();
    let r = b.get("/lieux/noumea").await;
    assert!(r.body.contains("Ouvert maintenant, ferme à 17 h"), "{}", r.body);
    assert!(
        r.body.contains("Jours fériés compris, heure de la Nouvelle-Calédonie."),
        "{}",
        r.body
    );
    // The week shown starts today, in the place's zone: Tuesday in Nouméa.
    let table = &r.body[r.body.find("<caption>Horaires des sept prochains jours").unwrap()..];
    assert!(
        table.find("mardi 08/12").unwrap() < table.find("lundi 14/12").unwrap(),
        "{table}"
    );
    assert!(!table.contains("lundi 07/12"), "{table}");
    // The search too: « ouvert maintenant » is each place's own now.
    let r = b.get("/api/v1/lieux?ouvert_maintenant=true").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let ids: Vec<&str> = v["resultats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["noumea"], "{v:#}");
    assert_eq!(v["resultats"][0]["etat"], "Ouvert maintenant, ferme à 17 h");
    let r = b.get("/api/v1/lieux?q=pau").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["resultats"][0]["etat"], "Fermé, ouvre à 8 h", "{v:#}");
    let r = b.get("/lieux/pau").await;
    assert!(r.body.contains("Fermé, ouvre à 8 h"), "{}", r.body);
    assert!(r.body.contains("Jours fériés compris, heure de Paris."), "{}", r.body);
    // Issue 22: the update date as people read it.
    assert!(r.body.contains("Données mises à jour le 01/01/2024"), "{}", r.body);
}
