//! Derivation and keyed hashing of 1,000,000 cheque codes (100,000 booklets of
//! 10), the computing part of issuing an order; writing the rows is measured
//! with the issue command itself.
//!
//! Run: `cargo bench -p passerelle --bench cheque_codes`. `BENCH_CHEQUES` (default 1,000,000).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use passerelle_core::pass_numerique::code::{Derivation, Lookup};
use rand::RngCore;
use rayon::prelude::*;

fn main() {
    let cheques: usize = std::env::var("BENCH_CHEQUES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let per_booklet = 10u32;
    let booklets = cheques / per_booklet as usize;
    let mut rng = rand::rngs::OsRng;
    let (mut k1, mut k2) = ([0u8; 32], [0u8; 32]);
    rng.fill_bytes(&mut k1);
    rng.fill_bytes(&mut k2);
    let (derive, lookup) = (Derivation::new(&k1), Lookup::new(&k2));

    let start = Instant::now();
    let seeds: Vec<[u8; 16]> = (0..booklets)
        .map(|_| {
            let mut s = [0u8; 16];
            rng.fill_bytes(&mut s);
            s
        })
        .collect();
    let seeded = start.elapsed();
    let hashes: Vec<Vec<u8>> = seeds
        .par_iter()
        .flat_map_iter(|seed| (1..=per_booklet).map(|rank| lookup.hash(&derive.code(seed, rank))))
        .collect();
    let total = start.elapsed();
    assert_eq!(hashes.len(), booklets * per_booklet as usize);
    println!(
        "{} codes ({} carnets) : graines {:.2} s, dérivation + empreintes {:.2} s, total {:.2} s ({:.0} codes/s, {} fils)",
        hashes.len(),
        booklets,
        seeded.as_secs_f64(),
        (total - seeded).as_secs_f64(),
        total.as_secs_f64(),
        hashes.len() as f64 / total.as_secs_f64(),
        rayon::current_num_threads()
    );
}
