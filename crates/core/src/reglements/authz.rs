//! Authorisation of settlement, decided here and nowhere else. Fails closed.

use crate::accounts::{Principal, Role};
use crate::error::{CoreError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Run a settlement, follow batches, record rejections, set the opérateur's account.
    Settle,
    /// See a statement of a place whose responsible organisation is `owner`.
    ViewStatement { owner: Option<i64> },
}

pub fn authorize(who: &Principal, action: Action) -> Result<()> {
    let operator = who.role == Role::Operateur;
    let allowed = match action {
        Action::Settle => operator,
        Action::ViewStatement { owner } => operator || (who.role == Role::Lieu && owner == Some(who.organisation_id)),
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
    fn only_the_operator_settles_and_a_place_sees_only_its_statements() {
        for role in Role::ALL {
            let p = Principal {
                account_id: 1,
                role,
                organisation_id: 7,
            };
            let op = role == Role::Operateur;
            assert_eq!(authorize(&p, Action::Settle).is_ok(), op);
            assert_eq!(
                authorize(&p, Action::ViewStatement { owner: Some(7) }).is_ok(),
                op || role == Role::Lieu
            );
            assert_eq!(authorize(&p, Action::ViewStatement { owner: Some(8) }).is_ok(), op);
            assert_eq!(authorize(&p, Action::ViewStatement { owner: None }).is_ok(), op);
        }
    }
}
