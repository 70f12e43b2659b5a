//! QR codes drawn as vector paths (sharp at any scale, small in the file).

use krilla::geom::{PathBuilder, Rect};
use krilla::surface::Surface;

use super::{fill, BLACK};
use crate::error::{CoreError, Result};

/// Modules of blank around the code (ISO/IEC 18004 asks for 4).
const QUIET: f32 = 4.0;

/// Draws a QR code of `data` (error correction M, the quiet zone of 4 modules that the QR
/// standard asks for, so that phones and scanners find it next to other marks) with its
/// top-left corner at (x, y), `side` points wide, the quiet zone included.
pub(super) fn draw(s: &mut Surface, data: &str, x: f32, y: f32, side: f32) -> Result<()> {
    let code = fast_qr::QRBuilder::new(data)
        .ecl(fast_qr::ECL::M)
        .build()
        .map_err(|e| CoreError::Io(format!("QR code impossible : {e:?}")))?;
    let n = code.size;
    // A quiet zone of QUIET modules on each side.
    let m = side / (n as f32 + 2.0 * QUIET);
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
            if let Some(r) = Rect::from_xywh(x + (start as f32 + QUIET) * m, y + (row as f32 + QUIET) * m, run * m, m) {
                pb.push_rect(r);
            }
        }
    }
    if let Some(path) = pb.finish() {
        fill(s, BLACK);
        s.draw_path(&path);
    }
    Ok(())
}
