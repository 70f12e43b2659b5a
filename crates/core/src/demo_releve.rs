//! The demonstration's statement, so that a place's staff find one on their
//! first visit: the demonstration is dated [`DAYS_BACK`] days ago (its clock
//! is stopped then), two cheques of a handed-out booklet are redeemed at the
//! demo place on that day, the place's bank details and the opérateur's
//! account are recorded, and the monthly settlement is run now: it pays
//! those redemptions (of a day now past) and writes the place's statement.

use jiff::SignedDuration;

use crate::accounts::Principal;
use crate::error::{CoreError, Result};
use crate::horloge::{Horloge, Reglage};
use crate::pass_numerique::redeem::{self, Counter};
use crate::pass_numerique::{issue, places};
use crate::qualification::bank_details;
use crate::reglements::{self, run};
use crate::Core;

/// How many days before now the demonstration's data are dated.
pub const DAYS_BACK: i64 = 10;

/// The place whose staff find a statement, and the service they gave.
const PLACE: &str = "demo-2";
const STAFF: &str = "epn-pessac@demo.passerelle.fr";
const SERVICE: &str = "Accès internet et matériel informatique";

/// Example bank accounts (valid keys, made-up banks' branches).
const PLACE_IBAN: &str = "FR7630006000011234567890189";
const PLACE_BIC: &str = "AGRIFRPPXXX";
const OPERATOR_IBAN: &str = "FR7610107001011234567890129";
const OPERATOR_BIC: &str = "BREDFRPPXXX";

/// The same deployment, its clock stopped [`DAYS_BACK`] days before now.
pub fn in_the_past(core: &Core) -> Core {
    let then = core.db.horloge().now() - SignedDuration::from_hours(24 * DAYS_BACK);
    core.clone().with_horloge(Horloge::reglee(Reglage::Fixe(then)))
}

/// On the demonstration's day (`past`): two cheques of `booklet` (handed
/// out) redeemed at the demo place by its staff, its bank details validated.
pub async fn redeem(past: &Core, order: i64, booklet: i64) -> Result<()> {
    let place = places::by_ext_id(&past.db, PLACE).await?;
    let staff = crate::accounts::store::credentials_by_email(&past.db, STAFF)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("compte {STAFF}")))?
        .id;
    let today = past.db.horloge().today_paris();
    for cheque in issue::codes(past, order, Some((booklet, booklet)))
        .await?
        .iter()
        .take(2)
    {
        let code = cheque.code.grouped();
        redeem::redeem(past, Counter::Account(staff), &place, &code, SERVICE, None, today).await?;
    }
    // The place's staff give its bank details; the opérateur validates them.
    let (who, _) = crate::accounts::principal(past, staff)
        .await?
        .ok_or_else(|| CoreError::NotFound(format!("compte {STAFF}")))?;
    let id = bank_details::submit(
        past,
        &who,
        PLACE,
        PLACE_IBAN,
        PLACE_BIC,
        "Espace public numérique de Pessac",
    )
    .await?;
    bank_details::review(past, &Principal::SYSTEME, id, None).await?;
    reglements::set_debtor(
        past,
        &Principal::SYSTEME,
        "Opérateur Passerelle (démonstration)",
        OPERATOR_IBAN,
        OPERATOR_BIC,
    )
    .await?;
    Ok(())
}

/// Now: the settlement of the days before today. Returns the statements' numbers.
pub async fn settle(core: &Core) -> Result<Vec<String>> {
    let h = core.db.horloge();
    let today = h.today_paris();
    let created = h.maintenant_paris().strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let outcome = run::generate(core, &Principal::SYSTEME, today, today, &created).await?;
    Ok(outcome.releves.iter().map(|r| r.numero.clone()).collect())
}
