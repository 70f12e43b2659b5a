//! A statement as the place receives it: CSV (one line per redemption) and
//! PDF (header, lines, total).

use krilla::page::PageSettings;

use super::bank::masked_iban;
use super::batches::{statement_state_label, Line, Statement};
use crate::error::{CoreError, CoreResult};
use crate::money::{decimal, euros};
use crate::pass_numerique::documents_pdf::{ink, line};
use crate::pass_numerique::print::Fonts;

/// `releve,lieu,jour,carnet,rang,service,commande,valeur_centimes,valeur_euros`
pub fn csv(s: &Statement, lines: &[Line]) -> CoreResult<Vec<u8>> {
    let mut w = crate::tableur::Csv::new(Vec::new());
    let io = |e: csv::Error| CoreError::Io(format!("relevé en CSV : {e}"));
    w.write_record([
        "releve",
        "lieu",
        "jour",
        "carnet",
        "rang",
        "service",
        "commande",
        "valeur_centimes",
        "valeur_euros",
    ])
    .map_err(io)?;
    for l in lines {
        w.write_record([
            s.numero.clone(),
            s.lieu_ext_id.clone(),
            l.jour.clone(),
            l.carnet.to_string(),
            l.rang.to_string(),
            l.service.clone(),
            l.commande_id.to_string(),
            l.valeur_centimes.to_string(),
            decimal(l.valeur_centimes),
        ])
        .map_err(io)?;
    }
    w.into_inner()
        .map_err(|e| CoreError::Io(format!("relevé en CSV : {e}")))
}

fn french_date(iso: &str) -> String {
    match iso.split('-').collect::<Vec<_>>().as_slice() {
        [y, m, d] => format!("{d}/{m}/{y}"),
        _ => iso.to_string(),
    }
}

const LINES_FIRST_PAGE: usize = 28;
const LINES_PER_PAGE: usize = 38;

/// The statement in PDF, A4, as many pages as its lines need.
pub fn pdf(fonts: &Fonts, operator: &str, s: &Statement, lines: &[Line]) -> CoreResult<Vec<u8>> {
    let (regular, bold) = (fonts.regular(), fonts.bold());
    let mut pdf = krilla::Document::new();
    let mut chunks: Vec<&[Line]> = Vec::new();
    let (first, rest) = lines.split_at(lines.len().min(LINES_FIRST_PAGE));
    chunks.push(first);
    chunks.extend(rest.chunks(LINES_PER_PAGE));
    let pages = chunks.len();
    for (p, chunk) in chunks.iter().enumerate() {
        let settings = PageSettings::from_wh(595.28, 841.89).ok_or_else(|| CoreError::Io("format A4".into()))?;
        let mut page = pdf.start_page_with(settings);
        let mut g = page.surface();
        let mut y = 70.0;
        if p == 0 {
            ink(&mut g, 0, 0, 145);
            line(&mut g, &bold, 20.0, 60.0, y, &format!("Relevé n° {}", s.numero));
            ink(&mut g, 22, 22, 22);
            y += 24.0;
            line(
                &mut g,
                &regular,
                11.0,
                60.0,
                y,
                "Pass Numérique — remboursement des chèques encaissés",
            );
            y += 30.0;
            line(&mut g, &bold, 11.0, 60.0, y, "Émetteur");
            line(&mut g, &bold, 11.0, 320.0, y, "Lieu");
            y += 16.0;
            line(&mut g, &regular, 10.0, 60.0, y, operator);
            line(&mut g, &regular, 10.0, 320.0, y, &s.lieu);
            y += 14.0;
            line(
                &mut g,
                &regular,
                10.0,
                320.0,
                y,
                &format!("Identifiant : {}", s.lieu_ext_id),
            );
            y += 26.0;
            line(
                &mut g,
                &regular,
                10.0,
                60.0,
                y,
                &format!(
                    "Encaissements du {} au {} (réglés jusqu'au {} exclu)",
                    french_date(&s.premier_jour),
                    french_date(&s.dernier_jour),
                    french_date(&s.jusqu_au)
                ),
            );
            y += 14.0;
            line(
                &mut g,
                &regular,
                10.0,
                60.0,
                y,
                &format!("Virement à {} — {} — BIC {}", s.titulaire, masked_iban(&s.iban), s.bic),
            );
            y += 14.0;
            line(
                &mut g,
                &regular,
                10.0,
                60.0,
                y,
                &format!("État : {}", statement_state_label(&s.etat)),
            );
            y += 26.0;
            line(
                &mut g,
                &bold,
                13.0,
                60.0,
                y,
                &format!("Total : {} € pour {} chèque(s)", euros(s.total_centimes), s.lignes),
            );
            y += 30.0;
        }
        line(&mut g, &bold, 9.0, 60.0, y, "Date");
        line(&mut g, &bold, 9.0, 125.0, y, "Carnet / chèque");
        line(&mut g, &bold, 9.0, 215.0, y, "Service");
        line(&mut g, &bold, 9.0, 480.0, y, "Montant");
        y += 16.0;
        for l in *chunk {
            line(&mut g, &regular, 9.0, 60.0, y, &french_date(&l.jour));
            line(&mut g, &regular, 9.0, 125.0, y, &format!("{} / {}", l.carnet, l.rang));
            let service: String = l.service.chars().take(48).collect();
            line(&mut g, &regular, 9.0, 215.0, y, &service);
            line(
                &mut g,
                &regular,
                9.0,
                480.0,
                y,
                &format!("{} €", euros(l.valeur_centimes)),
            );
            y += 17.0;
        }
        line(
            &mut g,
            &regular,
            8.0,
            60.0,
            810.0,
            &format!("Relevé {} — page {} sur {pages}", s.numero, p + 1),
        );
        g.finish();
        page.finish();
    }
    pdf.finish()
        .map_err(|e| CoreError::Io(format!("PDF impossible : {e:?}")))
}
