//! Errors of setting a store up, and the mapping of driver errors onto [`StoreError`].

use gatehouse_core::store::StoreError;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a store could not be connected or migrated. Messages never contain a password: URLs are
/// redacted before they get here.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "unsupported store URL {0:?}: expected postgres://, postgresql://, sqlite: or redis://"
    )]
    UnsupportedUrl(String),
    #[error("invalid {backend} URL {url:?}: {source}")]
    InvalidUrl {
        backend: &'static str,
        url: String,
        #[source]
        source: BoxError,
    },
    #[error("cannot connect to {backend} at {url:?}: {source}")]
    Connect {
        backend: &'static str,
        url: String,
        #[source]
        source: BoxError,
    },
    #[error("migrating the {backend} schema failed: {source}")]
    Migrate {
        backend: &'static str,
        #[source]
        source: BoxError,
    },
}

/// The URL with any password replaced, fit for logs and error messages.
pub(crate) fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only fails for URLs that cannot have a password, which this one just had.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => raw.to_owned(),
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

/// Maps a sqlx error onto the port's error: unique violations are `Conflict` (the caller picked a
/// taken id or name), undecodable rows are `Corrupt`, and everything else (I/O, pool timeouts,
/// server shutdowns, lock timeouts) is `Unavailable`, which the caller may retry.
pub(crate) fn db_error(backend: &'static str, err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt(err.to_string()),
        _ => StoreError::Unavailable {
            backend,
            message: err.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        let redacted = redact_url("postgres://app:s3cret@db.internal:5432/gatehouse");
        assert!(!redacted.contains("s3cret"), "{redacted}");
        assert!(redacted.contains("db.internal"), "{redacted}");
        assert_eq!(
            redact_url("sqlite://data/gatehouse.db"),
            "sqlite://data/gatehouse.db"
        );
    }
}
