//! The built binary needs nothing beside it: copied to an empty folder with no
//! `node_modules` anywhere above, and started from another empty folder, it
//! serves the pages with their DSFR styles, icons and fonts, loads the official
//! territories, draws the dashboard's map and prints a booklet with its fonts.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::TestApp;

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The binary, alone in a folder of its own (a hard link, or a copy across file systems).
fn lone_binary(dir: &Path) -> PathBuf {
    let bin = dir.join("passerelle");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_passerelle"), &bin).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_passerelle"), &bin).expect("copie du binaire");
    }
    bin
}

/// A command of the lone binary, run from `cwd`, with only what an operator's environment has.
fn command(bin: &Path, cwd: &Path, app: &TestApp) -> Command {
    let mut c = Command::new(bin);
    c.current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("PASSERELLE_DATABASE_URL", &app.db_url)
        .env("PASSERELLE_DATA_DIR", &app.data_dir)
        .env("RUST_LOG", "warn");
    c
}

async fn get(client: &reqwest::Client, base: &str, path: &str) -> reqwest::Response {
    let r = client.get(format!("{base}{path}")).send().await.expect(path);
    assert_eq!(r.status(), 200, "{path}");
    r
}

#[tokio::test]
async fn the_binary_alone_serves_styles_territories_map_and_booklets() {
    let app = TestApp::new().await;
    let tmp = tempfile::tempdir().expect("dossier temporaire");
    let (bin_dir, cwd) = (tmp.path().join("bin"), tmp.path().join("vide"));
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::fs::create_dir_all(&cwd).unwrap();
    for d in cwd.ancestors().chain(bin_dir.ancestors()) {
        assert!(!d.join("node_modules").exists(), "node_modules dans {}", d.display());
    }
    let bin = lone_binary(&bin_dir);

    let version = command(&bin, &cwd, &app).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(
        version.starts_with(&format!("passerelle {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let _service = Service(
        command(&bin, &cwd, &app)
            .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("passerelle serve"),
    );
    let client = reqwest::Client::new();
    let started = Instant::now();
    while !client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "le service n'a pas démarré"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Pages and their styles.
    let home = get(&client, &base, "/lieux").await.text().await.unwrap();
    for asset in [
        "/static/dsfr/dsfr.min.css",
        "/static/dsfr/utility/icons/icons.min.css",
        "/static/dsfr/dsfr.module.min.js",
    ] {
        assert!(home.contains(asset), "{asset} absent de la page");
    }
    let css = get(&client, &base, "/static/dsfr/dsfr.min.css").await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let etag = css.headers()["etag"].to_str().unwrap().to_string();
    let css = css.text().await.unwrap();
    assert!(css.len() > 100_000 && css.contains("Marianne"), "feuille du DSFR");
    let font = get(&client, &base, "/static/dsfr/fonts/Marianne-Regular.woff2").await;
    assert_eq!(font.headers()["content-type"], "font/woff2");
    assert!(font.bytes().await.unwrap().starts_with(b"wOF2"));
    let icon = get(&client, &base, "/static/dsfr/icons/system/checkbox-circle-line.svg").await;
    assert!(icon.text().await.unwrap().contains("<svg"));
    let again = client
        .get(format!("{base}/static/dsfr/dsfr.min.css"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "une feuille inchangée n'est pas renvoyée");
    let missing = client
        .get(format!("{base}/static/dsfr/dsfr.css.map"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // The official territories, with the history of communes and the EPCI.
    assert!(app.scalar_i64("SELECT COUNT(*) FROM territoires_communes").await > 34_000);
    assert!(app.scalar_i64("SELECT COUNT(*) FROM territoires_epci").await > 1_000);
    assert!(
        app.scalar_i64("SELECT COUNT(*) FROM territoires_communes_historique")
            .await
            > 1_000
    );
    let place = get(&client, &base, "/lieux?commune=33318").await.text().await.unwrap();
    assert!(
        place.contains("Pessac"),
        "recherche par commune (position tirée des territoires)"
    );

    // The dashboard's map of the départements.
    let dashboard = get(&client, &base, "/tableau-de-bord").await.text().await.unwrap();
    assert!(
        dashboard.contains("<svg") && dashboard.contains("Gironde"),
        "carte des départements"
    );

    // A booklet, printed with the binary's fonts.
    let order = app.scalar_i64("SELECT MIN(commande_id) FROM carnets").await;
    let pdf = tmp.path().join("carnets.pdf");
    let out = command(&bin, &cwd, &app)
        .args([
            "commandes",
            "codes",
            &order.to_string(),
            "--de",
            "1",
            "--a",
            "1",
            "--url-base",
            &base,
        ])
        .arg("--pdf")
        .arg(&pdf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&pdf).expect("PDF des carnets");
    assert!(bytes.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("DejaVuSans") && text.contains("DejaVuSansMono"),
        "polices intégrées au PDF"
    );
    assert_eq!(
        std::fs::read_dir(&cwd).unwrap().count(),
        0,
        "rien n'est écrit dans le dossier courant"
    );
}
