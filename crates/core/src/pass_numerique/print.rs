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
    /// Crop marks at the corners of each cheque, for the print house's guillotine.
    pub traits_de_coupe: bool,
}

/// Sizes tried for the funder's text on a cheque, largest first: it is never cut.
const MARQUE_SIZES: [f32; 11] = [7.5, 7.25, 7.0, 6.75, 6.5, 6.25, 6.0, 5.75, 5.5, 5.25, 5.0];
/// Baseline of the funder's text's first line, from the top of a cheque.
const MARQUE_TOP: f32 = 85.0;
/// Line height of the funder's text, as a multiple of its size.
const MARQUE_LEADING: f32 = 1.15;
/// Space kept under the funder's text for the booklet line and the code, from the bottom.
const MARQUE_BOTTOM: f32 = 33.0;

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
    // Long texts (a funder's full name, a perimeter of many communes) wrap; nothing is cut.
    let width = A4.0 - 120.0;
    let mut y = 258.0;
    if !face.marque.is_empty() {
        let text = format!("Offert par : {}", face.marque);
        for line in crate::pdf::text::wrap_points(g.fonts(), Regular, 14.0, &text, width) {
            g.text(Regular, 14.0, 60.0, y, &line);
            y += 18.0;
        }
    }
    y += 24.0;
    g.text(Regular, 12.0, 60.0, y, &format!("Valable {}", face.validite));
    y += 20.0;
    let (size, lines) = crate::pdf::text::fit(
        g.fonts(),
        Regular,
        &[12.0, 11.0, 10.0, 9.0, 8.0],
        &format!("Dans : {}", face.perimetre),
        width,
        |_, lines| lines <= 4,
    );
    for line in lines {
        g.text(Regular, size, 60.0, y, &line);
        y += size + 4.0;
    }
    let y = (y + 40.0).max(400.0);
    g.ink(BLUE_FRANCE);
    g.text(Bold, 16.0, 60.0, y, "Comment l'utiliser ?");
    g.ink(TEXT);
    let steps = [
        "1. Trouvez un lieu qui accepte le Pass Numérique près de chez vous :",
        &format!("    {}/lieux", face.base_url),
        "2. Présentez un chèque à l'accueil : une séance d'environ une heure.",
        "3. Chaque chèque ne sert qu'une fois. Gardez votre carnet.",
        "Vous pouvez aussi scanner le QR code d'un chèque avec un téléphone.",
    ];
    for (i, line) in steps.iter().enumerate() {
        g.text(Regular, 12.0, 60.0, y + 30.0 + 22.0 * i as f32, line);
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
    let side = h - 40.0;
    // The funder's text, whole, in the column left of the QR code: it wraps and shrinks.
    let column = w - side - 6.0 - 14.0;
    let mut below = y + 98.0;
    if !face.marque.is_empty() {
        let (size, lines) = marque_lines(g.fonts(), &face.marque, column, h - MARQUE_BOTTOM - MARQUE_TOP);
        let mut line_y = y + MARQUE_TOP;
        for line in &lines {
            g.text(Regular, size, x + 10.0, line_y, line);
            line_y += size * MARQUE_LEADING;
        }
        below = below.max(line_y + 1.5);
    }
    g.text(
        Regular,
        7.5,
        x + 10.0,
        below,
        &format!("Carnet n° {} · chèque {}/{}", p.carnet, p.rang, face.cheques_par_carnet),
    );
    g.text(Mono, 11.5, x + 10.0, y + h - 18.0, &p.code.grouped());
    g.qr(
        &format!("{}/c/{}", face.base_url, p.code.compact()),
        x + w - side - 6.0,
        y + 6.0,
        side,
    )
}

/// The funder's text on a cheque: the largest size whose lines fit a column `width` points
/// wide and `height` points high, and those lines (at the smallest size, all of them: an
/// order's text is at most 200 characters, which fits, see the test).
fn marque_lines(fonts: &Fonts, marque: &str, width: f32, height: f32) -> (f32, Vec<String>) {
    crate::pdf::text::fit(fonts, Style::Regular, &MARQUE_SIZES, marque, width, |size, lines| {
        lines as f32 * size * MARQUE_LEADING <= height
    })
}

/// Crop marks at the four corners of a cell, in the gutter around it (they never touch a
/// neighbour's frame: the gutters are 8 and 10 points).
fn crop_marks(g: &mut Page, Cell { x, y, w, h }: &Cell) {
    const GAP: f32 = 1.0;
    const LEN: f32 = 3.0;
    for (cx, cy, dx, dy) in [
        (*x, *y, -1.0, -1.0),
        (x + w, *y, 1.0, -1.0),
        (*x, y + h, -1.0, 1.0),
        (x + w, y + h, 1.0, 1.0),
    ] {
        g.line((cx + dx * GAP, cy), (cx + dx * (GAP + LEN), cy), TEXT, 0.3);
        g.line((cx, cy + dy * GAP), (cx, cy + dy * (GAP + LEN)), TEXT, 0.3);
    }
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
                    if face.traits_de_coupe {
                        crop_marks(g, &Cell { x, y, w, h });
                    }
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
        traits_de_coupe: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest funder's text an order accepts (200 characters) fits, whole, in the column
    /// of a cheque, above the code.
    #[test]
    fn the_longest_funder_text_fits_on_a_cheque() {
        let fonts = crate::pdf::test_fonts();
        let long = "Communauté d'agglomération du Pays Basque — Direction de l'inclusion numérique, \
                    de la cohésion sociale et de l'accès aux droits, avec le soutien de la Région Nouvelle-Aquitaine";
        let long: String = long.chars().take(200).collect();
        let (w, h) = ((A4.0 - 2.0 * MARGIN - 10.0) / 2.0, (A4.1 - 2.0 * MARGIN - 32.0) / 5.0);
        let column = w - (h - 40.0) - 20.0;
        let height = h - MARQUE_BOTTOM - MARQUE_TOP;
        let (size, lines) = marque_lines(&fonts, &long, column, height);
        assert!(
            lines.len() as f32 * size * MARQUE_LEADING <= height,
            "{size} pt : {lines:?}"
        );
        assert_eq!(lines.join(" "), long, "nothing dropped");
        for line in &lines {
            assert!(fonts.width(Style::Regular, size, line) <= column, "{line}");
        }
        // The booklet line (7,5 pt, descenders included) stays above the code's capitals (11,5 pt).
        let booklet_line = MARQUE_TOP + lines.len() as f32 * size * MARQUE_LEADING + 1.5;
        assert!(booklet_line + 2.0 < h - 18.0 - 8.5, "{booklet_line} / {h}");
        // A short name keeps the largest size on one line.
        assert_eq!(
            marque_lines(&fonts, "Ville de Pessac", column, height),
            (7.5, vec!["Ville de Pessac".to_string()])
        );
    }
}
