//! The SQL schema, embedded in the binary.
//!
//! The files under `migrations/{postgres,sqlite}/` are compiled in with `include_str!` and turned
//! into a [`Migrator`] at run time, so the binary needs neither the source tree nor a database at
//! build time (and no proc-macro copy of the drivers is compiled).

use std::borrow::Cow;
use std::collections::BTreeSet;

use sqlx::migrate::{Migrate, MigrateError, Migration, MigrationType, Migrator};
use sqlx::{Database, Pool, SqlStr};

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
        source: Box::new(e),
    };
    let migrator = migrator(backend);
    let before = applied_versions(pool, &migrator).await.unwrap_or_default();
    migrator.run(pool).await.map_err(failed)?;
    let after = applied_versions(pool, &migrator).await.map_err(failed)?;
    Ok(after.difference(&before).count())
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
