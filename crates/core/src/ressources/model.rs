//! What an article and an attached file may be: the checks of the form, the
//! search text, the file types (read from the content), safe file names.

use unicode_normalization::UnicodeNormalization;

/// Largest attached file, in bytes.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Attached files per article.
pub const MAX_FILES: i64 = 20;
pub const MAX_TITLE: usize = 150;
pub const MAX_SUMMARY: usize = 500;
/// Longest Markdown body, in characters (the form's body limit is 64 KiB anyway).
pub const MAX_BODY: usize = 60_000;
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG: usize = 40;
pub const MAX_SLUG: usize = 80;

/// The article as typed in the form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    pub slug: String,
    pub titre: String,
    pub resume: String,
    pub corps: String,
    /// Tags separated by commas, as typed.
    pub tags: String,
}

/// A checked article, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valid {
    pub slug: String,
    pub titre: String,
    pub resume: String,
    pub corps: String,
    pub tags: Vec<String>,
    pub texte_recherche: String,
}

/// Lower case, accents removed, anything but letters and digits turned into
/// single spaces: what searches compare (`Délibération` → `deliberation`).
pub fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = true;
    for c in s.nfd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)) {
        let c = match c {
            'œ' | 'Œ' => {
                out.push_str("oe");
                space = false;
                continue;
            }
            'æ' | 'Æ' => {
                out.push_str("ae");
                space = false;
                continue;
            }
            c => c,
        };
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    out.trim_end().to_string()
}

/// The words of a search, normalised, 8 at most, each of 2 characters at least
/// when there are several (a lone short word is kept).
pub fn search_words(q: &str) -> Vec<String> {
    let words: Vec<String> = normalise(q)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect();
    if words.len() == 1 {
        return words;
    }
    words.into_iter().filter(|w| w.chars().count() >= 2).take(8).collect()
}

/// A slug made from a title: `Accueillir un conseiller numérique` → `accueillir-un-conseiller-numerique`.
pub fn slug_of(title: &str) -> String {
    let s = normalise(title).replace(' ', "-");
    let mut s: String = s.chars().take(MAX_SLUG).collect();
    while s.ends_with('-') {
        s.pop();
    }
    s
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SLUG
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// Tags: separated by commas, trimmed, lower case, without duplicates.
pub fn parse_tags(s: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for t in s.split(',') {
        let t: String = t.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        if !t.is_empty() && !tags.contains(&t) {
            tags.push(t);
        }
    }
    tags
}

/// Checks the form; every refused field is reported at once.
pub fn validate(input: &Input) -> Result<Valid, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let titre = input.titre.trim().to_string();
    let resume = input.resume.trim().to_string();
    let corps = input.corps.replace("\r\n", "\n").trim_end().to_string();
    if titre.is_empty() {
        errors.push(("titre", "Indiquez un titre.".to_string()));
    } else if titre.chars().count() > MAX_TITLE {
        errors.push(("titre", format!("Le titre doit faire au plus {MAX_TITLE} caractères.")));
    }
    if resume.is_empty() {
        errors.push(("resume", "Indiquez un résumé de quelques lignes.".to_string()));
    } else if resume.chars().count() > MAX_SUMMARY {
        errors.push((
            "resume",
            format!("Le résumé doit faire au plus {MAX_SUMMARY} caractères."),
        ));
    }
    if corps.trim().is_empty() {
        errors.push(("corps", "Écrivez le texte de l’article.".to_string()));
    } else if corps.chars().count() > MAX_BODY {
        errors.push(("corps", format!("Le texte doit faire au plus {MAX_BODY} caractères.")));
    }
    let typed = input.slug.trim();
    let slug = if typed.is_empty() {
        slug_of(&titre)
    } else {
        typed.to_string()
    };
    if !titre.is_empty() && !is_slug(&slug) {
        errors.push((
            "slug",
            format!(
                "L’adresse ne peut contenir que des lettres minuscules sans accent, des chiffres et des tirets \
                 (un seul à la fois, ni au début ni à la fin), {MAX_SLUG} caractères au plus."
            ),
        ));
    }
    let tags = parse_tags(&input.tags);
    if tags.len() > MAX_TAGS {
        errors.push(("tags", format!("Indiquez au plus {MAX_TAGS} mots-clés.")));
    } else if tags.iter().any(|t| t.chars().count() > MAX_TAG) {
        errors.push(("tags", format!("Un mot-clé doit faire au plus {MAX_TAG} caractères.")));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let texte_recherche = format!(
        " {} ",
        normalise(&format!("{titre} {resume} {corps} {}", tags.join(" ")))
    );
    Ok(Valid {
        slug,
        titre,
        resume,
        corps,
        tags,
        texte_recherche,
    })
}

/// An accepted file type: MIME type, extension, label.
pub type Kind = (&'static str, &'static str, &'static str);

pub const PDF: Kind = ("application/pdf", "pdf", "PDF");
pub const ODT: Kind = ("application/vnd.oasis.opendocument.text", "odt", "ODT");
pub const ODS: Kind = ("application/vnd.oasis.opendocument.spreadsheet", "ods", "ODS");
pub const DOCX: Kind = (
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "docx",
    "DOCX",
);
pub const XLSX: Kind = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xlsx",
    "XLSX",
);
pub const CSV: Kind = ("text/csv", "csv", "CSV");
pub const PNG: Kind = ("image/png", "png", "PNG");
pub const JPEG: Kind = ("image/jpeg", "jpg", "JPEG");
pub const KINDS: [Kind; 8] = [PDF, ODT, ODS, DOCX, XLSX, CSV, PNG, JPEG];

pub const REFUSED_TYPE: &str =
    "Type de fichier refusé : seuls les fichiers PDF, ODT, DOCX, XLSX, ODS, CSV, PNG et JPEG \
     sont acceptés (le type est reconnu au contenu du fichier, pas à son nom).";

/// The type of a file, read from its content: the magic bytes for binary
/// formats (and the ZIP entries for office documents). CSV has none, so a CSV
/// must be named `.csv` and be UTF-8 text without control characters other
/// than tabulations and line ends, and not look like HTML.
pub fn sniff(name: &str, bytes: &[u8]) -> Option<Kind> {
    if bytes.starts_with(b"%PDF-") {
        Some(PDF)
    } else if infer::image::is_png(bytes) {
        Some(PNG)
    } else if infer::image::is_jpeg(bytes) {
        Some(JPEG)
    } else if infer::odf::is_odt(bytes) {
        Some(ODT)
    } else if infer::odf::is_ods(bytes) {
        Some(ODS)
    } else if infer::doc::is_docx(bytes) {
        Some(DOCX)
    } else if infer::doc::is_xlsx(bytes) {
        Some(XLSX)
    } else if name.to_lowercase().ends_with(".csv") && is_csv_text(bytes) {
        Some(CSV)
    } else {
        None
    }
}

fn is_csv_text(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)) else {
        return false;
    };
    let start = text.trim_start().to_ascii_lowercase();
    !text.trim().is_empty()
        && !start.starts_with('<')
        && !text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// A file name to show (escaped by the pages): no path, no control character,
/// no double quote nor angle bracket, 100 characters at most.
pub fn display_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | ';' | '<' | '>' | '`'))
        .take(100)
        .collect();
    let clean = clean.trim().trim_start_matches('.').trim().to_string();
    if clean.is_empty() {
        "document".into()
    } else {
        clean
    }
}

/// The name a download is saved under: ASCII letters, digits and dashes, and
/// the extension of the type read from the content (whatever the name said).
pub fn download_name(name: &str, kind_ext: &str) -> String {
    let stem = match name.rsplit_once('.') {
        Some((s, _)) if !s.is_empty() => s,
        _ => name,
    };
    let mut s: String = normalise(stem).replace(' ', "-").chars().take(80).collect();
    s.retain(|c| c.is_ascii_alphanumeric() || c == '-');
    if s.is_empty() {
        s = "document".into();
    }
    format!("{s}.{kind_ext}")
}

/// A size in French: `820 octets`, `12,4 Ko`, `3,1 Mo`.
pub fn human_size(bytes: i64) -> String {
    if bytes < 1024 {
        return format!("{bytes} octets");
    }
    let (value, unit) = if bytes < 1024 * 1024 {
        (bytes as f64 / 1024.0, "Ko")
    } else {
        (bytes as f64 / (1024.0 * 1024.0), "Mo")
    };
    format!("{value:.1} {unit}").replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_lower_case_without_accents_or_punctuation() {
        assert_eq!(
            normalise("Délibération : Pass NUMÉRIQUE, l’œuvre !"),
            "deliberation pass numerique l oeuvre"
        );
        assert_eq!(search_words("  Délibération, pass "), ["deliberation", "pass"]);
        assert_eq!(search_words("à"), ["a"]);
        assert_eq!(
            slug_of("Accueillir un conseiller numérique !"),
            "accueillir-un-conseiller-numerique"
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let e = validate(&Input {
            slug: "Pas Bon".into(),
            titre: "x".repeat(200),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<&str> = e.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["titre", "resume", "corps", "slug"]);
        let v = validate(&Input {
            slug: String::new(),
            titre: "Guide : financer le Pass".into(),
            resume: "Résumé".into(),
            corps: "Corps".into(),
            tags: "Pass Numérique, guide,, GUIDE ".into(),
        })
        .unwrap();
        assert_eq!(v.slug, "guide-financer-le-pass");
        assert_eq!(v.tags, ["pass numérique", "guide"]);
        assert!(v.texte_recherche.contains(" pass numerique guide "));
    }

    #[test]
    fn file_types_are_read_from_the_content() {
        assert_eq!(sniff("a.pdf", b"%PDF-1.7\n"), Some(PDF));
        assert_eq!(sniff("a.txt", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(PNG));
        assert_eq!(sniff("a.pdf", b"\xFF\xD8\xFF\xE0\0\x10JFIF"), Some(JPEG));
        assert_eq!(
            sniff("t.csv", "\u{feff}commune;montant\n33063;1000\n".as_bytes()),
            Some(CSV)
        );
        assert_eq!(sniff("t.txt", b"commune;montant\n"), None);
        assert_eq!(sniff("t.csv", b"<html><script>alert(1)</script>"), None);
        assert_eq!(sniff("t.csv", b"a,b\0c"), None);
        assert_eq!(sniff("x.pdf", b"MZ\x90\0"), None);
        let mut odt = b"PK\x03\x04".to_vec();
        odt.extend_from_slice(&[0; 26]);
        odt.extend_from_slice(b"mimetypeapplication/vnd.oasis.opendocument.text");
        assert_eq!(sniff("d.odt", &odt), Some(ODT));
        let zip = |entry: &[u8]| {
            let mut z = b"PK\x03\x04".to_vec();
            z.extend_from_slice(&[0; 26]);
            z.extend_from_slice(entry);
            z
        };
        assert_eq!(sniff("d.pdf", &zip(b"word/document.xml")), Some(DOCX));
        assert_eq!(sniff("t.csv", &zip(b"xl/workbook.xml")), Some(XLSX));
        assert_eq!(sniff("a.zip", &zip(b"autre/fichier.txt")), None);
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(
            display_name("C:\\Users\\x\\Délibération \"type\".pdf"),
            "Délibération type.pdf"
        );
        assert_eq!(display_name("../.."), "document");
        assert_eq!(download_name("Délibération type.exe", "pdf"), "deliberation-type.pdf");
        assert_eq!(download_name("«»", "csv"), "document.csv");
        assert_eq!(human_size(820), "820 octets");
        assert_eq!(human_size(12_700), "12,4 Ko");
        assert_eq!(human_size(3 * 1024 * 1024), "3,0 Mo");
    }
}
