//! Authorisation of the Pass Numérique, decided here and nowhere else. Fails closed.

use crate::accounts::{Principal, Role};
use crate::error::{CoreError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Orders, payments, issue, allotment, qualification of places, API keys.
    Administer,
    /// See an order of the funder `funder`.
    ViewOrder { funder: i64 },
    /// Order booklets for `funder` (the funder itself, at the opérateur's fee; or the opérateur).
    CreateOrder { funder: Option<i64> },
    /// See the reports of the orders of `funder` together, or of every funder (`None`: the opérateur only).
    ViewReports { funder: Option<i64> },
    /// Accept the quote of an order of `funder` (the funder itself, or the opérateur on its behalf).
    AcceptQuote { funder: i64 },
    /// Stop or resume the hand-out of an order of `funder` (the funder itself, or the opérateur).
    StopHandOuts { funder: i64 },
    /// Open the hand-out desk (which booklets may be handed out is checked per booklet).
    HandOutDesk,
    /// Hand out a booklet, or declare it lost, when it is allotted to `prescriber`.
    HandOut { prescriber: Option<i64> },
    /// Check or redeem a cheque at a place whose responsible organisation is `owner`.
    Redeem { owner: Option<i64> },
}

pub fn authorize(who: &Principal, action: Action) -> Result<()> {
    let mine = |org: Option<i64>| org == Some(who.organisation_id);
    let operator = who.role == Role::Operateur;
    let allowed = match action {
        Action::Administer => operator,
        Action::ViewOrder { funder } | Action::AcceptQuote { funder } | Action::StopHandOuts { funder } => {
            operator || (who.role == Role::Commanditaire && funder == who.organisation_id)
        }
        Action::CreateOrder { funder } => {
            operator || (who.role == Role::Commanditaire && funder.is_none_or(|f| f == who.organisation_id))
        }
        Action::ViewReports { funder } => {
            operator || (who.role == Role::Commanditaire && funder == Some(who.organisation_id))
        }
        Action::HandOutDesk => operator || who.role == Role::Prescripteur,
        Action::HandOut { prescriber } => operator || (who.role == Role::Prescripteur && mine(prescriber)),
        // Only the place's own staff redeem: the opérateur delivers no service.
        Action::Redeem { owner } => who.role == Role::Lieu && mine(owner),
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
    fn each_role_does_only_its_part() {
        for role in Role::ALL {
            let p = Principal {
                account_id: 1,
                role,
                organisation_id: 7,
            };
            let op = role == Role::Operateur;
            assert_eq!(authorize(&p, Action::Administer).is_ok(), op);
            assert_eq!(
                authorize(&p, Action::HandOutDesk).is_ok(),
                op || role == Role::Prescripteur
            );
            assert_eq!(
                authorize(&p, Action::ViewOrder { funder: 7 }).is_ok(),
                op || role == Role::Commanditaire
            );
            assert_eq!(authorize(&p, Action::ViewOrder { funder: 8 }).is_ok(), op);
            assert_eq!(
                authorize(&p, Action::ViewReports { funder: Some(7) }).is_ok(),
                op || role == Role::Commanditaire
            );
            assert_eq!(authorize(&p, Action::ViewReports { funder: Some(8) }).is_ok(), op);
            assert_eq!(authorize(&p, Action::ViewReports { funder: None }).is_ok(), op);
            assert_eq!(
                authorize(&p, Action::AcceptQuote { funder: 7 }).is_ok(),
                op || role == Role::Commanditaire
            );
            assert_eq!(authorize(&p, Action::AcceptQuote { funder: 8 }).is_ok(), op);
            assert_eq!(
                authorize(&p, Action::StopHandOuts { funder: 7 }).is_ok(),
                op || role == Role::Commanditaire
            );
            assert_eq!(authorize(&p, Action::StopHandOuts { funder: 8 }).is_ok(), op);
            assert_eq!(
                authorize(&p, Action::HandOut { prescriber: Some(7) }).is_ok(),
                op || role == Role::Prescripteur
            );
            assert_eq!(authorize(&p, Action::HandOut { prescriber: Some(8) }).is_ok(), op);
            assert_eq!(authorize(&p, Action::HandOut { prescriber: None }).is_ok(), op);
            assert_eq!(
                authorize(&p, Action::Redeem { owner: Some(7) }).is_ok(),
                role == Role::Lieu
            );
            assert!(authorize(&p, Action::Redeem { owner: Some(8) }).is_err());
            assert!(authorize(&p, Action::Redeem { owner: None }).is_err());
        }
    }
}
