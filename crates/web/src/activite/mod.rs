//! Activité des structures d'Aidants Connect et des lieux.

pub(crate) mod pages;
