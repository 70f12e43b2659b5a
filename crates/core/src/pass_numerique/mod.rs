//! Pass Numérique: orders, booklets and cheques, hand-out, check and redeem.

pub mod alerts;
pub mod authz;
pub mod booklets;
pub mod code;
pub mod documents_pdf;
pub mod expiry;
pub mod guichet;
pub mod issue;
pub mod model;
pub mod motif;
pub mod orders;
pub mod places;
pub mod print;
pub mod rapports;
pub mod redeem;
pub mod reports;
pub mod validation_groupee;
mod validation_lot;
