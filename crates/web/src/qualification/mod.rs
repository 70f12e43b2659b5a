//! Qualification des lieux : demande du lieu, instruction, coordonnées bancaires.

pub(crate) mod instruction;
pub(crate) mod pages;
