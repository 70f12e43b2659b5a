//! Authorisation of the directory, decided here and nowhere else. Fails closed.

use crate::accounts::{Principal, Role};
use crate::error::{CoreError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Import files, choose the organisation responsible for a place.
    Administer,
    /// Edit a place whose responsible organisation is `owner`.
    Edit { owner: Option<i64> },
}

pub fn authorize(who: &Principal, action: Action) -> Result<()> {
    let allowed = match action {
        Action::Administer => who.role == Role::Operateur,
        Action::Edit { owner } => {
            who.role == Role::Operateur || (who.role == Role::Lieu && owner == Some(who.organisation_id))
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(CoreError::Forbidden)
    }
}

/// Whether `who` may edit a place whose responsible organisation is `owner`
/// (to offer the link; the edit itself is checked again).
pub fn may_edit(who: &Principal, owner: Option<i64>) -> bool {
    authorize(who, Action::Edit { owner }).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_operator_and_the_place_s_own_staff_edit() {
        for role in Role::ALL {
            let p = Principal {
                account_id: 1,
                role,
                organisation_id: 7,
            };
            let op = role == Role::Operateur;
            assert_eq!(authorize(&p, Action::Administer).is_ok(), op);
            assert_eq!(
                authorize(&p, Action::Edit { owner: Some(7) }).is_ok(),
                op || role == Role::Lieu
            );
            assert_eq!(authorize(&p, Action::Edit { owner: Some(8) }).is_ok(), op);
            assert_eq!(authorize(&p, Action::Edit { owner: None }).is_ok(), op);
        }
    }
}
