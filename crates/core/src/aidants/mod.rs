//! Aidants Connect: acting for an usager within a mandate. For now, the usager's
//! identification with FranceConnect (relying party and simulator).

pub mod franceconnect;
