//! Authorisation of Aidants Connect (structures and aidants), decided here
//! and nowhere else. Fails closed: anything not listed is refused.

use crate::accounts::{Principal, Role};
use crate::error::{CoreError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// List, read and decide habilitation requests; record aidants' training.
    Review,
    /// The référent's space for `structure`: list, invite, activate,
    /// deactivate the aidants, give them a TOTP device.
    ManageAidants { structure: i64 },
    /// Act for `structure` (mandates to come): an aidant whose membership in
    /// it is active (`member` says whether it is).
    ActFor { structure: i64, member: bool },
    /// Choose the current structure among one's active memberships.
    SwitchStructure { member: bool },
    /// See one's own structures and invitations (page « Ma structure »).
    OwnStructures,
    /// Accept or decline an invitation into a structure: only the aidant it
    /// is addressed to (never a référent on his behalf).
    AnswerInvitation { addressed_to_me: bool },
}

pub fn authorize(who: &Principal, action: Action) -> Result<()> {
    let allowed = match action {
        Action::Review => who.role == Role::Operateur,
        Action::ManageAidants { structure } => who.role == Role::Referent && who.organisation_id == structure,
        Action::ActFor { structure, member } => who.role == Role::Aidant && member && who.organisation_id == structure,
        Action::SwitchStructure { member } => who.role == Role::Aidant && member,
        Action::OwnStructures => who.role == Role::Aidant,
        Action::AnswerInvitation { addressed_to_me } => who.role == Role::Aidant && addressed_to_me,
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
    fn each_role_gets_only_its_own_structure() {
        for role in Role::ALL {
            let p = Principal {
                account_id: 1,
                role,
                organisation_id: 7,
            };
            let is = |r: Role| role == r;
            assert_eq!(authorize(&p, Action::Review).is_ok(), is(Role::Operateur));
            assert_eq!(
                authorize(&p, Action::ManageAidants { structure: 7 }).is_ok(),
                is(Role::Referent)
            );
            assert!(authorize(&p, Action::ManageAidants { structure: 8 }).is_err());
            assert_eq!(
                authorize(
                    &p,
                    Action::ActFor {
                        structure: 7,
                        member: true
                    }
                )
                .is_ok(),
                is(Role::Aidant)
            );
            assert!(authorize(
                &p,
                Action::ActFor {
                    structure: 7,
                    member: false
                }
            )
            .is_err());
            assert!(authorize(
                &p,
                Action::ActFor {
                    structure: 8,
                    member: true
                }
            )
            .is_err());
            assert_eq!(
                authorize(&p, Action::SwitchStructure { member: true }).is_ok(),
                is(Role::Aidant)
            );
            assert!(authorize(&p, Action::SwitchStructure { member: false }).is_err());
            assert_eq!(
                authorize(&p, Action::AnswerInvitation { addressed_to_me: true }).is_ok(),
                is(Role::Aidant)
            );
            assert!(authorize(&p, Action::AnswerInvitation { addressed_to_me: false }).is_err());
            assert_eq!(authorize(&p, Action::OwnStructures).is_ok(), is(Role::Aidant));
        }
    }
}
