//! The snapshot of the directory shared by the requests of one instance.

use std::sync::{Arc, RwLock};

use super::{Index, VERSION_KEY};
use crate::db::{deployment_get, Db};
use crate::error::Result;

/// The snapshot shared by the requests of one instance. It is checked against
/// the database version at most every `max_age` (every request when zero): a
/// change committed by any instance is served everywhere within that delay.
#[derive(Debug, Clone)]
pub struct Cache {
    current: Arc<RwLock<Arc<Index>>>,
    checked: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    max_age: std::time::Duration,
}

impl Default for Cache {
    fn default() -> Self {
        Cache::new(std::time::Duration::ZERO)
    }
}

impl Cache {
    pub fn new(max_age: std::time::Duration) -> Self {
        Cache {
            current: Default::default(),
            checked: Default::default(),
            max_age,
        }
    }

    fn snapshot(&self) -> Result<Arc<Index>> {
        Ok(self
            .current
            .read()
            .map_err(|_| crate::CoreError::Io("index des lieux verrouillé".into()))?
            .clone())
    }

    pub async fn get(&self, db: &Db) -> Result<Arc<Index>> {
        if !self.max_age.is_zero() {
            let fresh_enough = self
                .checked
                .lock()
                .map(|c| c.is_some_and(|t| t.elapsed() < self.max_age))
                .unwrap_or(false);
            if fresh_enough {
                return self.snapshot();
            }
        }
        let version = deployment_get(db, VERSION_KEY).await?;
        let current = self.snapshot()?;
        let index = if current.version == version && (version.is_some() || current.entries.is_empty()) {
            current
        } else {
            let fresh = Arc::new(Index::load(db, version).await?);
            if let Ok(mut w) = self.current.write() {
                *w = fresh.clone();
            }
            fresh
        };
        if let Ok(mut c) = self.checked.lock() {
            *c = Some(std::time::Instant::now());
        }
        Ok(index)
    }
}
