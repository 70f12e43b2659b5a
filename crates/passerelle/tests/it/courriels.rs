//! Before the end of validity: funders are alerted once per threshold (30, 15
//! and 7 days), by e-mail through the outbox and on their order page; they may
//! stop the hand-out. Daily jobs run once per day whoever starts them.

use axum::http::StatusCode;
use jiff::ToSpan;

use crate::lieux::run;
use crate::lieux_pages::signed_in;
use crate::pass::{ready, scene};
use crate::support::cli_ok as ok;
use crate::support::TestApp;

async fn queued(app: &TestApp) -> i64 {
    app.scalar_i64("SELECT COUNT(*) FROM courriels").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funders_are_alerted_before_the_end_and_may_stop_hand_outs() {
    let app = TestApp::new().await;
    let s = ready(&app, scene(&app).await).await;
    let order = s.order;
    let (mut funder, _) = signed_in(&app, "commanditaire", "commanditaire", "finances@gironde.fr").await;
    let (mut stranger, _) = signed_in(&app, "commanditaire", "commanditaire", "autre@financeur.fr").await;
    app.exec(&format!(
        "UPDATE accounts SET organisation_id = (SELECT commanditaire_id FROM commandes WHERE id = {order}) \
         WHERE email = 'finances@gironde.fr'"
    ))
    .await
    .unwrap();
    let today = passerelle_core::Horloge::systeme().today_paris();
    let fin = today.saturating_add(20.days());
    app.exec(&format!(
        "UPDATE commandes SET fin = '{}' WHERE id = {order}",
        fin.strftime("%Y-%m-%d")
    ))
    .await
    .unwrap();
    let day = |d: jiff::civil::Date| d.strftime("%Y-%m-%d").to_string();
    // This test counts alerts only: the monthly digests, which the daily jobs
    // queue during the first days of a month, are marked done for the months
    // the days below would send (they are tested in recapitulatifs.rs).
    for d in [today, today.saturating_add(1.days()), fin.saturating_sub(10.days())] {
        let m = passerelle_core::recapitulatifs::Mois::precedent(d).unwrap();
        app.exec(&format!(
            "INSERT INTO taches_planifiees (nom, periode, started_at) VALUES ('{}', '{}', 0) ON CONFLICT DO NOTHING",
            passerelle_core::recapitulatifs::JOB,
            m.cle
        ))
        .await
        .unwrap();
    }

    // 20 days before the end: the 30-day alert, once, however often the jobs run.
    ok(&app, &["taches", "quotidiennes", "--date", &day(today)]);
    assert_eq!(queued(&app).await, 1);
    ok(&app, &["taches", "quotidiennes", "--date", &day(today)]);
    ok(
        &app,
        &["taches", "quotidiennes", "--date", &day(today.saturating_add(1.days()))],
    );
    assert_eq!(queued(&app).await, 1, "one alert per threshold");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM taches_planifiees WHERE nom = 'alertes-fin-de-validite'")
            .await,
        2,
        "one run per day"
    );
    // 10 days before: the 15-day alert.
    ok(
        &app,
        &["taches", "quotidiennes", "--date", &day(fin.saturating_sub(10.days()))],
    );
    assert_eq!(queued(&app).await, 2);
    assert_eq!(ok(&app, &["courriels", "attente"]).trim(), "2");

    // Sent through SMTP (a local sink), then not again.
    let sink = crate::smtp::start().await;
    let (code, out, err) = run(&app, &["courriels", "envoyer", "--smtp-url", &sink.url, "--json"]);
    assert_eq!(code, 0, "{out} {err}");
    let got = sink.received();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|m| m.contains("finances@gironde.fr")));
    let body = &got[0];
    assert!(
        body.contains(&format!("commande n=C2=B0 {order}")) || body.contains(&format!("commande n° {order}")),
        "{body}"
    );
    assert!(body.contains("pas encore remis : 2"), "{body}");
    assert!(
        !got.iter().any(|m| m.contains("autre@financeur.fr")),
        "only the funder's people"
    );
    let (code, _, _) = run(&app, &["courriels", "envoyer", "--smtp-url", &sink.url]);
    assert_eq!(code, 0);
    assert_eq!(sink.received().len(), 2, "sent once");
    assert_eq!(ok(&app, &["courriels", "attente"]).trim(), "0");

    // The order page says it too; the funder stops the hand-out, and resumes it.
    let page = funder.get(&format!("/commandes/{order}")).await;
    // Issue 22: a French date and the right plural, never « 2026-… » or « jour(s) ».
    assert!(
        page.body.contains("Fin de validité dans 20 jours, le "),
        "{}",
        page.body
    );
    let fin = app
        .scalar_text(&format!("SELECT fin FROM commandes WHERE id = {order}"))
        .await;
    assert!(
        page.body.contains(&passerelle_core::dates_fr::jour_fr(&fin)),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&fin), "{}", page.body);
    // Issue 23: stopping asks for a confirmation, on a page that says what it does.
    assert!(
        page.body.contains(&format!(
            "href=\"/commandes/{order}/remises\">Arrêter la remise des carnets</a>"
        )),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("name=\"arreter\" value=\"oui\""),
        "no stop at once from the order page"
    );
    let confirm = funder.get(&format!("/commandes/{order}/remises")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm
            .body
            .contains("Les prescripteurs ne pourront plus remettre de carnet de cette commande")
            && confirm.body.contains("name=\"arreter\" value=\"oui\""),
        "{}",
        confirm.body
    );
    assert_eq!(
        stranger.get(&format!("/commandes/{order}/remises")).await.status,
        StatusCode::FORBIDDEN
    );
    let r = stranger
        .post(&format!("/commandes/{order}/remises"), &[("arreter", "oui")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = funder
        .post(&format!("/commandes/{order}/remises"), &[("arreter", "oui")])
        .await;
    assert_eq!(
        r.location(),
        Some(format!("/commandes/{order}?ok=remises-arretees").as_str())
    );
    let second = (s.first_booklet + 1).to_string();
    let (code, _, err) = run(
        &app,
        &[
            "carnets",
            "remettre",
            &second,
            "--public",
            "seniors",
            "--commune",
            "33318",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("arrêté la remise"), "{err}");
    let r = funder
        .post(&format!("/commandes/{order}/remises"), &[("arreter", "non")])
        .await;
    assert_eq!(
        r.location(),
        Some(format!("/commandes/{order}?ok=remises-reprises").as_str())
    );
    ok(
        &app,
        &[
            "carnets",
            "remettre",
            &second,
            "--public",
            "seniors",
            "--commune",
            "33318",
        ],
    );
    assert!(app.journal_actions().await.iter().any(|a| a == "commande.remises"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_server_refuses_stays_queued_with_its_error() {
    let app = TestApp::new().await;
    let mut tx = app.core.db.begin().await.unwrap();
    assert!(
        passerelle_core::mail::enqueue(&mut tx, "k1", "quelqu.un@exemple.fr", "Sujet", "Corps")
            .await
            .unwrap()
    );
    assert!(
        !passerelle_core::mail::enqueue(&mut tx, "k1", "quelqu.un@exemple.fr", "Sujet", "Corps")
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, _, _) = run(
        &app,
        &["courriels", "envoyer", "--smtp-url", &format!("smtp://{closed}")],
    );
    assert_eq!(code, 1);
    assert_eq!(app.scalar_i64("SELECT tentatives FROM courriels").await, 1);
    assert!(!app.scalar_text("SELECT erreur FROM courriels").await.is_empty());
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM courriels WHERE envoye_at IS NULL")
            .await,
        1
    );
}
