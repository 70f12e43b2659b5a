//! Support of the mandate tests: the application served on a loopback port
//! with the FranceConnect simulator, structures and signed-in aidants, the
//! identification of an usager, conclusion, and reading PDFs with poppler
//! (pdftotext, pdftoppm) and zbar (zbarimg). These external tools are required;
//! `PASSERELLE_TEST_SANS_QR=1` explicitly opts out of them.

use axum::http::StatusCode;
use axum::Router;
use passerelle_core::accounts::Principal;
use passerelle_core::accounts::{self, NewAccount};
use passerelle_core::aidants_connect::franceconnect::FranceConnect;
use passerelle_web::{router, AppState};

use crate::support::{serveur, totp_code, Browser, Response, TestApp, PASSWORD};

pub(crate) struct M {
    pub app: TestApp,
    pub base: String,
    pub router: Router,
    /// The simulator's client id (its `sub` of an identity depends on it).
    pub fc_client_id: String,
}

/// The application with the simulator on, served on a loopback port.
pub(crate) async fn serve() -> M {
    let app = TestApp::new().await;
    let (listener, base) = serveur::loopback().await;
    let config = serveur::franceconnect_simulator(&app, &base);
    let web = serveur::web_config_at(&base);
    let fc_client_id = config.client_id.clone();
    let state = AppState::new(app.core.clone(), web)
        .with_franceconnect(Some(FranceConnect::new(config).unwrap()))
        .with_service_demo(true);
    let router = router(state);
    serveur::spawn(listener, router.clone());
    M {
        app,
        base,
        router,
        fc_client_id,
    }
}

/// An aidant (or référent) signed in, with his TOTP secret.
pub(crate) struct Aidant {
    pub b: Browser,
    pub secret: String,
    pub email: String,
}

impl M {
    /// A habilitated structure with these allowed démarches.
    pub(crate) async fn structure(&self, name: &str, demarches: &[&str]) -> i64 {
        let org = accounts::create_organisation(&self.app.core, &Principal::SYSTEME, "structure_habilitee", name, None)
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
    pub(crate) async fn aidant(&self, structure: i64, email: &str) -> Aidant {
        self.member(structure, email, "aidant").await
    }

    /// An account of `role` (aidant: with an active membership) in `structure`, signed in.
    pub(crate) async fn member(&self, structure: i64, email: &str, role: &str) -> Aidant {
        let created = accounts::create_account(
            &self.app.core,
            &Principal::SYSTEME,
            NewAccount {
                organisation_id: structure,
                email,
                display_name: &format!("Aidant {email}"),
                role: Some(role),
                password: Some(PASSWORD),
                with_totp: true,
            },
        )
        .await
        .unwrap();
        if role == "aidant" {
            self.app
                .exec(&format!(
                    "INSERT INTO aidants_membres (account_id, organisation_id, actif, created_at, updated_at) \
                     VALUES ({}, {structure}, TRUE, 0, 0)",
                    created.account.id
                ))
                .await
                .unwrap();
        }
        let secret = created.totp_secret.unwrap();
        let b = self.sign_in(email, &secret, 0).await;
        Aidant {
            b,
            secret,
            email: email.to_string(),
        }
    }

    pub(crate) async fn sign_in(&self, email: &str, secret: &str, step: i64) -> Browser {
        let mut b = Browser::on(self.router.clone());
        b.login(email, PASSWORD).await;
        let r = b.post("/connexion/totp", &[("code", &totp_code(secret, step))]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        b
    }

    pub(crate) fn local<'a>(&self, absolute: &'a str) -> &'a str {
        absolute.strip_prefix(self.base.as_str()).unwrap_or(absolute)
    }

    /// From `start` (a page that sends the browser to FranceConnect), the
    /// simulator's page, then its form posted as the usager `identite`: the
    /// simulator's answer (a redirection to the callback when all went well).
    pub(crate) async fn through_simulator(&self, b: &mut Browser, start: &str, identite: &str) -> Response {
        let r = b.get(start).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let authorize = self.local(r.location().unwrap()).to_string();
        let url = url::Url::parse(&format!("{}{authorize}", self.base)).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(b.get(&authorize).await.status, StatusCode::OK);
        b.post(
            "/fc-simulateur/authorize",
            &[
                ("client_id", q["client_id"].as_str()),
                ("redirect_uri", q["redirect_uri"].as_str()),
                ("state", q["state"].as_str()),
                ("nonce", q["nonce"].as_str()),
                ("acr", "eidas1"),
                ("identite", identite),
            ],
        )
        .await
    }

    /// The usager `identite` identifies with the simulator in browser `b`;
    /// returns the page FranceConnect brings the aidant back to.
    pub(crate) async fn identify(&self, b: &mut Browser, identite: &str) -> String {
        let r = self.through_simulator(b, "/franceconnect/connexion", identite).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let callback = self.local(r.location().unwrap()).to_string();
        let r = b.get(&callback).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }

    pub(crate) async fn count(&self, sql: &str) -> i64 {
        self.app.scalar_i64(sql).await
    }

    pub(crate) async fn actions(&self, action: &str) -> usize {
        self.app.journal_actions().await.iter().filter(|a| *a == action).count()
    }
}

pub(crate) fn form<'a>(demarches: &[&'a str], duree: &'a str, declaration: bool) -> Vec<(&'a str, &'a str)> {
    let mut f: Vec<(&str, &str)> = demarches.iter().map(|d| ("demarches", *d)).collect();
    f.push(("duree", duree));
    if declaration {
        f.push(("declaration", "oui"));
    }
    f
}

pub(crate) fn query(demarches: &[&str], duree: &str) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for d in demarches {
        s.append_pair("demarches", d);
    }
    s.append_pair("duree", duree);
    s.finish()
}

/// The mandate a redirect after conclusion or renewal points to.
pub(crate) fn mandate_of(location: Option<&str>) -> i64 {
    let l = location.expect("redirection");
    let rest = l.strip_prefix("/aidants-connect/mandats/").expect(l);
    rest.split('?').next().unwrap().parse().expect(l)
}

/// Concludes through the recap page; returns the new mandate's id.
pub(crate) async fn conclude(b: &mut Browser, demarches: &[&str], duree: &str) -> i64 {
    let r = b
        .get(&format!(
            "/aidants-connect/mandats/recapitulatif?{}",
            query(demarches, duree)
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let usager = recap_usager(&r.body);
    let structure = recap_structure(&r.body);
    let mut fields = form(demarches, duree, true);
    fields.push(("usager", &usager));
    fields.push(("structure", &structure));
    let r = b.post("/aidants-connect/mandats", &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    mandate_of(r.location())
}

/// The usager the recap page shows (its hidden field): a new mandate is for him only.
pub(crate) fn recap_usager(body: &str) -> String {
    let start = body
        .find("name=\"usager\" value=\"")
        .expect("le récapitulatif nomme l'usager")
        + 21;
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].to_string()
}

/// The structure the recap page shows (its hidden field): a new mandate is for it only.
pub(crate) fn recap_structure(body: &str) -> String {
    let start = body
        .find("name=\"structure\" value=\"")
        .expect("le récapitulatif nomme la structure")
        + 24;
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].to_string()
}

pub(crate) fn opted_out() -> bool {
    if std::env::var("PASSERELLE_TEST_SANS_QR").is_ok_and(|v| v == "1") {
        eprintln!("PASSERELLE_TEST_SANS_QR=1 : PDF de l'attestation non lu par poppler ni zbar");
        return true;
    }
    false
}

/// The text of a PDF (pages separated by form feeds), by pdftotext (poppler-utils).
pub(crate) fn text_of_pdf(pdf: &[u8]) -> Option<String> {
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
pub(crate) fn qr_of_pdf(pdf: &[u8]) -> Option<String> {
    let lines = qr_codes_of_page(pdf, 1)?;
    assert_eq!(lines.len(), 1, "un seul QR code par page : {lines:?}");
    Some(lines[0].clone())
}

/// The contents of the QR codes of page `page` (from 1) of a PDF: pdftoppm renders
/// it, zbarimg decodes them; at least one. `None` only when `PASSERELLE_TEST_SANS_QR=1`.
pub(crate) fn qr_codes_of_page(pdf: &[u8], page: usize) -> Option<Vec<String>> {
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
    let page = page.to_string();
    let out = std::process::Command::new(&pdftoppm)
        .args(["-png", "-r", "150", "-f", &page, "-l", &page, "-singlefile"])
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
    Some(text.lines().filter(|l| !l.is_empty()).map(str::to_string).collect())
}

impl M {
    /// A PDF downloaded with `b`'s cookies (raw bytes).
    pub(crate) async fn pdf(&self, b: &Browser, path: &str) -> Vec<u8> {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let cookies = b.cookie_header();
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

pub(crate) fn stale() -> i64 {
    passerelle_core::horloge::Horloge::systeme().now_micros() - 16 * 60 * 1_000_000
}
