//! Quotes, invoices and credit notes in PDF (one A4 page each). The layout
//! toolkit is [`crate::pdf`].

use super::orders::{Document, DocumentKind, Order};
use crate::dates_fr::jour;
use crate::error::Result;
use crate::pdf::{amount, Fonts, Pdf, Style, BLUE_FRANCE, TEXT};

/// Who sends and who receives a document.
#[derive(Debug, Clone)]
pub struct Parties {
    pub operator: String,
    pub funder: String,
}

/// The PDF of a quote, an invoice or a credit note of `order`.
pub fn render(fonts: &Fonts, doc: &Document, order: &Order, parties: &Parties) -> Result<Vec<u8>> {
    use Style::{Bold, Regular};
    let title = doc.kind.title();
    let date = jour(doc.created_at);
    let mut pdf = Pdf::new(fonts);
    pdf.page(|g| {
        g.ink(BLUE_FRANCE);
        g.text(Bold, 22.0, 60.0, 90.0, &format!("{title} n° {}", doc.numero));
        g.ink(TEXT);
        g.text(Regular, 11.0, 60.0, 115.0, &format!("Date : {date}"));
        g.text(Bold, 11.0, 60.0, 160.0, "Émetteur");
        g.text(Regular, 11.0, 60.0, 178.0, &parties.operator);
        g.text(Bold, 11.0, 320.0, 160.0, "Destinataire");
        g.text(Regular, 11.0, 320.0, 178.0, &parties.funder);
        g.text(
            Bold,
            11.0,
            60.0,
            240.0,
            &format!("Commande n° {} — Pass Numérique", order.id),
        );
        let rows = [
            (
                format!(
                    "{} carnets de {} chèques de {}",
                    order.carnets,
                    order.cheques_par_carnet,
                    amount(order.valeur_centimes)
                ),
                amount(doc.valeur_centimes),
            ),
            (
                format!(
                    "Frais de l'opérateur ({} %)",
                    crate::money::percent(order.frais_pour_dix_mille)
                ),
                amount(doc.frais_centimes),
            ),
        ];
        for (i, (label, amount)) in rows.iter().enumerate() {
            let y = 270.0 + 22.0 * i as f32;
            g.text(Regular, 11.0, 60.0, y, label);
            g.text(Regular, 11.0, 440.0, y, amount);
        }
        g.text(Bold, 12.0, 60.0, 330.0, "Total");
        g.text(Bold, 12.0, 440.0, 330.0, &amount(doc.total_centimes));
        g.text(Regular, 9.0, 60.0, 360.0, "Montants en euros, hors taxes.");
        g.text(
            Regular,
            9.0,
            60.0,
            376.0,
            &format!(
                "Validité des chèques : du {} au {} ; périmètre : {}.",
                crate::dates_fr::jour_fr(&order.debut),
                crate::dates_fr::jour_fr(&order.fin),
                order.perimetre.codes().join(", ")
            ),
        );
        if doc.kind == DocumentKind::Facture {
            let paid = match &order.reference_paiement {
                Some(r) => format!("Payée, référence du virement : {r}."),
                None => "À régler par virement ; les chèques sont activés à réception du paiement.".into(),
            };
            g.text(Regular, 9.0, 60.0, 392.0, &paid);
        }
        Ok(())
    })?;
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifiants::Centimes;

    #[test]
    fn an_invoice_is_a_one_page_pdf() {
        let fonts = crate::pdf::test_fonts();
        let order = Order {
            id: 7,
            commanditaire_id: 2,
            carnets: 100,
            cheques_par_carnet: 10,
            valeur_centimes: Centimes::new(1000),
            frais_pour_dix_mille: 450,
            debut: "2026-01-01".into(),
            fin: "2026-12-31".into(),
            tolerance_jours: 30,
            perimetre: super::super::model::Perimetre::parse("33").unwrap(),
            publics: vec!["seniors".into()],
            services: Default::default(),
            prescripteurs: vec![],
            plafond_jour: 2,
            marque: String::new(),
            etat: super::super::orders::OrderState::Payee,
            reference_paiement: Some("VIR-42".into()),
            emise: true,
            remises_arretees_at: None,
        };
        let a = order.amounts();
        assert_eq!(
            (a.valeur_centimes, a.frais_centimes, a.total_centimes),
            (
                Centimes::new(1_000_000),
                Centimes::new(45_000),
                Centimes::new(1_045_000)
            )
        );
        let doc = Document {
            id: 1,
            kind: DocumentKind::Facture,
            numero: "FAC-2026-000001".into(),
            commande_id: 7,
            valeur_centimes: a.valeur_centimes,
            frais_centimes: a.frais_centimes,
            total_centimes: a.total_centimes,
            created_at: 1_764_000_000_000_000,
        };
        let parties = Parties {
            operator: "Opérateur national".into(),
            funder: "Département de la Gironde".into(),
        };
        let pdf = render(&fonts, &doc, &order, &parties).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf
            .windows(9)
            .any(|w| w.starts_with(b"/Count 1") && !w[8].is_ascii_digit()));
        if let Ok(path) = std::env::var("PASSERELLE_PDF_ECHANTILLON") {
            std::fs::write(path, &pdf).unwrap();
        }
    }
}
