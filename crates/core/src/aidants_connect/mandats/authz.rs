//! Who may see and act on mandates, decided here and nowhere else.
//!
//! - An aidant acts for his **current** structure only, and only while his
//!   membership in it is active (`aidants::require_acting`).
//! - A référent **sees** his own structure's mandates (the organisation of
//!   his account) but does not conclude, renew or revoke them: that is the
//!   trained aidant's act (the brief gives the référent the aidants and their
//!   devices, the aidant the mandates).
//! - Nobody else: the opérateur does not see mandates (they are the usagers'
//!   legal data; the journal keeps the trace of every step without personal
//!   data). The usager sees and revokes his own mandates through
//!   [`super::revoke::Revoker::Usager`] and [`super::queries::of_usager`].
//!
//! A mandate of another structure is answered "not found", never "forbidden",
//! so that its number says nothing.

use crate::accounts::{Principal, Role};
use crate::aidants_connect::aidants;
use crate::error::{CoreError, Result};
use crate::Core;

/// The structure whose mandates `who` may see (Forbidden for anyone else).
pub async fn acting_structure(core: &Core, who: &Principal) -> Result<i64> {
    match who.role {
        Role::Aidant => aidants::require_acting(core, who).await,
        Role::Referent => Ok(who.organisation_id),
        _ => Err(CoreError::Forbidden),
    }
}

/// The structure `who` concludes, renews or revokes mandates for: aidants only.
pub async fn acting_structure_for_change(core: &Core, who: &Principal) -> Result<i64> {
    match who.role {
        Role::Aidant => aidants::require_acting(core, who).await,
        _ => Err(CoreError::Forbidden),
    }
}

/// A mandate of `structure` may be handled by someone acting for `acting`.
pub fn same_structure(acting: i64, structure: i64) -> Result<()> {
    if acting == structure {
        Ok(())
    } else {
        Err(CoreError::NotFound("mandat".into()))
    }
}
