//! Per-client usage counts (tokens issued, sign-ins), for the operator console.
//!
//! Counting happens on the token endpoint's hot path, so it costs no round trip: each process
//! adds to a map in memory ([`UsageCounters::count_token`], [`UsageCounters::count_login`]) and
//! the binary calls [`UsageCounters::flush`] every few seconds (and at shutdown), which adds the
//! counts to the durable store's per-day rows in one transaction. A flush that fails keeps its
//! counts for the next one, so an outage delays counts but loses none.

use std::collections::HashMap;
use std::sync::Mutex;

use gatehouse_core::store::{ClientUsage, DurableStore, StoreResult, UsageDelta};

/// Counts not yet written to the durable store, per client id.
#[derive(Debug, Default)]
pub struct UsageCounters {
    pending: Mutex<HashMap<String, ClientUsage>>,
}

impl UsageCounters {
    /// A token the token endpoint issued to `client_id`.
    pub fn count_token(&self, client_id: &str) {
        self.add(client_id, |u| u.tokens_issued += 1);
    }

    /// A sign-in to `client_id`: an authorization code issued, or a device authorized.
    pub fn count_login(&self, client_id: &str) {
        self.add(client_id, |u| u.logins += 1);
    }

    fn add(&self, client_id: &str, count: impl FnOnce(&mut ClientUsage)) {
        // A poisoned lock only means another thread panicked while counting: the map is still
        // a map of counts.
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        // Looked up by `&str` first: the id is allocated once per client and flush interval.
        match pending.get_mut(client_id) {
            Some(usage) => count(usage),
            None => {
                let mut usage = ClientUsage::default();
                count(&mut usage);
                pending.insert(client_id.to_owned(), usage);
            }
        }
    }

    /// Writes the pending counts to `store` as counts of `day`, and forgets them once written.
    /// When the write fails they are kept (added to what was counted meanwhile) for the next
    /// flush, and the error is returned.
    pub async fn flush(&self, store: &dyn DurableStore, day: time::Date) -> StoreResult<()> {
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if taken.is_empty() {
            return Ok(());
        }
        let deltas: Vec<UsageDelta> = taken
            .iter()
            .map(|(client_id, usage)| UsageDelta {
                client_id: client_id.clone(),
                day,
                usage: *usage,
            })
            .collect();
        if let Err(e) = store.add_client_usage(&deltas).await {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for (client_id, usage) in taken {
                let kept = pending.entry(client_id).or_default();
                kept.tokens_issued += usage.tokens_issued;
                kept.logins += usage.logins;
            }
            return Err(e);
        }
        Ok(())
    }
}
