//! Property-based fuzzing of the parsers that take outside data: files of
//! places, opening hours, cheque codes, SEPA texts, validators, FranceConnect
//! tokens. Each property says "no panic, and a refusal is a French message"; a
//! valid input also makes the round trip where one exists.
//!
//! Case counts are kept small enough for the whole binary to run in a few
//! seconds in CI; `PROPTEST_CASES=10000 cargo nextest run -p passerelle-core
//! --test fuzz` runs longer, and `fuzz/` holds the libFuzzer targets.

mod codes;
mod franceconnect;
mod horaires;
mod lieux;
mod sepa;
mod support;
mod validators;
