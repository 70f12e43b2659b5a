//! The mandate's attestation (PDF, A4, two copies: the usager's and the
//! structure's) and the revocation certificate. Both carry a QR code of
//! `{public URL}/mandats/verifier/{token}`: the token is the mandate's number
//! and a keyed signature, no personal data.

use krilla::page::PageSettings;
use krilla::surface::Surface;

use super::model::verification_token;
use super::queries::Mandate;
use super::texts::Text;
use crate::db::datetime_of;
use crate::error::{CoreError, CoreResult};
use crate::keys::Keys;
use crate::pass_numerique::documents_pdf::{ink, line};
use crate::pass_numerique::print::{qr, Fonts};

const A4: (f32, f32) = (595.28, 841.89);
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

/// `JJ/MM/AAAA`.
pub fn day(micros: i64) -> String {
    let d = datetime_of(micros).date();
    format!("{:02}/{:02}/{}", d.day(), d.month(), d.year())
}

/// `JJ/MM/AAAA à HH:MM UTC`.
pub fn moment(micros: i64) -> String {
    let t = datetime_of(micros);
    format!("{} à {:02}:{:02} UTC", day(micros), t.hour(), t.minute())
}

/// Wraps `text` at `width` characters, keeping its line breaks.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for para in text.lines() {
        let mut cur = String::new();
        for word in para.split_whitespace() {
            if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
                out.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        out.push(cur);
    }
    out
}

struct Pen<'a, 'f> {
    g: Surface<'a>,
    fonts: &'f Fonts,
    y: f32,
}

impl Pen<'_, '_> {
    fn write(&mut self, bold: bool, size: f32, t: &str) {
        let font = if bold { self.fonts.bold() } else { self.fonts.regular() };
        line(&mut self.g, &font, size, LEFT, self.y, t);
        self.y += size + 4.0;
    }

    fn done(self) {
        self.g.finish();
    }

    fn gap(&mut self, h: f32) {
        self.y += h;
    }
}

fn parties(p: &mut Pen, m: &Mandate) {
    p.write(true, 10.0, "L'usager (identité certifiée par FranceConnect)");
    p.write(false, 9.5, &format!("{} {}", m.usager.given_name, m.usager.family_name));
    p.write(
        false,
        9.5,
        &format!("Né(e) le {}, {}", m.usager.birthdate_fr(), m.usager.birthplace_label()),
    );
    p.gap(4.0);
    p.write(true, 10.0, "La structure habilitée");
    p.write(false, 9.5, &m.structure);
    p.write(false, 9.5, &format!("Aidant qui a conclu le mandat : {}", m.aidant));
    p.gap(4.0);
}

fn footer(p: &mut Pen, m: &Mandate, url: &str, what: &str) -> CoreResult<()> {
    let top = A4.1 - 60.0 - QR_SIDE;
    qr(&mut p.g, url, A4.0 - 50.0 - QR_SIDE, top, QR_SIDE)?;
    ink(&mut p.g, 22, 22, 22);
    let regular = p.fonts.regular();
    line(
        &mut p.g,
        &regular,
        8.5,
        LEFT,
        top + 40.0,
        "Vérifier l'authenticité et l'état de ce mandat :",
    );
    line(
        &mut p.g,
        &regular,
        8.5,
        LEFT,
        top + 53.0,
        "scannez le QR code ou ouvrez l'adresse",
    );
    line(&mut p.g, &regular, 6.5, LEFT, top + 66.0, url);
    line(
        &mut p.g,
        &regular,
        7.5,
        LEFT,
        A4.1 - 30.0,
        &format!("Aidants Connect — {what} — mandat n° {}", m.id),
    );
    Ok(())
}

fn attestation_page(
    doc: &mut krilla::Document,
    fonts: &Fonts,
    m: &Mandate,
    text: &Text,
    url: &str,
    copy: &str,
) -> CoreResult<()> {
    let settings = PageSettings::from_wh(A4.0, A4.1).ok_or_else(|| CoreError::Io("format A4".into()))?;
    let mut page = doc.start_page_with(settings);
    let mut p = Pen {
        g: page.surface(),
        fonts,
        y: 60.0,
    };
    ink(&mut p.g, 0, 0, 145);
    p.write(true, 17.0, &format!("Attestation de mandat n° {}", m.id));
    ink(&mut p.g, 22, 22, 22);
    p.write(true, 11.0, copy);
    p.write(
        false,
        8.0,
        &format!("Texte du mandat : version {}, SHA-256 {}", text.version, text.empreinte),
    );
    p.gap(6.0);
    parties(&mut p, m);
    p.write(true, 10.0, "Démarches confiées");
    for a in &m.autorisations {
        p.write(false, 9.5, &format!("• {}", a.label()));
    }
    p.gap(4.0);
    p.write(
        false,
        9.5,
        &format!(
            "Durée : {} ; conclu le {} ; expire le {}",
            m.duree.label(),
            moment(m.created_at),
            moment(m.expires_at)
        ),
    );
    if let Some(old) = m.renouvelle {
        p.write(false, 9.5, &format!("Renouvelle le mandat n° {old}"));
    }
    p.gap(8.0);
    for l in wrap(&text.texte, 110) {
        p.write(false, 8.0, &l);
    }
    p.gap(10.0);
    p.write(
        false,
        9.5,
        "Signature de l'usager :                                        Signature de l'aidant :",
    );
    footer(&mut p, m, url, copy)?;
    p.done();
    page.finish();
    Ok(())
}

/// The attestation: the same page twice, the usager's copy then the structure's.
pub fn attestation(fonts: &Fonts, m: &Mandate, text: &Text, url: &str) -> CoreResult<Vec<u8>> {
    let mut doc = krilla::Document::new();
    for copy in ["Exemplaire de l'usager", "Exemplaire de la structure"] {
        attestation_page(&mut doc, fonts, m, text, url, copy)?;
    }
    doc.finish()
        .map_err(|e| CoreError::Io(format!("PDF impossible : {e:?}")))
}

/// The revocation certificate: which démarches were revoked, when, by whom.
/// NotFound-like refusal when nothing of the mandate is revoked.
pub fn revocation(fonts: &Fonts, m: &Mandate, url: &str) -> CoreResult<Vec<u8>> {
    if !m.any_revoked() {
        return Err(CoreError::NotFound("révocation de ce mandat".into()));
    }
    let mut doc = krilla::Document::new();
    let settings = PageSettings::from_wh(A4.0, A4.1).ok_or_else(|| CoreError::Io("format A4".into()))?;
    let mut page = doc.start_page_with(settings);
    let mut p = Pen {
        g: page.surface(),
        fonts,
        y: 60.0,
    };
    ink(&mut p.g, 0, 0, 145);
    p.write(true, 17.0, "Certificat de révocation");
    ink(&mut p.g, 22, 22, 22);
    p.write(true, 11.0, &format!("Mandat n° {} du {}", m.id, moment(m.created_at)));
    p.write(true, 11.0, &format!("État du mandat : {}", m.state.label()));
    p.gap(8.0);
    parties(&mut p, m);
    p.write(true, 10.0, "Démarches");
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
        p.write(false, 9.5, &t);
    }
    p.gap(10.0);
    p.write(
        false,
        9.5,
        "Une démarche révoquée ne peut plus être réalisée au nom de l'usager dans le cadre de ce mandat.",
    );
    footer(&mut p, m, url, "certificat de révocation")?;
    p.done();
    page.finish();
    doc.finish()
        .map_err(|e| CoreError::Io(format!("PDF impossible : {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::mandats::model::{Duration, State};
    use crate::mandats::queries::{Autorisation, RevokedBy, Usager};

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
                birthcountry: "99100".into(),
            },
            aidant_id: 5,
            aidant: "Léo Aidant".into(),
            duree: Duration::Semester,
            texte_version: 1,
            created_at: 1_690_000_000_000_000,
            expires_at: 1_705_000_000_000_000,
            renouvelle: None,
            autorisations: vec![aut(1, "papiers", false), aut(2, "argent", true)],
            state: State::PartlyRevoked,
        }
    }

    #[test]
    fn attestation_and_certificate_render() {
        let fonts = Fonts::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/dejavu-fonts-ttf/ttf"),
        )
        .expect("polices : lancez npm ci");
        let (version, texte) = crate::mandats::texts::ALL[0];
        let text = Text {
            version,
            texte: texte.into(),
            empreinte: crate::mandats::texts::fingerprint(texte),
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

    #[test]
    fn text_is_wrapped_without_losing_words() {
        let t = "un deux trois quatre cinq\n\nsix";
        let w = wrap(t, 10);
        assert_eq!(w, vec!["un deux", "trois", "quatre", "cinq", "", "six"]);
    }
}
