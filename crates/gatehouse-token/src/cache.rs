//! A small in-process cache of client records: client authentication runs on every token,
//! introspection and revocation request, and a store round trip for each would dominate them.
//!
//! Entries are fresh for `ttl` (then re-read), and kept for `stale_if_error` (RFC 5861's idea):
//! while the durable store cannot be reached, the last known record of a client still
//! authenticates it, so resource servers keep introspecting and clients keep getting tokens from
//! the short-lived store through a database outage.

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
    stale_if_error: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl ClientCache {
    pub fn new(ttl: Duration, stale_if_error: Duration) -> Self {
        Self {
            ttl,
            stale_if_error: stale_if_error.max(ttl),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The last known record of a client, if it was read within `stale_if_error`: for when the
    /// store cannot be asked. A client last known to be missing is not served.
    pub fn get_stale(&self, id: &str) -> Option<Arc<Client>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(id)
            .filter(|(at, _)| at.elapsed() < self.stale_if_error)
            .and_then(|(_, c)| c.clone())
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
            let keep = self.stale_if_error;
            entries.retain(|_, (at, _)| at.elapsed() < keep);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn client(id: &str) -> Option<Arc<Client>> {
        Some(Arc::new(Client {
            id: gatehouse_core::client::ClientId::parse(id).unwrap(),
            incarnation: "inc".into(),
            metadata: gatehouse_core::client::ClientMetadata::default(),
            secret: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        }))
    }

    #[test]
    fn stale_entries_serve_only_when_asked_and_only_known_clients() {
        let cache = ClientCache::new(Duration::ZERO, Duration::from_secs(600));
        // A zero ttl caches nothing at all.
        cache.put("app", client("app"));
        assert!(cache.get("app").is_none() && cache.get_stale("app").is_none());

        let cache = ClientCache::new(Duration::from_millis(20), Duration::from_secs(600));
        cache.put("app", client("app"));
        cache.put("gone", None);
        assert!(cache.get("app").is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(cache.get("app").is_none(), "not fresh any more");
        assert_eq!(cache.get_stale("app").unwrap().id, "app");
        assert!(
            cache.get_stale("gone").is_none(),
            "a missing client is not served stale"
        );
        cache.invalidate("app");
        assert!(cache.get_stale("app").is_none(), "an admin change drops it");
    }
}
