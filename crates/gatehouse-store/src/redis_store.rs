//! The short-lived store on Redis, for running several instances side by side.
//!
//! Every operation is a single Redis command, an atomic `MULTI`/`EXEC` pipeline or a Lua script,
//! so the guarantees of the port (exactly-once `take`, first-wins `put_new`, fixed-window
//! counters) hold across instances. TTLs are set in milliseconds (`PX`/`PEXPIRE`).

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_core::store::{ShortLivedStore, StoreError, StoreResult};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, Script};

use crate::SetupError;
use crate::error::redact_url;

const BACKEND: &str = "redis";
/// Upper bound for one operation, reconnection included. A down Redis then fails calls (and the
/// readiness probe) within this time instead of hanging requests.
const OPERATION_TIMEOUT: Duration = Duration::from_millis(1500);
/// Each TCP connect attempt, and each response on an established connection.
const IO_TIMEOUT: Duration = Duration::from_secs(1);
/// How long [`RedisStore::connect`] waits for the first connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Adds a member and extends the set's life to at least `ttl` from now, never shortening it.
/// (`PEXPIRE ... GT` cannot do this: it treats a key without TTL as infinite and so never applies
/// to a freshly created set.)
const SET_ADD_SCRIPT: &str = r"
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
";

/// See the module docs. Cheap to clone: clones share one multiplexed connection, which the
/// [`ConnectionManager`] re-establishes by itself after Redis restarts.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    set_add: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

/// Milliseconds for `PX`/`PEXPIRE`: at least 1 (Redis refuses 0), at most `i64::MAX`.
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, i64::MAX as u64)
}

/// Type confusions (a counter read as a set) are `Corrupt`; everything else, including timeouts
/// and refused connections, is `Unavailable`.
fn store_error(err: RedisError) -> StoreError {
    if err.code() == Some("WRONGTYPE")
        || matches!(
            err.kind(),
            ErrorKind::Parse | ErrorKind::UnexpectedReturnType
        )
    {
        StoreError::Corrupt(err.to_string())
    } else {
        StoreError::Unavailable {
            backend: BACKEND,
            message: err.to_string(),
        }
    }
}

/// Why the first connection to Redis failed, in the words an operator acts on.
fn describe_redis_connect(err: &RedisError, addr: &str) -> String {
    if err.is_connection_refusal() {
        format!("connection refused at {addr}")
    } else if err.is_timeout() {
        format!("timed out connecting to {addr}")
    } else if err.kind() == ErrorKind::AuthenticationFailed {
        format!(
            "authentication failed at {addr}: {}",
            crate::error::one_line(err)
        )
    } else {
        format!("{} (at {addr})", crate::error::one_line(err))
    }
}

impl RedisStore {
    /// Connects and waits for the first connection, so a wrong URL or a down server fails here.
    pub async fn connect(url: &str) -> Result<Self, SetupError> {
        let client = redis::Client::open(url).map_err(|e| SetupError::InvalidUrl {
            backend: BACKEND,
            url: redact_url(url),
            cause: crate::error::one_line(&e),
        })?;
        let addr = client.get_connection_info().addr().to_string();
        let connect_error = |cause: String| SetupError::Connect {
            backend: BACKEND,
            url: redact_url(url),
            cause,
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(IO_TIMEOUT))
            .set_response_timeout(Some(IO_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| {
            connect_error(format!(
                "no answer from {addr} within {} s",
                CONNECT_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| connect_error(describe_redis_connect(&e, &addr)))?;
        Ok(Self {
            conn,
            set_add: Script::new(SET_ADD_SCRIPT),
        })
    }

    /// Runs one operation on a clone of the shared connection, bounded by [`OPERATION_TIMEOUT`].
    async fn run<T, F, Fut>(&self, op: F) -> StoreResult<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        match tokio::time::timeout(OPERATION_TIMEOUT, op(self.conn.clone())).await {
            Ok(result) => result.map_err(store_error),
            Err(_) => Err(StoreError::Unavailable {
                backend: BACKEND,
                message: format!("no answer within {} ms", OPERATION_TIMEOUT.as_millis()),
            }),
        }
    }
}

#[async_trait]
impl ShortLivedStore for RedisStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> StoreResult<()> {
        self.run(
            |mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await },
        )
        .await?;
        Ok(())
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()> {
        self.run(|mut conn| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(millis(ttl))
                .exec_async(&mut conn)
                .await
        })
        .await
    }

    async fn put_new(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<bool> {
        let reply: Option<String> = self
            .run(|mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(ttl))
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(reply.is_some())
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.run(|mut conn| async move { redis::cmd("GET").arg(key).query_async(&mut conn).await })
            .await
    }

    /// `MGET`: one round trip whatever the number of keys.
    async fn get_many(&self, keys: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.run(
            |mut conn| async move { redis::cmd("MGET").arg(keys).query_async(&mut conn).await },
        )
        .await
    }

    /// `GETDEL` (Redis 6.2+) is one atomic command: of concurrent takers exactly one gets the value.
    async fn take(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.run(
            |mut conn| async move { redis::cmd("GETDEL").arg(key).query_async(&mut conn).await },
        )
        .await
    }

    async fn delete(&self, key: &str) -> StoreResult<bool> {
        let removed: u64 = self
            .run(|mut conn| async move { redis::cmd("DEL").arg(key).query_async(&mut conn).await })
            .await?;
        Ok(removed > 0)
    }

    /// `INCR` and `PEXPIRE NX` (Redis 7+) in one `MULTI`: only the first increment of a window sets
    /// the expiry, and a crash cannot leave a counter without one.
    async fn increment(&self, key: &str, window: Duration) -> StoreResult<u64> {
        let (count,): (u64,) = self
            .run(|mut conn| async move {
                redis::pipe()
                    .atomic()
                    .cmd("INCR")
                    .arg(key)
                    .cmd("PEXPIRE")
                    .arg(key)
                    .arg(millis(window))
                    .arg("NX")
                    .ignore()
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(count)
    }

    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> StoreResult<()> {
        let _: i64 = self
            .run(|mut conn| async move {
                self.set_add
                    .key(key)
                    .arg(member)
                    .arg(millis(ttl))
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        Ok(())
    }

    /// `SMEMBERS` and `DEL` in one `MULTI`, so a member added concurrently is either returned or
    /// left in a fresh set, never lost.
    async fn set_take(&self, key: &str) -> StoreResult<Vec<String>> {
        let (members,): (Vec<String>,) = self
            .run(|mut conn| async move {
                redis::pipe()
                    .atomic()
                    .cmd("SMEMBERS")
                    .arg(key)
                    .cmd("DEL")
                    .arg(key)
                    .ignore()
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(members)
    }

    async fn set_members(&self, key: &str) -> StoreResult<Vec<String>> {
        self.run(
            |mut conn| async move { redis::cmd("SMEMBERS").arg(key).query_async(&mut conn).await },
        )
        .await
    }

    async fn set_remove(&self, key: &str, member: &str) -> StoreResult<bool> {
        let removed: i64 = self
            .run(|mut conn| async move {
                redis::cmd("SREM")
                    .arg(key)
                    .arg(member)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(removed > 0)
    }
}
