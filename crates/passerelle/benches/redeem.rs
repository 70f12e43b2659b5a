//! Durable redemptions on SQLite (`synchronous=FULL`), and on a durable
//! PostgreSQL with `BENCH_PG_URL`, each in one run:
//! 0. the disk's ceiling in the same run: transactions of one small insert each
//!    (SQLite: one after the other on the same disk; PostgreSQL: 64 connections at once,
//!    and `pgbench` with one client when it is installed, the ratio's reference);
//! 1. one redemption transaction called directly in Rust, one after the other (no grouping);
//! 2. over HTTP, 64 concurrent clients (keep-alive), each redeeming distinct cheques
//!    (the counter's group commit shares transactions between waiting requests);
//! 3. over HTTP at a fixed 500 requests/s (open loop: latency counted from the planned send time).
//!
//! Run: `cargo bench -p passerelle --bench redeem`. `BENCH_SECS` (default 10) per HTTP measure.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod durable;
mod mesure;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mesure::{ms, percentile};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use passerelle_core::accounts::Principal;
use passerelle_core::lieux::import::{import, Options};
use passerelle_core::lieux::read::Format;
use passerelle_core::pass_numerique::model::Territory;
use passerelle_core::pass_numerique::orders::{self, NewOrder};
use passerelle_core::pass_numerique::redeem::{self, Counter, Outcome};
use passerelle_core::pass_numerique::{issue, places};
use passerelle_core::{Core, Pool};

const SERVICE: &str = "Accès internet et matériel informatique";

async fn exec(core: &Core, sql: &str) {
    match &core.db.pool {
        Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        Pool::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
    }
    .expect(sql);
}

struct Setup {
    core: Core,
    key: String,
    key_id: i64,
    place: places::Place,
    codes: Vec<String>,
}

async fn setup(url: &str, dir: &std::path::Path, booklets: i64) -> Setup {
    let core = Core::open(url, &dir.join("data")).await.expect("base");
    for sql in [
        "INSERT INTO territoires_regions (code, nom) VALUES ('75', 'Nouvelle-Aquitaine')",
        "INSERT INTO territoires_departements (code, nom, region) VALUES ('33', 'Gironde', '75')",
    ] {
        exec(&core, sql).await;
    }
    let csv = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lieux/propre.csv")).expect("lieux");
    let options = Options {
        source: "banc".into(),
        file_name: "propre.csv".into(),
        ignore_invalid: true,
        dry_run: false,
    };
    import(&core, &Principal::SYSTEME, &csv, Format::Csv, &options, |_, _| {})
        .await
        .expect("import");
    let place = places::qualify(&core, &Principal::SYSTEME, "mednum-2")
        .await
        .expect("qualification");
    let (_, _, key) = places::new_api_key(&core, &Principal::SYSTEME, "mednum-2")
        .await
        .expect("clé");
    let (key_id, _) = places::authenticate(&core.db, &key).await.expect("clé").expect("clé");
    let funder =
        passerelle_core::accounts::create_organisation(&core, &Principal::SYSTEME, "commanditaire", "Banc", None)
            .await
            .expect("commanditaire");
    let mut new = NewOrder::new(
        funder.id,
        booklets,
        jiff::civil::date(2020, 1, 1),
        jiff::civil::date(2099, 12, 31),
    );
    new.perimetre = vec![Territory::Departement("33".into())].into();
    let (order, _) = orders::create(&core, &Principal::SYSTEME, &new)
        .await
        .expect("commande");
    issue::issue(&core, &Principal::SYSTEME, order.id, |_, _| {})
        .await
        .expect("émission");
    orders::pay(&core, &Principal::SYSTEME, order.id, "BANC")
        .await
        .expect("paiement");
    // Bench shortcut: every booklet handed out at once (the hand-out itself is not measured here).
    exec(
        &core,
        "UPDATE carnets SET remis_at = 1, public = 'tout-public', commune = '33318'",
    )
    .await;
    // Ranks 1 and 2 of each booklet: the daily cap (2 per booklet and place) is never reached.
    let codes = issue::codes(&core, order.id, None)
        .await
        .expect("codes")
        .into_iter()
        .filter(|p| p.rang <= 2)
        .map(|p| p.code.compact())
        .collect();
    Setup {
        core,
        key,
        key_id,
        place,
        codes,
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: std::net::SocketAddr) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connexion");
    stream.set_nodelay(true).ok();
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .expect("poignée de main");
    tokio::spawn(conn);
    sender
}

async fn post(sender: &mut Sender, key: &str, code: &str, n: usize) -> u16 {
    let body = format!("{{\"code\":\"{code}\",\"service\":\"{SERVICE}\"}}");
    let req = hyper::Request::post("/api/v1/cheques/encaisser")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {key}"))
        .header("idempotency-key", format!("banc-{n}"))
        .body(Full::new(Bytes::from(body)))
        .expect("requête");
    sender.ready().await.expect("prêt");
    let res = sender.send_request(req).await.expect("réponse");
    let status = res.status().as_u16();
    let _ = res.into_body().collect().await;
    status
}

/// Transactions of one small insert each, per second: on SQLite one after the
/// other in a file beside the bench's database; on PostgreSQL from 64 connections at once.
async fn ceiling(url: &str, secs: u64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(secs.min(5));
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.split('?').next().unwrap_or(path).replace("bench.db", "plafond.db");
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full);
        let pool = sqlx::SqlitePool::connect_with(opts).await.expect("plafond");
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
            .execute(&pool)
            .await
            .expect("table");
        while Instant::now() < deadline {
            sqlx::query("INSERT INTO t (v) VALUES (x'0102030405060708')")
                .execute(&pool)
                .await
                .expect("insert");
            done.fetch_add(1, Ordering::Relaxed);
        }
    } else {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(64)
            .connect(url)
            .await
            .expect("plafond");
        sqlx::query("CREATE TABLE plafond (id BIGSERIAL PRIMARY KEY, v BYTEA)")
            .execute(&pool)
            .await
            .expect("table");
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (pool, done) = (pool.clone(), done.clone());
                tokio::spawn(async move {
                    while Instant::now() < deadline {
                        sqlx::query("INSERT INTO plafond (v) VALUES ('\\x0102030405060708')")
                            .execute(&pool)
                            .await
                            .expect("insert");
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("client");
        }
        pool.close().await;
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// The same-run ceiling by PostgreSQL's own `pgbench` (one client, one small
/// insert per transaction, 5 s), when it is installed; its transactions per second.
fn pgbench(url: &str) -> Option<f64> {
    let bin = std::env::var("PG_BIN").ok().map(std::path::PathBuf::from).or_else(|| {
        let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|e| e.path())
            .collect();
        dirs.sort();
        dirs.pop().map(|d| d.join("bin"))
    })?;
    let script = tempfile::NamedTempFile::new().ok()?;
    std::fs::write(
        script.path(),
        "INSERT INTO plafond (v) VALUES ('\\x0102030405060708');\n",
    )
    .ok()?;
    let out = std::process::Command::new(bin.join("pgbench"))
        .args(["-n", "-c", "1", "-T", "5", "-f"])
        .arg(script.path())
        .arg(url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// CPU time used by this process so far (user + system), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<u64> = rest.split_whitespace().filter_map(|f| f.parse().ok()).collect();
    let ticks = fields.get(10).copied().unwrap_or(0) + fields.get(11).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().expect("dossier");
    let url = format!("sqlite:{}/bench.db?mode=rwc", dir.path().display());
    bench("SQLite (synchronous=FULL)", &url, dir.path(), secs);
    if let Ok(server) = std::env::var("BENCH_PG_URL") {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("moteur");
        let (engine, url, admin, name) = rt.block_on(durable::fresh_database(&server, "banc_encaissements"));
        let pg_dir = tempfile::tempdir().expect("dossier");
        bench(engine, &url, pg_dir.path(), secs);
        rt.block_on(durable::drop_database(&admin, &name));
    }
}

fn bench(engine: &str, url: &str, dir: &std::path::Path, secs: u64) {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("moteur");
    let s = server_rt.block_on(setup(url, dir, 40_000));
    println!("== {engine} : {} codes prêts", s.codes.len());
    let disk = server_rt.block_on(ceiling(url, secs));
    println!("plafond du disque (une petite insertion par transaction, même passage) : {disk:.0} transactions/s");
    let pgbench = url.starts_with("postgres").then(|| pgbench(url)).flatten();
    if let Some(tps) = pgbench {
        println!("pgbench, une insertion par transaction, 1 client, 5 s : {tps:.0} transactions/s");
    }

    // 1. One durable redemption transaction after the other, no HTTP, no grouping.
    let n = 2_000;
    let start = Instant::now();
    server_rt.block_on(async {
        for code in &s.codes[..n] {
            let out = redeem::redeem(
                &s.core,
                Counter::ApiKey(s.key_id),
                &s.place,
                code,
                SERVICE,
                None,
                s.core.db.horloge().today_paris(),
            )
            .await
            .expect("encaissement");
            assert!(matches!(out, Outcome::Redeemed(_)), "{out:?}");
        }
    });
    let single = n as f64 / start.elapsed().as_secs_f64();
    println!("transaction d'encaissement seule, appelée en boucle, sans HTTP : {single:.0} encaissements/s");

    // The server, in its own runtime.
    let config = passerelle_web::WebConfig {
        base_url: url::Url::parse("http://localhost").expect("url"),
        assets_dir: None,
        fonts_dir: None,
        trust_proxy: false,
        search_max_age: Duration::from_millis(200),
        dashboard_max_age: std::time::Duration::from_secs(300),
    };
    let app = passerelle_web::router(passerelle_web::AppState::new(s.core.clone(), config));
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("écoute");
    let addr = listener.local_addr().expect("adresse");
    server_rt.spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .expect("serveur")
    });
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("moteur");
    let codes = Arc::new(s.codes);
    let next = Arc::new(AtomicUsize::new(n));
    let key = Arc::new(s.key);

    // 2. 64 concurrent clients, as fast as they can.
    let cpu_before = cpu_time();
    let (latencies, statuses, elapsed) = client_rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (codes, next, key) = (codes.clone(), next.clone(), key.clone());
                tokio::spawn(async move {
                    let mut sender = connect(addr).await;
                    let mut out = Vec::new();
                    while Instant::now() < deadline {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(code) = codes.get(i) else { break };
                        let t = Instant::now();
                        let status = post(&mut sender, &key, code, i).await;
                        out.push((t.elapsed(), status));
                    }
                    out
                })
            })
            .collect();
        let start = Instant::now();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("client"));
        }
        let elapsed = start.elapsed();
        let mut lat: Vec<Duration> = all.iter().map(|(d, _)| *d).collect();
        lat.sort();
        (lat, all.iter().map(|(_, s)| *s).collect::<Vec<u16>>(), elapsed)
    });
    let ok = statuses.iter().filter(|s| **s == 201).count();
    let rate = ok as f64 / elapsed.as_secs_f64();
    let cpu = cpu_time().saturating_sub(cpu_before);
    println!(
        "HTTP, 64 clients : {rate:.0} encaissements/s ({:.2} du plafond{}), {ok} réponses 201 sur {}, p50 {}, p99 {}",
        rate / pgbench.unwrap_or(disk),
        if pgbench.is_some() {
            " de pgbench à 1 client"
        } else {
            " du disque"
        },
        statuses.len(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99))
    );
    println!(
        "processeur de ce processus (serveur et clients du banc ; {}) : {:.2} ms par encaissement",
        if url.starts_with("sqlite") {
            "SQLite compris"
        } else {
            "hors processus de PostgreSQL"
        },
        cpu.as_secs_f64() * 1000.0 / ok.max(1) as f64
    );

    // 3. Open loop at 500 requests/s: 50 connections, each sending every 100 ms on schedule.
    let (latencies, statuses) = client_rt.block_on(async {
        let start = Instant::now() + Duration::from_millis(100);
        let per_conn = secs * 10;
        let tasks: Vec<_> = (0..50u64)
            .map(|c| {
                let (codes, next, key) = (codes.clone(), next.clone(), key.clone());
                tokio::spawn(async move {
                    let mut sender = connect(addr).await;
                    let mut out = Vec::new();
                    for k in 0..per_conn {
                        let planned = start + Duration::from_micros(c * 2_000 + k * 100_000);
                        tokio::time::sleep_until(planned.into()).await;
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(code) = codes.get(i) else { break };
                        let status = post(&mut sender, &key, code, i).await;
                        out.push((planned.elapsed(), status));
                    }
                    out
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("client"));
        }
        let mut lat: Vec<Duration> = all.iter().map(|(d, _)| *d).collect();
        lat.sort();
        (lat, all.iter().map(|(_, s)| *s).collect::<Vec<u16>>())
    });
    println!(
        "HTTP à 500 requêtes/s : {} requêtes, {} réponses 201, p50 {}, p99 {}",
        statuses.len(),
        statuses.iter().filter(|s| **s == 201).count(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99))
    );
    println!(
        "chèques utilisés : {} sur {}",
        next.load(Ordering::Relaxed).min(codes.len()),
        codes.len()
    );
}
