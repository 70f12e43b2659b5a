//! Markdown to HTML (pulldown-cmark), then sanitised (ammonia): whatever the
//! opérateur types, the page gets no script, no event attribute, no inline
//! style and no `javascript:` link; links get `rel="noopener noreferrer"`.

use std::collections::HashSet;

use pulldown_cmark::{html, Options, Parser};

/// The safe HTML of a Markdown text.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_SMART_PUNCTUATION;
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, Parser::new_ext(markdown, options));
    ammonia::Builder::default()
        .url_schemes(HashSet::from(["http", "https", "mailto", "tel"]))
        .link_rel(Some("noopener noreferrer"))
        .rm_tags(["img"])
        .clean(&raw)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn markdown_is_rendered() {
        let h = to_html(
            "# Titre\n\nUn **guide** et [un lien](https://www.service-public.fr).\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
        );
        assert!(h.contains("<h1>Titre</h1>"), "{h}");
        assert!(h.contains("<strong>guide</strong>"), "{h}");
        assert!(
            h.contains(r#"<a href="https://www.service-public.fr" rel="noopener noreferrer">un lien</a>"#),
            "{h}"
        );
        assert!(h.contains("<table>"), "{h}");
    }

    #[test]
    fn scripts_event_handlers_styles_and_javascript_links_are_removed() {
        let h = to_html(
            "<script>alert(1)</script>\n\n<img src=x onerror=\"alert(2)\">\n\n[clic](javascript:alert(3))\n\n\
             <a href=\"JaVaScRiPt:alert(4)\">lien</a> <p style=\"color:red\" onclick=\"alert(5)\">texte</p>\n\n\
             <iframe src=\"https://exemple.fr\"></iframe><form action=\"/x\"><input></form>",
        );
        for bad in [
            "<script",
            "alert(1)",
            "onerror",
            "javascript:",
            "JaVaScRiPt",
            "style=",
            "onclick",
            "<iframe",
            "<form",
            "<input",
            "<img",
        ] {
            assert!(!h.contains(bad), "{bad} in {h}");
        }
        assert!(h.contains("texte"), "{h}");
    }
}
