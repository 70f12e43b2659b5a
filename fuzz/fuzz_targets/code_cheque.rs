//! A cheque code as typed or scanned: a code (that reads back from its
//! grouped form) or a reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passerelle_core::pass_numerique::code::Code;

fuzz_target!(|text: &str| {
    if let Ok(code) = Code::parse(text) {
        assert_eq!(Code::parse(&code.grouped()), Ok(code.clone()));
        assert_eq!(Code::parse(&code.compact()), Ok(code));
    }
});
