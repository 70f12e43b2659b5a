//! The mandate's attestation (PDF, A4, two copies: the usager's and the
//! structure's) and the revocation certificate. Both carry a QR code of
//! `{public URL}/mandats/verifier/{token}`: the token is the mandate's number
//! and a keyed signature, no personal data. The layout toolkit is [`crate::pdf`].

use super::model::verification_token;
use super::queries::Mandate;
use super::texts::Text;
use crate::error::{CoreError, Result};
use crate::keys::Keys;
use crate::pdf::{wrap, Flow, Fonts, Page, Pdf, Style, A4, BLUE_FRANCE, TEXT};

const LEFT: f32 = 50.0;
const QR_SIDE: f32 = 110.0;

/// The address printed in the QR code of mandate `id`.
pub fn verification_url(keys: &Keys, base_url: &str, id: i64) -> String {
    format!(
        "{}/mandats/verifier/{}",
        base_url.trim_end_matches('/'),
        verification_token(keys, id)
    )
}

/// « 07/12/2026 à 10 h 42 », Paris time, as on every other page (the usager's space, the journal).
pub fn moment(micros: i64) -> String {
    crate::format_fr::horodatage(micros)
}

/// Lines one under the other from the top of the page, 4 points of leading.
fn flow() -> Flow {
    Flow::new(LEFT, 60.0, 4.0)
}

fn parties(g: &mut Page, f: &mut Flow, m: &Mandate) {
    use Style::{Bold, Regular};
    f.line(g, Bold, 10.0, "L'usager (identité certifiée par FranceConnect)");
    f.line(g, Regular, 9.5, &m.usager.identity());
    f.line(
        g,
        Regular,
        9.5,
        &format!(
            "Date de naissance : {}, {}",
            m.usager.birthdate_fr(),
            m.usager.birthplace_label()
        ),
    );
    f.gap(4.0);
    f.line(g, Bold, 10.0, "La structure habilitée");
    f.line(g, Regular, 9.5, &m.structure);
    f.line(
        g,
        Regular,
        9.5,
        &format!("Aidant qui a conclu le mandat : {}", m.aidant),
    );
    f.gap(4.0);
}

fn footer(g: &mut Page, m: &Mandate, url: &str, what: &str) -> Result<()> {
    let top = A4.1 - 60.0 - QR_SIDE;
    g.qr(url, A4.0 - 50.0 - QR_SIDE, top, QR_SIDE)?;
    g.ink(TEXT);
    g.text(
        Style::Regular,
        8.5,
        LEFT,
        top + 40.0,
        "Vérifier l'authenticité et l'état de ce mandat :",
    );
    g.text(
        Style::Regular,
        8.5,
        LEFT,
        top + 53.0,
        "scannez le QR code ou ouvrez l'adresse",
    );
    g.text(Style::Regular, 6.5, LEFT, top + 66.0, url);
    g.text(
        Style::Regular,
        7.5,
        LEFT,
        A4.1 - 30.0,
        &format!("Aidants Connect — {what} — mandat n° {}", m.id),
    );
    Ok(())
}

fn attestation_page(g: &mut Page, m: &Mandate, text: &Text, url: &str, copy: &str) -> Result<()> {
    use Style::{Bold, Regular};
    let mut f = flow();
    g.ink(BLUE_FRANCE);
    f.line(g, Bold, 17.0, &format!("Attestation de mandat n° {}", m.id));
    g.ink(TEXT);
    f.line(g, Bold, 11.0, copy);
    f.line(
        g,
        Regular,
        8.0,
        &format!("Texte du mandat : version {}, SHA-256 {}", text.version, text.empreinte),
    );
    f.gap(6.0);
    parties(g, &mut f, m);
    f.line(g, Bold, 10.0, "Démarches confiées");
    for a in &m.autorisations {
        f.line(g, Regular, 9.5, &format!("• {}", a.label()));
    }
    f.gap(4.0);
    f.line(
        g,
        Regular,
        9.5,
        &format!(
            "Durée : {} ; conclu le {} ; expire le {}",
            m.duree.label(),
            moment(m.created_at),
            moment(m.expires_at)
        ),
    );
    if let Some(old) = m.renouvelle {
        f.line(g, Regular, 9.5, &format!("Renouvelle le mandat n° {old}"));
    }
    f.gap(8.0);
    for l in wrap(&text.texte, 110) {
        f.line(g, Regular, 8.0, &l);
    }
    f.gap(10.0);
    f.line(
        g,
        Regular,
        9.5,
        "Signature de l'usager :                                        Signature de l'aidant :",
    );
    footer(g, m, url, copy)
}

/// The attestation: the same page twice, the usager's copy then the structure's.
pub fn attestation(fonts: &Fonts, m: &Mandate, text: &Text, url: &str) -> Result<Vec<u8>> {
    let mut pdf = Pdf::new(fonts);
    for copy in ["Exemplaire de l'usager", "Exemplaire de la structure"] {
        pdf.page(|g| attestation_page(g, m, text, url, copy))?;
    }
    pdf.finish()
}

/// The revocation certificate: which démarches were revoked, when, by whom.
/// NotFound-like refusal when nothing of the mandate is revoked.
pub fn revocation(fonts: &Fonts, m: &Mandate, url: &str) -> Result<Vec<u8>> {
    use Style::{Bold, Regular};
    if !m.any_revoked() {
        return Err(CoreError::NotFound("révocation de ce mandat".into()));
    }
    let mut pdf = Pdf::new(fonts);
    pdf.page(|g| {
        let mut f = flow();
        g.ink(BLUE_FRANCE);
        f.line(g, Bold, 17.0, "Certificat de révocation");
        g.ink(TEXT);
        f.line(
            g,
            Bold,
            11.0,
            &format!("Mandat n° {} du {}", m.id, moment(m.created_at)),
        );
        f.line(g, Bold, 11.0, &format!("État du mandat : {}", m.etat()));
        f.gap(8.0);
        parties(g, &mut f, m);
        f.line(g, Bold, 10.0, "Démarches");
        for a in &m.autorisations {
            let t = match a.revoquee_at {
                Some(at) => format!(
                    "• {} : révoquée le {} par {}",
                    a.label(),
                    moment(at),
                    a.revoked_by_label()
                ),
                None => format!("• {} : toujours confiée (jusqu'au {})", a.label(), moment(m.expires_at)),
            };
            f.line(g, Regular, 9.5, &t);
        }
        f.gap(10.0);
        f.line(
            g,
            Regular,
            9.5,
            "Une démarche révoquée ne peut plus être réalisée au nom de l'usager dans le cadre de ce mandat.",
        );
        footer(g, m, url, "certificat de révocation")
    })?;
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::aidants_connect::mandats::model::{Duration, State};
    use crate::aidants_connect::mandats::queries::{Autorisation, RevokedBy, Usager};

    fn sample() -> Mandate {
        let aut = |id: i64, d: &str, revoked: bool| Autorisation {
            id,
            demarche: d.into(),
            revoquee_at: revoked.then_some(1_700_000_000_000_000),
            revoquee_par: revoked.then_some(RevokedBy::Usager),
            revoquee_par_aidant: None,
            remplacee_par_mandat: None,
        };
        Mandate {
            id: 12,
            organisation_id: 3,
            structure: "France Services de Pessac".into(),
            usager: Usager {
                id: 4,
                given_name: "Angela Claire Louise".into(),
                family_name: "DUBOIS".into(),
                birthdate: "1962-08-24".into(),
                birthplace: "75107".into(),
                birthplace_nom: "Paris 7e Arrondissement".into(),
                birthcountry: "99100".into(),
                nom_usage: None,
            },
            aidant_id: 5,
            aidant: "Léo Aidant".into(),
            duree: Duration::Semester,
            texte_version: 1,
            created_at: 1_690_000_000_000_000,
            expires_at: 1_705_000_000_000_000,
            renouvelle: None,
            renouvele_par: None,
            autorisations: vec![aut(1, "papiers", false), aut(2, "argent", true)],
            state: State::PartlyRevoked,
        }
    }

    #[test]
    fn attestation_and_certificate_render() {
        let fonts = crate::pdf::test_fonts();
        let (version, texte) = crate::aidants_connect::mandats::texts::ALL[0];
        let text = Text {
            version,
            texte: texte.into(),
            empreinte: crate::aidants_connect::mandats::texts::fingerprint(texte),
        };
        let m = sample();
        let url = "http://localhost:8080/mandats/verifier/AAAAAAAAAAwxxxxxxxxxxxxxxxxxxxxx";
        let a = attestation(&fonts, &m, &text, url).unwrap();
        let r = revocation(&fonts, &m, url).unwrap();
        assert!(a.starts_with(b"%PDF-") && r.starts_with(b"%PDF-"));
        if let Ok(dir) = std::env::var("PASSERELLE_PDF_DUMP") {
            std::fs::write(format!("{dir}/attestation.pdf"), &a).unwrap();
            std::fs::write(format!("{dir}/revocation.pdf"), &r).unwrap();
        }
        let mut none = m.clone();
        none.autorisations.iter_mut().for_each(|a| a.revoquee_at = None);
        assert!(
            revocation(&fonts, &none, url).is_err(),
            "nothing revoked, no certificate"
        );
    }
}
