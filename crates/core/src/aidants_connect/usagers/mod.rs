//! The usager's own space: he signs in with FranceConnect (no account, no
//! password), sees his mandates and every use of them, and revokes them.
//! His sessions are separate from accounts' sessions; nothing here ever
//! reads another usager's rows (every query is keyed by his id).

pub mod session;
pub mod signin;
pub mod space;
