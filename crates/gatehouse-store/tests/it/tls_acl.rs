//! `rediss://` with an ACL user: a Redis of the test's own that speaks only TLS, with a
//! certificate from a CA of the test's own (trusted through `SSL_CERT_FILE`, as an operator
//! trusts a private CA), and whose `default` user is off. The store connects with the right
//! user and password, and refuses a wrong password and an untrusted certificate. The same for a
//! cluster and a Sentinel set-up that speak only TLS (`rediss+cluster://`, `rediss+sentinel://`).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gatehouse_core::store::ShortLivedStore as _;
use gatehouse_store::RedisStore;
use gatehouse_testkit::http::{free_port, is_listening};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes ca.pem, server.pem and server.key (for `localhost` and `127.0.0.1`) into `dir`.
fn certificates(dir: &std::path::Path) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    // Distinct names: a leaf whose issuer equals its subject looks self-signed to OpenSSL.
    ca.distinguished_name
        .push(DnType::CommonName, "Gatehouse test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, &ca_key);
    let server_key = KeyPair::generate().unwrap();
    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    server
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server = server.signed_by(&server_key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
}

/// A plain `#[test]`: `SSL_CERT_FILE` is set before any thread (and any TLS client) exists.
#[test]
fn rediss_with_an_acl_user_connects_and_wrong_credentials_or_certificates_are_refused() {
    if !Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        gatehouse_testkit::skipped("the rediss:// test", "redis-server");
        return;
    }
    let dir = gatehouse_testkit::temp_dir();
    certificates(dir.path());
    let port = free_port();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let _server = Killed(
        Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--tls-cert-file", &path("server.pem")])
            .args(["--tls-key-file", &path("server.key")])
            .args(["--tls-ca-cert-file", &path("ca.pem")])
            .args(["--tls-auth-clients", "no"])
            .args(["--user", "default", "off"])
            .args(["--user", "app", "on", ">s3cret", "~*", "&*", "+@all"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    for _ in 0..100 {
        if is_listening(port) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Not yet trusted: the system's roots do not know the test's CA.
    let untrusted = runtime
        .block_on(RedisStore::connect(&format!(
            "rediss://app:s3cret@localhost:{port}"
        )))
        .expect_err("an untrusted certificate is refused");
    assert!(!untrusted.to_string().contains("s3cret"), "{untrusted}");

    // SAFETY: a single-threaded test process (nextest) or, under `cargo test`, no other test of
    // this binary reads SSL_CERT_FILE.
    unsafe { std::env::set_var("SSL_CERT_FILE", path("ca.pem")) };
    runtime.block_on(async {
        let store = RedisStore::connect(&format!("rediss://app:s3cret@localhost:{port}"))
            .await
            .unwrap();
        store
            .put("gh-test:tls", b"over tls", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            store.take("gh-test:tls").await.unwrap().as_deref(),
            Some(&b"over tls"[..])
        );

        let wrong = RedisStore::connect(&format!("rediss://app:wrong@localhost:{port}"))
            .await
            .expect_err("a wrong password is refused");
        assert!(!wrong.to_string().contains("wrong@"), "{wrong}");
        // The default user is off: without credentials no command runs (the connection itself
        // may open; the first command is refused with NOAUTH).
        if let Ok(anonymous) = RedisStore::connect(&format!("rediss://localhost:{port}")).await {
            assert!(anonymous.ping().await.is_err(), "the default user is off");
        }
    });
}

/// `rediss+cluster://` with an ACL user: a 6-node cluster that speaks only TLS, between its
/// nodes too, runs the store's operations (a take, and a read across slots).
#[test]
fn rediss_cluster_with_an_acl_user_serves_the_store() {
    let dir = gatehouse_testkit::temp_dir();
    certificates(dir.path());
    let file = |name: &str| dir.path().join(name);
    // SAFETY: set before the runtime and any other thread exist (see above).
    unsafe { std::env::set_var("SSL_CERT_FILE", file("ca.pem")) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tls = gatehouse_testkit::redis_servers::ServerTls {
            ca: file("ca.pem"),
            cert: file("server.pem"),
            key: file("server.key"),
        };
        let Some(cluster) = gatehouse_testkit::redis_servers::RedisCluster::start_with(
            "the rediss cluster test",
            Some(tls),
        )
        .await
        else {
            return;
        };
        assert!(cluster.url().starts_with("rediss+cluster://"));
        let store = RedisStore::connect(&cluster.url()).await.unwrap();
        let keys: Vec<String> = (0..8).map(|i| format!("gh-test:tls-cluster:{i}")).collect();
        for key in &keys {
            store
                .put(key, key.as_bytes(), Duration::from_secs(60))
                .await
                .unwrap();
        }
        let values = store.get_many(&keys).await.unwrap();
        assert_eq!(
            values,
            keys.iter()
                .map(|k| Some(k.as_bytes().to_vec()))
                .collect::<Vec<_>>()
        );
        assert!(store.take(&keys[0]).await.unwrap().is_some());
        assert!(store.take(&keys[0]).await.unwrap().is_none());
    });
}

/// `rediss+sentinel://` with an ACL user: Sentinels, master and replica speak only TLS.
#[test]
fn rediss_sentinel_with_an_acl_user_serves_the_store() {
    let dir = gatehouse_testkit::temp_dir();
    certificates(dir.path());
    let file = |name: &str| dir.path().join(name);
    // SAFETY: set before the runtime and any other thread exist (see above).
    unsafe { std::env::set_var("SSL_CERT_FILE", file("ca.pem")) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tls = gatehouse_testkit::redis_servers::ServerTls {
            ca: file("ca.pem"),
            cert: file("server.pem"),
            key: file("server.key"),
        };
        let Some(setup) = gatehouse_testkit::redis_servers::RedisSentinel::start_with(
            "the rediss Sentinel test",
            Some(tls),
        )
        .await
        else {
            return;
        };
        assert!(setup.url().starts_with("rediss+sentinel://"));
        let store = RedisStore::connect(&setup.url()).await.unwrap();
        store
            .put("gh-test:tls-sentinel", b"v", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            store.take("gh-test:tls-sentinel").await.unwrap().as_deref(),
            Some(&b"v"[..])
        );
    });
}
