//! Printable booklets (PDF, A4, generated with krilla): for each booklet a
//! cover page with how to find a place, then a page of its cheques, each with
//! its value, validity, the funder's text, the booklet number, the code in
//! large type and a QR code of `{BASE_URL}/c/{code}`.
//!
//! The fonts (DejaVu, TrueType) come from the npm package `dejavu-fonts-ttf`
//! pinned in `package-lock.json`, read at run time like the DSFR.

use std::path::Path;

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::Document;

use super::issue::Printed;
use super::model::Territory;
use super::orders::Order;
use super::redeem::euros;
use crate::error::{CoreError, CoreResult};
use crate::{on_db, Core};

const A4: (f32, f32) = (595.28, 841.89);
const MARGIN: f32 = 28.0;

/// The three faces used on booklets.
#[derive(Clone)]
pub struct Fonts {
    regular: Font,
    bold: Font,
    mono: Font,
}

impl Fonts {
    /// Loads DejaVu Sans, DejaVu Sans Bold and DejaVu Sans Mono Bold from `dir`.
    pub fn load(dir: &Path) -> CoreResult<Fonts> {
        let load = |name: &str| -> CoreResult<Font> {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(|e| {
                CoreError::Config(format!(
                    "police « {} » illisible ({e}) : lancez « npm ci » ou indiquez PASSERELLE_FONTS_DIR",
                    path.display()
                ))
            })?;
            Font::new(bytes.into(), 0)
                .ok_or_else(|| CoreError::Config(format!("police « {} » invalide", path.display())))
        };
        Ok(Fonts {
            regular: load("DejaVuSans.ttf")?,
            bold: load("DejaVuSans-Bold.ttf")?,
            mono: load("DejaVuSansMono-Bold.ttf")?,
        })
    }

    pub fn regular(&self) -> Font {
        self.regular.clone()
    }

    pub fn bold(&self) -> Font {
        self.bold.clone()
    }
}

/// What is printed on every booklet of an order.
#[derive(Debug, Clone)]
pub struct Face {
    /// Funder's text (branding), e.g. « Département de la Gironde ».
    pub marque: String,
    pub valeur_centimes: i64,
    pub cheques_par_carnet: i64,
    /// « du 01/01/2026 au 31/12/2026 »
    pub validite: String,
    /// « Gironde (33), Pessac (33318) »
    pub perimetre: String,
    /// Public URL of the deployment, without the trailing slash.
    pub base_url: String,
}

fn text(s: &mut Surface, font: &Font, size: f32, x: f32, y: f32, t: &str) {
    s.draw_text(Point::from_xy(x, y), font.clone(), size, t, false, TextDirection::Auto);
}

fn color(s: &mut Surface, r: u8, g: u8, b: u8) {
    s.set_fill(Some(Fill {
        paint: rgb::Color::new(r, g, b).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }));
}

fn frame(s: &mut Surface, x: f32, y: f32, w: f32, h: f32) {
    let Some(rect) = Rect::from_xywh(x, y, w, h) else {
        return;
    };
    let mut pb = PathBuilder::new();
    pb.push_rect(rect);
    if let Some(path) = pb.finish() {
        s.set_fill(None);
        s.set_stroke(Some(Stroke {
            paint: rgb::Color::new(0, 0, 145).into(),
            width: 0.8,
            ..Default::default()
        }));
        s.draw_path(&path);
        s.set_stroke(None);
    }
}

/// Draws a QR code of `data` with its top-left corner at (x, y), `side` points wide.
pub(crate) fn qr(s: &mut Surface, data: &str, x: f32, y: f32, side: f32) -> CoreResult<()> {
    let code = fast_qr::QRBuilder::new(data)
        .ecl(fast_qr::ECL::M)
        .build()
        .map_err(|e| CoreError::Io(format!("QR code impossible : {e:?}")))?;
    let n = code.size;
    // A quiet zone of 2 modules on each side.
    let m = side / (n as f32 + 4.0);
    let mut pb = PathBuilder::new();
    // One rectangle per horizontal run of dark modules (fewer path operations than one per module).
    for row in 0..n {
        let mut col = 0;
        while col < n {
            if !code[row][col].value() {
                col += 1;
                continue;
            }
            let start = col;
            while col < n && code[row][col].value() {
                col += 1;
            }
            let run = (col - start) as f32;
            if let Some(r) = Rect::from_xywh(x + (start as f32 + 2.0) * m, y + (row as f32 + 2.0) * m, run * m, m) {
                pb.push_rect(r);
            }
        }
    }
    if let Some(path) = pb.finish() {
        color(s, 0, 0, 0);
        s.draw_path(&path);
    }
    Ok(())
}

fn cover(s: &mut Surface, f: &Fonts, face: &Face, booklet: i64) {
    color(s, 0, 0, 145);
    text(s, &f.bold, 30.0, 60.0, 140.0, "Pass Numérique");
    color(s, 22, 22, 22);
    text(s, &f.bold, 18.0, 60.0, 190.0, &format!("Carnet n° {booklet}"));
    text(
        s,
        &f.regular,
        14.0,
        60.0,
        230.0,
        &format!(
            "{} chèques de {} € pour apprendre le numérique",
            face.cheques_par_carnet,
            euros(face.valeur_centimes)
        ),
    );
    if !face.marque.is_empty() {
        text(
            s,
            &f.regular,
            14.0,
            60.0,
            258.0,
            &format!("Offert par : {}", face.marque),
        );
    }
    text(s, &f.regular, 12.0, 60.0, 300.0, &format!("Valable {}", face.validite));
    text(s, &f.regular, 12.0, 60.0, 320.0, &format!("Dans : {}", face.perimetre));
    color(s, 0, 0, 145);
    text(s, &f.bold, 16.0, 60.0, 400.0, "Comment l'utiliser ?");
    color(s, 22, 22, 22);
    let steps = [
        "1. Trouvez un lieu qui accepte le Pass Numérique près de chez vous :",
        &format!("    {}/lieux", face.base_url),
        "2. Présentez un chèque à l'accueil : une séance d'environ une heure.",
        "3. Chaque chèque ne sert qu'une fois. Gardez votre carnet.",
        "Vous pouvez aussi scanner le QR code d'un chèque avec un téléphone.",
    ];
    for (i, line) in steps.iter().enumerate() {
        text(s, &f.regular, 12.0, 60.0, 430.0 + 22.0 * i as f32, line);
    }
}

/// Where a cheque goes on its page (points, from the top-left corner).
struct Cell {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

fn cheque(s: &mut Surface, f: &Fonts, face: &Face, p: &Printed, cell: Cell) -> CoreResult<()> {
    let Cell { x, y, w, h } = cell;
    frame(s, x, y, w, h);
    color(s, 0, 0, 145);
    text(s, &f.bold, 12.0, x + 10.0, y + 20.0, "Pass Numérique");
    color(s, 22, 22, 22);
    text(
        s,
        &f.bold,
        22.0,
        x + 10.0,
        y + 48.0,
        &format!("{} €", euros(face.valeur_centimes)),
    );
    // The validity on two lines (« du … » / « au … »), clear of the QR code.
    let (from, to) = face.validite.split_once(" au ").unwrap_or((face.validite.as_str(), ""));
    text(s, &f.regular, 7.5, x + 10.0, y + 64.0, &format!("Valable {from}"));
    if !to.is_empty() {
        text(s, &f.regular, 7.5, x + 10.0, y + 74.0, &format!("au {to}"));
    }
    if !face.marque.is_empty() {
        let marque: String = face.marque.chars().take(30).collect();
        text(s, &f.regular, 7.5, x + 10.0, y + 86.0, &marque);
    }
    text(
        s,
        &f.regular,
        7.5,
        x + 10.0,
        y + 98.0,
        &format!("Carnet n° {} · chèque {}/{}", p.carnet, p.rang, face.cheques_par_carnet),
    );
    text(s, &f.mono, 11.5, x + 10.0, y + h - 18.0, &p.code.grouped());
    let side = h - 40.0;
    qr(
        s,
        &format!("{}/c/{}", face.base_url, p.code.compact()),
        x + w - side - 6.0,
        y + 6.0,
        side,
    )
}

/// The PDF of these cheques (grouped by booklet, in the given order).
pub fn booklets(fonts: &Fonts, face: &Face, printed: &[Printed]) -> CoreResult<Vec<u8>> {
    let mut doc = Document::new();
    let settings = || PageSettings::from_wh(A4.0, A4.1).ok_or_else(|| CoreError::Io("format A4".into()));
    let (cols, rows) = (2usize, 5usize);
    let (w, h) = (
        (A4.0 - 2.0 * MARGIN - 10.0) / cols as f32,
        (A4.1 - 2.0 * MARGIN - 4.0 * 8.0) / rows as f32,
    );
    for booklet in printed.chunk_by(|a, b| a.carnet == b.carnet) {
        let number = booklet[0].carnet;
        {
            let mut page = doc.start_page_with(settings()?);
            let mut s = page.surface();
            cover(&mut s, fonts, face, number);
            s.finish();
            page.finish();
        }
        for sheet in booklet.chunks(cols * rows) {
            let mut page = doc.start_page_with(settings()?);
            let mut s = page.surface();
            for (i, p) in sheet.iter().enumerate() {
                let (c, r) = (i % cols, i / cols);
                let x = MARGIN + c as f32 * (w + 10.0);
                let y = MARGIN + r as f32 * (h + 8.0);
                cheque(&mut s, fonts, face, p, Cell { x, y, w, h })?;
            }
            s.finish();
            page.finish();
        }
    }
    doc.finish()
        .map_err(|e| CoreError::Io(format!("PDF impossible : {e:?}")))
}

fn french_date(iso: &str) -> String {
    jiff::civil::Date::strptime("%Y-%m-%d", iso)
        .map(|d| d.strftime("%d/%m/%Y").to_string())
        .unwrap_or_else(|_| iso.to_string())
}

/// What an order prints on its booklets: the funder's text (its name by
/// default) and the perimeter in words, from the official territories.
pub async fn face_of(core: &Core, order: &Order, base_url: &str) -> CoreResult<Face> {
    let marque = if order.marque.is_empty() {
        crate::accounts::store::organisation(&core.db, order.commanditaire_id)
            .await?
            .map(|o| o.name)
            .unwrap_or_default()
    } else {
        order.marque.clone()
    };
    let mut places = Vec::new();
    for t in order.territories() {
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
        validite: format!("du {} au {}", french_date(&order.debut), french_date(&order.fin)),
        perimetre: places.join(", "),
        base_url: base_url.trim_end_matches('/').to_string(),
    })
}
