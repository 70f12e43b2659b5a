//! A place's application for the Pass Numérique: its typed parts, the
//! supporting documents it needs, and what is still missing before it can be
//! filed.

use serde::{Deserialize, Serialize};

use crate::accounts::Email;
use crate::identifiants::{Bic, Iban, Siret};
use crate::lieux::vocabulaires::{PublicsSpecifiquementAdresses, Services};
use crate::reglements::bank;

/// States of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationState {
    Brouillon,
    Deposee,
    AModifier,
    Approuvee,
    Refusee,
}

crate::texte_en_base!(
    ApplicationState,
    ApplicationState::from_key,
    ApplicationState::key,
    "état de demande de qualification"
);

impl ApplicationState {
    pub const ALL: [ApplicationState; 5] = [
        ApplicationState::Brouillon,
        ApplicationState::Deposee,
        ApplicationState::AModifier,
        ApplicationState::Approuvee,
        ApplicationState::Refusee,
    ];

    /// The value stored in the database.
    pub fn key(self) -> &'static str {
        match self {
            ApplicationState::Brouillon => "brouillon",
            ApplicationState::Deposee => "deposee",
            ApplicationState::AModifier => "a_modifier",
            ApplicationState::Approuvee => "approuvee",
            ApplicationState::Refusee => "refusee",
        }
    }

    pub fn from_key(key: &str) -> Option<ApplicationState> {
        ApplicationState::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            ApplicationState::Brouillon => "Brouillon",
            ApplicationState::Deposee => "Déposée, en cours d'instruction",
            ApplicationState::AModifier => "Modifications demandées",
            ApplicationState::Approuvee => "Approuvée",
            ApplicationState::Refusee => "Refusée",
        }
    }

    /// Still in progress: at most one such application per place.
    pub fn in_progress(self) -> bool {
        matches!(
            self,
            ApplicationState::Brouillon | ApplicationState::Deposee | ApplicationState::AModifier
        )
    }

    /// The place may still change it.
    pub fn editable(self) -> bool {
        matches!(self, ApplicationState::Brouillon | ApplicationState::AModifier)
    }
}

/// States of a qualification: only an active one lets the place redeem cheques.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QualificationState {
    Active,
    Suspendue,
    Retiree,
}

crate::texte_en_base!(
    QualificationState,
    QualificationState::from_key,
    QualificationState::key,
    "état de qualification"
);

impl QualificationState {
    pub const ALL: [QualificationState; 3] = [
        QualificationState::Active,
        QualificationState::Suspendue,
        QualificationState::Retiree,
    ];

    /// The value stored in the database.
    pub fn key(self) -> &'static str {
        match self {
            QualificationState::Active => "active",
            QualificationState::Suspendue => "suspendue",
            QualificationState::Retiree => "retiree",
        }
    }

    pub fn from_key(key: &str) -> Option<QualificationState> {
        QualificationState::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            QualificationState::Active => "Qualifié",
            QualificationState::Suspendue => "Qualification suspendue",
            QualificationState::Retiree => "Qualification retirée",
        }
    }
}

/// Kinds of structure of the eligibility questionnaire.
pub const STRUCTURE_KINDS: [&str; 6] = [
    "Association",
    "Collectivité territoriale",
    "Établissement public",
    "Entreprise de l'économie sociale et solidaire",
    "Entreprise",
    "Autre",
];

/// Supporting documents: (key, label, required).
pub const DOCUMENT_KINDS: [(&str, &str, bool); 4] = [
    ("kbis_statuts", "Extrait Kbis ou statuts", true),
    ("assurance", "Attestation d'assurance", true),
    ("rib", "Relevé d'identité bancaire", true),
    ("autre", "Autre pièce", false),
];

pub fn document_label(kind: &str) -> &'static str {
    DOCUMENT_KINDS
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map(|(_, l, _)| *l)
        .unwrap_or("Pièce")
}

/// Largest supporting document, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;
/// Documents per application.
pub const MAX_DOCUMENTS: i64 = 12;
/// Services in a catalogue.
pub const MAX_SERVICES: usize = 12;
/// Longest free text kept from a form field.
pub const MAX_TEXT: usize = 2000;

/// The type of an uploaded file, read from its first bytes (never from its
/// name or from what the browser says): PDF, PNG or JPEG only.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// A file name safe to show and to send back: no path, no control or quoting
/// characters, 100 characters at most.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\'' | ';' | '<' | '>' | '`'))
        .take(100)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        "piece".into()
    } else {
        clean
    }
}

/// The eligibility questionnaire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Questionnaire {
    pub type_structure: String,
    /// The digital-help activity, in the place's words.
    pub activite: String,
    /// Mediators on the team, as typed.
    pub mediateurs: String,
    pub horaires: String,
    pub accessibilite: String,
    /// Publics welcomed, as the standard names them.
    pub publics: Vec<String>,
}

/// One line of the service catalogue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceOffer {
    /// A service of the places standard.
    pub service: String,
    /// For whom, in the place's words.
    pub publics: String,
    /// Length of a session, in minutes, as typed.
    pub duree_minutes: String,
    /// Cheques a session is worth, as typed.
    pub cheques: String,
}

/// What the place types; kept as typed until it files the application.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    pub siret: String,
    pub raison_sociale: String,
    pub forme_juridique: String,
    pub adresse: String,
    pub representant_nom: String,
    pub representant_qualite: String,
    pub representant_courriel: String,
    pub charte: bool,
    pub questionnaire: Questionnaire,
    pub services: Vec<ServiceOffer>,
    pub iban: String,
    pub bic: String,
    pub titulaire: String,
}

fn cap(s: &str) -> String {
    s.trim().chars().take(MAX_TEXT).collect()
}

impl Draft {
    /// Trims every field and caps its length; drops empty catalogue lines.
    pub fn tidy(mut self) -> Draft {
        for f in [
            &mut self.siret,
            &mut self.raison_sociale,
            &mut self.forme_juridique,
            &mut self.adresse,
            &mut self.representant_nom,
            &mut self.representant_qualite,
            &mut self.representant_courriel,
            &mut self.iban,
            &mut self.bic,
            &mut self.titulaire,
        ] {
            *f = cap(f);
        }
        let q = &mut self.questionnaire;
        for f in [
            &mut q.type_structure,
            &mut q.activite,
            &mut q.mediateurs,
            &mut q.horaires,
            &mut q.accessibilite,
        ] {
            *f = cap(f);
        }
        q.publics
            .retain(|p| PublicsSpecifiquementAdresses::from_label(p).is_some());
        q.publics.dedup();
        self.services = self
            .services
            .into_iter()
            .map(|s| ServiceOffer {
                service: cap(&s.service),
                publics: cap(&s.publics),
                duree_minutes: cap(&s.duree_minutes),
                cheques: cap(&s.cheques),
            })
            .filter(|s| !(s.service.is_empty() && s.duree_minutes.is_empty() && s.cheques.is_empty()))
            .take(MAX_SERVICES)
            .collect();
        self
    }
}

/// A checked catalogue line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offer {
    pub service: String,
    pub publics: String,
    pub duree_minutes: i64,
    pub cheques: i64,
}

/// The filed form of a draft: normalised SIRET, IBAN and BIC, and the checked catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    pub siret: Siret,
    pub iban: Iban,
    pub bic: Bic,
    pub titulaire: String,
    pub representant_courriel: String,
    pub offers: Vec<Offer>,
}

fn whole(text: &str, min: i64, max: i64) -> Option<i64> {
    text.trim().parse::<i64>().ok().filter(|n| (min..=max).contains(n))
}

/// Everything that stops a draft from being filed (in French, all at once),
/// or its filed form. `documents` are the kinds of the documents attached.
pub fn check(d: &Draft, documents: &[String]) -> Result<Filed, Vec<String>> {
    let mut problems = Vec::new();
    fn need(problems: &mut Vec<String>, ok: bool, what: &str) {
        if !ok {
            problems.push(what.to_string());
        }
    }
    let siret = Siret::parse(&d.siret).map_err(|e| e.to_string());
    if let Err(e) = &siret {
        problems.push(format!("SIRET : {e}"));
    }
    need(
        &mut problems,
        !d.raison_sociale.is_empty(),
        "la raison sociale est à renseigner",
    );
    need(
        &mut problems,
        !d.forme_juridique.is_empty(),
        "la forme juridique est à renseigner",
    );
    need(
        &mut problems,
        !d.adresse.is_empty(),
        "l'adresse du siège est à renseigner",
    );
    need(
        &mut problems,
        !d.representant_nom.is_empty(),
        "le nom du représentant légal est à renseigner",
    );
    need(
        &mut problems,
        !d.representant_qualite.is_empty(),
        "la qualité du représentant légal est à renseigner",
    );
    let email = Email::parse(&d.representant_courriel);
    if email.is_err() {
        problems.push("l'adresse électronique du représentant légal est invalide".into());
    }
    need(
        &mut problems,
        d.charte,
        "la charte du Pass Numérique doit être acceptée par le représentant légal",
    );
    let q = &d.questionnaire;
    need(
        &mut problems,
        STRUCTURE_KINDS.contains(&q.type_structure.as_str()),
        "questionnaire : le type de structure est à choisir",
    );
    need(
        &mut problems,
        !q.activite.is_empty(),
        "questionnaire : l'activité d'accompagnement numérique est à décrire",
    );
    need(
        &mut problems,
        whole(&q.mediateurs, 1, 10_000).is_some(),
        "questionnaire : le nombre de médiateurs est un nombre entier d'au moins 1",
    );
    need(
        &mut problems,
        !q.horaires.is_empty(),
        "questionnaire : les horaires d'ouverture sont à renseigner",
    );
    need(
        &mut problems,
        !q.accessibilite.is_empty(),
        "questionnaire : l'accessibilité du lieu est à décrire",
    );
    need(
        &mut problems,
        !q.publics.is_empty(),
        "questionnaire : choisissez au moins un public accueilli",
    );
    let mut offers = Vec::new();
    for (i, s) in d.services.iter().enumerate() {
        let n = i + 1;
        let service = Services::from_label(&s.service);
        let minutes = whole(&s.duree_minutes, 15, 480);
        let cheques = whole(&s.cheques, 1, 10);
        if service.is_none() {
            problems.push(format!("service n° {n} : choisissez un service du référentiel"));
        }
        if minutes.is_none() {
            problems.push(format!(
                "service n° {n} : la durée d'une séance est un nombre de minutes entre 15 et 480"
            ));
        }
        if cheques.is_none() {
            problems.push(format!(
                "service n° {n} : le nombre de chèques par séance est un entier entre 1 et 10"
            ));
        }
        if let (Some(service), Some(duree_minutes), Some(cheques)) = (service, minutes, cheques) {
            offers.push(Offer {
                service: service.label().to_string(),
                publics: s.publics.clone(),
                duree_minutes,
                cheques,
            });
        }
    }
    need(
        &mut problems,
        !d.services.is_empty(),
        "le catalogue doit proposer au moins un service",
    );
    for (kind, label, required) in DOCUMENT_KINDS {
        if required && !documents.iter().any(|k| k == kind) {
            problems.push(format!("pièce justificative manquante : {label}"));
        }
    }
    let iban = Iban::parse(&d.iban).map_err(|e| e.to_string());
    let bic = Bic::parse(&d.bic).map_err(|e| e.to_string());
    let holder = bank::parse_holder(&d.titulaire).map_err(|e| e.to_string());
    for e in [iban.as_ref().err(), bic.as_ref().err(), holder.as_ref().err()]
        .into_iter()
        .flatten()
    {
        problems.push(format!("coordonnées bancaires : {e}"));
    }
    match (siret, iban, bic, holder, email) {
        (Ok(siret), Ok(iban), Ok(bic), Ok(titulaire), Ok(email)) if problems.is_empty() => Ok(Filed {
            siret,
            iban,
            bic,
            titulaire,
            representant_courriel: email.as_str().to_string(),
            offers,
        }),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn complete() -> Draft {
        Draft {
            siret: "732 829 320 00074".into(),
            raison_sociale: "Association Clic".into(),
            forme_juridique: "Association loi 1901".into(),
            adresse: "1 rue de la Paix, 33000 Bordeaux".into(),
            representant_nom: "Awa Diallo".into(),
            representant_qualite: "Présidente".into(),
            representant_courriel: "Awa.Diallo@example.org".into(),
            charte: true,
            questionnaire: Questionnaire {
                type_structure: "Association".into(),
                activite: "Ateliers".into(),
                mediateurs: "3".into(),
                horaires: "Lundi 9h-12h".into(),
                accessibilite: "Plain-pied".into(),
                publics: vec!["Seniors".into()],
            },
            services: vec![ServiceOffer {
                service: "Aide aux démarches administratives".into(),
                publics: "Tous".into(),
                duree_minutes: "60".into(),
                cheques: "1".into(),
            }],
            iban: "FR76 3000 6000 0112 3456 7890 189".into(),
            bic: "agrifrpp".into(),
            titulaire: "Association Clic".into(),
        }
    }

    fn docs() -> Vec<String> {
        vec!["kbis_statuts".into(), "assurance".into(), "rib".into()]
    }

    #[test]
    fn a_complete_application_is_filed_in_normal_form() {
        let f = check(&complete().tidy(), &docs()).unwrap();
        assert_eq!(f.siret.as_str(), "73282932000074");
        assert_eq!(f.iban.as_str(), "FR7630006000011234567890189");
        assert_eq!(f.bic.as_str(), "AGRIFRPP");
        assert_eq!(f.representant_courriel, "awa.diallo@example.org");
        assert_eq!(f.offers[0].duree_minutes, 60);
    }

    #[test]
    fn every_gap_is_reported_at_once() {
        let mut d = complete();
        d.siret = "73282932000075".into();
        d.charte = false;
        d.services[0].cheques = "0".into();
        d.iban = "FR7630006000011234567890180".into();
        let problems = check(&d.tidy(), &docs()[..2]).unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("SIRET")));
        assert!(problems.iter().any(|p| p.contains("charte")));
        assert!(problems.iter().any(|p| p.contains("chèques par séance")));
        assert!(problems.iter().any(|p| p.contains("Relevé d'identité bancaire")));
        assert!(problems.iter().any(|p| p.starts_with("coordonnées bancaires")));
        assert!(check(&Draft::default(), &[]).unwrap_err().len() > 15);
    }

    #[test]
    fn files_are_recognised_by_content_and_names_are_made_safe() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nxx"), Some("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("C:\\x\\statuts \"v2\".pdf"), "statuts v2.pdf");
        assert_eq!(safe_file_name("..."), "piece");
    }

    #[test]
    fn tidy_drops_empty_lines_and_unknown_publics() {
        let mut d = complete();
        d.services.push(ServiceOffer::default());
        d.questionnaire.publics.push("Martiens".into());
        let d = d.tidy();
        assert_eq!(d.services.len(), 1);
        assert_eq!(d.questionnaire.publics, vec!["Seniors".to_string()]);
    }
}
