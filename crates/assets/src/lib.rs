//! The files the binary carries: the DSFR it serves, the fonts of its PDF
//! documents and the official territories, taken at build time from the npm
//! packages pinned in `package-lock.json` (`npm ci` must have run; the build
//! says so otherwise). A server needs nothing beside the binary; the flags that
//! point to outside folders stay as overrides.

pub mod carte;
pub mod dsfr;
pub mod polices;
pub mod territoires;
