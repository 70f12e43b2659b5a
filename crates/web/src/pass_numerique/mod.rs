//! Pass Numérique : chèques (vérification, encaissement, API), commandes, remise des carnets, rapports.

pub(crate) mod cheques;
pub(crate) mod cheques_api;
pub(crate) mod commandes;
pub(crate) mod commandes_admin;
pub(crate) mod rapports;
