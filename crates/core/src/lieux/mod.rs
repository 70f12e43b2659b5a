//! Lieux de médiation numérique: the directory, in the national standard.

pub mod model;
pub mod schema;
pub mod vocabulaires;

pub use model::Lieu;
pub mod anciennes_valeurs;
pub mod authz;
pub mod data_inclusion;
pub mod doublons;
pub mod edit;
pub mod emprise;
pub mod export;
pub mod fuseau;
pub mod fusion;
pub mod geo;
pub mod horaires;
pub mod import;
pub mod import_rapport;
pub mod normalise;
pub mod read;
pub mod search;
pub mod store;
pub mod validate;
