//! Tableaux de bord, graphiques et données ouvertes.

pub(crate) mod charts;
pub(crate) mod opendata;
pub(crate) mod operateur;
pub(crate) mod pages;
