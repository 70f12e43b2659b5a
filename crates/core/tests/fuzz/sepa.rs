//! Names and texts going into a SEPA credit transfer file.

use passerelle_core::identifiants::{Bic, Centimes, Iban};
use passerelle_core::reglements::bank::parse_holder;
use passerelle_core::reglements::sepa::{sepa_id, sepa_text, write, Batch, Debtor, Transfer};
use proptest::prelude::*;

use crate::support::{assert_french, hostile_text};

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/-?:().,'+ ".contains(c)
}

/// Names of people and places as they are typed, in scripts the banks do not take.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => hostile_text(10),
        1 => "[\\p{Latin} '’&_-]{0,90}",
        1 => "[\\p{Greek}\\p{Cyrillic}\\p{Han}\\p{Arabic} ]{0,20}",
        1 => Just("Ǆ ǅ ǈ ﬁ ﬀ Å Ω ẞ ŉ ǰ ŀ".to_string()),
    ]
}

fn batch(creditors: Vec<(String, i64)>) -> Batch {
    Batch {
        msg_id: "LOT-2026-000001".into(),
        created: "2026-01-31T10:00:00".into(),
        execution: "2026-02-02".into(),
        debtor: Debtor {
            nom: "Opérateur".into(),
            iban: Iban::parse("FR7630006000011234567890189").expect("IBAN"),
            bic: Bic::parse("AGRIFRPP").expect("BIC"),
        },
        transfers: creditors
            .into_iter()
            .enumerate()
            .map(|(i, (creditor, amount_cents))| Transfer {
                statement: format!("REL-2026-{:06}", i + 1),
                amount_cents: Centimes::new(amount_cents),
                creditor,
                iban: Iban::parse("FR7630006000011234567890189").expect("IBAN"),
                bic: Bic::parse("AGRIFRPP").expect("BIC"),
            })
            .collect(),
    }
}

/// The text of every element named `name` (the file is written without
/// attributes on these elements), entities decoded.
fn texts_of(xml: &str, name: &str) -> Vec<String> {
    let re = regex::Regex::new(&format!("<{name}>([^<]*)</{name}>")).expect("expression");
    re.captures_iter(xml)
        .map(|c| {
            c[1].replace("&apos;", "'")
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

/// Whether the whole document reads as XML.
fn well_formed(xml: &str) -> bool {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any text comes out in the SEPA Latin set, within its length, trimmed.
    #[test]
    fn any_text_comes_out_in_the_sepa_set(text in name(), max in 1usize..141) {
        let out = sepa_text(&text, max);
        prop_assert!(out.chars().all(allowed), "{out:?}");
        prop_assert!(out.chars().count() <= max);
        prop_assert_eq!(out.trim(), out.as_str());
        prop_assert!(!out.contains("  "));
        // Already SEPA text is left alone.
        prop_assert_eq!(sepa_text(&out, max), out);
    }

    /// An identifier is kept as it is, or refused in French.
    #[test]
    fn identifiers_are_kept_or_refused(text in hostile_text(6)) {
        match sepa_id(&text) {
            Ok(id) => {
                prop_assert_eq!(&id, &text);
                prop_assert!(id.chars().all(|c| allowed(c) && c != ' '));
                prop_assert!(!id.is_empty() && id.chars().count() <= 35);
            }
            Err(e) => assert_french(&e.to_string())?,
        }
    }

    /// A holder's name accepted by the form always leaves a name in the file.
    #[test]
    fn accepted_holders_have_a_sepa_name(text in name()) {
        match parse_holder(&text) {
            Ok(holder) => prop_assert!(!sepa_text(&holder, 70).is_empty(), "{holder:?}"),
            Err(e) => assert_french(&e.to_string())?,
        }
    }

    /// Whatever the names and amounts, the file is refused in French or is
    /// well-formed XML whose names are 1 to 70 SEPA characters.
    #[test]
    fn files_hold_only_sepa_names(creditors in prop::collection::vec((name(), -5i64..10_000_000), 0..6)) {
        match write(&batch(creditors)) {
            Ok(xml) => {
                prop_assert!(well_formed(&xml), "XML mal formé");
                let names = texts_of(&xml, "Nm");
                prop_assert!(names.len() >= 2);
                for n in names {
                    let len = n.chars().count();
                    prop_assert!((1..=70).contains(&len) && n.chars().all(allowed), "{n:?}");
                }
                for u in texts_of(&xml, "Ustrd") {
                    prop_assert!(u.chars().count() <= 140 && u.chars().all(allowed));
                }
            }
            Err(e) => assert_french(&e.to_string())?,
        }
    }
}
