//! A statement as the place receives it: CSV (one line per redemption) and
//! PDF (header, lines, total; the layout toolkit is [`crate::pdf`]).

use super::batches::{Line, Statement};
use crate::dates_fr::jour_fr;
use crate::error::{CoreError, Result};
use crate::pdf::{amount, Column, Fonts, Page, Pdf, Style, Table, BLUE_FRANCE, TEXT};

/// `releve,lieu,jour,carnet,rang,service,commande,valeur_centimes,valeur_euros`
pub fn csv(s: &Statement, lines: &[Line]) -> Result<Vec<u8>> {
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
            l.valeur_centimes.centimes().to_string(),
            l.valeur_centimes.decimal(),
        ])
        .map_err(io)?;
    }
    w.into_inner()
        .map_err(|e| CoreError::Io(format!("relevé en CSV : {e}")))
}

const COLUMNS: [Column; 4] = [
    Column { title: "Date", x: 60.0 },
    Column {
        title: "Carnet / chèque",
        x: 125.0,
    },
    Column {
        title: "Service",
        x: 215.0,
    },
    Column {
        title: "Montant",
        x: 480.0,
    },
];

const TABLE: Table = Table {
    columns: &COLUMNS,
    first_page: 28,
    per_page: 38,
};

/// The top of the first page, from `y`; returns where the table starts.
fn intro(g: &mut Page, operator: &str, s: &Statement, mut y: f32) -> f32 {
    use Style::{Bold, Regular};
    g.ink(BLUE_FRANCE);
    g.text(Bold, 20.0, 60.0, y, &format!("Relevé n° {}", s.numero));
    g.ink(TEXT);
    y += 24.0;
    g.text(
        Regular,
        11.0,
        60.0,
        y,
        "Pass Numérique — remboursement des chèques encaissés",
    );
    y += 30.0;
    g.text(Bold, 11.0, 60.0, y, "Émetteur");
    g.text(Bold, 11.0, 320.0, y, "Lieu");
    y += 16.0;
    g.text(Regular, 10.0, 60.0, y, operator);
    g.text(Regular, 10.0, 320.0, y, &s.lieu);
    y += 14.0;
    g.text(Regular, 10.0, 320.0, y, &format!("Identifiant : {}", s.lieu_ext_id));
    y += 26.0;
    g.text(
        Regular,
        10.0,
        60.0,
        y,
        &format!(
            "Encaissements du {} au {} (réglés jusqu'au {} exclu)",
            jour_fr(&s.premier_jour),
            jour_fr(&s.dernier_jour),
            jour_fr(&s.jusqu_au)
        ),
    );
    y += 14.0;
    g.text(
        Regular,
        10.0,
        60.0,
        y,
        &format!("Virement à {} — {} — BIC {}", s.titulaire, s.iban.masked(), s.bic),
    );
    y += 14.0;
    g.text(Regular, 10.0, 60.0, y, &format!("État : {}", s.etat.label()));
    y += 26.0;
    g.text(
        Bold,
        13.0,
        60.0,
        y,
        &format!(
            "Total : {} pour {}",
            amount(s.total_centimes),
            crate::format_fr::nombre(s.lignes, "chèque", "chèques")
        ),
    );
    y + 30.0
}

fn cells(l: &Line) -> Vec<String> {
    vec![
        jour_fr(&l.jour),
        format!("{} / {}", l.carnet, l.rang),
        l.service.chars().take(48).collect(),
        amount(l.valeur_centimes),
    ]
}

/// The statement in PDF, A4, as many pages as its lines need.
pub fn pdf(fonts: &Fonts, operator: &str, s: &Statement, lines: &[Line]) -> Result<Vec<u8>> {
    let mut pdf = Pdf::new(fonts);
    TABLE.draw(
        &mut pdf,
        lines,
        |g, y| intro(g, operator, s, y),
        cells,
        &format!("Relevé {}", s.numero),
    )?;
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifiants::{Bic, Centimes, Iban};
    use crate::reglements::batches::StatementState;

    /// The place's id comes from an imported file, and the standard does not forbid `=` or `-`
    /// at its start: the CSV a place opens in a spreadsheet must not run it.
    #[test]
    fn a_statement_csv_never_holds_a_formula() {
        let s = Statement {
            id: 1,
            numero: "REL-2026-000001".into(),
            lieu_id: 1,
            lieu: "=HYPERLINK(\"http://x\")".into(),
            lieu_ext_id: "-1+1".into(),
            lieu_organisation_id: None,
            lot_id: 1,
            jusqu_au: "2026-11-01".into(),
            premier_jour: "2026-10-15".into(),
            dernier_jour: "2026-10-15".into(),
            lignes: 1,
            total_centimes: Centimes::new(1000),
            etat: StatementState::Emis,
            motif_rejet: None,
            iban: Iban::parse("FR7630006000011234567890189").unwrap(),
            bic: Bic::parse("BNPAFRPP").unwrap(),
            titulaire: "@titulaire".into(),
            created_at: 0,
        };
        let line = Line {
            encaissement_id: 1,
            jour: "2026-10-15".into(),
            carnet: 1,
            rang: 1,
            service: "Aide aux démarches administratives".into(),
            valeur_centimes: Centimes::new(1000),
            commande_id: 1,
        };
        let text = String::from_utf8(csv(&s, &[line]).unwrap()).unwrap();
        assert_eq!(
            text.lines().nth(1),
            Some("REL-2026-000001,'-1+1,2026-10-15,1,1,Aide aux démarches administratives,1,1000,10.00")
        );
    }
}
