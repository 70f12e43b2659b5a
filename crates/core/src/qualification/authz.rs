//! Authorisation of the qualification of places, decided here and nowhere
//! else. Fails closed.

use crate::accounts::{Principal, Role};
use crate::error::{CoreError, Result};

/// Who a place belongs to, for the rules below: its responsible organisation,
/// the hub whose territory holds it, and whether the opérateur delegated the
/// review of that territory to the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scope {
    pub owner: Option<i64>,
    pub hub: Option<i64>,
    pub delegated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Apply for a place, edit the application, attach documents, change bank details.
    Apply(Scope),
    /// See an application, its documents and the qualification of a place.
    View(Scope),
    /// Approve, refuse or ask changes; suspend, withdraw or reinstate a qualification.
    Review(Scope),
    /// List applications and qualified places (each sees only its own scope).
    List,
    /// Validate bank details, delegate the review to hubs.
    Administer,
}

/// Which `/qualification` page a caller gets: a place's staff apply for their
/// places; everyone else gets the reviewers' page, which checks its own access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    Place,
    Review,
}

pub fn home(who: &Principal) -> Home {
    if who.role == Role::Lieu {
        Home::Place
    } else {
        Home::Review
    }
}

pub fn authorize(who: &Principal, action: Action) -> Result<()> {
    let operator = who.role == Role::Operateur;
    let own = |s: Scope| who.role == Role::Lieu && s.owner == Some(who.organisation_id);
    let hub = |s: Scope| who.role == Role::Hub && s.hub == Some(who.organisation_id);
    let allowed = match action {
        Action::Apply(s) => own(s),
        Action::View(s) => operator || own(s) || hub(s),
        Action::Review(s) => operator || (hub(s) && s.delegated),
        Action::List => operator || who.role == Role::Hub || who.role == Role::Lieu,
        Action::Administer => operator,
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
    fn the_place_applies_the_hub_reviews_only_when_delegated_the_operator_always() {
        let mine = Scope {
            owner: Some(7),
            hub: Some(7),
            delegated: false,
        };
        let delegated = Scope {
            delegated: true,
            ..mine
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
            let op = role == Role::Operateur;
            let place = role == Role::Lieu;
            let hub = role == Role::Hub;
            assert_eq!(authorize(&p, Action::Apply(mine)).is_ok(), place);
            assert!(authorize(&p, Action::Apply(elsewhere)).is_err());
            assert_eq!(authorize(&p, Action::View(mine)).is_ok(), op || place || hub);
            assert_eq!(authorize(&p, Action::View(elsewhere)).is_ok(), op);
            assert_eq!(authorize(&p, Action::Review(mine)).is_ok(), op);
            assert_eq!(authorize(&p, Action::Review(delegated)).is_ok(), op || hub);
            assert_eq!(authorize(&p, Action::Review(elsewhere)).is_ok(), op);
            assert_eq!(authorize(&p, Action::Administer).is_ok(), op);
            assert_eq!(authorize(&p, Action::List).is_ok(), op || place || hub);
        }
    }
}
