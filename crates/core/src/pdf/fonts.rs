//! The fonts of every document: DejaVu (TrueType) from the npm package
//! `dejavu-fonts-ttf` pinned in `package-lock.json`, embedded in the binary
//! (or read from a folder given with `PASSERELLE_FONTS_DIR`); and how wide a
//! text is in them.

use std::path::Path;
use std::sync::OnceLock;

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
    /// The faces from `dir` when one is given (`PASSERELLE_FONTS_DIR`), else those of the binary.
    pub fn of(dir: Option<&Path>) -> Result<Fonts> {
        match dir {
            Some(d) => Fonts::load(d),
            None => Fonts::embedded(),
        }
    }

    /// The faces embedded in the binary (parsed once per process).
    pub fn embedded() -> Result<Fonts> {
        static EMBEDDED: OnceLock<std::result::Result<Fonts, String>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| {
                Fonts::build(|name| {
                    let bytes = passerelle_assets::polices::police(name)
                        .ok_or_else(|| CoreError::Config(format!("police « {name} » absente du binaire")))?;
                    Ok((bytes.to_vec(), format!("{name} (embarquée)")))
                })
                .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(CoreError::Config)
    }

    /// Loads DejaVu Sans, DejaVu Sans Bold and DejaVu Sans Mono Bold from `dir`.
    pub fn load(dir: &Path) -> Result<Fonts> {
        Fonts::build(|name| {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(|e| {
                CoreError::Config(format!(
                    "police « {} » illisible ({e}) : indiquez dans PASSERELLE_FONTS_DIR le dossier `ttf` \
                     du paquet dejavu-fonts-ttf, ou retirez-la pour prendre les polices du binaire",
                    path.display()
                ))
            })?;
            Ok((bytes, path.display().to_string()))
        })
    }

    /// The three faces from `read(name)` = (bytes, where they come from, for errors).
    fn build(read: impl Fn(&str) -> Result<(Vec<u8>, String)>) -> Result<Fonts> {
        let load = |name: &str| -> Result<Loaded> {
            let (bytes, origin) = read(name)?;
            let data = Data::from(bytes);
            let invalid = || CoreError::Config(format!("police « {origin} » invalide"));
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
