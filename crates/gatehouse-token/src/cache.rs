//! A small in-process cache of client records: client authentication runs on every token,
//! introspection and revocation request, and a store round trip for each would dominate them.

use gatehouse_core::client::Client;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Upper bound on cached clients, so a flood of unknown ids cannot grow memory without end.
const MAX_ENTRIES: usize = 10_000;

/// When an entry was cached, and the client (`None`: known to be missing).
type Entry = (Instant, Option<Arc<Client>>);

#[derive(Debug)]
pub struct ClientCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl ClientCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(entry)` on a fresh hit, where the entry itself is `None` for a known-missing client.
    pub fn get(&self, id: &str) -> Option<Option<Arc<Client>>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, c)| c.clone())
    }

    pub fn put(&self, id: &str, client: Option<Arc<Client>>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(id.to_owned(), (Instant::now(), client));
    }

    pub fn invalidate(&self, id: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}
