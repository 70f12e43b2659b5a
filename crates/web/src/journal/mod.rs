//! Journal des actions sensibles : page de consultation.

pub(crate) mod pages;
