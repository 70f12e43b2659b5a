//! Territoire d'un hub : indicateurs, lieux à vérifier, corrections proposées.

pub(crate) mod corrections;
pub(crate) mod pages;
