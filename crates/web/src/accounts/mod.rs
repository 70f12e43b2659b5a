//! Comptes : mon compte, déconnexion, espace opérateur (organisations et comptes).

pub(crate) mod compte;
pub(crate) mod deconnexion;
pub(crate) mod operateur;
pub(crate) mod pc_simulateur;
pub(crate) mod proconnect;
