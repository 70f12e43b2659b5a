//! `passerelle-charge charger`: an open-loop mixed load. Request `i` is due at
//! `start + i / rate` whatever happened to the earlier ones (no coordinated
//! omission): its latency counts from that planned time, so a slow server
//! shows in the figures instead of slowing the generator down. In-flight
//! requests are capped: a request due while the cap is reached is dropped
//! and counted, so that the run is bounded in requests and in time
//! (duration + request timeout).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::cible::Cible;
use crate::client;
use crate::jeu::Jeu;
use crate::rapport::{rss_kib, Collecte, Genre, Memoire, Meta, Rapport};

/// Hard bounds, whatever the flags say.
const MAX_DUREE_S: f64 = 3600.0;
const MAX_DEBIT: f64 = 20_000.0;
const MAX_REQUETES: u64 = 10_000_000;

#[derive(Args, Debug, Clone)]
pub struct ChargerArgs {
    /// Instance visée (plusieurs fois : les requêtes sont réparties à tour de rôle) ; boucle locale seulement.
    #[arg(long = "instance", required = true)]
    pub instances: Vec<String>,
    /// Jeu de données écrit par `preparer`.
    #[arg(long)]
    pub jeu: PathBuf,
    /// Requêtes par seconde (envoyées à l'heure prévue, même si les précédentes tardent).
    #[arg(long, default_value_t = 100.0)]
    pub debit: f64,
    /// Durée d'envoi en secondes.
    #[arg(long, default_value_t = 10.0)]
    pub duree: f64,
    /// Nombre maximal de requêtes (par défaut débit × durée).
    #[arg(long = "max-requetes")]
    pub max_requetes: Option<u64>,
    /// Requêtes en cours au plus ; au-delà, une requête prévue n'est pas envoyée (elle est comptée comme abandonnée).
    #[arg(long = "max-en-vol", default_value_t = 256)]
    pub max_en_vol: usize,
    /// Répartition : genre=poids, parmi recherche, verification, encaissement, connexion.
    #[arg(long, default_value = "recherche=50,verification=25,encaissement=20,connexion=5")]
    pub melange: String,
    /// Délai maximal d'une requête, en secondes (au-delà : erreur de transport).
    #[arg(long, default_value_t = 20)]
    pub delai: u64,
    /// Processus serveur dont mesurer la mémoire (VmRSS), plusieurs fois possible.
    #[arg(long = "pid")]
    pub pids: Vec<u32>,
    /// Écrit aussi le rapport en JSON dans ce fichier.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Code de sortie 1 s'il y a une réponse 5xx ou une erreur de transport.
    #[arg(long = "exiger-zero-erreur")]
    pub exiger_zero_erreur: bool,
    /// Graine du tirage des requêtes (reproductible).
    #[arg(long, default_value_t = 1)]
    pub graine: u64,
}

/// The mix: cumulative weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Melange(Vec<(Genre, u32)>);

impl Melange {
    pub fn parse(text: &str) -> Result<Melange> {
        let mut parts = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((k, w)) = item.split_once('=') else {
                bail!("--melange : « {item} » au lieu de genre=poids");
            };
            let Some(g) = Genre::ALL.iter().find(|g| g.key() == k.trim()) else {
                bail!(
                    "--melange : genre inconnu « {} » (recherche, verification, encaissement, connexion)",
                    k.trim()
                );
            };
            let Ok(w) = w.trim().parse::<u32>() else {
                bail!("--melange : poids invalide « {} » pour {}", w.trim(), g.key());
            };
            if parts.iter().any(|(x, _)| x == g) {
                bail!("--melange : {} donné deux fois", g.key());
            }
            parts.push((*g, w));
        }
        if parts.iter().map(|(_, w)| *w as u64).sum::<u64>() == 0 {
            bail!("--melange : au moins un poids non nul");
        }
        Ok(Melange(parts))
    }

    pub fn pick(&self, r: &mut impl Rng) -> Genre {
        let total: u32 = self.0.iter().map(|(_, w)| w).sum();
        let mut x = r.gen_range(0..total);
        for (g, w) in &self.0 {
            if x < *w {
                return *g;
            }
            x -= w;
        }
        self.0[0].0
    }

    pub fn weight(&self, g: Genre) -> u32 {
        self.0.iter().find(|(x, _)| *x == g).map(|(_, w)| *w).unwrap_or(0)
    }
}

struct Shared {
    jeu: Jeu,
    cibles: Vec<Cible>,
    client: reqwest::Client,
    next_cheque: AtomicUsize,
    exhausted: AtomicU64,
    collecte: Mutex<Collecte>,
    run: String,
}

pub async fn run(a: ChargerArgs) -> Result<Rapport> {
    let cibles = a
        .instances
        .iter()
        .map(|s| Cible::parse(s))
        .collect::<Result<Vec<_>>>()?;
    if !(a.debit > 0.0 && a.debit <= MAX_DEBIT) {
        bail!("--debit : entre 0 et {MAX_DEBIT} requêtes par seconde");
    }
    if !(a.duree > 0.0 && a.duree <= MAX_DUREE_S) {
        bail!("--duree : entre 0 et {MAX_DUREE_S} secondes");
    }
    if a.max_en_vol == 0 {
        bail!("--max-en-vol : au moins 1");
    }
    let melange = Melange::parse(&a.melange)?;
    let jeu = Jeu::read(&a.jeu)?;
    if jeu.lieux.is_empty() {
        bail!("le jeu de données n'a aucun lieu");
    }
    if melange.weight(Genre::Connexion) > 0 && jeu.comptes.is_empty() {
        bail!("le jeu de données n'a aucun compte pour les connexions");
    }
    let planned = (a.debit * a.duree).ceil() as u64;
    let total = a.max_requetes.unwrap_or(planned).min(planned).min(MAX_REQUETES);
    let period = Duration::from_secs_f64(1.0 / a.debit);
    let shared = Arc::new(Shared {
        client: client::new(Duration::from_secs(a.delai), a.max_en_vol)?,
        cibles,
        jeu,
        next_cheque: AtomicUsize::new(0),
        exhausted: AtomicU64::new(0),
        collecte: Mutex::new(Collecte::new()),
        run: format!("charge-{}-{}", std::process::id(), a.graine),
    });
    let memory = Arc::new(Mutex::new(
        a.pids
            .iter()
            .map(|p| Memoire {
                pid: *p,
                rss_max_kio: 0,
                rss_fin_kio: 0,
            })
            .collect::<Vec<_>>(),
    ));
    let sampler = tokio::spawn(sample_memory(memory.clone()));
    let permits = Arc::new(Semaphore::new(a.max_en_vol));
    let mut rng = rand::rngs::StdRng::seed_from_u64(a.graine);
    let start = Instant::now();
    let mut max_lag = Duration::ZERO;
    let mut dropped = 0u64;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + period.mul_f64(i as f64);
        tokio::time::sleep_until(due).await;
        let genre = melange.pick(&mut rng);
        // At the cap, the request is dropped (and counted), never sent late:
        // the run ends on time however slow the servers are.
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            dropped += 1;
            continue;
        };
        max_lag = max_lag.max(Instant::now().saturating_duration_since(due));
        let addr: u32 = rng.gen_range(0..1 << 20);
        let pick: u64 = rng.gen();
        let s = shared.clone();
        tasks.spawn(async move {
            one(&s, i, genre, addr, pick, due).await;
            drop(permit);
        });
        // Reap finished tasks as we go, so that the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed();
    sampler.abort();
    let memory = {
        let mut m = memory
            .lock()
            .map_err(|_| anyhow::anyhow!("mesure de la mémoire interrompue"))?
            .clone();
        for x in &mut m {
            if let Some(k) = rss_kib(x.pid) {
                x.rss_fin_kio = k;
                x.rss_max_kio = x.rss_max_kio.max(k);
            }
        }
        m
    };
    let collecte = shared
        .collecte
        .lock()
        .map_err(|_| anyhow::anyhow!("mesures interrompues"))?;
    Ok(collecte.rapport(Meta {
        instances: shared.cibles.iter().map(ToString::to_string).collect(),
        rate: a.debit,
        planned: Duration::from_secs_f64(a.duree),
        elapsed,
        sent: total - dropped,
        dropped,
        max_lag,
        exhausted: shared.exhausted.load(Ordering::Relaxed),
        memory,
    }))
}

async fn sample_memory(memory: Arc<Mutex<Vec<Memoire>>>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        if let Ok(mut m) = memory.lock() {
            for x in m.iter_mut() {
                if let Some(k) = rss_kib(x.pid) {
                    x.rss_max_kio = x.rss_max_kio.max(k);
                    x.rss_fin_kio = k;
                }
            }
        }
    }
}

/// Sends request `i` of kind `genre` and records its latency from `due`.
async fn one(s: &Shared, i: u64, genre: Genre, addr: u32, pick: u64, due: Instant) {
    let cible = &s.cibles[(i % s.cibles.len() as u64) as usize];
    let jeu = &s.jeu;
    let mut genre = genre;
    let result = match genre {
        Genre::Recherche => {
            let (lat, lon) = jeu.centre;
            let dlat = ((pick % 1000) as f64 / 1000.0 - 0.5) * 0.2;
            let dlon = (((pick / 1000) % 1000) as f64 / 1000.0 - 0.5) * 0.3;
            let path = format!(
                "/api/v1/lieux?lat={:.4}&lon={:.4}&rayon_km=10&par_page=20",
                lat + dlat,
                lon + dlon
            );
            client::get(&s.client, cible, &path, addr).await
        }
        Genre::Encaissement | Genre::Verification => {
            let redeem = if genre == Genre::Encaissement {
                let n = s.next_cheque.fetch_add(1, Ordering::Relaxed);
                match jeu.encaissements.get(n) {
                    Some(c) => Some(c),
                    None => {
                        s.exhausted.fetch_add(1, Ordering::Relaxed);
                        genre = Genre::Verification;
                        None
                    }
                }
            } else {
                None
            };
            match redeem {
                Some(c) => {
                    let lieu = &jeu.lieux[c.lieu % jeu.lieux.len()];
                    let body = json!({ "code": c.code, "service": lieu.service });
                    let key = format!("{}-{i}", s.run);
                    client::post_api(
                        &s.client,
                        cible,
                        "/api/v1/cheques/encaisser",
                        &lieu.cle_api,
                        &body,
                        Some(&key),
                        addr,
                    )
                    .await
                }
                None if jeu.verifications.is_empty() && jeu.encaissements.is_empty() => {
                    Err(anyhow::anyhow!("aucun chèque dans le jeu de données"))
                }
                None => {
                    let pool = if jeu.verifications.is_empty() {
                        &jeu.encaissements
                    } else {
                        &jeu.verifications
                    };
                    let c = &pool[(pick % pool.len() as u64) as usize];
                    let lieu = &jeu.lieux[c.lieu % jeu.lieux.len()];
                    let body = json!({ "code": c.code, "service": lieu.service });
                    client::post_api(
                        &s.client,
                        cible,
                        "/api/v1/cheques/verifier",
                        &lieu.cle_api,
                        &body,
                        None,
                        addr,
                    )
                    .await
                }
            }
        }
        Genre::Connexion => match jeu.comptes.get((pick % jeu.comptes.len().max(1) as u64) as usize) {
            Some(c) => client::connexion(&s.client, cible, &c.email, &c.mot_de_passe, addr)
                .await
                .map(|c| c.reponse),
            None => Err(anyhow::anyhow!("aucun compte dans le jeu de données")),
        },
    };
    let latency = Instant::now().saturating_duration_since(due);
    let (status, error) = match result {
        Ok(r) => (Some(r.status.as_u16()), None),
        Err(e) => (None, Some(error_text(&e))),
    };
    if let Ok(mut c) = s.collecte.lock() {
        c.record(genre, latency, status, error);
    }
}

/// A transport error in one line, without the request's URL parameters.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        if let Some(r) = cause.downcast_ref::<reqwest::Error>() {
            let kind = if r.is_timeout() {
                "délai dépassé"
            } else if r.is_connect() {
                "connexion impossible"
            } else {
                "erreur HTTP"
            };
            return kind.to_string();
        }
        if !text.is_empty() {
            text.push_str(" : ");
        }
        text.push_str(&cause.to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_is_parsed_and_followed() {
        let m = Melange::parse("recherche=3, encaissement=1").unwrap();
        assert_eq!(m.weight(Genre::Recherche), 3);
        assert_eq!(m.weight(Genre::Connexion), 0);
        let mut r = rand::rngs::StdRng::seed_from_u64(7);
        let n = 40_000;
        let searches = (0..n).filter(|_| m.pick(&mut r) == Genre::Recherche).count();
        let share = searches as f64 / n as f64;
        assert!((0.72..0.78).contains(&share), "{share}");
    }

    #[test]
    fn bad_mixes_are_refused_in_french() {
        for (bad, word) in [
            ("recherche", "genre=poids"),
            ("courses=1", "genre inconnu"),
            ("recherche=x", "poids invalide"),
            ("recherche=0", "non nul"),
            ("recherche=1,recherche=2", "deux fois"),
        ] {
            let e = Melange::parse(bad).unwrap_err().to_string();
            assert!(e.contains(word), "{bad}: {e}");
        }
    }
}
