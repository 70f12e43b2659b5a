//! Throughput of `journal verify` on 1,000,000 entries.
//!
//! Run: `cargo bench -p passerelle --bench journal_verify` (release profile).
//! Environment: `BENCH_ENTRIES` (default 1,000,000); `BENCH_PG_URL` to also
//! measure on a PostgreSQL server (a fresh database is created there).
//!
//! Three figures, measured in the same run so their ratios hold on a noisy machine:
//! 1. hashing alone (SHA-256 of the same canonical bytes, one thread): the floor;
//! 2. the chain verifier in memory (hashes, links, sequence, signed checkpoints);
//! 3. `journal::verify` end to end: reading the rows from the database and verifying.

use std::time::Instant;

/// The allocator of the `passerelle` binary, so that the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod durable;

use passerelle_core::journal::checkpoint::{checkpoint_genesis, CHECKPOINT_COLUMNS};
use passerelle_core::journal::{
    canonical, entry_hash, genesis, sign_checkpoint, ChainVerifier, CheckpointRef, RawBatch, StoredEntry,
    CHECKPOINT_EVERY,
};
use passerelle_core::{on_tx, Db, Keys};

fn build(n: i64, keys: &Keys) -> (Vec<StoredEntry>, Vec<CheckpointRef>) {
    let mut prev = genesis();
    let mut buf = Vec::with_capacity(512);
    let mut entries = Vec::with_capacity(n as usize);
    let mut checkpoints: Vec<CheckpointRef> = Vec::new();
    let mut link = checkpoint_genesis();
    let t0 = 1_790_000_000_000_000i64;
    for seq in 1..=n {
        // Shaped like a real entry: a failed login with a pseudonymised e-mail.
        let at = t0 + seq * 1_000;
        let subjects = format!("[\"compte:{}\"]", seq % 5000);
        let details = format!(
            "{{\"courriel\":\"{:032x}\",\"etape\":\"mot_de_passe\"}}",
            seq.wrapping_mul(0x9e37_79b9)
        );
        canonical(
            &mut buf,
            seq,
            at,
            Some(seq % 5000),
            "operateur",
            "connexion.echec",
            &subjects,
            &details,
        );
        let hash = entry_hash(&prev, &buf);
        entries.push(StoredEntry {
            seq,
            at,
            actor_account: Some(seq % 5000),
            actor_role: "operateur".into(),
            action: "connexion.echec".into(),
            subjects,
            details,
            prev_hash: prev.to_vec(),
            hash: hash.to_vec(),
        });
        if seq % CHECKPOINT_EVERY == 0 {
            // Numbered, chained, with the hashes of its segment, as the service signs them.
            let debut = seq - CHECKPOINT_EVERY + 1;
            let list: Vec<u8> = entries[(debut - 1) as usize..]
                .iter()
                .flat_map(|e| e.hash.iter().copied())
                .collect();
            let n = checkpoints.len() as i64 + 1;
            let cp = sign_checkpoint(keys.journal_signing(), n, debut, seq, &hash, at, &link, list);
            link = cp.link(&link);
            checkpoints.push(cp);
        }
        prev = hash;
    }
    (entries, checkpoints)
}

fn rate(n: usize, secs: f64) -> String {
    format!("{:>6.2} M entrées/s ({secs:.3} s)", n as f64 / secs / 1e6)
}

async fn store(db: &Db, entries: &[StoredEntry], checkpoints: &[CheckpointRef]) {
    for chunk in entries.chunks(50_000) {
        let mut tx = db.begin().await.expect("transaction");
        for e in chunk {
            on_tx!(&mut tx, c => {
                sqlx::query("INSERT INTO journal (seq, at, actor_account, actor_role, action, subjects, details, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)")
                    .bind(e.seq).bind(e.at).bind(e.actor_account).bind(&e.actor_role).bind(&e.action)
                    .bind(&e.subjects).bind(&e.details).bind(&e.prev_hash).bind(&e.hash)
                    .execute(&mut *c).await.map(|r| r.rows_affected())
            })
            .expect("insertion");
        }
        tx.commit().await.expect("commit");
    }
    let mut tx = db.begin().await.expect("transaction");
    for cp in checkpoints {
        on_tx!(&mut tx, c => {
            sqlx::query(&format!("INSERT INTO journal_checkpoints ({CHECKPOINT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"))
                .bind(cp.n).bind(cp.version).bind(cp.seq).bind(cp.debut).bind(&cp.head_hash).bind(cp.at)
                .bind(&cp.prev_checkpoint_hash).bind(&cp.segment_hash).bind(&cp.entry_hashes)
                .bind(&cp.key_id).bind(&cp.signature)
                .execute(&mut *c).await.map(|r| r.rows_affected())
        })
        .expect("point de contrôle");
    }
    tx.commit().await.expect("commit");
}

async fn end_to_end(label: &str, url: &str, keys: &Keys, entries: &[StoredEntry], checkpoints: &[CheckpointRef]) {
    let db = Db::connect(url).await.expect("base");
    db.migrate().await.expect("migrations");
    let t = Instant::now();
    store(&db, entries, checkpoints).await;
    println!(
        "  ({label} : {} entrées écrites en {:.1} s)",
        entries.len(),
        t.elapsed().as_secs_f64()
    );
    let mut best_read = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let rows = read_only(&db).await;
        assert_eq!(rows, entries.len());
        best_read = best_read.min(t.elapsed().as_secs_f64());
    }
    println!(
        "   pour comparaison, lecture ligne à ligne par sqlx, {label:<10} : {}",
        rate(entries.len(), best_read)
    );
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let r = passerelle_core::journal::verify(&db, keys.journal_verifying(), Vec::new(), |_| {})
            .await
            .expect("vérification");
        let secs = t.elapsed().as_secs_f64();
        assert!(
            matches!(r, passerelle_core::journal::VerifyReport::Intact { .. }),
            "{r:?}"
        );
        best = best.min(secs);
    }
    println!(
        "3. journal::verify de bout en bout, {label:<10} : {}",
        rate(entries.len(), best)
    );
    db.close().await;
}

async fn read_only(db: &Db) -> usize {
    read_only_inner(db).await.expect("lecture")
}

async fn read_only_inner(db: &Db) -> Result<usize, passerelle_core::CoreError> {
    use futures_util::TryStreamExt;
    passerelle_core::on_db!(db, c => {
        let mut rows = sqlx::query_as::<_, StoredEntry>(
            "SELECT seq, at, actor_account, actor_role, action, subjects, details, prev_hash, hash FROM journal ORDER BY seq",
        )
        .fetch(&mut *c);
        let mut n = 0;
        while let Some(r) = rows.try_next().await? {
            std::hint::black_box(&r);
            n += 1;
        }
        Ok(n)
    })
}

fn main() {
    let n: i64 = std::env::var("BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let keys = Keys::ephemeral();
    let t = Instant::now();
    let (entries, checkpoints) = build(n, &keys);
    println!(
        "{n} entrées construites en {:.1} s ; {} fils rayon",
        t.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );

    // 1. SHA-256 alone over the same bytes, one thread: the floor of any verifier.
    let mut best = f64::MAX;
    let mut buf = Vec::with_capacity(512);
    for _ in 0..3 {
        let t = Instant::now();
        let mut acc = 0u8;
        for e in &entries {
            canonical(
                &mut buf,
                e.seq,
                e.at,
                e.actor_account,
                &e.actor_role,
                &e.action,
                &e.subjects,
                &e.details,
            );
            acc ^= entry_hash(&e.prev_hash, &buf)[0];
        }
        std::hint::black_box(acc);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "1. SHA-256 seul, 1 fil                  : {}",
        rate(entries.len(), best)
    );

    // 2. The verifier in memory, on batches as the readers produce them.
    let batches: Vec<RawBatch> = entries.chunks(16 * 1024).map(RawBatch::from_entries).collect();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let mut v = ChainVerifier::new(keys.journal_verifying(), checkpoints.clone(), Vec::new());
        for batch in &batches {
            v.feed(batch).expect("chaîne intacte");
        }
        assert_eq!(v.finish().expect("fin"), n as u64);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "2. vérificateur en mémoire (+{} signatures) : {}",
        checkpoints.len(),
        rate(entries.len(), best)
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dossier");
    let sqlite = format!("sqlite:{}/bench.db?mode=rwc", dir.path().display());
    rt.block_on(end_to_end("SQLite", &sqlite, &keys, &entries, &checkpoints));
    if let Ok(server) = std::env::var("BENCH_PG_URL") {
        rt.block_on(async {
            let name = format!("bench_{}", std::process::id());
            let engine = durable::check_pg(&server).await;
            let admin = sqlx::PgPool::connect(&server).await.expect("PostgreSQL");
            sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .expect("CREATE DATABASE");
            let mut url = url::Url::parse(&server).expect("URL");
            url.set_path(&format!("/{name}"));
            end_to_end(engine, url.as_str(), &keys, &entries, &checkpoints).await;
            sqlx::raw_sql(&format!("DROP DATABASE {name}"))
                .execute(&admin)
                .await
                .ok();
        });
    }
}
