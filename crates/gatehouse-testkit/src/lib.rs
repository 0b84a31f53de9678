//! Test support shared by every Gatehouse crate: which storage backends a test run exercises, a
//! fresh isolated store per test, the harnesses that start what a test talks to, the storage
//! ports' conformance suites, and fixtures. A dev-dependency only: nothing here ships in the
//! binary (`cargo xtask tidy` checks that the binary's normal dependencies never reach it).
//!
//! What each module gives a test:
//! - this root: backend selection ([`DurableKind`], [`ShortLivedKind`], [`durable_backend`],
//!   [`short_lived_backend`], …) and backend pairing ([`backend_pairs`]: the durable ×
//!   short-lived combinations a test iterates over, so each configured backend is exercised).
//! - [`fixtures`]: small builders for domain values, the RFC 7636 PKCE pair, cheap password
//!   hashing parameters, random system secrets.
//! - [`http`]: the HTTP harness: routers driven in-process ([`http::send`], a cookie-keeping
//!   [`http::Browser`]) or served on a free port ([`http::serve`]), form and Basic-auth helpers,
//!   polling a server the test started.
//! - [`admin`]: the admin API (`gatehouse_token::admin::router`) on a backend pair, with a clock
//!   the test moves.
//! - [`grpc`]: the gRPC harness: a token service on a backend pair with its gRPC server on a free
//!   port, and clients for it.
//! - [`cli`]: the CLI runner: the real binary's operator commands against an admin API, output
//!   and exit code captured.
//! - [`e2e`]: the real binary end to end: `gatehouse serve …` on free ports, a Redis of the
//!   test's own, the seed's partner and its flows.
//! - [`pgbouncer`]: a PgBouncer of the test's own in transaction pooling mode in front of the
//!   test Postgres ([`pgbouncer_backend`]: a durable store through it).
//! - [`redis_servers`]: a real Redis Cluster and a Sentinel set-up of the test's own
//!   ([`redis_cluster_backend`], [`redis_sentinel_backend`]).
//! - [`conformance`]: the storage ports' conformance suites, exported as the macros
//!   [`durable_store_conformance!`] and [`short_lived_store_conformance!`].
//!
//! # Backends
//!
//! SQLite and the in-memory store are always exercised. Postgres and Redis are exercised when
//! their URL is set:
//! - `GATEHOUSE_TEST_POSTGRES_URL`, e.g. `postgres://postgres@127.0.0.1:5432/test`: an account
//!   that may `CREATE DATABASE`. Each test gets its own database, created from this URL, migrated,
//!   and dropped again when the [`DurableBackend`] is dropped; so tests run in parallel without
//!   seeing each other's rows.
//! - `GATEHOUSE_TEST_REDIS_URL`, e.g. `redis://127.0.0.1:6379`. Redis is shared: tests isolate
//!   themselves by using random keys.
//!
//! When `CI` is set (non-empty), a missing URL is a panic: CI must never pass by silently skipping
//! a backend. A URL that is set but unreachable is a panic everywhere. Locally, unset backends are
//! skipped and the first call prints (once, past the test harness's output capture) which
//! backends are exercised and which are skipped.
//!
//! # Adding a store adapter
//!
//! A new adapter of a storage port (or a decorator of one, like the metered stores) passes the
//! whole conformance suite of its port with one line in `gatehouse-store`'s tests
//! (`crates/gatehouse-store/tests/it/main.rs`), next to the others:
//!
//! ```ignore
//! // in `mod durable`, where `conformance` is `gatehouse_testkit::durable_store_conformance`:
//! conformance!(on_mysql, mysql_backend());
//! // in `mod short_lived`, where it is `gatehouse_testkit::short_lived_store_conformance`:
//! conformance!(on_memcached, real_clock, memcached_backend());
//! ```
//!
//! The first argument names the generated module (its tests are `on_mysql::<test>`), the last
//! is a future giving a fresh store per test (`Option<DurableBackend>` or
//! `Option<ShortLivedBackend>`, `None` where the backend is not configured; wrap an existing
//! backend with [`DurableBackend::wrap_store`]). A short-lived store also says whose clock its
//! entries expire by: `paused_clock` when it reads tokio's clock (the expiry tests then advance
//! tokio's paused clock instead of sleeping), `real_clock` when its server keeps the time. A new
//! test of the suite goes into [`conformance`] and into the list in its macro.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pairs;
mod postgres;

pub mod admin;
pub mod cli;
pub mod conformance;
pub mod e2e;
pub mod fixtures;
pub mod grpc;
pub mod http;
pub mod mail;
pub mod pgbouncer;
pub mod redis_servers;

pub use pairs::{BackendPair, backend_pairs};

use std::io::Write as _;
use std::sync::{Arc, Once};

use gatehouse_core::store::{DurableStore, ShortLivedStore};

pub const POSTGRES_URL_VAR: &str = "GATEHOUSE_TEST_POSTGRES_URL";
pub const REDIS_URL_VAR: &str = "GATEHOUSE_TEST_REDIS_URL";

/// The durable backends a test can run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurableKind {
    Sqlite,
    Postgres,
}

impl DurableKind {
    pub const ALL: [Self; 2] = [Self::Sqlite, Self::Postgres];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// The short-lived backends a test can run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShortLivedKind {
    Memory,
    Redis,
}

impl ShortLivedKind {
    pub const ALL: [Self; 2] = [Self::Memory, Self::Redis];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis => "redis",
        }
    }
}

/// A fresh, migrated, empty durable store of one backend.
///
/// `url` reaches the same database, e.g. to start the real binary on it. Keep this value alive
/// while anything uses the database: dropping it deletes the SQLite file or drops the Postgres
/// database.
pub struct DurableBackend {
    pub kind: DurableKind,
    pub store: Arc<dyn DurableStore>,
    pub url: String,
    // Declared last so it runs after `store` is released.
    _cleanup: Cleanup,
}

impl DurableBackend {
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The same database behind a store wrapped by `wrap`, e.g. in a decorator
    /// (`|s| Arc::new(MeteredDurable(s))`) to run a suite through it.
    pub fn wrap_store(
        mut self,
        wrap: impl FnOnce(Arc<dyn DurableStore>) -> Arc<dyn DurableStore>,
    ) -> Self {
        self.store = wrap(self.store);
        self
    }
}

impl std::fmt::Debug for DurableBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableBackend")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A short-lived store of one backend. `url` is `None` for the in-memory store.
pub struct ShortLivedBackend {
    pub kind: ShortLivedKind,
    pub store: Arc<dyn ShortLivedStore>,
    pub url: Option<String>,
    /// Servers started for this backend alone (a test's own Redis Cluster), stopped when dropped.
    // Declared last so it runs after `store` is released.
    _servers: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl ShortLivedBackend {
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The same store wrapped by `wrap`, e.g. in a decorator
    /// (`|s| Arc::new(MeteredShortLived(s))`) to run a suite through it.
    pub fn wrap_store(
        mut self,
        wrap: impl FnOnce(Arc<dyn ShortLivedStore>) -> Arc<dyn ShortLivedStore>,
    ) -> Self {
        self.store = wrap(self.store);
        self
    }
}

impl std::fmt::Debug for ShortLivedBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShortLivedBackend")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Held only for its `Drop`, which deletes what the backend created.
#[allow(dead_code)]
enum Cleanup {
    SqliteDir(tempfile::TempDir),
    Postgres(postgres::DropDatabase),
    /// The database, then the PgBouncer in front of it.
    PgBouncer(postgres::DropDatabase, pgbouncer::PgBouncer),
}

/// Whether this run is CI (`CI` set and non-empty), where every backend is mandatory.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty())
}

/// The URL in `var`, or `None` when unset locally. Panics in CI when unset.
fn configured_url(var: &str, backend: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    if url.is_none() && in_ci() {
        panic!(
            "CI is set but {var} is not: the {backend} tests would be skipped. Set {var} to a reachable {backend}."
        );
    }
    url
}

/// Every backend this run exercises, durable first (`["sqlite", "postgres", "memory", "redis"]`
/// with all configured).
pub fn exercised_backends() -> Vec<&'static str> {
    let mut names = vec![DurableKind::Sqlite.name()];
    if configured_url(POSTGRES_URL_VAR, "postgres").is_some() {
        names.push(DurableKind::Postgres.name());
    }
    names.push(ShortLivedKind::Memory.name());
    if configured_url(REDIS_URL_VAR, "redis").is_some() {
        names.push(ShortLivedKind::Redis.name());
    }
    names
}

/// One line naming the exercised and the skipped backends, e.g.
/// `backends exercised: sqlite, postgres, memory, redis`.
pub fn backend_summary() -> String {
    let exercised = exercised_backends();
    let skipped: Vec<String> = [("postgres", POSTGRES_URL_VAR), ("redis", REDIS_URL_VAR)]
        .into_iter()
        .filter(|(name, _)| !exercised.contains(name))
        .map(|(name, var)| format!("{name} (set {var})"))
        .collect();
    let mut line = format!("backends exercised: {}", exercised.join(", "));
    if !skipped.is_empty() {
        line.push_str(&format!("; skipped: {}", skipped.join(", ")));
    }
    line
}

/// Prints [`backend_summary`] to stderr once per test binary. It writes to the stderr handle
/// directly, which the test harness does not capture, so the line shows in every run.
pub fn report_backends() {
    static REPORTED: Once = Once::new();
    let summary = backend_summary();
    REPORTED.call_once(|| {
        let _ = writeln!(std::io::stderr().lock(), "gatehouse-testkit: {summary}");
    });
}

/// A fresh store of `kind`, or `None` when that backend is not configured (never in CI).
pub async fn durable_backend(kind: DurableKind) -> Option<DurableBackend> {
    report_backends();
    match kind {
        DurableKind::Sqlite => Some(sqlite_backend().await),
        DurableKind::Postgres => {
            let admin_url = configured_url(POSTGRES_URL_VAR, "postgres")?;
            let (url, cleanup) = postgres::create_database(&admin_url, true).await;
            let store = gatehouse_store::connect_durable(&url)
                .await
                .unwrap_or_else(|e| panic!("connecting to the test database {url}: {e}"));
            Some(DurableBackend {
                kind,
                store,
                url,
                _cleanup: Cleanup::Postgres(cleanup),
            })
        }
    }
}

/// A fresh Postgres store through a PgBouncer of the test's own in transaction pooling mode
/// ([`pgbouncer::PgBouncer`]): the database is created directly, then migrated and used through
/// PgBouncer with `pgbouncer=true` in its URL (so `url` reaches it the same way). `None` when
/// Postgres is not configured or, locally, the `pgbouncer` binary is missing.
pub async fn pgbouncer_backend() -> Option<DurableBackend> {
    report_backends();
    let admin_url = configured_url(POSTGRES_URL_VAR, "postgres")?;
    let bouncer =
        pgbouncer::PgBouncer::start("the PgBouncer conformance suite", &admin_url).await?;
    let (direct, cleanup) = postgres::create_database(&admin_url, false).await;
    let url = bouncer.url_for(&direct);
    let applied = gatehouse_store::migrate(&url)
        .await
        .unwrap_or_else(|e| panic!("migrating {url}: {e}\n{}", bouncer.log()));
    assert!(
        applied > 0,
        "a fresh database should have needed migrations"
    );
    let store = gatehouse_store::connect_durable(&url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}\n{}", bouncer.log()));
    Some(DurableBackend {
        kind: DurableKind::Postgres,
        store,
        url,
        _cleanup: Cleanup::PgBouncer(cleanup, bouncer),
    })
}

/// A fresh store of every configured durable backend.
pub async fn durable_backends() -> Vec<DurableBackend> {
    let mut backends = Vec::new();
    for kind in DurableKind::ALL {
        backends.extend(durable_backend(kind).await);
    }
    backends
}

/// A new empty directory of the test's own, deleted (with everything in it) when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("gatehouse-test-")
        .tempdir()
        .expect("creating a temp dir")
}

async fn sqlite_backend() -> DurableBackend {
    let dir = temp_dir();
    let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
    gatehouse_store::migrate(&url)
        .await
        .unwrap_or_else(|e| panic!("migrating {url}: {e}"));
    let store = gatehouse_store::connect_durable(&url)
        .await
        .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    DurableBackend {
        kind: DurableKind::Sqlite,
        store,
        url,
        _cleanup: Cleanup::SqliteDir(dir),
    }
}

/// A short-lived store of `kind`, or `None` when that backend is not configured (never in CI).
pub async fn short_lived_backend(kind: ShortLivedKind) -> Option<ShortLivedBackend> {
    report_backends();
    match kind {
        ShortLivedKind::Memory => {
            let store = gatehouse_store::connect_short_lived(None)
                .await
                .expect("the memory store cannot fail");
            Some(ShortLivedBackend {
                kind,
                store,
                url: None,
                _servers: None,
            })
        }
        ShortLivedKind::Redis => {
            let url = configured_url(REDIS_URL_VAR, "redis")?;
            let store = gatehouse_store::connect_short_lived(Some(&url))
                .await
                .unwrap_or_else(|e| {
                    panic!("{REDIS_URL_VAR}={url} is set but Redis cannot be used: {e}")
                });
            store.ping().await.unwrap_or_else(|e| {
                panic!("{REDIS_URL_VAR}={url} is set but Redis does not answer PING: {e}")
            });
            Some(ShortLivedBackend {
                kind,
                store,
                url: Some(url),
                _servers: None,
            })
        }
    }
}

/// A Redis store on a 6-node Redis Cluster of the test's own ([`redis_servers::RedisCluster`]),
/// through a `redis+cluster://` URL. `None` locally when the Redis binaries are missing.
pub async fn redis_cluster_backend() -> Option<ShortLivedBackend> {
    let cluster = redis_servers::RedisCluster::start("the Redis Cluster conformance suite").await?;
    let url = cluster.url();
    Some(redis_topology_backend(url, Box::new(cluster)).await)
}

/// A Redis store on a master behind 3 Sentinels of the test's own
/// ([`redis_servers::RedisSentinel`]), through a `redis+sentinel://` URL. `None` locally when
/// the Redis binaries are missing.
pub async fn redis_sentinel_backend() -> Option<ShortLivedBackend> {
    let setup = redis_servers::RedisSentinel::start("the Redis Sentinel conformance suite").await?;
    let url = setup.url();
    Some(redis_topology_backend(url, Box::new(setup)).await)
}

async fn redis_topology_backend(
    url: String,
    servers: Box<dyn std::any::Any + Send + Sync>,
) -> ShortLivedBackend {
    let store = gatehouse_store::connect_short_lived(Some(&url))
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    ShortLivedBackend {
        kind: ShortLivedKind::Redis,
        store,
        url: Some(url),
        _servers: Some(servers),
    }
}

/// An empty, unmigrated Postgres database of its own, for tests that run the real binary
/// against Postgres (e.g. `gatehouse migrate`). `None` when Postgres is not configured (never in
/// CI). The database is dropped with the returned value.
pub async fn fresh_postgres_database() -> Option<FreshDatabase> {
    report_backends();
    let admin_url = configured_url(POSTGRES_URL_VAR, "postgres")?;
    let (url, guard) = postgres::create_database(&admin_url, false).await;
    Some(FreshDatabase { url, _guard: guard })
}

/// A database that lives as long as this value.
pub struct FreshDatabase {
    pub url: String,
    _guard: postgres::DropDatabase,
}

/// The Redis URL of this run, when Redis is configured (always in CI).
pub fn redis_url() -> Option<String> {
    configured_url(REDIS_URL_VAR, "redis")
}

/// Whether this run exercises Redis.
pub fn redis_enabled() -> bool {
    redis_url().is_some()
}

/// Reports a test that could not run here because `what` is not configured. Never in CI: there
/// the backend selection has already panicked. Locally the test returns early, and the line says
/// so, past the harness's output capture.
pub fn skipped(test: &str, what: &str) {
    assert!(
        !in_ci(),
        "{test} cannot be skipped in CI ({what} is required)"
    );
    let _ = writeln!(
        std::io::stderr().lock(),
        "gatehouse-testkit: {test} skipped: {what} not configured"
    );
}

/// Every configured short-lived backend.
pub async fn short_lived_backends() -> Vec<ShortLivedBackend> {
    let mut backends = Vec::new();
    for kind in ShortLivedKind::ALL {
        backends.extend(short_lived_backend(kind).await);
    }
    backends
}
