//! Helpers of the OpenID Connect provider's tests: a registered service, an
//! aidant of a structure signed in with a fresh TOTP, mandates inserted with
//! plain SQL (the mandates' pages are another branch), and the aidant's two
//! steps played by reading the pages' links and hidden fields.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine;
use serde_json::Value;

use crate::lieux::run;
use crate::support::{totp_code, Browser, TestApp, PASSWORD};

pub(crate) const BACK: &str = "http://127.0.0.1:9999/retour";
pub(crate) const AFTER_LOGOUT: &str = "http://127.0.0.1:9999/au-revoir";

/// Registers a service authenticated by a secret, named `name`, returning to
/// [`BACK`]: (client_id, secret).
pub(crate) fn client_with_secret(app: &TestApp, name: &str) -> (String, String) {
    let (code, out, err) = run(
        app,
        &[
            "oidc",
            "clients",
            "creer",
            "--nom",
            name,
            "--redirect-uri",
            BACK,
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    (
        v["client_id"].as_str().unwrap().to_string(),
        v["client_secret"].as_str().unwrap().to_string(),
    )
}

/// Registers a service returning to [`BACK`] with these extra arguments of
/// `oidc clients creer`: the command's JSON answer.
pub(crate) fn register_json(app: &TestApp, extra: &[&str]) -> Value {
    let mut args = vec![
        "oidc",
        "clients",
        "creer",
        "--nom",
        "Service de test",
        "--redirect-uri",
        BACK,
        "--post-logout-uri",
        AFTER_LOGOUT,
        "--json",
    ];
    args.extend(extra);
    let (code, out, err) = run(app, &args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// Verifies a JWT signed by the provider (ES256) against the published JWKS,
/// for `audience`: its claims.
pub(crate) async fn verify_es256(app: &TestApp, jwt: &str, audience: &str) -> Value {
    let r = app.browser().get("/oidc/jwks").await;
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&r.body).unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid publié");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&[audience]);
    v.set_issuer(&[crate::support::BASE]);
    jsonwebtoken::decode::<Value>(jwt, &key, &v).unwrap().claims
}

/// Registers a service; `demarches` empty: all. Returns (client_id, secret).
pub(crate) fn register(app: &TestApp, demarches: &str) -> (String, String) {
    let mut args = vec![
        "oidc",
        "clients",
        "creer",
        "--nom",
        "Service de test",
        "--redirect-uri",
        BACK,
        "--post-logout-uri",
        AFTER_LOGOUT,
        "--json",
    ];
    if !demarches.is_empty() {
        args.extend(["--demarches", demarches]);
    }
    let (code, out, err) = run(app, &args);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    (
        v["client_id"].as_str().unwrap().to_string(),
        v["client_secret"].as_str().unwrap().to_string(),
    )
}

/// An aidant, active member of a new structure, signed in with a fresh TOTP.
/// Returns (browser, account id, structure id, TOTP secret).
pub(crate) async fn aidant(app: &TestApp, email: &str) -> (Browser, i64, i64, String) {
    let (id, org, secret) = aidant_account(app, email).await;
    let mut b = app.browser();
    b.login(email, PASSWORD).await;
    let r = b.post("/connexion/totp", &[("code", &totp_code(&secret, 0))]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    (b, id, org, secret)
}

/// An aidant, active member of a new structure, not signed in: (account, structure, TOTP secret).
pub(crate) async fn aidant_account(app: &TestApp, email: &str) -> (i64, i64, String) {
    let (id, secret) = app.account("structure_habilitee", "aidant", email, true).await;
    let secret = secret.unwrap();
    let org = app
        .scalar_i64(&format!("SELECT organisation_id FROM accounts WHERE id = {id}"))
        .await;
    app.exec(&format!(
        "INSERT INTO aidants_membres (account_id, organisation_id, actif, created_at, updated_at) VALUES ({id}, {org}, TRUE, 0, 0)"
    ))
    .await
    .unwrap();
    (id, org, secret)
}

/// An usager with a mandate of `structure` (concluded by `aidant`) for
/// `demarches`, expiring in `days`. Returns (usager, mandat, autorisations).
pub(crate) async fn mandate(
    app: &TestApp,
    structure: i64,
    aidant: i64,
    (given, family): (&str, &str),
    demarches: &[&str],
    days: i64,
) -> (i64, i64, Vec<i64>) {
    let now = passerelle_core::horloge::Horloge::systeme().now_micros();
    app.exec(&format!(
        "INSERT INTO mandats_textes (version, texte, empreinte, created_at) VALUES (1, 'Texte du mandat', 'x', {now}) \
         ON CONFLICT (version) DO NOTHING"
    ))
    .await
    .unwrap();
    let usager = app
        .scalar_i64(&format!(
            "INSERT INTO usagers (sub_hash, given_name, family_name, preferred_username, birthdate, birthplace, birthcountry, \
             gender, email, created_at, updated_at) VALUES ('{given}-{family}-{now}', '{given}', '{family}', NULL, '1962-08-24', \
             '75107', '99100', 'female', '{given}@exemple.fr', {now}, {now}) RETURNING id"
        ))
        .await;
    let expires = now + days * 86_400_000_000;
    let mandat = app
        .scalar_i64(&format!(
            "INSERT INTO mandats (organisation_id, usager_id, aidant_id, duree, texte_version, created_at, expires_at) \
             VALUES ({structure}, {usager}, {aidant}, 'MONTH', 1, {now}, {expires}) RETURNING id"
        ))
        .await;
    let mut ids = Vec::new();
    for d in demarches {
        ids.push(
            app.scalar_i64(&format!(
                "INSERT INTO autorisations (mandat_id, demarche) VALUES ({mandat}, '{d}') RETURNING id"
            ))
            .await,
        );
    }
    (usager, mandat, ids)
}

/// The query of an authentication request.
pub(crate) fn authorize_query(client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.extend_pairs([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", BACK),
        ("scope", "openid profile birth email"),
        ("state", "etat-de-test-123"),
        ("nonce", "nonce-de-test-456"),
        ("acr_values", "eidas1"),
    ]);
    s.extend_pairs(extra);
    s.finish()
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let Some(end) = rest[i..].find(';').map(|e| e + i) else {
            break;
        };
        let entity = &rest[i + 1..end];
        let ch = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => out.push(c),
            None => out.push_str(&rest[i..=end]),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The `href` of the first link starting with `prefix`.
pub(crate) fn link(body: &str, prefix: &str) -> Option<String> {
    let start = body.find(&format!("href=\"{prefix}"))? + 6;
    let end = body[start..].find('"')? + start;
    Some(unescape(&body[start..end]))
}

/// The hidden fields of a page, in order.
pub(crate) fn hidden_fields(body: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for piece in body.split("<input type=\"hidden\" ").skip(1) {
        let attr = |name: &str| {
            let start = piece.find(&format!("{name}=\""))? + name.len() + 2;
            let end = piece[start..].find('"')? + start;
            Some(unescape(&piece[start..end]))
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.push((n, v));
        }
    }
    out
}

/// The values of the démarche radios of step 2.
pub(crate) fn radio_values(body: &str) -> Vec<String> {
    body.split("name=\"autorisation\" value=\"")
        .skip(1)
        .filter_map(|p| p.split('"').next().map(str::to_string))
        .collect()
}

/// Drives the aidant through both steps for `path_and_query` (an
/// authorisation request) and `usager_name`; returns where the POST sends the browser.
pub(crate) async fn consent(b: &mut Browser, path_and_query: &str, usager_name: &str, pick: Option<&str>) -> String {
    let r = b.get(path_and_query).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let search = format!(
        "/oidc/authorize/usagers?{}&q={}",
        path_and_query.split_once('?').unwrap().1,
        usager_name.replace(' ', "+")
    );
    let r = b.get(&search).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let step2 = link(&r.body, "/oidc/authorize/demarche?").expect("l'usager est proposé");
    let r = b.get(&step2).await;
    assert_eq!(r.status, StatusCode::OK, "{step2}: {}", r.body);
    let radios = radio_values(&r.body);
    let choice = pick.map(str::to_string).unwrap_or_else(|| radios[0].clone());
    let mut fields = hidden_fields(&r.body);
    fields.push(("autorisation".into(), choice));
    fields.push(("action".into(), "continuer".into()));
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = b.post_raw("/oidc/authorize/demarche", &f).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.location().unwrap().to_string()
}

/// A request to the token endpoint with this form, authenticated by HTTP Basic
/// when `basic` is given: its status and JSON answer (Null when not JSON).
pub(crate) async fn token_request(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = Request::post("/oidc/token").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        req = req.header(
            header::AUTHORIZATION,
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
            ),
        );
    }
    let r = app.browser().send(req.body(Body::from(body)).unwrap()).await;
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

pub(crate) async fn token_for(app: &TestApp, client: &(String, String), back: &str) -> Value {
    let u = url::Url::parse(back).unwrap();
    let code = u.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", BACK),
            ("client_id", &client.0),
            ("client_secret", &client.1),
        ])
        .finish();
    let req = Request::post("/oidc/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let r = app.browser().send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

pub(crate) async fn userinfo(app: &TestApp, token: &str) -> (StatusCode, String, Value) {
    let req = Request::get("/oidc/userinfo")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let r = app.browser().send(req).await;
    let www = r
        .headers
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (r.status, www, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

/// A client library's script, driven by JSON lines on its stdin and stdout.
pub(crate) struct Script {
    pub(crate) child: Child,
    stdin: ChildStdin,
    stdout: Option<BufReader<ChildStdout>>,
}

impl Script {
    /// Starts `command` with piped stdin, stdout and stderr.
    pub(crate) fn spawn(mut command: Command) -> Script {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lancement du script du client");
        Script {
            stdin: child.stdin.take().unwrap(),
            stdout: child.stdout.take().map(BufReader::new),
            child,
        }
    }

    /// The next JSON line the script prints (read off the async runtime).
    pub(crate) async fn next(&mut self) -> Value {
        let mut reader = self.stdout.take().expect("sortie du script");
        let (reader, line) = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            reader.read_line(&mut line).expect("lecture de la sortie du script");
            (reader, line)
        })
        .await
        .unwrap();
        self.stdout = Some(reader);
        assert!(!line.is_empty(), "le script s'est arrêté : {}", self.stderr());
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("ligne du script : {line}"))
    }

    pub(crate) fn answer(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    pub(crate) fn stderr(&mut self) -> String {
        let _ = self.child.kill();
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
        }
        s
    }
}

/// The application served on a loopback socket (for client libraries that
/// speak real HTTP): its base URL, and a router for the aidant's browser.
pub(crate) async fn serve_loopback(app: &TestApp) -> (String, axum::Router) {
    let (listener, base) = crate::support::serveur::loopback().await;
    let web = passerelle_web::WebConfig {
        base_url: url::Url::parse(&base).unwrap(),
        assets_dir: None,
        fonts_dir: None,
        trust_proxy: false,
        search_max_age: std::time::Duration::ZERO,
        dashboard_max_age: std::time::Duration::ZERO,
    };
    let served = passerelle_web::router(passerelle_web::AppState::new(app.core.clone(), web));
    let browser = served.clone();
    crate::support::serveur::spawn(listener, served);
    (base, browser)
}
