//! Backups of the embedded SQLite database: a consistent copy taken while servers keep running,
//! the check that a file is a Gatehouse database, and its restore.
//!
//! A plain `cp` of the database file misses what is still in its write-ahead log (recent
//! writes, often all of them on a young database); `VACUUM INTO` writes one self-contained file
//! from a read snapshot instead. Every process that opens the database holds a shared lock on
//! `<database>.lock` for as long as it has it open, so a restore (which takes the lock
//! exclusively) can tell that a server still runs on it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _, SqliteConnection};

use crate::SqlBackend;
use crate::error::{one_line, redact_url};

/// How long a backup waits for a writer to let go of the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What a backup holds, as read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// The highest migration applied in it.
    pub schema_version: i64,
    pub clients: i64,
    pub users: i64,
}

/// The outcome of a restore.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The database file that now holds the backup.
    pub database: PathBuf,
    /// Where the database it replaced was kept (none when there was none).
    pub previous: Option<PathBuf>,
    pub info: BackupInfo,
}

/// Why a backup or a restore did not happen. Nothing was changed when one is returned, except
/// as [`BackupError::Failed`] says.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} is an in-memory database: there is no file to back up or restore")]
    InMemory(String),
    #[error("no database at {}: nothing to back up", .0.display())]
    NoDatabase(PathBuf),
    #[error("{} exists already; choose a new file name", .0.display())]
    Exists(PathBuf),
    #[error("{} is not a Gatehouse backup: {reason}", path.display())]
    NotGatehouse { path: PathBuf, reason: String },
    #[error(
        "a gatehouse process has {} open; stop every gatehouse that uses it, then restore",
        .0.display()
    )]
    InUse(PathBuf),
    #[error("{what}: {cause}")]
    Failed { what: String, cause: String },
}

fn failed(
    what: impl Into<String>,
) -> impl FnOnce(&(dyn std::error::Error + 'static)) -> BackupError {
    let what = what.into();
    move |e| BackupError::Failed {
        what,
        cause: one_line(e),
    }
}

/// The lock file beside the database `db`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Opens (creating, owner-only) the lock file of `db` and takes it shared; held while the
/// returned file is open. Fails while a restore holds it.
pub(crate) fn hold_shared(db: &Path) -> io::Result<File> {
    let lock = open_lock(db)?;
    match lock.try_lock_shared() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => Err(io::Error::other(format!(
            "{} is being restored (its lock {} is held); start again when the restore is done",
            db.display(),
            lock_path(db).display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

fn open_lock(db: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(lock_path(db))
}

/// Creates `path` empty and owner-only; refuses an existing file.
fn create_private(path: &Path) -> Result<File, BackupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            BackupError::Exists(path.to_path_buf())
        } else {
            failed(format!("creating {}", path.display()))(&e)
        }
    })
}

/// The database file a SQLite URL names.
fn sqlite_file(url: &str) -> Result<(SqliteConnectOptions, PathBuf), BackupError> {
    if SqlBackend::from_url(url).ok() != Some(SqlBackend::Sqlite) {
        return Err(BackupError::Failed {
            what: format!("{} is not a SQLite URL", redact_url(url)),
            cause: "backups of Postgres are taken with pg_dump".into(),
        });
    }
    if crate::sql::is_sqlite_memory_url(url) {
        return Err(BackupError::InMemory(redact_url(url)));
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| failed(format!("reading the URL {}", redact_url(url)))(&e))?;
    let file = options.get_filename().to_path_buf();
    Ok((options.create_if_missing(false), file))
}

/// Writes a consistent copy of the SQLite database at `url` to `out` (a new, owner-only file),
/// while other processes may be reading and writing it; returns what the copy holds.
pub async fn backup_sqlite(url: &str, out: &Path) -> Result<BackupInfo, BackupError> {
    let (options, db) = sqlite_file(url)?;
    if !db.is_file() {
        return Err(BackupError::NoDatabase(db));
    }
    let Some(target) = out.to_str() else {
        return Err(BackupError::Failed {
            what: format!("writing {}", out.display()),
            cause: "the path is not UTF-8".into(),
        });
    };
    // `VACUUM INTO` accepts an empty file, so it is made first, with the owner-only mode.
    drop(create_private(out)?);
    let copied = async {
        let mut conn = options
            .busy_timeout(BUSY_TIMEOUT)
            .connect()
            .await
            .map_err(|e| failed(format!("opening {}", db.display()))(&e))?;
        let result = sqlx::query("VACUUM INTO ?1")
            .bind(target)
            .execute(&mut conn)
            .await
            .map_err(|e| failed(format!("copying {} to {}", db.display(), out.display()))(&e));
        let _ = conn.close().await;
        result.map(|_| ())
    }
    .await;
    if let Err(e) = copied {
        let _ = std::fs::remove_file(out);
        return Err(e);
    }
    inspect_backup(out).await
}

/// Checks that `path` is a Gatehouse SQLite database: SQLite's quick integrity check passes, its
/// migrations all finished and those this release knows are this release's; returns what it holds.
pub async fn inspect_backup(path: &Path) -> Result<BackupInfo, BackupError> {
    let not = |reason: String| BackupError::NotGatehouse {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(not("there is no such file".into()));
    }
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false)
        .connect()
        .await
        .map_err(|e| not(one_line(&e)))?;
    let result = inspect(&mut conn, not).await;
    let _ = conn.close().await;
    result
}

async fn inspect(
    conn: &mut SqliteConnection,
    not: impl Fn(String) -> BackupError,
) -> Result<BackupInfo, BackupError> {
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| not(format!("it is not a SQLite database ({})", one_line(&e))))?;
    if check != "ok" {
        return Err(not(format!("SQLite's integrity check fails: {check}")));
    }
    let rows = crate::migrations::applied_rows_sqlite(conn)
        .await
        .map_err(|e| not(one_line(&e)))?;
    if rows.is_empty() {
        return Err(not("it has no Gatehouse migrations".into()));
    }
    let checksums: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| not(one_line(&e)))?;
    let known = crate::migrations::migrator(SqlBackend::Sqlite);
    for (version, _, success, _) in &rows {
        if !success {
            return Err(not(format!("its migration {version} did not finish")));
        }
    }
    for (version, checksum) in &checksums {
        if let Some(m) = known.migrations.iter().find(|m| m.version == *version)
            && m.checksum.as_ref() != checksum.as_slice()
        {
            return Err(not(format!(
                "its migration {version} is not the one this release has"
            )));
        }
    }
    if !rows.iter().any(|r| r.0 == 1) {
        return Err(not("it lacks the first migration".into()));
    }
    let clients: i64 = sqlx::query_scalar("SELECT count(*) FROM clients")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| not(one_line(&e)))?;
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| not(one_line(&e)))?;
    Ok(BackupInfo {
        schema_version: rows.iter().map(|r| r.0).max().unwrap_or_default(),
        clients,
        users,
    })
}

/// Replaces the SQLite database at `url` with the backup `file`, after checking it
/// ([`inspect_backup`]). Refuses while any process has the database open. The database it
/// replaces, with its write-ahead log, is kept as `<database>.<UTC time>.bak`.
pub async fn restore_sqlite(url: &str, file: &Path) -> Result<Restored, BackupError> {
    let (_, db) = sqlite_file(url)?;
    let info = inspect_backup(file).await?;
    let file = file.to_path_buf();
    tokio::task::spawn_blocking(move || {
        replace(&db, &file).map(|previous| Restored {
            database: db,
            previous,
            info,
        })
    })
    .await
    .map_err(|e| failed("restoring")(&e))?
}

fn replace(db: &Path, backup: &Path) -> Result<Option<PathBuf>, BackupError> {
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private_files::create_private_dir_all(dir)
            .map_err(|e| failed(format!("creating {}", dir.display()))(&e))?;
    }
    let lock =
        open_lock(db).map_err(|e| failed(format!("opening {}", lock_path(db).display()))(&e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(BackupError::InUse(db.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(failed(format!("locking {}", lock_path(db).display()))(&e));
        }
    }
    let sibling = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    // The copy is made beside the database and renamed over it, so the database is never half
    // written.
    let incoming = sibling(".restoring");
    let _ = std::fs::remove_file(&incoming);
    let copy = || -> io::Result<()> {
        let mut to = create_private(&incoming).map_err(|e| io::Error::other(e.to_string()))?;
        let mut from = File::open(backup)?;
        io::copy(&mut from, &mut to)?;
        to.sync_all()
    };
    if let Err(e) = copy() {
        let _ = std::fs::remove_file(&incoming);
        return Err(failed(format!("copying {}", backup.display()))(&e));
    }
    let previous = if db.exists() {
        let stamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap_or_else(|_| "previous".into());
        let kept = sibling(&format!(".{stamp}.bak"));
        let keep = |from: &Path, to: &Path| {
            std::fs::rename(from, to)
                .map_err(|e| failed(format!("moving {} to {}", from.display(), to.display()))(&e))
        };
        keep(db, &kept)?;
        // The log goes with its database (SQLite finds it by name); the shared-memory index is
        // rebuilt from it.
        let wal = sibling("-wal");
        if wal.exists() {
            let mut kept_wal = kept.as_os_str().to_owned();
            kept_wal.push("-wal");
            keep(&wal, Path::new(&kept_wal))?;
        }
        let _ = std::fs::remove_file(sibling("-shm"));
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&incoming, db)
        .map_err(|e| failed(format!("moving the restored copy to {}", db.display()))(&e))?;
    drop(lock);
    Ok(previous)
}
