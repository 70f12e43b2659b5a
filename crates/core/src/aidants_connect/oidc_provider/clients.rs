//! Online services registered with the provider. A service authenticates
//! either with a secret (256 random bits, shown once; only its SHA-256 is
//! kept, compared in constant time) or, when registered with a public key,
//! with a JWT signed by its private key (`private_key_jwt`, see `assertion`).
//!
//! Each service has a profile: `standard` (an online service: pairwise `sub`,
//! `nonce` optional) or `franceconnect` (FranceConnect itself, Aidants Connect
//! being one of its identity providers: the usager's stable `sub`, `nonce`
//! required, `rep_scope` as a list), and its signatures: the ID token in
//! ES256 (our keys) or HS256 (its secret, FranceConnect v1), userinfo as
//! plain JSON or as a JWT (`application/jwt`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{CoreError, Result};
use crate::journal::{self, actions, Actor, NewEntry};
use crate::{on_db, on_tx, Core, Db};

/// A registered service.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Client {
    pub client_id: String,
    pub nom: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    /// Démarches the service accepts (`rep_scope`); empty: all.
    pub demarches: Vec<String>,
    /// `client_secret_basic` (or `_post`) or `private_key_jwt`.
    pub token_endpoint_auth_method: String,
    pub profil: Profil,
    /// `id_token_signed_response_alg`.
    pub id_token_alg: Alg,
    /// `userinfo_signed_response_alg`; `None`: plain JSON.
    pub userinfo_alg: Option<Alg>,
    /// Back-channel logout 1.0: where the logout token is posted.
    pub backchannel_logout_uri: Option<String>,
}

/// Who the client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profil {
    /// An online service.
    Standard,
    /// FranceConnect, for which Aidants Connect is an identity provider.
    FranceConnect,
}

crate::texte_en_base!(
    Profil,
    Profil::from_key,
    Profil::key,
    "profil de service OpenID Connect"
);

impl Profil {
    pub fn key(self) -> &'static str {
        match self {
            Profil::Standard => "standard",
            Profil::FranceConnect => "franceconnect",
        }
    }

    pub fn from_key(key: &str) -> Option<Profil> {
        [Profil::Standard, Profil::FranceConnect]
            .into_iter()
            .find(|p| p.key() == key)
    }
}

/// A JWS algorithm the provider signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Alg {
    /// ECDSA P-256, our keys (published in the JWKS).
    ES256,
    /// HMAC SHA-256 keyed with the client's secret (FranceConnect v1).
    HS256,
}

crate::texte_en_base!(Alg, Alg::from_key, Alg::key, "algorithme de signature");

impl Alg {
    pub fn key(self) -> &'static str {
        match self {
            Alg::ES256 => "ES256",
            Alg::HS256 => "HS256",
        }
    }

    pub fn from_key(key: &str) -> Option<Alg> {
        [Alg::ES256, Alg::HS256].into_iter().find(|a| a.key() == key)
    }
}

/// What `passerelle oidc clients creer` registers.
#[derive(Debug, Clone)]
pub struct Registration {
    pub nom: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    pub demarches: Vec<String>,
    /// A PEM or JWKS: the service authenticates with `private_key_jwt`.
    pub public_key: Option<String>,
    pub profil: Profil,
    /// `None`: ES256.
    pub id_token_alg: Option<Alg>,
    /// `None`: the profile's default (JSON for `standard`, ES256 for `franceconnect`).
    pub userinfo_alg: Option<Option<Alg>>,
    pub backchannel_logout_uri: Option<String>,
}

impl Registration {
    /// A service with a secret, the standard profile, ES256 and JSON userinfo.
    pub fn new(nom: &str, redirect_uris: &[String]) -> Registration {
        Registration {
            nom: nom.to_string(),
            redirect_uris: redirect_uris.to_vec(),
            post_logout_uris: Vec::new(),
            demarches: Vec::new(),
            public_key: None,
            profil: Profil::Standard,
            id_token_alg: None,
            userinfo_alg: None,
            backchannel_logout_uri: None,
        }
    }
}

/// The methods of `token_endpoint_auth_method`.
pub const BY_SECRET: &str = "client_secret_basic";
pub const BY_KEY: &str = "private_key_jwt";

fn random(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A redirect URI as registered: absolute, https (http only on the local
/// machine, for tests and demos), no fragment.
pub fn check_uri(raw: &str) -> Result<String> {
    let u = url::Url::parse(raw.trim())
        .map_err(|_| CoreError::invalid(format!("adresse de retour invalide « {} »", raw.trim())))?;
    let local = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if u.scheme() != "https" && !(u.scheme() == "http" && local) {
        return Err(CoreError::invalid(format!(
            "adresse de retour « {u} » : https obligatoire (http seulement sur localhost)"
        )));
    }
    if u.fragment().is_some() {
        return Err(CoreError::invalid(format!(
            "adresse de retour « {u} » : pas de fragment (#)"
        )));
    }
    Ok(u.to_string())
}

/// Registers a service; returns it and its secret (shown once), or no
/// secret when it authenticates with a public key (a PEM or JWKS, see
/// [`super::assertion::parse_public_key`]).
pub async fn register(core: &Core, actor: &Actor, r: &Registration) -> Result<(Client, Option<String>)> {
    let nom: String = r.nom.trim().chars().take(200).collect();
    if nom.is_empty() {
        return Err(CoreError::invalid("le nom du service est obligatoire"));
    }
    if r.redirect_uris.is_empty() {
        return Err(CoreError::invalid(
            "au moins une adresse de retour (--redirect-uri) est obligatoire",
        ));
    }
    let redirect: Vec<String> = r.redirect_uris.iter().map(|u| check_uri(u)).collect::<Result<_>>()?;
    let logout: Vec<String> = r.post_logout_uris.iter().map(|u| check_uri(u)).collect::<Result<_>>()?;
    let backchannel = r.backchannel_logout_uri.as_deref().map(check_uri).transpose()?;
    for d in &r.demarches {
        if super::demarche_label(d).is_none() {
            return Err(CoreError::invalid(format!("démarche inconnue « {d} »")));
        }
    }
    let public_key = r
        .public_key
        .as_deref()
        .map(super::assertion::parse_public_key)
        .transpose()?;
    let id_token_alg = r.id_token_alg.unwrap_or(Alg::ES256);
    let userinfo_alg = r.userinfo_alg.unwrap_or(match r.profil {
        Profil::Standard => None,
        Profil::FranceConnect => Some(Alg::ES256),
    });
    let by_secret = [Some(id_token_alg), userinfo_alg].contains(&Some(Alg::HS256));
    if by_secret && public_key.is_some() {
        return Err(CoreError::invalid(
            "HS256 signe avec le secret du service : impossible pour un service authentifié par sa clé publique",
        ));
    }
    let method = if public_key.is_some() { BY_KEY } else { BY_SECRET };
    let client = Client {
        client_id: format!("pc_{}", random(16)),
        nom,
        redirect_uris: redirect,
        post_logout_uris: logout,
        demarches: r.demarches.clone(),
        token_endpoint_auth_method: method.into(),
        profil: r.profil,
        id_token_alg,
        userinfo_alg,
        backchannel_logout_uri: backchannel,
    };
    // A service with a key still gets a secret's fingerprint (the column is
    // required), of a secret nobody sees and that is refused anyway. The
    // secret itself is kept (sealed) only when it signs something (HS256).
    let secret = random(32);
    let sealed = if by_secret {
        Some(core.keys.seal(SEAL, &secret)?)
    } else {
        None
    };
    let mut tx = core.db.begin().await?;
    let id: i64 = on_tx!(&mut tx, c => {
        sqlx::query_scalar(
            "INSERT INTO oidc_clients (client_id, nom, secret_empreinte, redirect_uris, post_logout_uris, demarches, created_at, cle_publique, \
             profil, id_token_alg, userinfo_alg, secret_scelle, backchannel_logout_uri) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(&client.client_id).bind(&client.nom).bind(digest(&secret))
        .bind(json!(client.redirect_uris).to_string())
        .bind(json!(client.post_logout_uris).to_string())
        .bind(json!(client.demarches).to_string())
        .bind(tx.horloge.now_micros())
        .bind(&public_key)
        .bind(client.profil).bind(client.id_token_alg).bind(client.userinfo_alg).bind(&sealed)
        .bind(&client.backchannel_logout_uri)
        .fetch_one(&mut *c).await?
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(actor.clone(), actions::OIDC_CLIENT_CREATED)
            .subject("oidc_client", id)
            .details(json!({
                "client_id": client.client_id, "nom": client.nom, "redirect_uris": client.redirect_uris,
                "token_endpoint_auth_method": method, "profil": client.profil.key(),
                "id_token_signed_response_alg": client.id_token_alg.key(),
                "userinfo_signed_response_alg": client.userinfo_alg.map(Alg::key),
                "backchannel_logout_uri": client.backchannel_logout_uri,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok((client, public_key.is_none().then_some(secret)))
}

/// Purpose of the sealed secrets of services that sign with them.
const SEAL: &str = "oidc-secret-client";

/// The secret of a service that signs with it (HS256), opened.
pub async fn signing_secret(core: &Core, client_id: &str) -> Result<Option<String>> {
    let sealed: Option<Option<String>> = on_db!(&core.db, c => {
        sqlx::query_scalar("SELECT secret_scelle FROM oidc_clients WHERE client_id = $1 AND revoque_at IS NULL")
            .bind(client_id).fetch_optional(&mut *c).await?
    });
    sealed.flatten().map(|s| core.keys.open(SEAL, &s)).transpose()
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    bool,
    Profil,
    Alg,
    Option<Alg>,
    Option<String>,
);

const COLUMNS: &str = "client_id, nom, redirect_uris, post_logout_uris, demarches, cle_publique IS NOT NULL, \
                       profil, id_token_alg, userinfo_alg, backchannel_logout_uri";

fn of_row(
    (client_id, nom, r, p, d, by_key, profil, id_token_alg, userinfo_alg, backchannel_logout_uri): Row,
) -> Client {
    let list = |s: &str| serde_json::from_str::<Vec<String>>(s).unwrap_or_default();
    Client {
        client_id,
        nom,
        redirect_uris: list(&r),
        post_logout_uris: list(&p),
        demarches: list(&d),
        token_endpoint_auth_method: if by_key { BY_KEY } else { BY_SECRET }.into(),
        profil,
        id_token_alg,
        userinfo_alg,
        backchannel_logout_uri,
    }
}

/// An active registered service.
pub async fn find(db: &Db, client_id: &str) -> Result<Option<Client>> {
    if client_id.len() > 100 {
        return Ok(None);
    }
    let row: Option<Row> = on_db!(db, c => {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM oidc_clients WHERE client_id = $1 AND revoque_at IS NULL"))
        .bind(client_id).fetch_optional(&mut *c).await?
    });
    Ok(row.map(of_row))
}

/// Every active service, by name.
pub async fn list(db: &Db) -> Result<Vec<Client>> {
    let rows: Vec<Row> = on_db!(db, c => {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM oidc_clients WHERE revoque_at IS NULL ORDER BY nom"))
        .fetch_all(&mut *c).await?
    });
    Ok(rows.into_iter().map(of_row).collect())
}

/// The public key (SPKI PEM) of an active service that authenticates with
/// `private_key_jwt`.
pub async fn public_key(db: &Db, client_id: &str) -> Result<Option<String>> {
    if client_id.len() > 100 {
        return Ok(None);
    }
    let key: Option<Option<String>> = on_db!(db, c => {
        sqlx::query_scalar("SELECT cle_publique FROM oidc_clients WHERE client_id = $1 AND revoque_at IS NULL")
            .bind(client_id).fetch_optional(&mut *c).await?
    });
    Ok(key.flatten())
}

/// The service if `secret` is its secret (never for a service with a key).
pub async fn authenticate(db: &Db, client_id: &str, secret: &str) -> Result<Option<Client>> {
    if client_id.len() > 100 || secret.len() > 200 {
        return Ok(None);
    }
    let stored: Option<Vec<u8>> = on_db!(db, c => {
        sqlx::query_scalar("SELECT secret_empreinte FROM oidc_clients WHERE client_id = $1 AND revoque_at IS NULL AND cle_publique IS NULL")
            .bind(client_id).fetch_optional(&mut *c).await?
    });
    let ok = stored.is_some_and(|s| bool::from(s.ct_eq(&digest(secret))));
    if ok {
        find(db, client_id).await
    } else {
        Ok(None)
    }
}
