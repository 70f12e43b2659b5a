//! The joint statement of expired cheques in PDF (A4, as many pages as its
//! booklets need): order, funder, credit notes, totals, then one line per
//! booklet. The layout toolkit is [`crate::pdf`].

use super::expires::{BookletLine, Statement};
use crate::dates_fr::{jour, jour_fr};
use crate::error::Result;
use crate::pdf::{amount, Column, Fonts, Page, Pdf, Style, Table, BLUE_FRANCE, TEXT};

const COLUMNS: [Column; 6] = [
    Column {
        title: "Carnet",
        x: 60.0,
    },
    Column {
        title: "Chèques expirés",
        x: 140.0,
    },
    Column {
        title: "Valeur",
        x: 240.0,
    },
    Column {
        title: "Chèques annulés",
        x: 320.0,
    },
    Column {
        title: "Valeur",
        x: 420.0,
    },
    Column {
        title: "Carnet perdu",
        x: 490.0,
    },
];

const TABLE: Table = Table {
    columns: &COLUMNS,
    first_page: 22,
    per_page: 38,
};

/// The top of the first page, from `y`; returns where the table starts.
fn intro(g: &mut Page, operator: &str, s: &Statement, mut y: f32) -> f32 {
    use Style::{Bold, Regular};
    g.ink(BLUE_FRANCE);
    g.text(Bold, 18.0, 60.0, y, "État des chèques expirés");
    g.ink(TEXT);
    y += 22.0;
    g.text(
        Regular,
        11.0,
        60.0,
        y,
        &format!(
            "Commande n° {} — Pass Numérique — joint à l'avoir (valeur faciale des chèques non utilisés)",
            s.commande
        ),
    );
    y += 28.0;
    g.text(Bold, 11.0, 60.0, y, "Émetteur");
    g.text(Bold, 11.0, 320.0, y, "Commanditaire");
    y += 16.0;
    g.text(Regular, 10.0, 60.0, y, operator);
    g.text(Regular, 10.0, 320.0, y, &s.commanditaire);
    y += 24.0;
    g.text(
        Regular,
        10.0,
        60.0,
        y,
        &format!(
            "Fin de validité : {} ; chèques non utilisés expirés après le {} (tolérance comprise).",
            jour_fr(&s.fin),
            jour_fr(&s.expiration_apres)
        ),
    );
    y += 14.0;
    g.text(
        Regular,
        10.0,
        60.0,
        y,
        &format!(
            "Chèques expirés : {} pour {} ; chèques annulés (carnets perdus) : {} pour {}.",
            s.expires.cheques,
            amount(s.expires.valeur_centimes),
            s.annules.cheques,
            amount(s.annules.valeur_centimes)
        ),
    );
    y += 22.0;
    g.text(
        Bold,
        12.0,
        60.0,
        y,
        &format!("Total des chèques non utilisés : {}", amount(s.total_centimes)),
    );
    y += 20.0;
    if s.avoirs.is_empty() {
        g.text(
            Regular,
            10.0,
            60.0,
            y,
            "Aucun avoir n'est encore émis pour cette commande.",
        );
        y += 14.0;
    }
    for a in &s.avoirs {
        g.text(
            Regular,
            10.0,
            60.0,
            y,
            &format!(
                "Avoir n° {} du {} : {}",
                a.numero,
                jour(a.created_at),
                amount(a.valeur_centimes)
            ),
        );
        y += 14.0;
    }
    let balance = if s.balanced() {
        format!(
            "Total des avoirs : {}, égal au total des chèques non utilisés.",
            amount(s.avoirs_centimes)
        )
    } else {
        format!(
            "Total des avoirs : {} ; reste à couvrir : {} (à la prochaine expiration).",
            amount(s.avoirs_centimes),
            amount(s.total_centimes - s.avoirs_centimes)
        )
    };
    g.text(Bold, 10.0, 60.0, y, &balance);
    y + 28.0
}

fn cells(b: &BookletLine) -> Vec<String> {
    vec![
        b.carnet.to_string(),
        b.expires.cheques.to_string(),
        amount(b.expires.valeur_centimes),
        b.annules.cheques.to_string(),
        amount(b.annules.valeur_centimes),
        if b.perdu { "oui" } else { "non" }.to_string(),
    ]
}

pub fn pdf(fonts: &Fonts, operator: &str, s: &Statement) -> Result<Vec<u8>> {
    let mut pdf = Pdf::new(fonts);
    TABLE.draw(
        &mut pdf,
        &s.carnets,
        |g, y| intro(g, operator, s, y),
        cells,
        &format!("État des chèques expirés — commande n° {}", s.commande),
    )?;
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::super::expires::{BookletLine, CreditNote};
    use super::super::Count;
    use super::*;
    use crate::identifiants::Centimes;

    #[test]
    fn a_statement_takes_as_many_pages_as_its_booklets_need() {
        let fonts = crate::pdf::test_fonts();
        let ten = Count {
            cheques: 10,
            valeur_centimes: Centimes::new(10_000),
        };
        let s = Statement {
            commande: 7,
            commanditaire: "Département de la Gironde".into(),
            valeur_cheque_centimes: Centimes::new(1000),
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
                valeur_centimes: Centimes::new(610_000),
            },
            annules: Count::default(),
            total_centimes: Centimes::new(610_000),
            avoirs: vec![CreditNote {
                numero: "AVO-2100-000001".into(),
                valeur_centimes: Centimes::new(610_000),
                created_at: 0,
            }],
            avoirs_centimes: Centimes::new(610_000),
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
