//! A places file in JSON: read, then every row checked. Never a panic; every
//! refusal is a message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passerelle_core::lieux::read::{read, Format};
use passerelle_core::lieux::validate::check_row;

fuzz_target!(|data: &[u8]| {
    match read(data, Format::Json) {
        Ok(parsed) => {
            for (line, values) in &parsed.rows {
                // A fixed day: the fuzzer is not a clock (date_maj is bounded by it).
                if let Err(issues) = check_row(*line, values, jiff::civil::date(2026, 12, 6)) {
                    assert!(issues.iter().all(|i| i.ligne == *line && !i.message.is_empty()));
                }
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
