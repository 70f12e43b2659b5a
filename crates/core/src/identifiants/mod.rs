//! Typed identifiers, parsed once at the edge with one rule and one French
//! message each, shared by every domain.

pub mod bic;
pub mod centimes;
pub mod code_insee;
pub mod code_postal;
pub mod iban;
pub mod siret;

pub use bic::Bic;
pub use centimes::Centimes;
pub use code_insee::CodeInsee;
pub use code_postal::CodePostal;
pub use iban::Iban;
pub use siret::{Pivot, Siret};
