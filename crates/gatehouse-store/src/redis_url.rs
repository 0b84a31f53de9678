//! The short-lived store's Redis URLs: one server, a Redis Cluster, or a master found through
//! Sentinel. Each has a TLS twin (`rediss…`), and each may carry an ACL user and password.
//!
//! - `redis://[user:password@]host:port[/db]`: one server (the redis crate's own syntax).
//! - `redis+cluster://[user:password@]host1:port,host2:port,…`: seed nodes of a cluster; the
//!   client reads the slot map from any of them and follows `MOVED`/`ASK` and failovers.
//! - `redis+sentinel://[user:password@]host1:port,host2:port,…/master-name[/db]`: the Sentinels
//!   of one master; the client asks them where the master is, and asks again after a failover.
//!   The user and password are the master's (and its replicas'); the Sentinels themselves are
//!   reached without credentials.
//!
//! The multi-host forms are split here into the single-node URLs the redis crate parses, so the
//! credentials and the TLS mode are read by the crate exactly as for `redis://`.

/// Where the short-lived store's data lives, as parsed from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RedisTarget {
    /// One server: the URL as given (`redis://` or `rediss://`).
    Single(String),
    /// Seed nodes of a cluster, each a single-node URL carrying the credentials.
    Cluster { nodes: Vec<String> },
    /// The Sentinels (single-node URLs without credentials), the master's name, and a
    /// single-node URL with the master's credentials and database (its host is a placeholder).
    Sentinel {
        sentinels: Vec<String>,
        master: String,
        node: String,
    },
}

/// The schemes [`RedisTarget::parse`] accepts, for messages.
pub(crate) const SCHEMES: &str = "redis://, rediss://, redis+cluster://, rediss+cluster://, redis+sentinel:// or rediss+sentinel://";

impl RedisTarget {
    /// Whether `url` names a Redis store of any of the three kinds.
    pub(crate) fn is_redis_url(url: &str) -> bool {
        ["redis://", "rediss://", "redis+", "rediss+"]
            .iter()
            .any(|prefix| url.starts_with(prefix))
    }

    /// Splits `url` into what the redis crate's clients take. Errors name what is wrong without
    /// repeating the URL (the caller adds the redacted URL).
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
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
            None => (String::new(), authority),
        };
        let hosts: Vec<&str> = hosts.split(',').map(str::trim).collect();
        if hosts.iter().any(|h| h.is_empty()) {
            return Err("a host is missing (hosts are separated by commas)".to_owned());
        }
        match topology {
            None => Ok(Self::Single(url.to_owned())),
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
                Ok(Self::Cluster { nodes })
            }
            Some("sentinel") => {
                let mut segments = path.trim_start_matches('/').split('/');
                let master = segments.next().unwrap_or_default();
                if master.is_empty() || master.contains(['?', '#']) {
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
                Ok(Self::Sentinel {
                    sentinels,
                    master: master.to_owned(),
                    node: format!("{base}://{userinfo}localhost/{db}"),
                })
            }
            Some(other) => Err(format!(
                "unknown Redis topology {other:?}: expected {SCHEMES}"
            )),
        }
    }

    /// Who should have answered a connection attempt, for messages.
    pub(crate) fn servers(&self) -> &'static str {
        match self {
            Self::Single(_) => "server",
            Self::Cluster { .. } => "cluster's nodes",
            Self::Sentinel { .. } => "Sentinels or the master they name",
        }
    }
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
mod tests {
    use super::*;

    #[test]
    fn single_server_urls_pass_through() {
        for url in [
            "redis://127.0.0.1:6379",
            "rediss://app:pw@redis.internal:6380/2",
        ] {
            assert_eq!(RedisTarget::parse(url), Ok(RedisTarget::Single(url.into())));
        }
    }

    #[test]
    fn cluster_urls_become_seed_nodes_with_the_credentials() {
        assert_eq!(
            RedisTarget::parse("rediss+cluster://app:p%40ss@10.0.0.1:7000,10.0.0.2:7000/"),
            Ok(RedisTarget::Cluster {
                nodes: vec![
                    "rediss://app:p%40ss@10.0.0.1:7000".into(),
                    "rediss://app:p%40ss@10.0.0.2:7000".into(),
                ]
            })
        );
        assert!(RedisTarget::parse("redis+cluster://h:1,h:2/3").is_err());
        assert!(RedisTarget::parse("redis+cluster://h:1,,h:2").is_err());
    }

    #[test]
    fn sentinel_urls_name_the_master_and_its_database() {
        assert_eq!(
            RedisTarget::parse("redis+sentinel://app:pw@s1:26379,s2:26379/mymaster/4"),
            Ok(RedisTarget::Sentinel {
                sentinels: vec!["redis://s1:26379".into(), "redis://s2:26379".into()],
                master: "mymaster".into(),
                node: "redis://app:pw@localhost/4".into(),
            })
        );
        assert_eq!(
            RedisTarget::parse("rediss+sentinel://s1:26379/mymaster"),
            Ok(RedisTarget::Sentinel {
                sentinels: vec!["rediss://s1:26379".into()],
                master: "mymaster".into(),
                node: "rediss://localhost/0".into(),
            })
        );
        for bad in [
            "redis+sentinel://s1:26379",
            "redis+sentinel://s1:26379/",
            "redis+sentinel://s1:26379/m/x",
            "redis+sentinel://s1:26379/m/1/2",
        ] {
            assert!(RedisTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_schemes_and_topologies_are_refused() {
        for bad in ["memcached://h:1", "redis+shard://h:1", "rediss+x://h:1"] {
            assert!(RedisTarget::parse(bad).is_err(), "{bad}");
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
}
