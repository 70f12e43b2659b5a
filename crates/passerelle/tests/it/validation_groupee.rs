//! The counter's group commit: requests that go together in one transaction
//! see what the ones before them did (a cheque just redeemed, a key just used,
//! the daily cap, failures just counted), and the journal stays one chain.

use passerelle_core::pass_numerique::guichet::{self, Presentateur, Tentative};
use passerelle_core::pass_numerique::redeem::{Motif, Outcome};

use crate::pannes_encaissements::redeemable;
use crate::support::{cli_ok, TestApp};

fn motif(t: &Tentative<Outcome>) -> Option<Motif> {
    match t {
        Tentative::Faite(Outcome::Refused(v)) => Some(v.motif),
        Tentative::Faite(Outcome::Redeemed(_)) => Some(Motif::Valide),
        Tentative::Faite(Outcome::Replayed(_)) => None,
        Tentative::TropDeTentatives => None,
    }
}

fn id(t: &Tentative<Outcome>) -> Option<i64> {
    match t {
        Tentative::Faite(Outcome::Redeemed(r)) | Tentative::Faite(Outcome::Replayed(r)) => Some(r.encaissement),
        _ => None,
    }
}

#[tokio::test]
async fn requests_in_one_group_see_what_the_ones_before_them_did() {
    let app = TestApp::new().await;
    let r = redeemable(&app, 2).await;
    let (booklet, _) = r.codes[0];
    let codes: Vec<&str> = r
        .codes
        .iter()
        .filter(|(b, _)| *b == booklet)
        .map(|(_, c)| c.as_str())
        .collect();
    let (key, service) = r.place_of(booklet);
    // At most two cheques of one booklet per place and day.
    app.exec(&format!("UPDATE commandes SET plafond_jour = 2 WHERE id = {}", r.order))
        .await
        .expect("plafond");
    let cle = guichet::cle_api(&app.core, key)
        .await
        .expect("clé")
        .expect("clé valide");
    let p = Presentateur::Logiciel {
        cle: &cle,
        ip: "192.0.2.7",
    };
    let (a, b, c) = (codes[0], codes[1], codes[2]);
    let out = guichet::encaisser_ensemble(
        &app.core,
        p,
        &cle.lieu,
        &[
            (a, service, Some("k1")),
            (a, service, Some("k2")),
            (a, service, Some("k1")),
            (b, service, Some("k1")),
            ("XXXX", service, Some("k3")),
            (b, service, Some("k4")),
            (c, service, Some("k5")),
        ],
    )
    .await
    .expect("groupe");
    let motifs: Vec<Option<Motif>> = out.iter().map(motif).collect();
    assert_eq!(
        motifs,
        vec![
            Some(Motif::Valide),
            Some(Motif::DejaEncaisse),
            None,
            Some(Motif::CleIdempotenceReutilisee),
            Some(Motif::CodeMalSaisi),
            Some(Motif::Valide),
            Some(Motif::PlafondAtteint),
        ]
    );
    // The replay is the first receipt; the second try says it was redeemed here.
    assert_eq!(id(&out[2]), id(&out[0]));
    assert!(id(&out[0]).is_some() && id(&out[0]) != id(&out[5]));
    match &out[1] {
        Tentative::Faite(Outcome::Refused(v)) => assert!(v.message.contains("dans votre lieu"), "{}", v.message),
        other => panic!("{other:?}"),
    }
    let redeemed = format!(
        "SELECT COUNT(*) FROM encaissements e JOIN carnets k ON k.numero = e.carnet_id WHERE k.numero = {booklet}"
    );
    assert_eq!(app.scalar_i64(&redeemed).await, 2);
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM cheques WHERE carnet_id = {booklet} AND etat = 'encaisse'"
        ))
        .await,
        2
    );
    let counted = "SELECT hits FROM rate_limits WHERE key LIKE 'cheques-echecs-cle:%'";
    assert_eq!(app.scalar_i64(counted).await, 1, "the malformed code is one failure");

    // 35 wrong codes in one group: 29 more are looked at (30 failures in all), 6 are refused unseen.
    let wrong: Vec<String> = (0..35).map(|i| format!("X{i}")).collect();
    let demandes: Vec<(&str, &str, Option<&str>)> = wrong.iter().map(|w| (w.as_str(), service, None)).collect();
    let out = guichet::encaisser_ensemble(&app.core, p, &cle.lieu, &demandes)
        .await
        .expect("groupe");
    let refused = out.iter().filter(|t| matches!(t, Tentative::TropDeTentatives)).count();
    assert_eq!((out.len() - refused, refused), (29, 6));
    assert_eq!(app.scalar_i64(counted).await, 30);
    // Past the limit, even a good code is not looked at.
    let d = codes[3];
    let out = guichet::encaisser_ensemble(&app.core, p, &cle.lieu, &[(d, service, Some("k6"))])
        .await
        .expect("groupe");
    assert!(matches!(out[0], Tentative::TropDeTentatives));

    // A key with a control character (PostgreSQL refuses a NUL in text) is refused before
    // the group, which it would otherwise fail as a whole.
    let e = guichet::encaisser_ensemble(&app.core, p, &cle.lieu, &[(d, service, Some("k\u{0}7"))])
        .await
        .expect_err("clé refusée");
    assert!(e.to_string().contains("caractères de contrôle"), "{e}");

    // The chain holds (the command fails otherwise) and has one entry per redemption.
    cli_ok(&app, &["journal", "verify"]);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM journal WHERE action = 'cheque.encaissement'")
            .await,
        2
    );
}
