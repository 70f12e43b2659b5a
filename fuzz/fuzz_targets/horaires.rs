//! Opening hours (OpenStreetMap syntax): parsed or refused; parsed hours can be
//! asked whether the place is open, and for their week in words.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passerelle_core::lieux::horaires::{en_clair, Horaires};

fuzz_target!(|text: &str| {
    match Horaires::parse(text) {
        Ok(h) => {
            // The night of the change to summer time in Paris.
            let t = jiff::civil::datetime(2026, 3, 29, 1, 30, 0, 0);
            let etat = h.etat(t);
            assert!(!en_clair(&etat, t).is_empty());
            assert_eq!(h.semaine(t.date()).len(), 7);
        }
        Err(e) => assert!(!e.is_empty()),
    }
});
