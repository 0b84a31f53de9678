//! Files only the owner may read: the embedded SQLite database holds password hashes,
//! client-secret hashes and the sealed signing keys, whatever the process's umask.

use std::io;
use std::path::Path;

/// Creates `dir` and any missing parent with mode 0700. Directories that exist are left as they
/// are (an operator may have chosen their mode).
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes sure the SQLite database at `path` exists with mode 0600 before SQLite opens it: SQLite
/// gives its write-ahead log and shared-memory files the database file's mode, so creating the
/// file first is what keeps all three private. An existing database (and its `-wal`/`-shm`) is
/// narrowed to 0600 too.
pub(crate) fn prepare_sqlite_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    drop(options.open(path)?);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let companions = ["-wal", "-shm"].map(|suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            std::path::PathBuf::from(name)
        });
        for file in std::iter::once(path.to_path_buf()).chain(companions) {
            match std::fs::metadata(&file) {
                Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
