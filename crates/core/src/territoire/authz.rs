//! Authorisation of the territory views and of corrections, decided here and
//! nowhere else. Fails closed. A place's territory is the qualification's
//! [`Scope`] (its owner and the hub of its département).

use crate::accounts::{Principal, Role};
use crate::error::{CoreError, Result};
pub use crate::qualification::authz::Scope;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See the indicators and the places to check of one's territory.
    SeeTerritory,
    /// Propose a correction to a place (its hub only).
    Propose(Scope),
    /// See a correction proposed for a place.
    View { scope: Scope, author_hub: i64 },
    /// Accept or refuse a correction (the place's own staff, the opérateur).
    Decide(Scope),
    /// List the corrections to decide at one desk: a place's staff at theirs, the opérateur at his.
    ListToDecide(Desk),
}

/// Where corrections are decided: by a place's staff (`/lieu/corrections`,
/// their own places) or by the opérateur (`/operateur/corrections`, every place).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Desk {
    Place,
    Operator,
}

impl Desk {
    /// The desk of a caller who decides corrections (the opérateur's, or a place's).
    pub fn of(who: &Principal) -> Desk {
        if who.role == Role::Operateur {
            Desk::Operator
        } else {
            Desk::Place
        }
    }
}

/// Whether `who` may propose corrections to a place whose département's hub
/// is `hub` (to offer the link on the place's page; the proposal is checked again).
pub fn may_propose(who: &Principal, hub: Option<i64>) -> bool {
    let scope = Scope {
        owner: None,
        hub,
        delegated: false,
    };
    authorize(who, Action::Propose(scope)).is_ok()
}

pub fn authorize(who: &Principal, action: Action) -> Result<()> {
    let operator = who.role == Role::Operateur;
    let hub = who.role == Role::Hub;
    let own = |s: Scope| who.role == Role::Lieu && s.owner == Some(who.organisation_id);
    let allowed = match action {
        Action::SeeTerritory => hub,
        Action::Propose(s) => hub && s.hub == Some(who.organisation_id),
        Action::View { scope, author_hub } => operator || own(scope) || (hub && author_hub == who.organisation_id),
        Action::Decide(s) => operator || own(s),
        Action::ListToDecide(Desk::Operator) => operator,
        Action::ListToDecide(Desk::Place) => who.role == Role::Lieu,
    };
    if allowed {
        Ok(())
    } else {
        Err(CoreError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_proposes_in_its_territory_the_place_or_the_operator_decides() {
        let mine = Scope {
            owner: Some(7),
            hub: Some(7),
            delegated: false,
        };
        let elsewhere = Scope {
            owner: Some(8),
            hub: Some(8),
            delegated: true,
        };
        for role in Role::ALL {
            let p = Principal {
                account_id: 1,
                role,
                organisation_id: 7,
            };
            let (op, place, hub) = (role == Role::Operateur, role == Role::Lieu, role == Role::Hub);
            assert_eq!(authorize(&p, Action::SeeTerritory).is_ok(), hub);
            assert_eq!(authorize(&p, Action::Propose(mine)).is_ok(), hub);
            assert!(authorize(&p, Action::Propose(elsewhere)).is_err());
            assert_eq!(authorize(&p, Action::Decide(mine)).is_ok(), op || place);
            assert_eq!(authorize(&p, Action::Decide(elsewhere)).is_ok(), op);
            assert_eq!(
                authorize(
                    &p,
                    Action::View {
                        scope: mine,
                        author_hub: 7
                    }
                )
                .is_ok(),
                op || place || hub
            );
            assert_eq!(
                authorize(
                    &p,
                    Action::View {
                        scope: elsewhere,
                        author_hub: 8
                    }
                )
                .is_ok(),
                op
            );
            assert_eq!(authorize(&p, Action::ListToDecide(Desk::Operator)).is_ok(), op);
            assert_eq!(authorize(&p, Action::ListToDecide(Desk::Place)).is_ok(), place);
        }
    }
}
