//! What every property checks on a refusal.

use proptest::prelude::*;

/// Words that betray a message from a library, in English, reaching the user.
const ENGLISH: &[&str] = &[
    "invalid",
    "error",
    "expected",
    "unexpected",
    "failed",
    "found",
    "missing",
    "while",
    "unknown",
];

/// The message without the parts quoted from the input (`« … »`), which may say anything.
fn own_words(message: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in message.chars() {
        match c {
            '«' => depth += 1,
            '»' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.to_lowercase()
}

/// A refusal meant for a person: not empty, in French, not a library's English message.
pub fn assert_french(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(!message.trim().is_empty(), "message de refus vide");
    let own = own_words(message);
    for word in ENGLISH {
        prop_assert!(
            !own.split(|c: char| !c.is_alphanumeric()).any(|w| w == *word),
            "message en anglais : {message:?}"
        );
    }
    Ok(())
}

/// Any text, with a bias towards what breaks parsers: control characters,
/// quotes, separators, combining marks, right-to-left marks, emoji.
pub fn hostile_text(max: usize) -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        4 => "\\PC{0,12}",
        2 => "[\\x00-\\x1f\"';,|=@+\\-\\\\\\n\\r\\t ]{0,6}",
        1 => Just("\u{feff}".to_string()),
        1 => Just("\u{202e}".to_string()),
        1 => Just("e\u{301}\u{301}\u{301}".to_string()),
        1 => Just("🧑‍🤝‍🧑".to_string()),
        1 => "[0-9]{1,30}",
    ];
    prop::collection::vec(pieces, 0..max).prop_map(|v| v.concat())
}

#[test]
fn the_french_check_catches_english() {
    let check = |m: &str| assert_french(m).is_ok();
    assert!(check("code de périmètre « invalid » invalide"));
    assert!(!check("invalid digit found in string"));
    assert!(!check(""));
}
