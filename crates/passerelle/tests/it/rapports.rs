//! Funders' reports: an order's and a funder's figures, exact, in the page, the
//! CSV and the command line's JSON, from orders built, issued, handed out and
//! redeemed here; each route refused to whoever must not see it.

use std::collections::BTreeMap;

use axum::http::StatusCode;

use crate::lieux::copy;
use crate::lieux_pages::signed_in;
use crate::pass::{call, ACCES};
use crate::support::pass_numerique::cli_order;
use crate::support::{cli_json as json_of, cli_ok as ok};
use crate::support::{cli_organisation, load_territories, Browser, TestApp, BASE};

const AIDE: &str = "Aide aux démarches administratives";

/// An order created, issued (codes kept), paid and allotted to `prescriber` by the command line.
pub(crate) struct Issued {
    pub id: i64,
    pub first: i64,
    /// Codes by (booklet, rank).
    pub codes: BTreeMap<(i64, i64), String>,
}

pub(crate) fn order(app: &TestApp, funder: i64, prescriber: &str, booklets: i64, fin: &str) -> Issued {
    let funder = funder.to_string();
    let created = cli_order(
        app,
        &funder,
        booklets,
        ("2020-01-01", fin),
        "33,40",
        &["--publics", "seniors,demandeurs-emploi"],
    );
    let id = created["id"].as_i64().unwrap();
    let codes_file = app.data_dir.parent().unwrap().join(format!("codes-{id}.csv"));
    let issued = json_of(
        app,
        &[
            "commandes",
            "emettre",
            &id.to_string(),
            "--codes",
            codes_file.to_str().unwrap(),
            "--url-base",
            BASE,
        ],
    );
    let first = issued["emission"]["premier_carnet"].as_i64().unwrap();
    let codes = std::fs::read_to_string(&codes_file)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            ((f[0].parse().unwrap(), f[1].parse().unwrap()), f[2].to_string())
        })
        .collect();
    ok(app, &["commandes", "payer", &id.to_string(), "--reference", "VIR-42"]);
    let last = (first + booklets - 1).to_string();
    ok(
        app,
        &[
            "carnets",
            "attribuer",
            "--commande",
            &id.to_string(),
            "--prescripteur",
            prescriber,
            "--de",
            &first.to_string(),
            "--a",
            &last,
        ],
    );
    Issued { id, first, codes }
}

pub(crate) fn hand_out(app: &TestApp, booklet: i64, public: &str, commune: &str) {
    ok(
        app,
        &[
            "carnets",
            "remettre",
            &booklet.to_string(),
            "--public",
            public,
            "--commune",
            commune,
        ],
    );
}

/// Territories, a prescriber, and four qualified places with an API key each:
/// Bordeaux (mednum-1) and Pessac (mednum-2) in the Gironde, Lormont (mednum-3),
/// Mont-de-Marsan (mednum-4) in the Landes. Returns the prescriber and the keys by place.
pub(crate) async fn places(app: &TestApp) -> (String, BTreeMap<&'static str, String>) {
    load_territories(app);
    let prescriber = cli_organisation(app, "prescripteur", "CCAS");
    let file = copy(app, "propre.csv");
    let mut text = std::fs::read_to_string(&file).unwrap();
    let pessac = text.lines().find(|l| l.starts_with("mednum-2,")).unwrap().to_string();
    text.push_str(
        &pessac
            .replace("mednum-2,21330318300015,", "mednum-4,21400192900014,")
            .replace(
                "Espace public numérique de Pessac,Pessac,33600,33318,",
                "Maison France Services,Mont-de-Marsan,40000,40192,",
            )
            .replace("44.8067,-0.6311", "43.8902,-0.4997"),
    );
    text.push('\n');
    std::fs::write(&file, text).unwrap();
    ok(app, &["lieux", "import", &file]);
    let mut keys = BTreeMap::new();
    for p in ["mednum-1", "mednum-2", "mednum-3", "mednum-4"] {
        ok(app, &["lieux", "qualifier", p]);
        keys.insert(
            p,
            json_of(app, &["lieux", "cle-api", p])["cle"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    (prescriber, keys)
}

/// Redeems at a place of `places` (mednum-1 gives help with procedures, the others internet access).
pub(crate) async fn redeem(app: &TestApp, keys: &BTreeMap<&'static str, String>, place: &str, code: &str, idem: &str) {
    let service = if place == "mednum-1" { AIDE } else { ACCES };
    let key = &keys[place];
    let body = serde_json::json!({ "code": code, "service": service }).to_string();
    let (st, v) = call(app, "/api/v1/cheques/encaisser", Some(key), Some(idem), body).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
}

/// Moves a redemption (booklet, rank) to a day, as if it had been made then.
async fn dated(app: &TestApp, booklet: i64, rank: i64, day: &str) {
    let n = app
        .exec(&format!(
            "UPDATE encaissements SET jour = '{day}' WHERE cheque_id = \
             (SELECT id FROM cheques WHERE carnet_id = {booklet} AND rang = {rank})"
        ))
        .await
        .unwrap();
    assert_eq!(n, 1);
}

/// The CSV as (dimension, cle) → (carnets_remis, cheques, valeur_centimes), checking each row's euros.
fn parse_csv(body: &str) -> BTreeMap<(String, String), (String, String, String)> {
    let mut r = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "dimension",
            "cle",
            "libelle",
            "carnets_remis",
            "cheques",
            "valeur_centimes",
            "valeur_euros"
        ]
    );
    let mut rows = BTreeMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        if let Ok(cents) = rec[5].parse::<i64>() {
            assert_eq!(rec[6], format!("{}.{:02}", cents / 100, cents % 100));
        }
        let key = (rec[0].to_string(), rec[1].to_string());
        let value = (rec[3].to_string(), rec[4].to_string(), rec[5].to_string());
        assert!(rows.insert(key, value).is_none(), "row twice: {rec:?}");
    }
    rows
}

fn num(s: &str) -> i64 {
    s.parse().unwrap_or(0)
}

/// Each dimension adds up to the redeemed total.
fn sums_to_total(rows: &BTreeMap<(String, String), (String, String, String)>) {
    let total = &rows[&("total".to_string(), "encaisses".to_string())];
    for dim in ["mois", "lieu", "commune", "departement", "public"] {
        let (n, v) = rows
            .iter()
            .filter(|((d, _), _)| d == dim)
            .fold((0, 0), |(n, v), (_, r)| (n + num(&r.1), v + num(&r.2)));
        assert_eq!((n, v), (num(&total.1), num(&total.2)), "{dim}");
    }
}

fn row(rows: &BTreeMap<(String, String), (String, String, String)>, dim: &str, key: &str) -> (String, String, String) {
    rows.get(&(dim.to_string(), key.to_string()))
        .cloned()
        .unwrap_or_else(|| panic!("no row {dim}/{key}: {rows:?}"))
}

fn t(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.into(), b.into(), c.into())
}

async fn refused(b: &mut Browser, path: &str, status: StatusCode) {
    let r = b.get(path).await;
    assert_eq!(r.status, status, "{path}: {}", r.body);
}

#[tokio::test]
async fn funders_see_exact_reports_of_their_orders_and_nobody_else_does() {
    let app = TestApp::new().await;
    let (mut gironde, gironde_org) = signed_in(&app, "commanditaire", "commanditaire", "fin@gironde.fr").await;
    let (mut landes, landes_org) = signed_in(&app, "commanditaire", "commanditaire", "fin@landes.fr").await;
    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let (mut staff, _) = signed_in(&app, "lieu", "lieu", "accueil@pessac.fr").await;
    let (mut presc, _) = signed_in(&app, "prescripteur", "prescripteur", "p@ccas.fr").await;
    let mut anon = app.browser();
    let (prescriber, keys) = places(&app).await;

    // The Gironde: a running order of 3 booklets (two handed out, one lost) and an order past its end, expired.
    let a = order(&app, gironde_org, &prescriber, 3, "2099-12-31");
    let old = order(&app, gironde_org, &prescriber, 1, "2025-06-30");
    // The Landes: one booklet, one cheque redeemed.
    let b = order(&app, landes_org, &prescriber, 1, "2099-12-31");
    let (b1, b2, b3) = (a.first, a.first + 1, a.first + 2);
    hand_out(&app, b1, "seniors", "33318");
    hand_out(&app, b2, "demandeurs-emploi", "40192");
    hand_out(&app, b.first, "seniors", "40192");
    ok(&app, &["carnets", "perdu", &b3.to_string()]);
    ok(&app, &["taches", "quotidiennes", "--date", "2025-09-01"]);

    redeem(&app, &keys, "mednum-1", &a.codes[&(b1, 1)], "r1").await;
    redeem(&app, &keys, "mednum-1", &a.codes[&(b1, 2)], "r2").await;
    redeem(&app, &keys, "mednum-2", &a.codes[&(b1, 3)], "r3").await;
    redeem(&app, &keys, "mednum-4", &a.codes[&(b2, 1)], "r4").await;
    redeem(&app, &keys, "mednum-4", &a.codes[&(b2, 2)], "r5").await;
    redeem(&app, &keys, "mednum-4", &b.codes[&(b.first, 1)], "r6").await;
    dated(&app, b1, 1, "2026-09-20").await;
    dated(&app, b1, 2, "2026-10-02").await;
    dated(&app, b1, 3, "2026-10-02").await;
    dated(&app, b2, 1, "2026-11-03").await;
    dated(&app, b2, 2, "2026-11-04").await;
    dated(&app, b.first, 1, "2026-11-04").await;
    // Hand-outs: booklet 1 in September; booklet 2 at 23:30 UTC on 31 October, already November in Paris.
    app.exec(&format!(
        "UPDATE carnets SET remis_at = 1789027200000000 WHERE numero = {b1}"
    ))
    .await
    .unwrap();
    app.exec(&format!(
        "UPDATE carnets SET remis_at = 1793489400000000 WHERE numero = {b2}"
    ))
    .await
    .unwrap();

    // The order's page: every figure, in the tables under the charts.
    let path = format!("/commandes/{}/rapport", a.id);
    let page = gironde.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = page.body.replace('\u{a0}', " ");
    for expected in [
        "<th scope=\"row\">Émis</th><td>3</td><td>30</td><td>300 €</td>",
        "<th scope=\"row\">Remis aux bénéficiaires</th><td>2</td><td>20</td><td>200 €</td>",
        "<th scope=\"row\">Encaissés</th><td>—</td><td>5</td><td>50 €</td>",
        "<th scope=\"row\">Non utilisés (encore valables ou en attente du paiement)</th><td>—</td><td>15</td><td>150 €</td>",
        "<th scope=\"row\">Expirés</th><td>—</td><td>0</td><td>0 €</td>",
        "<th scope=\"row\">Annulés (carnets perdus)</th><td>1</td><td>10</td><td>100 €</td>",
        "<th scope=\"row\">septembre 2026</th><td>1</td><td>1</td><td>10 €</td>",
        "<th scope=\"row\">octobre 2026</th><td>0</td><td>2</td><td>20 €</td>",
        "<th scope=\"row\">novembre 2026</th><td>1</td><td>2</td><td>20 €</td>",
        "<th scope=\"row\">Gironde (33)</th><td>3</td><td>30 €</td>",
        "<th scope=\"row\">Landes (40)</th><td>2</td><td>20 €</td>",
        "<th scope=\"row\">Seniors</th><td>1</td><td>3</td><td>30 €</td>",
        "<th scope=\"row\">Demandeurs d&#39;emploi</th><td>1</td><td>2</td><td>20 €</td>",
        "<th scope=\"row\">Bordeaux (33063)</th><td>2</td><td>20 €</td>",
        "<th scope=\"row\">Pessac (33318)</th><td>1</td><td>10 €</td>",
        "<th scope=\"row\">Mont-de-Marsan (40192)</th><td>2</td><td>20 €</td>",
        "<th scope=\"row\">Médiathèque de Mériadeck (mednum-1)</th><td>2</td><td>20 €</td>",
        "<th scope=\"row\">Maison France Services (mednum-4)</th><td>2</td><td>20 €</td>",
        "Avoirs émis au commanditaire (valeur faciale des chèques expirés ou annulés) : 0 €",
    ] {
        assert!(body.contains(expected), "{expected}\n{body}");
    }
    // Three charts, each an image with a title, each drawn twice (wide, and for a phone),
    // and no bar for the Landes' own order.
    assert_eq!(body.matches("<svg ").count(), 6);
    assert!(body.contains("aria-labelledby=\"graphique-mois-etroit-titre graphique-mois-etroit-desc\""));
    assert!(body.contains("role=\"img\" aria-labelledby=\"graphique-mois-titre graphique-mois-desc\""));
    assert!(!body.contains("mednum-3"), "no redemption at Lormont");
    assert!(gironde
        .get(&format!("/commandes/{}", a.id))
        .await
        .body
        .contains(&format!("href=\"/commandes/{}/rapport\"", a.id)));
    assert!(gironde.get("/commandes").await.body.contains("href=\"/rapports\""));

    // The order's CSV: the same figures, each dimension adding up to the total.
    let csv = gironde.get(&format!("{path}.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["cache-control"], "no-store");
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    let rows = parse_csv(&csv.body);
    sums_to_total(&rows);
    assert_eq!(row(&rows, "total", "emis"), t("3", "30", "30000"));
    assert_eq!(row(&rows, "total", "remis"), t("2", "20", "20000"));
    assert_eq!(row(&rows, "total", "encaisses"), t("", "5", "5000"));
    assert_eq!(row(&rows, "total", "non_utilises"), t("", "15", "15000"));
    assert_eq!(row(&rows, "total", "annules"), t("", "10", "10000"));
    assert_eq!(row(&rows, "total", "carnets_perdus"), t("1", "", ""));
    assert_eq!(row(&rows, "total", "avoirs"), t("", "", "0"));
    assert_eq!(row(&rows, "mois", "2026-11"), t("1", "2", "2000"));
    assert_eq!(row(&rows, "departement", "40"), t("", "2", "2000"));
    assert_eq!(row(&rows, "commune", "33063"), t("", "2", "2000"));
    assert_eq!(row(&rows, "lieu", "mednum-2"), t("", "1", "1000"));
    assert_eq!(row(&rows, "public", "demandeurs-emploi"), t("1", "2", "2000"));

    // The command line: the same report in JSON, and the same CSV file.
    let file = app.data_dir.parent().unwrap().join("rapport.csv");
    let j = json_of(
        &app,
        &[
            "commandes",
            "rapport",
            &a.id.to_string(),
            "--csv",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), csv.body);
    assert_eq!(j["totaux"]["encaisses"]["cheques"], 5);
    assert_eq!(j["totaux"]["encaisses"]["valeur_centimes"], 5000);
    assert_eq!(j["totaux"]["non_utilises"]["cheques"], 15);
    assert_eq!(
        j["par_lieu"][0]["cle"], "mednum-4",
        "most first, then by name (Maison, Médiathèque)"
    );
    assert_eq!(j["par_lieu"][2]["cle"], "mednum-2");
    assert_eq!(j["par_mois"].as_array().unwrap().len(), 3);
    let text = ok(&app, &["commandes", "rapport", &a.id.to_string()]);
    assert!(text.contains("Landes (40) : 2 encaissés, 20 €"), "{text}");

    // The Gironde's orders together: the expired order and its credit note join; the Landes' order does not.
    let page = gironde.get("/rapports").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("aria-current=\"page\">Rapports"));
    assert!(
        !page.body.contains("id=\"commanditaire\""),
        "no choice of funder for a funder"
    );
    let rows = parse_csv(&gironde.get("/rapports.csv").await.body);
    sums_to_total(&rows);
    assert_eq!(row(&rows, "total", "emis"), t("4", "40", "40000"));
    assert_eq!(row(&rows, "total", "encaisses"), t("", "5", "5000"));
    assert_eq!(row(&rows, "total", "expires"), t("", "10", "10000"));
    assert_eq!(row(&rows, "total", "avoirs"), t("", "", "10000"));
    assert_eq!(row(&rows, "departement", "40"), t("", "2", "2000"));
    let own = gironde.get(&format!("/rapports.csv?commanditaire={gironde_org}")).await;
    assert_eq!(parse_csv(&own.body), rows);

    // The opérateur: every order by default, or one funder's.
    let page = op.get("/rapports").await;
    assert!(page
        .body
        .contains("<option value=\"\">Tous les commanditaires</option>"));
    let rows = parse_csv(&op.get("/rapports.csv").await.body);
    sums_to_total(&rows);
    assert_eq!(row(&rows, "total", "emis"), t("5", "50", "50000"));
    assert_eq!(row(&rows, "total", "encaisses"), t("", "6", "6000"));
    assert_eq!(row(&rows, "departement", "40"), t("", "3", "3000"));
    assert_eq!(row(&rows, "lieu", "mednum-4"), t("", "3", "3000"));
    assert_eq!(row(&rows, "public", "seniors"), t("2", "4", "4000"));
    let page = op.get(&format!("/rapports?commanditaire={landes_org}")).await;
    assert!(page.body.contains(&format!("<option value=\"{landes_org}\" selected>")));
    assert!(page
        .body
        .contains("<th scope=\"row\">Encaissés</th><td>—</td><td>1</td><td>10 €</td>"));
    let rows = parse_csv(&op.get(&format!("/rapports.csv?commanditaire={landes_org}")).await.body);
    assert_eq!(row(&rows, "total", "encaisses"), t("", "1", "1000"));
    assert_eq!(
        op.get(&format!("/commandes/{}/rapport", b.id)).await.status,
        StatusCode::OK
    );
    refused(&mut op, "/rapports?commanditaire=abc", StatusCode::BAD_REQUEST).await;
    refused(
        &mut op,
        &format!("/rapports?commanditaire={prescriber}"),
        StatusCode::NOT_FOUND,
    )
    .await;
    refused(&mut op, "/commandes/999999/rapport", StatusCode::NOT_FOUND).await;

    // Refusals: another funder, a place, a prescriber; the anonymous visitor signs in first.
    let landes_only = [
        format!("/commandes/{}/rapport", a.id),
        format!("/commandes/{}/rapport.csv", a.id),
        format!("/commandes/{}/rapport", old.id),
        format!("/rapports?commanditaire={gironde_org}"),
        format!("/rapports.csv?commanditaire={gironde_org}"),
    ];
    for p in &landes_only {
        refused(&mut landes, p, StatusCode::FORBIDDEN).await;
    }
    refused(
        &mut gironde,
        &format!("/commandes/{}/rapport.csv", b.id),
        StatusCode::FORBIDDEN,
    )
    .await;
    refused(
        &mut gironde,
        &format!("/rapports.csv?commanditaire={landes_org}"),
        StatusCode::FORBIDDEN,
    )
    .await;
    let all = [
        format!("/commandes/{}/rapport", a.id),
        format!("/commandes/{}/rapport.csv", a.id),
        "/rapports".to_string(),
        "/rapports.csv".to_string(),
        format!("/rapports.csv?commanditaire={gironde_org}"),
    ];
    for p in &all {
        refused(&mut staff, p, StatusCode::FORBIDDEN).await;
        refused(&mut presc, p, StatusCode::FORBIDDEN).await;
        assert_eq!(anon.get(p).await.location(), Some("/connexion"), "{p}");
    }
}
