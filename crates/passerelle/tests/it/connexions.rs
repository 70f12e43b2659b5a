//! Connections held open and idle (security issue 18, finding 5: one client with
//! 1 030 idle connections got 503 on every probe, `/healthz` included), through a
//! real `passerelle serve` process. The clients use several loopback addresses:
//! Linux routes all of 127.0.0.0/8 to `lo`, so a socket bound to 127.0.0.10 is
//! another client for the server.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use crate::limites::{parse_reply, read_head, Server, BOUND};
use crate::support::TestApp;

/// 64 ordinary connections (plus a reserve of 4 for /healthz), 8 per address; idle
/// connections would be kept 60 s (longer than any wait of these tests).
const LIMITS: &[&str] = &[
    "--max-connexions",
    "64",
    "--connexions-par-adresse",
    "8",
    "--delai-entetes",
    "60",
];

async fn connect_from(ip: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((ip, 0)))?;
    socket.connect(to).await
}

/// GET `path` from `ip`: the status, or `None` if the server closed the connection without answering.
async fn get_from(ip: [u8; 4], server: &Server, path: &str) -> Option<u16> {
    let mut s = connect_from(ip, server.addr).await.expect("connexion");
    let raw = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    // The server may already have closed (a reset): then no answer.
    if s.write_all(raw.as_bytes()).await.is_err() {
        return None;
    }
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(BOUND, s.read_to_end(&mut bytes))
        .await
        .expect("ni réponse ni fermeture");
    match read {
        Ok(_) if bytes.is_empty() => None,
        Ok(_) => Some(parse_reply(&bytes).expect("réponse lisible").status),
        Err(_) => None,
    }
}

/// Idle connections held by a misbehaving client, each reopened as soon as the server
/// closes it (like the client of the finding); stopped when dropped.
struct Holders(Vec<JoinHandle<()>>);

impl Holders {
    /// Opens `n` connections from each address, one after the other, then holds them.
    async fn open(addresses: &[[u8; 4]], n: usize, to: SocketAddr) -> Holders {
        let mut tasks = Vec::new();
        for &ip in addresses {
            for _ in 0..n {
                let first = connect_from(ip, to).await.ok();
                tasks.push(tokio::spawn(hold(ip, to, first)));
            }
        }
        Holders(tasks)
    }
}

impl Drop for Holders {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

async fn hold(ip: [u8; 4], to: SocketAddr, mut stream: Option<TcpStream>) {
    loop {
        if let Some(mut s) = stream.take() {
            let mut buf = [0u8; 256];
            // Says nothing, until the server closes the connection.
            while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream = connect_from(ip, to).await.ok();
    }
}

/// An ordinary connection from `ip`, idle after one request (kept alive): proof that
/// the server counts it (a connection still closing may hold a place for a moment).
async fn held_from(ip: [u8; 4], server: &Server) -> TcpStream {
    let started = Instant::now();
    loop {
        if let Ok(mut s) = connect_from(ip, server.addr).await {
            if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await
                .is_ok()
            {
                let head = read_head(&mut s).await.unwrap_or_default().to_lowercase();
                if head.starts_with("http/1.1 200") && !head.contains("connection: close") {
                    return s;
                }
            }
        }
        assert!(started.elapsed() < BOUND, "aucune connexion acceptée depuis {ip:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_connections() {
    let app = TestApp::new().await;
    let server = Server::start(&app, LIMITS).await;

    // Eight idle connections from 127.0.0.1: its limit.
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(held_from([127, 0, 0, 1], &server).await);
    }
    // The ninth is closed at once, without an answer, even for /healthz (connections
    // are admitted in the order they arrive, so the eight are counted before it).
    assert_eq!(get_from([127, 0, 0, 1], &server, "/healthz").await, None);
    assert_eq!(get_from([127, 0, 0, 1], &server, "/").await, None);
    // Other clients are served as usual.
    assert_eq!(get_from([127, 0, 0, 2], &server, "/healthz").await, Some(200));
    assert_eq!(get_from([127, 0, 0, 3], &server, "/").await, Some(200));

    // Its connections closed, the address is served again.
    drop(idle);
    let started = Instant::now();
    while get_from([127, 0, 0, 1], &server, "/").await != Some(200) {
        assert!(started.elapsed() < BOUND, "l'adresse n'est plus jamais servie");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn idle_connections_from_many_addresses_do_not_take_the_instance_down() {
    let app = TestApp::new().await;
    let server = Server::start(&app, LIMITS).await;

    // Ten addresses hold 8 idle connections each, reopened when closed: 80, more
    // than the 64 connections and the reserve of 4.
    let flood: Vec<[u8; 4]> = (10..20).map(|i| [127, 0, 0, i]).collect();
    let _holders = Holders::open(&flood, 8, server.addr).await;

    // The health check is answered, every time (the accept order puts these after the flood).
    for _ in 0..5 {
        assert_eq!(get_from([127, 0, 0, 2], &server, "/healthz").await, Some(200));
    }
    // An ordinary visitor gets the page once idle connections are shed (an idle
    // connection is kept at least 1 s: 503 until then).
    let started = Instant::now();
    let mut last = None;
    while last != Some(200) {
        assert!(
            started.elapsed() < BOUND,
            "page toujours refusée sous l'afflux de connexions inactives : {last:?}"
        );
        last = get_from([127, 0, 0, 3], &server, "/").await;
        if last != Some(200) {
            assert!(matches!(last, Some(503) | None), "{last:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // And again, while the flood keeps reopening its connections.
    for _ in 0..3 {
        assert_eq!(get_from([127, 0, 0, 3], &server, "/").await, Some(200));
        assert_eq!(get_from([127, 0, 0, 2], &server, "/healthz").await, Some(200));
    }
}
