//! The reasons a cheque is accepted or refused: stable keys, HTTP statuses, French messages.

/// Why a cheque is, or is not, accepted. The keys are a public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Motif {
    Valide,
    CodeMalSaisi,
    ChequeInconnu,
    ChequeAnnule,
    DejaEncaisse,
    CarnetNonRemis,
    ChequeNonActif,
    PasEncoreValable,
    ChequeExpire,
    LieuNonQualifie,
    HorsPerimetre,
    ServiceInconnu,
    ServiceNonPropose,
    ServiceNonAutorise,
    PlafondAtteint,
    CleIdempotenceReutilisee,
    /// The redemption made with this idempotency key was cancelled since.
    EncaissementAnnule,
}

impl Motif {
    pub const ALL: [Motif; 17] = [
        Motif::Valide,
        Motif::CodeMalSaisi,
        Motif::ChequeInconnu,
        Motif::ChequeAnnule,
        Motif::DejaEncaisse,
        Motif::CarnetNonRemis,
        Motif::ChequeNonActif,
        Motif::PasEncoreValable,
        Motif::ChequeExpire,
        Motif::LieuNonQualifie,
        Motif::HorsPerimetre,
        Motif::ServiceInconnu,
        Motif::ServiceNonPropose,
        Motif::ServiceNonAutorise,
        Motif::PlafondAtteint,
        Motif::CleIdempotenceReutilisee,
        Motif::EncaissementAnnule,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Motif::Valide => "valide",
            Motif::CodeMalSaisi => "code_mal_saisi",
            Motif::ChequeInconnu => "cheque_inconnu",
            Motif::ChequeAnnule => "cheque_annule",
            Motif::DejaEncaisse => "deja_encaisse",
            Motif::CarnetNonRemis => "carnet_non_remis",
            Motif::ChequeNonActif => "cheque_non_actif",
            Motif::PasEncoreValable => "pas_encore_valable",
            Motif::ChequeExpire => "cheque_expire",
            Motif::LieuNonQualifie => "lieu_non_qualifie",
            Motif::HorsPerimetre => "hors_perimetre",
            Motif::ServiceInconnu => "service_inconnu",
            Motif::ServiceNonPropose => "service_non_propose",
            Motif::ServiceNonAutorise => "service_non_autorise",
            Motif::PlafondAtteint => "plafond_atteint",
            Motif::CleIdempotenceReutilisee => "cle_idempotence_reutilisee",
            Motif::EncaissementAnnule => "encaissement_annule",
        }
    }

    /// The HTTP status of a redemption refused for this reason.
    pub fn status(self) -> u16 {
        match self {
            Motif::Valide => 201,
            Motif::CodeMalSaisi | Motif::ServiceInconnu | Motif::CleIdempotenceReutilisee => 422,
            Motif::ChequeInconnu => 404,
            Motif::ChequeAnnule | Motif::ChequeExpire => 410,
            Motif::DejaEncaisse
            | Motif::CarnetNonRemis
            | Motif::ChequeNonActif
            | Motif::PasEncoreValable
            | Motif::EncaissementAnnule => 409,
            Motif::LieuNonQualifie | Motif::HorsPerimetre | Motif::ServiceNonPropose | Motif::ServiceNonAutorise => 403,
            Motif::PlafondAtteint => 429,
        }
    }

    /// A general message (the verdicts carry the precise one, with dates).
    pub fn message(self) -> &'static str {
        match self {
            Motif::Valide => "Chèque valable",
            Motif::CodeMalSaisi => "Code mal saisi : vérifiez les caractères",
            Motif::ChequeInconnu => "Ce chèque n'existe pas",
            Motif::ChequeAnnule => "Ce chèque a été annulé (carnet déclaré perdu ou commande annulée)",
            Motif::DejaEncaisse => "Chèque déjà encaissé",
            Motif::CarnetNonRemis => "Ce carnet n'a pas encore été remis à un bénéficiaire",
            Motif::ChequeNonActif => "Ce chèque n'est pas encore actif : sa commande n'est pas payée",
            Motif::PasEncoreValable => "Ce chèque n'est pas encore valable",
            Motif::ChequeExpire => "Ce chèque a expiré",
            Motif::LieuNonQualifie => "Ce lieu n'est pas qualifié pour le Pass Numérique",
            Motif::HorsPerimetre => {
                "Ce chèque n'est pas valable dans ce lieu : il est hors du territoire de la commande"
            }
            Motif::ServiceInconnu => "Service inconnu : choisissez un service de la liste nationale",
            Motif::ServiceNonPropose => "Ce lieu ne propose pas ce service",
            Motif::ServiceNonAutorise => "Ce service n'est pas couvert par ce chèque",
            Motif::PlafondAtteint => "Plafond atteint : trop de chèques d'un même carnet aujourd'hui dans ce lieu",
            Motif::CleIdempotenceReutilisee => {
                "Cette clé d'idempotence a déjà servi pour une autre demande (autre chèque ou autre service)"
            }
            Motif::EncaissementAnnule => {
                "L'encaissement fait avec cette clé d'idempotence a été annulé : le chèque n'est pas encaissé. \
                 Pour l'encaisser de nouveau, envoyez une nouvelle clé"
            }
        }
    }
}
