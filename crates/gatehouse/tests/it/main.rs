//! End-to-end tests of the `gatehouse` binary: each starts the real process on free ports
//! (the test kit's `e2e` harness), or runs its CLI (the test kit's CLI runner).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gatehouse_testkit::e2e::Gatehouse;

mod admin_guard;
mod backup;
mod browser;
mod browser_console;
mod browser_kit;
mod browser_mfa;
mod browser_onboarding;
mod browser_passkeys;
mod browser_portal;
mod browser_recovery;
mod cli;
mod cli_operators;
mod cli_rows;
mod cli_sessions;
mod cli_users_import;
mod config;
mod console;
mod deploy;
mod external_ui;
mod faults;
mod flow;
mod grpc_tls;
mod leak;
mod limits;
mod mail;
mod migrate;
mod path_issuer;
mod pgbouncer;
mod redis_topologies;
mod serve;
mod split_flow;
mod telemetry;

/// The binary under test: this build's `gatehouse`, or the one `GATEHOUSE_TEST_BIN` names (e.g.
/// an earlier release's, to watch a new test fail on it).
fn gatehouse() -> Gatehouse {
    Gatehouse::new(env!("CARGO_BIN_EXE_gatehouse"))
}
