//! The scope catalogue as the token service reads it when it releases claims (which custom
//! claims a granted scope names): one durable read at most every `ttl`, dropped at once when the
//! admin API changes a scope on this replica, and served stale while the durable store cannot be
//! read. Each change also moves a generation counter, so discovery (`claims_supported`,
//! `scopes_supported`) rebuilds its pre-serialised document at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse_core::scope::ScopeDefinition;
use gatehouse_core::store::{DurableStore, StoreError};

/// The catalogue, as last read.
#[derive(Debug)]
pub struct ScopeCatalogue {
    ttl: Duration,
    last: Mutex<Option<(Instant, Arc<[ScopeDefinition]>)>>,
    generation: AtomicU64,
}

impl ScopeCatalogue {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            last: Mutex::new(None),
            generation: AtomicU64::new(0),
        }
    }

    /// The whole catalogue. While the durable store cannot be read, the last copy serves; with
    /// none, the store's error.
    pub async fn all(
        &self,
        durable: &dyn DurableStore,
    ) -> Result<Arc<[ScopeDefinition]>, StoreError> {
        let cached = self.last.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some((at, catalogue)) = &cached
            && at.elapsed() < self.ttl
        {
            return Ok(Arc::clone(catalogue));
        }
        let generation = self.generation();
        match durable.list_scopes().await {
            Ok(catalogue) => {
                let catalogue: Arc<[ScopeDefinition]> = catalogue.into();
                // A change made while this read was in flight must not be hidden by it.
                if self.generation() == generation {
                    *self.last.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some((Instant::now(), Arc::clone(&catalogue)));
                }
                Ok(catalogue)
            }
            Err(e) => match cached {
                Some((_, catalogue)) => {
                    tracing::warn!(error = %e, "could not read the scope catalogue; serving the last copy");
                    Ok(catalogue)
                }
                None => Err(e),
            },
        }
    }

    /// Forgets the catalogue (after a scope changed), so the next use reads it again.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Moves on every [`ScopeCatalogue::invalidate`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}
