//! The store adapters' tests: the conformance suites of `gatehouse-testkit`, one line per
//! adapter, and what only some adapters have (setup, outages).
//!
//! Durable: SQLite always, Postgres with `GATEHOUSE_TEST_POSTGRES_URL` (directly, and through a
//! PgBouncer in transaction pooling mode). Short-lived: memory
//! always, Redis with `GATEHOUSE_TEST_REDIS_URL`. Each also runs through the metered decorators
//! the binary wraps every store in. Backend selection lives in `gatehouse-testkit`.
//! One test binary on purpose: every extra `tests/*.rs` file is one more link of the whole stack.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod failover;
mod outage;
mod proxy;
mod sentinel_auth;
mod setup;
mod tls_acl;

/// The durable-store conformance suite on every durable adapter (e.g.
/// `durable::on_postgres::rotation_spends_the_old_token_and_stores_the_successor`).
mod durable {
    use std::sync::Arc;

    use gatehouse_store::MeteredDurable;
    use gatehouse_testkit::DurableKind::{Postgres, Sqlite};
    use gatehouse_testkit::durable_store_conformance as conformance;
    use gatehouse_testkit::{DurableBackend, DurableKind, durable_backend};

    /// A store of `kind` wrapped in the metrics decorator, as the binary opens it.
    async fn metered(kind: DurableKind) -> Option<DurableBackend> {
        let backend = durable_backend(kind).await?;
        Some(backend.wrap_store(|store| Arc::new(MeteredDurable(store))))
    }

    conformance!(on_sqlite, durable_backend(Sqlite));
    conformance!(on_postgres, durable_backend(Postgres));
    conformance!(on_metered_sqlite, metered(Sqlite));
    conformance!(on_metered_postgres, metered(Postgres));
    // Postgres through a PgBouncer of the test's own in transaction pooling mode, with fewer
    // server connections than the store has clients (required in CI).
    conformance!(on_pgbouncer, gatehouse_testkit::pgbouncer_backend());
}

/// The short-lived-store conformance suite on every short-lived adapter (e.g.
/// `short_lived::on_redis::take_is_exactly_once`). The memory store expires entries by tokio's
/// clock, so its expiry tests run on the paused clock; Redis keeps its own time.
mod short_lived {
    use std::sync::Arc;

    use gatehouse_store::MeteredShortLived;
    use gatehouse_testkit::ShortLivedKind::{Memory, Redis};
    use gatehouse_testkit::short_lived_store_conformance as conformance;
    use gatehouse_testkit::{ShortLivedBackend, ShortLivedKind, short_lived_backend};

    /// A store of `kind` wrapped in the metrics decorator, as the binary opens it.
    async fn metered(kind: ShortLivedKind) -> Option<ShortLivedBackend> {
        let backend = short_lived_backend(kind).await?;
        Some(backend.wrap_store(|store| Arc::new(MeteredShortLived(store))))
    }

    conformance!(on_memory, paused_clock, short_lived_backend(Memory));
    conformance!(on_redis, real_clock, short_lived_backend(Redis));
    conformance!(on_metered_memory, paused_clock, metered(Memory));
    conformance!(on_metered_redis, real_clock, metered(Redis));
    // A Redis Cluster (3 masters, 3 replicas) and a master behind 3 Sentinels, each the test's
    // own, started from the Redis binaries (required in CI).
    conformance!(
        on_redis_cluster,
        real_clock,
        gatehouse_testkit::redis_cluster_backend()
    );
    conformance!(
        on_redis_sentinel,
        real_clock,
        gatehouse_testkit::redis_sentinel_backend()
    );
}

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
