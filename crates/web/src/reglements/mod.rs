//! Règlement mensuel des lieux : lots, virements SEPA, relevés.

pub(crate) mod pages;
