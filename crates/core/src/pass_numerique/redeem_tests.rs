//! The redemption rules, in the brief's order, on a cheque row and a place
//! built here: each rule's boundary and each refusal's place in the order.

use jiff::civil::{date, Date};

use super::*;
use crate::pass_numerique::model::Territory;

const DEMARCHES: &str = "Aide aux démarches administratives";
const LOISIRS: &str = "Loisirs et créations numériques";

/// An active cheque of 10,50 € handed out, valid from 1 to 31 December 2026
/// with 5 days of tolerance, in Gironde, for any service.
fn cheque() -> ChequeRow {
    ChequeRow {
        id: 1,
        carnet_id: 7,
        commande_id: 3,
        valeur_centimes: Centimes::new(1050),
        etat: ChequeState::Actif,
        remis_at: Some(1),
        debut: "2026-12-01".into(),
        fin: "2026-12-31".into(),
        tolerance_jours: 5,
        perimetre: Perimetre::from(vec![Territory::Departement("33".into())]),
        services: ListeServices::default(),
        plafond_jour: 3,
        encaisse_jour: None,
        encaisse_at: None,
        encaisse_lieu: None,
    }
}

fn place() -> Place {
    Place {
        id: 12,
        ext_id: "lieu-12".into(),
        nom: "Médiathèque".into(),
        code_insee: "33063".into(),
        departement: "33".into(),
        services: ListeServices::parse(DEMARCHES).unwrap_or_default(),
        organisation_id: None,
    }
}

const DAY: Date = date(2026, 12, 6);

fn at_place(r: &ChequeRow, service: Option<&str>, today: Date) -> Verdict {
    rules(Some(r), Some((&place(), true)), service, today)
}

#[test]
fn a_valid_cheque_says_its_value_and_last_day() {
    let v = at_place(&cheque(), Some(DEMARCHES), DAY);
    assert_eq!(
        v,
        Verdict {
            valide: true,
            motif: Motif::Valide,
            message: "Chèque valable : 10,50 €, jusqu'au 05/01/2027".into(),
            valeur_centimes: Some(Centimes::new(1050)),
            fin_validite: Some("2027-01-05".into()),
            services_autorises: Vec::new(),
        }
    );
    // An order that pays for some services only says which, valid or refused.
    let mut only = cheque();
    only.services = ListeServices::parse(&format!("{DEMARCHES}|{LOISIRS}")).unwrap_or_default();
    let v = at_place(&only, Some(DEMARCHES), DAY);
    assert!(v.valide);
    assert_eq!(v.services_autorises, [DEMARCHES, LOISIRS]);
    let refused = at_place(&only, Some(LOISIRS), DAY);
    assert_eq!(
        (refused.motif, refused.services_autorises),
        (Motif::ServiceNonPropose, vec![DEMARCHES, LOISIRS])
    );
    // Without a service (a check before choosing one), and on the holder's page (no place).
    assert!(at_place(&cheque(), None, DAY).valide);
    assert!(rules(Some(&cheque()), None, None, DAY).valide);
}

#[test]
fn the_first_and_last_days_are_included() {
    let c = cheque();
    let motif = |today| at_place(&c, None, today).motif;
    assert_eq!(motif(date(2026, 11, 30)), Motif::PasEncoreValable);
    assert_eq!(motif(date(2026, 12, 1)), Motif::Valide);
    assert_eq!(motif(date(2027, 1, 5)), Motif::Valide, "last day of the tolerance");
    assert_eq!(motif(date(2027, 1, 6)), Motif::ChequeExpire);
    assert_eq!(
        at_place(&c, None, date(2026, 11, 30)).message,
        "Ce chèque n'est valable qu'à partir du 01/12/2026"
    );
    assert_eq!(
        at_place(&c, None, date(2027, 1, 6)).message,
        "Ce chèque a expiré le 05/01/2027"
    );
    let mut none = cheque();
    none.tolerance_jours = 0;
    assert_eq!(at_place(&none, None, date(2027, 1, 1)).motif, Motif::ChequeExpire);
    assert_eq!(at_place(&none, None, date(2026, 12, 31)).motif, Motif::Valide);
}

#[test]
fn each_refusal_has_its_motif_and_the_cheque_value() {
    let refused = |r: ChequeRow, service: Option<&str>| at_place(&r, service, DAY);
    let with = |f: fn(&mut ChequeRow)| {
        let mut r = cheque();
        f(&mut r);
        r
    };
    let cases: [(ChequeRow, Option<&str>, Motif); 8] = [
        (with(|r| r.etat = ChequeState::Annule), None, Motif::ChequeAnnule),
        (with(|r| r.etat = ChequeState::Encaisse), None, Motif::DejaEncaisse),
        (with(|r| r.remis_at = None), None, Motif::CarnetNonRemis),
        (with(|r| r.etat = ChequeState::EnAttente), None, Motif::ChequeNonActif),
        (with(|r| r.etat = ChequeState::Expire), None, Motif::ChequeExpire),
        (cheque(), Some("Cours de cuisine"), Motif::ServiceInconnu),
        (cheque(), Some(LOISIRS), Motif::ServiceNonPropose),
        (
            with(|r| r.services = ListeServices::parse(LOISIRS).unwrap_or_default()),
            Some(DEMARCHES),
            Motif::ServiceNonAutorise,
        ),
    ];
    for (r, service, motif) in cases {
        let v = refused(r, service);
        assert_eq!((v.valide, v.motif), (false, motif), "{motif:?}");
        assert_eq!(v.valeur_centimes, Some(Centimes::new(1050)), "{motif:?}");
        assert_eq!(v.fin_validite.as_deref(), Some("2027-01-05"), "{motif:?}");
    }
    let unknown = rules(None, Some((&place(), true)), None, DAY);
    assert_eq!(
        (unknown.motif, unknown.valeur_centimes, unknown.fin_validite),
        (Motif::ChequeInconnu, None, None)
    );
    let v = rules(Some(&cheque()), Some((&place(), false)), None, DAY);
    assert_eq!(
        (v.motif, v.message.as_str()),
        (Motif::LieuNonQualifie, Motif::LieuNonQualifie.message())
    );
    // A service the cheque covers, named with blanks around it.
    let covered = with(|r| r.services = ListeServices::parse(DEMARCHES).unwrap_or_default());
    assert!(at_place(&covered, Some(" Aide aux démarches administratives "), DAY).valide);
}

#[test]
fn the_perimeter_is_the_departement_or_the_commune() {
    let mut elsewhere = place();
    elsewhere.departement = "24".into();
    elsewhere.code_insee = "24322".into();
    let v = rules(Some(&cheque()), Some((&elsewhere, true)), None, DAY);
    assert_eq!(v.motif, Motif::HorsPerimetre);
    let mut commune = cheque();
    commune.perimetre = Perimetre::from(vec![Territory::Commune("24322".into())]);
    assert!(rules(Some(&commune), Some((&elsewhere, true)), None, DAY).valide);
    assert_eq!(at_place(&commune, None, DAY).motif, Motif::HorsPerimetre);
}

#[test]
fn an_earlier_rule_wins_over_a_later_one() {
    // Cancelled and not handed out: cancelled. Handed out but pending and
    // expired: pending. Expired and out of the perimeter: expired.
    let mut r = cheque();
    r.etat = ChequeState::Annule;
    r.remis_at = None;
    assert_eq!(at_place(&r, None, DAY).motif, Motif::ChequeAnnule);
    let mut r = cheque();
    r.remis_at = None;
    r.etat = ChequeState::EnAttente;
    assert_eq!(at_place(&r, None, DAY).motif, Motif::CarnetNonRemis);
    let mut r = cheque();
    r.etat = ChequeState::EnAttente;
    assert_eq!(at_place(&r, None, date(2030, 1, 1)).motif, Motif::ChequeNonActif);
    let mut far = place();
    far.departement = "75".into();
    let v = rules(Some(&cheque()), Some((&far, false)), Some("inconnu"), date(2030, 1, 1));
    assert_eq!(v.motif, Motif::ChequeExpire);
    let v = rules(Some(&cheque()), Some((&far, false)), Some("inconnu"), DAY);
    assert_eq!(v.motif, Motif::LieuNonQualifie);
    let v = rules(Some(&cheque()), Some((&far, true)), Some("inconnu"), DAY);
    assert_eq!(v.motif, Motif::HorsPerimetre);
}

#[test]
fn an_already_redeemed_cheque_says_when_and_whether_here() {
    let mut r = cheque();
    r.etat = ChequeState::Encaisse;
    r.encaisse_jour = Some("2026-12-04".into());
    r.encaisse_lieu = Some(12);
    assert_eq!(
        at_place(&r, None, DAY).message,
        "Chèque déjà encaissé le 04/12/2026 dans votre lieu"
    );
    // With the time of the redemption (4 December 2026, 13:05 UTC = 14 h 05 in Paris), the
    // place that redeemed it reads it; another place and the holder read the day only.
    r.encaisse_at = Some(1_796_389_500_000_000);
    assert_eq!(
        at_place(&r, None, DAY).message,
        "Chèque déjà encaissé le 04/12/2026 à 14 h 05 dans votre lieu"
    );
    assert_eq!(
        rules(Some(&r), None, None, DAY).message,
        "Chèque déjà encaissé le 04/12/2026"
    );
    r.encaisse_lieu = Some(13);
    assert_eq!(at_place(&r, None, DAY).message, "Chèque déjà encaissé le 04/12/2026");
    assert_eq!(
        rules(Some(&r), None, None, DAY).message,
        "Chèque déjà encaissé le 04/12/2026"
    );
}

#[test]
fn an_order_without_a_readable_end_expires_its_cheques() {
    let mut r = cheque();
    r.fin = "31/12/2026".into();
    let v = at_place(&r, None, DAY);
    assert_eq!(
        (v.motif, v.message.as_str(), v.fin_validite),
        (Motif::ChequeExpire, "Ce chèque a expiré", None)
    );
}
