//! The joint statement of expired cheques in PDF (A4, as many pages as its
//! booklets need): order, funder, credit notes, totals, then one line per booklet.

use krilla::page::PageSettings;

use super::expires::Statement;
use crate::error::{CoreError, CoreResult};
use crate::money::euros;
use crate::pass_numerique::documents_pdf::{ink, line};
use crate::pass_numerique::print::Fonts;

const LINES_FIRST_PAGE: usize = 22;
const LINES_PER_PAGE: usize = 38;

fn french_date(iso: &str) -> String {
    match iso.split('-').collect::<Vec<_>>().as_slice() {
        [y, m, d] => format!("{d}/{m}/{y}"),
        _ => iso.to_string(),
    }
}

fn day_of(micros: i64) -> String {
    let d = crate::db::datetime_of(micros).date();
    format!("{:02}/{:02}/{}", d.day(), d.month(), d.year())
}

pub fn pdf(fonts: &Fonts, operator: &str, s: &Statement) -> CoreResult<Vec<u8>> {
    let (regular, bold) = (fonts.regular(), fonts.bold());
    let mut pdf = krilla::Document::new();
    let (first, rest) = s.carnets.split_at(s.carnets.len().min(LINES_FIRST_PAGE));
    let mut chunks = vec![first];
    chunks.extend(rest.chunks(LINES_PER_PAGE));
    let pages = chunks.len();
    for (p, chunk) in chunks.iter().enumerate() {
        let settings = PageSettings::from_wh(595.28, 841.89).ok_or_else(|| CoreError::Io("format A4".into()))?;
        let mut page = pdf.start_page_with(settings);
        let mut g = page.surface();
        let mut y = 70.0;
        if p == 0 {
            ink(&mut g, 0, 0, 145);
            line(&mut g, &bold, 18.0, 60.0, y, "État des chèques expirés");
            ink(&mut g, 22, 22, 22);
            y += 22.0;
            line(
                &mut g,
                &regular,
                11.0,
                60.0,
                y,
                &format!(
                    "Commande n° {} — Pass Numérique — joint à l'avoir (valeur faciale des chèques non utilisés)",
                    s.commande
                ),
            );
            y += 28.0;
            line(&mut g, &bold, 11.0, 60.0, y, "Émetteur");
            line(&mut g, &bold, 11.0, 320.0, y, "Commanditaire");
            y += 16.0;
            line(&mut g, &regular, 10.0, 60.0, y, operator);
            line(&mut g, &regular, 10.0, 320.0, y, &s.commanditaire);
            y += 24.0;
            line(
                &mut g,
                &regular,
                10.0,
                60.0,
                y,
                &format!(
                    "Fin de validité : {} ; chèques non utilisés expirés après le {} (tolérance comprise).",
                    french_date(&s.fin),
                    french_date(&s.expiration_apres)
                ),
            );
            y += 14.0;
            line(
                &mut g,
                &regular,
                10.0,
                60.0,
                y,
                &format!(
                    "Chèques expirés : {} pour {} € ; chèques annulés (carnets perdus) : {} pour {} €.",
                    s.expires.cheques,
                    euros(s.expires.valeur_centimes),
                    s.annules.cheques,
                    euros(s.annules.valeur_centimes)
                ),
            );
            y += 22.0;
            line(
                &mut g,
                &bold,
                12.0,
                60.0,
                y,
                &format!("Total des chèques non utilisés : {} €", euros(s.total_centimes)),
            );
            y += 20.0;
            if s.avoirs.is_empty() {
                line(
                    &mut g,
                    &regular,
                    10.0,
                    60.0,
                    y,
                    "Aucun avoir n'est encore émis pour cette commande.",
                );
                y += 14.0;
            }
            for a in &s.avoirs {
                line(
                    &mut g,
                    &regular,
                    10.0,
                    60.0,
                    y,
                    &format!(
                        "Avoir n° {} du {} : {} €",
                        a.numero,
                        day_of(a.created_at),
                        euros(a.valeur_centimes)
                    ),
                );
                y += 14.0;
            }
            let balance = if s.balanced() {
                format!(
                    "Total des avoirs : {} €, égal au total des chèques non utilisés.",
                    euros(s.avoirs_centimes)
                )
            } else {
                format!(
                    "Total des avoirs : {} € ; reste à couvrir : {} € (à la prochaine expiration).",
                    euros(s.avoirs_centimes),
                    euros(s.total_centimes - s.avoirs_centimes)
                )
            };
            line(&mut g, &bold, 10.0, 60.0, y, &balance);
            y += 28.0;
        }
        line(&mut g, &bold, 9.0, 60.0, y, "Carnet");
        line(&mut g, &bold, 9.0, 140.0, y, "Chèques expirés");
        line(&mut g, &bold, 9.0, 240.0, y, "Valeur");
        line(&mut g, &bold, 9.0, 320.0, y, "Chèques annulés");
        line(&mut g, &bold, 9.0, 420.0, y, "Valeur");
        line(&mut g, &bold, 9.0, 490.0, y, "Carnet perdu");
        y += 16.0;
        for b in *chunk {
            line(&mut g, &regular, 9.0, 60.0, y, &b.carnet.to_string());
            line(&mut g, &regular, 9.0, 140.0, y, &b.expires.cheques.to_string());
            line(
                &mut g,
                &regular,
                9.0,
                240.0,
                y,
                &format!("{} €", euros(b.expires.valeur_centimes)),
            );
            line(&mut g, &regular, 9.0, 320.0, y, &b.annules.cheques.to_string());
            line(
                &mut g,
                &regular,
                9.0,
                420.0,
                y,
                &format!("{} €", euros(b.annules.valeur_centimes)),
            );
            line(&mut g, &regular, 9.0, 490.0, y, if b.perdu { "oui" } else { "non" });
            y += 17.0;
        }
        line(
            &mut g,
            &regular,
            8.0,
            60.0,
            810.0,
            &format!(
                "État des chèques expirés — commande n° {} — page {} sur {pages}",
                s.commande,
                p + 1
            ),
        );
        g.finish();
        page.finish();
    }
    pdf.finish()
        .map_err(|e| CoreError::Io(format!("PDF impossible : {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::super::expires::{BookletLine, CreditNote};
    use super::super::Count;
    use super::*;

    #[test]
    fn a_statement_takes_as_many_pages_as_its_booklets_need() {
        let fonts = Fonts::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/dejavu-fonts-ttf/ttf"),
        )
        .expect("polices : lancez npm ci");
        let ten = Count {
            cheques: 10,
            valeur_centimes: 10_000,
        };
        let s = Statement {
            commande: 7,
            commanditaire: "Département de la Gironde".into(),
            valeur_cheque_centimes: 1000,
            fin: "2099-12-31".into(),
            expiration_apres: "2100-01-30".into(),
            carnets: (1..=61)
                .map(|n| BookletLine {
                    carnet: n,
                    perdu: false,
                    expires: ten,
                    annules: Count::default(),
                })
                .collect(),
            expires: Count {
                cheques: 610,
                valeur_centimes: 610_000,
            },
            annules: Count::default(),
            total_centimes: 610_000,
            avoirs: vec![CreditNote {
                numero: "AVO-2100-000001".into(),
                valeur_centimes: 610_000,
                created_at: 0,
            }],
            avoirs_centimes: 610_000,
        };
        assert!(s.balanced());
        let pdf = pdf(&fonts, "Opérateur national", &s).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        // 22 booklets on the first page, 38 on the second, 1 on the third.
        assert!(pdf
            .windows(9)
            .any(|w| w.starts_with(b"/Count 3") && !w[8].is_ascii_digit()));
    }
}
