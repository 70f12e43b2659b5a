//! Crash tests, shared tools: the real `passerelle` binary, started on a
//! [`TestApp`]'s database and killed with SIGKILL (`Child::kill`) while it
//! works; then the invariants of the whole database (`passerelle controle`)
//! and the journal (`passerelle journal verify`) must hold.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::lieux::run;
use crate::support::TestApp;

/// The `passerelle` binary on the test's database and data directory.
pub fn passerelle(app: &TestApp, args: &[&str]) -> Command {
    passerelle_at(&app.db_url, &app.data_dir, args)
}

/// The `passerelle` binary on any database and data directory.
pub fn passerelle_at(db_url: &str, data_dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_passerelle"));
    c.args(args)
        .env("PASSERELLE_DATABASE_URL", db_url)
        .env("PASSERELLE_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .env_remove("PASSERELLE_PROGRESSION");
    c
}

/// Starts `args` with plain progress lines on its error output, waits for a
/// line for which `in_progress` holds (the job has really started writing),
/// then kills it with SIGKILL. Returns the lines read. Panics if the job ends
/// (or 120 s pass) before such a line: the crash would not be a crash.
pub fn kill_when(
    app: &TestApp,
    args: &[&str],
    envs: &[(&str, &str)],
    in_progress: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut cmd = passerelle(app, args);
    cmd.env("PASSERELLE_PROGRESSION", "lignes")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("lancement de passerelle");
    let lines = read_lines(&mut child);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let hit = in_progress(&line);
                seen.push(line);
                if hit {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{args:?} s'est arrêté ou n'a pas avancé avant d'être tué : {seen:?}");
            }
        }
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("attente du processus tué");
    assert!(!status.success(), "{args:?} a fini avant d'être tué : {seen:?}");
    seen
}

/// Starts `args` and kills it with SIGKILL after `delay` (it may have finished already: then says so).
pub fn kill_after(app: &TestApp, args: &[&str], delay: Duration) -> bool {
    let mut child = passerelle(app, args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("lancement de passerelle");
    std::thread::sleep(delay);
    let finished = matches!(child.try_wait(), Ok(Some(_)));
    let _ = child.kill();
    let _ = child.wait();
    !finished
}

/// The error output of `child`, line by line, on a channel (a thread reads it).
fn read_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("sortie d'erreur");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// "progression : D/T …" → (D, T).
pub fn progress(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("progression : ")?;
    let (done, rest) = rest.split_once('/')?;
    let total = rest.split_whitespace().next()?;
    Some((done.parse().ok()?, total.parse().ok()?))
}

/// `passerelle controle` and `passerelle journal verify` both exit 0.
pub fn invariants_hold(app: &TestApp) {
    let (code, out, err) = run(app, &["controle", "--json"]);
    assert_eq!(code, 0, "controle : {out} {err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e} : {out}"));
    assert_eq!(v["ok"], true, "{v}");
    let (code, out, err) = run(app, &["journal", "verify"]);
    assert_eq!(code, 0, "journal verify : {out} {err}");
}

/// A file next to the test's data directory.
pub fn file_path(app: &TestApp, name: &str) -> PathBuf {
    app.data_dir.parent().expect("dossier du test").join(name)
}

/// `passerelle serve` on a free loopback port, killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// Starts the service and waits (60 s at most) until `/healthz` answers 200.
    pub async fn start(app: &TestApp, envs: &[(&str, &str)]) -> Server {
        Server::start_at(&app.db_url, &app.data_dir, envs).await
    }

    /// [`Server::start`] on any database and data directory.
    pub async fn start_at(db_url: &str, data_dir: &Path, envs: &[(&str, &str)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port libre")
            .port();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules");
        let mut cmd = passerelle_at(db_url, data_dir, &["serve", "--listen", &format!("127.0.0.1:{port}")]);
        cmd.env("PASSERELLE_ASSETS_DIR", root.join("@gouvfr/dsfr/dist"))
            .env("PASSERELLE_FONTS_DIR", root.join("dejavu-fonts-ttf/ttf"))
            .env_remove("PASSERELLE_BASE_URL")
            .env_remove("PASSERELLE_SMTP_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut server = Server {
            child: cmd.spawn().expect("lancement de passerelle serve"),
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{}/healthz", server.base)).send().await {
                if r.status() == 200 {
                    return server;
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("passerelle serve s'est arrêté au démarrage : {status}");
            }
            assert!(Instant::now() < deadline, "passerelle serve ne répond pas après 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL, no graceful shutdown.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP client whose every request is bounded (no request hangs the test).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client HTTP")
}
