//! Hubs territoriaux: the départements they cover, and the hub shown on a place.

use crate::lieux::{copy, run};
use crate::support::{cli_organisation, load_territories, TestApp};

#[tokio::test]
async fn a_hub_covers_departements_and_places_show_their_hub() {
    let app = TestApp::new().await;
    let hub = cli_organisation(&app, "hub", "Hub Nouvelle-Aquitaine");
    let other = cli_organisation(&app, "hub", "Hub Occitanie");
    let place_org = cli_organisation(&app, "lieu", "EPN de Pessac");

    // Before the official territories are loaded, nothing can be checked: refused.
    let (code, _, err) = run(
        &app,
        &[
            "organisations",
            "territoire",
            "--organisation",
            &hub,
            "--departements",
            "33",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("territoires charger"), "{err}");
    load_territories(&app);

    let (code, out, err) = run(
        &app,
        &[
            "organisations",
            "territoire",
            "--organisation",
            &hub,
            "--departements",
            "33,40, 47,33",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["departements"], serde_json::json!(["33", "40", "47"]));

    // Unknown codes, organisations that are not hubs, and a département already covered are refused.
    for (org, deps, expected) in [
        (&hub, "33,99", "départements inconnus : 99"),
        (&place_org, "64", "n'est pas un hub"),
        (&other, "31,33", "33 (déjà couvert par « Hub Nouvelle-Aquitaine »)"),
    ] {
        let (code, _, err) = run(
            &app,
            &[
                "organisations",
                "territoire",
                "--organisation",
                org,
                "--departements",
                deps,
            ],
        );
        assert_ne!(code, 0);
        assert!(err.contains(expected), "{err}");
    }
    let (code, out, _) = run(
        &app,
        &[
            "organisations",
            "territoire",
            "--organisation",
            &other,
            "--departements",
            "31,9",
        ],
    );
    assert_eq!(code, 0);
    assert!(out.contains("2 départements : 09, 31"), "{out}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'hub.territoire'")
            .await,
        2
    );

    // A place in Gironde belongs to the hub; the API and the page say so.
    let file = copy(&app, "propre.csv");
    run(&app, &["lieux", "import", &file]);
    let mut b = app.browser();
    let v: serde_json::Value = serde_json::from_str(&b.get("/api/v1/lieux/mednum-2").await.body).unwrap();
    assert_eq!(v["passerelle"]["departement"], "33");
    assert_eq!(v["passerelle"]["hub"]["nom"], "Hub Nouvelle-Aquitaine");
    assert_eq!(v["passerelle"]["hub"]["id"].as_i64().unwrap().to_string(), hub);
    assert!(b
        .get("/lieux/mednum-2")
        .await
        .body
        .contains("Hub territorial : Hub Nouvelle-Aquitaine"));

    // Replacing the territory detaches the places of the départements left.
    run(
        &app,
        &[
            "organisations",
            "territoire",
            "--organisation",
            &hub,
            "--departements",
            "40",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&b.get("/api/v1/lieux/mednum-2").await.body).unwrap();
    assert_eq!(v["passerelle"]["hub"], serde_json::Value::Null);
}
