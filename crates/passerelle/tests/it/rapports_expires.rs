//! The joint statement of expired cheques: after the end of validity and the
//! tolerance, the daily job expires the unused cheques and issues a credit
//! note; the statement lists them by booklet (no code) and its total equals
//! the credit notes'. A second run adds nothing. Refused to whoever must not see it.

use axum::http::StatusCode;

use crate::lieux_pages::signed_in;
use crate::rapports::{hand_out, order, places, redeem};
use crate::support::{cli_json as json_of, cli_ok as ok, TestApp};

#[tokio::test]
async fn expired_cheques_are_stated_by_booklet_and_justify_the_credit_note() {
    let app = TestApp::new().await;
    let (mut gironde, gironde_org) = signed_in(&app, "commanditaire", "commanditaire", "fin@gironde.fr").await;
    let (mut landes, _) = signed_in(&app, "commanditaire", "commanditaire", "fin@landes.fr").await;
    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let (mut staff, _) = signed_in(&app, "lieu", "lieu", "accueil@pessac.fr").await;
    let (mut presc, _) = signed_in(&app, "prescripteur", "prescripteur", "p@ccas.fr").await;
    let mut anon = app.browser();
    let (prescriber, keys) = places(&app).await;

    // 3 booklets until 31/12/2099 (+ 30 days): booklet 1 handed out and 2 of its cheques redeemed,
    // booklet 2 lost (10 cancelled), booklet 3 never handed out.
    let o = order(&app, gironde_org, &prescriber, 3, "2099-12-31");
    let id = o.id.to_string();
    let (b1, b2, b3) = (o.first, o.first + 1, o.first + 2);
    hand_out(&app, b1, "seniors", "33318");
    redeem(&app, &keys, "mednum-2", &o.codes[&(b1, 1)], "x1").await;
    redeem(&app, &keys, "mednum-2", &o.codes[&(b1, 2)], "x2").await;
    ok(&app, &["carnets", "perdu", &b2.to_string()]);

    // Before the expiry: the cancelled cheques are listed, no credit note covers them yet.
    let before = json_of(&app, &["commandes", "expires", &id]);
    assert_eq!(before["annules"]["valeur_centimes"], 10_000);
    assert_eq!(before["expires"]["cheques"], 0);
    assert_eq!(before["avoirs_centimes"], 0);
    assert!(!gironde
        .get(&format!("/commandes/{id}"))
        .await
        .body
        .contains("expires.pdf"));

    // The day after the tolerance (30/01/2100) was too early; the next day the job runs.
    ok(&app, &["taches", "quotidiennes", "--date", "2100-01-30"]);
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM documents WHERE type = 'avoir' AND commande_id = {id}"
        ))
        .await,
        0
    );
    ok(&app, &["taches", "quotidiennes", "--date", "2100-01-31"]);
    let avoir = app
        .scalar_text(&format!(
            "SELECT numero FROM documents WHERE type = 'avoir' AND commande_id = {id}"
        ))
        .await;

    // The statement: 8 + 10 expired, 10 cancelled, 280 € = the credit note.
    let dir = app.data_dir.parent().unwrap().to_path_buf();
    let (pdf_file, csv_file) = (dir.join("etat.pdf"), dir.join("etat.csv"));
    let s = json_of(
        &app,
        &[
            "commandes",
            "expires",
            &id,
            "--pdf",
            pdf_file.to_str().unwrap(),
            "--csv",
            csv_file.to_str().unwrap(),
            "--polices",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../node_modules/dejavu-fonts-ttf/ttf"),
        ],
    );
    assert_eq!(s["expires"]["cheques"], 18);
    assert_eq!(s["expires"]["valeur_centimes"], 18_000);
    assert_eq!(s["annules"]["cheques"], 10);
    assert_eq!(s["total_centimes"], 28_000);
    assert_eq!(s["avoirs_centimes"], 28_000);
    assert_eq!(s["avoirs"][0]["numero"], avoir.as_str());
    assert_eq!(s["avoirs"][0]["valeur_centimes"], 28_000);
    assert_eq!(s["expiration_apres"], "2100-01-30");
    let booklets: Vec<(i64, bool, i64, i64)> = s["carnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["carnet"].as_i64().unwrap(),
                b["perdu"].as_bool().unwrap(),
                b["expires"]["cheques"].as_i64().unwrap(),
                b["annules"]["cheques"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(booklets, [(b1, false, 8, 0), (b2, true, 0, 10), (b3, false, 10, 0)]);
    assert!(std::fs::read(&pdf_file).unwrap().starts_with(b"%PDF-"));
    let text = ok(&app, &["commandes", "expires", &id]);
    assert!(
        text.contains("Total des avoirs égal au total des chèques non utilisés."),
        "{text}"
    );
    // The funder's report agrees.
    let r = json_of(&app, &["commandes", "rapport", &id]);
    assert_eq!(r["totaux"]["expires"]["valeur_centimes"], 18_000);
    assert_eq!(r["totaux"]["avoirs_centimes"], 28_000);

    // The same statement from the order's page, for its funder.
    let page = gironde.get(&format!("/commandes/{id}")).await;
    assert!(
        page.body.contains(&format!("href=\"/commandes/{id}/expires.pdf\"")),
        "{}",
        page.body
    );
    let csv = gironde.get(&format!("/commandes/{id}/expires.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["cache-control"], "no-store");
    assert_eq!(csv.body, std::fs::read_to_string(&csv_file).unwrap());
    let mut rows = csv::Reader::from_reader(csv.body.as_bytes());
    assert_eq!(
        rows.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "type",
            "reference",
            "carnet_perdu",
            "cheques_expires",
            "valeur_expiree_centimes",
            "cheques_annules",
            "valeur_annulee_centimes",
            "valeur_totale_centimes"
        ]
    );
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    let sum = |kind: &str, col: usize| -> i64 {
        rows.iter()
            .filter(|r| &r[0] == kind)
            .map(|r| r[col].parse::<i64>().unwrap())
            .sum()
    };
    assert_eq!(rows.iter().filter(|r| &r[0] == "carnet").count(), 3);
    for col in 3..8 {
        assert_eq!(sum("carnet", col), sum("total", col), "column {col}");
    }
    assert_eq!(sum("total", 7), 28_000);
    assert_eq!(sum("avoir", 7), sum("total", 7), "the credit notes cover the statement");
    assert!(rows.iter().any(|r| &r[0] == "avoir" && r[1] == avoir));
    for code in o.codes.values() {
        for shown in [csv.body.as_str(), &s.to_string(), &text] {
            assert!(!shown.contains(code.as_str()) && !shown.contains(&code.replace('-', "")));
        }
    }
    let pdf = gironde.get(&format!("/commandes/{id}/expires.pdf")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    assert_eq!(pdf.headers["cache-control"], "no-store");
    assert!(pdf.body.starts_with("%PDF-"));

    // A second run, the same day or later, adds nothing.
    ok(&app, &["taches", "quotidiennes", "--date", "2100-01-31"]);
    ok(&app, &["taches", "quotidiennes", "--date", "2100-02-01"]);
    assert_eq!(json_of(&app, &["commandes", "expires", &id]), s);
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM documents WHERE type = 'avoir' AND commande_id = {id}"
        ))
        .await,
        1
    );
    let (code, _, _) = crate::lieux::run(&app, &["controle"]);
    assert_eq!(code, 0, "the money rules hold");

    // Refusals.
    for path in [
        format!("/commandes/{id}/expires.pdf"),
        format!("/commandes/{id}/expires.csv"),
    ] {
        assert_eq!(op.get(&path).await.status, StatusCode::OK, "{path}");
        for b in [&mut landes, &mut staff, &mut presc] {
            assert_eq!(b.get(&path).await.status, StatusCode::FORBIDDEN, "{path}");
        }
        assert_eq!(anon.get(&path).await.location(), Some("/connexion"), "{path}");
    }
    assert_eq!(
        op.get("/commandes/999999/expires.csv").await.status,
        StatusCode::NOT_FOUND
    );
}
