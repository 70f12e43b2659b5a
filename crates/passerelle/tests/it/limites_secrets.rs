//! Limits on guessing secrets (security issue 18, findings 4 and 7): the
//! current password asked by "Mon compte" counts with the login lockout; the
//! Argon2 work of a process is bounded (503 beyond its queue); failure limits
//! are counted before the evaluation, so a parallel burst gets no more
//! evaluations than the limit.

use axum::http::{header, StatusCode};
use passerelle_core::accounts::argon2_pool::Argon2Pool;
use serde_json::json;

use crate::support::{secret_on_page, totp_code, Browser, Response, TestApp, PASSWORD};

const LOCKED: &str = "Trop de tentatives infructueuses";

/// Journal entries of failed current-password checks.
async fn current_password_failures(app: &TestApp) -> i64 {
    app.scalar_i64(
        "SELECT COUNT(*) FROM journal WHERE action = 'connexion.echec' AND details LIKE '%mot_de_passe_actuel%'",
    )
    .await
}

/// A lieu account with a second factor, signed in on a browser.
async fn signed_in(app: &TestApp) -> Browser {
    let (_, secret) = app.account("lieu", "lieu", "lieu@exemple.fr", true).await;
    let mut b = app.browser();
    b.login("lieu@exemple.fr", PASSWORD).await;
    let r = b
        .post("/connexion/totp", &[("code", &totp_code(secret.as_ref().unwrap(), 0))])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    b
}

#[tokio::test]
async fn current_password_failures_count_with_the_login_lockout() {
    let app = TestApp::new().await;
    let mut a = signed_in(&app).await;
    // One failure on the login page, then four on the account's forms: the fifth locks.
    let mut other = app.browser();
    assert_eq!(
        other.login("lieu@exemple.fr", "mauvais mot de passe").await.status,
        StatusCode::UNAUTHORIZED
    );
    let new = "une toute nouvelle phrase";
    for _ in 0..2 {
        let r = a
            .post(
                "/mon-compte/mot-de-passe",
                &[("actuel", "faux"), ("nouveau", new), ("confirmation", new)],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body.contains("Le mot de passe actuel est incorrect"));
    }
    let pending = secret_on_page(&a.get("/mon-compte/totp").await.body);
    let r = a
        .post(
            "/mon-compte/totp",
            &[("code", &totp_code(&pending, 0)), ("mot_de_passe", "faux")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Le mot de passe actuel est incorrect"));
    let r = a.post("/mon-compte/totp/retrait", &[("mot_de_passe", "faux")]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "the fifth failure locks");
    assert!(r.body.contains(LOCKED));
    // Locked: even the right password is refused, on every form and on the login page.
    let r = a
        .post(
            "/mon-compte/mot-de-passe",
            &[("actuel", PASSWORD), ("nouveau", new), ("confirmation", new)],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains(LOCKED));
    let r = a
        .post(
            "/mon-compte/totp",
            &[("code", &totp_code(&pending, 0)), ("mot_de_passe", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains(LOCKED));
    let r = a.post("/mon-compte/totp/retrait", &[("mot_de_passe", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r = app.browser().login("lieu@exemple.fr", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains(LOCKED));
    assert_eq!(current_password_failures(&app).await, 4);
    let locks = app
        .scalar_i64(
            "SELECT COUNT(*) FROM journal WHERE action = 'connexion.verrouillage' AND details LIKE '%mot_de_passe_actuel%'",
        )
        .await;
    assert_eq!(locks, 1);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM accounts WHERE totp_secret IS NULL")
            .await,
        0,
        "the second factor is still there"
    );
    // Once the lock has expired, the right password works and clears the failures.
    app.exec("UPDATE login_throttle SET locked_until = 0").await.unwrap();
    let r = a
        .post(
            "/mon-compte/mot-de-passe",
            &[("actuel", PASSWORD), ("nouveau", new), ("confirmation", new)],
        )
        .await;
    assert_eq!(r.location(), Some("/mon-compte?ok=mot-de-passe"));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM login_throttle").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_parallel_burst_on_the_current_password_gets_five_tries() {
    // A queue long enough for the whole burst: only the lockout refuses here.
    let app = TestApp::new().await.with_argon2(Argon2Pool::new(2, 64));
    let a = signed_in(&app).await;
    let new = "une toute nouvelle phrase";
    let mut tasks = Vec::new();
    for i in 0..48 {
        let mut b = Browser::on(app.router.clone());
        b.cookies = a.cookies.clone();
        let wrong = format!("mauvais {i}");
        tasks.push(tokio::spawn(async move {
            let fields = [("actuel", wrong.as_str()), ("nouveau", new), ("confirmation", new)];
            b.post("/mon-compte/mot-de-passe", &fields).await.status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let wrong = statuses.iter().filter(|s| **s == StatusCode::BAD_REQUEST).count();
    let locked = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    // Four « incorrect », then the fifth failure answers « locked » like every later one.
    assert_eq!((wrong, locked), (4, 44), "{statuses:?}");
    assert_eq!(current_password_failures(&app).await, 5, "only five were checked");
}

/// Takes the only permit of `pool` from the test, until the sender is dropped or used.
async fn hold_permit(pool: &Argon2Pool) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let pool = pool.clone();
    let held = tokio::spawn(async move {
        pool.run(move || {
            let _ = started_tx.send(());
            let _ = release_rx.recv();
        })
        .await
        .unwrap()
    });
    started.await.unwrap();
    (release, held)
}

fn assert_overloaded(r: &Response) {
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(r.headers.get(header::RETRY_AFTER).is_some());
    assert!(r.body.contains("Service momentanément indisponible"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn argon2_work_beyond_the_queue_gets_503_with_retry_after() {
    // One computation at a time, one waiting.
    let app = TestApp::new().await.with_argon2(Argon2Pool::new(1, 1));
    app.account("lieu", "lieu", "lieu@exemple.fr", false).await;
    let mut b = app.browser();
    assert_eq!(b.login("lieu@exemple.fr", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let pool = app.core.argon2.clone();
    let (release, held) = hold_permit(&pool).await;
    // A login waits its turn in the queue…
    let mut first = app.browser();
    let waiting = tokio::spawn(async move { first.login("personne0@exemple.fr", "mauvais mot de passe").await });
    let since = std::time::Instant::now();
    while pool.waiting() < 1 {
        assert!(
            since.elapsed() < std::time::Duration::from_secs(30),
            "la demande n'attend pas"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // …and, the queue full, any other password check is refused at once, with nothing counted.
    for i in 1..4 {
        let r = app
            .browser()
            .login(&format!("personne{i}@exemple.fr"), "mauvais mot de passe")
            .await;
        assert_overloaded(&r);
    }
    let new = "une toute nouvelle phrase";
    let fields = [("actuel", "faux"), ("nouveau", new), ("confirmation", new)];
    assert_overloaded(&b.post("/mon-compte/mot-de-passe", &fields).await);
    assert_overloaded(&b.post("/mon-compte/totp/retrait", &[("mot_de_passe", "faux")]).await);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM login_throttle").await, 0);
    assert_eq!(current_password_failures(&app).await, 0);
    release.send(()).unwrap();
    held.await.unwrap();
    assert_eq!(
        waiting.await.unwrap().status,
        StatusCode::UNAUTHORIZED,
        "the waiting one was served"
    );
    assert_eq!(pool.waiting(), 0);
    let r = b.post("/mon-compte/mot-de-passe", &fields).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "served again once the queue is free");
}

/// Fires `n` requests at once and returns their statuses.
async fn burst(
    app: &TestApp,
    n: usize,
    request: impl Fn(usize) -> axum::http::Request<axum::body::Body>,
) -> Vec<StatusCode> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let mut b = Browser::on(app.router.clone());
            let req = request(i);
            tokio::spawn(async move { b.send(req).await.status })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn count(statuses: &[StatusCode], s: StatusCode) -> usize {
    statuses.iter().filter(|x| **x == s).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_parallel_burst_of_wrong_codes_gets_no_more_evaluations_than_the_limit() {
    let app = TestApp::new().await;
    let get = |path: String| axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap();
    // The cheque holder's page: 30 wrong codes per address in 15 minutes.
    let statuses = burst(&app, 48, |i| get(format!("/c/ABCD{i:04}"))).await;
    let refused = count(&statuses, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((48 - refused, refused), (30, 18), "{statuses:?}");
    // The public check of a mandate attestation: 30 unknown tokens per address.
    let statuses = burst(&app, 48, |i| get(format!("/mandats/verifier/jeton-inconnu-{i}"))).await;
    assert_eq!(count(&statuses, StatusCode::NOT_FOUND), 30, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 18);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_parallel_burst_on_the_cheque_api_gets_no_more_evaluations_than_the_limit() {
    let app = TestApp::new().await;
    let s = crate::pass::ready(&app, crate::pass::scene(&app).await).await;
    let key = s.key1.clone();
    // A valid cheque is not a failure: its count is given back.
    let code = s.codes[0].2.clone();
    let (status, v) = crate::pass::call(
        &app,
        "/api/v1/cheques/verifier",
        Some(&key),
        None,
        json!({ "code": code }).to_string(),
    )
    .await;
    assert_eq!((status, v["valide"].as_bool()), (StatusCode::OK, Some(true)), "{v}");
    let counted = "SELECT COALESCE(MAX(hits), 0) FROM rate_limits WHERE key LIKE 'cheques-echecs-cle:%'";
    assert_eq!(app.scalar_i64(counted).await, 0);
    let statuses = burst(&app, 48, |i| {
        axum::http::Request::post("/api/v1/cheques/verifier")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(axum::body::Body::from(json!({ "code": format!("X{i}") }).to_string()))
            .unwrap()
    })
    .await;
    // 30 failed checks per key in 15 minutes: 30 evaluated (« code mal saisi »), 18 refused.
    assert_eq!(count(&statuses, StatusCode::OK), 30, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 18);
    assert_eq!(app.scalar_i64(counted).await, 30, "refusals are not counted");
}
