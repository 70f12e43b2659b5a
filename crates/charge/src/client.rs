//! The requests a place's software, a visitor and a person signing in send,
//! over HTTP/1.1 with reqwest (kept connections, no redirect followed).

use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Client, StatusCode};

use crate::cible::Cible;

/// The client: no redirect followed (a login answers 303 with its cookie),
/// every request bounded by `timeout`.
pub fn new(timeout: Duration, connections: usize) -> Result<Client> {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(connections)
        .build()
        .context("création du client HTTP")
}

/// A simulated client's address in `X-Forwarded-For`, in the documentation
/// range 2001:db8::/32, one /64 per client (the service counts IPv6 by /64).
/// The service only reads it behind a trusted proxy (`PASSERELLE_TRUST_PROXY=true`).
pub fn client_address(n: u32) -> String {
    format!("2001:db8:{:x}:{:x}::1", (n >> 16) & 0xffff, n & 0xffff)
}

/// The answer: status and body (read in full, so that latency covers it).
pub struct Reponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

async fn finish(r: reqwest::Response) -> Result<Reponse> {
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.text().await.context("lecture de la réponse")?;
    Ok(Reponse { status, headers, body })
}

fn xff(n: u32) -> HeaderValue {
    HeaderValue::from_str(&client_address(n)).unwrap_or(HeaderValue::from_static("2001:db8::1"))
}

/// `GET path` as a visitor.
pub async fn get(client: &Client, cible: &Cible, path: &str, addr: u32) -> Result<Reponse> {
    let r = client
        .get(cible.url(path))
        .header("x-forwarded-for", xff(addr))
        .send()
        .await?;
    finish(r).await
}

/// `GET path` with a session cookie.
pub async fn get_with_cookie(client: &Client, cible: &Cible, path: &str, cookie: &str, addr: u32) -> Result<Reponse> {
    let r = client
        .get(cible.url(path))
        .header("x-forwarded-for", xff(addr))
        .header(COOKIE, cookie)
        .send()
        .await?;
    finish(r).await
}

/// `POST` of a JSON body with a place's API key.
pub async fn post_api(
    client: &Client,
    cible: &Cible,
    path: &str,
    key: &str,
    body: &serde_json::Value,
    idempotency: Option<&str>,
    addr: u32,
) -> Result<Reponse> {
    let mut req = client
        .post(cible.url(path))
        .header("x-forwarded-for", xff(addr))
        .header(CONTENT_TYPE, "application/json")
        .bearer_auth(key)
        .body(serde_json::to_vec(body)?);
    if let Some(k) = idempotency {
        req = req.header("idempotency-key", k);
    }
    finish(req.send().await?).await
}

/// Value of cookie `name` set by a response.
pub fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().to_string())
}

/// What a login attempt ended with.
pub struct Connexion {
    /// The POST's answer (303 to « Mon compte » when it succeeded).
    pub reponse: Reponse,
    /// `passerelle_session=…` to send back, when a session was opened.
    pub session: Option<String>,
}

/// Signs in like a browser: GET the login page (CSRF cookie), then POST the
/// form with the token and the cookie, from the same origin.
pub async fn connexion(
    client: &Client,
    cible: &Cible,
    email: &str,
    mot_de_passe: &str,
    addr: u32,
) -> Result<Connexion> {
    let page = get(client, cible, "/connexion", addr).await?;
    let csrf = set_cookie(&page.headers, "passerelle_csrf")
        .context("la page de connexion n'a pas posé de cookie anti-falsification")?;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf_token", &csrf)
        .append_pair("email", email)
        .append_pair("mot_de_passe", mot_de_passe)
        .finish();
    let r = client
        .post(cible.url("/connexion"))
        .header("x-forwarded-for", xff(addr))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(COOKIE, format!("passerelle_csrf={csrf}"))
        // What a browser sends with a form of the same origin (the service checks it).
        .header("sec-fetch-site", "same-origin")
        .body(form)
        .send()
        .await?;
    let reponse = finish(r).await?;
    let session = set_cookie(&reponse.headers, "passerelle_session").map(|v| format!("passerelle_session={v}"));
    Ok(Connexion { reponse, session })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_documentation_ipv6_one_per_64() {
        assert_eq!(client_address(0), "2001:db8:0:0::1");
        assert_eq!(client_address(0x1_0002), "2001:db8:1:2::1");
        let a: std::net::Ipv6Addr = client_address(77).parse().unwrap();
        assert_eq!(a.segments()[0..2], [0x2001, 0xdb8]);
    }

    #[test]
    fn set_cookie_reads_the_named_cookie() {
        let mut h = HeaderMap::new();
        h.append(SET_COOKIE, HeaderValue::from_static("a=1; Path=/"));
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("passerelle_csrf=xyz; HttpOnly; SameSite=Lax"),
        );
        assert_eq!(set_cookie(&h, "passerelle_csrf").as_deref(), Some("xyz"));
        assert_eq!(set_cookie(&h, "absent"), None);
    }
}
