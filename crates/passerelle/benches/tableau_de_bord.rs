//! The national dashboard at national scale: 100,000 places (imported in the
//! standard), 2,000,000 cheques (600,000 redeemed across the places over 24
//! months), 5,000 qualified places and 1,000,000 accompaniments. In one run:
//! 1. the direct recount of every figure (what a page would cost without the snapshot);
//! 2. `GET /tableau-de-bord` over HTTP (keep-alive, one client, then 8), after warm-up;
//! 3. the same with the map of hours, and the open-data indicators (CSV).
//!
//! Run: `cargo bench -p passerelle --bench tableau_de_bord` (SQLite), or with
//! `BENCH_PG_URL=$(scripts/pg-test-server start)` for PostgreSQL. `BENCH_REQUESTS`
//! (default 2000) per measure.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;
mod durable;
mod mesure;

use std::time::{Duration, Instant};

use mesure::{ms, percentile};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use passerelle_core::accounts::Principal;
use passerelle_core::lieux::import::{import, Options};
use passerelle_core::lieux::read::Format;
use passerelle_core::tableau_de_bord::donnees;
use passerelle_core::{Core, Pool};

const PLACES: usize = 100_000;
const CHEQUES: i64 = 2_000_000;
const PER_BOOKLET: i64 = 10;
const REDEEMED: i64 = 600_000;
const QUALIFIED: i64 = 5_000;
const ACCOMPANIMENTS: i64 = 1_000_000;

async fn exec(core: &Core, sql: &str) {
    match &core.db.pool {
        Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        Pool::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
    }
    .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

async fn scalar(core: &Core, sql: &str) -> i64 {
    match &core.db.pool {
        Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await,
    }
    .unwrap_or_else(|e| panic!("{e}: {sql}"))
}

/// `INSERT INTO {table} ({cols}) SELECT {exprs}` over `i` in `0..n`, on either engine.
async fn series(core: &Core, table: &str, cols: &str, exprs: &str, n: i64) {
    let sql = match &core.db.pool {
        Pool::Sqlite(_) => format!(
            "INSERT INTO {table} ({cols}) WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {}) \
             SELECT {exprs} FROM s",
            n - 1
        ),
        Pool::Postgres(_) => format!(
            "INSERT INTO {table} ({cols}) SELECT {exprs} FROM generate_series(CAST(0 AS BIGINT), {}) AS s(i)",
            n - 1
        ),
    };
    exec(core, &sql).await;
}

async fn setup(core: &Core) {
    let t = Instant::now();
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../node_modules/@etalab/decoupage-administratif/data");
    passerelle_core::geographie::load(&core.db, &dataset)
        .await
        .expect("territoires");
    let csv = common::generate(PLACES);
    let options = Options {
        source: "banc".into(),
        file_name: "lieux.csv".into(),
        ignore_invalid: true,
        dry_run: false,
    };
    import(
        core,
        &Principal::SYSTEME,
        csv.as_bytes(),
        Format::Csv,
        &options,
        |_, _| {},
    )
    .await
    .expect("import");
    let first_place = scalar(core, "SELECT MIN(id) FROM lieux").await;
    let places = scalar(core, "SELECT COUNT(*) FROM lieux").await;
    println!("{places} lieux importés ({:.0} s)", t.elapsed().as_secs_f64());

    // The 24 months of the data, oldest first (a small table to join on).
    exec(
        core,
        "CREATE TABLE banc_mois (k INTEGER PRIMARY KEY, mois TEXT NOT NULL)",
    )
    .await;
    let current = passerelle_core::indicateurs::current_month(&passerelle_core::Horloge::systeme());
    let (y, m) = current.split_once('-').expect("mois");
    let index = y.parse::<i64>().expect("année") * 12 + m.parse::<i64>().expect("mois") - 1;
    for k in 0..24 {
        let i = index - 23 + k;
        exec(
            core,
            &format!(
                "INSERT INTO banc_mois (k, mois) VALUES ({k}, '{:04}-{:02}')",
                i.div_euclid(12),
                i.rem_euclid(12) + 1
            ),
        )
        .await;
    }
    exec(
        core,
        "INSERT INTO organisations (kind, name, created_at, updated_at) VALUES ('commanditaire', 'Banc', 0, 0)",
    )
    .await;
    let org = scalar(core, "SELECT MAX(id) FROM organisations").await;
    exec(
        core,
        &format!(
            "INSERT INTO accounts (organisation_id, email, display_name, role, password_hash, created_at, updated_at) \
             VALUES ({org}, 'banc@exemple.fr', 'Banc', 'lieu', 'x', 0, 0)"
        ),
    )
    .await;
    let account = scalar(core, "SELECT MAX(id) FROM accounts").await;
    let booklets = CHEQUES / PER_BOOKLET;
    let start = jiff::civil::Date::new(
        (index - 23).div_euclid(12) as i16,
        ((index - 23).rem_euclid(12) + 1) as i8,
        15,
    )
    .and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC))
    .expect("date")
    .timestamp()
    .as_second()
        * 1_000_000;
    exec(
        core,
        &format!(
            "INSERT INTO commandes (commanditaire_id, carnets, cheques_par_carnet, valeur_centimes, frais_pour_dix_mille, \
             debut, fin, tolerance_jours, perimetre, publics, services, plafond_jour, marque, etat, emise_at, created_at, updated_at) \
             VALUES ({org}, {booklets}, {PER_BOOKLET}, 1000, 500, '2020-01-01', '2099-12-31', 30, 'FR', 'tout-public', '', 2, \
             'Banc', 'payee', 1, 0, 0)"
        ),
    )
    .await;
    let order = scalar(core, "SELECT MAX(id) FROM commandes").await;
    let t = Instant::now();
    let blob = match &core.db.pool {
        Pool::Sqlite(_) => "randomblob(16)",
        Pool::Postgres(_) => "decode(md5(i::text), 'hex')",
    };
    series(
        core,
        "carnets",
        "numero, commande_id, graine",
        &format!("i + 1, {order}, {blob}"),
        booklets,
    )
    .await;
    series(
        core,
        "cheques",
        "id, carnet_id, rang, commande_id, empreinte, valeur_centimes, etat, updated_at",
        &format!(
            "i + 1, i / {PER_BOOKLET} + 1, i % {PER_BOOKLET} + 1, {order}, {blob}, 1000, \
             CASE WHEN i < {REDEEMED} THEN 'encaisse' ELSE 'actif' END, 0"
        ),
        CHEQUES,
    )
    .await;
    series(
        core,
        "encaissements",
        "cheque_id, carnet_id, commande_id, lieu_id, service, valeur_centimes, jour, at",
        &format!(
            "i + 1, i / {PER_BOOKLET} + 1, {order}, {first_place} + (i * 7919) % {places}, 'Banc', 1000, \
             (SELECT mois FROM banc_mois WHERE k = i % 24) || '-15', 0"
        ),
        REDEEMED,
    )
    .await;
    series(
        core,
        "qualifications",
        "lieu_id, etat, created_at, updated_at",
        // Granted over the 24 months (about 30.4 days apart), as in a live deployment.
        &format!("{first_place} + i * ({places} / {QUALIFIED}), 'active', {start} + (i % 24) * 2629800000000, 0"),
        QUALIFIED,
    )
    .await;
    println!(
        "{CHEQUES} chèques, {REDEEMED} encaissements, {QUALIFIED} qualifications écrits ({:.0} s)",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    series(
        core,
        "activites",
        "compte_id, organisation_id, jour, mois, duree_minutes, nature, participants, thematiques, tranche_age, \
         departement, statut, created_at, updated_at",
        &format!(
            "{account}, {org}, (SELECT mois FROM banc_mois WHERE k = i % 24) || '-10', \
             (SELECT mois FROM banc_mois WHERE k = i % 24), 30 + i % 90, 'individuel', 1 + i % 3, '', '26-59', \
             (SELECT departement FROM lieux WHERE id = {first_place} + (i * 104729) % {places}), 'autre', 0, 0"
        ),
        ACCOMPANIMENTS,
    )
    .await;
    println!(
        "{ACCOMPANIMENTS} accompagnements écrits ({:.0} s)",
        t.elapsed().as_secs_f64()
    );
    if let Pool::Postgres(_) = core.db.pool {
        exec(core, "ANALYZE").await;
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn connect(addr: std::net::SocketAddr) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connexion");
    stream.set_nodelay(true).ok();
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .expect("poignée de main");
    tokio::spawn(conn);
    sender
}

async fn get(sender: &mut Sender, path: &str) -> (u16, usize) {
    let req = hyper::Request::get(path)
        .header("host", "localhost")
        .body(Empty::new())
        .expect("requête");
    sender.ready().await.expect("prêt");
    let res = sender.send_request(req).await.expect("réponse");
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.map(|b| b.to_bytes().len()).unwrap_or(0);
    (status, body)
}

/// `requests` GETs of `path` spread over `clients` connections; sorted latencies.
async fn measure(
    addr: std::net::SocketAddr,
    path: &'static str,
    clients: usize,
    requests: usize,
) -> (Vec<Duration>, usize) {
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            tokio::spawn(async move {
                let mut sender = connect(addr).await;
                let mut out = Vec::new();
                let mut size = 0;
                for _ in 0..requests / clients {
                    let t = Instant::now();
                    let (status, bytes) = get(&mut sender, path).await;
                    assert_eq!(status, 200, "{path}");
                    out.push(t.elapsed());
                    size = bytes;
                }
                (out, size)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut size = 0;
    for t in tasks {
        let (lat, s) = t.await.expect("client");
        all.extend(lat);
        size = s;
    }
    all.sort();
    (all, size)
}

fn main() {
    let requests: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().expect("dossier");
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("moteur");
    let (url, engine) = match std::env::var("BENCH_PG_URL") {
        Ok(server) if !server.is_empty() => {
            let name = format!("banc_tdb_{}", std::process::id());
            let engine = server_rt.block_on(async {
                let engine = durable::check_pg(&server).await;
                let admin = sqlx::PgPool::connect(&server).await.expect("PostgreSQL");
                sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                    .execute(&admin)
                    .await
                    .expect("CREATE DATABASE");
                engine
            });
            let (base, _) = server.rsplit_once('/').expect("url");
            (format!("{base}/{name}"), engine)
        }
        _ => (format!("sqlite:{}/banc.db?mode=rwc", dir.path().display()), "SQLite"),
    };
    let core = server_rt
        .block_on(Core::open(&url, &dir.path().join("data")))
        .expect("base");
    server_rt.block_on(setup(&core));

    // 1. The direct recount (best of 3).
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let d = server_rt.block_on(donnees::compute(core.clone())).expect("recomptage");
        best = best.min(t.elapsed());
        assert_eq!(d.national.cheques_emis, CHEQUES);
        assert_eq!(d.national.cheques_encaisses, REDEEMED);
    }
    println!(
        "{engine} : recomptage direct de tous les chiffres (meilleur de 3) : {}",
        ms(best)
    );
    server_rt
        .block_on(passerelle_core::agregats::refresh(
            &core,
            donnees::SNAPSHOT,
            donnees::compute,
        ))
        .expect("instantané");
    // The open-data files: each computed once (what their snapshot costs to refresh).
    let t = Instant::now();
    let rows = server_rt
        .block_on(passerelle_core::indicateurs::compute(core.clone()))
        .expect("indicateurs")
        .rows
        .len();
    println!(
        "{engine} : recomptage des indicateurs par département ({rows} lignes) : {}",
        ms(t.elapsed())
    );
    let t = Instant::now();
    let rows = server_rt
        .block_on(passerelle_core::indicateurs::pass_numerique::compute(core.clone()))
        .expect("pass")
        .rows
        .len();
    println!(
        "{engine} : recomptage du Pass Numérique par département et public ({rows} lignes) : {}",
        ms(t.elapsed())
    );

    let config = passerelle_web::WebConfig {
        base_url: url::Url::parse("http://localhost").expect("url"),
        assets_dir: None,
        fonts_dir: None,
        trust_proxy: false,
        search_max_age: Duration::from_millis(200),
        dashboard_max_age: Duration::from_secs(300),
    };
    let app = passerelle_web::router(passerelle_web::AppState::new(core.clone(), config));
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
    for (path, clients) in [
        ("/tableau-de-bord", 1),
        ("/tableau-de-bord", 8),
        ("/tableau-de-bord?carte=heures", 1),
        ("/open-data/indicateurs-departements.csv", 1),
        ("/open-data/pass-numerique-departements-publics.csv", 1),
    ] {
        // Warm-up, then the measure.
        client_rt.block_on(measure(addr, path, clients, 50.max(clients)));
        let t = Instant::now();
        let (lat, size) = client_rt.block_on(measure(addr, path, clients, requests));
        let elapsed = t.elapsed();
        println!(
            "{engine} : GET {path}, {clients} client(s), {} requêtes ({} Kio) : {:.0} req/s, p50 {}, p99 {}, max {}",
            lat.len(),
            size / 1024,
            lat.len() as f64 / elapsed.as_secs_f64(),
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99)),
            ms(lat.last().copied().unwrap_or_default()),
        );
    }
}
