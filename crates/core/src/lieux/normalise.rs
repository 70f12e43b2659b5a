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
        // Overseas departments have their own country codes: 0590 12 34 56
        // is +590 590 12 34 56, not +33 590….
        let overseas = OVERSEAS
            .iter()
            .find(|(prefixes, _)| prefixes.iter().any(|p| digits[1..].starts_with(p)));
        return Some(match overseas {
            Some((_, code)) => format!("+{code}{}", &digits[1..]),
            None => format!("+33{}", &digits[1..]),
        });
    }
    None
}

/// National prefixes (after the 0) of the overseas departments and
/// collectivities numbered in the French plan, with their country code.
const OVERSEAS: [(&[&str], &str); 5] = [
    (&["590", "690", "691"], "590"),
    (&["594", "694"], "594"),
    (&["596", "696", "697"], "596"),
    (&["262", "263", "269", "639", "692", "693"], "262"),
    (&["508"], "508"),
];

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

#[cfg(test)]
mod tests {
    use super::phone;
    use crate::format_fr::telephone;

    #[test]
    fn french_numbers_get_their_country_code_overseas_too() {
        assert_eq!(phone("05 56 10 30 00").as_deref(), Some("+33556103000"));
        assert_eq!(phone("0033 5 56 10 30 00").as_deref(), Some("+33556103000"));
        assert_eq!(phone("0590 12 34 56").as_deref(), Some("+590590123456"));
        assert_eq!(phone("06 90 12 34 56").as_deref(), Some("+590690123456"));
        assert_eq!(phone("0262 12 34 56").as_deref(), Some("+262262123456"));
        assert_eq!(phone("0269 61 23 45").as_deref(), Some("+262269612345"));
        assert_eq!(phone("0596 12 34 56").as_deref(), Some("+596596123456"));
        assert_eq!(phone("0594 12 34 56").as_deref(), Some("+594594123456"));
        assert_eq!(phone("0508 41 23 45").as_deref(), Some("+508508412345"));
        assert_eq!(phone("+33556103000"), None, "already international");
        assert_eq!(phone("12 34"), None);
    }

    #[test]
    fn what_is_shown_is_stored_back_unchanged() {
        for stored in [
            "+33556103000",
            "+590590123456",
            "+262269612345",
            "+596696123456",
            "+508508412345",
        ] {
            assert_eq!(phone(&telephone(stored)).as_deref(), Some(stored), "{stored}");
        }
    }
}
