//! Qualification of places for the Pass Numérique (the legal entity, its bank
//! details). This part: taking over places qualified under a former operator.

pub mod import;
