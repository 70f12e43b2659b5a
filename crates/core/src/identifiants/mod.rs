//! Typed identifiers, parsed once at the edge with one rule and one French
//! message each, shared by every domain.

pub mod bic;
pub mod centimes;
pub mod iban;
pub mod siret;

pub use bic::Bic;
pub use centimes::Centimes;
pub use iban::Iban;
pub use siret::{Pivot, Siret};
