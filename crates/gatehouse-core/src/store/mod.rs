//! Storage ports: the traits the adapters in `gatehouse-store` implement.
//!
//! Two kinds of state, two kinds of store:
//! - **durable** ([`durable`]): clients, scopes, users, consents, refresh-token families and
//!   signing keys. Postgres in production, SQLite in the embedded default.
//! - **short-lived** ([`ephemeral`]): authorization codes, login/consent challenges, login
//!   sessions, access-token records and rate-limit counters, all with a TTL. Redis in production,
//!   an in-memory map in the embedded default.

pub mod durable;
pub mod ephemeral;
#[cfg(test)]
pub(crate) mod fake;

pub use durable::*;
pub use ephemeral::*;

/// Why a store call failed. Adapters map their driver errors onto these.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record to update or delete does not exist.
    #[error("not found")]
    NotFound,
    /// A unique key is already taken (client id, username, scope name).
    #[error("already exists")]
    Conflict,
    /// The backend could not be reached or failed; the operation may be retried.
    #[error("{backend} is unavailable: {message}")]
    Unavailable {
        backend: &'static str,
        message: String,
    },
    /// A stored record could not be decoded.
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Keyset pagination: `after` is the last key of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub size: u32,
    pub after: Option<String>,
}

impl PageRequest {
    pub const DEFAULT_SIZE: u32 = 100;
    pub const MAX_SIZE: u32 = 500;

    pub fn first(size: u32) -> Self {
        Self {
            size: size.clamp(1, Self::MAX_SIZE),
            after: None,
        }
    }
}

/// One page of results; `next` is the `after` key for the following page, if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}
