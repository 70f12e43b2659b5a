//! Login with and without TOTP, lockout, session rotation and timeouts, logout.

use axum::http::StatusCode;

use crate::support::{secret_on_page, totp_code, TestApp, PASSWORD};

#[tokio::test]
async fn login_without_totp_opens_a_session() {
    let app = TestApp::new().await;
    app.account("lieu", "lieu", "lieu@exemple.fr", false).await;
    let mut b = app.browser();
    let r = b.login("  Lieu@Exemple.fr ", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Issue 23: a sign-in leads to the role's work, here the place's counter.
    assert_eq!(r.location(), Some("/encaisser"));
    assert_eq!(b.get("/connexion").await.location(), Some("/encaisser"));
    let page = b.get("/mon-compte").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>Mon compte</h1>"));
    assert!(page.body.contains("lieu@exemple.fr"));
    assert!(app.journal_actions().await.contains(&"connexion".to_string()));
}

#[tokio::test]
async fn login_with_totp_needs_a_fresh_code_used_once() {
    let app = TestApp::new().await;
    let (_, secret) = app.account("operateur", "operateur", "op@exemple.fr", true).await;
    let secret = secret.unwrap();
    let mut b = app.browser();
    let r = b.login("op@exemple.fr", PASSWORD).await;
    assert_eq!(r.location(), Some("/connexion/totp"));
    // The pending session gives no access yet.
    assert_eq!(b.get("/mon-compte").await.location(), Some("/connexion"));
    assert_eq!(b.get("/connexion/totp").await.status, StatusCode::OK);

    let wrong = b.post("/connexion/totp", &[("code", "000000")]).await;
    let wrong_ok = totp_code(&secret, 0) == "000000";
    if !wrong_ok {
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains("Code incorrect"));
    }
    let code = totp_code(&secret, 0);
    let r = b.post("/connexion/totp", &[("code", &code)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some("/operateur"));
    let account = b.get("/mon-compte").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(
        account
            .body
            .contains("href=\"/operateur\">Aller à mon espace de travail"),
        "{}",
        account.body
    );

    // The same code cannot open a second session.
    let mut other = app.browser();
    other.login("op@exemple.fr", PASSWORD).await;
    let replay = other.post("/connexion/totp", &[("code", &code)]).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    // The next step's code (within the ±1 window) is accepted.
    let next = other.post("/connexion/totp", &[("code", &totp_code(&secret, 1))]).await;
    assert_eq!(next.status, StatusCode::SEE_OTHER);
    let actions = app.journal_actions().await;
    assert!(actions.contains(&"totp.echec".to_string()));
}

#[tokio::test]
async fn every_login_failure_gets_the_same_answer() {
    let app = TestApp::new().await;
    app.account("lieu", "lieu", "lieu@exemple.fr", false).await;
    let mut b = app.browser();
    let unknown = b.login("personne@exemple.fr", PASSWORD).await;
    let wrong = b.login("lieu@exemple.fr", "mauvais mot de passe").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let msg = "Adresse électronique ou mot de passe incorrect.";
    assert!(unknown.body.contains(msg) && wrong.body.contains(msg));
    // Disabled accounts too.
    app.exec("UPDATE accounts SET active = FALSE").await.unwrap();
    let inactive = b.login("lieu@exemple.fr", PASSWORD).await;
    assert_eq!(inactive.status, StatusCode::UNAUTHORIZED);
    assert!(inactive.body.contains(msg));
    let failures = app
        .journal_actions()
        .await
        .iter()
        .filter(|a| *a == "connexion.echec")
        .count();
    assert_eq!(failures, 3);
}

#[tokio::test]
async fn repeated_failures_lock_the_account_even_for_the_right_password() {
    let app = TestApp::new().await;
    app.account("lieu", "lieu", "lieu@exemple.fr", false).await;
    let mut b = app.browser();
    for i in 1..=5 {
        let r = b.login("lieu@exemple.fr", "mauvais mot de passe").await;
        let expected = if i < 5 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(r.status, expected, "tentative {i}");
    }
    let r = b.login("lieu@exemple.fr", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("Trop de tentatives"));
    // Unknown addresses are locked the same way (no account enumeration).
    for _ in 0..5 {
        b.login("inconnu@exemple.fr", PASSWORD).await;
    }
    assert_eq!(
        b.login("inconnu@exemple.fr", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The lock lives in the database: another instance (router) sees it.
    let mut other = app.browser();
    assert_eq!(
        other.login("lieu@exemple.fr", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Once the lock has expired, the right password works again.
    app.exec("UPDATE login_throttle SET locked_until = 0").await.unwrap();
    assert_eq!(
        other.login("lieu@exemple.fr", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(app
        .journal_actions()
        .await
        .contains(&"connexion.verrouillage".to_string()));
}

#[tokio::test]
async fn totp_failures_lock_too() {
    let app = TestApp::new().await;
    let (_, secret) = app.account("operateur", "operateur", "op@exemple.fr", true).await;
    let secret = secret.unwrap();
    let mut b = app.browser();
    b.login("op@exemple.fr", PASSWORD).await;
    let bad = if totp_code(&secret, 0) == "123456" {
        "654321"
    } else {
        "123456"
    };
    let mut last = StatusCode::OK;
    for _ in 0..5 {
        last = b.post("/connexion/totp", &[("code", bad)]).await.status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // The pending session is gone: the next attempt starts from the login page.
    let r = b.post("/connexion/totp", &[("code", &totp_code(&secret, 0))]).await;
    assert_eq!(r.location(), Some("/connexion"));
}

#[tokio::test]
async fn session_is_rotated_at_login_and_ended_at_logout() {
    let app = TestApp::new().await;
    let (_, secret) = app.account("operateur", "operateur", "op@exemple.fr", true).await;
    let mut b = app.browser();
    let csrf_before = b.get("/connexion").await;
    assert_eq!(csrf_before.status, StatusCode::OK);
    let csrf_before = b.cookie("passerelle_csrf").cloned().unwrap();
    b.login("op@exemple.fr", PASSWORD).await;
    let pending = b.cookie("passerelle_session").cloned().unwrap();
    b.post("/connexion/totp", &[("code", &totp_code(secret.as_ref().unwrap(), 0))])
        .await;
    let active = b.cookie("passerelle_session").cloned().unwrap();
    assert_ne!(pending, active, "the session token changes at login");
    assert_ne!(
        &csrf_before,
        b.cookie("passerelle_csrf").unwrap(),
        "the CSRF token changes at login"
    );

    // The pending token is dead.
    let mut thief = app.browser();
    thief.cookies.insert("passerelle_session".into(), pending);
    assert_eq!(thief.get("/mon-compte").await.location(), Some("/connexion"));

    // Logout ends the session server-side: a copied cookie is useless afterwards.
    let mut copy = app.browser();
    copy.cookies.insert("passerelle_session".into(), active.clone());
    assert_eq!(copy.get("/mon-compte").await.status, StatusCode::OK);
    let out = b.post("/deconnexion", &[]).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.body.contains("Vous êtes déconnecté"));
    assert!(b.cookie("passerelle_session").is_none());
    assert_eq!(copy.get("/mon-compte").await.location(), Some("/connexion"));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0);
}

#[tokio::test]
async fn session_cookie_flags_and_idle_and_absolute_timeouts() {
    let app = TestApp::new().await;
    app.account("lieu", "lieu", "lieu@exemple.fr", false).await;
    let mut b = app.browser();
    let r = b.login("lieu@exemple.fr", PASSWORD).await;
    let set_cookie: Vec<_> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = set_cookie
        .iter()
        .find(|c| c.starts_with("passerelle_session="))
        .unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Path=/"));
    assert!(
        !session.contains("Secure"),
        "no Secure flag over plain http (localhost)"
    );
    assert_eq!(b.get("/mon-compte").await.status, StatusCode::OK);

    // Idle for longer than 30 minutes.
    app.exec("UPDATE sessions SET last_seen_at = last_seen_at - 31 * 60 * 1000000")
        .await
        .unwrap();
    assert_eq!(b.get("/mon-compte").await.location(), Some("/connexion"));

    // Absolute lifetime.
    b.login("lieu@exemple.fr", PASSWORD).await;
    assert_eq!(b.get("/mon-compte").await.status, StatusCode::OK);
    app.exec("UPDATE sessions SET expires_at = 0").await.unwrap();
    assert_eq!(b.get("/mon-compte").await.location(), Some("/connexion"));
}

#[tokio::test]
async fn a_role_that_requires_totp_must_enrol_at_first_login() {
    let app = TestApp::new().await;
    let (id, _) = app
        .account("commanditaire", "commanditaire", "fin@exemple.fr", false)
        .await;
    let mut b = app.browser();
    let r = b.login("fin@exemple.fr", PASSWORD).await;
    assert_eq!(r.location(), Some("/connexion/activation-totp"));
    assert_eq!(b.get("/mon-compte").await.location(), Some("/connexion"));
    let page = b.get("/connexion/activation-totp").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data:image/png;base64,"));
    // The key shown on the page (as a person would type it) is the one to use;
    // the database holds it only encrypted.
    let secret = secret_on_page(&page.body);
    let stored = app
        .scalar_text(&format!("SELECT totp_pending_secret FROM accounts WHERE id = {id}"))
        .await;
    assert!(stored.starts_with("v1:") && !stored.contains(&secret), "{stored}");
    let r = b
        .post("/connexion/activation-totp", &[("code", &totp_code(&secret, 0))])
        .await;
    assert_eq!(r.location(), Some("/mon-compte?ok=totp"));
    assert!(b.get("/mon-compte").await.body.contains("Activée"));
    // Next login asks for the code.
    let mut again = app.browser();
    assert_eq!(
        again.login("fin@exemple.fr", PASSWORD).await.location(),
        Some("/connexion/totp")
    );
}

#[tokio::test]
async fn password_change_checks_the_current_one_and_ends_other_sessions() {
    let app = TestApp::new().await;
    app.account("lieu", "lieu", "lieu@exemple.fr", false).await;
    let mut a = app.browser();
    let mut other = app.browser();
    a.login("lieu@exemple.fr", PASSWORD).await;
    other.login("lieu@exemple.fr", PASSWORD).await;
    let new = "une toute nouvelle phrase";
    let r = a
        .post(
            "/mon-compte/mot-de-passe",
            &[("actuel", "faux"), ("nouveau", new), ("confirmation", new)],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Le mot de passe actuel est incorrect"));
    let r = a
        .post(
            "/mon-compte/mot-de-passe",
            &[("actuel", PASSWORD), ("nouveau", "court"), ("confirmation", "court")],
        )
        .await;
    assert!(r.body.contains("au moins 12 caractères"));
    let r = a
        .post(
            "/mon-compte/mot-de-passe",
            &[("actuel", PASSWORD), ("nouveau", new), ("confirmation", new)],
        )
        .await;
    assert_eq!(r.location(), Some("/mon-compte?ok=mot-de-passe"));
    assert_eq!(a.get("/mon-compte").await.status, StatusCode::OK);
    assert_eq!(other.get("/mon-compte").await.location(), Some("/connexion"));
    let mut fresh = app.browser();
    assert_eq!(
        fresh.login("lieu@exemple.fr", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(fresh.login("lieu@exemple.fr", new).await.status, StatusCode::SEE_OTHER);
    assert!(app.journal_actions().await.contains(&"compte.mot_de_passe".to_string()));
}

/// Issue 22: a reload of the enrolment page must not invalidate the app that scanned it.
#[tokio::test]
async fn reloading_the_enrolment_page_keeps_its_secret_for_fifteen_minutes() {
    let app = TestApp::new().await;
    let (_, secret) = app.account("lieu", "lieu", "recharge@exemple.fr", true).await;
    let mut b = app.browser();
    b.login("recharge@exemple.fr", PASSWORD).await;
    b.post("/connexion/totp", &[("code", &totp_code(secret.as_ref().unwrap(), 0))])
        .await;
    let first = secret_on_page(&b.get("/mon-compte/totp").await.body);
    app.set_now("+14m");
    let reloaded = secret_on_page(&b.get("/mon-compte/totp").await.body);
    assert_eq!(reloaded, first, "a reload shows the secret the app already scanned");
    // Its code (at the application's time, 14 minutes = 28 steps ahead) is accepted.
    let r = b
        .post(
            "/mon-compte/totp",
            &[("code", &totp_code(&first, 28)), ("mot_de_passe", PASSWORD)],
        )
        .await;
    assert_eq!(r.location(), Some("/mon-compte?ok=totp"), "{}", r.body);
    // A pending secret left on a screen for longer is replaced.
    let pending = secret_on_page(&b.get("/mon-compte/totp").await.body);
    app.set_now("+30m");
    let later = b.get("/mon-compte/totp").await;
    assert_eq!(later.status, StatusCode::OK, "the session is still open");
    assert_ne!(secret_on_page(&later.body), pending);
}

#[tokio::test]
async fn account_page_replaces_the_totp_device() {
    let app = TestApp::new().await;
    let (_, secret) = app.account("lieu", "lieu", "lieu@exemple.fr", true).await;
    let mut b = app.browser();
    b.login("lieu@exemple.fr", PASSWORD).await;
    b.post("/connexion/totp", &[("code", &totp_code(secret.as_ref().unwrap(), 0))])
        .await;
    let page = b.get("/mon-compte/totp").await;
    assert_eq!(page.status, StatusCode::OK);
    let pending = secret_on_page(&page.body);
    // Replacing a device needs the current password; the same secret is shown again after a refusal.
    let r = b.post("/mon-compte/totp", &[("code", &totp_code(&pending, 0))]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("mot de passe actuel"));
    assert_eq!(secret_on_page(&r.body), pending);
    let mut other_session = app.browser();
    other_session.login("lieu@exemple.fr", PASSWORD).await;
    other_session
        .post("/connexion/totp", &[("code", &totp_code(secret.as_ref().unwrap(), 1))])
        .await;
    assert_eq!(other_session.get("/mon-compte").await.status, StatusCode::OK);
    let r = b
        .post(
            "/mon-compte/totp",
            &[("code", &totp_code(&pending, 0)), ("mot_de_passe", PASSWORD)],
        )
        .await;
    assert_eq!(r.location(), Some("/mon-compte?ok=totp"));
    assert_eq!(
        other_session.get("/mon-compte").await.location(),
        Some("/connexion"),
        "other sessions end"
    );
    // Showing the page again draws a new secret: an earlier one seen by someone else is worthless.
    let again_page = b.get("/mon-compte/totp").await;
    assert_ne!(secret_on_page(&again_page.body), pending);
    // The old device no longer works, the new one does.
    let mut again = app.browser();
    again.login("lieu@exemple.fr", PASSWORD).await;
    let old = again
        .post("/connexion/totp", &[("code", &totp_code(secret.as_ref().unwrap(), 1))])
        .await;
    if totp_code(secret.as_ref().unwrap(), 1) != totp_code(&pending, 1) {
        assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    }
    let new = again
        .post("/connexion/totp", &[("code", &totp_code(&pending, 1))])
        .await;
    assert_eq!(new.status, StatusCode::SEE_OTHER);
    // A lieu account may remove its second factor (with its password).
    let r = again
        .post("/mon-compte/totp/retrait", &[("mot_de_passe", PASSWORD)])
        .await;
    assert_eq!(r.location(), Some("/mon-compte?ok=totp-retrait"));
    let actions = app.journal_actions().await;
    assert!(actions.contains(&"totp.active".to_string()) && actions.contains(&"totp.retire".to_string()));
}

#[tokio::test]
async fn a_burst_of_parallel_attempts_gets_no_more_tries_than_allowed() {
    // A queue of Argon2 work long enough for the whole burst (see limites_secrets for a full one).
    let pool = passerelle_core::accounts::argon2_pool::Argon2Pool::new(2, 64);
    let app = TestApp::new().await.with_argon2(pool);
    app.account("lieu", "lieu", "lieu@exemple.fr", false).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let core = app.core.clone();
        tasks.push(tokio::spawn(async move {
            // One correct password hidden in the middle of the burst.
            let pw = if i == 12 {
                PASSWORD.to_string()
            } else {
                format!("mauvais {i}")
            };
            passerelle_core::accounts::login_password(&core, "lieu@exemple.fr", &pw)
                .await
                .unwrap()
        }));
    }
    let mut signed_in = 0;
    for t in tasks {
        if matches!(
            t.await.unwrap(),
            passerelle_core::accounts::LoginOutcome::SignedIn { .. }
        ) {
            signed_in += 1;
        }
    }
    // Only the first 5 attempts were checked at all.
    let checked = app
        .scalar_i64("SELECT COUNT(*) FROM journal WHERE action IN ('connexion', 'connexion.echec')")
        .await;
    assert!(checked <= 5, "{checked} attempts were checked");
    assert!(signed_in <= 1);
    if signed_in == 0 {
        let mut b = app.browser();
        assert_eq!(
            b.login("lieu@exemple.fr", PASSWORD).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}
