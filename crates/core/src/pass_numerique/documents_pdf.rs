//! Quotes and invoices in PDF (one A4 page each).

use krilla::color::rgb;
use krilla::geom::Point;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};

use super::orders::{Document, Order};
use super::print::Fonts;
use super::redeem::euros;
use crate::error::{CoreError, CoreResult};

pub(crate) fn line(s: &mut Surface, font: &Font, size: f32, x: f32, y: f32, t: &str) {
    s.draw_text(Point::from_xy(x, y), font.clone(), size, t, false, TextDirection::Auto);
}

pub(crate) fn ink(s: &mut Surface, r: u8, g: u8, b: u8) {
    s.set_fill(Some(Fill {
        paint: rgb::Color::new(r, g, b).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }));
}

/// Who sends and who receives a document.
#[derive(Debug, Clone)]
pub struct Parties {
    pub operator: String,
    pub funder: String,
}

/// The PDF of a quote or an invoice of `order`.
pub fn render(fonts: &Fonts, doc: &Document, order: &Order, parties: &Parties) -> CoreResult<Vec<u8>> {
    let title = match doc.kind.as_str() {
        "devis" => "Devis",
        "facture" => "Facture",
        _ => "Avoir",
    };
    let date = crate::db::datetime_of(doc.created_at).date();
    let date = format!("{:02}/{:02}/{}", date.day(), date.month(), date.year());
    let mut pdf = krilla::Document::new();
    {
        let settings = PageSettings::from_wh(595.28, 841.89).ok_or_else(|| CoreError::Io("format A4".into()))?;
        let mut page = pdf.start_page_with(settings);
        let mut s = page.surface();
        let (regular, bold) = (fonts.regular(), fonts.bold());
        ink(&mut s, 0, 0, 145);
        line(&mut s, &bold, 22.0, 60.0, 90.0, &format!("{title} n° {}", doc.numero));
        ink(&mut s, 22, 22, 22);
        line(&mut s, &regular, 11.0, 60.0, 115.0, &format!("Date : {date}"));
        line(&mut s, &bold, 11.0, 60.0, 160.0, "Émetteur");
        line(&mut s, &regular, 11.0, 60.0, 178.0, &parties.operator);
        line(&mut s, &bold, 11.0, 320.0, 160.0, "Destinataire");
        line(&mut s, &regular, 11.0, 320.0, 178.0, &parties.funder);
        line(
            &mut s,
            &bold,
            11.0,
            60.0,
            240.0,
            &format!("Commande n° {} — Pass Numérique", order.id),
        );
        let rows = [
            (
                format!(
                    "{} carnets de {} chèques de {} €",
                    order.carnets,
                    order.cheques_par_carnet,
                    euros(order.valeur_centimes)
                ),
                euros(doc.valeur_centimes),
            ),
            (
                format!("Frais de l'opérateur ({} %)", euros(order.frais_pour_dix_mille)),
                euros(doc.frais_centimes),
            ),
        ];
        for (i, (label, amount)) in rows.iter().enumerate() {
            let y = 270.0 + 22.0 * i as f32;
            line(&mut s, &regular, 11.0, 60.0, y, label);
            line(&mut s, &regular, 11.0, 440.0, y, &format!("{amount} €"));
        }
        line(&mut s, &bold, 12.0, 60.0, 330.0, "Total");
        line(
            &mut s,
            &bold,
            12.0,
            440.0,
            330.0,
            &format!("{} €", euros(doc.total_centimes)),
        );
        line(&mut s, &regular, 9.0, 60.0, 360.0, "Montants en euros, hors taxes.");
        line(
            &mut s,
            &regular,
            9.0,
            60.0,
            376.0,
            &format!(
                "Validité des chèques : du {} au {} ; périmètre : {}.",
                order.debut,
                order.fin,
                order.perimetre.join(", ")
            ),
        );
        if doc.kind == "facture" {
            let paid = match &order.reference_paiement {
                Some(r) => format!("Payée, référence du virement : {r}."),
                None => "À régler par virement ; les chèques sont activés à réception du paiement.".into(),
            };
            line(&mut s, &regular, 9.0, 60.0, 392.0, &paid);
        }
        s.finish();
        page.finish();
    }
    pdf.finish()
        .map_err(|e| CoreError::Io(format!("PDF impossible : {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invoice_is_a_one_page_pdf() {
        let fonts = Fonts::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/dejavu-fonts-ttf/ttf"),
        )
        .expect("polices : lancez npm ci");
        let order = Order {
            id: 7,
            commanditaire_id: 2,
            carnets: 100,
            cheques_par_carnet: 10,
            valeur_centimes: 1000,
            frais_pour_dix_mille: 450,
            debut: "2026-01-01".into(),
            fin: "2026-12-31".into(),
            tolerance_jours: 30,
            perimetre: vec!["33".into()],
            publics: vec!["seniors".into()],
            services: vec![],
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
            (1_000_000, 45_000, 1_045_000)
        );
        let doc = Document {
            id: 1,
            kind: "facture".into(),
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
