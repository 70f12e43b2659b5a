//! Bar charts drawn on the server as inline SVG (no script): an image with a
//! title and a description for assistive technologies, the DSFR's blue France
//! (`#000091`, bars) and default text colour (`#161616`) on a white ground
//! (contrast above 15:1; see `templates/_graphique.svg`), and every text escaped by askama.
//! The page always shows the same figures in a table right below the chart.

use askama::Template;

/// One bar: its label and its value.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: i64,
}

/// A bar placed on the drawing (SVG user units).
#[derive(Debug, Clone)]
pub struct Drawn {
    pub label: String,
    pub value: String,
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
    /// Where the label and the value are written.
    pub label_x: i64,
    pub label_y: i64,
    pub value_x: i64,
    pub value_y: i64,
}

#[derive(Template)]
#[template(path = "_graphique.svg")]
pub struct Chart {
    /// Unique on the page: the ids of the title and the description derive from it.
    pub id: String,
    pub title: String,
    pub desc: String,
    pub width: i64,
    pub height: i64,
    pub horizontal: bool,
    /// Baseline of vertical bars, left edge of horizontal ones.
    pub axis: i64,
    pub bars: Vec<Drawn>,
}

const WIDTH: i64 = 720;
const MAX_LABEL: usize = 38;

fn short(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(MAX_LABEL - 1).collect();
        s.push('…');
        s
    }
}

fn scale(value: i64, max: i64, length: i64) -> i64 {
    if max <= 0 {
        0
    } else {
        // Widen to avoid an overflow on large counts; a non-zero value stays visible.
        let l = (i128::from(value.max(0)) * i128::from(length) / i128::from(max)) as i64;
        if value > 0 {
            l.max(1)
        } else {
            0
        }
    }
}

/// Vertical bars, one per label in order (months).
pub fn columns(id: &str, title: &str, desc: &str, bars: &[Bar]) -> Chart {
    let (top, bottom, left, right) = (24, 40, 16, 16);
    let height = 260;
    let plot_h = height - top - bottom;
    let n = bars.len().max(1) as i64;
    let slot = (WIDTH - left - right) / n;
    let w = (slot * 3 / 5).clamp(2, 64);
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0);
    let axis = height - bottom;
    let drawn = bars
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let h = scale(b.value, max, plot_h);
            let x = left + slot * i as i64 + (slot - w) / 2;
            Drawn {
                label: short(&b.label),
                value: passerelle_core::format_fr::entier(b.value),
                x,
                y: axis - h,
                w,
                h,
                label_x: x + w / 2,
                label_y: axis + 18,
                value_x: x + w / 2,
                value_y: axis - h - 6,
            }
        })
        .collect();
    Chart {
        id: id.into(),
        title: title.into(),
        desc: desc.into(),
        width: WIDTH,
        height,
        horizontal: false,
        axis,
        bars: drawn,
    }
}

/// Horizontal bars, one row per label in order (départements, publics).
pub fn rows(id: &str, title: &str, desc: &str, bars: &[Bar]) -> Chart {
    let (row, top, label_w, value_w) = (28, 8, 300, 70);
    let bar_max = WIDTH - label_w - value_w;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0);
    let drawn = bars
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let y = top + row * i as i64;
            let w = scale(b.value, max, bar_max);
            Drawn {
                label: short(&b.label),
                value: passerelle_core::format_fr::entier(b.value),
                x: label_w,
                y: y + 4,
                w,
                h: row - 8,
                label_x: label_w - 8,
                label_y: y + row / 2 + 5,
                value_x: label_w + w + 6,
                value_y: y + row / 2 + 5,
            }
        })
        .collect();
    Chart {
        id: id.into(),
        title: title.into(),
        desc: desc.into(),
        width: WIDTH,
        height: top * 2 + row * bars.len().max(1) as i64,
        horizontal: true,
        axis: label_w,
        bars: drawn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_to_scale_and_texts_are_escaped() {
        let bars = [
            Bar {
                label: "<script>alert(1)</script> & co".into(),
                value: 4,
            },
            Bar {
                label: "Landes".into(),
                value: 1,
            },
            Bar {
                label: "Vide".into(),
                value: 0,
            },
        ];
        let c = rows("dep", "Encaissements \"par\" département", "3 départements", &bars);
        assert_eq!(c.bars[0].w, WIDTH - 370);
        assert_eq!(c.bars[1].w, (WIDTH - 370) / 4);
        assert_eq!(c.bars[2].w, 0);
        let svg = c.render().unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("role=\"img\""), "{svg}");
        assert!(svg.contains("aria-labelledby=\"dep-titre dep-desc\""));
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&#60;script&#62;") && svg.contains("&#38; co"), "{svg}");
        assert!(svg.contains("&#34;par&#34;"), "{svg}");
        let c = columns("mois", "Par mois", "2 mois", &bars[..2]);
        assert_eq!(c.bars[0].h, 260 - 64);
        assert_eq!(c.bars[0].y + c.bars[0].h, c.axis);
        assert_eq!(columns("vide", "t", "d", &[]).bars.len(), 0);
    }
}
