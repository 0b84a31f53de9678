//! HTTP-level tests of the login UI: the real router driven in-process by the test kit's
//! cookie-keeping browser, over a real token service reached through its tonic gRPC server on a
//! free loopback port (the test kit's gRPC harness), on every configured backend pair (see
//! `gatehouse-testkit`). `ui` holds the UI under test, its seed and the browser's flows. One
//! test binary on purpose: every extra `tests/*.rs` file is one more link of the whole stack.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod account;
mod account_page;
mod authorize;
mod consent;
mod device;
mod external;
mod hardening;
mod login;
mod logout;
mod mfa;
mod negative;
mod pages;
mod portal;
mod recovery;
mod ui;
