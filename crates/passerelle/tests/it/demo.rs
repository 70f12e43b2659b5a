//! The demonstration data of `passerelle serve --demo`: accounts, places and a
//! Pass Numérique order ready to redeem within a minute.

use axum::http::StatusCode;
use serde_json::json;

use crate::pass::call;
use crate::support::{load_territories, TestApp};

#[tokio::test]
async fn the_demo_lets_a_new_user_redeem_a_cheque_at_once() {
    let app = TestApp::new().await;
    load_territories(&app);

    let demo = passerelle_core::demo::load_if_empty(&app.core).await.unwrap().unwrap();
    assert_eq!(demo.logins.len(), 9);
    assert!(demo.logins.iter().all(|l| l.password.len() >= 12));
    // Aidants Connect accounts have their TOTP secret set (printed at start).
    let with_totp: Vec<&str> = demo
        .logins
        .iter()
        .filter(|l| l.totp_secret.is_some())
        .map(|l| l.email.as_str())
        .collect();
    assert_eq!(
        with_totp,
        [
            "referent@demo.passerelle.fr",
            "aidant@demo.passerelle.fr",
            "aidante@demo.passerelle.fr"
        ]
    );
    assert_eq!(demo.pass_skipped, None);
    let pass = demo.pass.unwrap();
    assert_eq!(pass.codes.len(), 3);
    assert_eq!(pass.place, "Espace public numérique de Pessac");

    let body = json!({ "code": pass.codes[0], "service": "Accès internet et matériel informatique" }).to_string();
    let (status, r) = call(
        &app,
        "/api/v1/cheques/encaisser",
        Some(&pass.api_key),
        Some("demo-1"),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let page = app
        .browser()
        .get(&format!("/c/{}", pass.codes[1].replace('-', "")))
        .await;
    assert!(page.body.contains("Ce chèque est valable"), "{}", page.body);
    assert!(app
        .browser()
        .get("/lieux/demo-2")
        .await
        .body
        .contains("Accepte le Pass Numérique"));

    // The place has a statement: two cheques redeemed on the demonstration's day, paid now.
    assert_eq!(pass.releves.len(), 1, "{:?}", pass.releves);
    let login = demo
        .logins
        .iter()
        .find(|l| l.email == "epn-pessac@demo.passerelle.fr")
        .unwrap();
    let mut staff = app.browser();
    staff.login(&login.email, &login.password).await;
    let r = staff.get("/releves").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains(&pass.releves[0]), "{}", r.body);
    let r = staff.get(&format!("/releves/{}", pass.releves[0])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("Total : <strong>20 €</strong> pour 2 chèques"),
        "two cheques of 10 €: {}",
        r.body
    );
    let out = crate::support::cli(&app, &["journal", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Loaded once only.
    assert!(passerelle_core::demo::load_if_empty(&app.core).await.unwrap().is_none());
}
