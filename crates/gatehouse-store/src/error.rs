//! Errors of setting a store up, and the mapping of driver errors onto [`StoreError`].

use gatehouse_core::store::StoreError;

/// Why a store could not be connected or migrated. Messages never contain a password: URLs are
/// redacted before they get here. Each carries its cause as text, said once (a driver's error
/// chain often repeats its own message at every level).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "unsupported store URL {0:?}: expected postgres://, postgresql://, sqlite:, or a Redis URL (redis://, rediss://, redis+cluster://, redis+sentinel://)"
    )]
    UnsupportedUrl(String),
    #[error("invalid {backend} URL {url:?}: {cause}")]
    InvalidUrl {
        backend: &'static str,
        url: String,
        cause: String,
    },
    #[error("cannot connect to {backend} at {url:?}: {cause}")]
    Connect {
        backend: &'static str,
        url: String,
        cause: String,
    },
    #[error("migrating the {backend} schema failed: {cause}")]
    Migrate {
        backend: &'static str,
        cause: String,
    },
    #[error("reading the {backend} migration records failed: {cause}")]
    Inspect {
        backend: &'static str,
        cause: String,
    },
}

/// An error and its sources as one line, each distinct message once: drivers wrap an error in
/// another whose message already quotes it.
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

/// Where a network connection went, for messages: `host:port`.
pub(crate) struct Endpoint<'a> {
    pub host: &'a str,
    pub port: u16,
}

impl std::fmt::Display for Endpoint<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Why a TCP connection failed, in the words an operator acts on: refused, unresolvable, timed out.
pub(crate) fn describe_io(err: &std::io::Error, at: &Endpoint<'_>) -> String {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::ConnectionRefused => format!("connection refused at {at}"),
        ErrorKind::TimedOut => format!("timed out connecting to {at}"),
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => {
            format!("{at} is unreachable ({err})")
        }
        ErrorKind::PermissionDenied => format!("permission denied connecting to {at} ({err})"),
        _ if err.to_string().contains("lookup address") => {
            format!("cannot resolve host {} ({err})", at.host)
        }
        _ => format!("{err} (connecting to {at})"),
    }
}

/// Why a first connection to Postgres failed: the network cause, or the server's answer
/// (authentication, unknown database) rather than a pool's "timed out".
pub(crate) fn describe_postgres_connect(
    err: &sqlx::Error,
    at: &Endpoint<'_>,
    user: &str,
    database: Option<&str>,
) -> String {
    match err {
        sqlx::Error::Io(io) => describe_io(io, at),
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01") => format!("password authentication failed for user {user:?} at {at}"),
            Some("28000") => format!(
                "authentication refused for user {user:?} at {at}: {}",
                db.message()
            ),
            Some("3D000") => format!(
                "database {:?} does not exist at {at}",
                database.unwrap_or(user)
            ),
            _ => format!("{} (at {at})", db.message()),
        },
        sqlx::Error::Tls(tls) => format!("TLS with {at} failed: {tls}"),
        other => format!("{} (at {at})", one_line(other)),
    }
}

/// The URL with any password replaced, fit for logs and error messages: the user info's, and
/// any query parameter's whose name mentions a password (`sentinel_password`, `password`).
pub(crate) fn redact_url(raw: &str) -> String {
    crate::redis_url::redact_query(&redact_user_info(raw))
}

fn redact_user_info(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only fails for URLs that cannot have a password, which this one just had.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => raw.to_owned(),
        // Several hosts (`redis+cluster://`, `redis+sentinel://`) are no URL to `url`.
        Err(_) => crate::redis_url::redact_multi_host(raw)
            .unwrap_or_else(|| "<unparsable URL>".to_owned()),
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
        let redacted = redact_url(
            "redis+sentinel://app:s3cret@s1:1,s2:2/m?sentinel_username=w&sentinel_password=t0psecret",
        );
        assert!(
            !redacted.contains("s3cret") && !redacted.contains("t0psecret"),
            "{redacted}"
        );
        let redacted = redact_url("postgres://db.internal/gatehouse?user=app&password=s3cret");
        assert!(!redacted.contains("s3cret"), "{redacted}");
        assert_eq!(
            redact_url("sqlite://data/gatehouse.db"),
            "sqlite://data/gatehouse.db"
        );
    }
}
