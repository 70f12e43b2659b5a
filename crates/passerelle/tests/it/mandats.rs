//! Mandates through HTTP, with the FranceConnect simulator served on a
//! loopback port (the relying party calls it for real): identification,
//! conclusion with a fresh TOTP, refusals, supersession, renewal, revocation,
//! derived states, expiry, the PDF attestation whose QR code is decoded
//! (pdftoppm + zbarimg) and opened, the journal.

use axum::http::StatusCode;
use passerelle_core::aidants_connect::mandats;

use crate::mandats_support::*;
use crate::support::{cli, totp_code, Browser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mandate_is_concluded_superseded_renewed_revoked_and_checked_by_its_qr_code() {
    let m = serve().await;
    let a = m
        .structure(
            "France Services de Pessac",
            &["papiers", "social", "logement", "argent"],
        )
        .await;
    let Aidant { mut b, secret, .. } = m.aidant(a, "aidant@exemple.fr").await;

    // Nobody identified yet: the page offers FranceConnect.
    let r = b.get("/aidants-connect/mandats/nouveau").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("href=\"/franceconnect/connexion\""), "{}", r.body);
    assert!(!r.body.contains("name=\"demarches\""));
    assert!(b
        .get("/aidants-connect/mandats")
        .await
        .body
        .contains("href=\"/aidants-connect/mandats\""));

    let back = m.identify(&mut b, "angela").await;
    assert!(back.contains("href=\"/aidants-connect/mandats/nouveau\""), "{back}");
    let r = b.get("/aidants-connect/mandats/nouveau").await;
    assert!(r.body.contains("Angela Claire Louise DUBOIS"), "{}", r.body);
    assert!(r.body.contains("value=\"papiers\"") && !r.body.contains("value=\"justice\""));

    // The recap: usager, structure, démarches, duration, the text, the declaration.
    let r = b
        .get(&format!(
            "/aidants-connect/mandats/recapitulatif?{}",
            query(&["social", "papiers"], "MONTH")
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for s in [
        "Angela Claire Louise DUBOIS",
        "France Services de Pessac",
        "Papiers - Citoyenneté - Élections",
        "Social - Santé",
        "Mandat d&#39;un mois",
        "texte version 1",
        "Je déclare avoir informé",
        "name=\"csrf_token\"",
    ] {
        assert!(r.body.contains(s), "{s}: {}", r.body);
    }
    let r = b
        .get(&format!(
            "/aidants-connect/mandats/recapitulatif?{}",
            query(&["justice"], "MONTH")
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("n&#39;est pas autorisée"), "{}", r.body);
    // Nothing chosen: both problems at once, each group marked and linked from the summary.
    let r = b.get("/aidants-connect/mandats/recapitulatif?duree=").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    for s in [
        "Le formulaire contient 2 erreurs",
        "<a href=\"#demarches-ensemble\">Choisissez au moins une démarche.</a>",
        "<a href=\"#duree-ensemble\">Choisissez une durée de mandat.</a>",
        "fr-fieldset fr-fieldset--error\" id=\"demarches-ensemble\"",
        "fr-fieldset fr-fieldset--error\" id=\"duree-ensemble\"",
        "aria-labelledby=\"duree-legende duree-messages\"",
    ] {
        assert!(r.body.contains(s), "{s}: {}", r.body);
    }

    // Refusals: no declaration, a démarche not allowed, unknown duration, a stale TOTP.
    let r = b
        .post("/aidants-connect/mandats", &form(&["papiers"], "MONTH", false))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Cochez la déclaration"), "{}", r.body);
    let r = b
        .post(
            "/aidants-connect/mandats",
            &form(&["papiers", "justice"], "MONTH", true),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("« Justice » n&#39;est pas autorisée"), "{}", r.body);
    let r = b
        .post("/aidants-connect/mandats", &form(&["papiers"], "FOREVER", true))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    m.app
        .exec(&format!("UPDATE sessions SET totp_verified_at = {}", stale()))
        .await
        .unwrap();
    let r = b
        .post("/aidants-connect/mandats", &form(&["papiers"], "MONTH", true))
        .await;
    assert!(
        r.location()
            .unwrap_or_default()
            .starts_with("/connexion/totp-recent?suivant="),
        "{:?}",
        r.location()
    );
    assert_eq!(m.count("SELECT COUNT(*) FROM mandats").await, 0);
    let r = b
        .post(
            "/connexion/totp-recent",
            &[
                ("code", &totp_code(&secret, 1)),
                ("suivant", "/aidants-connect/mandats/nouveau"),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/aidants-connect/mandats/nouveau"));

    // Concluded.
    let m1 = conclude(&mut b, &["papiers", "social"], "MONTH").await;
    assert_eq!(m.count("SELECT COUNT(*) FROM autorisations").await, 2);
    let r = b.get(&format!("/aidants-connect/mandats/{m1}?conclu=1")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Le mandat est conclu") && r.body.contains(">Actif<"),
        "{}",
        r.body
    );
    assert_eq!(
        m.count(&format!(
            "SELECT CAST(texte_version AS BIGINT) FROM mandats WHERE id = {m1}"
        ))
        .await,
        1
    );
    let details = m
        .app
        .scalar_text("SELECT details FROM journal WHERE action = 'mandat.cree'")
        .await;
    assert!(
        details.contains("\"demarches\":[\"papiers\",\"social\"]")
            && details.contains("\"duree\":\"MONTH\"")
            && details.contains("\"texte_version\":1")
            && !details.contains("DUBOIS"),
        "{details}"
    );

    // One FranceConnect identification, one mandate: another needs the usager again.
    let r = b
        .get(&format!(
            "/aidants-connect/mandats/recapitulatif?{}",
            query(&["social"], "MONTH")
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "identification already used");
    let angela = m
        .count("SELECT id FROM usagers WHERE family_name = 'DUBOIS'")
        .await
        .to_string();
    let mut again = form(&["social"], "MONTH", true);
    again.push(("usager", &angela));
    let r = b.post("/aidants-connect/mandats", &again).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("Aucun usager identifié"), "{}", r.body);
    assert_eq!(m.count("SELECT COUNT(*) FROM mandats").await, 1);
    m.identify(&mut b, "angela").await;

    // A mandate is for the usager of the recap: another identified since then is refused.
    let recap = b
        .get(&format!(
            "/aidants-connect/mandats/recapitulatif?{}",
            query(&["social"], "MONTH")
        ))
        .await;
    let shown = crate::mandats_support::recap_usager(&recap.body);
    assert_eq!(shown, angela);
    m.identify(&mut b, "pierre").await;
    let mut stale_recap = form(&["social"], "MONTH", true);
    stale_recap.push(("usager", &shown));
    let r = b.post("/aidants-connect/mandats", &stale_recap).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("a changé depuis le récapitulatif"), "{}", r.body);
    assert_eq!(m.count("SELECT COUNT(*) FROM mandats").await, 1);
    m.identify(&mut b, "angela").await;

    // A second mandate of the same structure supersedes the same démarche only.
    let m2 = conclude(&mut b, &["social", "logement"], "MONTH").await;
    assert_eq!(
        m.app
            .scalar_text(&format!(
                "SELECT revoquee_par FROM autorisations WHERE mandat_id = {m1} AND demarche = 'social'"
            ))
            .await,
        "remplacement"
    );
    assert_eq!(
        m.count(&format!(
            "SELECT COUNT(*) FROM autorisations a JOIN autorisations n ON n.id = a.remplacee_par \
             WHERE a.mandat_id = {m1} AND n.mandat_id = {m2} AND n.demarche = 'social'"
        ))
        .await,
        1
    );
    assert_eq!(
        m.count(&format!(
            "SELECT COUNT(*) FROM autorisations WHERE mandat_id = {m1} AND demarche = 'papiers' AND revoquee_at IS NULL"
        ))
        .await,
        1
    );
    let r = b.get(&format!("/aidants-connect/mandats/{m1}")).await;
    assert!(r.body.contains("Actif, certaines démarches révoquées"), "{}", r.body);
    assert!(r.body.contains("Remplacée") && r.body.contains(&format!("remplacement par le mandat n° {m2}")));
    assert_eq!(m.actions("mandat.autorisation_remplacee").await, 1);

    // Renewal of m2: no new FranceConnect step, démarches chosen again.
    m.app.exec("UPDATE franceconnect_etats SET used_at = 0").await.unwrap();
    let r = b.get(&format!("/aidants-connect/mandats/{m2}/renouveler")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = b
        .get(&format!(
            "/aidants-connect/mandats/{m2}/renouveler/recapitulatif?{}",
            query(&["logement", "argent"], "LONG")
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Renouveler le mandat") && r.body.contains("Mandat d&#39;un an"));
    let r = b
        .post(
            &format!("/aidants-connect/mandats/{m2}/renouveler"),
            &form(&["logement", "argent"], "LONG", true),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let m3 = mandate_of(r.location());
    assert_eq!(
        m.count(&format!("SELECT renouvelle FROM mandats WHERE id = {m3}"))
            .await,
        m2
    );
    assert_eq!(m.actions("mandat.renouvele").await, 1);
    assert_eq!(m.actions("mandat.autorisation_remplacee").await, 2);
    let r = b.get(&format!("/aidants-connect/mandats/{m2}")).await;
    assert!(r.body.contains("Actif, certaines démarches révoquées"), "{}", r.body);

    // The attestation's QR code opens the public check: authentic, active, no personal data.
    let attestation = m
        .pdf(&b, &format!("/aidants-connect/mandats/{m3}/attestation.pdf"))
        .await;
    if let Some(text) = text_of_pdf(&attestation) {
        let copies: Vec<&str> = text.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
        assert_eq!(copies.len(), 2, "{text}");
        let fingerprint = mandats::texts::fingerprint(mandats::texts::ALL[0].1);
        for (copy, title) in copies
            .iter()
            .zip(["Exemplaire de l'usager", "Exemplaire de la structure"])
        {
            for s in [
                title,
                &format!("Attestation de mandat n° {m3}"),
                &format!("version 1, SHA-256 {fingerprint}"),
                "Angela Claire Louise DUBOIS",
                "Date de naissance : 24/08/1962",
                // The commune of birth by its name when the official list is loaded, else its code.
                "commune 75107",
                "France Services de Pessac",
                "Aidant aidant@exemple.fr",
                "Logement",
                "Argent - Impôts - Consommation",
                "Mandat d'un an (maximum)",
                &format!("Renouvelle le mandat n° {m2}"),
            ] {
                assert!(copy.contains(s), "{s}: {copy}");
            }
        }
    }
    let check_path = match qr_of_pdf(&attestation) {
        Some(url) => {
            let path = m.local(&url).to_string();
            assert!(url.starts_with(&format!("{}/mandats/verifier/", m.base)), "{url}");
            path
        }
        None => format!(
            "/mandats/verifier/{}",
            mandats::model::verification_token(&m.app.core.keys, m3)
        ),
    };
    let mut anyone = Browser::on(m.router.clone());
    let r = anyone.get(&check_path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body
            .contains(&format!("Attestation authentique : mandat n° {m3} — Actif")),
        "{}",
        r.body
    );
    assert!(r.body.contains("France Services de Pessac") && r.body.contains("A. D."));
    assert!(!r.body.contains("DUBOIS") && !r.body.contains("Angela") && !r.body.contains("1962"));
    // No revocation yet: no certificate.
    let r = b.get(&format!("/aidants-connect/mandats/{m3}/revocation.pdf")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Revoke one démarche (confirmation first), then the whole mandate.
    let r = b
        .get(&format!("/aidants-connect/mandats/{m3}/revoquer?demarche=argent"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Confirmer la révocation") && r.body.contains("name=\"csrf_token\""));
    let r = b
        .post(
            &format!("/aidants-connect/mandats/{m3}/revoquer"),
            &[("demarche", "argent")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = b.get(r.location().unwrap()).await;
    assert!(r.body.contains("La démarche est révoquée"), "{}", r.body);
    assert!(r.body.contains("Actif, certaines démarches révoquées"));
    assert!(anyone
        .get(&check_path)
        .await
        .body
        .contains("Actif, certaines démarches révoquées"));
    let r = b
        .post(
            &format!("/aidants-connect/mandats/{m3}/revoquer"),
            &[("demarche", "argent")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("déjà révoquée"), "{}", r.body);
    let certificate = m
        .pdf(&b, &format!("/aidants-connect/mandats/{m3}/revocation.pdf"))
        .await;
    if let Some(url) = qr_of_pdf(&certificate) {
        assert_eq!(m.local(&url), check_path, "same QR code on the certificate");
    }
    let r = b
        .post(&format!("/aidants-connect/mandats/{m3}/revoquer"), &[("demarche", "")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = b.get(&format!("/aidants-connect/mandats/{m3}")).await;
    assert!(r.body.contains(">Révoqué<"), "{}", r.body);
    assert!(!r.body.contains("/renouveler\""), "a revoked mandate is not renewed");
    let r = anyone.get(&check_path).await;
    assert!(r.body.contains(&format!("mandat n° {m3} — Révoqué")), "{}", r.body);
    let entries = m.app.journal_actions().await.len();
    let r = b
        .post(&format!("/aidants-connect/mandats/{m3}/revoquer"), &[("demarche", "")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Ce mandat est déjà révoqué"), "{}", r.body);
    assert_eq!(m.app.journal_actions().await.len(), entries, "nothing written");
    let r = b
        .post(
            &format!("/aidants-connect/mandats/{m3}/renouveler"),
            &form(&["logement"], "LONG", true),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Expiry (moved in the database): state Expiré, nothing left to revoke.
    m.app
        .exec(&format!(
            "UPDATE mandats SET expires_at = {} WHERE id = {m1}",
            passerelle_core::horloge::Horloge::systeme().now_micros() - 1
        ))
        .await
        .unwrap();
    let r = b.get(&format!("/aidants-connect/mandats/{m1}")).await;
    assert!(
        r.body.contains(">Expiré<") && r.body.contains(">Expirée<"),
        "{}",
        r.body
    );
    let r = b
        .post(
            &format!("/aidants-connect/mandats/{m1}/revoquer"),
            &[("demarche", "papiers")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("a expiré"), "{}", r.body);

    // Renewable when expired less than a year ago, not after.
    assert_eq!(
        b.get(&format!("/aidants-connect/mandats/{m1}/renouveler")).await.status,
        StatusCode::OK
    );
    m.app
        .exec(&format!(
            "UPDATE mandats SET expires_at = {} WHERE id = {m1}",
            passerelle_core::horloge::Horloge::systeme().now_micros() - 366 * 86_400 * 1_000_000
        ))
        .await
        .unwrap();
    let r = b.get(&format!("/aidants-connect/mandats/{m1}/renouveler")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("plus d&#39;un an"), "{}", r.body);

    // The list, with the server-side search.
    let r = b.get("/aidants-connect/mandats").await;
    assert!(
        r.body.contains("3 mandats") && r.body.contains(&format!("Mandat n° {m3}")),
        "{}",
        r.body
    );
    assert!(b
        .get("/aidants-connect/mandats?q=dubois")
        .await
        .body
        .contains("3 mandats"));
    assert!(b
        .get("/aidants-connect/mandats?q=mercier")
        .await
        .body
        .contains("0 mandat"));

    // Pages of 20: 22 more mandates written directly.
    m.app
        .exec(&format!(
            "INSERT INTO mandats (organisation_id, usager_id, aidant_id, duree, texte_version, created_at, expires_at) \
             SELECT organisation_id, usager_id, aidant_id, duree, texte_version, created_at - 1, expires_at \
             FROM mandats WHERE id = {m3}"
        ))
        .await
        .unwrap();
    for _ in 0..21 {
        m.app
            .exec(&format!(
                "INSERT INTO mandats (organisation_id, usager_id, aidant_id, duree, texte_version, created_at, expires_at) \
                 SELECT organisation_id, usager_id, aidant_id, duree, texte_version, created_at - 1, expires_at \
                 FROM mandats WHERE id = {m1}"
            ))
            .await
            .unwrap();
    }
    let r = b.get("/aidants-connect/mandats").await;
    assert!(
        r.body.contains("25 mandats") && r.body.contains("Page 1 sur 2"),
        "{}",
        r.body
    );
    // Newest first (then by number): the oldest copies are on page 2.
    let oldest = m3 + 2;
    assert!(
        r.body.contains(&format!("Mandat n° {m3}<"))
            && r.body.contains(&format!("Mandat n° {m1}<"))
            && !r.body.contains(&format!("Mandat n° {oldest}<"))
    );
    let r = b.get("/aidants-connect/mandats?q=Dubois&page=2").await;
    assert!(r.body.contains("Page 2 sur 2"), "{}", r.body);
    assert!(
        r.body.contains(&format!("Mandat n° {oldest}<")) && !r.body.contains(&format!("Mandat n° {m3}<")),
        "{}",
        r.body
    );

    // The journal: every step, and the chain verifies.
    assert_eq!(m.actions("mandat.cree").await, 2);
    assert_eq!(m.actions("mandat.autorisation_revoquee").await, 1);
    assert_eq!(m.actions("mandat.revoque").await, 1);
    let revoked = m
        .app
        .scalar_text("SELECT details FROM journal WHERE action = 'mandat.revoque'")
        .await;
    assert!(revoked.contains("\"demarches\":[\"logement\"]") && revoked.contains("\"par\":\"aidant\""));
    let out = cli(&m.app, &["journal", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}
