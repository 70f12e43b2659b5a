//! Annuaire des lieux de médiation numérique : pages, recherche, API, import et modification.

pub(crate) mod admin;
pub(crate) mod api;
pub(crate) mod autour;
pub(crate) mod doublons;
pub(crate) mod pages;
