//! Authorisation of the accounts domain, decided here and nowhere else.
//! Fails closed: anything not listed is refused.

use super::model::Role;
use crate::error::{CoreError, Result};
use crate::journal::Actor;

/// Who asks the domain to read or change data: a signed-in person, or the
/// platform itself ([`Principal::SYSTEME`]). Every domain function that serves
/// someone takes it and decides access itself, failing closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub account_id: i64,
    pub role: Role,
    pub organisation_id: i64,
}

impl Principal {
    /// The platform itself: the server's command line (run by whoever
    /// administers the server, who can read the database anyway) and its
    /// scheduled jobs. It has the opérateur's rights; the journal names it
    /// `systeme`. No account has id 0 (ids start at 1 on both engines).
    pub const SYSTEME: Principal = Principal {
        account_id: 0,
        role: Role::Operateur,
        organisation_id: 0,
    };

    pub fn is_system(&self) -> bool {
        self.account_id == 0
    }

    pub fn actor(&self) -> Actor {
        if self.is_system() {
            return Actor::System;
        }
        Actor::Account {
            id: self.account_id,
            role: self.role.key().to_string(),
        }
    }
}

/// What can be asked of the accounts domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// List, create organisations and accounts of any organisation; read the journal.
    Administer,
    /// Manage one's own account (password, second factor).
    ManageOwnAccount { account_id: i64 },
}

pub fn authorize(who: &Principal, action: Action) -> Result<()> {
    let allowed = match action {
        Action::Administer => who.role == Role::Operateur,
        Action::ManageOwnAccount { account_id } => who.account_id == account_id,
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
    fn only_operators_administer_and_only_owners_manage_their_account() {
        for role in Role::ALL {
            let p = Principal {
                account_id: 1,
                role,
                organisation_id: 1,
            };
            assert_eq!(authorize(&p, Action::Administer).is_ok(), role == Role::Operateur);
            assert!(authorize(&p, Action::ManageOwnAccount { account_id: 1 }).is_ok());
            assert!(authorize(&p, Action::ManageOwnAccount { account_id: 2 }).is_err());
        }
    }
}
