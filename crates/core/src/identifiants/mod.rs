//! Typed identifiers, parsed once at the edge with one rule and one French
//! message each, shared by every domain.

pub mod siret;

pub use siret::{Pivot, Siret};
