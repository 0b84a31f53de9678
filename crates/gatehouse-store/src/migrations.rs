//! The SQL schema, embedded in the binary.
//!
//! The files under `migrations/{postgres,sqlite}/` are compiled in with `include_str!` and turned
//! into a [`Migrator`] at run time, so the binary needs neither the source tree nor a database at
//! build time (and no proc-macro copy of the drivers is compiled).

use std::borrow::Cow;
use std::collections::BTreeSet;

use sqlx::migrate::{Migrate, MigrateError, Migration, MigrationType, Migrator};
use sqlx::postgres::PgConnection;
use sqlx::{Connection as _, Database, Pool, SqlStr};

use crate::{SetupError, SqlBackend};

/// One embedded migration file. Versions only grow; an applied file is never edited (the
/// migrator stores its checksum and refuses a changed file).
struct Embedded {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

const POSTGRES: &[Embedded] = &[
    Embedded {
        version: 1,
        description: "init",
        sql: include_str!("../../../migrations/postgres/0001_init.sql"),
    },
    Embedded {
        version: 2,
        description: "consent offline disclosure",
        sql: include_str!("../../../migrations/postgres/0002_consent_offline_disclosure.sql"),
    },
    Embedded {
        version: 3,
        description: "client incarnation",
        sql: include_str!("../../../migrations/postgres/0003_client_incarnation.sql"),
    },
    Embedded {
        version: 4,
        description: "refresh resources",
        sql: include_str!("../../../migrations/postgres/0004_refresh_resources.sql"),
    },
    Embedded {
        version: 5,
        description: "refresh token dpop binding",
        sql: include_str!("../../../migrations/postgres/0005_refresh_token_dpop_binding.sql"),
    },
    Embedded {
        version: 6,
        description: "registration tokens",
        sql: include_str!("../../../migrations/postgres/0006_registration_tokens.sql"),
    },
    Embedded {
        version: 7,
        description: "user metadata",
        sql: include_str!("../../../migrations/postgres/0007_user_metadata.sql"),
    },
    Embedded {
        version: 8,
        description: "scope claims",
        sql: include_str!("../../../migrations/postgres/0008_scope_claims.sql"),
    },
    Embedded {
        version: 9,
        description: "refresh session claims",
        sql: include_str!("../../../migrations/postgres/0009_refresh_session_claims.sql"),
    },
    Embedded {
        version: 10,
        description: "user roles",
        sql: include_str!("../../../migrations/postgres/0010_user_roles.sql"),
    },
    Embedded {
        version: 11,
        description: "audit events",
        sql: include_str!("../../../migrations/postgres/0011_audit_events.sql"),
    },
    Embedded {
        version: 12,
        description: "registration requests",
        sql: include_str!("../../../migrations/postgres/0012_registration_requests.sql"),
    },
    Embedded {
        version: 13,
        description: "client usage",
        sql: include_str!("../../../migrations/postgres/0013_client_usage.sql"),
    },
    Embedded {
        version: 14,
        description: "user factors",
        sql: include_str!("../../../migrations/postgres/0014_user_factors.sql"),
    },
    Embedded {
        version: 15,
        description: "users email index",
        sql: include_str!("../../../migrations/postgres/0015_users_email_index.sql"),
    },
    Embedded {
        version: 16,
        description: "passkey credential ids",
        sql: include_str!("../../../migrations/postgres/0016_passkey_credential_ids.sql"),
    },
];

const SQLITE: &[Embedded] = &[
    Embedded {
        version: 1,
        description: "init",
        sql: include_str!("../../../migrations/sqlite/0001_init.sql"),
    },
    Embedded {
        version: 2,
        description: "consent offline disclosure",
        sql: include_str!("../../../migrations/sqlite/0002_consent_offline_disclosure.sql"),
    },
    Embedded {
        version: 3,
        description: "client incarnation",
        sql: include_str!("../../../migrations/sqlite/0003_client_incarnation.sql"),
    },
    Embedded {
        version: 4,
        description: "refresh resources",
        sql: include_str!("../../../migrations/sqlite/0004_refresh_resources.sql"),
    },
    Embedded {
        version: 5,
        description: "refresh token dpop binding",
        sql: include_str!("../../../migrations/sqlite/0005_refresh_token_dpop_binding.sql"),
    },
    Embedded {
        version: 6,
        description: "registration tokens",
        sql: include_str!("../../../migrations/sqlite/0006_registration_tokens.sql"),
    },
    Embedded {
        version: 7,
        description: "user metadata",
        sql: include_str!("../../../migrations/sqlite/0007_user_metadata.sql"),
    },
    Embedded {
        version: 8,
        description: "scope claims",
        sql: include_str!("../../../migrations/sqlite/0008_scope_claims.sql"),
    },
    Embedded {
        version: 9,
        description: "refresh session claims",
        sql: include_str!("../../../migrations/sqlite/0009_refresh_session_claims.sql"),
    },
    Embedded {
        version: 10,
        description: "user roles",
        sql: include_str!("../../../migrations/sqlite/0010_user_roles.sql"),
    },
    Embedded {
        version: 11,
        description: "audit events",
        sql: include_str!("../../../migrations/sqlite/0011_audit_events.sql"),
    },
    Embedded {
        version: 12,
        description: "registration requests",
        sql: include_str!("../../../migrations/sqlite/0012_registration_requests.sql"),
    },
    Embedded {
        version: 13,
        description: "client usage",
        sql: include_str!("../../../migrations/sqlite/0013_client_usage.sql"),
    },
    Embedded {
        version: 14,
        description: "user factors",
        sql: include_str!("../../../migrations/sqlite/0014_user_factors.sql"),
    },
    Embedded {
        version: 15,
        description: "users email index",
        sql: include_str!("../../../migrations/sqlite/0015_users_email_index.sql"),
    },
    Embedded {
        version: 16,
        description: "passkey credential ids",
        sql: include_str!("../../../migrations/sqlite/0016_passkey_credential_ids.sql"),
    },
];

/// The migrator for one backend.
///
/// Applied versions this binary does not know are ignored rather than refused, so rolling back to
/// the previous release does not stop it from starting on a schema a newer release extended
/// (migrations are additive).
pub fn migrator(backend: SqlBackend) -> Migrator {
    let files = match backend {
        SqlBackend::Postgres => POSTGRES,
        SqlBackend::Sqlite => SQLITE,
    };
    let migrations = files
        .iter()
        .map(|m| {
            Migration::new(
                m.version,
                Cow::Borrowed(m.description),
                MigrationType::Simple,
                SqlStr::from_static(m.sql),
                false,
            )
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.set_ignore_missing(true);
    migrator
}

/// Applies the pending migrations on `pool`; returns how many were applied.
pub(crate) async fn apply<DB>(pool: &Pool<DB>, backend: SqlBackend) -> Result<usize, SetupError>
where
    DB: Database,
    DB::Connection: Migrate,
{
    let failed = |e: MigrateError| SetupError::Migrate {
        backend: backend.name(),
        cause: crate::error::one_line(&e),
    };
    let migrator = migrator(backend);
    let before = applied_versions(pool, &migrator).await.unwrap_or_default();
    migrator.run(pool).await.map_err(failed)?;
    let after = applied_versions(pool, &migrator).await.map_err(failed)?;
    Ok(after.difference(&before).count())
}

/// Applies the pending Postgres migrations on `conn`, a direct connection; returns how many were
/// applied. Concurrent callers are serialised by the migrator's session-level advisory lock.
pub(crate) async fn apply_postgres(conn: &mut PgConnection) -> Result<usize, SetupError> {
    let migrator = migrator(SqlBackend::Postgres);
    let before = applied_versions_postgres(conn).await?;
    migrator
        .run(&mut *conn)
        .await
        .map_err(|e| postgres_failed(&e))?;
    let after = applied_versions_postgres(conn).await?;
    Ok(after.difference(&before).count())
}

/// [`apply_postgres`] through a transaction pooler, which lends a server connection for one
/// transaction only: a session-level advisory lock could be taken on one server connection and
/// released on another (or never). So everything runs in one transaction holding the same lock
/// at transaction level (`pg_advisory_xact_lock`, which a direct migrator's session lock
/// excludes too): a concurrent migrator waits, and a failed migration leaves nothing behind.
pub(crate) async fn apply_postgres_in_transaction(
    conn: &mut PgConnection,
) -> Result<usize, SetupError> {
    let mut tx = conn
        .begin_with(crate::sql::POOLED_BEGIN)
        .await
        .map_err(|e| postgres_failed(&e))?;
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| postgres_failed(&e))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(advisory_lock_id(&database))
        .execute(&mut *tx)
        .await
        .map_err(|e| postgres_failed(&e))?;
    let before = applied_versions_postgres(&mut tx).await?;
    let mut migrator = migrator(SqlBackend::Postgres);
    migrator.set_locking(false);
    migrator
        .run(&mut *tx)
        .await
        .map_err(|e| postgres_failed(&e))?;
    let after = applied_versions_postgres(&mut tx).await?;
    tx.commit().await.map_err(|e| postgres_failed(&e))?;
    Ok(after.difference(&before).count())
}

/// The key of sqlx's migration lock for `database` (`sqlx-postgres`' `generate_lock_id`), so a
/// migrator holding it at transaction level and one holding it for its session exclude each
/// other.
fn advisory_lock_id(database: &str) -> i64 {
    const CRC_IEEE: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    0x3d32_ad9e * i64::from(CRC_IEEE.checksum(database.as_bytes()))
}

fn postgres_failed(e: &(dyn std::error::Error + 'static)) -> SetupError {
    SetupError::Migrate {
        backend: SqlBackend::Postgres.name(),
        cause: crate::error::one_line(e),
    }
}

/// The versions recorded as applied on Postgres (none on a fresh database). Checks that the
/// bookkeeping table exists first: a failed query would abort the transaction it runs in.
async fn applied_versions_postgres(conn: &mut PgConnection) -> Result<BTreeSet<i64>, SetupError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| postgres_failed(&e))?;
    if !exists {
        return Ok(BTreeSet::new());
    }
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| postgres_failed(&e))?;
    Ok(versions.into_iter().collect())
}

/// The versions recorded as applied. Fails on a fresh database, where the bookkeeping table does
/// not exist yet; the caller reads that as "none".
async fn applied_versions<DB>(
    pool: &Pool<DB>,
    migrator: &Migrator,
) -> Result<BTreeSet<i64>, MigrateError>
where
    DB: Database,
    DB::Connection: Migrate,
{
    let mut conn = pool.acquire().await?;
    let applied = conn.list_applied_migrations(&migrator.table_name).await?;
    Ok(applied.into_iter().map(|m| m.version).collect())
}

/// Where one migration stands in a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationState {
    /// Applied, at this time (UTC, `YYYY-MM-DD HH:MM:SS`).
    Applied { at: String },
    /// Recorded, but it did not finish (SQLite: restore the backup taken before the upgrade).
    Failed { at: String },
    /// Known to this binary, not applied yet.
    Pending,
    /// Applied by a newer release; this binary does not know it (and ignores it).
    AppliedByNewerRelease { at: String },
}

/// One migration: this binary's list merged with the database's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationInfo {
    pub version: i64,
    pub description: String,
    pub state: MigrationState,
}

/// A row of the migrator's bookkeeping table: version, description, success, applied at.
pub(crate) type AppliedRow = (i64, String, bool, String);

/// Every migration of `backend` with its state, from the rows the database recorded.
pub(crate) fn merge(backend: SqlBackend, applied: Vec<AppliedRow>) -> Vec<MigrationInfo> {
    let migrator = migrator(backend);
    let mut out: Vec<MigrationInfo> = migrator
        .migrations
        .iter()
        .map(|m| {
            let state = match applied.iter().find(|row| row.0 == m.version) {
                Some((_, _, true, at)) => MigrationState::Applied { at: at.clone() },
                Some((_, _, false, at)) => MigrationState::Failed { at: at.clone() },
                None => MigrationState::Pending,
            };
            MigrationInfo {
                version: m.version,
                description: m.description.to_string(),
                state,
            }
        })
        .collect();
    for (version, description, _, at) in applied {
        if !out.iter().any(|m| m.version == version) {
            out.push(MigrationInfo {
                version,
                description,
                state: MigrationState::AppliedByNewerRelease { at },
            });
        }
    }
    out.sort_by_key(|m| m.version);
    out
}

/// The rows of the bookkeeping table on Postgres (none when it does not exist yet).
pub(crate) async fn applied_rows_postgres(
    db: crate::sql::PgTarget<'_>,
) -> Result<Vec<AppliedRow>, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(db)
        .await?;
    if !exists {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "SELECT version, description, success, \
         to_char(installed_on AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') \
         FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(db)
    .await
}

/// The rows of the bookkeeping table on SQLite (none when it does not exist yet).
pub(crate) async fn applied_rows_sqlite(
    conn: &mut sqlx::SqliteConnection,
) -> Result<Vec<AppliedRow>, sqlx::Error> {
    let exists: bool = sqlx::query_scalar(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut *conn)
    .await?;
    if !exists {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "SELECT version, description, success, CAST(installed_on AS TEXT) \
         FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&mut *conn)
    .await
}
