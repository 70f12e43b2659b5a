//! The closed vocabularies of the places standard, generated at build time from
//! its Table Schema (see `crates/core/build.rs`).

include!(concat!(env!("OUT_DIR"), "/vocabulaires.rs"));
