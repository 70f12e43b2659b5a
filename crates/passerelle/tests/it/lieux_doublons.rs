//! One place, two sources: the duplicates are listed with a score, merged into one record that
//! keeps each field's provenance, and later imports of either source update that record.

use crate::lieux::{report, run};
use crate::support::{cli_ok, TestApp};

const HEADER: &str = "id,pivot,nom,commune,code_postal,code_insee,adresse,date_maj,latitude,longitude,telephone,horaires,courriels,source";

fn write(app: &TestApp, name: &str, rows: &[&str]) -> String {
    let path = app.data_dir.parent().unwrap().join(name);
    std::fs::write(&path, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
    path.display().to_string()
}

fn import(app: &TestApp, file: &str, source: &str) -> serde_json::Value {
    let (code, r) = report(app, &["lieux", "import", file, "--source", source]);
    assert_eq!(code, 0, "{r:#}");
    r
}

async fn field(app: &TestApp, id: &str, column: &str) -> String {
    app.scalar_text(&format!("SELECT {column} FROM lieux WHERE ext_id = '{id}'"))
        .await
}

#[tokio::test]
async fn two_sources_of_one_place_are_merged_and_stay_merged() {
    let app = TestApp::new().await;
    let cartographie = [
        "a-1,21330063500017,Médiathèque Mériadeck,Bordeaux,33000,33063,85 cours du Maréchal Juin,2026-10-01,44.8378,-0.5885,,Mo-Fr 10:00-18:00,,Cartographie nationale",
        "a-2,73282932000074,Espace numérique de Talence,Talence,33400,33522,12 rue Camille Pelletan,2026-10-01,44.8080,-0.5890,,,,Cartographie nationale",
    ];
    let hub = [
        "b-7,21330063500017,MEDIATHEQUE MERIADECK,Bordeaux,33000,33063,\"85, Cours du Maréchal-Juin\",2026-11-01,44.83795,-0.5886,+33556103000,Mo-Sa 10:00-19:00,mediatheque@bordeaux.fr,Hub Nouvelle-Aquitaine",
        // Near-identical name, 30 m away, no SIRET in common.
        "b-8,W332001234,Espace numerique de Talence.,Talence,33400,33522,12 r. Camille Pelletan,2026-11-01,44.80827,-0.5890,,,,Hub Nouvelle-Aquitaine",
    ];
    import(&app, &write(&app, "cartographie.csv", &cartographie), "cartographie");
    import(&app, &write(&app, "hub.csv", &hub), "hub");

    let (code, out, err) = run(&app, &["lieux", "doublons", "--json"]);
    assert_eq!(code, 0, "{err}");
    let found: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pairs: Vec<(String, String, u64)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["a"]["id"].as_str().unwrap().to_string(),
                c["b"]["id"].as_str().unwrap().to_string(),
                c["score"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(pairs.len(), 2, "{found:#}");
    assert_eq!(
        (pairs[0].0.as_str(), pairs[0].1.as_str(), pairs[0].2),
        ("a-1", "b-7", 100),
        "{found:#}"
    );
    assert_eq!((pairs[1].0.as_str(), pairs[1].1.as_str()), ("a-2", "b-8"), "{found:#}");
    assert_eq!(pairs[1].2, 95, "{found:#}");
    assert_eq!(
        found[0]["raisons"],
        serde_json::json!([
            "même SIRET et même adresse",
            "noms semblables à 100 % et lieux à 18 m l'un de l'autre"
        ])
    );
    assert_eq!(found[1]["distance_m"], 30, "{found:#}");
    let text = cli_ok(&app, &["lieux", "doublons"]);
    assert!(text.contains("même SIRET et même adresse"), "{text}");

    // Merge: a-1 stays and takes what it lacks from b-7.
    let (code, out, err) = run(&app, &["lieux", "fusionner", "a-1", "b-7", "--json"]);
    assert_eq!(code, 0, "{out} {err}");
    let done: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        done["champs_repris"],
        serde_json::json!(["courriels", "telephone"]),
        "{done:#}"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM lieux WHERE ext_id = 'b-7'").await,
        0
    );
    assert_eq!(field(&app, "a-1", "telephone").await, "+33556103000");
    assert_eq!(field(&app, "a-1", "horaires").await, "Mo-Fr 10:00-18:00");
    assert_eq!(
        field(&app, "a-1", "provenance").await,
        r#"{"courriels":"b-7","telephone":"b-7"}"#
    );
    let mut b = app.browser();
    let page = b.get("/lieux/a-1").await.body;
    assert!(
        // The phone number as people read it (issue 22), the link keeping the stored number.
        page.contains(">05 56 10 30 00</a>") && page.contains("href=\"tel:+33556103000\""),
        "{page}"
    );
    // The merged record's page leads to the kept one.
    let old = b.get("/lieux/b-7").await;
    assert_eq!(old.status, axum::http::StatusCode::PERMANENT_REDIRECT);
    assert_eq!(old.headers["location"], "/lieux/a-1");

    // The hub's file again, with a new phone number and new hours: the record is updated, not
    // recreated; the phone (given by the hub) changes, the hours (the cartography's) do not.
    let hub_again = [
        "b-7,21330063500017,MEDIATHEQUE MERIADECK,Bordeaux,33000,33063,\"85, Cours du Maréchal-Juin\",2026-11-20,44.83795,-0.5886,+33556103099,Mo-Su 09:00-20:00,mediatheque@bordeaux.fr,Hub Nouvelle-Aquitaine",
        hub[1],
    ];
    let r = import(&app, &write(&app, "hub2.csv", &hub_again), "hub");
    assert_eq!(
        (r["crees"].as_u64(), r["mis_a_jour"].as_u64(), r["inchanges"].as_u64()),
        (Some(0), Some(1), Some(1)),
        "{r:#}"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM lieux WHERE ext_id = 'b-7'").await,
        0
    );
    assert_eq!(field(&app, "a-1", "telephone").await, "+33556103099");
    assert_eq!(field(&app, "a-1", "horaires").await, "Mo-Fr 10:00-18:00");
    // The same file once more: nothing changes.
    let r = import(&app, &write(&app, "hub3.csv", &hub_again), "hub");
    assert_eq!(
        (r["crees"].as_u64(), r["mis_a_jour"].as_u64()),
        (Some(0), Some(0)),
        "{r:#}"
    );
    // The cartography's file with new hours: its own field changes, the hub's phone stays.
    let carto_again = [
        "a-1,21330063500017,Médiathèque Mériadeck,Bordeaux,33000,33063,85 cours du Maréchal Juin,2026-11-25,44.8378,-0.5885,+33500000000,Mo-Fr 09:00-17:00,,Cartographie nationale",
        cartographie[1],
    ];
    let r = import(&app, &write(&app, "cartographie2.csv", &carto_again), "cartographie");
    assert_eq!(
        (r["crees"].as_u64(), r["mis_a_jour"].as_u64()),
        (Some(0), Some(1)),
        "{r:#}"
    );
    assert_eq!(field(&app, "a-1", "horaires").await, "Mo-Fr 09:00-17:00");
    assert_eq!(field(&app, "a-1", "telephone").await, "+33556103099");
    assert_eq!(field(&app, "a-1", "date_maj").await, "2026-11-25");

    // Only the other pair is still a candidate.
    let (_, out, _) = run(&app, &["lieux", "doublons", "--json"]);
    let left: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(left.as_array().map(Vec::len), Some(1), "{left:#}");

    // A place with a qualification never disappears: it can only be the kept one.
    cli_ok(&app, &["lieux", "qualifier", "a-2"]);
    let (code, _, err) = run(&app, &["lieux", "fusionner", "b-8", "a-2"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("« a-2 » porte une qualification au Pass Numérique"),
        "{err}"
    );
    assert!(err.contains("fusionnez « b-8 » dans lui"), "{err}");
    let (code, _, err) = run(&app, &["lieux", "fusionner", "a-2", "a-2"]);
    assert_ne!(code, 0);
    assert!(err.contains("lui-même"), "{err}");
    let (code, _, err) = run(&app, &["lieux", "fusionner", "a-2", "nulle-part"]);
    assert_ne!(code, 0);
    assert!(err.contains("« nulle-part » introuvable"), "{err}");
    cli_ok(&app, &["lieux", "fusionner", "a-2", "b-8"]);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux").await, 2);
    // The journal holds both merges and still verifies.
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'lieux.fusion'")
            .await,
        2
    );
    cli_ok(&app, &["journal", "verify"]);
}

#[tokio::test]
async fn the_operator_merges_from_the_page_and_no_one_else_can() {
    let app = TestApp::new().await;
    let rows = [
        "a-1,21330063500017,Médiathèque Mériadeck,Bordeaux,33000,33063,85 cours du Maréchal Juin,2026-10-01,44.8378,-0.5885,,,,Cartographie nationale",
        "b-7,21330063500017,Médiathèque Mériadeck,Bordeaux,33000,33063,85 cours du Maréchal Juin,2026-11-01,44.8378,-0.5885,+33556103000,,,Hub",
    ];
    import(&app, &write(&app, "deux.csv", &rows), "test");
    let (mut place, _) = crate::lieux_pages::signed_in(&app, "lieu", "lieu", "accueil@lieu.fr").await;
    let (mut hub, _) = crate::lieux_pages::signed_in(&app, "hub", "hub", "hub@exemple.fr").await;
    for b in [&mut place, &mut hub] {
        assert_eq!(b.get("/operateur/lieux/doublons").await.status, 403);
        let r = b
            .post("/operateur/lieux/fusionner", &[("garde", "a-1"), ("fusionne", "b-7")])
            .await;
        assert_eq!(r.status, 403);
    }
    let mut anonymous = app.browser();
    let r = anonymous.get("/operateur/lieux/doublons").await;
    assert!(r.status == 303 || r.status == 401, "{}", r.status);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM lieux").await, 2);

    let (mut op, _) = crate::lieux_pages::signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let page = op.get("/operateur/lieux/doublons").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("1 doublon probable"), "{}", page.body);
    assert!(
        page.body.contains("Garder « a-1 », y fusionner « b-7 »"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<td>01/10/2026</td>") && !page.body.contains("2026-10-01"),
        "{}",
        page.body
    );
    // Without the CSRF token: refused.
    let r = op
        .post_raw("/operateur/lieux/fusionner", &[("garde", "a-1"), ("fusionne", "b-7")])
        .await;
    assert_eq!(r.status, 403);
    let r = op
        .post("/operateur/lieux/fusionner", &[("garde", "b-7"), ("fusionne", "a-1")])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), Some("/operateur/lieux/doublons?garde=b-7&fusionne=a-1"));
    let done = op.get("/operateur/lieux/doublons?garde=b-7&fusionne=a-1").await;
    assert!(
        done.body.contains("La fiche « a-1 » a été fusionnée dans « b-7 »."),
        "{}",
        done.body
    );
    assert!(done.body.contains("0 doublon probable"), "{}", done.body);
    // A merge that cannot be done says why, on the page.
    let r = op
        .post("/operateur/lieux/fusionner", &[("garde", "b-7"), ("fusionne", "a-1")])
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("« a-1 » introuvable"), "{}", r.body);
}
