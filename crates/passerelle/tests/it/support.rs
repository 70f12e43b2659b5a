//! Test harness: a fresh database per test (a SQLite file, or a new PostgreSQL
//! database when `PASSERELLE_TEST_DATABASE_URL` points at a server), the router
//! driven in process, and a tiny browser that keeps cookies.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use passerelle_core::accounts::Principal;
use passerelle_core::accounts::{self, NewAccount};
use passerelle_core::horloge::{Horloge, Reglage};
use passerelle_core::{Backend, Core, Pool};
use passerelle_web::{router, AppState, WebConfig};
use tower::ServiceExt;

pub mod pass_numerique;
pub mod serveur;

pub const BASE: &str = "http://localhost:8080";
pub const PASSWORD: &str = "cheval agrafe pile correcte";

pub struct TestApp {
    pub core: Core,
    pub router: Router,
    pub db_url: String,
    pub data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn new() -> TestApp {
        let dir = tempfile::tempdir().expect("dossier temporaire");
        let data_dir = dir.path().join("data");
        let db_url = match std::env::var("PASSERELLE_TEST_DATABASE_URL") {
            Ok(server) if !server.is_empty() => create_pg_database(&server).await,
            _ => format!("sqlite:{}/test.db?mode=rwc", dir.path().display()),
        };
        std::fs::create_dir_all(&data_dir).expect("dossier de données");
        // The system's time, until a test sets it (`set_now`).
        let horloge = Horloge::reglee(Reglage::Decalage(jiff::SignedDuration::ZERO));
        let core = Core::open(&db_url, &data_dir)
            .await
            .expect("ouverture de la base de test")
            .with_horloge(horloge);
        let router = router(AppState::new(core.clone(), web_config()));
        TestApp {
            core,
            router,
            db_url,
            data_dir,
            _dir: dir,
        }
    }

    /// The same application with another bound on Argon2 work (the router is rebuilt).
    pub fn with_argon2(mut self, pool: passerelle_core::accounts::argon2_pool::Argon2Pool) -> TestApp {
        self.core = self.core.clone().with_argon2(pool);
        self.router = router(AppState::new(self.core.clone(), web_config()));
        self
    }

    /// The demonstration data of `serve --demo` (with the official territories it needs).
    pub async fn load_demo(&self) -> passerelle_core::demo::Demo {
        passerelle_core::geographie::load(&self.core.db, &territories_dataset())
            .await
            .expect("territoires officiels");
        let demo = passerelle_core::demo::load_if_empty(&self.core)
            .await
            .expect("données de démonstration")
            .expect("base vide");
        assert_eq!(demo.pass_skipped, None);
        demo
    }

    /// Sets the clock of the application and of its command line ([`cli`]):
    /// an instant stops it there (`2027-01-31T23:59:59+01:00[Europe/Paris]`),
    /// a duration moves the system's time (`+72h`).
    pub fn set_now(&self, reglage: &str) {
        let r = Horloge::parse(reglage)
            .expect("réglage d'horloge")
            .reglage()
            .expect("horloge réglée");
        self.core.db.horloge().regler(r).expect("horloge réglable");
    }

    pub fn backend(&self) -> Backend {
        self.core.db.backend()
    }

    pub fn browser(&self) -> Browser {
        Browser {
            router: self.router.clone(),
            cookies: BTreeMap::new(),
            same_origin: true,
        }
    }

    /// Creates an organisation of `kind` and an account of `role` in it, with [`PASSWORD`].
    pub async fn account(&self, kind: &str, role: &str, email: &str, with_totp: bool) -> (i64, Option<String>) {
        let org = accounts::create_organisation(
            &self.core,
            &Principal::SYSTEME,
            kind,
            &format!("Organisation de {email}"),
            None,
        )
        .await
        .expect("organisation");
        let created = accounts::create_account(
            &self.core,
            &Principal::SYSTEME,
            NewAccount {
                organisation_id: org.id,
                email,
                display_name: &format!("Personne {email}"),
                role: Some(role),
                password: Some(PASSWORD),
                with_totp,
            },
        )
        .await
        .expect("compte");
        (created.account.id, created.totp_secret)
    }

    /// Runs raw SQL (e.g. to play an attacker with database access).
    pub async fn exec(&self, sql: &str) -> Result<u64, sqlx::Error> {
        match &self.core.db.pool {
            Pool::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(|r| r.rows_affected()),
            Pool::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(|r| r.rows_affected()),
        }
    }

    /// Injects a fault: a trigger `name` on the inserts into `table`. On SQLite
    /// `sqlite` is the trigger after its name (`BEFORE|AFTER INSERT ON … BEGIN …
    /// END`); on PostgreSQL `plpgsql` is the body of the function run before
    /// each inserted row. Returns the statement that removes the fault.
    pub async fn inject_fault(&self, name: &str, table: &str, sqlite: &str, plpgsql: &str) -> String {
        let (create, repair) = match self.backend() {
            Backend::Sqlite => (
                format!("CREATE TRIGGER {name} {sqlite}"),
                format!("DROP TRIGGER {name}"),
            ),
            Backend::Postgres => (
                format!(
                    "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {plpgsql} END $$; \
                     CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
                ),
                format!("DROP TRIGGER {name} ON {table}"),
            ),
        };
        self.exec(&create).await.unwrap_or_else(|e| panic!("{create} : {e}"));
        repair
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        match &self.core.db.pool {
            Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    pub async fn scalar_text(&self, sql: &str) -> String {
        match &self.core.db.pool {
            Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    /// Journal actions, in order.
    pub async fn journal_actions(&self) -> Vec<String> {
        let q = "SELECT action FROM journal ORDER BY seq";
        match &self.core.db.pool {
            Pool::Sqlite(p) => sqlx::query_scalar(q).fetch_all(p).await.unwrap(),
            Pool::Postgres(p) => sqlx::query_scalar(q).fetch_all(p).await.unwrap(),
        }
    }
}

/// The settings of the application under test.
pub fn web_config() -> WebConfig {
    WebConfig {
        base_url: url::Url::parse(BASE).unwrap(),
        assets_dir: None,
        fonts_dir: None,
        trust_proxy: false,
        search_max_age: std::time::Duration::ZERO,
        dashboard_max_age: std::time::Duration::ZERO,
    }
}

pub async fn create_pg_database(server: &str) -> String {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(server).await.expect("serveur PostgreSQL de test");
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("CREATE DATABASE");
    admin.close().await;
    let mut url = url::Url::parse(server).expect("URL PostgreSQL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// The TOTP key printed on an enrolment page, without its grouping spaces.
pub fn secret_on_page(body: &str) -> String {
    let after = &body[body.find("Clé à saisir à la main").expect("clé affichée")..];
    let start = after.find("<code>").unwrap() + 6;
    let end = after[start..].find("</code>").unwrap();
    after[start..start + end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// A TOTP code for `secret` at now + `offset_steps` × 30 s.
pub fn totp_code(secret: &str, offset_steps: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    let t = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "t".into()).unwrap();
    let now = passerelle_core::Horloge::systeme().now().as_second();
    t.generate((now + offset_steps * 30) as u64)
}

pub struct Response {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Response {
    pub fn location(&self) -> Option<&str> {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok())
    }
}

/// Keeps cookies between requests and sends what a browser sends on a same-origin form.
pub struct Browser {
    router: Router,
    pub cookies: BTreeMap<String, String>,
    pub same_origin: bool,
}

impl Browser {
    /// A browser on another router (e.g. the application served with other settings).
    pub fn on(router: Router) -> Browser {
        Browser {
            router,
            cookies: BTreeMap::new(),
            same_origin: true,
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&String> {
        self.cookies.get(name)
    }

    pub async fn send(&mut self, req: Request<Body>) -> Response {
        let res = self.router.clone().oneshot(req).await.unwrap();
        for v in res.headers().get_all(header::SET_COOKIE) {
            let s = v.to_str().unwrap();
            let pair = s.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            if s.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Response {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// The `Cookie` header this browser sends.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let req = Request::get(path)
            .header(header::COOKIE, self.cookie_header())
            .body(Body::empty())
            .unwrap();
        self.send(req).await
    }

    /// Posts a form with the CSRF token taken from the cookie (as the page's hidden field would).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        if !self.cookies.contains_key("passerelle_csrf") {
            self.get("/connexion").await;
        }
        let token = self.cookies.get("passerelle_csrf").cloned().unwrap_or_default();
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts exactly these fields (no CSRF token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, self.cookie_header());
        req = if self.same_origin {
            req.header("sec-fetch-site", "same-origin").header(header::ORIGIN, BASE)
        } else {
            req.header("sec-fetch-site", "cross-site")
                .header(header::ORIGIN, "https://attaquant.example")
        };
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    /// The CSRF token of the cookie (after a first page, when there is none yet).
    pub async fn csrf_token(&mut self) -> String {
        if !self.cookies.contains_key("passerelle_csrf") {
            self.get("/connexion").await;
        }
        self.cookies.get("passerelle_csrf").cloned().unwrap_or_default()
    }

    /// Posts a multipart body as an upload form of the same origin does (the
    /// CSRF token, when wanted, is the body's first field `csrf_token`).
    pub async fn post_multipart(&mut self, path: &str, content_type: &str, body: Vec<u8>) -> Response {
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::COOKIE, self.cookie_header())
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    /// Password step; returns the response of the form post.
    pub async fn login(&mut self, email: &str, password: &str) -> Response {
        self.get("/connexion").await;
        self.post("/connexion", &[("email", email), ("mot_de_passe", password)])
            .await
    }
}

/// Runs the `passerelle` binary.
pub fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"));
    // The clock a test set, if any.
    match app.core.db.horloge().reglage() {
        Some(Reglage::Decalage(d)) if d.is_zero() => command.env_remove("PASSERELLE_HORLOGE"),
        _ => command.env("PASSERELLE_HORLOGE", app.core.db.horloge().texte().unwrap_or_default()),
    };
    command
        .args(args)
        .env("PASSERELLE_DATABASE_URL", &app.db_url)
        .env("PASSERELLE_DATA_DIR", &app.data_dir)
        .env_remove("PASSERELLE_ADMIN_PASSWORD")
        .env("RUST_LOG", "warn")
        .output()
        .expect("lancement de passerelle")
}

/// Runs the `passerelle` binary on the database `url` with the data folder `data`
/// (no test application): its exit code and its standard output then error.
pub fn cli_at(url: &str, data: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .args(args)
        .env("PASSERELLE_DATABASE_URL", url)
        .env("PASSERELLE_DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .output()
        .expect("lancement de passerelle");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The folder name of an engine (`crates/core/migrations/<name>`, fixture files).
pub fn engine_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// The principal of the account with this e-mail (signed-in rights, as the web layer builds them).
pub async fn principal_of(app: &TestApp, email: &str) -> Principal {
    let id = app
        .scalar_i64(&format!("SELECT id FROM accounts WHERE email = '{email}'"))
        .await;
    passerelle_core::accounts::principal(&app.core, id)
        .await
        .expect("lecture du compte")
        .unwrap_or_else(|| panic!("compte {email} absent ou inactif"))
        .0
}

/// Runs a command of the binary that must succeed; its standard output.
pub fn cli_ok(app: &TestApp, args: &[&str]) -> String {
    let out = cli(app, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?} : {stderr} {stdout}");
    stdout
}

/// Runs a command that must succeed and answer JSON (`--json` is added).
pub fn cli_json(app: &TestApp, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = cli_ok(app, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e} : {out}"))
}

/// The official territories' reference dataset (@etalab/decoupage-administratif, from npm).
pub fn territories_dataset() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/@etalab/decoupage-administratif/data")
}

/// Loads the official territories (INSEE codes) with the command line.
pub fn load_territories(app: &TestApp) {
    cli_ok(
        app,
        &[
            "territoires",
            "charger",
            "--dossier",
            territories_dataset().to_str().unwrap(),
        ],
    );
}

/// Creates an organisation of `kind` with the command line; its id (as printed).
pub fn cli_organisation(app: &TestApp, kind: &str, name: &str) -> String {
    cli_ok(app, &["organisations", "creer", "--type", kind, "--nom", name])
        .trim()
        .to_string()
}

/// The DejaVu fonts of the npm package, for the PDF documents.
pub(crate) fn fonts_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../node_modules/dejavu-fonts-ttf/ttf"
    ))
}
