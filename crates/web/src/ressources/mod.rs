//! Centre de ressources : pages publiques et gestion par l'opérateur.

pub(crate) mod admin;
pub(crate) mod pages;
