//! Texts going into a SEPA transfer file: always within the SEPA Latin set and
//! the length asked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passerelle_core::reglements::bank::parse_holder;
use passerelle_core::reglements::sepa::{sepa_id, sepa_text};

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/-?:().,'+ ".contains(c)
}

fuzz_target!(|input: (u8, &str)| {
    let (max, text) = input;
    let max = usize::from(max).max(1);
    let out = sepa_text(text, max);
    assert!(out.chars().all(allowed) && out.chars().count() <= max);
    assert_eq!(out.trim(), out);
    if let Ok(id) = sepa_id(text) {
        assert_eq!(id, text);
    }
    if let Ok(holder) = parse_holder(text) {
        assert!(!sepa_text(&holder, 70).is_empty());
    }
});
