//! Settlement of 1,000,000 redemptions across 5,000 places (statements, lines
//! and the SEPA file, in one transaction), then `passerelle controle` on the
//! same data, then a second run that must find nothing.
//!
//! Run: `cargo bench -p passerelle --bench settlement`. `BENCH_PLACES` (default
//! 5,000), `BENCH_BOOKLETS` (default 100,000 of 10 cheques, all redeemed);
//! `BENCH_PG_URL` to measure on PostgreSQL too.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use jiff::civil::Date;
use passerelle_core::accounts::Principal;
use passerelle_core::lieux::import::{import, Options};
use passerelle_core::lieux::read::Format;
use passerelle_core::pass_numerique::issue;
use passerelle_core::pass_numerique::model::Territory;
use passerelle_core::pass_numerique::orders::{self, NewOrder};
use passerelle_core::reglements::{self, run};
use passerelle_core::{Core, Pool};

mod common;
mod durable;

fn env_or(name: &str, default: i64) -> i64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn exec(core: &Core, sql: &str) {
    match &core.db.pool {
        Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        Pool::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
    }
    .expect(sql);
}

async fn bench(label: &str, url: &str, data_dir: &std::path::Path, places: i64, booklets: i64) {
    let t = Instant::now();
    let core = Core::open(url, data_dir).await.expect("base");
    for sql in [
        "INSERT INTO territoires_regions (code, nom) VALUES ('75', 'Nouvelle-Aquitaine')",
        "INSERT INTO territoires_departements (code, nom, region) VALUES ('33', 'Gironde', '75')",
    ] {
        exec(&core, sql).await;
    }
    let csv = common::generate(places as usize);
    let options = Options {
        source: "banc".into(),
        file_name: "banc.csv".into(),
        ignore_invalid: false,
        dry_run: false,
    };
    import(
        &core,
        &Principal::SYSTEME,
        csv.as_bytes(),
        Format::Csv,
        &options,
        |_, _| {},
    )
    .await
    .expect("import des lieux");
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
    // Bench shortcut: every cheque redeemed at once, spread over the places and over 10 days (one cheque of a
    // booklet per day: the daily cap holds); redeeming is measured by its own bench.
    let first_place: i64 = match &core.db.pool {
        Pool::Sqlite(p) => sqlx::query_scalar("SELECT MIN(id) FROM lieux").fetch_one(p).await,
        Pool::Postgres(p) => sqlx::query_scalar("SELECT MIN(id) FROM lieux").fetch_one(p).await,
    }
    .expect("lieux");
    exec(
        &core,
        &format!(
            "INSERT INTO encaissements (cheque_id, carnet_id, commande_id, lieu_id, service, valeur_centimes, jour, at) \
             SELECT id, carnet_id, commande_id, {first_place} + (id % {places}), 'Accès internet et matériel informatique', \
             valeur_centimes, '2026-10-' || CAST(10 + rang AS TEXT), 0 FROM cheques"
        ),
    )
    .await;
    exec(&core, "UPDATE cheques SET etat = 'encaisse'").await;
    exec(
        &core,
        "INSERT INTO coordonnees_bancaires (lieu_id, iban, bic, titulaire, etat, created_at, valide_at) \
         SELECT id, 'FR7630006000011234567890189', 'BNPAFRPP', nom, 'validees', 0, 0 FROM lieux",
    )
    .await;
    if let Pool::Postgres(p) = &core.db.pool {
        sqlx::query("ANALYZE").execute(p).await.expect("ANALYZE");
    }
    reglements::set_debtor(
        &core,
        &passerelle_core::accounts::Principal::SYSTEME,
        "Opérateur",
        "FR1420041010050500013M02606",
        "PSSTFRPPBOR",
    )
    .await
    .expect("compte");
    println!(
        "{label} : préparation ({places} lieux, {} encaissements) en {:.1} s",
        booklets * 10,
        t.elapsed().as_secs_f64()
    );

    let cutoff = Date::new(2026, 11, 1).expect("date");
    let today = Date::new(2026, 11, 30).expect("date");
    let t = Instant::now();
    let outcome = run::generate(&core, &Principal::SYSTEME, cutoff, today, "2026-11-30T10:00:00")
        .await
        .expect("règlement");
    let settle = t.elapsed().as_secs_f64();
    assert_eq!(outcome.releves.len() as i64, places);
    assert_eq!(outcome.total_centimes.centimes(), booklets * 10 * 1000);
    let lot = outcome.lot.expect("lot");
    let xml = passerelle_core::reglements::batches::sepa_xml(&core, &Principal::SYSTEME, lot)
        .await
        .expect("SEPA");
    println!(
        "{label} : règlement de {} encaissements sur {} lieux (relevés + lignes + fichier SEPA de {:.1} Mo) en {settle:.2} s",
        booklets * 10,
        outcome.releves.len(),
        xml.len() as f64 / 1e6
    );
    let t = Instant::now();
    let checks = passerelle_core::controle::run(&core).await.expect("contrôle");
    let controle = t.elapsed().as_secs_f64();
    assert!(checks.iter().all(|c| c.ecarts == 0), "{checks:?}");
    println!(
        "{label} : passerelle controle ({} règles) en {controle:.2} s",
        checks.len()
    );
    for c in &checks {
        println!("    {:<28} {:>6} ms", c.cle, c.duree_ms);
    }
    // The funder's report of the same order (covering index encaissements_rapports), then of every order.
    let t = Instant::now();
    let report = passerelle_core::pass_numerique::rapports::order_report(&core, &Principal::SYSTEME, order.id)
        .await
        .expect("rapport");
    assert_eq!(report.totaux.encaisses.cheques, booklets * 10);
    assert_eq!(report.par_lieu.len() as i64, places);
    println!(
        "{label} : rapport de la commande ({} encaissements, {} lieux) en {:.2} s",
        booklets * 10,
        report.par_lieu.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    passerelle_core::pass_numerique::rapports::funders_report(&core, &Principal::SYSTEME, None)
        .await
        .expect("rapport de toutes les commandes");
    println!(
        "{label} : rapport de toutes les commandes en {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let again = run::generate(&core, &Principal::SYSTEME, cutoff, today, "2026-11-30T10:05:00")
        .await
        .expect("second règlement");
    assert!(again.lot.is_none());
    println!(
        "{label} : second règlement (rien de nouveau) en {:.2} s",
        t.elapsed().as_secs_f64()
    );
    core.db.close().await;
}

fn main() {
    let places = env_or("BENCH_PLACES", 5_000);
    let booklets = env_or("BENCH_BOOKLETS", 100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dossier");
    // BENCH_DIR keeps the SQLite database for a look afterwards.
    let kept = std::env::var("BENCH_DIR").ok().map(std::path::PathBuf::from);
    let path = kept.clone().unwrap_or_else(|| dir.path().to_path_buf());
    let url = format!("sqlite:{}/banc.db?mode=rwc", path.display());
    rt.block_on(bench("SQLite", &url, &path.join("data"), places, booklets));
    if let Ok(server) = std::env::var("BENCH_PG_URL") {
        rt.block_on(async {
            let name = format!("banc_reglement_{}", std::process::id());
            let engine = durable::check_pg(&server).await;
            let admin = sqlx::PgPool::connect(&server).await.expect("PostgreSQL");
            sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .expect("CREATE DATABASE");
            let mut u = url::Url::parse(&server).expect("URL");
            u.set_path(&format!("/{name}"));
            let pg_dir = tempfile::tempdir().expect("dossier");
            bench(engine, u.as_str(), &pg_dir.path().join("data"), places, booklets).await;
            sqlx::raw_sql(&format!("DROP DATABASE {name}"))
                .execute(&admin)
                .await
                .ok();
        });
    }
}
