//! Who may log activity and see which statistics, decided here and nowhere else.
//! Fails closed.
//!
//! Choice: the people who accompany others log their activity — the staff of a
//! place (role `lieu`, the médiateurs and conseillers numériques of the place)
//! and the aidants of a habilitated structure (role `aidant`; many are
//! conseillers numériques, and only they can link an Aidants Connect use). A
//! référent sees his structure's statistics; the opérateur sees any structure's
//! statistics, read-only. Nobody edits or deletes another person's entry.

use crate::accounts::{Principal, Role};
use crate::error::{CoreError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Record an accompaniment, see one's own list, export and statistics.
    Log,
    /// Edit or delete an entry written by `author`.
    Change { author: i64 },
    /// See the statistics of organisation `organisation`.
    ViewStructure { organisation: i64 },
}

pub fn logs_activity(role: Role) -> bool {
    matches!(role, Role::Lieu | Role::Aidant)
}

pub fn authorize(who: &Principal, action: Action) -> Result<()> {
    let allowed = match action {
        Action::Log => logs_activity(who.role),
        Action::Change { author } => logs_activity(who.role) && author == who.account_id,
        Action::ViewStructure { organisation } => {
            who.role == Role::Operateur
                || (matches!(who.role, Role::Lieu | Role::Aidant | Role::Referent)
                    && organisation == who.organisation_id)
        }
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
    fn only_accompanying_roles_log_and_only_their_own_entries_change() {
        for role in Role::ALL {
            let p = Principal {
                account_id: 1,
                role,
                organisation_id: 7,
            };
            let logs = matches!(role, Role::Lieu | Role::Aidant);
            assert_eq!(authorize(&p, Action::Log).is_ok(), logs, "{role:?}");
            assert_eq!(authorize(&p, Action::Change { author: 1 }).is_ok(), logs);
            assert!(authorize(&p, Action::Change { author: 2 }).is_err());
            let op = role == Role::Operateur;
            assert_eq!(
                authorize(&p, Action::ViewStructure { organisation: 7 }).is_ok(),
                op || logs || role == Role::Referent
            );
            assert_eq!(authorize(&p, Action::ViewStructure { organisation: 8 }).is_ok(), op);
        }
    }
}
