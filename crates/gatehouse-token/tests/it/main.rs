//! Integration tests of the token service, driving its routers in-process.
//!
//! Every test runs against every configured backend (see `gatehouse-testkit`): SQLite and memory
//! always, Postgres and Redis when their URLs are set. One test binary on purpose: every extra
//! `tests/*.rs` file is one more link of the whole stack.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod grpc;
mod negative;
mod oauth;
mod oauth_client;
mod passkeys;
