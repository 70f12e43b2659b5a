//! The tamper-evident journal.
//!
//! Each entry's hash is SHA-256 over the previous entry's hash followed by the
//! entry's canonical serialisation ([`canonical`]). The first entry links to
//! [`genesis`]. Checkpoints, numbered and chained ([`checkpoint`]), sign the
//! head hash and the hashes of the entries since the previous checkpoint with
//! the deployment's Ed25519 key; the latest one is published (the signed head,
//! [`tete`]) so that witnesses outside the deployment keep it.
//! The database refuses UPDATE and DELETE on both tables (triggers, see migrations).

mod chain;
pub mod checkpoint;
mod reader;
mod store;
pub mod tete;
mod verifier;

#[cfg(test)]
mod format_tests;
#[cfg(test)]
mod reader_tests;

pub use chain::{canonical, entry_hash, genesis, stored_hash, write_canonical, RawBatch, StoredEntry};
pub use checkpoint::{checkpoint_message, checkpoint_message_v2, sign_checkpoint, CheckpointRef};
pub use store::{
    append, append_all, checkpoint_head, checkpoints, entries, latest_checkpoint, verify, VerifyReport,
    CHECKPOINT_EVERY,
};
pub use verifier::{Break, ChainVerifier};

use serde_json::Value;

/// Who did an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The platform itself (command line, scheduled job, demo data).
    System,
    /// Nobody identified yet (e.g. a failed login).
    Anonymous,
    /// A signed-in account, with its role at the time.
    Account { id: i64, role: String },
    /// A place's software, by its API key.
    ApiKey { id: i64 },
    /// An usager in his own space (signed in with FranceConnect); entries
    /// also name him as the subject `usager:ID`.
    Usager { id: i64 },
}

impl Actor {
    pub fn account_id(&self) -> Option<i64> {
        match self {
            Actor::Account { id, .. } => Some(*id),
            _ => None,
        }
    }

    pub fn role(&self) -> &str {
        match self {
            Actor::System => "systeme",
            Actor::Anonymous => "anonyme",
            Actor::Account { role, .. } => role,
            Actor::ApiKey { .. } => "cle_api",
            Actor::Usager { .. } => "usager",
        }
    }
}

/// An entry to append. `subjects` are references such as `compte:12`; `details`
/// must hold no personal data in clear (use [`crate::keys::Keys::pseudonym`]).
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub actor: Actor,
    pub action: &'static str,
    pub subjects: Vec<String>,
    pub details: Value,
}

impl NewEntry {
    pub fn new(actor: Actor, action: &'static str) -> Self {
        NewEntry {
            actor,
            action,
            subjects: Vec::new(),
            details: Value::Object(Default::default()),
        }
    }

    pub fn subject(mut self, kind: &str, id: impl std::fmt::Display) -> Self {
        self.subjects.push(format!("{kind}:{id}"));
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// Action keys written so far. Keep them stable: reports and scripts filter on them.
pub mod actions {
    pub const LOGIN: &str = "connexion";
    /// A copy of the whole SQLite database (`passerelle sauvegarde`).
    pub const BACKUP: &str = "base.sauvegarde";
    pub const LOGIN_FAILED: &str = "connexion.echec";
    pub const LOGIN_LOCKED: &str = "connexion.verrouillage";
    pub const LOGOUT: &str = "deconnexion";
    /// Every session of an account closed at its owner's request.
    pub const LOGOUT_EVERYWHERE: &str = "deconnexion.partout";
    pub const TOTP_ENROLLED: &str = "totp.active";
    pub const TOTP_REMOVED: &str = "totp.retire";
    pub const TOTP_FAILED: &str = "totp.echec";
    pub const PASSWORD_CHANGED: &str = "compte.mot_de_passe";
    pub const ACCOUNT_CREATED: &str = "compte.creation";
    pub const ACCOUNT_DEACTIVATED: &str = "compte.desactivation";
    pub const ACCOUNT_REACTIVATED: &str = "compte.reactivation";
    pub const PASSWORD_RESET: &str = "compte.reinitialisation_mot_de_passe";
    pub const TOTP_RESET: &str = "totp.reinitialise";
    pub const ORGANISATION_CREATED: &str = "organisation.creation";
    pub const CHECKPOINT: &str = "journal.point_de_controle";
    pub const DEMO_LOADED: &str = "demo.chargement";
    pub const LIEUX_IMPORT: &str = "lieux.import";
    pub const LIEUX_EDIT: &str = "lieux.modification";
    /// Two records of one place merged into one (`passerelle lieux fusionner`).
    pub const LIEUX_MERGE: &str = "lieux.fusion";
    pub const HUB_TERRITORY: &str = "hub.territoire";
    pub const ORDER_CREATED: &str = "commande.creation";
    pub const ORDER_ACCEPTED: &str = "commande.acceptation";
    pub const ORDER_INVOICED: &str = "commande.facturation";
    pub const ORDER_PAID: &str = "commande.paiement";
    pub const ORDER_ISSUED: &str = "commande.emission";
    pub const BOOKLETS_ALLOTTED: &str = "carnets.attribution";
    pub const CODES_PRINTED: &str = "carnets.impression";
    pub const BOOKLET_HANDED_OUT: &str = "carnet.remise";
    pub const BOOKLET_LOST: &str = "carnet.perte";
    pub const HAND_OUTS_STOPPED: &str = "commande.remises";
    pub const CHEQUES_EXPIRED: &str = "cheques.expiration";
    pub const CHEQUE_REDEEMED: &str = "cheque.encaissement";
    pub const REDEMPTION_CANCELLED: &str = "cheque.annulation_encaissement";
    pub const PLACE_QUALIFIED: &str = "lieu.qualification";
    pub const QUALIFICATIONS_IMPORTED: &str = "lieux.import_qualifications";
    pub const QUALIFICATION_APPLICATION: &str = "qualification.demande";
    pub const QUALIFICATION_DOCUMENT: &str = "qualification.piece";
    pub const QUALIFICATION_FILED: &str = "qualification.depot";
    pub const QUALIFICATION_DECIDED: &str = "qualification.decision";
    pub const QUALIFICATION_SUSPENDED: &str = "qualification.suspension";
    pub const QUALIFICATION_WITHDRAWN: &str = "qualification.retrait";
    pub const QUALIFICATION_REINSTATED: &str = "qualification.retablissement";
    pub const REVIEW_DELEGATED: &str = "hub.delegation_instruction";
    pub const OIDC_CLIENT_CREATED: &str = "oidc.service_enregistre";
    pub const OIDC_KEY_ROTATED: &str = "oidc.rotation_cle";
    pub const OIDC_CODE_REPLAYED: &str = "oidc.code_rejoue";
    /// An online service read an usager's identity with his mandate (userinfo).
    pub const MANDATE_USED: &str = "mandat.utilisation";
    pub const BANK_DETAILS_SUBMITTED: &str = "lieu.changement_coordonnees_bancaires";
    pub const BANK_DETAILS_REFUSED: &str = "lieu.coordonnees_bancaires_refusees";
    pub const BANK_DETAILS_VALIDATED: &str = "lieu.coordonnees_bancaires";
    pub const OPERATOR_ACCOUNT_SET: &str = "reglement.compte_operateur";
    pub const SETTLEMENT_RUN: &str = "reglement.generation";
    pub const BATCH_SENT: &str = "reglement.lot_envoye";
    pub const BATCH_EXECUTED: &str = "reglement.lot_execute";
    pub const TRANSFER_REJECTED: &str = "reglement.virement_rejete";
    pub const API_KEY_CREATED: &str = "cle_api.creation";
    pub const API_KEY_REVOKED: &str = "cle_api.revocation";
    pub const FRANCECONNECT_IDENTIFICATION: &str = "franceconnect.identification";
    pub const FRANCECONNECT_REFUSAL: &str = "franceconnect.refus";
    pub const FRANCECONNECT_LOGOUT: &str = "franceconnect.deconnexion";
    pub const USAGER_SIGNIN: &str = "usager.connexion";
    pub const USAGER_SIGNOUT: &str = "usager.deconnexion";
    pub const ACTIVITE_CREATED: &str = "activite.creation";
    pub const ACTIVITE_EDITED: &str = "activite.modification";
    pub const ACTIVITE_DELETED: &str = "activite.suppression";
    pub const CORRECTION_PROPOSED: &str = "lieu.correction_proposee";
    pub const CORRECTION_ACCEPTED: &str = "lieu.correction_acceptee";
    pub const CORRECTION_REFUSED: &str = "lieu.correction_refusee";
    pub const RESSOURCE_CREATED: &str = "ressource.creation";
    pub const RESSOURCE_EDITED: &str = "ressource.modification";
    pub const RESSOURCE_PUBLISHED: &str = "ressource.publication";
    pub const RESSOURCE_UNPUBLISHED: &str = "ressource.depublication";
    pub const RESSOURCE_DELETED: &str = "ressource.suppression";
    pub const RESSOURCE_FILE_ADDED: &str = "ressource.fichier_ajout";
    pub const RESSOURCE_FILE_REMOVED: &str = "ressource.fichier_retrait";
}
