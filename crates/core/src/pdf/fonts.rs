//! The fonts of every document: DejaVu (TrueType) from the npm package
//! `dejavu-fonts-ttf` pinned in `package-lock.json`, read at run time like the
//! DSFR; and how wide a text is in them.

use std::path::Path;

use krilla::text::Font;
use krilla::Data;

use crate::error::{CoreError, Result};

/// The faces documents use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// DejaVu Sans.
    Regular,
    /// DejaVu Sans Bold.
    Bold,
    /// DejaVu Sans Mono Bold (cheque codes).
    Mono,
}

/// One face: what krilla draws with, and its bytes to measure text.
#[derive(Clone)]
struct Loaded {
    font: Font,
    data: Data,
}

/// The three faces, loaded once and shared by the documents (cheap to clone).
#[derive(Clone)]
pub struct Fonts {
    regular: Loaded,
    bold: Loaded,
    mono: Loaded,
}

impl Fonts {
    /// Loads DejaVu Sans, DejaVu Sans Bold and DejaVu Sans Mono Bold from `dir`.
    pub fn load(dir: &Path) -> Result<Fonts> {
        let load = |name: &str| -> Result<Loaded> {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(|e| {
                CoreError::Config(format!(
                    "police « {} » illisible ({e}) : lancez « npm ci » ou indiquez PASSERELLE_FONTS_DIR",
                    path.display()
                ))
            })?;
            let data = Data::from(bytes);
            let invalid = || CoreError::Config(format!("police « {} » invalide", path.display()));
            let font = Font::new(data.clone(), 0).ok_or_else(invalid)?;
            rustybuzz::Face::from_slice(data.as_ref(), 0).ok_or_else(invalid)?;
            Ok(Loaded { font, data })
        };
        Ok(Fonts {
            regular: load("DejaVuSans.ttf")?,
            bold: load("DejaVuSans-Bold.ttf")?,
            mono: load("DejaVuSansMono-Bold.ttf")?,
        })
    }

    fn loaded(&self, style: Style) -> &Loaded {
        match style {
            Style::Regular => &self.regular,
            Style::Bold => &self.bold,
            Style::Mono => &self.mono,
        }
    }

    pub(crate) fn font(&self, style: Style) -> Font {
        self.loaded(style).font.clone()
    }

    /// How wide `text` is, in points, in `style` at `size` points: shaped as
    /// krilla shapes it when it draws it (kerning included).
    pub fn width(&self, style: Style, size: f32, text: &str) -> f32 {
        let loaded = self.loaded(style);
        // Checked at loading: the face parses.
        let Some(face) = rustybuzz::Face::from_slice(loaded.data.as_ref(), 0) else {
            return 0.0;
        };
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        let shaped = rustybuzz::shape(&face, &[], buffer);
        let units: i64 = shaped.glyph_positions().iter().map(|p| i64::from(p.x_advance)).sum();
        units as f32 / face.units_per_em().max(1) as f32 * size
    }
}
