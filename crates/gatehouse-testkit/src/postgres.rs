//! A database per test on the Postgres named by `GATEHOUSE_TEST_POSTGRES_URL`.
//!
//! A migrated database is a copy of a template database migrated once per schema
//! (`gh_template_<digest of the migrations>`), not a fresh database migrated per test: copying
//! takes a fraction of the time applying every migration does, and hundreds of tests do it.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use crate::POSTGRES_URL_VAR;

/// Test databases are named `gh_test_<unix seconds>_<random>`; ones older than this were left by
/// a killed run and are dropped on the next run's first use.
const STALE_AFTER_SECS: i64 = 3600;
const PREFIX: &str = "gh_test_";
const TEMPLATE_PREFIX: &str = "gh_template_";
/// The advisory lock (on the admin database's server) that serialises building the template
/// between the test processes that start at once.
const TEMPLATE_LOCK: i64 = 0x6768_7465_6d70;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

async fn admin_connection(admin_url: &str) -> PgConnection {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(admin_url)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            panic!("{POSTGRES_URL_VAR}={admin_url} is set but Postgres refused the connection: {e}")
        }
        Err(_) => panic!(
            "{POSTGRES_URL_VAR}={admin_url} is set but Postgres did not answer within {}s",
            CONNECT_TIMEOUT.as_secs()
        ),
    }
}

/// Creates (and, when `migrate` is set, migrates) a fresh database; returns its URL and the
/// guard that drops it.
pub(crate) async fn create_database(admin_url: &str, migrate: bool) -> (String, DropDatabase) {
    static SWEPT: OnceCell<()> = OnceCell::const_new();
    let mut admin = admin_connection(admin_url).await;
    SWEPT.get_or_init(|| drop_stale_databases(admin_url)).await;

    let name = format!(
        "{PREFIX}{}_{}",
        OffsetDateTime::now_utc().unix_timestamp(),
        uuid::Uuid::new_v4().simple()
    );
    let create = if migrate {
        let template = migrated_template(admin_url, &mut admin).await;
        format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"")
    } else {
        format!("CREATE DATABASE \"{name}\"")
    };
    sqlx::raw_sql(AssertSqlSafe(create))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {admin_url}: {e}"));
    let _ = admin.close().await;
    let guard = DropDatabase {
        admin_url: admin_url.to_owned(),
        name: name.clone(),
    };
    (database_url(admin_url, &name), guard)
}

/// `admin_url` with its database replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url)
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR} is not a URL: {e}"));
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// The name of a database migrated to the current schema that tests copy, built on first use
/// (under an advisory lock, so concurrent test processes build it once) by the real migrator,
/// and kept for later runs; templates of other schemas are dropped when it is built.
async fn migrated_template(admin_url: &str, admin: &mut PgConnection) -> String {
    let name = format!("{TEMPLATE_PREFIX}{}", schema_digest());
    if database_exists(admin, &name).await {
        return name;
    }
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut *admin)
        .await
        .unwrap_or_else(|e| panic!("locking the template: {e}"));
    if !database_exists(admin, &name).await {
        build_template(admin_url, admin, &name).await;
    }
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut *admin)
        .await
        .unwrap_or_else(|e| panic!("unlocking the template: {e}"));
    name
}

async fn database_exists(admin: &mut PgConnection, name: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(admin)
        .await
        .unwrap_or_else(|e| panic!("looking for database {name}: {e}"))
}

/// Builds the template `name` under a temporary name, so a half-built one is never copied (a
/// killed build leaves only the temporary one, which the next build drops).
async fn build_template(admin_url: &str, admin: &mut PgConnection, name: &str) {
    let building = format!("{name}_building");
    let stale: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
            .bind(TEMPLATE_PREFIX)
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for old in stale {
        let _ = sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{old}\" WITH (FORCE)"
        )))
        .execute(&mut *admin)
        .await;
    }
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{building}\"")))
        .execute(&mut *admin)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {building} on {admin_url}: {e}"));
    let url = database_url(admin_url, &building);
    let applied = gatehouse_store::migrate(&url)
        .await
        .unwrap_or_else(|e| panic!("migrating {url}: {e}"));
    assert!(
        applied > 0,
        "a fresh database should have needed migrations"
    );
    sqlx::raw_sql(AssertSqlSafe(format!(
        "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
    )))
    .execute(&mut *admin)
    .await
    .unwrap_or_else(|e| panic!("renaming {building} to {name}: {e}"));
}

/// A digest of every Postgres migration's version and checksum: a changed or added migration
/// names a new template.
fn schema_digest() -> String {
    use sha2::Digest as _;
    let mut digest = sha2::Sha256::new();
    for migration in gatehouse_store::migrator(gatehouse_store::SqlBackend::Postgres).iter() {
        digest.update(migration.version.to_le_bytes());
        digest.update(&*migration.checksum);
    }
    digest
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Drops databases that earlier, killed runs left behind.
async fn drop_stale_databases(admin_url: &str) {
    let mut admin = admin_connection(admin_url).await;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
            .bind(PREFIX)
            .fetch_all(&mut admin)
            .await
            .unwrap_or_default();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    for name in names {
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<i64>().ok());
        if created.is_some_and(|created| now - created > STALE_AFTER_SECS) {
            let _ = sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await;
        }
    }
    let _ = admin.close().await;
}

/// Drops the test database when the backend is dropped.
pub(crate) struct DropDatabase {
    admin_url: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        // Drop runs synchronously, often inside the test's runtime, which must not be blocked on
        // itself: do the async work on a separate thread with its own runtime and wait for it.
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                sqlx::raw_sql(AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if let Ok(Err(e)) = dropped {
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr().lock(),
                format_args!(
                    "gatehouse-testkit: could not drop test database {}: {e}\n",
                    self.name
                ),
            );
        }
    }
}
