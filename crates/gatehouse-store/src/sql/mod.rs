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

use std::str::FromStr;
use std::time::Duration;

use std::sync::Arc;

use sqlx::pool::PoolOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions as _, Connection as _, Database, Pool, Postgres, Sqlite};

use crate::error::{Endpoint, describe_postgres_connect, one_line, redact_url};
use crate::{SetupError, SqlBackend};

/// Postgres pool size. Modest on purpose: the server's `max_connections` is shared by every
/// replica, and the queries are short.
const POSTGRES_MAX_CONNECTIONS: u32 = 10;
/// How long a caller waits for a pooled connection. Short, so a readiness probe answers "down"
/// within seconds when Postgres is gone instead of hanging.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the first, direct connection to Postgres may take before start-up gives up.
const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite allows one writer at a time; a few connections still let readers run beside it (WAL).
const SQLITE_MAX_CONNECTIONS: u32 = 5;
/// How long a SQLite writer waits for the write lock before giving up with `Unavailable`.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The durable store on a sqlx pool. Use the [`PostgresStore`] and [`SqliteStore`] aliases.
#[derive(Debug, Clone)]
pub struct SqlStore<DB: Database> {
    pool: Pool<DB>,
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
        Self { pool, _lock: None }
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
    /// Connects and checks one connection out, so a wrong URL or a down server fails here.
    ///
    /// The first connection is made directly, not through the pool: a pool that cannot connect
    /// reports only that it timed out, where the operator needs the cause (connection refused,
    /// unknown host, wrong password, no such database).
    ///
    /// Dead connections are tested before reuse and replaced, so the pool recovers by itself after
    /// a Postgres restart; connections are also recycled every 30 minutes.
    pub async fn connect(url: &str) -> Result<Self, SetupError> {
        let backend = SqlBackend::Postgres.name();
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| SetupError::InvalidUrl {
                backend,
                url: redact_url(url),
                cause: one_line(&e),
            })?
            .application_name("gatehouse");
        let connect_error = |cause: String| SetupError::Connect {
            backend,
            url: redact_url(url),
            cause,
        };
        let at = Endpoint {
            host: options.get_host(),
            port: options.get_port(),
        };
        match tokio::time::timeout(POSTGRES_CONNECT_TIMEOUT, options.connect()).await {
            Err(_) => {
                return Err(connect_error(format!(
                    "no answer from {at} within {} s",
                    POSTGRES_CONNECT_TIMEOUT.as_secs()
                )));
            }
            Ok(Err(e)) => {
                return Err(connect_error(describe_postgres_connect(
                    &e,
                    &at,
                    options.get_username(),
                    options.get_database(),
                )));
            }
            Ok(Ok(conn)) => {
                // Closing politely is only a courtesy to the server.
                let _ = conn.close().await;
            }
        }
        let pool = PoolOptions::<Postgres>::new()
            .max_connections(POSTGRES_MAX_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(Duration::from_secs(300))
            .max_lifetime(Duration::from_secs(1800))
            .test_before_acquire(true)
            .connect_with(options.clone())
            .await
            .map_err(|e| {
                connect_error(describe_postgres_connect(
                    &e,
                    &at,
                    options.get_username(),
                    options.get_database(),
                ))
            })?;
        Ok(Self { pool, _lock: None })
    }

    /// Applies pending migrations; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize, SetupError> {
        crate::migrations::apply(&self.pool, SqlBackend::Postgres).await
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
        let pool_options = PoolOptions::<Sqlite>::new().acquire_timeout(ACQUIRE_TIMEOUT);
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
        Ok(Self { pool, _lock: lock })
    }

    /// Applies pending migrations; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize, SetupError> {
        crate::migrations::apply(&self.pool, SqlBackend::Sqlite).await
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
