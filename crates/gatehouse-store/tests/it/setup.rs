//! Constructors: URL dispatch, migrations, and refusing what cannot work.

use std::time::{Duration, Instant};

use gatehouse_store::{
    SetupError, SqlBackend, connect_durable, connect_short_lived, migrate, migrator,
};
use sqlx::migrate::Migrator;

#[tokio::test]
async fn migrating_a_new_sqlite_file_creates_it_and_its_directory_once() {
    let dir = gatehouse_testkit::temp_dir();
    let url = format!("sqlite://{}/data/gatehouse.db", dir.path().display());
    assert_eq!(
        migrate(&url).await.unwrap(),
        migrator(SqlBackend::Sqlite).migrations.len()
    );
    assert_eq!(
        migrate(&url).await.unwrap(),
        0,
        "running it twice is a no-op"
    );
    let store = connect_durable(&url).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    store.ping().await.unwrap();
    assert!(store.list_scopes().await.unwrap().is_empty());
    drop(store);
}

#[tokio::test]
async fn in_memory_sqlite_is_migrated_on_connect() {
    let store = connect_durable("sqlite::memory:").await.unwrap();
    store
        .create_client(&gatehouse_testkit::fixtures::client("app"))
        .await
        .unwrap();
    assert!(store.get_client("app").await.unwrap().is_some());
}

#[tokio::test]
async fn the_memory_store_is_the_default_short_lived_store() {
    let store = connect_short_lived(None).await.unwrap();
    assert_eq!(store.backend(), "memory");
}

#[tokio::test]
async fn unsupported_urls_are_refused_without_leaking_passwords() {
    let err = connect_durable("mysql://root:hunter2@db/gatehouse")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SetupError::UnsupportedUrl(_)), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(matches!(
        migrate("http://example.com").await,
        Err(SetupError::UnsupportedUrl(_))
    ));
    let err = connect_short_lived(Some("memcached://x"))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SetupError::UnsupportedUrl(_)), "{err}");
}

#[tokio::test]
async fn unreachable_servers_fail_at_connect_promptly() {
    // Port 1 on loopback: nothing listens, so connections are refused.
    let started = Instant::now();
    let err = connect_durable("postgres://gatehouse:hunter2@127.0.0.1:1/gatehouse")
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            SetupError::Connect {
                backend: "postgres",
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");
    // The cause itself, once, rather than a pool's "timed out".
    assert!(
        err.to_string()
            .ends_with(": connection refused at 127.0.0.1:1"),
        "{err}"
    );
    assert!(!err.to_string().contains("timed out"), "{err}");
    let err = connect_short_lived(Some("redis://127.0.0.1:1"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            SetupError::Connect {
                backend: "redis",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with(": connection refused at 127.0.0.1:1"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "took {:?}",
        started.elapsed()
    );
}

/// A cluster or Sentinel URL whose nodes refuse connections fails at connect, promptly, naming
/// the hosts but never the password (which the multi-host URLs carry to every node).
#[tokio::test]
async fn unreachable_clusters_and_sentinels_fail_without_leaking_passwords() {
    for url in [
        "redis+cluster://app:hunter2@127.0.0.1:1,127.0.0.1:2",
        "rediss+cluster://app:hunter2@127.0.0.1:1",
        "redis+sentinel://app:hunter2@127.0.0.1:1,127.0.0.1:2/mymaster",
    ] {
        let started = Instant::now();
        let err = connect_short_lived(Some(url)).await.err().unwrap();
        assert!(
            matches!(
                err,
                SetupError::Connect {
                    backend: "redis",
                    ..
                }
            ),
            "{url}: {err}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{url} took {:?}",
            started.elapsed()
        );
    }
}

/// Applies only the first migration (the schema of the first release) to `url`.
async fn migrate_to_first_release(url: &str) {
    let backend = SqlBackend::from_url(url).unwrap();
    let first: Vec<_> = migrator(backend)
        .migrations
        .iter()
        .filter(|m| m.version == 1)
        .cloned()
        .collect();
    let migrator = Migrator::with_migrations(first);
    match backend {
        SqlBackend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            migrator.run(&pool).await.unwrap();
            pool.close().await;
        }
        SqlBackend::Sqlite => {
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
            let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
                .await
                .unwrap();
            migrator.run(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

async fn execute(url: &str, sql: &'static str) {
    match SqlBackend::from_url(url).unwrap() {
        SqlBackend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
        SqlBackend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

/// Consents the first release recorded while the consent page hid `offline`/`offline_access`
/// (the user was never told) lose those two scopes on upgrade; everything else is kept.
#[tokio::test]
async fn upgrading_drops_offline_access_from_consents_nobody_was_told_about() {
    let dir = gatehouse_testkit::temp_dir();
    let mut urls = vec![format!("sqlite://{}/legacy.db", dir.path().display())];
    let postgres = gatehouse_testkit::fresh_postgres_database().await;
    urls.extend(postgres.as_ref().map(|db| db.url.clone()));
    for url in &urls {
        migrate_to_first_release(url).await;
        execute(
            url,
            "INSERT INTO consents (subject, client_id, scope, granted_at, expires_at) VALUES \
             ('alice', 'neoncli', 'openid offline offline_access urn:neoncloud:projects:read', 1700000000, NULL), \
             ('bob', 'neoncli', 'offline_access', 1700000000, NULL), \
             ('carol', 'neoncli', 'openid profile', 1700000000, NULL), \
             ('dave', 'neoncli', 'urn:example:offline_reports offline', 1700000000, NULL)",
        )
        .await;
        migrate(url).await.unwrap();
        let store = connect_durable(url).await.unwrap();
        let scope = |s: Option<gatehouse_core::store::Consent>| s.unwrap().scope.to_string();
        assert_eq!(
            scope(store.get_consent("alice", "neoncli").await.unwrap()),
            "openid urn:neoncloud:projects:read",
            "{url}"
        );
        assert_eq!(
            scope(store.get_consent("bob", "neoncli").await.unwrap()),
            ""
        );
        assert_eq!(
            scope(store.get_consent("carol", "neoncli").await.unwrap()),
            "openid profile"
        );
        assert_eq!(
            scope(store.get_consent("dave", "neoncli").await.unwrap()),
            "urn:example:offline_reports",
            "a scope that merely contains the word is kept"
        );
    }
}

/// The first release left a deleted client's refresh-token families alive, so a client registered
/// again under the same id inherited them. On upgrade every client gets an incarnation, live
/// tokens record their client's, and families older than their client (or without one) are
/// revoked.
#[tokio::test]
async fn upgrading_binds_grants_to_client_incarnations_and_ends_orphans() {
    use gatehouse_core::store::RefreshTokenState;

    let dir = gatehouse_testkit::temp_dir();
    let mut urls = vec![format!("sqlite://{}/legacy.db", dir.path().display())];
    let postgres = gatehouse_testkit::fresh_postgres_database().await;
    urls.extend(postgres.as_ref().map(|db| db.url.clone()));
    for url in &urls {
        migrate_to_first_release(url).await;
        execute(
            url,
            "INSERT INTO clients (id, metadata, secret_hash, previous_secret_hash, previous_secret_expires_at, created_at, updated_at) VALUES \
             ('reborn', '{}', NULL, NULL, NULL, 1700000500, 1700000500), \
             ('steady', '{}', NULL, NULL, NULL, 1600000000, 1600000000); \
             INSERT INTO refresh_families (family_id, client_id, subject, revoked_at, created_at) VALUES \
             ('f-earlier', 'reborn', 'alice', NULL, 1700000000), \
             ('f-current', 'reborn', 'alice', NULL, 1700000600), \
             ('f-steady', 'steady', 'alice', NULL, 1700000000), \
             ('f-orphan', 'deleted', 'alice', NULL, 1700000000); \
             INSERT INTO refresh_tokens (token_hash, family_id, client_id, subject, scope, auth_time, issued_at, expires_at, rotated_at) VALUES \
             ('t-earlier', 'f-earlier', 'reborn', 'alice', 'offline', NULL, 1700000000, 4000000000, NULL), \
             ('t-current', 'f-current', 'reborn', 'alice', 'offline', NULL, 1700000600, 4000000000, NULL), \
             ('t-steady', 'f-steady', 'steady', 'alice', 'offline', NULL, 1700000000, 4000000000, NULL), \
             ('t-orphan', 'f-orphan', 'deleted', 'alice', 'offline', NULL, 1700000000, 4000000000, NULL)",
        )
        .await;
        migrate(url).await.unwrap();
        let store = connect_durable(url).await.unwrap();
        let reborn = store.get_client("reborn").await.unwrap().unwrap();
        let steady = store.get_client("steady").await.unwrap().unwrap();
        assert!(
            !reborn.incarnation.is_empty() && !steady.incarnation.is_empty(),
            "{url}"
        );
        assert_ne!(reborn.incarnation, steady.incarnation, "{url}");
        for (hash, state, incarnation) in [
            ("t-earlier", RefreshTokenState::Revoked, None),
            (
                "t-current",
                RefreshTokenState::Active,
                Some(&reborn.incarnation),
            ),
            (
                "t-steady",
                RefreshTokenState::Active,
                Some(&steady.incarnation),
            ),
            ("t-orphan", RefreshTokenState::Revoked, None),
        ] {
            let (token, found) = store.get_refresh_token(hash).await.unwrap().unwrap();
            assert_eq!(found, state, "{url}: {hash}");
            if let Some(incarnation) = incarnation {
                assert_eq!(&token.client_incarnation, incarnation, "{url}: {hash}");
            }
        }
    }
}

/// A backup is a Gatehouse database; a restore is refused while a store has the database open,
/// and for files that are not Gatehouse databases.
#[tokio::test]
async fn backup_and_restore_of_a_sqlite_file() {
    use gatehouse_store::{BackupError, backup_sqlite, inspect_backup, restore_sqlite};

    let dir = gatehouse_testkit::temp_dir();
    let url = format!("sqlite://{}/data/gatehouse.db", dir.path().display());
    let out = dir.path().join("backup.db");
    assert!(matches!(
        backup_sqlite(&url, &out).await,
        Err(BackupError::NoDatabase(_))
    ));
    migrate(&url).await.unwrap();
    let store = connect_durable(&url).await.unwrap();
    store
        .create_client(&gatehouse_testkit::fixtures::client("app"))
        .await
        .unwrap();
    let info = backup_sqlite(&url, &out).await.unwrap();
    assert_eq!((info.clients, info.users), (1, 0));
    assert_eq!(
        info.schema_version,
        migrator(SqlBackend::Sqlite)
            .migrations
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap()
    );
    assert!(matches!(
        restore_sqlite(&url, &out).await,
        Err(BackupError::InUse(_))
    ));
    drop(store);

    // A SQLite database without Gatehouse's migrations.
    let foreign = format!("sqlite://{}/foreign.db", dir.path().display());
    execute(
        &format!("{foreign}?mode=rwc"),
        "CREATE TABLE notes (body TEXT)",
    )
    .await;
    let err = inspect_backup(&dir.path().join("foreign.db"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("has no Gatehouse migrations"),
        "{err}"
    );
    // A Gatehouse database whose migration is not this release's.
    let copy = dir.path().join("edited.db");
    std::fs::copy(&out, &copy).unwrap();
    execute(
        &format!("sqlite://{}", copy.display()),
        "UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 1",
    )
    .await;
    let err = inspect_backup(&copy).await.unwrap_err();
    assert!(err.to_string().contains("migration 1 is not"), "{err}");

    let restored = restore_sqlite(&url, &out).await.unwrap();
    assert!(restored.previous.is_some());
    let store = connect_durable(&url).await.unwrap();
    assert!(store.get_client("app").await.unwrap().is_some());
}
