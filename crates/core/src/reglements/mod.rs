//! Settlement of the Pass Numérique: places are paid back for the cheques they
//! redeemed. Each run puts every redemption before a cut-off, not yet in a live
//! statement, into one statement per place and one SEPA file (`run`); the
//! opérateur then follows the batch (`batches`). Money rules: a redemption is
//! in one live statement at most (a unique index), a statement's total is the
//! sum of its lines, the file's control sum is the sum of its statements.

pub mod authz;
pub mod bank;
pub mod batches;
pub mod documents;
pub mod run;
pub mod sepa;

use serde_json::json;

use crate::accounts::Principal;
use crate::error::{CoreError, Result};
use crate::identifiants::{Bic, Iban};
use crate::journal::{self, actions, NewEntry};
use crate::Core;
use sepa::Debtor;

/// Lock taken by a run and by whatever changes what a run reads (cancelling a
/// redemption, rejecting a transfer), so that they never interleave.
pub const SETTLEMENT_LOCK: i64 = 0x5041_5353_0003;

const DEBTOR_KEY: &str = "compte_operateur";

/// The opérateur's account, debited by the transfers (the opérateur only).
pub async fn debtor(core: &Core, who: &Principal) -> Result<Option<Debtor>> {
    authz::authorize(who, authz::Action::Settle)?;
    stored_debtor(core).await
}

async fn stored_debtor(core: &Core) -> Result<Option<Debtor>> {
    match crate::db::deployment_get(&core.db, DEBTOR_KEY).await? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| CoreError::Io(format!("compte de l'opérateur illisible en base : {e}"))),
    }
}

/// Records the opérateur's account (checked IBAN and BIC), journaled.
pub async fn set_debtor(core: &Core, who: &Principal, nom: &str, iban: &str, bic: &str) -> Result<Debtor> {
    authz::authorize(who, authz::Action::Settle)?;
    let debtor = Debtor {
        nom: bank::parse_holder(nom)?,
        iban: Iban::parse(iban)?,
        bic: Bic::parse(bic)?,
    };
    let text = serde_json::to_string(&debtor).map_err(|e| CoreError::Io(e.to_string()))?;
    let mut tx = core.db.begin().await?;
    crate::on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO deployment (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
            .bind(DEBTOR_KEY)
            .bind(&text)
            .execute(&mut *c)
            .await?;
    });
    journal::append(
        &mut tx,
        &core.keys,
        NewEntry::new(who.actor(), actions::OPERATOR_ACCOUNT_SET).details(json!({
            "titulaire": debtor.nom,
            "iban": debtor.iban,
            "bic": debtor.bic,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(debtor)
}
