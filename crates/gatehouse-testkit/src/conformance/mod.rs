//! Conformance suites of the storage ports: the same tests for every adapter, so an adapter is
//! checked by one line in its crate's tests.
//!
//! - [`durable`]: what every [`DurableStore`](gatehouse_core::store::DurableStore) does (clients,
//!   scopes, users and their roles, consents, refresh-token families, signing keys, initial access
//!   tokens, the audit log), run by
//!   [`durable_store_conformance!`](crate::durable_store_conformance).
//! - [`short_lived`]: what every [`ShortLivedStore`](gatehouse_core::store::ShortLivedStore) does
//!   (expiry, exactly-once take, counters, sets), run by
//!   [`short_lived_store_conformance!`](crate::short_lived_store_conformance).

pub mod durable;
pub mod short_lived;
