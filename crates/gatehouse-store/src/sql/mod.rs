//! The durable store on sqlx: one [`SqlStore`] type, two backends, one set of SQL.
//!
//! Postgres and SQLite both accept `$n` placeholders, `ON CONFLICT`, `RETURNING` and
//! `UPDATE ... WHERE EXISTS`, so every query is written once. The trait impls are generated per
//! backend by the macros in [`directory`] (clients, scopes, users), [`grants`] (consents, refresh
//! tokens) and [`keys`] (signing keys, the `DurableStore` itself), [`registration`] (initial access
//! tokens), [`requests`] (partners' registration requests, logos) and [`audit`] (the audit log);
//! rows travel as tuples and are
//! turned into domain types by the plain functions in [`rows`].

mod audit;
mod directory;
mod factors;
mod grants;
mod keys;
mod registration;
mod requests;
mod rows;
mod usage;

mod pooler;

use std::str::FromStr;
use std::time::Duration;

use std::sync::Arc;

use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions as _, Connection as _, Database, Pool, Postgres, Sqlite, Transaction};

use crate::error::{Endpoint, describe_postgres_connect, one_line, redact_url};
use crate::{SetupError, SqlBackend};

pub(crate) use pooler::{BEGIN as POOLED_BEGIN, PgTarget};

/// How long the first, direct connection to Postgres may take before start-up gives up.
const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite allows one writer at a time; a few connections still let readers run beside it (WAL).
const SQLITE_MAX_CONNECTIONS: u32 = 5;
/// How long a SQLite writer waits for the write lock before giving up with `Unavailable`.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The Postgres connection pool of one process (`GATEHOUSE_DATABASE_POOL_SIZE`,
/// `GATEHOUSE_DATABASE_ACQUIRE_TIMEOUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections at most. Modest by default: the server's `max_connections` is shared by every
    /// replica, and the queries are short.
    pub max_connections: u32,
    /// How long a caller waits for a pooled connection. Short by default, so a readiness probe
    /// answers "down" within seconds when Postgres is gone instead of hanging.
    pub acquire_timeout: Duration,
}

impl PoolSettings {
    /// The default pool size.
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
    /// The default acquire timeout.
    pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: Self::DEFAULT_ACQUIRE_TIMEOUT,
        }
    }
}

/// The durable store on a sqlx pool. Use the [`PostgresStore`] and [`SqliteStore`] aliases.
#[derive(Debug, Clone)]
pub struct SqlStore<DB: Database> {
    pool: Pool<DB>,
    /// Postgres only: the URL names a transaction pooler (`pgbouncer=true`), so every statement
    /// runs in a transaction of its own that starts by dropping prepared statements left on the
    /// server connection (see [`pooler`]).
    transaction_pooling: bool,
    /// For a SQLite file: a shared lock on its lock file while the store lives, so
    /// `gatehouse restore` can tell that a process has the database open.
    _lock: Option<Arc<std::fs::File>>,
}

/// The production durable store.
pub type PostgresStore = SqlStore<Postgres>;
/// The embedded durable store (a single file, or `sqlite::memory:` for tests).
pub type SqliteStore = SqlStore<Sqlite>;

impl<DB: Database> SqlStore<DB> {
    /// Wraps a pool the caller configured. The schema must be migrated.
    pub fn from_pool(pool: Pool<DB>) -> Self {
        Self {
            pool,
            transaction_pooling: false,
            _lock: None,
        }
    }

    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// Closes every pooled connection and waits for them to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl SqlStore<Postgres> {
    /// [`SqlStore::open`] with the default pool, without migrating.
    pub async fn connect(url: &str) -> Result<Self, SetupError> {
        Ok(Self::open(url, &PoolSettings::default(), false).await?.0)
    }

    /// Connects, applies pending migrations when `migrate` is set, and returns the store with
    /// how many were applied.
    ///
    /// The first connection is made directly, not through the pool: a pool that cannot connect
    /// reports only that it timed out, where the operator needs the cause (connection refused,
    /// unknown host, wrong password, no such database). The migrations run on that connection.
    /// Meanwhile the pool opens its first two connections in the background, at the same time,
    /// so start-up waits for one connection (and one TLS handshake), not several in a row; the
    /// others open as they are needed.
    ///
    /// Dead connections are tested before reuse and replaced, so the pool recovers by itself after
    /// a Postgres restart; connections are also recycled every 30 minutes.
    pub async fn open(
        url: &str,
        settings: &PoolSettings,
        migrate: bool,
    ) -> Result<(Self, usize), SetupError> {
        let (options, transaction_pooling) = postgres_options(url)?;
        let pool = PoolOptions::<Postgres>::new()
            .max_connections(settings.max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(Duration::from_secs(300))
            .max_lifetime(Duration::from_secs(1800))
            .test_before_acquire(true)
            .connect_lazy_with(options.clone());
        // The pool's first connections open beside the direct one below; a failure here is the
        // first request's (and the readiness probe's) to report, and when the direct one fails
        // too, start-up stops with its cause. Two of them: a connection just used goes back to
        // the pool in a task of its own, so a query right after another finds none idle and
        // opens a second one, which start-up's reads would otherwise wait for.
        let warm = pool.clone();
        let warm_up = settings.max_connections.clamp(1, 2);
        tokio::spawn(async move {
            let held = futures_util::future::join_all((0..warm_up).map(|_| warm.acquire())).await;
            drop(held);
        });
        let conn = first_connection(url, &options).await?;
        let applied = if migrate {
            migrate_on(conn, transaction_pooling).await?
        } else {
            // Closing politely is only a courtesy to the server.
            let _ = conn.close().await;
            0
        };
        Ok((
            Self {
                pool,
                transaction_pooling,
                _lock: None,
            },
            applied,
        ))
    }

    /// Applies pending migrations; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize, SetupError> {
        let failed = |e: sqlx::Error| SetupError::Migrate {
            backend: SqlBackend::Postgres.name(),
            cause: one_line(&e),
        };
        let mut conn = self.pool.acquire().await.map_err(failed)?;
        if self.transaction_pooling {
            crate::migrations::apply_postgres_in_transaction(&mut conn).await
        } else {
            crate::migrations::apply_postgres(&mut conn).await
        }
    }

    /// Where this store's statements go: the pool, or behind a transaction pooler each in a
    /// transaction of its own.
    pub(crate) fn db(&self) -> PgTarget<'_> {
        PgTarget::new(&self.pool, self.transaction_pooling)
    }

    /// A transaction (behind a transaction pooler, one that first drops the prepared
    /// statements left on its server connection).
    pub(crate) async fn begin_tx(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        if self.transaction_pooling {
            self.pool.begin_with(pooler::BEGIN).await
        } else {
            self.pool.begin().await
        }
    }

    /// A transaction that writes (Postgres: the same as [`Self::begin_tx`]).
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.begin_tx().await
    }
}

/// Applies the pending migrations of the Postgres database at `url` over one direct connection;
/// returns how many were applied.
pub(crate) async fn migrate_postgres(url: &str) -> Result<usize, SetupError> {
    let (options, transaction_pooling) = postgres_options(url)?;
    let conn = first_connection(url, &options).await?;
    migrate_on(conn, transaction_pooling).await
}

/// Migrates over `conn`, then closes it.
async fn migrate_on(
    mut conn: PgConnection,
    transaction_pooling: bool,
) -> Result<usize, SetupError> {
    let applied = if transaction_pooling {
        crate::migrations::apply_postgres_in_transaction(&mut conn).await
    } else {
        crate::migrations::apply_postgres(&mut conn).await
    };
    // Closing politely is only a courtesy to the server.
    let _ = conn.close().await;
    applied
}

/// The connect options of a Postgres URL, and whether it names a transaction pooler
/// (`pgbouncer=true`, see [`pooler`]).
fn postgres_options(url: &str) -> Result<(PgConnectOptions, bool), SetupError> {
    let invalid = |cause: String| SetupError::InvalidUrl {
        backend: SqlBackend::Postgres.name(),
        url: redact_url(url),
        cause,
    };
    let (sqlx_url, transaction_pooling) = pooler::split_url(url).map_err(invalid)?;
    let mut options = PgConnectOptions::from_str(&sqlx_url)
        .map_err(|e| invalid(one_line(&e)))?
        .application_name("gatehouse");
    if transaction_pooling {
        // No statement outlives its transaction, and no start-up parameter PgBouncer would
        // refuse (it passes on only the ones it tracks).
        options = options.statement_cache_capacity(0).extra_float_digits(None);
    }
    Ok((options, transaction_pooling))
}

/// The first, direct connection: its failure says why (refused, unknown host, wrong password,
/// no such database), within [`POSTGRES_CONNECT_TIMEOUT`].
async fn first_connection(
    url: &str,
    options: &PgConnectOptions,
) -> Result<PgConnection, SetupError> {
    let connect_error = |cause: String| SetupError::Connect {
        backend: SqlBackend::Postgres.name(),
        url: redact_url(url),
        cause,
    };
    let at = Endpoint {
        host: options.get_host(),
        port: options.get_port(),
    };
    match tokio::time::timeout(POSTGRES_CONNECT_TIMEOUT, options.connect()).await {
        Err(_) => Err(connect_error(format!(
            "no answer from {at} within {} s",
            POSTGRES_CONNECT_TIMEOUT.as_secs()
        ))),
        Ok(Err(e)) => Err(connect_error(describe_postgres_connect(
            &e,
            &at,
            options.get_username(),
            options.get_database(),
        ))),
        Ok(Ok(conn)) => Ok(conn),
    }
}

impl SqlStore<Sqlite> {
    /// Opens (creating when missing) the database file in WAL mode, with foreign keys on and a
    /// busy timeout so concurrent writers queue instead of failing at once.
    ///
    /// `sqlite::memory:` gets a single connection that is never closed: the database lives in that
    /// connection and would vanish with it.
    pub async fn connect(url: &str) -> Result<Self, SetupError> {
        let backend = SqlBackend::Sqlite.name();
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| SetupError::InvalidUrl {
                backend,
                url: redact_url(url),
                cause: one_line(&e),
            })?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let pool_options =
            PoolOptions::<Sqlite>::new().acquire_timeout(PoolSettings::DEFAULT_ACQUIRE_TIMEOUT);
        let connect_error = |cause: String| SetupError::Connect {
            backend,
            url: redact_url(url),
            cause,
        };
        let (options, pool_options, lock) = if is_sqlite_memory_url(url) {
            let pool_options = pool_options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
            (options, pool_options, None)
        } else {
            // `create_if_missing` creates the file, not its directory (e.g. `data/` on first run),
            // and with the umask's mode: both are made here, private to the owner.
            let file = options.get_filename().to_path_buf();
            let lock = tokio::task::spawn_blocking(move || {
                if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                    crate::private_files::create_private_dir_all(dir)?;
                }
                crate::private_files::prepare_sqlite_file(&file)?;
                crate::backup::hold_shared(&file)
            })
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r)
            .map_err(|e| connect_error(one_line(&e)))?;
            let options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            (
                options,
                pool_options.max_connections(SQLITE_MAX_CONNECTIONS),
                Some(Arc::new(lock)),
            )
        };
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(|e| connect_error(one_line(&e)))?;
        Ok(Self {
            pool,
            transaction_pooling: false,
            _lock: lock,
        })
    }

    /// Applies pending migrations; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize, SetupError> {
        crate::migrations::apply(&self.pool, SqlBackend::Sqlite).await
    }

    /// Where this store's statements go: the pool.
    pub(crate) fn db(&self) -> &Pool<Sqlite> {
        &self.pool
    }

    /// A transaction that may only read until it writes.
    pub(crate) async fn begin_tx(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin().await
    }

    /// A transaction that takes the write lock at once (`BEGIN IMMEDIATE`), so two writers
    /// queue instead of one failing when it upgrades from reading.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }
}

/// `NotFound` when an `UPDATE`/`DELETE` by primary key touched nothing.
fn affected_one(rows: u64) -> gatehouse_core::store::StoreResult<()> {
    if rows == 0 {
        Err(gatehouse_core::store::StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Whether a SQLite URL names an in-memory database (which lives only in its connection).
pub(crate) fn is_sqlite_memory_url(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}
