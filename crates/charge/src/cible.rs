//! The instances under load: loopback only. A load generator pointed at a
//! real address by mistake would be an attack; it refuses any other host.

use std::net::IpAddr;

use anyhow::{bail, Result};
use url::{Host, Url};

/// An instance's base URL (`http://127.0.0.1:8081/`), checked to be on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cible(Url);

impl Cible {
    pub fn parse(text: &str) -> Result<Cible> {
        let Ok(mut url) = Url::parse(text.trim()) else {
            bail!("adresse d'instance invalide « {text} » : attendu par exemple http://127.0.0.1:8081");
        };
        if url.scheme() != "http" && url.scheme() != "https" {
            bail!("adresse d'instance « {text} » : seuls http et https sont acceptés");
        }
        let local = match url.host() {
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        };
        if !local {
            bail!(
                "cible refusée « {text} » : le générateur de charge ne vise que cette machine \
                 (127.0.0.1, ::1 ou localhost)"
            );
        }
        if !url.username().is_empty() || url.password().is_some() {
            bail!("adresse d'instance « {text} » : pas d'identifiants dans l'adresse");
        }
        url.set_query(None);
        url.set_fragment(None);
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(Cible(url))
    }

    /// The absolute URL of `path` (without its leading slash) on this instance.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.0, path.trim_start_matches('/'))
    }
}

impl std::fmt::Display for Cible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_are_accepted() {
        for ok in [
            "http://127.0.0.1:8081",
            "http://127.0.0.2:9000/",
            "http://localhost:8080",
            "http://LOCALHOST:8080",
            "http://[::1]:8080",
            "https://127.0.0.1/base",
        ] {
            assert!(Cible::parse(ok).is_ok(), "{ok}");
        }
        let c = Cible::parse("http://127.0.0.1:8081").unwrap();
        assert_eq!(c.url("/api/v1/lieux"), "http://127.0.0.1:8081/api/v1/lieux");
        assert_eq!(c.to_string(), "http://127.0.0.1:8081");
        let c = Cible::parse("https://127.0.0.1/base").unwrap();
        assert_eq!(c.url("healthz"), "https://127.0.0.1/base/healthz");
    }

    #[test]
    fn any_other_host_is_refused_in_french() {
        for bad in [
            "http://10.0.0.1:8080",
            "http://192.168.1.10",
            "http://example.org",
            "http://localhost.example.org",
            "http://[2001:db8::1]:80",
            "http://0.0.0.0:8080",
            "ftp://127.0.0.1",
            "http://user:pw@127.0.0.1",
            "pas une adresse",
        ] {
            let e = Cible::parse(bad).unwrap_err().to_string();
            assert!(
                e.contains("refusée") || e.contains("invalide") || e.contains("seuls") || e.contains("identifiants"),
                "{bad}: {e}"
            );
        }
        assert!(Cible::parse("http://example.org")
            .unwrap_err()
            .to_string()
            .contains("ne vise que cette machine"));
    }
}
