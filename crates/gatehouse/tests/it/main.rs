//! End-to-end tests of the `gatehouse` binary: each starts the real process on free ports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_guard;
mod browser;
mod cli;
mod cli_rows;
mod config;
mod deploy;
mod faults;
mod flow;
mod grpc_tls;
mod leak;
mod limits;
mod migrate;
mod path_issuer;
mod serve;
mod split_flow;
mod support;
mod telemetry;
