//! The short-lived store's Redis URLs: one server, a Redis Cluster, or a master found through
//! Sentinel. Each has a TLS twin (`rediss…`), and each may carry an ACL user and password.
//!
//! - `redis://[user:password@]host:port[/db]`: one server (the redis crate's own syntax).
//! - `redis+cluster://[user:password@]host1:port,host2:port,…`: seed nodes of a cluster; the
//!   client reads the slot map from any of them and follows `MOVED`/`ASK` and failovers.
//! - `redis+sentinel://[user:password@]host1:port,host2:port,…/master-name[/db]`: the Sentinels
//!   of one master; the client asks them where the master is, and asks again after a failover.
//!   The user and password are the master's (and its replicas'). Sentinels that require a
//!   password of their own get it from the query: `?sentinel_username=…&sentinel_password=…`
//!   (either may be left out: `sentinel_password` alone is Sentinel's `requirepass`).
//!
//! Every TLS form takes, in its query, the certificate files of `redis-cli`'s options of the same
//! names: `cacert` (the only CAs trusted for the servers' certificates, instead of the system's
//! roots and `SSL_CERT_FILE`), and `cert` with `key` (a client certificate, for servers with
//! `tls-auth-clients yes`). They apply to every server the URL leads to: each cluster node, each
//! Sentinel, the master and its replicas. Query values are percent-decoded (`+` stays `+`).
//!
//! The multi-host forms are split here into the single-node URLs the redis crate parses, so the
//! credentials and the TLS mode are read by the crate exactly as for `redis://`.

use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;
use redis::{ClientTlsConfig, TlsCertificates};

/// Where the short-lived store's data lives, as parsed from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RedisTarget {
    /// One server: the URL as given (`redis://` or `rediss://`), less this module's own query
    /// parameters.
    Single(String),
    /// Seed nodes of a cluster, each a single-node URL carrying the credentials.
    Cluster { nodes: Vec<String> },
    /// The Sentinels (single-node URLs without credentials), the credentials they require, the
    /// master's name, and a single-node URL with the master's credentials and database (its
    /// host is a placeholder).
    Sentinel {
        sentinels: Vec<String>,
        auth: SentinelAuth,
        master: String,
        node: String,
    },
}

/// What the Sentinels themselves require (`sentinel_username`, `sentinel_password`); both
/// `None` when they are open.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct SentinelAuth {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
}

impl std::fmt::Debug for SentinelAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelAuth")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The certificate files a TLS URL names (`cacert`, `cert`, `key`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    pub(crate) cacert: Option<PathBuf>,
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
}

impl TlsFiles {
    fn is_empty(&self) -> bool {
        self.cacert.is_none() && self.cert.is_none() && self.key.is_none()
    }

    /// Reads the files: `None` when the URL names none (the system's roots, no client
    /// certificate). Errors name the file and what is wrong with it.
    pub(crate) fn certificates(&self) -> Result<Option<TlsCertificates>, String> {
        if self.is_empty() {
            return Ok(None);
        }
        let root_cert = match &self.cacert {
            Some(path) => {
                let pem = read("CA certificate (cacert)", path)?;
                if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                    return Err(format!(
                        "the CA certificate file (cacert) {} holds no PEM certificate",
                        path.display()
                    ));
                }
                Some(pem)
            }
            None => None,
        };
        let client_tls = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some(ClientTlsConfig {
                client_cert: read("client certificate (cert)", cert)?,
                client_key: read("client key (key)", key)?,
            }),
            _ => None,
        };
        Ok(Some(TlsCertificates {
            client_tls,
            root_cert,
        }))
    }
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))
}

/// A Redis URL taken apart: where the data lives, and the TLS files it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedisUrl {
    pub(crate) target: RedisTarget,
    pub(crate) tls: TlsFiles,
}

/// The schemes [`RedisUrl::parse`] accepts, for messages.
pub(crate) const SCHEMES: &str = "redis://, rediss://, redis+cluster://, rediss+cluster://, redis+sentinel:// or rediss+sentinel://";

/// The query parameters this module reads (any other is left to the redis crate on a
/// single-server URL, and refused on the others).
const OWN_PARAMETERS: [&str; 5] = [
    "cacert",
    "cert",
    "key",
    "sentinel_username",
    "sentinel_password",
];

/// Whether `url` names a Redis store of any of the three kinds.
pub(crate) fn is_redis_url(url: &str) -> bool {
    ["redis://", "rediss://", "redis+", "rediss+"]
        .iter()
        .any(|prefix| url.starts_with(prefix))
}

/// A query split into this module's parameters (decoded) and the others (raw `name=value`).
#[derive(Default)]
struct Query {
    own: Vec<(&'static str, String)>,
    others: Vec<String>,
}

impl Query {
    fn parse(query: &str) -> Result<Self, String> {
        let mut parsed = Self::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded_name = decode(name, "a query parameter's name")?;
            let Some(&own) = OWN_PARAMETERS
                .iter()
                .find(|own| **own == decoded_name.as_str())
            else {
                parsed.others.push(pair.to_owned());
                continue;
            };
            if parsed.own.iter().any(|(seen, _)| *seen == own) {
                return Err(format!("the query parameter {own} is given twice"));
            }
            let value = decode(value, own)?;
            if value.is_empty() {
                return Err(format!("the query parameter {own} is empty"));
            }
            parsed.own.push((own, value));
        }
        Ok(parsed)
    }

    fn take(&mut self, name: &str) -> Option<String> {
        let at = self.own.iter().position(|(own, _)| *own == name)?;
        Some(self.own.remove(at).1)
    }
}

/// Percent-decodes `raw` (no `+` for space: a `+` in a password stays one).
fn decode(raw: &str, what: &str) -> Result<String, String> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("{what} is not UTF-8 once percent-decoded"))
}

impl RedisUrl {
    /// Splits `url` into what the redis crate's clients take. Errors name what is wrong without
    /// repeating the URL or a password (the caller adds the redacted URL).
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("expected {SCHEMES}"))?;
        let (base, topology) = match scheme.split_once('+') {
            Some((base, topology)) => (base, Some(topology)),
            None => (scheme, None),
        };
        if base != "redis" && base != "rediss" {
            return Err(format!("unknown scheme {scheme:?}: expected {SCHEMES}"));
        }
        let (rest, fragment) = match rest.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment)),
            None => (rest, None),
        };
        let (body, query) = match rest.split_once('?') {
            Some((body, query)) => (body, Some(query)),
            None => (rest, None),
        };
        let mut params = Query::parse(query.unwrap_or_default())?;
        let any_own = !params.own.is_empty();
        let tls = TlsFiles {
            cacert: params.take("cacert").map(PathBuf::from),
            cert: params.take("cert").map(PathBuf::from),
            key: params.take("key").map(PathBuf::from),
        };
        if !tls.is_empty() && base != "rediss" {
            return Err(format!(
                "cacert, cert and key are for TLS: the scheme is {scheme}, not rediss{}",
                topology.map(|t| format!("+{t}")).unwrap_or_default()
            ));
        }
        if tls.cert.is_some() != tls.key.is_some() {
            return Err("a client certificate needs both cert and key".to_owned());
        }
        let auth = SentinelAuth {
            username: params.take("sentinel_username"),
            password: params.take("sentinel_password"),
        };
        if auth != SentinelAuth::default() && topology != Some("sentinel") {
            return Err(
                "sentinel_username and sentinel_password are for redis+sentinel:// URLs".to_owned(),
            );
        }
        if auth.username.is_some() && auth.password.is_none() {
            return Err("sentinel_username needs a sentinel_password".to_owned());
        }
        let (authority, path) = match body.find('/') {
            Some(at) => body.split_at(at),
            None => (body, ""),
        };
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
            None => (String::new(), authority),
        };
        let hosts: Vec<&str> = hosts.split(',').map(str::trim).collect();
        if hosts.iter().any(|h| h.is_empty()) {
            return Err("a host is missing (hosts are separated by commas)".to_owned());
        }
        if let (Some(_), Some(fragment)) = (topology, fragment) {
            return Err(format!("a {scheme} URL has no fragment, found #{fragment}"));
        }
        if let (Some(topology), Some(other)) = (topology, params.others.first()) {
            let name = other.split('=').next().unwrap_or_default();
            return Err(format!(
                "unknown query parameter {name:?}: expected {}",
                if topology == "sentinel" {
                    "cacert, cert, key, sentinel_username or sentinel_password"
                } else {
                    "cacert, cert or key"
                }
            ));
        }
        let target = match topology {
            None if !any_own => RedisTarget::Single(url.to_owned()),
            None => {
                // The URL less this module's parameters, for the redis crate.
                let mut single = format!("{scheme}://{body}");
                if !params.others.is_empty() {
                    single.push('?');
                    single.push_str(&params.others.join("&"));
                }
                if let Some(fragment) = fragment {
                    single.push('#');
                    single.push_str(fragment);
                }
                RedisTarget::Single(single)
            }
            Some("cluster") => {
                if !matches!(path, "" | "/" | "/0") {
                    return Err(format!(
                        "a cluster URL has no database or master name, found {path:?}"
                    ));
                }
                let nodes = hosts
                    .iter()
                    .map(|host| format!("{base}://{userinfo}{host}"))
                    .collect();
                RedisTarget::Cluster { nodes }
            }
            Some("sentinel") => {
                let mut segments = path.trim_start_matches('/').split('/');
                let master = segments.next().unwrap_or_default();
                if master.is_empty() {
                    return Err(
                        "the master's name is missing: redis+sentinel://host:port,…/master-name[/db]"
                            .to_owned(),
                    );
                }
                let db = segments.next().unwrap_or("0");
                if segments.next().is_some() || db.parse::<u32>().is_err() {
                    return Err(format!(
                        "expected /master-name[/db] after the Sentinels, found {path:?}"
                    ));
                }
                let sentinels = hosts
                    .iter()
                    .map(|host| format!("{base}://{host}"))
                    .collect();
                RedisTarget::Sentinel {
                    sentinels,
                    auth,
                    master: master.to_owned(),
                    node: format!("{base}://{userinfo}localhost/{db}"),
                }
            }
            Some(other) => {
                return Err(format!(
                    "unknown Redis topology {other:?}: expected {SCHEMES}"
                ));
            }
        };
        Ok(Self { target, tls })
    }
}

impl RedisTarget {
    /// Who should have answered a connection attempt, for messages.
    pub(crate) fn servers(&self) -> &'static str {
        match self {
            Self::Single(_) => "server",
            Self::Cluster { .. } => "cluster's nodes",
            Self::Sentinel { .. } => "Sentinels or the master they name",
        }
    }
}

/// `url` with the value of every query parameter whose name mentions a password
/// (`sentinel_password`, Postgres's `password`) replaced by `***`.
pub(crate) fn redact_query(url: &str) -> String {
    let Some((head, rest)) = url.split_once('?') else {
        return url.to_owned();
    };
    let (query, fragment) = match rest.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (rest, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                format!("{name}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    let mut redacted = format!("{head}?{}", pairs.join("&"));
    if let Some(fragment) = fragment {
        redacted.push('#');
        redacted.push_str(fragment);
    }
    redacted
}

/// `url` with the password of its user info replaced by `***`, for URLs that [`url::Url`] cannot
/// parse (several hosts).
pub(crate) fn redact_multi_host(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some((userinfo, hosts)) = authority.rsplit_once('@') else {
        return Some(url.to_owned());
    };
    let user = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => userinfo.to_owned(),
    };
    Some(format!("{scheme}://{user}@{hosts}{tail}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn target(url: &str) -> Result<RedisTarget, String> {
        RedisUrl::parse(url).map(|u| u.target)
    }

    #[test]
    fn single_server_urls_pass_through() {
        for url in [
            "redis://127.0.0.1:6379",
            "rediss://app:pw@redis.internal:6380/2",
            "redis://h:1/?protocol=resp3",
            "rediss://h:1#insecure",
        ] {
            assert_eq!(target(url), Ok(RedisTarget::Single(url.into())));
        }
    }

    #[test]
    fn cluster_urls_become_seed_nodes_with_the_credentials() {
        assert_eq!(
            target("rediss+cluster://app:p%40ss@10.0.0.1:7000,10.0.0.2:7000/"),
            Ok(RedisTarget::Cluster {
                nodes: vec![
                    "rediss://app:p%40ss@10.0.0.1:7000".into(),
                    "rediss://app:p%40ss@10.0.0.2:7000".into(),
                ]
            })
        );
        assert!(target("redis+cluster://h:1,h:2/3").is_err());
        assert!(target("redis+cluster://h:1,,h:2").is_err());
        assert!(target("redis+cluster://h:1,h:2?protocol=resp3").is_err());
        assert!(target("rediss+cluster://h:1,h:2#insecure").is_err());
    }

    #[test]
    fn sentinel_urls_name_the_master_and_its_database() {
        assert_eq!(
            target("redis+sentinel://app:pw@s1:26379,s2:26379/mymaster/4"),
            Ok(RedisTarget::Sentinel {
                sentinels: vec!["redis://s1:26379".into(), "redis://s2:26379".into()],
                auth: SentinelAuth::default(),
                master: "mymaster".into(),
                node: "redis://app:pw@localhost/4".into(),
            })
        );
        assert_eq!(
            target("rediss+sentinel://s1:26379/mymaster"),
            Ok(RedisTarget::Sentinel {
                sentinels: vec!["rediss://s1:26379".into()],
                auth: SentinelAuth::default(),
                master: "mymaster".into(),
                node: "rediss://localhost/0".into(),
            })
        );
        for bad in [
            "redis+sentinel://s1:26379",
            "redis+sentinel://s1:26379/",
            "redis+sentinel://s1:26379/m/x",
            "redis+sentinel://s1:26379/m/1/2",
            "redis+sentinel://s1:26379/?sentinel_password=x",
        ] {
            assert!(target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sentinel_credentials_come_from_the_query_percent_decoded() {
        assert_eq!(
            target(
                "redis+sentinel://app:pw@s1:1,s2:2/mymaster/1?sentinel_username=watch%40er&sentinel_password=a%26b%3Dc+d"
            ),
            Ok(RedisTarget::Sentinel {
                sentinels: vec!["redis://s1:1".into(), "redis://s2:2".into()],
                auth: SentinelAuth {
                    username: Some("watch@er".into()),
                    password: Some("a&b=c+d".into()),
                },
                master: "mymaster".into(),
                node: "redis://app:pw@localhost/1".into(),
            })
        );
        // requirepass on the Sentinels: a password alone.
        let Ok(RedisTarget::Sentinel { auth, .. }) =
            target("redis+sentinel://s1:1/m?sentinel_password=pw")
        else {
            panic!("a Sentinel URL with a password alone");
        };
        assert_eq!(auth.username, None);
        assert_eq!(auth.password.as_deref(), Some("pw"));
        for bad in [
            "redis+sentinel://s1:1/m?sentinel_username=u",
            "redis+sentinel://s1:1/m?sentinel_password=",
            "redis+sentinel://s1:1/m?sentinel_password=a&sentinel_password=b",
            "redis+sentinel://s1:1/m?sentinel_pasword=typo",
            "redis+cluster://h:1?sentinel_password=x",
            "redis://h:1?sentinel_password=x",
        ] {
            assert!(target(bad).is_err(), "{bad}");
        }
        let err = target("redis+sentinel://s1:1/m?sentinel_pasword=hunter2").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn tls_files_come_from_the_query_and_only_for_tls() {
        let parsed = RedisUrl::parse(
            "rediss://app:pw@h:6380/2?cacert=%2Fetc%2Fredis%20ca.pem&protocol=resp3",
        )
        .unwrap();
        assert_eq!(
            parsed.target,
            RedisTarget::Single("rediss://app:pw@h:6380/2?protocol=resp3".into())
        );
        assert_eq!(parsed.tls.cacert, Some(PathBuf::from("/etc/redis ca.pem")));
        let parsed = RedisUrl::parse(
            "rediss+sentinel://s1:1,s2:2/m?cacert=/ca.pem&cert=/c.pem&key=/k.pem&sentinel_password=x",
        )
        .unwrap();
        assert_eq!(
            parsed.tls,
            TlsFiles {
                cacert: Some("/ca.pem".into()),
                cert: Some("/c.pem".into()),
                key: Some("/k.pem".into()),
            }
        );
        let parsed = RedisUrl::parse("rediss+cluster://h:1,h:2/?cacert=/ca.pem").unwrap();
        assert_eq!(
            parsed.target,
            RedisTarget::Cluster {
                nodes: vec!["rediss://h:1".into(), "rediss://h:2".into()]
            }
        );
        for bad in [
            "redis://h:1?cacert=/ca.pem",
            "redis+cluster://h:1?cacert=/ca.pem",
            "rediss://h:1?cert=/c.pem",
            "rediss://h:1?key=/k.pem",
            "rediss://h:1?cacert=",
        ] {
            assert!(RedisUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unreadable_or_empty_tls_files_are_named() {
        let missing = TlsFiles {
            cacert: Some("/nonexistent/redis-ca.pem".into()),
            ..TlsFiles::default()
        };
        let err = missing.certificates().unwrap_err();
        assert!(err.contains("/nonexistent/redis-ca.pem"), "{err}");
        let dir = std::env::temp_dir().join(format!("gh-redis-url-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = TlsFiles {
            cacert: Some(empty.clone()),
            ..TlsFiles::default()
        }
        .certificates()
        .unwrap_err();
        assert!(err.contains("no PEM certificate"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            TlsFiles::default().certificates().map(|c| c.is_none()),
            Ok(true)
        );
    }

    #[test]
    fn unknown_schemes_and_topologies_are_refused() {
        for bad in ["memcached://h:1", "redis+shard://h:1", "rediss+x://h:1"] {
            assert!(target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn multi_host_urls_are_redacted() {
        assert_eq!(
            redact_multi_host("redis+sentinel://app:s3cret@s1:1,s2:2/m").as_deref(),
            Some("redis+sentinel://app:***@s1:1,s2:2/m")
        );
        assert_eq!(
            redact_multi_host("redis+cluster://h:1,h:2").as_deref(),
            Some("redis+cluster://h:1,h:2")
        );
    }

    #[test]
    fn query_passwords_are_redacted() {
        assert_eq!(
            redact_query(
                "redis+sentinel://s1:1/m?sentinel_username=u&sentinel_password=s3cret&cacert=/ca.pem"
            ),
            "redis+sentinel://s1:1/m?sentinel_username=u&sentinel_password=***&cacert=/ca.pem"
        );
        assert_eq!(redact_query("redis://h:1"), "redis://h:1");
    }
}
