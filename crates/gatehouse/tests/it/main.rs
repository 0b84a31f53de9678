//! End-to-end tests of the `gatehouse` binary: each starts the real process on free ports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod cli;
mod config;
mod deploy;
mod migrate;
mod serve;
mod split_flow;
mod support;
mod telemetry;
