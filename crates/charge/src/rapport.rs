//! What a load run measured, per kind of request: count, throughput,
//! latency percentiles (HdrHistogram, microseconds), statuses, errors; the
//! servers' memory. Printed in French and written as JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The kinds of request of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Genre {
    Recherche,
    Verification,
    Encaissement,
    Connexion,
}

impl Genre {
    pub const ALL: [Genre; 4] = [
        Genre::Recherche,
        Genre::Verification,
        Genre::Encaissement,
        Genre::Connexion,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Genre::Recherche => "recherche",
            Genre::Verification => "verification",
            Genre::Encaissement => "encaissement",
            Genre::Connexion => "connexion",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Genre::Recherche => "recherche de lieux (API)",
            Genre::Verification => "vérification de chèque",
            Genre::Encaissement => "encaissement de chèque",
            Genre::Connexion => "connexion (page + formulaire)",
        }
    }

    /// The status of a success.
    pub fn expected(self) -> u16 {
        match self {
            Genre::Encaissement => 201,
            Genre::Connexion => 303,
            _ => 200,
        }
    }
}

/// Measures of one kind.
pub struct Mesures {
    latences: Histogram<u64>,
    pub statuts: BTreeMap<u16, u64>,
    pub erreurs: u64,
    /// The first few transport errors (no secret: URLs carry none).
    pub exemples: Vec<String>,
}

impl Default for Mesures {
    fn default() -> Self {
        Mesures {
            // 1 µs to 10 min, 3 significant digits; auto-resize beyond.
            latences: Histogram::new_with_bounds(1, 600_000_000, 3)
                .map(|mut h| {
                    h.auto(true);
                    h
                })
                .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!())),
            statuts: BTreeMap::new(),
            erreurs: 0,
            exemples: Vec::new(),
        }
    }
}

impl Mesures {
    pub fn record(&mut self, latency: Duration, status: Option<u16>, error: Option<String>) {
        let us = latency.as_micros().clamp(1, u64::MAX as u128) as u64;
        let _ = self.latences.record(us);
        match (status, error) {
            (Some(s), _) => *self.statuts.entry(s).or_default() += 1,
            (None, e) => {
                self.erreurs += 1;
                if self.exemples.len() < 5 {
                    self.exemples.push(e.unwrap_or_default());
                }
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.latences.len()
    }

    pub fn server_errors(&self) -> u64 {
        self.statuts.iter().filter(|(s, _)| **s >= 500).map(|(_, n)| n).sum()
    }

    fn ms(&self, q: f64) -> f64 {
        if self.latences.is_empty() {
            return 0.0;
        }
        self.latences.value_at_quantile(q) as f64 / 1000.0
    }

    fn merge(&mut self, other: &Mesures) {
        let _ = self.latences.add(&other.latences);
        for (s, n) in &other.statuts {
            *self.statuts.entry(*s).or_default() += n;
        }
        self.erreurs += other.erreurs;
    }

    fn summary(&self, genre: Option<Genre>, elapsed: Duration) -> Ligne {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Ligne {
            genre: genre.map(|g| g.key()).unwrap_or("total"),
            requetes: self.count(),
            debit: self.count() as f64 / secs,
            reussites: genre.map(|g| self.statuts.get(&g.expected()).copied().unwrap_or(0)),
            p50_ms: self.ms(0.50),
            p99_ms: self.ms(0.99),
            max_ms: if self.latences.is_empty() {
                0.0
            } else {
                self.latences.max() as f64 / 1000.0
            },
            statuts: self.statuts.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
            erreurs_5xx: self.server_errors(),
            erreurs_transport: self.erreurs,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Ligne {
    pub genre: &'static str,
    pub requetes: u64,
    /// Responses (or errors) per second over the run.
    pub debit: f64,
    /// Answers with the kind's success status (none for the total).
    pub reussites: Option<u64>,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub statuts: BTreeMap<String, u64>,
    pub erreurs_5xx: u64,
    pub erreurs_transport: u64,
}

/// Memory of one server process.
#[derive(Debug, Clone, Serialize)]
pub struct Memoire {
    pub pid: u32,
    pub rss_max_kio: u64,
    pub rss_fin_kio: u64,
}

#[derive(Debug, Serialize)]
pub struct Rapport {
    pub instances: Vec<String>,
    pub debit_vise: f64,
    pub duree_visee_s: f64,
    pub duree_s: f64,
    pub envoyees: u64,
    /// Requests not sent because the in-flight cap was reached at their planned time.
    pub abandonnees: u64,
    /// Largest delay between a request's planned and actual send (the generator's own lag).
    pub retard_envoi_max_ms: f64,
    /// Redemptions turned into checks because every prepared cheque was used.
    pub cheques_epuises: u64,
    pub lignes: Vec<Ligne>,
    pub total: Ligne,
    pub memoire: Vec<Memoire>,
    pub exemples_erreurs: Vec<String>,
}

pub struct Collecte {
    pub par_genre: BTreeMap<Genre, Mesures>,
}

impl Collecte {
    pub fn new() -> Collecte {
        Collecte {
            par_genre: Genre::ALL.iter().map(|g| (*g, Mesures::default())).collect(),
        }
    }

    pub fn record(&mut self, genre: Genre, latency: Duration, status: Option<u16>, error: Option<String>) {
        self.par_genre.entry(genre).or_default().record(latency, status, error);
    }

    pub fn rapport(&self, meta: Meta) -> Rapport {
        let mut total = Mesures::default();
        let mut lignes = Vec::new();
        let mut exemples = Vec::new();
        for (g, m) in &self.par_genre {
            if m.count() == 0 {
                continue;
            }
            total.merge(m);
            lignes.push(m.summary(Some(*g), meta.elapsed));
            exemples.extend(m.exemples.iter().map(|e| format!("{} : {e}", g.key())));
        }
        Rapport {
            instances: meta.instances,
            debit_vise: meta.rate,
            duree_visee_s: meta.planned.as_secs_f64(),
            duree_s: meta.elapsed.as_secs_f64(),
            envoyees: meta.sent,
            abandonnees: meta.dropped,
            retard_envoi_max_ms: meta.max_lag.as_secs_f64() * 1000.0,
            cheques_epuises: meta.exhausted,
            total: total.summary(None, meta.elapsed),
            lignes,
            memoire: meta.memory,
            exemples_erreurs: exemples,
        }
    }
}

pub struct Meta {
    pub instances: Vec<String>,
    pub rate: f64,
    pub planned: Duration,
    pub elapsed: Duration,
    pub sent: u64,
    pub dropped: u64,
    pub max_lag: Duration,
    pub exhausted: u64,
    pub memory: Vec<Memoire>,
}

/// `1 234,5` : French number formatting.
pub fn fr(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (s, None),
    };
    let (sign, digits) = match int.strip_prefix('-') {
        Some(d) => ("-", d.to_string()),
        None => ("", int),
    };
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped},{f}"),
        None => format!("{sign}{grouped}"),
    }
}

impl Rapport {
    pub fn text(&self) -> String {
        let mut out = String::new();
        let statuts = |l: &Ligne| {
            l.statuts
                .iter()
                .map(|(s, n)| format!("{s} × {}", fr(*n as f64, 0)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "Charge sur {} instance(s) : {} ; visé {} req/s pendant {} s ; {} requêtes envoyées en {} s.\n",
            self.instances.len(),
            self.instances.join(", "),
            fr(self.debit_vise, 0),
            fr(self.duree_visee_s, 0),
            fr(self.envoyees as f64, 0),
            fr(self.duree_s, 1)
        ));
        for l in self.lignes.iter().chain(std::iter::once(&self.total)) {
            let label = Genre::ALL
                .iter()
                .find(|g| g.key() == l.genre)
                .map(|g| g.label())
                .unwrap_or("total");
            out.push_str(&format!(
                "  {label:<32} {:>8} req  {:>8} req/s  p50 {:>8} ms  p99 {:>8} ms  max {:>8} ms  5xx {}  erreurs {}  [{}]\n",
                fr(l.requetes as f64, 0),
                fr(l.debit, 1),
                fr(l.p50_ms, 2),
                fr(l.p99_ms, 2),
                fr(l.max_ms, 1),
                l.erreurs_5xx,
                l.erreurs_transport,
                statuts(l)
            ));
        }
        out.push_str(&format!(
            "  retard d'envoi maximal du générateur : {} ms\n",
            fr(self.retard_envoi_max_ms, 1)
        ));
        if self.abandonnees > 0 {
            out.push_str(&format!(
                "  attention : {} requêtes prévues non envoyées (plafond de requêtes en vol atteint : le service ne suit pas ce débit)\n",
                fr(self.abandonnees as f64, 0)
            ));
        }
        if self.cheques_epuises > 0 {
            out.push_str(&format!(
                "  attention : {} encaissements remplacés par des vérifications (chèques préparés épuisés)\n",
                self.cheques_epuises
            ));
        }
        for m in &self.memoire {
            out.push_str(&format!(
                "  mémoire du processus {} : RSS maximale {} Mio, finale {} Mio\n",
                m.pid,
                fr(m.rss_max_kio as f64 / 1024.0, 1),
                fr(m.rss_fin_kio as f64 / 1024.0, 1)
            ));
        }
        for e in &self.exemples_erreurs {
            out.push_str(&format!("  erreur : {e}\n"));
        }
        out
    }
}

/// VmRSS of a process, in KiB (Linux `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_numbers() {
        assert_eq!(fr(1234567.0, 0), "1\u{202f}234\u{202f}567");
        assert_eq!(fr(999.456, 2), "999,46");
        assert_eq!(fr(-1500.5, 1), "-1\u{202f}500,5");
        assert_eq!(fr(0.0, 1), "0,0");
    }

    #[test]
    fn percentiles_statuses_and_errors_are_counted() {
        let mut c = Collecte::new();
        for ms in 1..=100u64 {
            c.record(Genre::Recherche, Duration::from_millis(ms), Some(200), None);
        }
        c.record(Genre::Encaissement, Duration::from_millis(5), Some(201), None);
        c.record(Genre::Encaissement, Duration::from_millis(7), Some(503), None);
        c.record(
            Genre::Connexion,
            Duration::from_secs(20),
            None,
            Some("délai dépassé".into()),
        );
        let r = c.rapport(Meta {
            instances: vec!["http://127.0.0.1:1".into()],
            rate: 10.0,
            planned: Duration::from_secs(10),
            elapsed: Duration::from_secs(10),
            sent: 103,
            dropped: 0,
            max_lag: Duration::ZERO,
            exhausted: 0,
            memory: vec![],
        });
        let rech = r.lignes.iter().find(|l| l.genre == "recherche").unwrap();
        assert_eq!(rech.requetes, 100);
        assert!((rech.p50_ms - 50.0).abs() < 0.5, "{}", rech.p50_ms);
        assert!((rech.p99_ms - 99.0).abs() < 0.5, "{}", rech.p99_ms);
        assert!((rech.debit - 10.0).abs() < 1e-9);
        assert_eq!(rech.reussites, Some(100));
        let enc = r.lignes.iter().find(|l| l.genre == "encaissement").unwrap();
        assert_eq!((enc.reussites, enc.erreurs_5xx), (Some(1), 1));
        assert_eq!(r.total.requetes, 103);
        assert_eq!(r.total.erreurs_5xx, 1);
        assert_eq!(r.total.erreurs_transport, 1);
        assert!(r.lignes.iter().all(|l| l.genre != "verification"));
        let text = r.text();
        assert!(text.contains("503 × 1"), "{text}");
        assert!(text.contains("connexion : délai dépassé"), "{text}");
    }

    #[test]
    fn own_rss_is_read() {
        assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
        assert_eq!(rss_kib(u32::MAX), None);
    }
}
