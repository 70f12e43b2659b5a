//! The HTTP server loop of `passerelle serve`, with the limits that protect it
//! from slow or too many clients (hyper directly, where `axum::serve` has no
//! settings):
//!
//! - headers must arrive within `--delai-entetes` (a slow-loris client, or an
//!   idle kept-alive connection, is disconnected);
//! - a request body may pause at most `--delai-corps` between two chunks;
//! - at most `--connexions-par-adresse` connections from one client address,
//!   `--max-connexions` in all plus a small reserve that serves only `/healthz`,
//!   idle connections shed first when full (see [`crate::connexions`]);
//! - at most `--max-requetes` requests in progress (`/healthz` excepted, so the
//!   load balancer still sees the instance alive): the next ones get a French 503
//!   at once, rather than queueing until they time out.
//!
//! Graceful shutdown is kept: on the signal, the listener closes, requests in
//! progress finish (30 s at most), and the client's address reaches the
//! handlers as axum's `ConnectInfo`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::connexions::{self, Admission, Registry};

/// Limits of the server, set by `passerelle serve`'s options.
#[derive(clap::Args, Debug, Clone)]
pub struct Limits {
    /// Délai maximal, en secondes, pour recevoir les en-têtes d'une requête ; une connexion
    /// inactive est aussi fermée au bout de ce délai.
    #[arg(long, env = "PASSERELLE_DELAI_ENTETES", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub delai_entetes: u64,
    /// Pause maximale, en secondes, entre deux morceaux du corps d'une requête ; au-delà, la
    /// requête est refusée et la connexion fermée.
    #[arg(long, env = "PASSERELLE_DELAI_CORPS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub delai_corps: u64,
    /// Nombre maximal de connexions ouvertes en même temps. Au-delà, une connexion inactive
    /// (sans requête en cours) est fermée pour faire place ; sinon la nouvelle connexion ne sert
    /// que /healthz (réserve de 1/16 en plus, entre 4 et 64), le reste reçoit 503.
    #[arg(long, env = "PASSERELLE_MAX_CONNEXIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connexions: u64,
    /// Nombre maximal de connexions ouvertes en même temps depuis une même adresse (IPv6 : par
    /// /64) ; au-delà, la nouvelle connexion est fermée aussitôt. Par défaut 32, et sans limite
    /// avec --trust-proxy (toutes les connexions viennent alors du répartiteur : posez la limite
    /// chez lui), sauf valeur donnée ici.
    #[arg(long, env = "PASSERELLE_CONNEXIONS_PAR_ADRESSE", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub connexions_par_adresse: Option<u64>,
    /// Nombre maximal de requêtes traitées en même temps (hors /healthz) ; au-delà, réponse 503
    /// immédiate.
    #[arg(long, env = "PASSERELLE_MAX_REQUETES", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_requetes: u64,
}

impl Limits {
    /// Without a reverse proxy, 32 connections per address unless set; behind one
    /// (`--trust-proxy`), every connection comes from the proxy's address, so no limit
    /// unless set: the proxy, which sees the clients, enforces it.
    pub fn per_address(&self, trust_proxy: bool) -> Option<usize> {
        match (self.connexions_par_adresse, trust_proxy) {
            (Some(n), _) => Some(permits(n)),
            (None, false) => Some(DEFAULT_PER_ADDRESS),
            (None, true) => None,
        }
    }
}

/// Open connections from one address, by default.
const DEFAULT_PER_ADDRESS: usize = 32;

/// What a refused client reads.
const BUSY: &str = "Service momentanément surchargé : trop de demandes en cours. Réessayez dans un instant.";

/// How long requests in progress may take to finish after the shutdown signal.
const DRAIN: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` completes, then drains.
/// `trust_proxy`: clients reach us through a reverse proxy (see [`Limits::per_address`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    trust_proxy: bool,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let max = permits(limits.max_connexions);
    let per_address = limits.per_address(trust_proxy);
    let registry = Registry::new(max, per_address);
    tracing::info!(
        max_connexions = max,
        reserve_healthz = connexions::reserve_for(max),
        par_adresse = ?per_address,
        "limites des connexions"
    );
    let requests = Arc::new(Semaphore::new(permits(limits.max_requetes)));
    let body_timeout = RequestBodyTimeoutLayer::new(Duration::from_secs(limits.delai_corps));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.delai_entetes))
        .max_buf_size(64 * 1024);
    // The reserve serves one request per connection.
    let mut reserve_http = http.clone();
    reserve_http.keep_alive(false);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, for instance: wait a little rather than spin.
                    tracing::warn!(erreur = %e, "connexion refusée par le système");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Over a limit, closed at once: nothing read, nothing written (the registry logs it).
        let (ticket, builder) = match registry.admit(peer.ip()) {
            Admission::Normal(t) => (t, &http),
            Admission::Reserve(t) => (t, &reserve_http),
            Admission::Refused => continue,
        };
        let _ = stream.set_nodelay(true);
        let (app, requests, conn) = (app.clone(), requests.clone(), ticket.conn.clone());
        let service =
            tower::ServiceBuilder::new()
                .layer(body_timeout.clone())
                .service_fn(move |mut req: Request<_>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    let (app, requests, conn) = (app.clone(), requests.clone(), conn.clone());
                    async move {
                        // Until the response's body is sent, the connection is not idle (not shed).
                        let Some(in_progress) = conn.begin() else {
                            return Ok::<_, std::convert::Infallible>(busy(&req));
                        };
                        // The health check is never refused: it is how the load balancer knows we are alive.
                        let health = req.uri().path() == "/healthz";
                        if conn.is_reserve() && !health {
                            return Ok(busy(&req));
                        }
                        let slot = if health {
                            None
                        } else {
                            match requests.try_acquire_owned() {
                                Ok(p) => Some(p),
                                Err(_) => return Ok(busy(&req)),
                            }
                        };
                        let response = app.oneshot(req).await;
                        drop(slot);
                        response.map(|r| {
                            r.map(|body| {
                                Body::new(body.map_frame(move |frame| {
                                    let _ = &in_progress;
                                    frame
                                }))
                            })
                        })
                    }
                });
        let connection = graceful.watch(builder.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        ));
        tokio::spawn(async move {
            tokio::select! {
                done = connection => if let Err(e) = done {
                    // Timeouts and clients that go away: ordinary on the Internet.
                    tracing::debug!(erreur = %e, "connexion terminée");
                },
                () = ticket.conn.shed_requested() => tracing::debug!("connexion inactive fermée pour faire place"),
            }
            drop(ticket);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN) => {
            tracing::warn!("arrêt : des requêtes n'étaient pas terminées au bout de 30 s");
        }
    }
    Ok(())
}

fn permits(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX).min(Semaphore::MAX_PERMITS)
}

/// The 503 of a request over the limit: JSON for the API, text otherwise.
fn busy(req: &Request<impl Sized>) -> Response<Body> {
    let api = req.uri().path().starts_with("/api/") || req.uri().path().starts_with("/oidc/");
    let (content_type, body) = if api {
        (
            "application/json",
            serde_json::json!({ "motif": "service_surcharge", "message": BUSY }).to_string(),
        )
    } else {
        ("text/plain; charset=utf-8", BUSY.to_string())
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}
