//! The short-lived store on Redis, for running several instances side by side.
//!
//! Every operation is a single Redis command, an atomic `MULTI`/`EXEC` pipeline or a Lua script,
//! so the guarantees of the port (exactly-once `take`, first-wins `put_new`, fixed-window
//! counters) hold across instances. TTLs are set in milliseconds (`PX`/`PEXPIRE`).
//!
//! The same operations run on one server, on a Redis Cluster and on a master found through
//! Sentinel ([`crate::redis_url`] has the URLs). On a cluster every command, `MULTI` and script
//! touches exactly one key, hence one slot: no operation of the port needs keys to share a slot,
//! so keys carry no hash tag and spread over the cluster. The one multi-key command, `MGET` in
//! [`ShortLivedStore::get_many`], is a read without atomicity needs: the cluster client splits
//! it per slot and reassembles the answers in the order asked.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_core::store::{ShortLivedStore, StoreError, StoreResult};
use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Cmd, ErrorKind, IntoConnectionInfo, Pipeline, RedisError, RedisFuture,
    Script, TlsCertificates, TlsMode, Value,
};

use crate::SetupError;
use crate::error::redact_url;
use crate::redis_url::{RedisTarget, RedisUrl, SentinelAuth};

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

/// See the module docs. Cheap to clone: clones share one multiplexed connection (per node on a
/// cluster), which is re-established by itself after Redis restarts or fails over.
#[derive(Clone)]
pub struct RedisStore {
    conn: Connection,
    set_add: Script,
}

/// The connection of one of the three topologies. Each one re-establishes itself: the
/// [`ConnectionManager`] reconnects to its server, the cluster client re-reads the slot map
/// after `MOVED` or a dead node, and [`SentinelMaster`] asks the Sentinels again.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(Arc<SentinelMaster>),
}

/// A connection to the master a set of Sentinels names, asked anew whenever an operation fails
/// for a reason a failover explains (the old master gone, or demoted: `READONLY`).
struct SentinelMaster {
    sentinel: tokio::sync::Mutex<SentinelClient>,
    current: std::sync::Mutex<Option<MultiplexedConnection>>,
    config: AsyncConnectionConfig,
}

impl SentinelMaster {
    /// The current master connection, or a new one to the master the Sentinels name now.
    async fn connection(&self) -> Result<MultiplexedConnection, RedisError> {
        if let Some(conn) = self.cached() {
            return Ok(conn);
        }
        let mut sentinel = self.sentinel.lock().await;
        // Another caller may have reconnected while this one waited for the lock.
        if let Some(conn) = self.cached() {
            return Ok(conn);
        }
        let client = sentinel.async_get_client().await?;
        let conn = client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        if let Ok(mut current) = self.current.lock() {
            *current = Some(conn.clone());
        }
        Ok(conn)
    }

    fn cached(&self) -> Option<MultiplexedConnection> {
        self.current.lock().ok().and_then(|c| c.clone())
    }

    /// Drops the current connection, so the next operation asks the Sentinels again.
    fn forget(&self) {
        if let Ok(mut current) = self.current.lock() {
            *current = None;
        }
    }
}

/// The connection one operation runs on: a clone of the shared one, whichever the topology.
enum OpConnection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(MultiplexedConnection),
}

impl ConnectionLike for OpConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
            Self::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
            Self::Sentinel(c) => c.get_db(),
        }
    }
}

/// Whether `err` may mean the Sentinel-named master is no longer the master: it went away, does
/// not answer, or was demoted to a replica.
fn master_may_have_moved(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_timeout()
        || matches!(err.code(), Some("READONLY" | "MASTERDOWN" | "LOADING"))
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

/// Why [`RedisStore::connect`] failed before its first round trip.
enum Failed {
    Url(String),
    Connect(String),
}

/// Whether the server refused for want of (the right) credentials.
fn is_auth_error(err: &RedisError) -> bool {
    err.kind() == ErrorKind::AuthenticationFailed
        || matches!(err.code(), Some("NOAUTH" | "WRONGPASS"))
}

/// Why the first connection to Redis failed, in the words an operator acts on.
fn describe_redis_connect(err: &RedisError, addr: &str) -> String {
    if err.is_connection_refusal() {
        format!("connection refused at {addr}")
    } else if err.is_timeout() {
        format!("timed out connecting to {addr}")
    } else if is_auth_error(err) {
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
    ///
    /// `url` is one of the forms of [`crate::redis_url`]: `redis://` (one server),
    /// `redis+cluster://host:port,…` (a cluster through any of its nodes) or
    /// `redis+sentinel://host:port,…/master[/db]` (the master a set of Sentinels names), each with
    /// an optional `user:password@` (Redis ACL) and an `s` for TLS (`rediss…`). The query may
    /// name the Sentinels' own credentials and, for TLS, a CA and a client certificate.
    pub async fn connect(url: &str) -> Result<Self, SetupError> {
        let invalid = |cause: String| SetupError::InvalidUrl {
            backend: BACKEND,
            url: redact_url(url),
            cause,
        };
        let connect_error = |cause: String| SetupError::Connect {
            backend: BACKEND,
            url: redact_url(url),
            cause,
        };
        let RedisUrl { target, tls } = RedisUrl::parse(url).map_err(invalid)?;
        let certs = tls.certificates().map_err(invalid)?;
        let connecting = async {
            match &target {
                RedisTarget::Single(url) => Self::connect_single(url, certs).await,
                RedisTarget::Cluster { nodes } => Self::connect_cluster(nodes, certs).await,
                RedisTarget::Sentinel {
                    sentinels,
                    auth,
                    master,
                    node,
                } => Self::connect_sentinel(sentinels, auth, master, node, certs).await,
            }
        };
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| {
                connect_error(format!(
                    "no answer from the {} within {} s",
                    target.servers(),
                    CONNECT_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| match e {
                Failed::Url(cause) => invalid(cause),
                Failed::Connect(cause) => connect_error(cause),
            })?;
        let store = Self {
            conn,
            set_add: Script::new(SET_ADD_SCRIPT),
        };
        if !matches!(target, RedisTarget::Single(_)) {
            // The cluster and Sentinel clients connect lazily in parts: one round trip proves
            // the data nodes answer.
            store
                .ping()
                .await
                .map_err(|e| connect_error(e.to_string()))?;
        }
        Ok(store)
    }

    async fn connect_single(
        url: &str,
        certs: Option<TlsCertificates>,
    ) -> Result<Connection, Failed> {
        let url_error = |e: RedisError| Failed::Url(crate::error::one_line(&e));
        let client = match certs {
            Some(certs) => redis::Client::build_with_tls(url, certs),
            None => redis::Client::open(url),
        }
        .map_err(url_error)?;
        let addr = client.get_connection_info().addr().to_string();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(IO_TIMEOUT))
            .set_response_timeout(Some(IO_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| Failed::Connect(describe_redis_connect(&e, &addr)))?;
        Ok(Connection::Single(conn))
    }

    async fn connect_cluster(
        nodes: &[String],
        certs: Option<TlsCertificates>,
    ) -> Result<Connection, Failed> {
        let mut builder = ClusterClientBuilder::new(nodes.to_vec());
        if let Some(certs) = certs {
            builder = builder.certs(certs);
        }
        let client = builder
            .connection_timeout(IO_TIMEOUT)
            .response_timeout(IO_TIMEOUT)
            // Retries (after `MOVED`, a dead node, `CLUSTERDOWN` during a failover) are bounded
            // by OPERATION_TIMEOUT around every call anyway.
            .retries(5)
            .min_retry_wait(50)
            .max_retry_wait(500)
            .build()
            .map_err(|e| Failed::Url(crate::error::one_line(&e)))?;
        let conn = client.get_async_connection().await.map_err(|e| {
            // The node URLs carry the password: name the nodes without it.
            let redacted: Vec<String> = nodes.iter().map(|n| redact_url(n)).collect();
            Failed::Connect(describe_redis_connect(&e, &redacted.join(",")))
        })?;
        Ok(Connection::Cluster(conn))
    }

    async fn connect_sentinel(
        sentinels: &[String],
        auth: &SentinelAuth,
        master: &str,
        node: &str,
        certs: Option<TlsCertificates>,
    ) -> Result<Connection, Failed> {
        let url_error = |e: RedisError| Failed::Url(crate::error::one_line(&e));
        let node = node.into_connection_info().map_err(url_error)?;
        let mut addrs = Vec::with_capacity(sentinels.len());
        for sentinel in sentinels {
            addrs.push(
                sentinel
                    .as_str()
                    .into_connection_info()
                    .map_err(url_error)?
                    .addr()
                    .clone(),
            );
        }
        // Two sets of settings: the Sentinels' (their own credentials, if any) and the data
        // nodes' (the URL's user info and database); both share the TLS mode and certificates.
        let mut builder = SentinelClientBuilder::new(addrs, master, SentinelServerType::Master)
            .map_err(url_error)?
            .set_client_to_redis_db(node.redis_settings().db());
        if let Some(username) = node.redis_settings().username() {
            builder = builder.set_client_to_redis_username(username);
        }
        if let Some(password) = node.redis_settings().password() {
            builder = builder.set_client_to_redis_password(password);
        }
        if let Some(username) = &auth.username {
            builder = builder.set_client_to_sentinel_username(username);
        }
        if let Some(password) = &auth.password {
            builder = builder.set_client_to_sentinel_password(password);
        }
        if let redis::ConnectionAddr::TcpTls { insecure, .. } = node.addr() {
            builder = builder.set_client_to_redis_tls_mode(if *insecure {
                TlsMode::Insecure
            } else {
                TlsMode::Secure
            });
            if let Some(certs) = certs {
                builder = builder
                    .set_client_to_sentinel_certificates(certs.clone())
                    .set_client_to_redis_certificates(certs);
            }
        }
        let sentinel = builder.build().map_err(url_error)?;
        let name = master;
        let master = SentinelMaster {
            sentinel: tokio::sync::Mutex::new(sentinel),
            current: std::sync::Mutex::new(None),
            config: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(IO_TIMEOUT))
                .set_response_timeout(Some(IO_TIMEOUT)),
        };
        master.connection().await.map_err(|e| {
            let mut cause = describe_redis_connect(
                &e,
                &format!("master {name:?} of Sentinels {}", sentinels.join(",")),
            );
            if is_auth_error(&e) && auth.password.is_none() {
                cause.push_str(
                    "; Sentinels that require a password of their own take it in the URL's query: ?sentinel_password=…[&sentinel_username=…]",
                );
            }
            Failed::Connect(cause)
        })?;
        Ok(Connection::Sentinel(Arc::new(master)))
    }

    /// Runs one operation on a clone of the shared connection, bounded by [`OPERATION_TIMEOUT`].
    async fn run<T, F, Fut>(&self, op: F) -> StoreResult<T>
    where
        F: FnOnce(OpConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let attempt = async {
            let conn = match &self.conn {
                Connection::Single(c) => OpConnection::Single(c.clone()),
                Connection::Cluster(c) => OpConnection::Cluster(c.clone()),
                Connection::Sentinel(master) => OpConnection::Sentinel(master.connection().await?),
            };
            op(conn).await
        };
        let forget = || {
            if let Connection::Sentinel(master) = &self.conn {
                master.forget();
            }
        };
        match tokio::time::timeout(OPERATION_TIMEOUT, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if master_may_have_moved(&e) {
                    forget();
                }
                Err(store_error(e))
            }
            Err(_) => {
                forget();
                Err(StoreError::Unavailable {
                    backend: BACKEND,
                    message: format!("no answer within {} ms", OPERATION_TIMEOUT.as_millis()),
                })
            }
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
