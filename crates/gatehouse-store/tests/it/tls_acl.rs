//! `rediss://` with an ACL user: a Redis of the test's own that speaks only TLS, with a
//! certificate from a CA of the test's own, and whose `default` user is off. That CA is trusted
//! either process-wide through `SSL_CERT_FILE` (as an operator trusts a private CA system-wide),
//! or by the URL alone (`?cacert=`), which then is the only CA trusted: a certificate from
//! another CA is refused even when `SSL_CERT_FILE` would trust it. A client certificate
//! (`?cert=&key=`) for a server that requires one. The store connects with the right user and
//! password, and refuses a wrong password and an untrusted certificate. The same for a cluster
//! and a Sentinel set-up that speak only TLS (`rediss+cluster://`, `rediss+sentinel://`).

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

/// A self-signed CA named `name`: its PEM certificate and an issuer for leaves.
fn certificate_authority(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    // Distinct names: a leaf whose issuer equals its subject looks self-signed to OpenSSL.
    ca.distinguished_name.push(DnType::CommonName, name);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    (ca_cert.pem(), Issuer::new(ca, ca_key))
}

/// A temporary directory of the test's certificates: ca.pem, server.pem and server.key (for
/// `localhost` and `127.0.0.1`), client.pem and client.key (a client certificate from the same
/// CA), and other-ca.pem (a CA that signed none of them).
struct Certificates(tempfile::TempDir);

impl Certificates {
    fn new() -> Self {
        let dir = gatehouse_testkit::temp_dir();
        write_certificates(dir.path());
        Self(dir)
    }

    fn dir(&self) -> &std::path::Path {
        self.0.path()
    }

    /// The path of one of the files, as a URL or a command line takes it.
    fn file(&self, name: &str) -> String {
        self.dir().join(name).display().to_string()
    }

    /// The server's certificate files, without client certificates.
    fn server_tls(&self) -> gatehouse_testkit::redis_servers::ServerTls {
        gatehouse_testkit::redis_servers::ServerTls {
            ca: self.dir().join("ca.pem"),
            cert: self.dir().join("server.pem"),
            key: self.dir().join("server.key"),
            client: None,
        }
    }
}

fn write_certificates(dir: &std::path::Path) {
    let (ca_pem, issuer) = certificate_authority("Gatehouse test CA");
    let (other_ca_pem, _) = certificate_authority("Another CA");
    let server_key = KeyPair::generate().unwrap();
    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    server
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server = server.signed_by(&server_key, &issuer).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client = CertificateParams::new(vec!["gatehouse".to_owned()]).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, "gatehouse");
    let client = client.signed_by(&client_key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_pem).unwrap();
    std::fs::write(dir.join("other-ca.pem"), other_ca_pem).unwrap();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("client.pem"), client.pem()).unwrap();
    std::fs::write(dir.join("client.key"), client_key.serialize_pem()).unwrap();
}

fn redis_server_present(test: &str) -> bool {
    let present = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        gatehouse_testkit::skipped(test, "redis-server");
    }
    present
}

/// A TLS-only `redis-server` with the test's certificates and the ACL user `app` (password
/// `s3cret`); with `client_certificates`, it requires clients to show one from the CA.
fn tls_server(certificates: &Certificates, client_certificates: bool) -> (Killed, u16) {
    let port = free_port();
    let path = |name: &str| certificates.file(name);
    let server = Killed(
        Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--tls-cert-file", &path("server.pem")])
            .args(["--tls-key-file", &path("server.key")])
            .args(["--tls-ca-cert-file", &path("ca.pem")])
            .args([
                "--tls-auth-clients",
                if client_certificates { "yes" } else { "no" },
            ])
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
    (server, port)
}

/// A plain `#[test]`: `SSL_CERT_FILE` is set before any thread (and any TLS client) exists.
#[test]
fn rediss_with_an_acl_user_connects_and_wrong_credentials_or_certificates_are_refused() {
    if !redis_server_present("the rediss:// test") {
        return;
    }
    let certificates = Certificates::new();
    let path = |name: &str| certificates.file(name);
    let (_server, port) = tls_server(&certificates, false);
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

/// `?cacert=` names the only CA trusted, without `SSL_CERT_FILE`; `?cert=&key=` shows a client
/// certificate to a server that requires one (mutual TLS). A server certificate from another CA
/// is refused, a missing client certificate too, and a CA file that cannot be read is named at
/// start-up (and no password is).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_a_per_url_ca_and_a_client_certificate() {
    if !redis_server_present("the rediss:// per-URL CA test") {
        return;
    }
    let certificates = Certificates::new();
    let path = |name: &str| certificates.file(name);
    let (_server, port) = tls_server(&certificates, true);
    let url = |query: &str| format!("rediss://app:s3cret@localhost:{port}?{query}");
    let client = format!("cert={}&key={}", path("client.pem"), path("client.key"));

    let store = RedisStore::connect(&url(&format!("cacert={}&{client}", path("ca.pem"))))
        .await
        .unwrap();
    store
        .put("gh-test:tls-ca", b"per-url ca", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.take("gh-test:tls-ca").await.unwrap().as_deref(),
        Some(&b"per-url ca"[..])
    );

    // The URL's CA is the only one trusted: a certificate from the test's CA is refused when
    // the URL names another (whatever the system's roots or SSL_CERT_FILE say).
    let other = RedisStore::connect(&url(&format!("cacert={}&{client}", path("other-ca.pem"))))
        .await
        .expect_err("a server certificate from another CA is refused")
        .to_string();
    assert!(!other.contains("s3cret"), "{other}");

    // The server requires a client certificate: without one, no command runs.
    if let Ok(anonymous) = RedisStore::connect(&url(&format!("cacert={}", path("ca.pem")))).await {
        assert!(
            anonymous.ping().await.is_err(),
            "a client without a certificate is refused"
        );
    }

    // An unreadable CA file: a start-up error naming the file, not the password.
    let missing = path("missing-ca.pem");
    let err = RedisStore::connect(&url(&format!("cacert={missing}")))
        .await
        .expect_err("a missing CA file is refused")
        .to_string();
    assert!(err.contains(&missing), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

/// `rediss+cluster://` with an ACL user: a 6-node cluster that speaks only TLS, between its
/// nodes too, runs the store's operations (a take, and a read across slots). Its CA is trusted
/// through the URL (`?cacert=`) alone; with another CA named, the cluster is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_cluster_with_an_acl_user_serves_the_store() {
    let certificates = Certificates::new();
    let file = |name: &str| certificates.file(name);
    let Some(cluster) = gatehouse_testkit::redis_servers::RedisCluster::start_with(
        "the rediss cluster test",
        Some(certificates.server_tls()),
    )
    .await
    else {
        return;
    };
    assert!(cluster.url().starts_with("rediss+cluster://"));
    let untrusted = RedisStore::connect(&format!(
        "{}?cacert={}",
        cluster.url(),
        file("other-ca.pem")
    ))
    .await
    .expect_err("a cluster whose certificates are from another CA is refused")
    .to_string();
    assert!(!untrusted.contains("s3cr"), "{untrusted}");
    let store = RedisStore::connect(&format!("{}?cacert={}", cluster.url(), file("ca.pem")))
        .await
        .unwrap();
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
}

/// `rediss+sentinel://` with an ACL user: Sentinels (which require a password of their own),
/// master and replica speak only TLS, trusted through the URL (`&cacert=`) alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_sentinel_with_an_acl_user_serves_the_store() {
    let certificates = Certificates::new();
    let file = |name: &str| certificates.file(name);
    let Some(setup) = gatehouse_testkit::redis_servers::RedisSentinel::start_with(
        "the rediss Sentinel test",
        Some(certificates.server_tls()),
        gatehouse_testkit::redis_servers::SentinelAuth::Required,
    )
    .await
    else {
        return;
    };
    assert!(setup.url().starts_with("rediss+sentinel://"));
    let untrusted =
        RedisStore::connect(&format!("{}&cacert={}", setup.url(), file("other-ca.pem")))
            .await
            .expect_err("Sentinels whose certificates are from another CA are refused")
            .to_string();
    assert!(
        !untrusted.contains("s3cr") && !untrusted.contains("snt"),
        "{untrusted}"
    );
    let store = RedisStore::connect(&format!("{}&cacert={}", setup.url(), file("ca.pem")))
        .await
        .unwrap();
    store
        .put("gh-test:tls-sentinel", b"v", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.take("gh-test:tls-sentinel").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
}
