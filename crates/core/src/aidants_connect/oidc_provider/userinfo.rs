//! `/oidc/userinfo`: the usager's identity for the service, claims chosen by
//! the scopes of the request. Each call is a use of the mandate: it checks
//! that the autorisation is still active (not revoked, mandate not expired,
//! aidant still an active member of the structure) and writes, in one
//! transaction, the journal entry `mandat.utilisation` (the legal trace) and
//! the `mandats_utilisations` row the usager's space lists.

use crate::aidants_connect::oidc_provider::tokens::Grant;
use crate::db::Tx;
use serde_json::{json, Map, Value};

use super::clients::{self, Client};
use super::tokens::{self, OAuthError};
use crate::aidants_connect::mandats::lookup;
use crate::error::Result;
use crate::journal::{self, actions, Actor, NewEntry};
use crate::{on_tx, Core};

/// Claims each scope gives (FranceConnect's scopes; `openid` gives `sub`).
pub const SCOPES: [(&str, &[&str]); 11] = [
    ("openid", &[]),
    (
        "profile",
        &["given_name", "family_name", "birthdate", "gender", "preferred_username"],
    ),
    ("birth", &["birthplace", "birthcountry"]),
    ("email", &["email"]),
    ("given_name", &["given_name"]),
    ("family_name", &["family_name"]),
    ("birthdate", &["birthdate"]),
    ("birthplace", &["birthplace"]),
    ("birthcountry", &["birthcountry"]),
    ("gender", &["gender"]),
    ("preferred_username", &["preferred_username"]),
];

/// What the service receives: plain JSON, or a JWT (`application/jwt`) when it
/// registered `userinfo_signed_response_alg`.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Json(Value),
    Jwt(String),
}

fn invalid_token<T>(description: &str) -> Result<T, OAuthError> {
    Err(OAuthError {
        status: 401,
        error: "invalid_token",
        description: description.into(),
    })
}

type UsagerRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    Option<String>,
);

/// The autorisation of `g` if it is still active (not revoked, mandate not
/// expired, same structure, usager and démarche) and its aidant still an
/// active member of the structure with an active account, with his role.
/// Rows are locked (PostgreSQL) until the transaction ends.
pub(crate) async fn still_valid(
    tx: &mut Tx,
    g: &Grant,
    now: i64,
) -> Result<Option<(lookup::ActiveAutorisation, String)>> {
    let active = lookup::active_autorisation_tx(tx, g.autorisation_id, now)
        .await?
        .filter(|x| x.structure_id == g.structure_id && x.usager_id == g.usager_id && x.demarche == g.demarche);
    let member: Option<(bool, bool, String)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT m.actif, ac.active, ac.role FROM aidants_membres m JOIN accounts ac ON ac.id = m.account_id \
             WHERE m.account_id = $1 AND m.organisation_id = $2",
        )
        .bind(g.aidant_id).bind(g.structure_id).fetch_optional(&mut *c).await?
    });
    Ok(match (active, member) {
        (Some(autorisation), Some((true, true, role))) => Some((autorisation, role)),
        _ => None,
    })
}

/// The claims for the bearer `token`, or why it is refused.
pub async fn userinfo(core: &Core, issuer: &str, token: &str) -> Result<Result<Answer, OAuthError>> {
    let Some(a) = tokens::access(core, token).await? else {
        return Ok(invalid_token("jeton inconnu, expiré ou révoqué"));
    };
    let Some(client) = clients::find(&core.db, &a.client_id).await? else {
        return Ok(invalid_token("ce service en ligne n'est plus enregistré"));
    };
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    let grant = Grant {
        aidant_id: a.aidant_id,
        structure_id: a.structure_id,
        usager_id: a.usager_id,
        autorisation_id: a.autorisation_id,
        demarche: a.demarche.clone(),
    };
    let Some((autorisation, role)) = still_valid(&mut tx, &grant, now).await? else {
        // The mandate is gone (or the aidant left): the token dies with it.
        tokens::revoke_tx(core, &mut tx, token).await?;
        tx.commit().await?;
        return Ok(invalid_token("l'autorisation de l'usager a été révoquée ou a expiré"));
    };
    let usager: Option<UsagerRow> = on_tx!(&mut tx, c => {
        sqlx::query_as(
            "SELECT given_name, family_name, preferred_username, birthdate, birthplace, birthcountry, gender, email \
             FROM usagers WHERE id = $1",
        )
        .bind(a.usager_id).fetch_optional(&mut *c).await?
    });
    let (Some((given, family, preferred, birthdate, birthplace, birthcountry, gender, email)), Some(sub)) =
        (usager, tokens::subject(core, &mut tx, &client, a.usager_id).await?)
    else {
        return Ok(invalid_token("usager introuvable"));
    };
    let seq = journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(Actor::Account { id: a.aidant_id, role }, actions::MANDATE_USED)
            .subject("usager", a.usager_id)
            .subject("mandat", autorisation.mandat_id)
            .subject("autorisation", autorisation.id)
            .subject("organisation", a.structure_id)
            .subject("compte", a.aidant_id)
            .details(json!({ "client_id": a.client_id, "demarche": a.demarche })),
    )
    .await?;
    on_tx!(&mut tx, c => {
        sqlx::query(
            "INSERT INTO mandats_utilisations (autorisation_id, mandat_id, usager_id, aidant_id, structure_id, client_id, demarche, at, journal_seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(autorisation.id).bind(autorisation.mandat_id).bind(a.usager_id).bind(a.aidant_id).bind(a.structure_id)
        .bind(&a.client_id).bind(&a.demarche).bind(now).bind(seq)
        .execute(&mut *c).await?;
    });
    tx.commit().await?;

    let values: [(&str, Option<String>); 8] = [
        ("given_name", Some(given)),
        ("family_name", Some(family)),
        ("preferred_username", preferred),
        ("birthdate", Some(birthdate)),
        ("birthplace", Some(birthplace)),
        ("birthcountry", Some(birthcountry)),
        ("gender", Some(gender)),
        ("email", email),
    ];
    let allowed: Vec<&str> = a
        .scope
        .split(' ')
        .filter_map(|s| SCOPES.iter().find(|(k, _)| *k == s))
        .flat_map(|(_, claims)| claims.iter().copied())
        .collect();
    let mut out = Map::new();
    out.insert("sub".into(), sub.into());
    for (name, value) in values {
        if let (true, Some(v)) = (allowed.contains(&name), value) {
            out.insert(name.into(), v.into());
        }
    }
    out.insert("rep_scope".into(), tokens::rep_scope_claim(&client, &a.demarche));
    signed(core, issuer, &client, out, now).await.map(Ok)
}

/// The answer in the form the service registered: a JWT carries `iss`,
/// `aud`, `iat` and `exp` besides the claims (OpenID Connect Core 5.3.2).
async fn signed(
    core: &Core,
    issuer: &str,
    client: &Client,
    mut claims: Map<String, Value>,
    now: i64,
) -> Result<Answer> {
    let Some(alg) = client.userinfo_alg else {
        return Ok(Answer::Json(Value::Object(claims)));
    };
    let iat = now / 1_000_000;
    claims.insert("iss".into(), issuer.into());
    claims.insert("aud".into(), client.client_id.clone().into());
    claims.insert("iat".into(), iat.into());
    claims.insert("exp".into(), (iat + tokens::TOKEN_TTL_SECONDS).into());
    let jwt = super::keys::sign_for(core, &client.client_id, alg, &Value::Object(claims), None).await?;
    Ok(Answer::Jwt(jwt))
}
