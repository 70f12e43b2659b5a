//! The HTTP server loop of `passerelle serve`, with the limits that protect it
//! from slow or too many clients (hyper directly, where `axum::serve` has no
//! settings):
//!
//! - headers must arrive within `--delai-entetes` (a slow-loris client, or an
//!   idle kept-alive connection, is disconnected);
//! - a request body may pause at most `--delai-corps` between two chunks;
//! - at most `--max-connexions` connections at once: the next ones get a
//!   short French 503 and are closed;
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

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeoutLayer;

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
    /// Nombre maximal de connexions ouvertes en même temps ; au-delà, réponse 503 et fermeture.
    #[arg(long, env = "PASSERELLE_MAX_CONNEXIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connexions: u64,
    /// Nombre maximal de requêtes traitées en même temps (hors /healthz) ; au-delà, réponse 503
    /// immédiate.
    #[arg(long, env = "PASSERELLE_MAX_REQUETES", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_requetes: u64,
}

/// What a refused client reads.
const BUSY: &str = "Service momentanément surchargé : trop de demandes en cours. Réessayez dans un instant.";

/// How long requests in progress may take to finish after the shutdown signal.
const DRAIN: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(permits(limits.max_connexions)));
    let requests = Arc::new(Semaphore::new(permits(limits.max_requetes)));
    let body_timeout = RequestBodyTimeoutLayer::new(Duration::from_secs(limits.delai_corps));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.delai_entetes))
        .max_buf_size(64 * 1024);
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
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!("trop de connexions ouvertes : connexion refusée (503)");
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (app, requests) = (app.clone(), requests.clone());
        let service =
            tower::ServiceBuilder::new()
                .layer(body_timeout.clone())
                .service_fn(move |mut req: Request<_>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    let (app, requests) = (app.clone(), requests.clone());
                    async move {
                        // The health check is never refused: it is how the load balancer knows we are alive.
                        let slot = if req.uri().path() == "/healthz" {
                            None
                        } else {
                            match requests.try_acquire_owned() {
                                Ok(p) => Some(p),
                                Err(_) => return Ok::<_, std::convert::Infallible>(busy(&req)),
                            }
                        };
                        let response = app.oneshot(req).await;
                        drop(slot);
                        response
                    }
                });
        let connection = http.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // Timeouts and clients that go away: ordinary on the Internet.
                tracing::debug!(erreur = %e, "connexion terminée");
            }
            drop(permit);
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
fn busy(req: &Request<impl Sized>) -> Response<axum::body::Body> {
    let api = req.uri().path().starts_with("/api/") || req.uri().path().starts_with("/oidc/");
    let (content_type, body) = if api {
        (
            "application/json",
            serde_json::json!({ "motif": "service_surcharge", "message": BUSY }).to_string(),
        )
    } else {
        ("text/plain; charset=utf-8", BUSY.to_string())
    };
    let mut r = Response::new(axum::body::Body::from(body));
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

/// Answers a connection over the limit with a 503 and closes it, reading (and
/// dropping) what the client sends for a moment so that it gets the answer
/// rather than a reset.
async fn refuse(mut stream: TcpStream) {
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{BUSY}",
        BUSY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}
