//! One-shot operator commands on the durable store: `gatehouse migrate` (with `--status` and
//! `--dry-run`), `gatehouse backup` and `gatehouse restore`.

use anyhow::Context as _;
use gatehouse_store::{BackupError, MigrationInfo, MigrationState, SqlBackend};
use std::path::Path;

use crate::config::{Config, ConfigError};

/// Applies the pending migrations.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let url = config.effective_database_url();
    if config.database_url.is_none() {
        gatehouse_store::create_private_dir_all(&config.data_dir).with_context(|| {
            format!("creating the data directory {}", config.data_dir.display())
        })?;
    }
    let applied = gatehouse_store::migrate(&url).await?;
    println!("{applied} migration(s) applied; the database schema is up to date");
    Ok(())
}

/// `gatehouse migrate --status`: every migration, applied or pending, with when it was applied.
pub async fn migrate_status(config: &Config) -> anyhow::Result<()> {
    let migrations = gatehouse_store::migration_status(&config.effective_database_url()).await?;
    print!("{}", status_table(&migrations));
    Ok(())
}

/// `gatehouse migrate --dry-run`: what `gatehouse migrate` would apply, without applying it.
pub async fn migrate_dry_run(config: &Config) -> anyhow::Result<()> {
    let migrations = gatehouse_store::migration_status(&config.effective_database_url()).await?;
    let pending: Vec<_> = migrations
        .iter()
        .filter(|m| matches!(m.state, MigrationState::Pending))
        .collect();
    if pending.is_empty() {
        println!("0 migration(s) would be applied; the database schema is up to date");
    } else {
        println!(
            "{} migration(s) would be applied (nothing was changed):",
            pending.len()
        );
        for m in pending {
            println!("  {:>4}  {}", m.version, m.description);
        }
    }
    Ok(())
}

fn status_table(migrations: &[MigrationInfo]) -> String {
    let width = migrations
        .iter()
        .map(|m| m.description.len())
        .max()
        .unwrap_or(0)
        .max("DESCRIPTION".len());
    let mut out = format!(
        "{:>7}  {:<width$}  {:<8}  APPLIED AT (UTC)\n",
        "VERSION", "DESCRIPTION", "STATE"
    );
    let (mut applied, mut pending) = (0, 0);
    for m in migrations {
        let (state, at) = match &m.state {
            MigrationState::Applied { at } => {
                applied += 1;
                ("applied", at.as_str())
            }
            MigrationState::Failed { at } => ("FAILED", at.as_str()),
            MigrationState::Pending => {
                pending += 1;
                ("pending", "-")
            }
            MigrationState::AppliedByNewerRelease { at } => ("newer", at.as_str()),
        };
        out.push_str(&format!(
            "{:>7}  {:<width$}  {state:<8}  {at}\n",
            m.version, m.description
        ));
    }
    out.push_str(&format!("{applied} applied, {pending} pending\n"));
    out
}

/// The backend of the configured database, refusing Postgres for `command` with what to use.
fn embedded_only(config: &Config, command: &str, instead: &str) -> Result<String, ConfigError> {
    let url = config.effective_database_url();
    if SqlBackend::from_url(&url).ok() == Some(SqlBackend::Postgres) {
        return Err(ConfigError::plain(
            "database_url",
            format!(
                "gatehouse {command} works on the embedded SQLite database; DATABASE_URL names Postgres: {instead}"
            ),
        ));
    }
    Ok(url)
}

/// `gatehouse backup --out FILE`: a consistent copy of the embedded database.
pub async fn backup(config: &Config, out: &Path) -> anyhow::Result<()> {
    let url = embedded_only(
        config,
        "backup",
        "use pg_dump, e.g. pg_dump --format=custom --file=gatehouse.dump \"$DATABASE_URL\"",
    )?;
    let info = gatehouse_store::backup_sqlite(&url, out)
        .await
        .map_err(usage_or_failure)?;
    println!(
        "backup written to {} (schema version {}, {} client(s), {} user(s))",
        out.display(),
        info.schema_version,
        info.clients,
        info.users
    );
    println!(
        "keep the system secret with it: signing keys and client-secret hashes in the backup need it"
    );
    Ok(())
}

/// `gatehouse restore FILE`: replaces the embedded database with a backup.
pub async fn restore(config: &Config, file: &Path) -> anyhow::Result<()> {
    let url = embedded_only(
        config,
        "restore",
        "restore a pg_dump archive with pg_restore, e.g. pg_restore --clean --dbname=\"$DATABASE_URL\" gatehouse.dump",
    )?;
    let restored = gatehouse_store::restore_sqlite(&url, file)
        .await
        .map_err(usage_or_failure)?;
    println!(
        "restored {} into {} (schema version {}, {} client(s), {} user(s))",
        file.display(),
        restored.database.display(),
        restored.info.schema_version,
        restored.info.clients,
        restored.info.users
    );
    if let Some(previous) = &restored.previous {
        println!("the database it replaced is kept as {}", previous.display());
    }
    println!(
        "start gatehouse with the system secret that was current when the backup was taken; pending migrations are applied on start"
    );
    Ok(())
}

/// A refusal caused by the command's arguments (exit 2) or a failure while it ran (exit 1).
fn usage_or_failure(e: BackupError) -> anyhow::Error {
    match e {
        BackupError::Exists(_)
        | BackupError::NotGatehouse { .. }
        | BackupError::NoDatabase(_)
        | BackupError::InMemory(_) => ConfigError::plain("backup", e.to_string()).into(),
        other => anyhow::Error::new(other),
    }
}
