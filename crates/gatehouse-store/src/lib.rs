//! Storage adapters for the ports in `gatehouse_core::store`.
//!
//! - [`SqlStore`] implements every durable port on Postgres (production) and SQLite (the embedded
//!   default). Both backends run the *same* SQL: the trait impls are generated once per backend by
//!   the macros in `sql/`, so a query cannot drift between them.
//! - [`RedisStore`] and [`MemoryStore`] implement the short-lived port.
//!
//! The binary only needs the three constructors below; it picks the backend from the URL scheme
//! and holds the result as `Arc<dyn Port>`.

mod backup;
mod error;
mod memory;
mod metered;
mod migrations;
mod private_files;
mod redis_store;
mod redis_url;
mod sql;

use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::store::{DurableStore, ShortLivedStore};

pub use backup::{
    BackupError, BackupInfo, Restored, backup_sqlite, inspect_backup, lock_path, restore_sqlite,
};
pub use error::{SetupError, one_line};
pub use memory::MemoryStore;
pub use metered::{MeteredDurable, MeteredShortLived};
pub use migrations::migrator;
pub use migrations::{MigrationInfo, MigrationState};
pub use private_files::create_private_dir_all;
pub use redis_store::RedisStore;
pub use sql::{PoolSettings, PostgresStore, SqlStore, SqliteStore};

/// How often the in-memory short-lived store drops expired entries that nobody read again.
const MEMORY_PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// Which SQL backend a durable-store URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlBackend {
    Postgres,
    Sqlite,
}

impl SqlBackend {
    /// `postgres://` or `postgresql://` is Postgres, `sqlite:` (`sqlite://path`, `sqlite::memory:`)
    /// is SQLite; anything else is refused rather than guessed.
    pub fn from_url(url: &str) -> Result<Self, SetupError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else {
            Err(SetupError::UnsupportedUrl(error::redact_url(url)))
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

/// Connects to the durable store named by `url`.
///
/// The schema must already be migrated (see [`migrate`]), except for an in-memory SQLite database
/// (`sqlite::memory:`), which lives only as long as this store and is therefore migrated here.
pub async fn connect_durable(url: &str) -> Result<Arc<dyn DurableStore>, SetupError> {
    match SqlBackend::from_url(url)? {
        SqlBackend::Postgres => Ok(Arc::new(PostgresStore::connect(url).await?)),
        SqlBackend::Sqlite => {
            let store = SqliteStore::connect(url).await?;
            if sql::is_sqlite_memory_url(url) {
                store.migrate().await?;
            }
            Ok(Arc::new(store))
        }
    }
}

/// Opens the durable store named by `url` as a server does: applies the pending migrations first
/// when `migrate` is set (returning how many), with `pool` for Postgres. An in-memory SQLite
/// database is always migrated (it starts empty).
pub async fn open_durable(
    url: &str,
    pool: &PoolSettings,
    migrate: bool,
) -> Result<(Arc<dyn DurableStore>, usize), SetupError> {
    match SqlBackend::from_url(url)? {
        SqlBackend::Postgres => {
            let (store, applied) = PostgresStore::open(url, pool, migrate).await?;
            Ok((Arc::new(store), applied))
        }
        SqlBackend::Sqlite => {
            let store = SqliteStore::connect(url).await?;
            let applied = if migrate || sql::is_sqlite_memory_url(url) {
                store.migrate().await?
            } else {
                0
            };
            Ok((Arc::new(store), applied))
        }
    }
}

/// Applies the pending migrations of the backend named by `url`; returns how many were applied
/// (0 when the schema is current, so running it twice is a no-op). A SQLite file is created when
/// missing. Concurrent callers on Postgres are serialised by the migrator's advisory lock.
pub async fn migrate(url: &str) -> Result<usize, SetupError> {
    match SqlBackend::from_url(url)? {
        SqlBackend::Postgres => sql::migrate_postgres(url).await,
        SqlBackend::Sqlite => {
            let store = SqliteStore::connect(url).await?;
            let applied = store.migrate().await;
            store.close().await;
            applied
        }
    }
}

/// Every migration this binary knows, and any a newer release applied, with its state in the
/// database at `url`. Changes nothing: a SQLite file that does not exist is not created (all its
/// migrations are pending).
pub async fn migration_status(url: &str) -> Result<Vec<MigrationInfo>, SetupError> {
    use sqlx::{ConnectOptions as _, Connection as _};
    let backend = SqlBackend::from_url(url)?;
    let inspect_error = |e: sqlx::Error| SetupError::Inspect {
        backend: backend.name(),
        cause: one_line(&e),
    };
    let rows = match backend {
        SqlBackend::Postgres => {
            let store = PostgresStore::connect(url).await?;
            let rows = migrations::applied_rows_postgres(store.db()).await;
            store.close().await;
            rows.map_err(inspect_error)?
        }
        SqlBackend::Sqlite => {
            let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url)
                .map_err(|e| SetupError::InvalidUrl {
                    backend: backend.name(),
                    url: error::redact_url(url),
                    cause: one_line(&e),
                })?
                .create_if_missing(false);
            if sql::is_sqlite_memory_url(url) || !options.get_filename().is_file() {
                Vec::new()
            } else {
                let mut conn = options.connect().await.map_err(|e| SetupError::Connect {
                    backend: backend.name(),
                    url: error::redact_url(url),
                    cause: one_line(&e),
                })?;
                let rows = migrations::applied_rows_sqlite(&mut conn).await;
                let _ = conn.close().await;
                rows.map_err(inspect_error)?
            }
        }
    };
    Ok(migrations::merge(backend, rows))
}

/// Checks a short-lived store URL without connecting: `Err` says what is wrong with it (never
/// quoting the URL, which may hold a password). Accepts the forms [`RedisStore::connect`] takes.
pub fn check_redis_url(url: &str) -> Result<(), String> {
    if !redis_url::is_redis_url(url) {
        return Err(format!("must start with {}", redis_url::SCHEMES));
    }
    redis_url::RedisUrl::parse(url).map(|_| ())
}

/// Connects to the short-lived store: `None` is the in-process [`MemoryStore`] (single instance
/// only, state is lost on restart); a Redis URL (one server, a cluster or a master behind
/// Sentinel, each optionally over TLS: see [`RedisStore::connect`]) is [`RedisStore`].
///
/// The memory store gets a background task that purges expired entries every minute; it stops by
/// itself once the store is dropped.
pub async fn connect_short_lived(
    url: Option<&str>,
) -> Result<Arc<dyn ShortLivedStore>, SetupError> {
    match url {
        None => {
            let store = Arc::new(MemoryStore::new());
            store.spawn_purger(MEMORY_PURGE_INTERVAL);
            Ok(store)
        }
        Some(url) if redis_url::is_redis_url(url) => Ok(Arc::new(RedisStore::connect(url).await?)),
        Some(url) => Err(SetupError::UnsupportedUrl(error::redact_url(url))),
    }
}
