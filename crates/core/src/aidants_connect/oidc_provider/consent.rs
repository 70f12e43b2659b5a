//! The aidant's part of `/oidc/authorize`: he picks an usager with an active
//! mandate in his current structure, then one of that usager's active
//! autorisations that the service (registered démarches) and the request
//! (`rep_scope`) accept. Every step decides access again from the database;
//! the last one re-checks the autorisation in the transaction that issues
//! the code.

use super::authorize::{Refusal, Request};
use super::clients::Client;
use super::tokens::{self, Authn, Grant};
use crate::accounts::Principal;
use crate::aidants_connect::aidants;
use crate::aidants_connect::mandats::lookup::{self, ActiveAutorisation, UsagerChoice};
use crate::error::{CoreError, Result};
use crate::Core;

/// Step 1: the usagers of the aidant's current structure matching `q`.
pub async fn usagers(core: &Core, who: &Principal, q: &str, limit: i64) -> Result<Vec<UsagerChoice>> {
    let structure = aidants::require_acting(core, who).await?;
    lookup::usagers_with_active_mandate(&core.db, structure, q, limit, core.db.now_micros()).await
}

fn no_mandate() -> CoreError {
    CoreError::NotFound("Cet usager n'a pas de mandat actif dans votre structure.".into())
}

/// Step 2: the usager and the autorisations the aidant may use for this request.
pub async fn offers(
    core: &Core,
    who: &Principal,
    request: &Request,
    client: &Client,
    usager: i64,
) -> Result<(UsagerChoice, Vec<ActiveAutorisation>)> {
    let structure = aidants::require_acting(core, who).await?;
    let now = core.db.now_micros();
    let person = lookup::usager_in_structure(&core.db, structure, usager, now)
        .await?
        .ok_or_else(no_mandate)?;
    let offered = lookup::active_autorisations(&core.db, structure, usager, now)
        .await?
        .into_iter()
        .filter(|a| request.accepts(client, &a.demarche))
        .collect();
    Ok((person, offered))
}

/// Last step: checks the chosen autorisation again and issues the code, in
/// one transaction; returns where to send the browser.
pub async fn complete(
    core: &Core,
    who: &Principal,
    request: &Request,
    client: &Client,
    usager: i64,
    autorisation: i64,
    authn: &Authn,
) -> Result<String> {
    let structure = aidants::require_acting(core, who).await?;
    let mut tx = core.db.begin().await?;
    let now = tx.now_micros();
    let a = lookup::active_autorisation_tx(&mut tx, autorisation, now)
        .await?
        .filter(|a| a.structure_id == structure && a.usager_id == usager)
        .ok_or_else(no_mandate)?;
    if !request.accepts(client, &a.demarche) {
        return Err(CoreError::invalid(
            "Ce service en ligne n'accepte pas cette démarche pour cette demande.",
        ));
    }
    let grant = Grant {
        aidant_id: who.account_id,
        structure_id: structure,
        usager_id: a.usager_id,
        autorisation_id: a.id,
        demarche: a.demarche,
    };
    let to = tokens::issue_code_tx(core, &mut tx, request, &grant, authn).await?;
    tx.commit().await?;
    Ok(to)
}

/// The aidant gives up: `access_denied` back to the service.
pub fn cancel(request: &Request) -> Option<String> {
    Refusal::Redirect {
        redirect_uri: request.redirect_uri.clone(),
        error: "access_denied",
        description: "l'aidant a annulé la demande".into(),
        state: request.state.clone(),
    }
    .location()
}
