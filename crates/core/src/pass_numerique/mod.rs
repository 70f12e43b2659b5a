//! Pass Numérique: orders, booklets and cheques, hand-out, check and redeem.

pub mod code;
pub mod model;
