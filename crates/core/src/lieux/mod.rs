//! Lieux de médiation numérique: the directory, in the national standard.

pub mod vocabulaires;
pub mod model;
pub mod schema;

pub use model::Lieu;
pub mod validate;
