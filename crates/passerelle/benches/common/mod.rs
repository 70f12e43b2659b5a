//! Data shared by the benchmarks: generated places in the national standard.

use std::fmt::Write;

use passerelle_core::lieux::vocabulaires::Services;

/// A SIRET with a valid Luhn key from a 13-digit prefix.
pub fn siret(prefix: u64) -> String {
    let base = format!("{:013}", prefix % 10_000_000_000_000);
    for d in 0..10 {
        let s = format!("{base}{d}");
        let sum: u32 = s
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let v = u32::from(b - b'0');
                if i % 2 == 1 {
                    let x = v * 2;
                    if x > 9 {
                        x - 9
                    } else {
                        x
                    }
                } else {
                    v
                }
            })
            .sum();
        if sum.is_multiple_of(10) {
            return s;
        }
    }
    unreachable!("a Luhn digit always exists")
}

/// Places spread over metropolitan France, deterministic.
pub fn generate(n: usize) -> String {
    let mut out = String::from("id,pivot,nom,commune,code_postal,code_insee,adresse,latitude,longitude,telephone,horaires,date_maj,services,frais_a_charge,modalites_acces\n");
    let kinds = [
        "Médiathèque",
        "Espace public numérique",
        "France Services",
        "Tiers-lieu",
        "CCAS",
        "Association",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..n {
        let dep = 1 + (next() % 95) as u32;
        let dep = if dep == 20 { 21 } else { dep };
        let lat = 42.5 + (next() % 8_000) as f64 / 1000.0;
        let lon = -4.5 + (next() % 12_500) as f64 / 1000.0;
        let services: Vec<&str> = Services::ALL
            .iter()
            .filter(|_| next() % 3 == 0)
            .map(|s| s.label())
            .collect();
        let services = if services.is_empty() {
            Services::AideAuxDemarchesAdministratives.label().to_string()
        } else {
            services.join("|")
        };
        let _ = writeln!(
            out,
            "lieu-{i},{},{} n° {i},Commune {dep}-{},{dep:02}{:03},{dep:02}{:03},{} rue de la République,{lat:.5},{lon:.5},+3314{:07},\"Mo-Fr 09:00-12:00,14:00-17:30\",2024-0{}-1{},{services},Gratuit,Se présenter|Téléphoner",
            siret(next()),
            kinds[i % kinds.len()],
            i % 500,
            (i % 900) + 100,
            (i % 900) + 1,
            1 + i % 200,
            i % 10_000_000,
            1 + i % 9,
            i % 10,
        );
    }
    out
}
