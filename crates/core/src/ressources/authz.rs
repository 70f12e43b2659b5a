//! Who writes the resource centre, decided here and nowhere else. Fails closed.
//!
//! Everyone reads published articles and their files, without an account. Only
//! the opérateur writes, publishes, deletes and attaches files, and only he
//! sees drafts.

use crate::accounts::{Principal, Role};
use crate::error::{CoreError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Write, publish, unpublish, delete articles and their files; see drafts.
    Manage,
}

pub fn authorize(who: &Principal, action: Action) -> Result<()> {
    let allowed = match action {
        Action::Manage => who.role == Role::Operateur,
    };
    if allowed {
        Ok(())
    } else {
        Err(CoreError::Forbidden)
    }
}

/// Whether this visitor (perhaps anonymous) sees drafts.
pub fn sees_drafts(who: Option<&Principal>) -> bool {
    who.is_some_and(|p| authorize(p, Action::Manage).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_operator_manages() {
        for role in Role::ALL {
            let p = Principal {
                account_id: 1,
                role,
                organisation_id: 1,
            };
            let op = role == Role::Operateur;
            assert_eq!(authorize(&p, Action::Manage).is_ok(), op, "{role:?}");
            assert_eq!(sees_drafts(Some(&p)), op);
        }
        assert!(!sees_drafts(None));
    }
}
