//! Accounts domain: organisations, accounts, passwords, TOTP, sessions, lockout.

pub mod admin;
pub mod argon2_pool;
pub mod authz;
mod login;
pub mod model;
pub mod password;
pub mod proconnect;
mod reauth;
mod service;
pub mod session;
pub mod store;
pub mod throttle;
pub mod totp;

pub use authz::{authorize, Action, Principal};
pub use login::{finish_enrolment, login_password, login_totp, logout, logout_everywhere, LoginOutcome, Refusal};
pub use model::{Account, Email, OrgKind, Organisation, Role, Siret};
pub use service::{
    change_password, confirm_totp, create_account, create_organisation, principal, remove_totp, start_totp_enrolment,
    CreatedAccount, NewAccount, TotpEnrolment,
};
