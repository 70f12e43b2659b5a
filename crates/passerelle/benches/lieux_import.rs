//! Import of 100,000 generated places (CSV in the national standard), with
//! every one of the 32 columns filled, in real communes, the official
//! territories loaded first (so the communes are checked against them).
//!
//! Run: `cargo bench -p passerelle --bench lieux_import` (release profile).
//! `BENCH_ROWS` (default 100,000); `BENCH_PG_URL` to measure on PostgreSQL too;
//! `BENCH_LARGEUR=15` for the former 15 generated columns without territories.

/// The allocator of the `passerelle` binary, so that the figures are the product's
/// (comment these three lines out to measure with the system allocator).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Instant;

use passerelle_core::accounts::Principal;
use passerelle_core::lieux::import::{import, Options};
use passerelle_core::lieux::read::Format;
use passerelle_core::{Core, Db, Keys};

mod common;
mod durable;
use common::{generate, generate_full};

fn full_width() -> bool {
    std::env::var("BENCH_LARGEUR").map_or(true, |v| v != "15")
}

async fn run(label: &str, url: &str, csv: &str, n: usize) {
    let dir = tempfile::tempdir().expect("dossier");
    let db = Db::connect(url).await.expect("base");
    db.migrate().await.expect("migrations");
    let core = Core::new(db, Keys::load_or_create(dir.path()).expect("clés"));
    if full_width() {
        let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../node_modules/@etalab/decoupage-administratif/data");
        passerelle_core::geographie::load(&core.db, &dataset)
            .await
            .expect("territoires");
    }
    let options = Options {
        source: "banc".into(),
        file_name: "banc.csv".into(),
        ignore_invalid: false,
        dry_run: false,
    };
    let t = Instant::now();
    let r = import(
        &core,
        &Principal::SYSTEME,
        csv.as_bytes(),
        Format::Csv,
        &options,
        |_, _| {},
    )
    .await
    .expect("import");
    let first = t.elapsed().as_secs_f64();
    assert_eq!((r.crees, r.invalides), (n, 0), "{:?}", r.erreurs.first());
    let t = Instant::now();
    let r = import(
        &core,
        &Principal::SYSTEME,
        csv.as_bytes(),
        Format::Csv,
        &options,
        |_, _| {},
    )
    .await
    .expect("import");
    let second = t.elapsed().as_secs_f64();
    assert_eq!(r.inchanges, n);
    println!(
        "{label:<10} : premier import {first:.2} s ({:.0} lignes/s) ; ré-import identique {second:.2} s",
        n as f64 / first
    );
    core.db.close().await;
}

fn main() {
    let n: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let t = Instant::now();
    let csv = if full_width() { generate_full(n) } else { generate(n) };
    println!(
        "{n} lieux générés ({} colonnes, {:.1} Mo) en {:.2} s",
        csv.lines().next().map_or(0, |h| h.split(',').count()),
        csv.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    // Phases, to see where the time goes.
    let t = Instant::now();
    let parsed = passerelle_core::lieux::read::read(csv.as_bytes(), Format::Csv).expect("lecture");
    let read_s = t.elapsed().as_secs_f64();
    let today = passerelle_core::Horloge::systeme().today_utc();
    let t = Instant::now();
    let checked: Vec<_> = parsed
        .rows
        .iter()
        .map(|(l, r)| passerelle_core::lieux::validate::check_row(*l, r, today))
        .collect();
    let check_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let digests: usize = checked
        .iter()
        .filter_map(|c| c.as_ref().ok())
        .map(|c| c.lieu.digest().len())
        .sum();
    let digest_s = t.elapsed().as_secs_f64();
    println!(
        "phases (1 fil) : lecture CSV {read_s:.2} s, validation {check_s:.2} s, empreintes {digest_s:.2} s ({digests})"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dossier");
    let url = format!("sqlite:{}/banc.db?mode=rwc", dir.path().display());
    rt.block_on(run("SQLite", &url, &csv, n));
    if let Ok(server) = std::env::var("BENCH_PG_URL") {
        rt.block_on(async {
            let (engine, url, admin, name) = durable::fresh_database(&server, "banc_lieux").await;
            run(engine, &url, &csv, n).await;
            durable::drop_database(&admin, &name).await;
        });
    }
}
