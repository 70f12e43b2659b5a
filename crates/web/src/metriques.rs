//! `/metrics`, in the Prometheus (OpenMetrics) text format: requests counted
//! and timed by route template and status, requests in flight, and the
//! business counters of [`passerelle_core::metriques`].
//!
//! Request metrics belong to the instance that served them (Prometheus scrapes
//! every instance and sums); the business counters are read from the database
//! and are the same on every instance (take their `max`). The endpoint answers
//! only with the bearer token of `PASSERELLE_METRIQUES_JETON`; without one set,
//! it does not exist (404).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use subtle::ConstantTimeEq;

use crate::error::WebError;
use crate::AppState;

/// Upper bounds (seconds) of the latency buckets: from a cached search to a slow export.
const LATENCY_BUCKETS: [f64; 12] = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Route label of a request that matched no route (404 of the fallback): one
/// label for all of them, so that a scan cannot blow up the series' count.
const NO_ROUTE: &str = "(aucune)";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    methode: String,
    route: String,
    statut: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    methode: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EtatLabels {
    etat: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TacheLabels {
    tache: String,
}

type Durations = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The metrics of one instance.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Durations,
    in_flight: Gauge,
    business: Business,
}

/// Gauges set from the shared business counters at each scrape.
#[derive(Default)]
struct Business {
    cheques: Family<EtatLabels, Gauge>,
    encaissements: Gauge,
    encaissements_centimes: Gauge,
    encaissements_annules: Gauge,
    lieux: Gauge,
    lieux_qualifies: Gauge,
    mandats_actifs: Gauge,
    utilisations_mandats: Gauge,
    journal_entrees: Gauge,
    journal_point_de_controle: Gauge,
    journal_point_de_controle_at: Gauge,
    courriels_en_attente: Gauge,
    courriels_en_echec: Gauge,
    sessions_actives: Gauge,
    taches: Family<TacheLabels, Gauge>,
    compteurs_at: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("passerelle");
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Durations::new_with_constructor(latency_histogram);
        let in_flight = Gauge::default();
        let business = Business::default();
        registry.register(
            "requetes_http",
            "Requêtes HTTP servies, par route et statut",
            requests.clone(),
        );
        registry.register(
            "requetes_http_duree_secondes",
            "Durée des requêtes HTTP, par route",
            durations.clone(),
        );
        registry.register("requetes_http_en_cours", "Requêtes HTTP en cours", in_flight.clone());
        let b = &business;
        let gauges: [(&str, &str, &Gauge); 14] = [
            (
                "encaissements",
                "Encaissements de chèques non annulés",
                &b.encaissements,
            ),
            (
                "encaissements_centimes",
                "Valeur des encaissements non annulés, en centimes",
                &b.encaissements_centimes,
            ),
            (
                "encaissements_annules",
                "Encaissements annulés",
                &b.encaissements_annules,
            ),
            ("lieux", "Lieux de l'annuaire", &b.lieux),
            ("lieux_qualifies", "Lieux qualifiés Pass Numérique", &b.lieux_qualifies),
            ("mandats_actifs", "Mandats Aidants Connect actifs", &b.mandats_actifs),
            (
                "utilisations_mandats",
                "Utilisations de mandats, depuis le début",
                &b.utilisations_mandats,
            ),
            (
                "journal_entrees",
                "Numéro de la dernière entrée du journal",
                &b.journal_entrees,
            ),
            (
                "journal_point_de_controle",
                "Entrée du dernier point de contrôle signé du journal",
                &b.journal_point_de_controle,
            ),
            (
                "journal_point_de_controle_horodatage_secondes",
                "Date du dernier point de contrôle signé (secondes depuis 1970)",
                &b.journal_point_de_controle_at,
            ),
            (
                "courriels_en_attente",
                "Courriels en file d'attente",
                &b.courriels_en_attente,
            ),
            (
                "courriels_en_echec",
                "Courriels en attente après au moins un échec d'envoi",
                &b.courriels_en_echec,
            ),
            (
                "sessions_actives",
                "Sessions de comptes non expirées",
                &b.sessions_actives,
            ),
            (
                "compteurs_horodatage_secondes",
                "Date du calcul des compteurs métier (secondes depuis 1970)",
                &b.compteurs_at,
            ),
        ];
        for (name, help, gauge) in gauges {
            registry.register(name, help, gauge.clone());
        }
        registry.register("cheques", "Chèques Pass Numérique par état", b.cheques.clone());
        registry.register(
            "tache_derniere_execution_secondes",
            "Dernier lancement de chaque tâche planifiée (secondes depuis 1970)",
            b.taches.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            in_flight,
            business,
        }
    }

    fn record(&self, method: &str, route: &str, status: StatusCode, seconds: f64) {
        let route = route.to_owned();
        let method = method.to_owned();
        self.requests
            .get_or_create(&RequestLabels {
                methode: method.clone(),
                route: route.clone(),
                statut: status.as_u16(),
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels { methode: method, route })
            .observe(seconds);
    }

    fn set_business(&self, c: &passerelle_core::metriques::Compteurs, counted_at_micros: i64) {
        let b = &self.business;
        for (etat, n) in &c.cheques_par_etat {
            b.cheques.get_or_create(&EtatLabels { etat: etat.clone() }).set(*n);
        }
        b.encaissements.set(c.encaissements);
        b.encaissements_centimes.set(c.encaissements_centimes.centimes());
        b.encaissements_annules.set(c.encaissements_annules);
        b.lieux.set(c.lieux);
        b.lieux_qualifies.set(c.lieux_qualifies);
        b.mandats_actifs.set(c.mandats_actifs);
        b.utilisations_mandats.set(c.utilisations_mandats);
        b.journal_entrees.set(c.journal_entrees);
        b.journal_point_de_controle.set(c.journal_point_de_controle);
        b.journal_point_de_controle_at
            .set(c.journal_point_de_controle_at / 1_000_000);
        b.courriels_en_attente.set(c.courriels_en_attente);
        b.courriels_en_echec.set(c.courriels_en_echec);
        b.sessions_actives.set(c.sessions_actives);
        for (tache, at) in &c.taches {
            b.taches
                .get_or_create(&TacheLabels { tache: tache.clone() })
                .set(at / 1_000_000);
        }
        b.compteurs_at.set(counted_at_micros / 1_000_000);
    }
}

/// Route layer (runs after routing): passes the matched route template on to
/// [`track`] in the response's extensions.
pub async fn route_template(req: Request, next: Next) -> Response {
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(req).await;
    if let Some(m) = matched {
        response.extensions_mut().insert(m);
    }
    response
}

/// Counts and times every request, by method, route template (never the real
/// path: it may hold a cheque's code) and status.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    metrics.in_flight.inc();
    let response = next.run(req).await;
    metrics.in_flight.dec();
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| NO_ROUTE.to_owned());
    metrics.record(&method, &route, response.status(), started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    let Some(expected) = state.metrics_token.as_deref() else {
        return Err(WebError::NotFound);
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        return Ok((
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "Jeton des métriques absent ou invalide.\n",
        )
            .into_response());
    }
    let (counters, at) =
        passerelle_core::metriques::compteurs(&state.core, passerelle_core::metriques::MAX_AGE).await?;
    state.metrics.set_business(&counters, at);
    let mut body = String::new();
    encode(&mut body, &state.metrics.registry).map_err(|e| WebError::Internal(format!("métriques : {e}")))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}
