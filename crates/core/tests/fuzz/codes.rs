//! Cheque codes as a person types them or a scanner reads them.

use passerelle_core::pass_numerique::code::{Code, Malformed, ALPHABET, LEN};
use passerelle_core::pass_numerique::motif::Motif;
use proptest::prelude::*;

use crate::support::{assert_french, hostile_text};

/// A code typed with noise a person or a scanner adds: case, separators,
/// look-alikes, surrounding spaces.
fn typed(code: &Code, noise: &[(bool, u8)]) -> String {
    let mut out = String::from(" ");
    for (c, &(lower, sep)) in code.compact().chars().zip(noise) {
        let c = match c {
            '0' if sep == 5 => 'O',
            '1' if sep == 4 => 'l',
            c if lower => c.to_ascii_lowercase(),
            c => c,
        };
        out.push(c);
        out.push_str(match sep {
            0 => "-",
            1 => " ",
            2 => "\u{2011}",
            _ => "",
        });
    }
    out.push('\n');
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any text is a code or a refusal with a reason, never a panic.
    #[test]
    fn any_text_is_a_code_or_a_reason(text in hostile_text(12)) {
        match Code::parse(&text) {
            Ok(code) => {
                prop_assert_eq!(code.compact().len(), LEN);
                prop_assert_eq!(Code::parse(&code.grouped()), Ok(code));
            }
            Err(m) => prop_assert!(matches!(m, Malformed::Character | Malformed::Length | Malformed::Check)),
        }
    }

    /// Texts made of the alphabet only: the check symbol decides, one in 32 passes.
    #[test]
    fn alphabet_soup_is_checked(symbols in prop::collection::vec(0usize..32, 0..40)) {
        let text: String = symbols.iter().map(|&i| ALPHABET[i] as char).collect();
        let parsed = Code::parse(&text);
        if symbols.len() != LEN {
            prop_assert_eq!(parsed, Err(Malformed::Length));
        } else if let Ok(code) = parsed {
            prop_assert_eq!(code.compact(), text);
        } else {
            prop_assert_eq!(parsed, Err(Malformed::Check));
        }
    }

    /// Every valid code, however typed, reads back to itself.
    #[test]
    fn valid_codes_round_trip(
        bits in any::<[u8; 10]>(),
        noise in prop::collection::vec((any::<bool>(), 0u8..6), LEN),
    ) {
        let code = Code::from_bits(&bits);
        let text = typed(&code, &noise);
        prop_assert_eq!(Code::parse(&text), Ok(code.clone()));
        prop_assert_eq!(Code::parse(&code.compact()), Ok(code));
    }

    /// A huge paste is refused quickly (length), not read to the end.
    #[test]
    fn huge_pastes_are_refused(n in 18usize..200_000) {
        prop_assert_eq!(Code::parse(&"A".repeat(n)), Err(Malformed::Length));
    }
}

/// The person sees a French sentence for a badly typed code.
#[test]
fn a_badly_typed_code_has_a_french_message() {
    assert_french(Motif::CodeMalSaisi.message()).unwrap();
    assert_eq!(Motif::CodeMalSaisi.key(), "code_mal_saisi");
}
