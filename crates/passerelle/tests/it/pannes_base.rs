//! Database outage: PostgreSQL stopped for a few seconds under load. Requests
//! fail fast with 503 (French page, JSON under /api/, `Retry-After`), `/healthz`
//! says the database is unreachable, no request hangs, and the service recovers
//! by itself when PostgreSQL is back. On SQLite: a database locked by another
//! process beyond the busy timeout gives the same clean 503.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};

use crate::lieux::fixture;
use crate::pannes::{client, passerelle_at, Server};
use crate::support::TestApp;

/// A throwaway PostgreSQL cluster of this test only (initdb in a temporary
/// directory, free loopback port), stopped and removed when dropped.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// `None` (with the reason) when PostgreSQL's binaries are not installed.
    fn create() -> Result<Cluster, String> {
        let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|_| "PostgreSQL n'est pas installé (/usr/lib/postgresql absent)".to_string())?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .collect();
        bins.sort_by_key(|b| {
            b.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
        });
        let bin = bins.pop().ok_or("aucun initdb sous /usr/lib/postgresql/*/bin")?;
        // initdb refuses to run as root: the cluster then belongs to the user postgres.
        let as_postgres =
            std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").map_err(|e| e.to_string())?) == 0;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        if as_postgres {
            let chown = Command::new("chown")
                .args(["postgres:", dir.path().to_str().unwrap_or_default()])
                .status()
                .map_err(|e| e.to_string())?;
            if !chown.success() {
                return Err("utilisateur postgres absent (nécessaire sous root)".into());
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let data = dir.path().join("data");
        let c = Cluster {
            bin,
            data,
            port,
            as_postgres,
            _dir: dir,
        };
        let d = c.data.to_string_lossy().into_owned();
        c.run(
            "initdb",
            &[
                "-D",
                &d,
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{d}'\nmax_connections = 60\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        );
        let mut text = std::fs::read_to_string(c.data.join("postgresql.conf")).map_err(|e| e.to_string())?;
        text.push_str(&conf);
        std::fs::write(c.data.join("postgresql.conf"), text).map_err(|e| e.to_string())?;
        c.start()?;
        Ok(c)
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{tool} : {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{tool} : {}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    fn start(&self) -> Result<(), String> {
        let d = self.data.to_string_lossy().into_owned();
        let log = self.data.join("postgres.log").to_string_lossy().into_owned();
        self.run("pg_ctl", &["start", "-D", &d, "-l", &log, "-w", "-t", "60"])
    }

    fn stop(&self, mode: &str) -> Result<(), String> {
        let d = self.data.to_string_lossy().into_owned();
        self.run("pg_ctl", &["stop", "-D", &d, "-m", mode, "-w", "-t", "30"])
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop("immediate");
    }
}

fn cli_ok(url: &str, data: &Path, args: &[&str]) -> String {
    let out = passerelle_at(url, data, args).output().expect("passerelle");
    assert!(
        out.status.success(),
        "{args:?} : {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One answer: status, `Retry-After`, content type, body, time taken.
#[derive(Debug)]
struct Seen {
    status: u16,
    retry_after: Option<String>,
    content_type: String,
    body: String,
    took: Duration,
}

async fn send(req: reqwest::RequestBuilder) -> Seen {
    let start = Instant::now();
    let res = req.send().await.expect("réponse (bornée à 20 s par le client)");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (retry_after, content_type) = (header("retry-after"), header("content-type").unwrap_or_default());
    let status = res.status().as_u16();
    let body = res.text().await.expect("corps");
    Seen {
        status,
        retry_after,
        content_type,
        body,
        took: start.elapsed(),
    }
}

/// The three kinds of requests of the load: a place's page (HTML), the directory's API, `/healthz`.
fn requests(http: &reqwest::Client, base: &str) -> [reqwest::RequestBuilder; 3] {
    [
        http.get(format!("{base}/lieux/mednum-1")),
        http.get(format!("{base}/api/v1/lieux/mednum-1")),
        http.get(format!("{base}/healthz")),
    ]
}

/// A check of an unknown cheque by the cheque API (200 with a refusal when the
/// database answers; a few only: failed checks are rate limited).
fn check(http: &reqwest::Client, base: &str, key: &str) -> reqwest::RequestBuilder {
    http.post(format!("{base}/api/v1/cheques/verifier"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(json!({ "code": "AAAA-AAAA-AAAA" }).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_stopped_under_load_gives_fast_503_and_the_service_recovers_alone() {
    if std::env::var("PASSERELLE_TEST_DATABASE_URL").map_or(true, |v| v.is_empty()) {
        eprintln!(
            "IGNORÉ : la panne de PostgreSQL ne se teste que dans le volet PostgreSQL (PASSERELLE_TEST_DATABASE_URL)"
        );
        return;
    }
    let cluster = Cluster::create().unwrap_or_else(|e| panic!("grappe PostgreSQL jetable : {e}"));
    let url = cluster.url();
    let dir = tempfile::tempdir().expect("dossier");
    let data = dir.path().join("data");
    cli_ok(&url, &data, &["migrate"]);
    cli_ok(
        &url,
        &data,
        &["lieux", "import", fixture("propre.csv").to_str().expect("chemin")],
    );
    cli_ok(&url, &data, &["lieux", "qualifier", "mednum-1"]);
    let key: Value =
        serde_json::from_str(&cli_ok(&url, &data, &["lieux", "cle-api", "mednum-1", "--json"])).expect("JSON");
    let key = key["cle"].as_str().expect("clé").to_string();
    let server = Server::start_at(&url, &data, &[]).await;
    let http = client();
    for r in requests(&http, &server.base) {
        let s = send(r).await;
        assert_eq!(s.status, 200, "{s:?}");
    }
    let s = send(check(&http, &server.base, &key)).await;
    assert_eq!(s.status, 200, "{s:?}");

    // A small load: 3 clients, each sending the three kinds of requests in turn, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<(u16, Duration)>>> = Arc::default();
    let mut load = Vec::new();
    for _ in 0..3 {
        let (stop, seen, http, base) = (stop.clone(), seen.clone(), http.clone(), server.base.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for r in requests(&http, &base) {
                    let s = send(r).await;
                    seen.lock().expect("réponses").push((s.status, s.took));
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    cluster.stop("fast").expect("arrêt de PostgreSQL");
    let down = Instant::now();
    let [page, directory, health] = requests(&http, &server.base);
    let page = send(page).await;
    assert_eq!(page.status, 503, "{page:?}");
    assert!(
        page.took < Duration::from_secs(10),
        "échec rapide attendu : {:?}",
        page.took
    );
    assert!(page.content_type.starts_with("text/html"), "{page:?}");
    assert!(page.body.contains("Service momentanément indisponible") && page.body.contains("lang=\"fr\""));
    assert_eq!(page.retry_after.as_deref(), Some("5"));
    let api = send(check(&http, &server.base, &key)).await;
    assert_eq!(api.status, 503, "{api:?}");
    assert!(api.took < Duration::from_secs(10), "{:?}", api.took);
    let v: Value = serde_json::from_str(&api.body).expect("JSON sous /api/");
    assert_eq!(v["motif"], "service_indisponible", "{v}");
    assert!(v["message"]
        .as_str()
        .unwrap_or_default()
        .contains("momentanément indisponible"));
    assert!(api.retry_after.is_some());
    let directory = send(directory).await;
    assert_eq!(directory.status, 503, "{directory:?}");
    assert!(directory.content_type.starts_with("application/json"), "{directory:?}");
    let v: Value = serde_json::from_str(&directory.body).expect("JSON sous /api/");
    assert!(v["erreur"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("momentanément indisponible"));
    let health = send(health).await;
    assert_eq!(health.status, 503, "{health:?}");
    let v: Value = serde_json::from_str(&health.body).expect("JSON");
    assert_eq!(v["base_de_donnees"], "injoignable");
    // Down for a few seconds in all.
    if let Some(left) = Duration::from_secs(4).checked_sub(down.elapsed()) {
        tokio::time::sleep(left).await;
    }

    cluster.start().expect("redémarrage de PostgreSQL");
    let back = Instant::now();
    loop {
        let s = send(http.get(format!("{}/healthz", server.base))).await;
        if s.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "pas de retour seul en 30 s : {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recovered = back.elapsed();
    for r in requests(&http, &server.base) {
        let s = send(r).await;
        assert_eq!(s.status, 200, "{s:?}");
    }
    let s = send(check(&http, &server.base, &key)).await;
    assert_eq!(s.status, 200, "{s:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.expect("client");
    }
    let seen = seen.lock().expect("réponses");
    let wrong: Vec<_> = seen.iter().filter(|(s, _)| *s != 200 && *s != 503).collect();
    assert!(wrong.is_empty(), "ni 500 ni 408 pendant la panne : {wrong:?}");
    let slowest = seen.iter().map(|(_, t)| *t).max().unwrap_or_default();
    assert!(slowest < Duration::from_secs(10), "requête la plus lente : {slowest:?}");
    let unavailable = seen.iter().filter(|(s, _)| *s == 503).count();
    assert!(unavailable > 0, "la charge a traversé la panne");
    eprintln!(
        "panne : {} requêtes de charge, {unavailable} en 503, la plus lente {slowest:?} ; retour en {recovered:?} après le redémarrage",
        seen.len()
    );
    drop(server);
    let out = passerelle_at(&url, &data, &["journal", "verify"])
        .output()
        .expect("journal verify");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test]
async fn a_sqlite_database_locked_beyond_the_busy_timeout_gives_a_clean_503() {
    let app = TestApp::new().await;
    if app.backend() != passerelle_core::Backend::Sqlite {
        eprintln!("IGNORÉ : le verrou d'un fichier SQLite ne se teste que dans le volet SQLite");
        return;
    }
    let r = crate::pannes_encaissements::redeemable(&app, 1).await;
    let (booklet, code) = r.codes[0].clone();
    let (key, service) = r.place_of(booklet);
    // Another process (here: another connection) holds the write lock.
    let opts: sqlx::sqlite::SqliteConnectOptions = app.db_url.parse().expect("URL SQLite");
    let mut locker = sqlx::ConnectOptions::connect(&opts).await.expect("connexion");
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .expect("verrou");

    let redeem = || {
        Request::post("/api/v1/cheques/encaisser")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header("idempotency-key", "verrou")
            .body(Body::from(json!({ "code": code, "service": service }).to_string()))
            .expect("requête")
    };
    let (mut a, mut b) = (app.browser(), app.browser());
    let start = Instant::now();
    let (api, page) = tokio::join!(
        a.send(redeem()),
        b.post(
            "/connexion",
            &[
                ("email", "personne@example.fr"),
                ("mot_de_passe", "mauvais mot de passe")
            ]
        )
    );
    assert!(start.elapsed() < Duration::from_secs(20), "{:?}", start.elapsed());
    assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE, "{}", api.body);
    let v: Value = serde_json::from_str(&api.body).expect("JSON");
    assert_eq!(v["motif"], "service_indisponible");
    assert!(api.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{}", page.body);
    assert!(page.body.contains("Service momentanément indisponible"));

    sqlx::raw_sql("ROLLBACK")
        .execute(&mut locker)
        .await
        .expect("fin du verrou");
    let again = app.browser().send(redeem()).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM encaissements").await, 1);
}

#[tokio::test]
async fn serve_documents_and_checks_its_database_delay() {
    let app = TestApp::new().await;
    let out = crate::pannes::passerelle(&app, &["serve", "--help"])
        .output()
        .expect("aide");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--delai-base") && help.contains("PASSERELLE_DELAI_BASE"),
        "{help}"
    );
    assert!(help.contains("Service momentanément indisponible"), "{help}");
    let out = crate::pannes::passerelle(&app, &["serve", "--delai-base", "0"])
        .output()
        .expect("serve");
    assert_eq!(out.status.code(), Some(2), "0 s is refused");
}
