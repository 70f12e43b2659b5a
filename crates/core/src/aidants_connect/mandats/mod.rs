//! Mandates of Aidants Connect: an usager gives a structure the right to act
//! for him, for some démarches and a duration.
//!
//! - [`model`]: durations, derived states, the attestation's QR token;
//! - [`texts`]: the versioned mandate texts (stored at migration, fingerprinted);
//! - [`authz`]: who acts for which structure's mandates (the one decision);
//! - [`conclude`]: conclude and renew (fresh TOTP, supersession, journal);
//! - [`revoke`]: revoke a démarche or a whole mandate, by an aidant or the usager;
//! - [`queries`]: lists, detail, the usager's mandates, the public check;
//! - [`attestation_pdf`]: the attestation (two copies) and the revocation certificate.

pub mod attestation_pdf;
pub mod authz;
pub mod conclude;
pub mod lookup;
pub mod model;
pub mod queries;
pub mod revoke;
pub mod texts;

pub use conclude::{conclude, renew, MandateRequest};
pub use model::{Duration, State};
pub use queries::{of_usager, Autorisation, Mandate};
pub use revoke::{revoke, Revocation, Revoker};

/// Journal action keys of mandates (stable: reports filter on them).
pub mod actions {
    pub const CREATED: &str = "mandat.cree";
    pub const RENEWED: &str = "mandat.renouvele";
    pub const SUPERSEDED: &str = "mandat.autorisation_remplacee";
    pub const REVOKED: &str = "mandat.revoque";
    pub const AUTORISATION_REVOKED: &str = "mandat.autorisation_revoquee";
}
