//! The digest as a plain-text French e-mail.

use super::chiffres::{Commanditaire, Compte, Hub, Ligne};
use super::mois::Mois;

/// `1234567` → `1 234 567` (no-break spaces, as French writes thousands).
pub use crate::format_fr::entier;

/// `750` minutes → `12 h 30`.
pub fn heures(minutes: i64) -> String {
    match minutes % 60 {
        0 => format!("{}\u{a0}h", entier(minutes / 60)),
        m => format!("{}\u{a0}h\u{a0}{m:02}", entier(minutes / 60)),
    }
}

fn compte(c: Compte) -> String {
    let s = if c.cheques > 1 { "s" } else { "" };
    format!("{} chèque{s} ({}\u{a0}€)", entier(c.cheques), c.centimes.euros())
}

fn ligne(out: &mut String, label: &str, l: Ligne) {
    out.push_str(&format!(
        "- {label} : {} ; depuis le début : {}\n",
        compte(l.mois),
        compte(l.cumul)
    ));
}

/// Subject of the digest of `m`.
pub fn sujet(m: &Mois) -> String {
    format!("Passerelle : votre récapitulatif de {}", m.libelle())
}

/// The part every digest ends with: where to see more, how to stop.
pub struct Liens<'a> {
    /// The page with the details (reports for a funder, qualification for a hub).
    pub page: &'a str,
    pub compte: &'a str,
    pub desabonnement: &'a str,
}

fn pied(out: &mut String, liens: &Liens<'_>) {
    out.push_str(&format!(
        "\nVous recevez ce récapitulatif une fois par mois parce que votre compte Passerelle y est abonné.\n\
         Pour ne plus le recevoir, sans vous connecter : {}\n\
         Vous pouvez aussi changer ce choix sur la page « Mon compte » : {}\n",
        liens.desabonnement, liens.compte
    ));
}

/// A funder's digest.
pub fn commanditaire(m: &Mois, r: &Commanditaire, liens: &Liens<'_>) -> String {
    let mut out = format!(
        "Bonjour,\n\nVoici le récapitulatif du Pass Numérique pour {} en {}.\n\n",
        r.organisation,
        m.libelle()
    );
    if r.commandes == 0 {
        out.push_str(&format!(
            "Aucune de vos commandes n'était émise au {}.\n",
            m.dernier_jour_libelle()
        ));
    } else {
        let s = if r.commandes > 1 { "s" } else { "" };
        out.push_str(&format!(
            "Vos commandes émises ({} commande{s} au {}), en {} :\n",
            entier(r.commandes),
            m.dernier_jour_libelle(),
            m.libelle()
        ));
        ligne(&mut out, "chèques émis", r.emis);
        ligne(&mut out, "chèques distribués (carnets remis)", r.distribues);
        ligne(&mut out, "chèques encaissés par les lieux", r.encaisses);
        ligne(&mut out, "chèques expirés", r.expires);
        out.push_str(&match r.taux_pour_mille() {
            Some(t) => format!(
                "\nTaux d'encaissement depuis le début (chèques encaissés sur chèques distribués) : {},{}\u{a0}%\n",
                t / 10,
                t % 10
            ),
            None => "\nTaux d'encaissement : aucun carnet n'a encore été remis.\n".to_string(),
        });
    }
    out.push_str(&format!("\nVos rapports détaillés : {}\n", liens.page));
    pied(&mut out, liens);
    out
}

/// A hub's digest.
pub fn hub(m: &Mois, r: &Hub, liens: &Liens<'_>) -> String {
    let mut out = format!(
        "Bonjour,\n\nVoici le récapitulatif de {} pour le territoire de {}.\n",
        m.libelle(),
        r.organisation
    );
    if r.departements.is_empty() {
        out.push_str("\nAucun département n'est encore rattaché à votre hub : demandez-le à l'opérateur.\n");
    }
    let mut all: Vec<_> = r.departements.iter().collect();
    if r.departements.len() > 1 {
        all.push(&r.total);
    }
    for d in all {
        let title = if d.code.is_empty() {
            format!("Ensemble de vos {} départements", r.departements.len())
        } else if d.nom.is_empty() {
            format!("Département {}", d.code)
        } else {
            format!("{} — {}", d.code, d.nom)
        };
        out.push_str(&format!(
            "\n{title}\n\
             - lieux de médiation numérique : {} (dont {} qualifiés pour le Pass Numérique)\n\
             - demandes de qualification déposées en {} : {}\n\
             - accompagnements enregistrés en {} : {} ({} ; {} {})\n\
             - chèques encaissés en {} dans ces lieux : {}\n",
            entier(d.lieux),
            entier(d.lieux_qualifies),
            m.libelle(),
            entier(d.demandes),
            m.libelle(),
            entier(d.accompagnements),
            heures(d.minutes),
            entier(d.personnes),
            if d.personnes > 1 {
                "personnes accompagnées"
            } else {
                "personne accompagnée"
            },
            m.libelle(),
            compte(d.encaisses),
        ));
    }
    out.push_str(&format!(
        "\nLes lieux et demandes de votre territoire : {}\n",
        liens.page
    ));
    pied(&mut out, liens);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifiants::Centimes;

    #[test]
    fn numbers_are_written_the_french_way() {
        assert_eq!(entier(0), "0");
        assert_eq!(entier(1234567), "1\u{a0}234\u{a0}567");
        assert_eq!(heures(750), "12\u{a0}h\u{a0}30");
        assert_eq!(heures(120), "2\u{a0}h");
        assert_eq!(
            compte(Compte {
                cheques: 1200,
                centimes: Centimes::new(1_200_050)
            }),
            "1\u{a0}200 chèques (12\u{a0}000,50\u{a0}€)"
        );
    }
}
