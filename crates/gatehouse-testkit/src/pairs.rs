//! Backend pairing: the durable × short-lived combinations a test iterates over, so every
//! configured backend is exercised by every test that runs on "every backend".

use crate::{DurableBackend, DurableKind, ShortLivedBackend, ShortLivedKind};

/// One durable and one short-lived store, fresh for the test; dropping it deletes what the
/// backends created.
#[derive(Debug)]
pub struct BackendPair {
    pub durable: DurableBackend,
    pub short_lived: ShortLivedBackend,
}

impl BackendPair {
    /// `durable+short-lived`, e.g. `postgres+redis`: the prefix of every assertion message, so a
    /// failure names the backends it happened on.
    pub fn name(&self) -> String {
        format!("{}+{}", self.durable.name(), self.short_lived.name())
    }
}

/// Every configured durable and short-lived backend, paired so each appears at least once:
/// `sqlite+memory` always and `postgres+redis` when both are configured; an extra SQLite store
/// pairs with Redis when Postgres is not configured, and an extra memory store with Postgres
/// when Redis is not. Each store is fresh: a test iterates over these and runs its whole body on
/// each pair.
pub async fn backend_pairs() -> Vec<BackendPair> {
    let mut durable = crate::durable_backends().await;
    let short_lived = crate::short_lived_backends().await;
    while durable.len() < short_lived.len() {
        durable.extend(crate::durable_backend(DurableKind::Sqlite).await);
    }
    let mut short_lived = short_lived.into_iter();
    let mut pairs = Vec::new();
    for durable in durable {
        let short_lived = match short_lived.next() {
            Some(short) => short,
            None => crate::short_lived_backend(ShortLivedKind::Memory)
                .await
                .expect("the memory store is always available"),
        };
        pairs.push(BackendPair {
            durable,
            short_lived,
        });
    }
    pairs
}
