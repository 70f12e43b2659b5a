//! `/metrics`: closed without a configured token, refused without the right
//! one; counts requests by route template (never the real path of a cheque's
//! page) and status; business counters equal to the database's.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use passerelle_web::{router, AppState, WebConfig};
use tower::ServiceExt;

use crate::support::{TestApp, BASE};

const TOKEN: &str = "jeton-de-test-des-metriques";

fn app_with_token(app: &TestApp, token: Option<&str>) -> axum::Router {
    let config = WebConfig {
        base_url: url::Url::parse(BASE).unwrap(),
        assets_dir: None,
        fonts_dir: None,
        trust_proxy: false,
        search_max_age: std::time::Duration::ZERO,
        dashboard_max_age: std::time::Duration::ZERO,
    };
    router(AppState::new(app.core.clone(), config).with_metrics_token(token))
}

async fn get(router: &axum::Router, path: &str, auth: Option<&str>) -> (StatusCode, String, String) {
    let mut req = Request::get(path);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    let res = router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let ctype = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, ctype, String::from_utf8_lossy(&body).into_owned())
}

/// The value of the sample line starting with `series` (name and labels).
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn metrics_do_not_exist_without_a_token_and_refuse_a_wrong_one() {
    let app = TestApp::new().await;
    let closed = app_with_token(&app, None);
    assert_eq!(get(&closed, "/metrics", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&closed, "/metrics", Some(&format!("Bearer {TOKEN}"))).await.0,
        StatusCode::NOT_FOUND
    );
    // An empty token is no token.
    let empty = app_with_token(&app, Some("  "));
    assert_eq!(get(&empty, "/metrics", Some("Bearer ")).await.0, StatusCode::NOT_FOUND);

    let open = app_with_token(&app, Some(TOKEN));
    let (status, _, body) = get(&open, "/metrics", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Jeton des métriques"), "{body}");
    assert_eq!(
        get(&open, "/metrics", Some("Bearer autre-jeton")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get(&open, "/metrics", Some(TOKEN)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&open, "/metrics", Some(&format!("Bearer {TOKEN}"))).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_template_and_report_business_counters() {
    let app = TestApp::new().await;
    let demo = app.load_demo().await;
    let code = demo.pass.as_ref().unwrap().codes[0].replace('-', "");
    let router = app_with_token(&app, Some(TOKEN));
    let auth = format!("Bearer {TOKEN}");

    for _ in 0..3 {
        assert_eq!(get(&router, "/healthz", None).await.0, StatusCode::OK);
    }
    get(&router, &format!("/c/{code}"), None).await;
    assert_eq!(get(&router, "/nulle-part", None).await.0, StatusCode::NOT_FOUND);

    let (status, ctype, body) = get(&router, "/metrics", Some(&auth)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    assert!(body.trim_end().ends_with("# EOF"), "{body}");
    assert_eq!(
        sample(
            &body,
            r#"passerelle_requetes_http_total{methode="GET",route="/healthz",statut="200"}"#
        ),
        Some(3.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            r#"passerelle_requetes_http_duree_secondes_count{methode="GET",route="/healthz"}"#
        ),
        Some(3.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            r#"passerelle_requetes_http_total{methode="GET",route="(aucune)",statut="404"}"#
        ),
        Some(1.0),
        "{body}"
    );
    // The cheque's page is counted under its template: its code appears nowhere.
    assert!(body.contains(r#"route="/c/{code}""#), "{body}");
    assert!(!body.contains(&code), "a cheque code leaked into the metrics");

    // Business counters: the database's own figures.
    let by_state = app.scalar_i64("SELECT COUNT(*) FROM cheques").await;
    let listed: f64 = body
        .lines()
        .filter(|l| l.starts_with("passerelle_cheques{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(by_state > 0);
    assert_eq!(listed, by_state as f64, "{body}");
    let places = app.scalar_i64("SELECT COUNT(*) FROM lieux").await;
    assert_eq!(sample(&body, "passerelle_lieux"), Some(places as f64), "{body}");
    let seq = app.scalar_i64("SELECT MAX(seq) FROM journal").await;
    assert!(seq > 0);
    assert_eq!(sample(&body, "passerelle_journal_entrees"), Some(seq as f64), "{body}");
    assert!(
        body.contains("# TYPE passerelle_requetes_http_en_cours gauge"),
        "{body}"
    );
}
