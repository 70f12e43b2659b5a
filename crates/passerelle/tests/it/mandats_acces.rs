//! Mandates stay within their structure, session and usager: the negative
//! tests of every route (other structure, anonymous, opérateur, another
//! session, stale TOTP, deactivated membership) and the usager's own
//! revocation through the core API.

use axum::http::StatusCode;
use passerelle_core::aidants_connect::mandats::{self, Revoker};

use crate::mandats_support::*;
use crate::support::{cli, Browser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mandates_stay_within_their_structure_session_and_usager() {
    let m = serve().await;
    let a = m.structure("Structure A", &["papiers", "social"]).await;
    let b_org = m.structure("Structure B", &["papiers", "social"]).await;
    let mut aidant_a = m.aidant(a, "a@exemple.fr").await;
    let mut aidant_b = m.aidant(b_org, "b@exemple.fr").await;
    m.identify(&mut aidant_a.b, "angela").await;
    let id = conclude(&mut aidant_a.b, &["papiers", "social"], "SEMESTER").await;
    // Something revoked, so that the certificate exists for A.
    let r = aidant_a
        .b
        .post(
            &format!("/aidants-connect/mandats/{id}/revoquer"),
            &[("demarche", "social")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    // An aidant of structure B never reaches A's mandate.
    let b = &mut aidant_b.b;
    for path in [
        format!("/aidants-connect/mandats/{id}"),
        format!("/aidants-connect/mandats/{id}/attestation.pdf"),
        format!("/aidants-connect/mandats/{id}/revocation.pdf"),
        format!("/aidants-connect/mandats/{id}/renouveler"),
        format!(
            "/aidants-connect/mandats/{id}/renouveler/recapitulatif?{}",
            query(&["papiers"], "MONTH")
        ),
        format!("/aidants-connect/mandats/{id}/revoquer"),
        format!("/aidants-connect/mandats/{id}/revoque"),
    ] {
        assert_eq!(b.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let entries = m.app.journal_actions().await.len();
    let r = b
        .post(&format!("/aidants-connect/mandats/{id}/revoquer"), &[("demarche", "")])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = b
        .post(
            &format!("/aidants-connect/mandats/{id}/renouveler"),
            &form(&["papiers"], "MONTH", true),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!b
        .get("/aidants-connect/mandats")
        .await
        .body
        .contains(&format!("Mandat n° {id}")));
    // B's aidant has no usager identified on his session: A's identification does not count.
    let r = b
        .post("/aidants-connect/mandats", &form(&["papiers"], "MONTH", true))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Aucun usager identifié"), "{}", r.body);
    assert_eq!(m.app.journal_actions().await.len(), entries);

    // A's own aidant on another session (another browser) cannot use that identification either.
    let mut other_session = m.sign_in(&aidant_a.email, &aidant_a.secret, 1).await;
    let r = other_session
        .post("/aidants-connect/mandats", &form(&["papiers"], "MONTH", true))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Aucun usager identifié"), "{}", r.body);
    assert!(other_session
        .get("/aidants-connect/mandats/nouveau")
        .await
        .body
        .contains("href=\"/franceconnect/connexion\""));
    let r = other_session
        .get(&format!(
            "/aidants-connect/mandats/recapitulatif?{}",
            query(&["papiers"], "MONTH")
        ))
        .await;
    assert_eq!(r.location(), Some("/aidants-connect/mandats/nouveau"));
    // On the first session, an identification older than 30 minutes no longer counts.
    m.app
        .exec("UPDATE franceconnect_etats SET used_at = used_at - 31 * 60 * 1000000")
        .await
        .unwrap();
    let r = aidant_a
        .b
        .post("/aidants-connect/mandats", &form(&["papiers"], "MONTH", true))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(m.count("SELECT COUNT(*) FROM mandats").await, 1);

    // Anonymous: sent to the login page; the public check alone is open.
    let mut anon = Browser::on(m.router.clone());
    for path in [
        "/aidants-connect/mandats".to_string(),
        "/aidants-connect/mandats/nouveau".to_string(),
        format!("/aidants-connect/mandats/{id}"),
        format!("/aidants-connect/mandats/{id}/attestation.pdf"),
        format!("/aidants-connect/mandats/{id}/revocation.pdf"),
        format!("/aidants-connect/mandats/{id}/revoquer"),
    ] {
        let r = anon.get(&path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.location(), Some("/connexion"), "{path}");
    }
    let r = anon
        .post(&format!("/aidants-connect/mandats/{id}/revoquer"), &[("demarche", "")])
        .await;
    assert!(r.status == StatusCode::SEE_OTHER || r.status == StatusCode::FORBIDDEN);
    let r = anon.get("/mandats/verifier/pas-un-jeton").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("Attestation non reconnue"), "{}", r.body);
    let forged = mandats::model::verification_token(&passerelle_core::Keys::ephemeral(), id);
    assert_eq!(
        anon.get(&format!("/mandats/verifier/{forged}")).await.status,
        StatusCode::NOT_FOUND,
        "a token signed by another key"
    );

    // The référent of A sees and handles A's mandates; B's référent does not.
    let mut referent_a = m.member(a, "ref-a@exemple.fr", "referent").await;
    assert!(referent_a
        .b
        .get("/aidants-connect/mandats")
        .await
        .body
        .contains(&format!("Mandat n° {id}")));
    assert_eq!(
        referent_a.b.get(&format!("/aidants-connect/mandats/{id}")).await.status,
        StatusCode::OK
    );
    // …but concluding, renewing, revoking and identifying usagers are the aidant's acts.
    let page = referent_a.b.get(&format!("/aidants-connect/mandats/{id}")).await.body;
    assert!(
        !page.contains("/renouveler\"") && !page.contains("Révoquer tout le mandat"),
        "{page}"
    );
    let list = referent_a.b.get("/aidants-connect/mandats").await.body;
    assert!(!list.contains("Conclure un nouveau mandat"), "{list}");
    let revoked_before = m
        .count("SELECT COUNT(*) FROM autorisations WHERE revoquee_at IS NOT NULL")
        .await;
    let r = referent_a
        .b
        .post(&format!("/aidants-connect/mandats/{id}/revoquer"), &[("demarche", "")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = referent_a
        .b
        .post(
            &format!("/aidants-connect/mandats/{id}/renouveler"),
            &form(&["papiers"], "MONTH", true),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = referent_a
        .b
        .post("/aidants-connect/mandats", &form(&["papiers"], "MONTH", true))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(
        referent_a.b.get("/franceconnect/connexion").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        m.count("SELECT COUNT(*) FROM autorisations WHERE revoquee_at IS NOT NULL")
            .await,
        revoked_before
    );
    let mut referent_b = m.member(b_org, "ref-b@exemple.fr", "referent").await;
    assert_eq!(
        referent_b.b.get(&format!("/aidants-connect/mandats/{id}")).await.status,
        StatusCode::NOT_FOUND
    );

    // The opérateur does not see mandates.
    let (op_id, op_secret) = m.app.account("operateur", "operateur", "op@exemple.fr", true).await;
    let _ = op_id;
    let mut op = m.sign_in("op@exemple.fr", &op_secret.unwrap(), 0).await;
    assert_eq!(op.get("/aidants-connect/mandats").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        op.get(&format!("/aidants-connect/mandats/{id}")).await.status,
        StatusCode::FORBIDDEN
    );

    // Revoking and renewing need a fresh TOTP: a stale one is asked again, nothing changes.
    m.app
        .exec(&format!("UPDATE sessions SET totp_verified_at = {}", stale()))
        .await
        .unwrap();
    let revoked_before = m
        .count("SELECT COUNT(*) FROM autorisations WHERE revoquee_at IS NOT NULL")
        .await;
    for (path, fields) in [
        (
            format!("/aidants-connect/mandats/{id}/revoquer"),
            vec![("demarche", "")],
        ),
        (
            format!("/aidants-connect/mandats/{id}/renouveler"),
            form(&["papiers"], "MONTH", true),
        ),
    ] {
        let r = aidant_a.b.post(&path, &fields).await;
        assert!(
            r.location()
                .unwrap_or_default()
                .starts_with("/connexion/totp-recent?suivant="),
            "{path}: {:?}",
            r.location()
        );
    }
    let r = aidant_a.b.get(&format!("/aidants-connect/mandats/{id}/revoquer")).await;
    assert!(r
        .location()
        .unwrap_or_default()
        .starts_with("/connexion/totp-recent?suivant="));
    assert_eq!(
        m.count("SELECT COUNT(*) FROM autorisations WHERE revoquee_at IS NOT NULL")
            .await,
        revoked_before
    );
    assert_eq!(m.count("SELECT COUNT(*) FROM mandats").await, 1);

    // A deactivated aidant of A: forbidden.
    m.app
        .exec(&format!(
            "UPDATE aidants_membres SET actif = FALSE WHERE organisation_id = {a}"
        ))
        .await
        .unwrap();
    assert_eq!(
        aidant_a.b.get(&format!("/aidants-connect/mandats/{id}")).await.status,
        StatusCode::FORBIDDEN
    );

    // The usager revokes from his own space (core API): his mandates only, journaled as himself.
    let usager = m.count(&format!("SELECT usager_id FROM mandats WHERE id = {id}")).await;
    let mine = mandats::of_usager(&m.app.core.db, usager).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].state, mandats::State::PartlyRevoked);
    assert!(matches!(
        mandats::revoke(&m.app.core, Revoker::Usager(usager + 1000), id, None).await,
        Err(passerelle_core::CoreError::NotFound(_))
    ));
    let r = mandats::revoke(&m.app.core, Revoker::Usager(usager), id, None)
        .await
        .unwrap();
    assert_eq!(r.demarches, vec!["papiers".to_string()]);
    let actor: String = m
        .app
        .scalar_text("SELECT actor_role FROM journal WHERE action = 'mandat.revoque'")
        .await;
    assert_eq!(actor, "usager");
    assert_eq!(
        m.app
            .scalar_text(&format!(
                "SELECT revoquee_par FROM autorisations WHERE mandat_id = {id} AND demarche = 'papiers'"
            ))
            .await,
        "usager"
    );
    assert!(mandats::revoke(&m.app.core, Revoker::Usager(usager), id, None)
        .await
        .is_err());
    // The mandate texts are stored once, whatever the number of migrations.
    let out = cli(&m.app, &["migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(m.count("SELECT COUNT(*) FROM mandats_textes").await, 1);
    let out = cli(&m.app, &["journal", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}
