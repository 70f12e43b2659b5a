//! Safe normalisations of text values (spaces, communes in capitals, phone
//! numbers) and the cached check of opening-hours texts.

/// Trims, and collapses runs of spaces (and, except in long texts, line breaks).
pub(crate) fn clean_spaces(v: &str, keep_lines: bool) -> String {
    if keep_lines {
        v.trim()
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        v.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// « SAINT-ÉTIENNE-DU-ROUVRAY » → « Saint-Étienne-du-Rouvray ».
pub fn commune_case(s: &str) -> String {
    const SMALL: &[&str] = &[
        "de", "du", "des", "la", "le", "les", "sur", "sous", "en", "lès", "lez", "et", "aux", "au", "d", "l",
    ];
    let mut out = String::new();
    let mut word = String::new();
    let mut first = true;
    let flush = |word: &mut String, out: &mut String, first: bool| {
        if word.is_empty() {
            return;
        }
        let lower = word.to_lowercase();
        if !first && SMALL.contains(&lower.as_str()) {
            out.push_str(&lower);
        } else {
            let mut cs = lower.chars();
            if let Some(c) = cs.next() {
                out.extend(c.to_uppercase());
                out.push_str(cs.as_str());
            }
        }
        word.clear();
    };
    for c in s.chars() {
        if c == '-' || c == ' ' || c == '\'' || c == '’' {
            flush(&mut word, &mut out, first);
            first = false;
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out, first);
    out
}

/// French numbers written the usual way → international form (`+33…`).
pub(crate) fn phone(t: &str) -> Option<String> {
    let digits: String = t.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect();
    if digits.starts_with('+') {
        return (digits != t).then_some(digits);
    }
    if let Some(rest) = digits.strip_prefix("0033") {
        return Some(format!("+33{}", rest.trim_start_matches('0')));
    }
    if digits.len() == 10 && digits.starts_with('0') {
        return Some(format!("+33{}", &digits[1..]));
    }
    None
}

/// The parse error of an hours text, if any. Files repeat the same few texts
/// thousands of times and parsing is costly: results are kept per thread.
pub(crate) fn hours_error(text: &str) -> Option<String> {
    thread_local! {
        static SEEN: std::cell::RefCell<std::collections::HashMap<String, Option<String>>> = Default::default();
    }
    SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        if let Some(known) = seen.get(text) {
            return known.clone();
        }
        if seen.len() > 10_000 {
            seen.clear();
        }
        let result = super::horaires::Horaires::parse(text).err();
        seen.insert(text.to_string(), result.clone());
        result
    })
}
