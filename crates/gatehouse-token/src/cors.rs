//! Which browser origins may read the answers of the endpoints a web page calls (the token,
//! revocation, userinfo and discovery endpoints): those registered in some client's
//! `allowed_cors_origins`.
//!
//! The set is the union over all clients, read from the durable store at most every `ttl` and
//! dropped at once when the admin API changes a client on this replica. A preflight names no
//! client, so it is answered from the union; the token and revocation endpoints then narrow the
//! answer to the origins of the client the request names (see `http::cors`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse_core::store::{DurableStore, PageRequest};

/// Every origin some client allows, as last read.
#[derive(Debug)]
pub struct CorsOrigins {
    ttl: Duration,
    last: Mutex<Option<(Instant, Arc<HashSet<String>>)>>,
}

impl CorsOrigins {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            last: Mutex::new(None),
        }
    }

    /// The union of every client's allowed origins. While the durable store cannot be read, the
    /// last known set serves (or none: a failed read never widens access).
    pub async fn all(&self, durable: &dyn DurableStore) -> Arc<HashSet<String>> {
        let cached = self.last.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some((at, set)) = &cached
            && at.elapsed() < self.ttl
        {
            return Arc::clone(set);
        }
        match read_all(durable).await {
            Ok(set) => {
                let set = Arc::new(set);
                *self.last.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((Instant::now(), Arc::clone(&set)));
                set
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the clients' CORS origins");
                cached.map(|(_, set)| set).unwrap_or_default()
            }
        }
    }

    /// Forgets the set, so the next request reads it again (after a client changed).
    pub fn invalidate(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

async fn read_all(
    durable: &dyn DurableStore,
) -> Result<HashSet<String>, gatehouse_core::store::StoreError> {
    let mut origins = HashSet::new();
    let mut page = PageRequest::first(PageRequest::MAX_SIZE);
    loop {
        let clients = durable.list_clients(&page).await?;
        for client in &clients.items {
            origins.extend(client.metadata.allowed_cors_origins.iter().cloned());
        }
        match clients.next {
            Some(after) => page.after = Some(after),
            None => return Ok(origins),
        }
    }
}
