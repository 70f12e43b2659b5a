//! `/oidc/logout` (RP-initiated logout 1.0): the service names the session
//! with the ID token it received (`id_token_hint`, our signature and issuer,
//! expired accepted); the browser goes back only to a post-logout URI the
//! service registered, exactly, with `state`. The access tokens that service
//! still holds for that usager are revoked. The aidant's own Passerelle
//! session is not closed: he may be helping other usagers.

use std::collections::BTreeMap;

use super::tokens::subject;
use super::{clients, keys};
use crate::error::Result;
use crate::{on_tx, Core};

const KNOWN: [&str; 5] = [
    "id_token_hint",
    "post_logout_redirect_uri",
    "state",
    "client_id",
    "ui_locales",
];

/// Where the browser goes: `Ok(Some(url))` back to the service,
/// `Ok(None)` a page saying the session ended, `Err(message)` a refusal page.
pub async fn end_session(
    core: &Core,
    issuer: &str,
    pairs: &[(String, String)],
) -> Result<Result<Option<String>, String>> {
    let mut map: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in pairs {
        if map.insert(k.as_str(), v.as_str()).is_some() {
            return Ok(Err(format!("Paramètre répété : {k}.")));
        }
    }
    if let Some(k) = map.keys().find(|k| !KNOWN.contains(k)) {
        return Ok(Err(format!("Paramètre inconnu : {k}.")));
    }
    let Some(hint) = map.get("id_token_hint") else {
        return Ok(Err(
            "Paramètre id_token_hint absent : la session à fermer n'est pas désignée.".into(),
        ));
    };
    let Some(claims) = keys::verify_ours(core, hint, issuer).await? else {
        return Ok(Err(
            "Le jeton d'identité fourni n'a pas été émis par Aidants Connect.".into()
        ));
    };
    let (Some(aud), Some(sub)) = (claims["aud"].as_str(), claims["sub"].as_str()) else {
        return Ok(Err("Le jeton d'identité fourni est incomplet.".into()));
    };
    if map.get("client_id").is_some_and(|c| *c != aud) {
        return Ok(Err("client_id ne correspond pas au jeton d'identité.".into()));
    }
    let Some(client) = clients::find(&core.db, aud).await? else {
        return Ok(Err(
            "Ce service en ligne n'est pas enregistré auprès d'Aidants Connect.".into(),
        ));
    };
    let back = match map.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) if client.post_logout_uris.iter().any(|u| u == uri) => Some(*uri),
        Some(_) => {
            return Ok(Err(
                "L'adresse de retour après déconnexion n'est pas celle que ce service a enregistrée.".into(),
            ));
        }
    };
    // The service's live tokens for this usager (the sub may be pairwise: found among the few live ones).
    let now = core.db.now_micros();
    let mut tx = core.db.begin().await?;
    let live: Vec<i64> = on_tx!(&mut tx, c => {
        sqlx::query_scalar(
            "SELECT DISTINCT usager_id FROM oidc_jetons WHERE client_id = $1 AND revoque_at IS NULL AND expire_at > $2",
        )
        .bind(&client.client_id).bind(now).fetch_all(&mut *c).await?
    });
    for usager in live {
        if subject(core, &mut tx, &client, usager).await?.as_deref() == Some(sub) {
            on_tx!(&mut tx, c => {
                sqlx::query(
                    "UPDATE oidc_jetons SET revoque_at = $3 WHERE client_id = $1 AND usager_id = $2 AND revoque_at IS NULL",
                )
                .bind(&client.client_id).bind(usager).bind(now).execute(&mut *c).await?;
            });
        }
    }
    tx.commit().await?;
    let Some(uri) = back else {
        return Ok(Ok(None));
    };
    let mut u = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(_) => return Ok(Err("Adresse de retour invalide.".into())),
    };
    if let Some(state) = map.get("state") {
        u.query_pairs_mut().append_pair("state", state);
    }
    Ok(Ok(Some(u.to_string())))
}
