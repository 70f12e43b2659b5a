//! CSRF, security headers, bad input, public pages and health check.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use crate::support::{TestApp, PASSWORD};

#[tokio::test]
async fn forms_without_the_right_token_or_from_another_site_are_refused() {
    let app = TestApp::new().await;
    app.account("lieu", "lieu", "lieu@exemple.fr", false).await;
    let mut b = app.browser();
    b.get("/connexion").await;
    let creds = [("email", "lieu@exemple.fr"), ("mot_de_passe", PASSWORD)];

    let missing = b.post_raw("/connexion", &creds).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.body.contains("Formulaire expiré"));

    let mut with_wrong = vec![("csrf_token", "pas-le-bon-jeton")];
    with_wrong.extend_from_slice(&creds);
    assert_eq!(
        b.post_raw("/connexion", &with_wrong).await.status,
        StatusCode::FORBIDDEN
    );

    // The right token, but sent by another site's page.
    b.same_origin = false;
    assert_eq!(b.post("/connexion", &creds).await.status, StatusCode::FORBIDDEN);
    b.same_origin = true;

    // A token without its cookie (another visitor's token) is refused.
    let token = b.cookie("passerelle_csrf").cloned().unwrap();
    let mut stranger = app.browser();
    let mut fields = vec![("csrf_token", token.as_str())];
    fields.extend_from_slice(&creds);
    assert_eq!(
        stranger.post_raw("/connexion", &fields).await.status,
        StatusCode::FORBIDDEN
    );

    // Signed-in forms are protected the same way.
    assert_eq!(b.post("/connexion", &creds).await.status, StatusCode::SEE_OTHER);
    let r = b.post_raw("/deconnexion", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.get("/mon-compte").await.status,
        StatusCode::OK,
        "the refused logout did nothing"
    );
    // No failed login was journaled for refused forms: nothing ran.
    assert!(!app.journal_actions().await.contains(&"connexion.echec".to_string()));
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    for path in [
        "/",
        "/connexion",
        "/healthz",
        "/page-inconnue",
        "/mon-compte",
        "/accessibilite",
    ] {
        let r = b.get(path).await;
        let h = &r.headers;
        let csp = h.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff", "{path}");
        assert_eq!(h.get(header::X_FRAME_OPTIONS).unwrap(), "DENY", "{path}");
        assert!(h.get(header::REFERRER_POLICY).is_some(), "{path}");
        assert!(h.get("x-request-id").is_some(), "{path}");
        // HSTS only over https.
        assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_none(), "{path}");
    }
}

#[tokio::test]
async fn refusals_carry_the_security_headers_too() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    b.get("/connexion").await;
    let csrf = b.post_raw("/connexion", &[("email", "a@b.fr")]).await;
    let wrong_method = b.get("/deconnexion").await;
    let too_big = b.post("/connexion", &[("email", &"x".repeat(100 * 1024))]).await;
    for (what, r) in [("403", csrf), ("405", wrong_method), ("413", too_big)] {
        assert!(r.headers.get(header::CONTENT_SECURITY_POLICY).is_some(), "{what}");
        assert_eq!(r.headers.get(header::X_FRAME_OPTIONS).unwrap(), "DENY", "{what}");
        assert_eq!(
            r.headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
            "nosniff",
            "{what}"
        );
    }
}

#[tokio::test]
async fn https_deployments_get_hsts_and_secure_host_cookies() {
    let app = TestApp::new().await;
    let config = passerelle_web::WebConfig {
        base_url: url::Url::parse("https://passerelle.exemple.gouv.fr").unwrap(),
        assets_dir: None,
        fonts_dir: None,
        trust_proxy: true,
        search_max_age: std::time::Duration::ZERO,
        dashboard_max_age: std::time::Duration::ZERO,
    };
    let router = passerelle_web::router(passerelle_web::AppState::new(app.core.clone(), config));
    let res = tower::ServiceExt::oneshot(router, Request::get("/connexion").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(res
        .headers()
        .get(header::STRICT_TRANSPORT_SECURITY)
        .unwrap()
        .to_str()
        .unwrap()
        .contains("max-age="));
    let cookie = res.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(
        cookie.starts_with("__Host-passerelle_csrf=") && cookie.contains("; Secure"),
        "{cookie}"
    );
}

#[tokio::test]
async fn pages_are_french_dsfr_pages_with_one_h1() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    for path in [
        "/",
        "/connexion",
        "/accessibilite",
        "/mentions-legales",
        "/donnees-personnelles",
        "/aider-un-proche",
        "/inconnue",
    ] {
        let r = b.get(path).await;
        assert!(r.body.contains("<html lang=\"fr\""), "{path}");
        assert_eq!(r.body.matches("<h1").count(), 1, "{path}");
        assert!(r.body.contains("fr-skiplinks"), "{path}");
        assert!(r.body.contains("/static/dsfr/dsfr.min.css"), "{path}");
        assert!(r.body.contains("<footer class=\"fr-footer\""), "{path}");
    }
    let home = b.get("/").await.body;
    for service in ["Pass Numérique", "Lieux de médiation numérique", "Aidants Connect"] {
        assert!(home.contains(service), "{service}");
    }
    let kit = b.get("/aider-un-proche").await.body;
    assert!(kit.contains("Ne demandez jamais le mot de passe de la personne"));
    assert!(
        kit.contains("href=\"/lieux?pass_numerique=oui\""),
        "links to the directory"
    );
    let login = b.get("/connexion").await.body;
    assert!(login.contains("<label class=\"fr-label\" for=\"email\">"));
    assert!(login.contains("<label class=\"fr-label\" for=\"mot_de_passe\">"));
}

#[tokio::test]
async fn bad_input_gets_a_clear_status_never_a_crash() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    let r = b.get("/nulle-part").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("Page non trouvée"));

    // GET on a form-only route, and an unsupported method with a valid form token.
    let r = b.get("/deconnexion").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.body.contains("Action impossible"));
    let token = b.cookie("passerelle_csrf").cloned().unwrap();
    let req = Request::put("/connexion")
        .header(header::COOKIE, format!("passerelle_csrf={token}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(format!("csrf_token={token}")))
        .unwrap();
    assert_eq!(b.send(req).await.status, StatusCode::METHOD_NOT_ALLOWED);
    // Without a token, an unsafe method is refused before anything else.
    let r = b.send(Request::delete("/connexion").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Oversize body.
    b.get("/connexion").await;
    let token = b.cookie("passerelle_csrf").cloned().unwrap();
    let huge = "x".repeat(200 * 1024);
    let r = b.post("/connexion", &[("email", &huge), ("mot_de_passe", "y")]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    // Malformed form (not URL-encoded), with a valid token.
    let req = Request::post("/connexion")
        .header(header::COOKIE, format!("passerelle_csrf={token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(format!("csrf_token={token}")))
        .unwrap();
    let r = b.send(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("formulaire"));

    // Broken or forged cookies are just an anonymous visitor.
    let req = Request::get("/mon-compte")
        .header(header::COOKIE, "passerelle_session=%%%; passerelle_csrf=\"x y\"; =;;")
        .body(Body::empty())
        .unwrap();
    let r = b.send(req).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let req = Request::get("/mon-compte")
        .header(
            header::COOKIE,
            "passerelle_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(b.send(req).await.location(), Some("/connexion"));

    // A valid token with a missing field is a French refusal, and nothing is journaled.
    let r = b.post("/connexion", &[("email", "a@b.fr")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r
        .body
        .contains("Saisissez votre adresse électronique et votre mot de passe"));
    assert!(app.journal_actions().await.is_empty());
}

#[tokio::test]
async fn healthz_reports_the_database() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    let r = b.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["statut"], "ok");
    assert_eq!(v["base_de_donnees"], "ok");
    app.core.db.close().await;
    let r = b.get("/healthz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["statut"], "erreur");
}

/// A NUL byte is text that PostgreSQL refuses to store or compare (SQLSTATE
/// 22021, whose low byte once read as SQLite's "busy" and turned it into a 503).
/// On both engines it is the caller's mistake: a 4xx in French, never a 5xx.
#[tokio::test]
async fn a_nul_byte_anywhere_is_refused_never_an_outage() {
    let app = TestApp::new().await;
    let mut b = app.browser();
    for path in [
        "/api/v1/lieux/%00",
        "/lieux/%00",
        "/ressources/%00",
        "/c/%00",
        "/mandats/verifier/%00",
        "/recapitulatifs/desabonnement/%00",
        "/api/v1/lieux?q=%00",
        "/lieux?q=a%00b&commune=%00",
    ] {
        let r = b.get(path).await;
        assert!(
            r.status.is_client_error() || r.status.is_success(),
            "{path} → {}",
            r.status
        );
        if r.status == StatusCode::BAD_REQUEST {
            assert!(r.body.contains("caractère nul"), "{path} → {}", r.body);
        }
    }
    b.get("/connexion").await;
    let r = b
        .post("/connexion", &[("email", "a\0@b.fr"), ("mot_de_passe", "x")])
        .await;
    assert!(
        r.status.is_client_error() || r.status.is_success(),
        "connexion → {}",
        r.status
    );
}
