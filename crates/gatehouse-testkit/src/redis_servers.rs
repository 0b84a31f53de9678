//! Real Redis topologies for the short-lived store's cluster and Sentinel tests, started from
//! Debian's `redis-server`, `redis-cli` and `redis-sentinel` on free loopback ports in a temp
//! directory of their own, and killed when dropped:
//! - [`RedisCluster`]: 6 nodes, 3 masters with one replica each (`redis-cli --cluster create`).
//! - [`RedisSentinel`]: a master, one replica, and 3 Sentinels (quorum 2) watching them.
//!
//! Both are kept light for a small machine (no persistence, 1 s failure detection). Their data
//! nodes admit only the ACL user [`ACL_USER`] (the `default` user is off), so every test through
//! them also proves the store's URLs carry a user and password to each node. The Sentinels
//! admit only [`SENTINEL_USER`] unless started open ([`SentinelAuth::Open`]), so the store's
//! Sentinel URLs also prove the Sentinels' own credentials reach them. Starting one without the
//! binaries skips the test locally and fails it in CI ([`crate::skipped`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::{free_port, is_listening};

/// The Sentinel set-up's master name.
pub const SENTINEL_MASTER: &str = "mymaster";
/// The only user the data nodes admit, and its password (which needs percent-encoding in a URL:
/// the store must decode it).
pub const ACL_USER: &str = "gatehouse";
pub const ACL_PASSWORD: &str = "s3cr@t:pw";
const ACL_PASSWORD_IN_URL: &str = "s3cr%40t%3Apw";
/// The only user the Sentinels admit (unless open), and its password, another than the data
/// nodes' (which needs percent-encoding in a URL's query: `&`, `=` and `+`).
pub const SENTINEL_USER: &str = "gatehouse-sentinel";
pub const SENTINEL_PASSWORD: &str = "snt&l=p+w";
const SENTINEL_PASSWORD_IN_URL: &str = "snt%26l%3Dp%2Bw";

/// Whether a Sentinel set-up's Sentinels require credentials of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentinelAuth {
    /// Only [`SENTINEL_USER`] with [`SENTINEL_PASSWORD`] (the `default` user is off); the
    /// Sentinels authenticate to each other as that user too.
    Required,
    /// No credentials (the `default` user, without password).
    Open,
}

/// Whether `program` can be run (it is on the `PATH`).
fn available(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Whether every binary is there; `false` only locally (in CI a missing one panics, via
/// [`crate::skipped`], so CI never passes without these tests).
fn binaries_present(test: &str, programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs.iter().copied().filter(|p| !available(p)).collect();
    if missing.is_empty() {
        return true;
    }
    crate::skipped(
        test,
        &format!(
            "{} (Debian: apt-get install redis-server redis-sentinel)",
            missing.join(", ")
        ),
    );
    false
}

/// `redis-cli -p port args…` to a data node, as [`ACL_USER`]; its standard output, `None` when it
/// fails.
pub fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    redis_cli_tls(port, None, args)
}

/// [`redis_cli`] over TLS when `tls` is given (its CA verifies the node).
fn redis_cli_tls(port: u16, tls: Option<&ServerTls>, args: &[&str]) -> Option<String> {
    let mut auth = vec![
        "--user",
        ACL_USER,
        "--pass",
        ACL_PASSWORD,
        "--no-auth-warning",
    ];
    auth.extend_from_slice(args);
    sentinel_cli(port, tls, &auth)
}

/// `redis-cli -p port args…` without credentials (to an open Sentinel), over TLS when `tls` is
/// given.
fn sentinel_cli(port: u16, tls: Option<&ServerTls>, args: &[&str]) -> Option<String> {
    let mut cli = Command::new("redis-cli");
    if let Some(tls) = tls {
        cli.arg("--tls").arg("--cacert").arg(&tls.ca);
        if let Some(client) = &tls.client {
            cli.arg("--cert")
                .arg(&client.cert)
                .arg("--key")
                .arg(&client.key);
        }
    }
    let out = cli
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One server process, killed with the value.
struct Server {
    port: u16,
    child: Option<Child>,
}

impl Server {
    fn spawn(program: &str, args: &[String], port: u16) -> Self {
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program} on port {port}: {e}"));
        Self {
            port,
            child: Some(child),
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn server_args(dir: &Path, port: u16, extra: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        &dir.display().to_string(),
        "--logfile",
        &format!("{port}.log"),
        "--user",
        "default",
        "off",
        "--user",
        ACL_USER,
        "on",
        &format!(">{ACL_PASSWORD}"),
        "~*",
        "&*",
        "+@all",
        // Replicas authenticate to their master as the same user.
        "--masteruser",
        ACL_USER,
        "--masterauth",
        ACL_PASSWORD,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend_from_slice(extra);
    args
}

/// The options that make a server (or a Sentinel) on `port` speak only TLS, to clients and to
/// its master.
fn tls_args(tls: &ServerTls, port: u16) -> Vec<String> {
    [
        "--port",
        "0",
        "--tls-port",
        &port.to_string(),
        "--tls-replication",
        "yes",
        "--tls-auth-clients",
        if tls.client.is_some() { "yes" } else { "no" },
        "--tls-cert-file",
        &tls.cert.display().to_string(),
        "--tls-key-file",
        &tls.key.display().to_string(),
        "--tls-ca-cert-file",
        &tls.ca.display().to_string(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// Polls `ready` every 100 ms until it holds; panics naming `what` after `within`.
fn wait_until(what: &str, within: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "{what} within {} s",
            within.as_secs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_listening(port: u16) {
    wait_until(
        &format!("redis on 127.0.0.1:{port} did not listen"),
        Duration::from_secs(10),
        || is_listening(port),
    );
}

/// The certificate files of a TLS-only topology: the nodes serve `cert` (with `key`), clients
/// verify it with `ca`. With `client`, the servers ask clients for a certificate from `ca`
/// (`tls-auth-clients yes`), and the test kit's own `redis-cli` shows this one.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client: Option<ClientCert>,
}

/// A client certificate and its key (PEM files).
#[derive(Debug, Clone)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A 6-node Redis Cluster: 3 masters, each with one replica.
pub struct RedisCluster {
    nodes: Vec<Server>,
    tls: Option<ServerTls>,
    // Declared last: removed after the servers are gone.
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts the nodes, creates the cluster and waits until every node reports it healthy and
    /// every replica is in sync. `None` locally when the binaries are missing.
    pub async fn start(test: &str) -> Option<Self> {
        Self::start_with(test, None).await
    }

    /// [`RedisCluster::start`] with TLS only, between the nodes too (`tls-cluster`,
    /// `tls-replication`); its URL is `rediss+cluster://`.
    pub async fn start_with(test: &str, tls: Option<ServerTls>) -> Option<Self> {
        if !binaries_present(test, &["redis-server", "redis-cli"]) {
            return None;
        }
        tokio::task::spawn_blocking(move || Self::start_blocking(tls))
            .await
            .map(Some)
            .expect("starting the Redis Cluster")
    }

    fn start_blocking(tls: Option<ServerTls>) -> Self {
        let dir = crate::temp_dir();
        let mut nodes = Vec::new();
        for _ in 0..6 {
            let port = free_port();
            let bus = free_port();
            let mut extra: Vec<String> = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &format!("nodes-{port}.conf"),
                "--cluster-node-timeout",
                "1000",
                "--cluster-port",
                &bus.to_string(),
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
            if let Some(tls) = &tls {
                // A later `--port` overrides the plain one: TLS only.
                extra.extend(tls_args(tls, port));
                extra.extend(["--tls-cluster".to_owned(), "yes".to_owned()]);
            }
            nodes.push(Server::spawn(
                "redis-server",
                &server_args(dir.path(), port, &extra),
                port,
            ));
        }
        for node in &nodes {
            wait_listening(node.port);
        }
        let mut create = Command::new("redis-cli");
        if let Some(tls) = &tls {
            create.arg("--tls").arg("--cacert").arg(&tls.ca);
        }
        create.args([
            "--user",
            ACL_USER,
            "--pass",
            ACL_PASSWORD,
            "--no-auth-warning",
        ]);
        create.args(["--cluster", "create"]);
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let out = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("running redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = Self {
            nodes,
            tls,
            _dir: dir,
        };
        cluster.wait_healthy(Duration::from_secs(30));
        cluster
    }

    /// Waits until every live node says `cluster_state:ok`, knows all slots, and every live
    /// replica's link to its master is up.
    pub fn wait_healthy(&self, within: Duration) {
        wait_until("the Redis Cluster did not become healthy", within, || {
            self.live_ports().iter().all(|&port| {
                let ok = self.cli(port, &["cluster", "info"]).is_some_and(|info| {
                    info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
                });
                let synced = self
                    .cli(port, &["info", "replication"])
                    .is_some_and(|info| {
                        info.contains("role:master") || info.contains("master_link_status:up")
                    });
                ok && synced
            })
        });
    }

    fn cli(&self, port: u16, args: &[&str]) -> Option<String> {
        redis_cli_tls(port, self.tls.as_ref(), args)
    }

    fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.port)
            .collect()
    }

    /// `redis+cluster://gatehouse:…@127.0.0.1:p1,…` with every node as a seed.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let scheme = if self.tls.is_some() {
            "rediss+cluster"
        } else {
            "redis+cluster"
        };
        format!(
            "{scheme}://{ACL_USER}:{ACL_PASSWORD_IN_URL}@{}",
            hosts.join(",")
        )
    }

    /// The port of the master that serves `key`'s slot now.
    pub fn master_of(&self, key: &str) -> u16 {
        let port = self.live_ports()[0];
        let slot: u16 = self
            .cli(port, &["cluster", "keyslot", key])
            .and_then(|s| s.trim().parse().ok())
            .expect("CLUSTER KEYSLOT");
        let nodes = self
            .cli(port, &["cluster", "nodes"])
            .expect("CLUSTER NODES");
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| match range.split_once('-') {
                Some((a, b)) => {
                    a.parse::<u16>().is_ok_and(|a| a <= slot)
                        && b.parse::<u16>().is_ok_and(|b| slot <= b)
                }
                None => range.parse::<u16>() == Ok(slot),
            });
            if serves {
                // `127.0.0.1:port@bus`
                let addr = fields[1].split('@').next().unwrap_or_default();
                if let Some(port) = addr.rsplit(':').next().and_then(|p| p.parse().ok()) {
                    return port;
                }
            }
        }
        panic!("no master serves slot {slot} of {key:?}:\n{nodes}");
    }

    /// Kills the node on `port` (`SIGKILL`: no goodbye to the cluster).
    pub fn kill(&mut self, port: u16) {
        if let Some(node) = self.nodes.iter_mut().find(|n| n.port == port) {
            node.kill();
        }
    }
}

/// A master with one replica, watched by 3 Sentinels (quorum 2).
pub struct RedisSentinel {
    master: Server,
    replica: Server,
    sentinels: Vec<Server>,
    tls: Option<ServerTls>,
    auth: SentinelAuth,
    _dir: tempfile::TempDir,
}

impl RedisSentinel {
    /// Starts the servers, with Sentinels that require [`SENTINEL_USER`], and waits until every
    /// Sentinel knows the master, its replica and the other Sentinels. `None` locally when the
    /// binaries are missing.
    pub async fn start(test: &str) -> Option<Self> {
        Self::start_with(test, None, SentinelAuth::Required).await
    }

    /// [`RedisSentinel::start`] with TLS only when `tls` is given (Sentinels and replication
    /// included; its URL is then `rediss+sentinel://`), and Sentinels open or not.
    pub async fn start_with(
        test: &str,
        tls: Option<ServerTls>,
        auth: SentinelAuth,
    ) -> Option<Self> {
        if !binaries_present(test, &["redis-server", "redis-cli", "redis-sentinel"]) {
            return None;
        }
        tokio::task::spawn_blocking(move || Self::start_blocking(tls, auth))
            .await
            .map(Some)
            .expect("starting the Sentinel set-up")
    }

    fn start_blocking(tls: Option<ServerTls>, auth: SentinelAuth) -> Self {
        let dir = crate::temp_dir();
        let tls_of = |port: u16| tls.as_ref().map(|t| tls_args(t, port)).unwrap_or_default();
        let master_port = free_port();
        let master = Server::spawn(
            "redis-server",
            &server_args(dir.path(), master_port, &tls_of(master_port)),
            master_port,
        );
        wait_listening(master_port);
        let replica_port = free_port();
        let replica = Server::spawn(
            "redis-server",
            &server_args(
                dir.path(),
                replica_port,
                &[
                    vec![
                        "--replicaof".to_owned(),
                        "127.0.0.1".to_owned(),
                        master_port.to_string(),
                    ],
                    tls_of(replica_port),
                ]
                .concat(),
            ),
            replica_port,
        );
        wait_listening(replica_port);
        let mut sentinels = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            // Sentinel rewrites its configuration file, so each gets one of its own.
            let conf = dir.path().join(format!("sentinel-{port}.conf"));
            let tls_conf = match &tls {
                Some(t) => format!(
                    "port 0\ntls-port {port}\ntls-replication yes\ntls-auth-clients {}\n\
                     tls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\n",
                    if t.client.is_some() { "yes" } else { "no" },
                    t.cert.display(),
                    t.key.display(),
                    t.ca.display()
                ),
                None => String::new(),
            };
            let auth_conf = match auth {
                SentinelAuth::Required => format!(
                    "user default off\n\
                     user {SENTINEL_USER} on >{SENTINEL_PASSWORD} ~* &* +@all\n\
                     sentinel sentinel-user {SENTINEL_USER}\n\
                     sentinel sentinel-pass \"{SENTINEL_PASSWORD}\"\n"
                ),
                SentinelAuth::Open => String::new(),
            };
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile sentinel-{port}.log\n\
                     sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {master_port} 2\n\
                     sentinel auth-user {SENTINEL_MASTER} {ACL_USER}\n\
                     sentinel auth-pass {SENTINEL_MASTER} \"{ACL_PASSWORD}\"\n\
                     sentinel down-after-milliseconds {SENTINEL_MASTER} 1000\n\
                     sentinel failover-timeout {SENTINEL_MASTER} 3000\n",
                    dir = dir.path().display()
                ) + &auth_conf
                    + &tls_conf, // after `port`: its `port 0` wins
            )
            .expect("writing a Sentinel configuration");
            sentinels.push(Server::spawn(
                "redis-sentinel",
                &[conf.display().to_string()],
                port,
            ));
        }
        let setup = Self {
            master,
            replica,
            sentinels,
            tls,
            auth,
            _dir: dir,
        };
        for sentinel in &setup.sentinels {
            wait_listening(sentinel.port);
        }
        setup.wait_healthy(Duration::from_secs(30));
        setup
    }

    /// Waits until every live Sentinel sees a master with a replica in sync and 2 other
    /// Sentinels.
    pub fn wait_healthy(&self, within: Duration) {
        wait_until("the Sentinel set-up did not become healthy", within, || {
            self.sentinels.iter().all(|s| {
                let master = self
                    .sentinel_cli(s.port, &["sentinel", "master", SENTINEL_MASTER])
                    .unwrap_or_default();
                let field = |name: &str| {
                    let lines: Vec<&str> = master.lines().collect();
                    lines
                        .iter()
                        .position(|l| *l == name)
                        .and_then(|i| lines.get(i + 1).copied())
                        .unwrap_or_default()
                        .to_owned()
                };
                field("flags") == "master"
                    && field("num-slaves") == "1"
                    && field("num-other-sentinels") == "2"
            }) && [self.master.port, self.replica.port].iter().any(|&p| {
                redis_cli_tls(p, self.tls.as_ref(), &["info", "replication"])
                    .is_some_and(|i| i.contains("master_link_status:up"))
            })
        });
    }

    /// `redis-cli` to the Sentinel on `port`, with the Sentinels' credentials if they need them.
    fn sentinel_cli(&self, port: u16, args: &[&str]) -> Option<String> {
        match self.auth {
            SentinelAuth::Open => sentinel_cli(port, self.tls.as_ref(), args),
            SentinelAuth::Required => {
                let mut auth = vec![
                    "--user",
                    SENTINEL_USER,
                    "--pass",
                    SENTINEL_PASSWORD,
                    "--no-auth-warning",
                ];
                auth.extend_from_slice(args);
                sentinel_cli(port, self.tls.as_ref(), &auth)
            }
        }
    }

    /// `redis+sentinel://gatehouse:…@127.0.0.1:s1,…/mymaster`, and
    /// `?sentinel_username=…&sentinel_password=…` when the Sentinels require them.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        let scheme = if self.tls.is_some() {
            "rediss+sentinel"
        } else {
            "redis+sentinel"
        };
        let query = match self.auth {
            SentinelAuth::Required => format!(
                "?sentinel_username={SENTINEL_USER}&sentinel_password={SENTINEL_PASSWORD_IN_URL}"
            ),
            SentinelAuth::Open => String::new(),
        };
        format!(
            "{scheme}://{ACL_USER}:{ACL_PASSWORD_IN_URL}@{}/{SENTINEL_MASTER}{query}",
            hosts.join(",")
        )
    }

    /// The port of the master the Sentinels name now.
    pub fn master_port(&self) -> u16 {
        let answer = self
            .sentinel_cli(
                self.sentinels[0].port,
                &["sentinel", "get-master-addr-by-name", SENTINEL_MASTER],
            )
            .expect("SENTINEL get-master-addr-by-name");
        answer
            .lines()
            .nth(1)
            .and_then(|p| p.trim().parse().ok())
            .expect("a master port")
    }

    /// Kills the master (`SIGKILL`), leaving the Sentinels to promote the replica.
    pub fn kill_master(&mut self) {
        let port = self.master_port();
        for server in [&mut self.master, &mut self.replica] {
            if server.port == port {
                server.kill();
            }
        }
    }
}
