//! A renewed mandate is not a revoked one: its own state, « Renouvelé par le
//! mandat n° … », on every page that shows it (the aidant's list and detail,
//! the public check the paper's QR code opens, the usager's space), and it
//! cannot be renewed a second time.

use axum::http::StatusCode;
use passerelle_core::aidants_connect::mandats;

use crate::mandats_support::*;
use crate::support::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_mandate_says_which_mandate_renewed_it_everywhere() {
    let m = serve().await;
    let a = m.structure("France Services de Pessac", &["papiers", "social"]).await;
    let Aidant { mut b, .. } = m.aidant(a, "aidant@exemple.fr").await;
    m.identify(&mut b, "angela").await;
    let old = conclude(&mut b, &["papiers", "social"], "MONTH").await;

    m.app.exec("UPDATE franceconnect_etats SET used_at = 0").await.unwrap();
    let r = b
        .post(
            &format!("/aidants-connect/mandats/{old}/renouveler"),
            &form(&["papiers", "social"], "LONG", true),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let new = mandate_of(r.location());
    let renewed = format!("Renouvelé par le mandat n° {new}");

    // The aidant's detail page and list.
    let r = b.get(&format!("/aidants-connect/mandats/{old}")).await;
    assert!(r.body.contains(&renewed), "{}", r.body);
    assert!(
        !r.body.contains("Révoqué<") && !r.body.contains(">Révoqué"),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains(&format!("/aidants-connect/mandats/{old}/renouveler\"")),
        "no second renewal offered: {}",
        r.body
    );
    let r = b.get("/aidants-connect/mandats").await;
    assert!(r.body.contains(&renewed), "{}", r.body);

    // A second renewal of the old one is refused, pointing to the new one.
    let r = b
        .post(
            &format!("/aidants-connect/mandats/{old}/renouveler"),
            &form(&["papiers"], "LONG", true),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body.contains(&format!("déjà été renouvelé par le mandat n° {new}")),
        "{}",
        r.body
    );

    // The QR code of the paper the usager already signed.
    let mut anyone = Browser::on(m.router.clone());
    let token = mandats::model::verification_token(&m.app.core.keys, old);
    let r = anyone.get(&format!("/mandats/verifier/{token}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains(&format!("mandat n° {old} — {renewed}")), "{}", r.body);
    assert!(
        r.body.contains("fr-alert--warning"),
        "not shown as in force: {}",
        r.body
    );

    // The usager's own space.
    let mut usager = Browser::on(m.router.clone());
    let r = m
        .through_simulator(&mut usager, "/espace-usager/connexion", "angela")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let callback = m.local(r.location().unwrap()).to_string();
    assert_eq!(usager.get(&callback).await.location(), Some("/espace-usager"));
    let r = usager.get("/espace-usager").await;
    assert!(
        r.body.contains(&format!("État : <strong>{renewed}</strong>")),
        "{}",
        r.body
    );
    assert!(!r.body.contains("État : <strong>Révoqué</strong>"), "{}", r.body);
}

/// The usage name FranceConnect gives (Fatou DIALLO, « MARTIN ») is on the
/// recap, the mandate page and the signed attestation, beside the birth name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usage_name_is_on_the_recap_the_mandate_and_the_attestation() {
    let m = serve().await;
    let a = m.structure("France Services de Pessac", &["papiers", "social"]).await;
    let Aidant { mut b, .. } = m.aidant(a, "aidant@exemple.fr").await;
    m.identify(&mut b, "fatou").await;
    let identity = "Fatou DIALLO, nom d&#39;usage : MARTIN";
    let recap = b
        .get(&format!(
            "/aidants-connect/mandats/recapitulatif?{}",
            query(&["social"], "MONTH")
        ))
        .await;
    assert!(recap.body.contains(identity), "{}", recap.body);
    let id = conclude(&mut b, &["social"], "MONTH").await;
    let r = b.get(&format!("/aidants-connect/mandats/{id}")).await;
    assert!(r.body.contains(identity), "{}", r.body);
    let pdf = m
        .pdf(&b, &format!("/aidants-connect/mandats/{id}/attestation.pdf"))
        .await;
    if let Some(text) = text_of_pdf(&pdf) {
        assert!(text.contains("Fatou DIALLO, nom d'usage : MARTIN"), "{text}");
    }
}
