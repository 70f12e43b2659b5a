//! Text over several lines: a flow of lines one under the other, and wrapping.

use super::{Page, Style};

/// Lines written one under the other from (x, y): each moves down by its size
/// plus the leading.
#[derive(Debug, Clone, Copy)]
pub struct Flow {
    pub x: f32,
    /// The baseline of the next line.
    pub y: f32,
    pub leading: f32,
}

impl Flow {
    pub fn new(x: f32, y: f32, leading: f32) -> Flow {
        Flow { x, y, leading }
    }

    /// Writes `text` on the next line.
    pub fn line(&mut self, page: &mut Page, style: Style, size: f32, text: &str) {
        page.text(style, size, self.x, self.y, text);
        self.y += size + self.leading;
    }

    /// Leaves `h` points blank.
    pub fn gap(&mut self, h: f32) {
        self.y += h;
    }
}

/// Wraps `text` into lines no wider than `width` points in `style` at `size`; a word wider than
/// the line is broken between its characters. Nothing is dropped.
pub fn wrap_points(fonts: &super::Fonts, style: Style, size: f32, text: &str, width: f32) -> Vec<String> {
    let fits = |s: &str| fonts.width(style, size, s) <= width;
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let candidate = if cur.is_empty() {
            word.to_string()
        } else {
            format!("{cur} {word}")
        };
        if fits(&candidate) {
            cur = candidate;
            continue;
        }
        if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        // The word alone: broken if it does not fit either.
        for c in word.chars() {
            let mut longer = cur.clone();
            longer.push(c);
            if !cur.is_empty() && !fits(&longer) {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The largest size of `sizes` (largest first) at which the lines of `text`, wrapped to `width`
/// points, satisfy `fits(size, line count)`, and those lines; at the smallest size, all the
/// lines it takes.
pub fn fit(
    fonts: &super::Fonts,
    style: Style,
    sizes: &[f32],
    text: &str,
    width: f32,
    fits: impl Fn(f32, usize) -> bool,
) -> (f32, Vec<String>) {
    let mut last = (0.0, Vec::new());
    for &size in sizes {
        let lines = wrap_points(fonts, style, size, text, width);
        if fits(size, lines.len()) {
            return (size, lines);
        }
        last = (size, lines);
    }
    last
}

/// Wraps `text` at `width` characters, keeping its line breaks.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for para in text.lines() {
        let mut cur = String::new();
        for word in para.split_whitespace() {
            if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
                out.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_wrapped_without_losing_words() {
        let t = "un deux trois quatre cinq\n\nsix";
        let w = wrap(t, 10);
        assert_eq!(w, vec!["un deux", "trois", "quatre", "cinq", "", "six"]);
    }
}
