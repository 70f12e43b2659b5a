//! Récapitulatifs mensuels par courriel : désabonnement.

pub(crate) mod pages;
