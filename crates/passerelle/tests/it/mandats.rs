//! Mandates through HTTP, with the FranceConnect simulator served on a
//! loopback port (the relying party calls it for real): identification,
//! conclusion with a fresh TOTP, refusals, supersession, renewal, revocation,
//! derived states, expiry, the PDF attestation whose QR code is decoded
//! (pdftoppm + zbarimg) and opened, the journal; and the negative tests of
//! every route (other structure, anonymous, opérateur, another session).

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::StatusCode;
use axum::Router;
use passerelle_core::accounts::{self, NewAccount};
use passerelle_core::aidants::franceconnect::config::FcSettings;
use passerelle_core::aidants::franceconnect::{FcConfig, FranceConnect};
use passerelle_core::journal::Actor;
use passerelle_core::mandats::{self, Revoker};
use passerelle_web::{router, AppState, WebConfig};

use crate::support::{cli, totp_code, Browser, TestApp, PASSWORD};

struct M {
    app: TestApp,
    base: String,
    router: Router,
}

fn fonts_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../node_modules/dejavu-fonts-ttf/ttf"
    ))
}

/// The application with the simulator on, served on a loopback port.
async fn serve() -> M {
    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let base_url = url::Url::parse(&base).unwrap();
    let settings = FcSettings {
        simulateur: true,
        ..Default::default()
    };
    let config = FcConfig::resolve(&settings, &base_url, false, &app.core.keys)
        .unwrap()
        .unwrap();
    let web = WebConfig {
        base_url,
        assets_dir: PathBuf::from("/nonexistent"),
        fonts_dir: fonts_dir(),
        trust_proxy: false,
        search_max_age: std::time::Duration::ZERO,
    };
    let state = AppState::new(app.core.clone(), web).with_franceconnect(Some(FranceConnect::new(config).unwrap()));
    let router = router(state);
    let served = router.clone();
    tokio::spawn(async move {
        axum::serve(listener, served.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .unwrap();
    });
    M { app, base, router }
}

/// An aidant (or référent) signed in, with his TOTP secret.
struct Aidant {
    b: Browser,
    secret: String,
    email: String,
}

impl M {
    /// A habilitated structure with these allowed démarches.
    async fn structure(&self, name: &str, demarches: &[&str]) -> i64 {
        let org = accounts::create_organisation(&self.app.core, &Actor::System, "structure_habilitee", name, None)
            .await
            .unwrap();
        for d in demarches {
            self.app
                .exec(&format!(
                    "INSERT INTO structures_demarches (organisation_id, demarche) VALUES ({}, '{d}')",
                    org.id
                ))
                .await
                .unwrap();
        }
        org.id
    }

    /// An active aidant of `structure`, signed in with password and TOTP.
    async fn aidant(&self, structure: i64, email: &str) -> Aidant {
        let created = accounts::create_account(
            &self.app.core,
            &Actor::System,
            NewAccount {
                organisation_id: structure,
                email,
                display_name: &format!("Aidant {email}"),
                role: Some("aidant"),
                password: Some(PASSWORD),
                with_totp: true,
            },
        )
        .await
        .unwrap();
        self.app
            .exec(&format!(
                "INSERT INTO aidants_membres (account_id, organisation_id, actif, created_at, updated_at) \
                 VALUES ({}, {structure}, TRUE, 0, 0)",
                created.account.id
            ))
            .await
            .unwrap();
        let secret = created.totp_secret.unwrap();
        let b = self.sign_in(email, &secret, 0).await;
        Aidant {
            b,
            secret,
            email: email.to_string(),
        }
    }

    async fn sign_in(&self, email: &str, secret: &str, step: i64) -> Browser {
        let mut b = Browser::on(self.router.clone());
        b.login(email, PASSWORD).await;
        let r = b.post("/connexion/totp", &[("code", &totp_code(secret, step))]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        b
    }

    fn local<'a>(&self, absolute: &'a str) -> &'a str {
        absolute.strip_prefix(self.base.as_str()).unwrap_or(absolute)
    }

    /// The usager `identite` identifies with the simulator in browser `b`;
    /// returns the page FranceConnect brings the aidant back to.
    async fn identify(&self, b: &mut Browser, identite: &str) -> String {
        let r = b.get("/franceconnect/connexion").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let authorize = self.local(r.location().unwrap()).to_string();
        let url = url::Url::parse(&format!("{}{authorize}", self.base)).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(b.get(&authorize).await.status, StatusCode::OK);
        let r = b
            .post(
                "/fc-simulateur/authorize",
                &[
                    ("state", q["state"].as_str()),
                    ("nonce", q["nonce"].as_str()),
                    ("acr", "eidas1"),
                    ("identite", identite),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let callback = self.local(r.location().unwrap()).to_string();
        let r = b.get(&callback).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }

    async fn count(&self, sql: &str) -> i64 {
        self.app.scalar_i64(sql).await
    }

    async fn actions(&self, action: &str) -> usize {
        self.app.journal_actions().await.iter().filter(|a| *a == action).count()
    }
}

fn form<'a>(demarches: &[&'a str], duree: &'a str, declaration: bool) -> Vec<(&'a str, &'a str)> {
    let mut f: Vec<(&str, &str)> = demarches.iter().map(|d| ("demarches", *d)).collect();
    f.push(("duree", duree));
    if declaration {
        f.push(("declaration", "oui"));
    }
    f
}

fn query(demarches: &[&str], duree: &str) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for d in demarches {
        s.append_pair("demarches", d);
    }
    s.append_pair("duree", duree);
    s.finish()
}

/// The mandate a redirect after conclusion or renewal points to.
fn mandate_of(location: Option<&str>) -> i64 {
    let l = location.expect("redirection");
    let rest = l.strip_prefix("/aidants-connect/mandats/").expect(l);
    rest.split('?').next().unwrap().parse().expect(l)
}

/// Concludes through the recap page; returns the new mandate's id.
async fn conclude(b: &mut Browser, demarches: &[&str], duree: &str) -> i64 {
    let r = b
        .get(&format!(
            "/aidants-connect/mandats/recapitulatif?{}",
            query(demarches, duree)
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = b.post("/aidants-connect/mandats", &form(demarches, duree, true)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    mandate_of(r.location())
}

fn opted_out() -> bool {
    if std::env::var("PASSERELLE_TEST_SANS_QR").is_ok_and(|v| v == "1") {
        eprintln!("PASSERELLE_TEST_SANS_QR=1 : PDF de l'attestation non lu par poppler ni zbar");
        return true;
    }
    false
}

/// The text of a PDF (pages separated by form feeds), by pdftotext (poppler-utils).
fn text_of_pdf(pdf: &[u8]) -> Option<String> {
    if opted_out() {
        return None;
    }
    let bin = std::env::var("PASSERELLE_PDFTOTEXT").unwrap_or_else(|_| "/usr/bin/pdftotext".into());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("document.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new(&bin)
        .arg(&file)
        .arg("-")
        .output()
        .unwrap_or_else(|e| {
            panic!("{bin} introuvable ({e}) : installez poppler-utils (ou PASSERELLE_TEST_SANS_QR=1 pour passer)")
        });
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).unwrap())
}

/// The URL in the QR code of a PDF's first page: pdftoppm renders it, zbarimg decodes it.
/// `None` only when `PASSERELLE_TEST_SANS_QR=1` explicitly opts out of the external tools.
fn qr_of_pdf(pdf: &[u8]) -> Option<String> {
    let tool = |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.to_string());
    let (pdftoppm, zbarimg) = (
        tool("PASSERELLE_PDFTOPPM", "/usr/bin/pdftoppm"),
        tool("PASSERELLE_ZBARIMG", "/usr/bin/zbarimg"),
    );
    if opted_out() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("attestation.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new(&pdftoppm)
        .args(["-png", "-r", "150", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&file)
        .arg(dir.path().join("page"))
        .output()
        .unwrap_or_else(|e| {
            panic!("{pdftoppm} introuvable ({e}) : installez poppler-utils (ou PASSERELLE_TEST_SANS_QR=1 pour passer)")
        });
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = std::process::Command::new(&zbarimg)
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(dir.path().join("page.png"))
        .output()
        .unwrap_or_else(|e| {
            panic!("{zbarimg} introuvable ({e}) : installez zbar-tools (ou PASSERELLE_TEST_SANS_QR=1 pour passer)")
        });
    assert!(
        out.status.success(),
        "aucun QR code lu : {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1, "un seul QR code par page : {text}");
    Some(lines[0].to_string())
}

impl M {
    /// A PDF downloaded with `b`'s cookies (raw bytes).
    async fn pdf(&self, b: &Browser, path: &str) -> Vec<u8> {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let cookies = b
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = axum::http::Request::get(path)
            .header(axum::http::header::COOKIE, cookies)
            .body(axum::body::Body::empty())
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()["content-type"], "application/pdf");
        let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        assert!(bytes.starts_with(b"%PDF-"));
        bytes
    }
}

fn stale() -> i64 {
    passerelle_core::db::now_micros() - 16 * 60 * 1_000_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mandate_is_concluded_superseded_renewed_revoked_and_checked_by_its_qr_code() {
    let m = serve().await;
    let a = m
        .structure(
            "France Services de Pessac",
            &["papiers", "social", "logement", "argent"],
        )
        .await;
    let Aidant { mut b, secret, .. } = m.aidant(a, "aidant@exemple.fr").await;

    // Nobody identified yet: the page offers FranceConnect.
    let r = b.get("/aidants-connect/mandats/nouveau").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("href=\"/franceconnect/connexion\""), "{}", r.body);
    assert!(!r.body.contains("name=\"demarches\""));
    assert!(b
        .get("/aidants-connect/mandats")
        .await
        .body
        .contains("href=\"/aidants-connect/mandats\""));

    let back = m.identify(&mut b, "angela").await;
    assert!(back.contains("href=\"/aidants-connect/mandats/nouveau\""), "{back}");
    let r = b.get("/aidants-connect/mandats/nouveau").await;
    assert!(r.body.contains("Angela Claire Louise DUBOIS"), "{}", r.body);
    assert!(r.body.contains("value=\"papiers\"") && !r.body.contains("value=\"justice\""));

    // The recap: usager, structure, démarches, duration, the text, the declaration.
    let r = b
        .get(&format!(
            "/aidants-connect/mandats/recapitulatif?{}",
            query(&["social", "papiers"], "MONTH")
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for s in [
        "Angela Claire Louise DUBOIS",
        "France Services de Pessac",
        "Papiers - Citoyenneté - Élections",
        "Social - Santé",
        "Mandat d&#39;un mois",
        "texte version 1",
        "Je déclare avoir informé",
        "name=\"csrf_token\"",
    ] {
        assert!(r.body.contains(s), "{s}: {}", r.body);
    }
    let r = b
        .get(&format!(
            "/aidants-connect/mandats/recapitulatif?{}",
            query(&["justice"], "MONTH")
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("n&#39;est pas autorisée"), "{}", r.body);

    // Refusals: no declaration, a démarche not allowed, unknown duration, a stale TOTP.
    let r = b
        .post("/aidants-connect/mandats", &form(&["papiers"], "MONTH", false))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Cochez la déclaration"), "{}", r.body);
    let r = b
        .post(
            "/aidants-connect/mandats",
            &form(&["papiers", "justice"], "MONTH", true),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("« Justice » n&#39;est pas autorisée"), "{}", r.body);
    let r = b
        .post("/aidants-connect/mandats", &form(&["papiers"], "FOREVER", true))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    m.app
        .exec(&format!("UPDATE sessions SET totp_verified_at = {}", stale()))
        .await
        .unwrap();
    let r = b
        .post("/aidants-connect/mandats", &form(&["papiers"], "MONTH", true))
        .await;
    assert!(
        r.location()
            .unwrap_or_default()
            .starts_with("/connexion/totp-recent?suivant="),
        "{:?}",
        r.location()
    );
    assert_eq!(m.count("SELECT COUNT(*) FROM mandats").await, 0);
    let r = b
        .post(
            "/connexion/totp-recent",
            &[
                ("code", &totp_code(&secret, 1)),
                ("suivant", "/aidants-connect/mandats/nouveau"),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/aidants-connect/mandats/nouveau"));

    // Concluded.
    let m1 = conclude(&mut b, &["papiers", "social"], "MONTH").await;
    assert_eq!(m.count("SELECT COUNT(*) FROM autorisations").await, 2);
    let r = b.get(&format!("/aidants-connect/mandats/{m1}?conclu=1")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Le mandat est conclu") && r.body.contains(">Actif<"),
        "{}",
        r.body
    );
    assert_eq!(
        m.count(&format!(
            "SELECT CAST(texte_version AS BIGINT) FROM mandats WHERE id = {m1}"
        ))
        .await,
        1
    );
    let details = m
        .app
        .scalar_text("SELECT details FROM journal WHERE action = 'mandat.cree'")
        .await;
    assert!(
        details.contains("\"demarches\":[\"papiers\",\"social\"]")
            && details.contains("\"duree\":\"MONTH\"")
            && details.contains("\"texte_version\":1")
            && !details.contains("DUBOIS"),
        "{details}"
    );

    // A second mandate of the same structure supersedes the same démarche only.
    let m2 = conclude(&mut b, &["social", "logement"], "MONTH").await;
    assert_eq!(
        m.app
            .scalar_text(&format!(
                "SELECT revoquee_par FROM autorisations WHERE mandat_id = {m1} AND demarche = 'social'"
            ))
            .await,
        "remplacement"
    );
    assert_eq!(
        m.count(&format!(
            "SELECT COUNT(*) FROM autorisations a JOIN autorisations n ON n.id = a.remplacee_par \
             WHERE a.mandat_id = {m1} AND n.mandat_id = {m2} AND n.demarche = 'social'"
        ))
        .await,
        1
    );
    assert_eq!(
        m.count(&format!(
            "SELECT COUNT(*) FROM autorisations WHERE mandat_id = {m1} AND demarche = 'papiers' AND revoquee_at IS NULL"
        ))
        .await,
        1
    );
    let r = b.get(&format!("/aidants-connect/mandats/{m1}")).await;
    assert!(r.body.contains("Actif, certaines démarches révoquées"), "{}", r.body);
    assert!(r.body.contains("Remplacée") && r.body.contains(&format!("remplacement par le mandat n° {m2}")));
    assert_eq!(m.actions("mandat.autorisation_remplacee").await, 1);

    // Renewal of m2: no new FranceConnect step, démarches chosen again.
    m.app.exec("UPDATE franceconnect_etats SET used_at = 0").await.unwrap();
    let r = b.get(&format!("/aidants-connect/mandats/{m2}/renouveler")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = b
        .get(&format!(
            "/aidants-connect/mandats/{m2}/renouveler/recapitulatif?{}",
            query(&["logement", "argent"], "LONG")
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Renouveler le mandat") && r.body.contains("Mandat d&#39;un an"));
    let r = b
        .post(
            &format!("/aidants-connect/mandats/{m2}/renouveler"),
            &form(&["logement", "argent"], "LONG", true),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let m3 = mandate_of(r.location());
    assert_eq!(
        m.count(&format!("SELECT renouvelle FROM mandats WHERE id = {m3}"))
            .await,
        m2
    );
    assert_eq!(m.actions("mandat.renouvele").await, 1);
    assert_eq!(m.actions("mandat.autorisation_remplacee").await, 2);
    let r = b.get(&format!("/aidants-connect/mandats/{m2}")).await;
    assert!(r.body.contains("Actif, certaines démarches révoquées"), "{}", r.body);

    // The attestation's QR code opens the public check: authentic, active, no personal data.
    let attestation = m
        .pdf(&b, &format!("/aidants-connect/mandats/{m3}/attestation.pdf"))
        .await;
    if let Some(text) = text_of_pdf(&attestation) {
        let copies: Vec<&str> = text.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
        assert_eq!(copies.len(), 2, "{text}");
        let fingerprint = mandats::texts::fingerprint(mandats::texts::ALL[0].1);
        for (copy, title) in copies
            .iter()
            .zip(["Exemplaire de l'usager", "Exemplaire de la structure"])
        {
            for s in [
                title,
                &format!("Attestation de mandat n° {m3}"),
                &format!("version 1, SHA-256 {fingerprint}"),
                "Angela Claire Louise DUBOIS",
                "Né(e) le 24/08/1962",
                "France Services de Pessac",
                "Aidant aidant@exemple.fr",
                "Logement",
                "Argent - Impôts - Consommation",
                "Mandat d'un an (maximum)",
                &format!("Renouvelle le mandat n° {m2}"),
            ] {
                assert!(copy.contains(s), "{s}: {copy}");
            }
        }
    }
    let check_path = match qr_of_pdf(&attestation) {
        Some(url) => {
            let path = m.local(&url).to_string();
            assert!(url.starts_with(&format!("{}/mandats/verifier/", m.base)), "{url}");
            path
        }
        None => format!(
            "/mandats/verifier/{}",
            mandats::model::verification_token(&m.app.core.keys, m3)
        ),
    };
    let mut anyone = Browser::on(m.router.clone());
    let r = anyone.get(&check_path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body
            .contains(&format!("Attestation authentique : mandat n° {m3} — Actif")),
        "{}",
        r.body
    );
    assert!(r.body.contains("France Services de Pessac") && r.body.contains("A. D."));
    assert!(!r.body.contains("DUBOIS") && !r.body.contains("Angela") && !r.body.contains("1962"));
    // No revocation yet: no certificate.
    let r = b.get(&format!("/aidants-connect/mandats/{m3}/revocation.pdf")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Revoke one démarche (confirmation first), then the whole mandate.
    let r = b
        .get(&format!("/aidants-connect/mandats/{m3}/revoquer?demarche=argent"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Confirmer la révocation") && r.body.contains("name=\"csrf_token\""));
    let r = b
        .post(
            &format!("/aidants-connect/mandats/{m3}/revoquer"),
            &[("demarche", "argent")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = b.get(r.location().unwrap()).await;
    assert!(r.body.contains("La démarche est révoquée"), "{}", r.body);
    assert!(r.body.contains("Actif, certaines démarches révoquées"));
    assert!(anyone
        .get(&check_path)
        .await
        .body
        .contains("Actif, certaines démarches révoquées"));
    let r = b
        .post(
            &format!("/aidants-connect/mandats/{m3}/revoquer"),
            &[("demarche", "argent")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("déjà révoquée"), "{}", r.body);
    let certificate = m
        .pdf(&b, &format!("/aidants-connect/mandats/{m3}/revocation.pdf"))
        .await;
    if let Some(url) = qr_of_pdf(&certificate) {
        assert_eq!(m.local(&url), check_path, "same QR code on the certificate");
    }
    let r = b
        .post(&format!("/aidants-connect/mandats/{m3}/revoquer"), &[("demarche", "")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = b.get(&format!("/aidants-connect/mandats/{m3}")).await;
    assert!(r.body.contains(">Révoqué<"), "{}", r.body);
    assert!(!r.body.contains("/renouveler\""), "a revoked mandate is not renewed");
    let r = anyone.get(&check_path).await;
    assert!(r.body.contains(&format!("mandat n° {m3} — Révoqué")), "{}", r.body);
    let entries = m.app.journal_actions().await.len();
    let r = b
        .post(&format!("/aidants-connect/mandats/{m3}/revoquer"), &[("demarche", "")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Ce mandat est déjà révoqué"), "{}", r.body);
    assert_eq!(m.app.journal_actions().await.len(), entries, "nothing written");
    let r = b
        .post(
            &format!("/aidants-connect/mandats/{m3}/renouveler"),
            &form(&["logement"], "LONG", true),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Expiry (moved in the database): state Expiré, nothing left to revoke.
    m.app
        .exec(&format!(
            "UPDATE mandats SET expires_at = {} WHERE id = {m1}",
            passerelle_core::db::now_micros() - 1
        ))
        .await
        .unwrap();
    let r = b.get(&format!("/aidants-connect/mandats/{m1}")).await;
    assert!(
        r.body.contains(">Expiré<") && r.body.contains(">Expirée<"),
        "{}",
        r.body
    );
    let r = b
        .post(
            &format!("/aidants-connect/mandats/{m1}/revoquer"),
            &[("demarche", "papiers")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("a expiré"), "{}", r.body);

    // The list, with the server-side search.
    let r = b.get("/aidants-connect/mandats").await;
    assert!(
        r.body.contains("3 mandats") && r.body.contains(&format!("Mandat n° {m3}")),
        "{}",
        r.body
    );
    assert!(b
        .get("/aidants-connect/mandats?q=dubois")
        .await
        .body
        .contains("3 mandats"));
    assert!(b
        .get("/aidants-connect/mandats?q=mercier")
        .await
        .body
        .contains("0 mandat"));

    // The journal: every step, and the chain verifies.
    assert_eq!(m.actions("mandat.cree").await, 2);
    assert_eq!(m.actions("mandat.autorisation_revoquee").await, 1);
    assert_eq!(m.actions("mandat.revoque").await, 1);
    let revoked = m
        .app
        .scalar_text("SELECT details FROM journal WHERE action = 'mandat.revoque'")
        .await;
    assert!(revoked.contains("\"demarches\":[\"logement\"]") && revoked.contains("\"par\":\"aidant\""));
    let out = cli(&m.app, &["journal", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mandates_stay_within_their_structure_session_and_usager() {
    let m = serve().await;
    let a = m.structure("Structure A", &["papiers", "social"]).await;
    let b_org = m.structure("Structure B", &["papiers", "social"]).await;
    let mut aidant_a = m.aidant(a, "a@exemple.fr").await;
    let mut aidant_b = m.aidant(b_org, "b@exemple.fr").await;
    m.identify(&mut aidant_a.b, "angela").await;
    let id = conclude(&mut aidant_a.b, &["papiers", "social"], "SEMESTER").await;
    // Something revoked, so that the certificate exists for A.
    let r = aidant_a
        .b
        .post(
            &format!("/aidants-connect/mandats/{id}/revoquer"),
            &[("demarche", "social")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    // An aidant of structure B never reaches A's mandate.
    let b = &mut aidant_b.b;
    for path in [
        format!("/aidants-connect/mandats/{id}"),
        format!("/aidants-connect/mandats/{id}/attestation.pdf"),
        format!("/aidants-connect/mandats/{id}/revocation.pdf"),
        format!("/aidants-connect/mandats/{id}/renouveler"),
        format!(
            "/aidants-connect/mandats/{id}/renouveler/recapitulatif?{}",
            query(&["papiers"], "MONTH")
        ),
        format!("/aidants-connect/mandats/{id}/revoquer"),
        format!("/aidants-connect/mandats/{id}/revoque"),
    ] {
        assert_eq!(b.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let entries = m.app.journal_actions().await.len();
    let r = b
        .post(&format!("/aidants-connect/mandats/{id}/revoquer"), &[("demarche", "")])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = b
        .post(
            &format!("/aidants-connect/mandats/{id}/renouveler"),
            &form(&["papiers"], "MONTH", true),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!b
        .get("/aidants-connect/mandats")
        .await
        .body
        .contains(&format!("Mandat n° {id}")));
    // B's aidant has no usager identified on his session: A's identification does not count.
    let r = b
        .post("/aidants-connect/mandats", &form(&["papiers"], "MONTH", true))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Aucun usager identifié"), "{}", r.body);
    assert_eq!(m.app.journal_actions().await.len(), entries);

    // A's own aidant on another session (another browser) cannot use that identification either.
    let mut other_session = m.sign_in(&aidant_a.email, &aidant_a.secret, 1).await;
    let r = other_session
        .post("/aidants-connect/mandats", &form(&["papiers"], "MONTH", true))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Aucun usager identifié"), "{}", r.body);
    assert!(other_session
        .get("/aidants-connect/mandats/nouveau")
        .await
        .body
        .contains("href=\"/franceconnect/connexion\""));
    let r = other_session
        .get(&format!(
            "/aidants-connect/mandats/recapitulatif?{}",
            query(&["papiers"], "MONTH")
        ))
        .await;
    assert_eq!(r.location(), Some("/aidants-connect/mandats/nouveau"));
    // On the first session, an identification older than 30 minutes no longer counts.
    m.app
        .exec("UPDATE franceconnect_etats SET used_at = used_at - 31 * 60 * 1000000")
        .await
        .unwrap();
    let r = aidant_a
        .b
        .post("/aidants-connect/mandats", &form(&["papiers"], "MONTH", true))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(m.count("SELECT COUNT(*) FROM mandats").await, 1);

    // Anonymous: sent to the login page; the public check alone is open.
    let mut anon = Browser::on(m.router.clone());
    for path in [
        "/aidants-connect/mandats".to_string(),
        "/aidants-connect/mandats/nouveau".to_string(),
        format!("/aidants-connect/mandats/{id}"),
        format!("/aidants-connect/mandats/{id}/attestation.pdf"),
        format!("/aidants-connect/mandats/{id}/revocation.pdf"),
        format!("/aidants-connect/mandats/{id}/revoquer"),
    ] {
        let r = anon.get(&path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.location(), Some("/connexion"), "{path}");
    }
    let r = anon
        .post(&format!("/aidants-connect/mandats/{id}/revoquer"), &[("demarche", "")])
        .await;
    assert!(r.status == StatusCode::SEE_OTHER || r.status == StatusCode::FORBIDDEN);
    let r = anon.get("/mandats/verifier/pas-un-jeton").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("Attestation non reconnue"), "{}", r.body);
    let forged = mandats::model::verification_token(&passerelle_core::Keys::ephemeral(), id);
    assert_eq!(
        anon.get(&format!("/mandats/verifier/{forged}")).await.status,
        StatusCode::NOT_FOUND,
        "a token signed by another key"
    );

    // The opérateur does not see mandates.
    let (op_id, op_secret) = m.app.account("operateur", "operateur", "op@exemple.fr", true).await;
    let _ = op_id;
    let mut op = m.sign_in("op@exemple.fr", &op_secret.unwrap(), 0).await;
    assert_eq!(op.get("/aidants-connect/mandats").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        op.get(&format!("/aidants-connect/mandats/{id}")).await.status,
        StatusCode::FORBIDDEN
    );

    // Revoking and renewing need a fresh TOTP: a stale one is asked again, nothing changes.
    m.app
        .exec(&format!("UPDATE sessions SET totp_verified_at = {}", stale()))
        .await
        .unwrap();
    let revoked_before = m
        .count("SELECT COUNT(*) FROM autorisations WHERE revoquee_at IS NOT NULL")
        .await;
    for (path, fields) in [
        (
            format!("/aidants-connect/mandats/{id}/revoquer"),
            vec![("demarche", "")],
        ),
        (
            format!("/aidants-connect/mandats/{id}/renouveler"),
            form(&["papiers"], "MONTH", true),
        ),
    ] {
        let r = aidant_a.b.post(&path, &fields).await;
        assert!(
            r.location()
                .unwrap_or_default()
                .starts_with("/connexion/totp-recent?suivant="),
            "{path}: {:?}",
            r.location()
        );
    }
    let r = aidant_a.b.get(&format!("/aidants-connect/mandats/{id}/revoquer")).await;
    assert!(r
        .location()
        .unwrap_or_default()
        .starts_with("/connexion/totp-recent?suivant="));
    assert_eq!(
        m.count("SELECT COUNT(*) FROM autorisations WHERE revoquee_at IS NOT NULL")
            .await,
        revoked_before
    );
    assert_eq!(m.count("SELECT COUNT(*) FROM mandats").await, 1);

    // A deactivated aidant of A: forbidden.
    m.app
        .exec(&format!(
            "UPDATE aidants_membres SET actif = FALSE WHERE organisation_id = {a}"
        ))
        .await
        .unwrap();
    assert_eq!(
        aidant_a.b.get(&format!("/aidants-connect/mandats/{id}")).await.status,
        StatusCode::FORBIDDEN
    );

    // The usager revokes from his own space (core API): his mandates only, journaled as himself.
    let usager = m.count(&format!("SELECT usager_id FROM mandats WHERE id = {id}")).await;
    let mine = mandats::of_usager(&m.app.core.db, usager).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].state, mandats::State::PartlyRevoked);
    assert!(matches!(
        mandats::revoke(&m.app.core, Revoker::Usager(usager + 1000), id, None).await,
        Err(passerelle_core::CoreError::NotFound(_))
    ));
    let r = mandats::revoke(&m.app.core, Revoker::Usager(usager), id, None)
        .await
        .unwrap();
    assert_eq!(r.demarches, vec!["papiers".to_string()]);
    let actor: String = m
        .app
        .scalar_text("SELECT actor_role FROM journal WHERE action = 'mandat.revoque'")
        .await;
    assert_eq!(actor, "usager");
    assert_eq!(
        m.app
            .scalar_text(&format!(
                "SELECT revoquee_par FROM autorisations WHERE mandat_id = {id} AND demarche = 'papiers'"
            ))
            .await,
        "usager"
    );
    assert!(mandats::revoke(&m.app.core, Revoker::Usager(usager), id, None)
        .await
        .is_err());
    let out = cli(&m.app, &["journal", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}
