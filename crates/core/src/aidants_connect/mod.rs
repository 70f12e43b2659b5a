//! Aidants Connect, the whole family: structures and aidants (this file's
//! modules), the usager's identification with FranceConnect (`franceconnect`),
//! mandates (`mandats`), the usager's own space (`usagers`) and the OpenID
//! Connect provider for public online services (`oidc_provider`).
//!
//! Structures and aidants: habilitation requests of
//! structures and their review by the opérateur, the allowed démarches, the
//! aidants' invitations and memberships (an aidant may belong to several
//! structures, joins one only by accepting, and chooses the current one),
//! training and activation, TOTP devices (app or physical
//! card), the login link by e-mail, the fresh-TOTP check of sensitive steps,
//! and the deactivation of unused accounts.

pub mod aidants;
pub mod authz;
pub mod cards;
pub mod demarches;
pub mod franceconnect;
pub mod fresh;
pub mod inactivity;
pub mod invitations;
pub mod magic_link;
pub mod mandats;
pub mod oidc_provider;
pub mod review;
pub mod structures;
pub mod usagers;

/// Journal action keys of this module (stable: reports filter on them).
pub mod actions {
    pub const REQUEST_FILED: &str = "habilitation.demande";
    pub const REQUEST_CHANGED: &str = "habilitation.modification";
    pub const REQUEST_DECIDED: &str = "habilitation.decision";
    pub const AIDANT_INVITED: &str = "aidant.invitation";
    /// The invited person accepted: the (inactive) membership exists from then on.
    pub const AIDANT_ACCEPTED: &str = "aidant.acceptation";
    pub const AIDANT_DECLINED: &str = "aidant.refus";
    pub const AIDANT_TRAINED: &str = "aidant.formation";
    pub const AIDANT_ACTIVATED: &str = "aidant.activation";
    pub const AIDANT_DEACTIVATED: &str = "aidant.desactivation";
    pub const CURRENT_STRUCTURE: &str = "aidant.structure_courante";
    pub const CARDS_IMPORTED: &str = "cartes_totp.import";
    pub const CARD_ASSIGNED: &str = "aidant.carte_totp";
    pub const APP_ENROLLED: &str = "aidant.application_totp";
    pub const LOGIN_LINK_SENT: &str = "connexion.lien_envoye";
    pub const LOGIN_LINK_USED: &str = "connexion.lien_utilise";
    pub const TOTP_RECHECKED: &str = "totp.verification_recente";
    pub const INACTIVITY_WARNED: &str = "compte.avertissement_inactivite";
    pub const INACTIVITY_DEACTIVATED: &str = "compte.desactivation_inactivite";
}
