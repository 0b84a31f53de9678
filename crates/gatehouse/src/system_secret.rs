//! The system secret: the root key for cookie signing, keyed token hashes and the encryption of
//! signing keys at rest.
//!
//! Outside dev mode it must be configured (`GATEHOUSE_SYSTEM_SECRET`). In dev mode a missing
//! secret is generated once and persisted in the data directory (mode 0600), so restarts keep
//! sessions and hashed tokens valid.

use anyhow::Context as _;
use gatehouse_core::secret::{SecretString, random_token};
use std::path::Path;

use crate::config::Config;

pub fn resolve(config: &Config) -> anyhow::Result<SecretString> {
    if let Some(secret) = &config.system_secret {
        return Ok(SecretString::new(secret.clone()));
    }
    let path = config.data_dir.join("system-secret");
    if path.exists() {
        let stored = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the system secret from {}", path.display()))?;
        let stored = stored.trim();
        anyhow::ensure!(
            stored.len() >= 32,
            "the system secret in {} is shorter than 32 characters; delete the file to regenerate it",
            path.display()
        );
        return Ok(SecretString::new(stored));
    }
    let secret = random_token(48);
    write_private(&config.data_dir, &path, &secret)?;
    tracing::warn!(path = %path.display(), "dev mode: generated a system secret; set GATEHOUSE_SYSTEM_SECRET in production");
    Ok(SecretString::new(secret))
}

fn write_private(dir: &Path, path: &Path, contents: &str) -> anyhow::Result<()> {
    gatehouse_store::create_private_dir_all(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    use std::io::Write as _;
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
