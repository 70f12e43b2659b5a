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
    /// The same figures drawn for a phone's width (horizontal rows), shown
    /// instead on a narrow screen: the wide drawing, scaled down to 343 px,
    /// would write its labels 6 px tall.
    pub narrow: Option<Box<Chart>>,
}

impl Chart {
    /// The chart for every screen: the wide drawing, and its narrow
    /// companion (passerelle.css shows one of the two).
    pub fn html(&self) -> askama::Result<String> {
        match &self.narrow {
            Some(n) => Ok(format!(
                "<div class=\"passerelle-graphique-large\">{}</div><div class=\"passerelle-graphique-etroit\">{}</div>",
                self.render()?,
                n.render()?
            )),
            None => self.render(),
        }
    }
}

/// Where a chart of horizontal rows writes: its width, the width of the
/// labels' column and of the values', the longest label.
#[derive(Clone, Copy)]
struct Layout {
    width: i64,
    label_w: i64,
    value_w: i64,
    max_label: usize,
}

const WIDE: Layout = Layout {
    width: WIDTH,
    label_w: 300,
    value_w: 70,
    max_label: MAX_LABEL,
};

/// A phone's width: 13-unit texts stay about 12 px tall on a 343 px column.
const NARROW: Layout = Layout {
    width: 360,
    label_w: 150,
    value_w: 64,
    max_label: 18,
};

const WIDTH: i64 = 720;
const MAX_LABEL: usize = 38;

fn short(label: &str) -> String {
    shortened(label, MAX_LABEL)
}

fn shortened(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(max.saturating_sub(1)).collect();
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
        // On a phone, the months are rows: twelve columns would not hold their labels.
        narrow: Some(Box::new(rows_in(NARROW, &format!("{id}-etroit"), title, desc, bars))),
    }
}

/// Horizontal bars, one row per label in order (départements, publics),
/// with their narrow companion.
pub fn rows(id: &str, title: &str, desc: &str, bars: &[Bar]) -> Chart {
    let mut wide = rows_in(WIDE, id, title, desc, bars);
    wide.narrow = Some(Box::new(rows_in(NARROW, &format!("{id}-etroit"), title, desc, bars)));
    wide
}

fn rows_in(at: Layout, id: &str, title: &str, desc: &str, bars: &[Bar]) -> Chart {
    let (row, top) = (28, 8);
    let bar_max = at.width - at.label_w - at.value_w;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0);
    let drawn = bars
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let y = top + row * i as i64;
            let w = scale(b.value, max, bar_max);
            Drawn {
                label: shortened(&b.label, at.max_label),
                value: passerelle_core::format_fr::entier(b.value),
                x: at.label_w,
                y: y + 4,
                w,
                h: row - 8,
                label_x: at.label_w - 8,
                label_y: y + row / 2 + 5,
                value_x: at.label_w + w + 6,
                value_y: y + row / 2 + 5,
            }
        })
        .collect();
    Chart {
        id: id.into(),
        title: title.into(),
        desc: desc.into(),
        width: at.width,
        height: top * 2 + row * bars.len().max(1) as i64,
        horizontal: true,
        axis: at.label_w,
        bars: drawn,
        narrow: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chart_has_a_narrow_companion_with_its_own_ids() {
        let bars: Vec<Bar> = (1..=12)
            .map(|m| Bar {
                label: format!("{m:02}/2026 — un libellé bien trop long"),
                value: m,
            })
            .collect();
        for c in [
            columns("mois", "Par mois", "12 mois", &bars),
            rows("dep", "Par département", "12", &bars),
        ] {
            let n = c.narrow.as_deref().expect("a narrow drawing");
            assert_eq!((n.width, n.horizontal, n.bars.len()), (NARROW.width, true, 12));
            assert_eq!(n.id, format!("{}-etroit", c.id));
            assert!(n.bars.iter().all(|b| b.label.chars().count() <= NARROW.max_label));
            assert!(n.bars.iter().all(|b| b.x + b.w + 6 <= NARROW.width - 8), "values fit");
            let html = c.html().unwrap();
            assert!(
                html.starts_with("<div class=\"passerelle-graphique-large\"><svg"),
                "{html}"
            );
            assert!(html.contains("<div class=\"passerelle-graphique-etroit\"><svg"));
            assert!(
                html.contains(&format!("id=\"{}-titre\"", c.id))
                    && html.contains(&format!("id=\"{}-etroit-titre\"", c.id))
            );
        }
    }

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
