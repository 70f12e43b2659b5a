//! The layout toolkit of every PDF document (booklets, quotes, invoices,
//! credit notes, statements, expiry statements, attestations, revocation
//! certificates): it owns the krilla plumbing, the documents own their content.
//!
//! - [`Pdf`]: a document of A4 pages, each drawn by a closure on a [`Page`];
//! - [`Page`]: text at a point, colours, frames, QR codes;
//! - [`Fonts`]: the DejaVu faces ([`Style`]) and how wide a text is in them;
//! - [`Flow`] and [`wrap`]: lines one under the other, text wrapped to a width;
//! - [`Table`]: columns over as many pages as the rows need, numbered pages;
//! - [`amount`]: an amount in euros from integer cents, as documents print it.
//!
//! Coordinates are points (1/72 inch) from the top-left corner of the page; a
//! text's `y` is its baseline.

mod fonts;
mod qr;
mod table;
pub mod text;

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::TextDirection;

pub use fonts::{Fonts, Style};
pub use table::{Column, Table};
pub use text::{wrap, Flow};

use crate::error::{CoreError, Result};
use crate::identifiants::Centimes;

/// A4 portrait, in points: width, height.
pub const A4: (f32, f32) = (595.28, 841.89);

/// A colour of ink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color(pub u8, pub u8, pub u8);

/// Titles and frames: the DSFR's blue France (#000091).
pub const BLUE_FRANCE: Color = Color(0, 0, 145);
/// Body text: the DSFR's text grey (#161616).
pub const TEXT: Color = Color(22, 22, 22);
/// QR codes.
pub const BLACK: Color = Color(0, 0, 0);

/// `1045000` → `10 450 €`: an amount of integer cents as documents print it
/// (the `money` module's French writing, then the euro sign).
pub fn amount(cents: Centimes) -> String {
    format!("{} €", cents.euros())
}

fn fill(s: &mut Surface, Color(r, g, b): Color) {
    s.set_fill(Some(Fill {
        paint: rgb::Color::new(r, g, b).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }));
}

/// A PDF document being drawn, page by page.
pub struct Pdf<'f> {
    doc: krilla::Document,
    fonts: &'f Fonts,
}

impl<'f> Pdf<'f> {
    pub fn new(fonts: &'f Fonts) -> Pdf<'f> {
        Pdf {
            doc: krilla::Document::new(),
            fonts,
        }
    }

    /// Adds an A4 page and draws it with `draw`.
    pub fn page(&mut self, draw: impl FnOnce(&mut Page) -> Result<()>) -> Result<()> {
        let settings = PageSettings::from_wh(A4.0, A4.1).ok_or_else(|| CoreError::Io("format A4".into()))?;
        let mut page = self.doc.start_page_with(settings);
        let drawn = {
            let mut p = Page {
                surface: page.surface(),
                fonts: self.fonts,
            };
            let drawn = draw(&mut p);
            p.surface.finish();
            drawn
        };
        page.finish();
        drawn
    }

    /// The bytes of the document.
    pub fn finish(self) -> Result<Vec<u8>> {
        self.doc
            .finish()
            .map_err(|e| CoreError::Io(format!("PDF impossible : {e:?}")))
    }
}

/// A page being drawn.
pub struct Page<'s, 'f> {
    surface: Surface<'s>,
    fonts: &'f Fonts,
}

impl Page<'_, '_> {
    pub fn fonts(&self) -> &Fonts {
        self.fonts
    }

    /// The colour of the texts and QR codes drawn next.
    pub fn ink(&mut self, color: Color) {
        fill(&mut self.surface, color);
    }

    /// `text` on one line, its baseline starting at (x, y).
    pub fn text(&mut self, style: Style, size: f32, x: f32, y: f32, text: &str) {
        self.surface.draw_text(
            Point::from_xy(x, y),
            self.fonts.font(style),
            size,
            text,
            false,
            TextDirection::Auto,
        );
    }

    /// The outline of a rectangle, `width` points thick.
    pub fn frame(&mut self, (x, y, w, h): (f32, f32, f32, f32), color: Color, width: f32) {
        let Some(rect) = Rect::from_xywh(x, y, w, h) else {
            return;
        };
        let mut pb = PathBuilder::new();
        pb.push_rect(rect);
        if let Some(path) = pb.finish() {
            let Color(r, g, b) = color;
            self.surface.set_fill(None);
            self.surface.set_stroke(Some(Stroke {
                paint: rgb::Color::new(r, g, b).into(),
                width,
                ..Default::default()
            }));
            self.surface.draw_path(&path);
            self.surface.set_stroke(None);
        }
    }

    /// A straight line from `a` to `b`, `width` points thick.
    pub fn line(&mut self, a: (f32, f32), b: (f32, f32), color: Color, width: f32) {
        let mut pb = PathBuilder::new();
        pb.move_to(a.0, a.1);
        pb.line_to(b.0, b.1);
        if let Some(path) = pb.finish() {
            let Color(r, g, bl) = color;
            self.surface.set_fill(None);
            self.surface.set_stroke(Some(Stroke {
                paint: rgb::Color::new(r, g, bl).into(),
                width,
                ..Default::default()
            }));
            self.surface.draw_path(&path);
            self.surface.set_stroke(None);
        }
    }

    /// A QR code of `data` in black, its top-left corner at (x, y), `side` points wide.
    pub fn qr(&mut self, data: &str, x: f32, y: f32, side: f32) -> Result<()> {
        qr::draw(&mut self.surface, data, x, y, side)
    }
}

/// The fonts of the binary, for the unit tests of documents.
#[cfg(test)]
pub(crate) fn test_fonts() -> Fonts {
    Fonts::embedded().expect("polices embarquées")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_in_euros_from_cents() {
        assert_eq!(amount(Centimes::new(1000)), "10 €");
        assert_eq!(amount(Centimes::new(1050)), "10,50 €");
        assert_eq!(amount(Centimes::new(1_045_000)), "10\u{a0}450 €");
        assert_eq!(amount(Centimes::new(-5)), "-0,05 €");
    }

    #[test]
    fn a_document_has_the_pages_drawn() {
        let fonts = test_fonts();
        let mut pdf = Pdf::new(&fonts);
        for _ in 0..2 {
            pdf.page(|p| {
                p.ink(TEXT);
                p.text(Style::Regular, 10.0, 60.0, 60.0, "Bonjour");
                p.frame((50.0, 50.0, 100.0, 40.0), BLUE_FRANCE, 0.8);
                p.qr("https://exemple.fr", 200.0, 200.0, 80.0)
            })
            .unwrap();
        }
        let bytes = pdf.finish().unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(bytes
            .windows(9)
            .any(|w| w.starts_with(b"/Count 2") && !w[8].is_ascii_digit()));
    }

    #[test]
    fn a_failing_page_fails_the_document() {
        let fonts = test_fonts();
        let mut pdf = Pdf::new(&fonts);
        let r = pdf.page(|_| Err(CoreError::Io("non".into())));
        assert!(r.is_err());
    }
}
