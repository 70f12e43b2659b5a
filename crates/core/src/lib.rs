//! Passerelle's domains and storage. No HTTP here: the web layer calls these
//! functions and maps [`error::CoreError`] to responses.

pub mod accounts;
pub mod db;
pub mod demo;
pub mod error;
pub mod journal;
pub mod keys;
pub mod lieux;
pub mod ratelimit;

pub use db::{Backend, Db, Tx};
pub use error::{CoreError, CoreResult};
pub use keys::Keys;

/// What every use case needs: the database and the deployment's keys.
#[derive(Clone, Debug)]
pub struct Core {
    pub db: Db,
    pub keys: Keys,
}

impl Core {
    pub fn new(db: Db, keys: Keys) -> Self {
        Core { db, keys }
    }
}
