//! Aidants Connect : connexion des aidants, habilitation, structures, mandats, FranceConnect (et son simulateur), espace usager, fournisseur OpenID Connect.

pub(crate) mod connexion;
pub(crate) mod espace_usager;
pub(crate) mod espace_usager_mandats;
pub(crate) mod fc_simulateur;
pub(crate) mod franceconnect;
pub(crate) mod habilitation;
pub(crate) mod instruction;
pub(crate) mod mandats;
pub(crate) mod mandats_actions;
pub(crate) mod oidc;
pub(crate) mod oidc_authorize;
pub(crate) mod referent;
pub(crate) mod structure;
