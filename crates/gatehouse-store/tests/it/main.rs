//! Conformance suites: the same test functions run against every adapter of a port.
//!
//! Durable: SQLite always, Postgres with `GATEHOUSE_TEST_POSTGRES_URL`. Short-lived: memory
//! always, Redis with `GATEHOUSE_TEST_REDIS_URL`. Backend selection lives in `gatehouse-testkit`.
//! One test binary on purpose: every extra `tests/*.rs` file is one more link of the whole stack.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod durable;
mod outage;
mod proxy;
mod setup;
mod short_lived;

/// Names the backends this run exercised; in CI, insists on all four.
#[test]
fn backends_exercised() {
    gatehouse_testkit::report_backends();
    let exercised = gatehouse_testkit::exercised_backends();
    println!("{}", gatehouse_testkit::backend_summary());
    if gatehouse_testkit::in_ci() {
        assert_eq!(exercised, ["sqlite", "postgres", "memory", "redis"]);
    }
}
