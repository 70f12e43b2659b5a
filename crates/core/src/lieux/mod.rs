//! Lieux de médiation numérique: the directory, in the national standard.

pub mod vocabulaires;
