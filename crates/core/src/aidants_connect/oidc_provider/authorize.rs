//! `GET /oidc/authorize`: the reading of an authentication request, as
//! OpenID Connect Core asks: parameters it does not know are ignored, except
//! those that would change the security of the exchange, which are refused
//! with the error Core names. Until the client and its redirect URI are known
//! to be registered, errors are shown as a page; after that, they go back to
//! the client as the protocol says (`error`, `error_description`, `state`).

use std::collections::BTreeMap;

use super::clients::{self, Client, Profil};
use crate::error::Result;
use crate::Db;

/// Parameters that would change how the exchange is secured, and the error
/// Core names for each when the provider does not support them.
const REFUSED: [(&str, &str, &str); 3] = [
    (
        "request",
        "request_not_supported",
        "les objets de requête (request) ne sont pas pris en charge",
    ),
    (
        "request_uri",
        "request_uri_not_supported",
        "request_uri n'est pas pris en charge",
    ),
    (
        "registration",
        "registration_not_supported",
        "l'enregistrement dynamique (registration) n'est pas pris en charge",
    ),
];

/// The assurance level the provider asserts.
pub const ACR: &str = "eidas1";

/// Longest `state`, `nonce` or `login_hint` accepted.
const MAX_VALUE: usize = 512;

/// A valid request, kept until the aidant has chosen the usager and démarche.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Request {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    /// Optional for a standard service that sends PKCE (which then protects
    /// the exchange, RFC 9700 §2.1); required otherwise and for FranceConnect.
    pub state: Option<String>,
    /// Optional for a standard service, required for the FranceConnect profile.
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// The démarches this request accepts (`claims` parameter, claim
    /// `rep_scope` with `value` or `values`); `None`: no restriction.
    pub rep_scope: Option<Vec<String>>,
    /// How old the aidant's last authentication may be, in seconds:
    /// `max_age`, or 0 for `prompt=login` (the smaller of both).
    pub max_age: Option<i64>,
    /// The e-mail the service suggests for the aidant's sign-in.
    pub login_hint: Option<String>,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The client or its redirect URI cannot be trusted: a page, no redirect.
    Page(String),
    /// Sent back to the client: `redirect_uri?error=…&error_description=…&state=…`.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

impl Refusal {
    /// The URL the browser is sent to, for `Redirect`.
    pub fn location(&self) -> Option<String> {
        match self {
            Refusal::Page(_) => None,
            Refusal::Redirect {
                redirect_uri,
                error,
                description,
                state,
            } => {
                let mut u = url::Url::parse(redirect_uri).ok()?;
                {
                    let mut q = u.query_pairs_mut();
                    q.append_pair("error", error)
                        .append_pair("error_description", description);
                    if let Some(s) = state {
                        q.append_pair("state", s);
                    }
                }
                Some(u.to_string())
            }
        }
    }
}

/// Reads the query's pairs (in order, repeated ones included).
pub async fn parse(db: &Db, pairs: &[(String, String)]) -> Result<Result<(Request, Client), Refusal>> {
    let mut map: BTreeMap<&str, &str> = BTreeMap::new();
    let mut repeated = None;
    for (k, v) in pairs {
        if map.insert(k.as_str(), v.as_str()).is_some() {
            repeated = Some(k.clone());
        }
    }
    // Core 3.1.2.1: a parameter sent without a value is treated as omitted.
    map.retain(|_, v| !v.is_empty());
    let page = |m: String| Ok(Err(Refusal::Page(m)));
    // 1. Who asks, and where to answer: until both are trusted, a page.
    let Some(client_id) = map.get("client_id") else {
        return page("Paramètre client_id absent : le service en ligne n'est pas identifié.".into());
    };
    if repeated.as_deref() == Some("client_id") || repeated.as_deref() == Some("redirect_uri") {
        return page("Paramètre répété : la demande est refusée.".into());
    }
    let Some(client) = clients::find(db, client_id).await? else {
        return page("Ce service en ligne n'est pas enregistré auprès d'Aidants Connect.".into());
    };
    let Some(redirect_uri) = map.get("redirect_uri") else {
        return page("Paramètre redirect_uri absent.".into());
    };
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        return page("L'adresse de retour n'est pas celle que ce service a enregistrée.".into());
    }
    // 2. From here on, errors go back to the client.
    let state = map.get("state").map(|s| s.to_string());
    let back = |error: &'static str, description: String| {
        Ok(Err(Refusal::Redirect {
            redirect_uri: redirect_uri.to_string(),
            error,
            description,
            state: state.clone(),
        }))
    };
    // Core 3.1.2.1: parameters MUST NOT be included more than once.
    if let Some(k) = repeated {
        return back("invalid_request", format!("paramètre répété : {k}"));
    }
    if let Some((_, error, why)) = REFUSED.iter().find(|(k, _, _)| map.contains_key(k)) {
        return back(error, why.to_string());
    }
    if map.get("response_type") != Some(&"code") {
        return back(
            "unsupported_response_type",
            "seul response_type=code est accepté".into(),
        );
    }
    // The code travels in the query; fragment or form_post would change where.
    if map.get("response_mode").is_some_and(|m| *m != "query") {
        return back("invalid_request", "seul response_mode=query est accepté".into());
    }
    let scope = map.get("scope").copied().unwrap_or("");
    if !scope.split(' ').any(|s| s == "openid") {
        return back("invalid_scope", "le scope doit contenir openid".into());
    }
    if state.as_ref().is_some_and(|s| s.len() > MAX_VALUE) {
        return back("invalid_request", "state : 512 caractères au plus".into());
    }
    let nonce = map.get("nonce").map(|n| n.to_string());
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_VALUE) {
        return back("invalid_request", "nonce : 512 caractères au plus".into());
    }
    if nonce.is_none() && client.profil == Profil::FranceConnect {
        return back("invalid_request", "nonce est obligatoire pour FranceConnect".into());
    }
    if let Some(acr) = map.get("acr_values") {
        if !acr.split(' ').any(|a| a == ACR) {
            return back("invalid_request", format!("acr_values doit contenir {ACR}"));
        }
    }
    let prompts: Vec<&str> = map.get("prompt").map(|p| p.split(' ').collect()).unwrap_or_default();
    if prompts.contains(&"none") {
        return back("login_required", "l'aidant doit choisir l'usager et la démarche".into());
    }
    let max_age = match map.get("max_age").map(|m| m.parse::<i64>()) {
        None => None,
        Some(Ok(m)) if m >= 0 => Some(m),
        Some(_) => {
            return back(
                "invalid_request",
                "max_age : un nombre entier de secondes, positif ou nul".into(),
            )
        }
    };
    let max_age = match (max_age, prompts.contains(&"login")) {
        (m, false) => m,
        (_, true) => Some(0),
    };
    let code_challenge = match (map.get("code_challenge"), map.get("code_challenge_method")) {
        (None, None) => None,
        (Some(c), Some(&"S256")) if (43..=128).contains(&c.len()) => Some(c.to_string()),
        (Some(_), Some(&"S256")) => {
            return back("invalid_request", "code_challenge : 43 à 128 caractères".into());
        }
        _ => return back("invalid_request", "PKCE : seule la méthode S256 est acceptée".into()),
    };
    if state.is_none() && (code_challenge.is_none() || client.profil == Profil::FranceConnect) {
        return back(
            "invalid_request",
            "state est obligatoire (sauf avec PKCE ; toujours pour FranceConnect)".into(),
        );
    }
    let rep_scope = match map.get("claims").map(|c| rep_scope(c)) {
        None => None,
        Some(Ok(r)) => r,
        Some(Err(why)) => return back("invalid_request", why),
    };
    // A hint only: too long or empty, it is simply not used.
    let login_hint = map
        .get("login_hint")
        .map(|h| h.trim())
        .filter(|h| !h.is_empty() && h.len() <= MAX_VALUE)
        .map(str::to_string);
    Ok(Ok((
        Request {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.to_string(),
            scope: scope.to_string(),
            state,
            nonce,
            code_challenge,
            rep_scope,
            max_age,
            login_hint,
        },
        client,
    )))
}

/// The `rep_scope` restriction of a `claims` parameter (OpenID Connect Core
/// 5.5): `{"userinfo"|"id_token": {"rep_scope": {"value": "social"}}}` or
/// `{"values": [...]}`. Other requested claims are ignored (the scopes decide).
fn rep_scope(claims: &str) -> Result<Option<Vec<String>>, String> {
    let v: serde_json::Value = serde_json::from_str(claims).map_err(|_| "claims : objet JSON invalide".to_string())?;
    if !v.is_object() || claims.len() > 4096 {
        return Err("claims : objet JSON attendu".into());
    }
    let mut out: Option<Vec<String>> = None;
    for part in ["userinfo", "id_token"] {
        let Some(req) = v.get(part).and_then(|p| p.get("rep_scope")) else {
            continue;
        };
        let mut keys: Vec<String> = Vec::new();
        if let Some(one) = req.get("value") {
            keys.push(one.as_str().ok_or("rep_scope : value doit être un texte")?.to_string());
        }
        if let Some(many) = req.get("values") {
            let list = many.as_array().ok_or("rep_scope : values doit être une liste")?;
            for k in list {
                keys.push(
                    k.as_str()
                        .ok_or("rep_scope : values doit être une liste de textes")?
                        .to_string(),
                );
            }
        }
        if keys.is_empty() {
            continue;
        }
        if let Some(k) = keys.iter().find(|k| super::demarche_label(k).is_none()) {
            return Err(format!("rep_scope : démarche inconnue « {k} »"));
        }
        out = Some(match out {
            // Both parts restrict: the démarches both accept.
            Some(prev) => prev.into_iter().filter(|k| keys.contains(k)).collect(),
            None => keys,
        });
    }
    Ok(out)
}

impl Request {
    /// Whether this request and `client` accept `demarche`.
    pub fn accepts(&self, client: &Client, demarche: &str) -> bool {
        (client.demarches.is_empty() || client.demarches.iter().any(|d| d == demarche))
            && self.rep_scope.as_ref().is_none_or(|r| r.iter().any(|d| d == demarche))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demarches(r: Result<Option<Vec<String>>, String>) -> Option<Vec<String>> {
        r.unwrap()
    }

    fn owned(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn rep_scope_reads_one_value_a_list_and_both_parts() {
        let one = r#"{"userinfo": {"rep_scope": {"value": "social"}}}"#;
        assert_eq!(demarches(rep_scope(one)), owned(&["social"]));
        let many = r#"{"id_token": {"rep_scope": {"values": ["logement", "papiers"]}}}"#;
        assert_eq!(demarches(rep_scope(many)), owned(&["logement", "papiers"]));
        let both = r#"{"userinfo": {"rep_scope": {"value": "social", "values": ["papiers"]}}}"#;
        assert_eq!(demarches(rep_scope(both)), owned(&["social", "papiers"]));
        // Both parts restrict: only what both accept.
        let two = r#"{"userinfo": {"rep_scope": {"values": ["social", "papiers"]}},
                      "id_token": {"rep_scope": {"values": ["papiers", "logement"]}}}"#;
        assert_eq!(demarches(rep_scope(two)), owned(&["papiers"]));
        // No restriction asked: none, whatever else the claims ask.
        for none in [
            r#"{}"#,
            r#"{"userinfo": {"email": null}}"#,
            r#"{"userinfo": {"rep_scope": {"values": []}}}"#,
            r#"{"userinfo": {"rep_scope": {"essential": true}}}"#,
        ] {
            assert_eq!(demarches(rep_scope(none)), None, "{none}");
        }
    }

    #[test]
    fn each_bad_claims_parameter_says_why() {
        let cases = [
            ("pas du json", "claims : objet JSON invalide"),
            ("[1, 2]", "claims : objet JSON attendu"),
            (
                r#"{"userinfo": {"rep_scope": {"value": 3}}}"#,
                "rep_scope : value doit être un texte",
            ),
            (
                r#"{"userinfo": {"rep_scope": {"values": "social"}}}"#,
                "rep_scope : values doit être une liste",
            ),
            (
                r#"{"userinfo": {"rep_scope": {"values": [1]}}}"#,
                "rep_scope : values doit être une liste de textes",
            ),
            (
                r#"{"id_token": {"rep_scope": {"value": "impots"}}}"#,
                "rep_scope : démarche inconnue « impots »",
            ),
        ];
        for (claims, why) in cases {
            assert_eq!(rep_scope(claims), Err(why.to_string()), "{claims}");
        }
        // 4,096 characters at most.
        let fits = format!(r#"{{"x": "{}"}}"#, "a".repeat(4096 - 9));
        assert_eq!(fits.len(), 4096);
        assert_eq!(rep_scope(&fits), Ok(None));
        let over = format!(r#"{{"x": "{}"}}"#, "a".repeat(4096 - 8));
        assert_eq!(rep_scope(&over), Err("claims : objet JSON attendu".to_string()));
    }

    #[test]
    fn a_refusal_goes_back_to_the_service_with_its_state() {
        let back = |state: Option<&str>| Refusal::Redirect {
            redirect_uri: "https://service.exemple.fr/retour?etape=2".into(),
            error: "invalid_request",
            description: "state est obligatoire (512 caractères au plus)".into(),
            state: state.map(str::to_string),
        };
        assert_eq!(
            back(Some("a b&c")).location().as_deref(),
            Some(
                "https://service.exemple.fr/retour?etape=2&error=invalid_request&error_description=\
                 state+est+obligatoire+%28512+caract%C3%A8res+au+plus%29&state=a+b%26c"
            )
        );
        assert_eq!(
            back(None).location().as_deref(),
            Some(
                "https://service.exemple.fr/retour?etape=2&error=invalid_request&error_description=\
                 state+est+obligatoire+%28512+caract%C3%A8res+au+plus%29"
            )
        );
        assert_eq!(Refusal::Page("non".into()).location(), None);
    }
}
