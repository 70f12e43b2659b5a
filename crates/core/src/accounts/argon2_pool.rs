//! A bound on the Argon2 work of one process. Each hash or verification takes
//! 19 MiB and tens of milliseconds of CPU: without a bound, a burst of requests
//! (wrong passwords, even from one stolen session) runs them all at once and
//! the memory grows with the burst. Here at most `parallel` run at a time (so
//! at most `parallel` × 19 MiB), at most `waiting` more wait their turn, and
//! any further request is refused at once with [`CoreError::Busy`] (503 on the
//! web). The bound is per process, as the memory it protects.
//!
//! Every Argon2 hash or verification of the code base goes through
//! [`Argon2Pool::hash`] or [`Argon2Permit::verify`] (never through
//! [`password::hash`] or [`password::verify`] on an async worker).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::password;
use crate::error::{CoreError, Result};

/// Memory of one Argon2 run with the parameters of [`password::hash`] (m = 19 456 KiB).
pub const MIB_PER_RUN: usize = 19;

#[derive(Debug)]
struct Inner {
    permits: Arc<Semaphore>,
    parallel: usize,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// The bounded pool; cheap to clone (all clones share the same bound).
#[derive(Debug, Clone)]
pub struct Argon2Pool {
    inner: Arc<Inner>,
}

/// The right to run one Argon2 computation, obtained before counting an
/// attempt, so that a refusal for overload (503) never counts as a failure.
#[derive(Debug)]
pub struct Argon2Permit {
    permit: OwnedSemaphorePermit,
}

/// Leaves the queue when the wait ends, however it ends (a client that goes
/// away drops the waiting future).
struct InQueue<'a>(&'a AtomicUsize);

impl Drop for InQueue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Default for Argon2Pool {
    /// One computation per CPU, four times as many waiting.
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Argon2Pool::new(cpus, 4 * cpus)
    }
}

impl Argon2Pool {
    /// At most `parallel` computations at once (at least 1), at most `waiting` waiting.
    pub fn new(parallel: usize, waiting: usize) -> Self {
        let parallel = parallel.max(1);
        Argon2Pool {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(parallel)),
                parallel,
                waiting: AtomicUsize::new(0),
                max_waiting: waiting,
            }),
        }
    }

    /// Computations allowed at once.
    pub fn parallel(&self) -> usize {
        self.inner.parallel
    }

    /// Requests allowed to wait.
    pub fn max_waiting(&self) -> usize {
        self.inner.max_waiting
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::SeqCst)
    }

    /// A permit now, or after waiting in the queue; [`CoreError::Busy`] when the queue is full.
    pub async fn permit(&self) -> Result<Argon2Permit> {
        let inner = &self.inner;
        if let Ok(permit) = inner.permits.clone().try_acquire_owned() {
            return Ok(Argon2Permit { permit });
        }
        let before = inner.waiting.fetch_add(1, Ordering::SeqCst);
        let _queued = InQueue(&inner.waiting);
        if before >= inner.max_waiting {
            return Err(CoreError::Busy);
        }
        let permit = inner
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| CoreError::Busy)?;
        Ok(Argon2Permit { permit })
    }

    /// Runs `work` on a blocking thread with a permit. The permit goes with the
    /// work: if the request is abandoned meanwhile, it is released only when the
    /// computation really ends, so the bound on memory holds.
    pub async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.permit().await?.run(work).await
    }

    /// [`password::hash`] within the bound.
    pub async fn hash(&self, password: String) -> Result<String> {
        self.run(move || password::hash(&password)).await?
    }
}

impl Argon2Permit {
    /// Runs `work` on a blocking thread, then releases the permit.
    pub async fn run<T, F>(self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = self.permit;
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|e| CoreError::Io(format!("calcul Argon2 interrompu : {e}")))
    }

    /// Verifies `input` against `stored` (a PHC string); `None` verifies against
    /// a hash of a random password, so that an unknown account takes as long to
    /// refuse as a wrong password. Inputs longer than [`password::MAX_LEN`] are
    /// refused without hashing them.
    pub async fn verify(self, input: String, stored: Option<String>) -> Result<bool> {
        self.run(move || {
            let too_long = input.chars().count() > password::MAX_LEN;
            let input = if too_long { "" } else { input.as_str() };
            let ok = match &stored {
                Some(s) => password::verify(input, s),
                None => {
                    password::verify(input, password::dummy_hash());
                    false
                }
            };
            ok && !too_long
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_frees_its_place() {
        let pool = Argon2Pool::new(1, 1);
        let held = pool.permit().await.unwrap();
        let waiter = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.permit().await.map(|_| ()) })
        };
        while pool.inner.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(pool.permit().await, Err(CoreError::Busy)));
        assert_eq!(pool.inner.waiting.load(Ordering::SeqCst), 1, "the refused one left");
        drop(held);
        waiter.await.unwrap().unwrap();
        assert_eq!(pool.inner.waiting.load(Ordering::SeqCst), 0);
        assert_eq!(pool.run(|| 2 + 2).await.unwrap(), 4);
    }

    #[tokio::test]
    async fn verification_within_the_bound() {
        let pool = Argon2Pool::new(1, 0);
        let h = pool.hash("une phrase de passe correcte".into()).await.unwrap();
        let ok = |pw: &str, stored: Option<String>| {
            let (pool, pw) = (pool.clone(), pw.to_string());
            async move { pool.permit().await.unwrap().verify(pw, stored).await.unwrap() }
        };
        assert!(ok("une phrase de passe correcte", Some(h.clone())).await);
        assert!(!ok("une autre phrase", Some(h.clone())).await);
        assert!(!ok("une phrase de passe correcte", None).await);
        assert!(!ok(&"x".repeat(300), Some(h)).await);
    }
}
