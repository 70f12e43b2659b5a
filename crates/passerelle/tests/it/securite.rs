//! Regression tests of the security review (issue 18), findings 3, 6, 8 and 9:
//! each drives the public interface (HTTP) as the reviewer did.

use axum::http::{header, StatusCode};
use serde_json::Value;

use crate::lieux_pages::signed_in;
use crate::pass::{call, ready, scene, ACCES};
use crate::support::{totp_code, TestApp, PASSWORD};

const AIDE: &str = "Aide aux démarches administratives";
const PAYLOAD: &str = "-1+1+cmd|' /C calc'!A0";

/// The cells of a CSV body, line by line.
fn cells(csv: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn formula_cells(csv: &str) -> Vec<String> {
    cells(csv)
        .into_iter()
        .flatten()
        .filter(|c| c.contains("cmd|"))
        .collect()
}

/// Finding 3: a value typed by place staff and a name found in an imported
/// file never reach a CSV as a formula (open data, a funder's report).
#[tokio::test]
async fn csv_files_never_carry_a_formula() {
    let app = TestApp::new().await;
    let s = ready(&app, scene(&app).await).await;
    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    let (mut staff, staff_org) = signed_in(&app, "lieu", "lieu", "lieu@exemple.fr").await;
    let org = staff_org.to_string();
    let owner = [
        ("horaires", "Mo-Fr 09:00-12:00"),
        ("telephone", "05 57 02 00 00"),
        ("services", ACCES),
        ("organisation", org.as_str()),
    ];
    let r = op.post("/lieux/mednum-2/modifier", &owner).await;
    assert_eq!(r.location(), Some("/lieux/mednum-2?ok=modifie"), "{}", r.body);

    // Place staff plant the payload in a free-text field of their own place.
    let edit = [
        ("horaires", "Mo-Fr 09:00-12:00"),
        ("telephone", "+33557020000"),
        ("presentation_resume", PAYLOAD),
        ("services", ACCES),
    ];
    let r = staff.post("/lieux/mednum-2/modifier", &edit).await;
    assert_eq!(r.location(), Some("/lieux/mednum-2?ok=modifie"), "{}", r.body);
    let open = app.browser().get("/open-data/lieux.csv").await;
    assert_eq!(open.status, StatusCode::OK);
    let planted = formula_cells(&open.body);
    assert_eq!(planted, vec![format!("'{PAYLOAD}")], "{}", open.body);
    // A phone in international form stays a number.
    assert!(
        cells(&open.body).into_iter().flatten().any(|c| c == "+33557020000"),
        "{}",
        open.body
    );

    // A place name from an import ("+1+cmd…"), redeemed at, in the funder's report.
    let name = "+1+cmd|' /C calc'!A0";
    app.exec(&format!(
        "UPDATE lieux SET nom = '{}' WHERE ext_id = 'mednum-2'",
        name.replace('\'', "''")
    ))
    .await
    .unwrap();
    let body = serde_json::json!({ "code": s.codes[0].2, "service": ACCES }).to_string();
    let (st, v) = call(&app, "/api/v1/cheques/encaisser", Some(&s.key2), Some("f-1"), body).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let report = op.get(&format!("/commandes/{}/rapport.csv", s.order)).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_eq!(formula_cells(&report.body), vec![format!("'{name}")], "{}", report.body);
}

async fn redeem(app: &TestApp, key: &str, idem: &str, code: &str, service: &str) -> (StatusCode, Value) {
    let body = serde_json::json!({ "code": code, "service": service }).to_string();
    call(app, "/api/v1/cheques/encaisser", Some(key), Some(idem), body).await
}

/// Finding 6: an idempotency key answers the first receipt only for the same
/// cheque and service, and only while that redemption stands.
#[tokio::test]
async fn an_idempotency_key_never_hides_a_cancellation_or_another_service() {
    let app = TestApp::new().await;
    let s = ready(&app, scene(&app).await).await;
    let code = s.codes[0].2.clone();
    let (mut staff, org) = signed_in(&app, "lieu", "lieu", "accueil@pessac.fr").await;
    app.exec(&format!(
        "UPDATE lieux SET organisation_id = {org} WHERE ext_id = 'mednum-2'"
    ))
    .await
    .unwrap();

    let (st, first) = redeem(&app, &s.key2, "k-1", &code, ACCES).await;
    assert_eq!(st, StatusCode::CREATED, "{first}");
    let (st, again) = redeem(&app, &s.key2, "k-1", &code, ACCES).await;
    assert_eq!(
        (st, &again),
        (StatusCode::CREATED, &first),
        "the very same request: same receipt"
    );
    let (st, other) = redeem(&app, &s.key2, "k-1", &code, AIDE).await;
    assert_eq!(
        (st, other["motif"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("cle_idempotence_reutilisee")),
        "{other}"
    );

    // The place cancels the redemption at its counter: the replay must not say "encaissé".
    let place = app
        .scalar_i64("SELECT id FROM lieux WHERE ext_id = 'mednum-2'")
        .await
        .to_string();
    let id = first["encaissement"].as_i64().unwrap().to_string();
    let r = staff
        .post(
            "/encaisser/annuler",
            &[("lieu", place.as_str()), ("encaissement", id.as_str())],
        )
        .await;
    assert!(r.body.contains("Encaissement annulé"), "{}", r.body);
    let (st, replay) = redeem(&app, &s.key2, "k-1", &code, ACCES).await;
    assert_eq!(
        (st, replay["motif"].as_str(), replay["valide"].as_bool()),
        (StatusCode::CONFLICT, Some("encaissement_annule"), Some(false)),
        "{replay}"
    );
    assert!(replay["message"].as_str().unwrap().contains("annulé"), "{replay}");
    let state = app
        .scalar_text(&format!(
            "SELECT c.etat FROM cheques c JOIN encaissements e ON e.cheque_id = c.id WHERE e.id = {id}"
        ))
        .await;
    assert_eq!(state, "actif", "the cheque stays usable, not redeemed by the replay");
    // A new key redeems it again.
    let (st, v) = redeem(&app, &s.key2, "k-2", &code, ACCES).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
}

/// Finding 8: « Se déconnecter » ends this session only; « Se déconnecter
/// partout » (account page) ends every session of the account, journaled.
#[tokio::test]
async fn logout_here_and_logout_everywhere() {
    let app = TestApp::new().await;
    let (_, secret) = app.account("operateur", "operateur", "op@exemple.fr", true).await;
    let secret = secret.unwrap();
    let mut sessions = Vec::new();
    for step in 0..3 {
        let mut b = app.browser();
        b.login("op@exemple.fr", PASSWORD).await;
        // One TOTP code per login (a replayed code is refused).
        let r = b
            .post("/connexion/totp", &[("code", &totp_code(&secret, step - 1))])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        sessions.push(b);
    }
    let page = sessions[0].get("/mon-compte").await;
    assert!(page.body.contains("3 sessions sont ouvertes"), "{}", page.body);
    assert!(page.body.contains("Se déconnecter partout"));

    // Logging out on one device leaves the others open.
    let out = sessions[2].post("/deconnexion", &[]).await;
    assert!(out.body.contains("Vous êtes déconnecté"));
    assert_eq!(sessions[2].get("/mon-compte").await.location(), Some("/connexion"));
    assert_eq!(sessions[1].get("/mon-compte").await.status, StatusCode::OK);

    // Everywhere: this session and the other one end; the journal says so.
    let out = sessions[0].post("/mon-compte/deconnexion-partout", &[]).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.body.contains("2 sessions fermées"), "{}", out.body);
    for b in sessions.iter_mut().take(2) {
        assert_eq!(b.get("/mon-compte").await.location(), Some("/connexion"));
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0);
    assert!(app.journal_actions().await.contains(&"deconnexion.partout".to_string()));
    // Not signed in: refused, as every form posted without a session.
    let mut anon = app.browser();
    let r = anon.post("/mon-compte/deconnexion-partout", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// Finding 9: a response cached publicly sets no cookie; a bad path parameter
/// gets a French answer, never axum's English text.
#[tokio::test]
async fn public_responses_set_no_cookie_and_bad_paths_answer_in_french() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    for path in [
        "/static/app/scan.js",
        "/.well-known/openid-configuration",
        "/open-data/lieux.csv",
        "/open-data/lieux.json",
        "/open-data/data-inclusion/structures.json",
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let cache = r.headers.get(header::CACHE_CONTROL).unwrap().to_str().unwrap();
        assert!(cache.contains("public"), "{path}: {cache}");
        assert!(r.headers.get(header::SET_COOKIE).is_none(), "{path} sets a cookie");
    }
    // A page still hands out the CSRF cookie.
    assert!(b.get("/connexion").await.headers.get(header::SET_COOKIE).is_some());

    let (mut op, _) = signed_in(&app, "operateur", "operateur", "op@exemple.fr").await;
    for path in ["/commandes/abc", "/commandes/abc/rapport.csv", "/mandats/verifier/%FF"] {
        let r = op.get(path).await;
        assert!(r.status.is_client_error(), "{path}: {}", r.status);
        assert!(
            !r.body.contains("Cannot parse") && !r.body.contains("Invalid URL"),
            "{path}: {}",
            r.body
        );
        assert!(
            r.headers
                .get(header::CONTENT_TYPE)
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
    }
    let r = app.browser().get("/api/v1/lieux/%FF").await;
    assert!(r.status.is_client_error(), "{}", r.status);
    let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body));
    assert!(v["erreur"]["message"].as_str().is_some(), "{v}");
}

/// The opened body of the last e-mail to `to` containing `needle`.
pub(crate) async fn last_mail_with(app: &TestApp, to: &str, needle: &str) -> String {
    let rows: Vec<(String, bool)> = match &app.core.db.pool {
        passerelle_core::Pool::Sqlite(p) => {
            sqlx::query_as("SELECT corps, scelle FROM courriels WHERE destinataire = $1 ORDER BY id DESC")
                .bind(to)
                .fetch_all(p)
                .await
                .unwrap()
        }
        passerelle_core::Pool::Postgres(p) => {
            sqlx::query_as("SELECT corps, scelle FROM courriels WHERE destinataire = $1 ORDER BY id DESC")
                .bind(to)
                .fetch_all(p)
                .await
                .unwrap()
        }
    };
    rows.into_iter()
        .map(|(corps, sealed)| passerelle_core::mail::body_of(&app.core.keys, &corps, sealed).unwrap())
        .find(|b| b.contains(needle))
        .unwrap_or_else(|| panic!("aucun courriel à {to} ne contient « {needle} »"))
}

/// Finding 9: login links and habilitation follow-up links are stored sealed
/// in the outbox (a copy of the database holds no usable link), and their
/// body is erased once sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_links_are_sealed_in_the_outbox_and_erased_once_sent() {
    let app = TestApp::new().await;
    app.account("structure_habilitee", "referent", "ref@exemple.fr", true)
        .await;
    let mut b = app.browser();
    let r = b.post("/connexion/lien", &[("email", "ref@exemple.fr")]).await;
    assert!(r.status.is_success() || r.status.is_redirection(), "{}", r.status);
    let stored = app
        .scalar_text("SELECT corps FROM courriels WHERE destinataire = 'ref@exemple.fr'")
        .await;
    assert!(
        !stored.contains("jeton") && !stored.contains("connexion/lien"),
        "{stored}"
    );
    let link = last_mail_with(&app, "ref@exemple.fr", "jeton=").await;
    assert!(link.contains("/connexion/lien/ouvrir?jeton="), "{link}");

    let sink = crate::smtp::start().await;
    let out = crate::support::cli(&app, &["courriels", "envoyer", "--smtp-url", &sink.url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = sink.received();
    assert!(
        got.iter().any(|m| m.contains("jeton=")),
        "the link is delivered: {got:?}"
    );
    assert_eq!(
        app.scalar_text("SELECT corps FROM courriels WHERE destinataire = 'ref@exemple.fr'")
            .await,
        "",
        "the body of a sent secret is not kept"
    );
}

/// A login link gives the same answer for any address (moved here from
/// `aidants_structures`: the links are secrets of the outbox).
#[tokio::test]
async fn a_login_link_gives_the_same_answer_for_anyone_and_expires() {
    let app = TestApp::new().await;
    app.account("structure_habilitee", "referent", "ref@exemple.fr", true)
        .await;
    app.account("lieu", "lieu", "lieu@exemple.fr", true).await;
    let mut b = app.browser();
    b.get("/connexion/lien").await;
    let mut bodies = Vec::new();
    for email in ["ref@exemple.fr", "inconnu@exemple.fr", "lieu@exemple.fr"] {
        let r = b.post("/connexion/lien", &[("email", email)]).await;
        assert_eq!(r.status, StatusCode::OK);
        bodies.push(r.body);
    }
    assert!(bodies.iter().all(|x| x.contains("Si cette adresse correspond")));
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM liens_connexion").await,
        1,
        "only the référent gets one"
    );
    let token = crate::aidants_structures::token_mailed_to(&app, "ref@exemple.fr").await;
    app.exec("UPDATE liens_connexion SET expires_at = 1").await.unwrap();
    let r = b.post("/connexion/lien/ouvrir", &[("jeton", &token)]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(last_mail_with(&app, "ref@exemple.fr", "jeton=")
        .await
        .contains("15 minutes"));
    // Five links an hour per address at most.
    for _ in 0..6 {
        b.post("/connexion/lien", &[("email", "ref@exemple.fr")]).await;
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM liens_connexion").await, 5);
}
