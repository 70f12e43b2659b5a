//! Printable booklets (PDF, A4): for each booklet a cover page with how to
//! find a place, then a page of its cheques, each with its value, validity,
//! the funder's text, the booklet number, the code in large type and a QR code
//! of `{BASE_URL}/c/{code}`. The layout toolkit is [`crate::pdf`].

use super::issue::Printed;
use super::model::Territory;
use super::orders::Order;
use crate::dates_fr::jour_fr;
use crate::error::Result;
use crate::identifiants::Centimes;
use crate::pdf::{amount, Fonts, Page, Pdf, Style, A4, BLUE_FRANCE, TEXT};
use crate::{on_db, Core};

const MARGIN: f32 = 28.0;

/// What is printed on every booklet of an order.
#[derive(Debug, Clone)]
pub struct Face {
    /// Funder's text (branding), e.g. « Département de la Gironde ».
    pub marque: String,
    pub valeur_centimes: Centimes,
    pub cheques_par_carnet: i64,
    /// « du 01/01/2026 au 31/12/2026 »
    pub validite: String,
    /// « Gironde (33), Pessac (33318) »
    pub perimetre: String,
    /// Public URL of the deployment, without the trailing slash.
    pub base_url: String,
}

fn cover(g: &mut Page, face: &Face, booklet: i64) {
    use Style::{Bold, Regular};
    g.ink(BLUE_FRANCE);
    g.text(Bold, 30.0, 60.0, 140.0, "Pass Numérique");
    g.ink(TEXT);
    g.text(Bold, 18.0, 60.0, 190.0, &format!("Carnet n° {booklet}"));
    g.text(
        Regular,
        14.0,
        60.0,
        230.0,
        &format!(
            "{} chèques de {} pour apprendre le numérique",
            face.cheques_par_carnet,
            amount(face.valeur_centimes)
        ),
    );
    if !face.marque.is_empty() {
        g.text(Regular, 14.0, 60.0, 258.0, &format!("Offert par : {}", face.marque));
    }
    g.text(Regular, 12.0, 60.0, 300.0, &format!("Valable {}", face.validite));
    g.text(Regular, 12.0, 60.0, 320.0, &format!("Dans : {}", face.perimetre));
    g.ink(BLUE_FRANCE);
    g.text(Bold, 16.0, 60.0, 400.0, "Comment l'utiliser ?");
    g.ink(TEXT);
    let steps = [
        "1. Trouvez un lieu qui accepte le Pass Numérique près de chez vous :",
        &format!("    {}/lieux", face.base_url),
        "2. Présentez un chèque à l'accueil : une séance d'environ une heure.",
        "3. Chaque chèque ne sert qu'une fois. Gardez votre carnet.",
        "Vous pouvez aussi scanner le QR code d'un chèque avec un téléphone.",
    ];
    for (i, line) in steps.iter().enumerate() {
        g.text(Regular, 12.0, 60.0, 430.0 + 22.0 * i as f32, line);
    }
}

/// Where a cheque goes on its page (points, from the top-left corner).
struct Cell {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

fn cheque(g: &mut Page, face: &Face, p: &Printed, cell: Cell) -> Result<()> {
    use Style::{Bold, Mono, Regular};
    let Cell { x, y, w, h } = cell;
    g.frame((x, y, w, h), BLUE_FRANCE, 0.8);
    g.ink(BLUE_FRANCE);
    g.text(Bold, 12.0, x + 10.0, y + 20.0, "Pass Numérique");
    g.ink(TEXT);
    g.text(Bold, 22.0, x + 10.0, y + 48.0, &amount(face.valeur_centimes));
    // The validity on two lines (« du … » / « au … »), clear of the QR code.
    let (from, to) = face.validite.split_once(" au ").unwrap_or((face.validite.as_str(), ""));
    g.text(Regular, 7.5, x + 10.0, y + 64.0, &format!("Valable {from}"));
    if !to.is_empty() {
        g.text(Regular, 7.5, x + 10.0, y + 74.0, &format!("au {to}"));
    }
    if !face.marque.is_empty() {
        let marque: String = face.marque.chars().take(30).collect();
        g.text(Regular, 7.5, x + 10.0, y + 86.0, &marque);
    }
    g.text(
        Regular,
        7.5,
        x + 10.0,
        y + 98.0,
        &format!("Carnet n° {} · chèque {}/{}", p.carnet, p.rang, face.cheques_par_carnet),
    );
    g.text(Mono, 11.5, x + 10.0, y + h - 18.0, &p.code.grouped());
    let side = h - 40.0;
    g.qr(
        &format!("{}/c/{}", face.base_url, p.code.compact()),
        x + w - side - 6.0,
        y + 6.0,
        side,
    )
}

/// The PDF of these cheques (grouped by booklet, in the given order).
pub fn booklets(fonts: &Fonts, face: &Face, printed: &[Printed]) -> Result<Vec<u8>> {
    let mut pdf = Pdf::new(fonts);
    let (cols, rows) = (2usize, 5usize);
    let (w, h) = (
        (A4.0 - 2.0 * MARGIN - 10.0) / cols as f32,
        (A4.1 - 2.0 * MARGIN - 4.0 * 8.0) / rows as f32,
    );
    for booklet in printed.chunk_by(|a, b| a.carnet == b.carnet) {
        let number = booklet[0].carnet;
        pdf.page(|g| {
            cover(g, face, number);
            Ok(())
        })?;
        for sheet in booklet.chunks(cols * rows) {
            pdf.page(|g| {
                for (i, p) in sheet.iter().enumerate() {
                    let (c, r) = (i % cols, i / cols);
                    let x = MARGIN + c as f32 * (w + 10.0);
                    let y = MARGIN + r as f32 * (h + 8.0);
                    cheque(g, face, p, Cell { x, y, w, h })?;
                }
                Ok(())
            })?;
        }
    }
    pdf.finish()
}

/// What an order prints on its booklets: the funder's text (its name by
/// default) and the perimeter in words, from the official territories.
pub async fn face_of(core: &Core, order: &Order, base_url: &str) -> Result<Face> {
    let marque = if order.marque.is_empty() {
        crate::accounts::store::organisation(&core.db, order.commanditaire_id)
            .await?
            .map(|o| o.name)
            .unwrap_or_default()
    } else {
        order.marque.clone()
    };
    let mut places = Vec::new();
    for t in &order.perimetre {
        let sql = match t {
            Territory::Departement(_) => "SELECT nom FROM territoires_departements WHERE code = $1",
            Territory::Commune(_) => "SELECT nom FROM territoires_communes WHERE code = $1",
        };
        let name: Option<String> =
            on_db!(&core.db, c => sqlx::query_scalar(sql).bind(t.code()).fetch_optional(&mut *c).await?);
        places.push(match name {
            Some(n) => format!("{n} ({})", t.code()),
            None => t.code().to_string(),
        });
    }
    Ok(Face {
        marque,
        valeur_centimes: order.valeur_centimes,
        cheques_par_carnet: order.cheques_par_carnet,
        validite: format!("du {} au {}", jour_fr(&order.debut), jour_fr(&order.fin)),
        perimetre: places.join(", "),
        base_url: base_url.trim_end_matches('/').to_string(),
    })
}
