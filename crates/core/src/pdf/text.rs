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
