//! Bad configuration: one line naming the key, exit code 2, nothing listens.

use gatehouse_testkit::e2e::run;
use gatehouse_testkit::http::{free_port, is_listening};

use crate::gatehouse;

fn assert_config_failure(envs: &[(&str, &str)], args: &[&str], key: &str) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = gatehouse().command(dir.path());
    cmd.args(args)
        .env("GATEHOUSE_PUBLIC_ADDR", format!("127.0.0.1:{port}"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = run(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code for {envs:?}: {stderr}"
    );
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {stderr}");
    assert!(lines[0].contains(key), "the line names {key}: {stderr}");
    assert!(
        !is_listening(port),
        "nothing listens after a configuration error"
    );
}

#[test]
fn invalid_duration_names_the_key() {
    assert_config_failure(
        &[("GATEHOUSE_TTL_AUTH_CODE", "ten minutes")],
        &["serve", "all", "--dev"],
        "ttl_auth_code",
    );
}

/// The Postgres pool's settings: a pool of no connection, a timeout of nothing or not a duration
/// are refused, each naming the variable and what it expects.
#[test]
fn bad_database_pool_settings_name_the_key_and_what_is_expected() {
    for (envs, expected) in [
        (
            [("GATEHOUSE_DATABASE_POOL_SIZE", "0")],
            "database_pool_size: must be at least 1",
        ),
        (
            [("GATEHOUSE_DATABASE_POOL_SIZE", "ten")],
            "expected a whole number",
        ),
        (
            [("GATEHOUSE_DATABASE_ACQUIRE_TIMEOUT", "0s")],
            "database_acquire_timeout: must be longer than zero",
        ),
        (
            [("GATEHOUSE_DATABASE_ACQUIRE_TIMEOUT", "soon")],
            "expected a duration such as 30s",
        ),
    ] {
        let key = if envs[0].0.ends_with("POOL_SIZE") {
            "database_pool_size"
        } else {
            "database_acquire_timeout"
        };
        assert_config_failure(&envs, &["serve", "all", "--dev"], key);
        let (code, stderr, _dir) = run_with(&envs, &["serve", "all", "--dev"]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{envs:?}: {stderr}");
    }
}

/// `pgbouncer=` in `DATABASE_URL` takes `true` or `false`; anything else is named, without the
/// URL's password.
#[test]
fn a_bad_pgbouncer_parameter_is_named_without_the_password() {
    let (code, stderr, _dir) = run_with(
        &[(
            "DATABASE_URL",
            "postgres://gatehouse:hunter2-db@127.0.0.1:6432/gatehouse?pgbouncer=yes",
        )],
        &["migrate"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("pgbouncer=\"yes\" is not valid"),
        "{stderr}"
    );
    assert!(stderr.contains("pgbouncer=true"), "{stderr}");
    assert!(!stderr.contains("hunter2-db"), "{stderr}");
}

#[test]
fn invalid_address_names_the_key() {
    assert_config_failure(
        &[("GATEHOUSE_ADMIN_ADDR", "localhost")],
        &["serve", "all", "--dev"],
        "admin_addr",
    );
}

#[test]
fn missing_system_secret_outside_dev_mode() {
    assert_config_failure(&[], &["serve", "all"], "system_secret");
}

#[test]
fn split_token_process_refuses_the_in_memory_store() {
    assert_config_failure(
        &[("GATEHOUSE_SYSTEM_SECRET", &"s".repeat(40))],
        &["serve", "token"],
        "redis_url",
    );
}

#[test]
fn unsupported_database_url_scheme() {
    assert_config_failure(
        &[("DATABASE_URL", "mysql://localhost/db")],
        &["serve", "all", "--dev"],
        "database_url",
    );
}

#[test]
fn admin_listener_off_loopback_needs_a_token() {
    assert_config_failure(
        &[("GATEHOUSE_ADMIN_ADDR", "0.0.0.0:4445")],
        &["serve", "all", "--dev"],
        "admin_token",
    );
}

#[test]
fn config_file_layer_is_read_and_its_errors_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gatehouse.toml");
    std::fs::write(&file, "ttl_access_token = \"forever\"\n").unwrap();
    assert_config_failure(
        &[],
        &["--config", file.to_str().unwrap(), "serve", "all", "--dev"],
        "ttl_access_token",
    );
    std::fs::write(&file, "no_such_key = 1\n").unwrap();
    assert_config_failure(
        &[],
        &["--config", file.to_str().unwrap(), "serve", "all", "--dev"],
        "no_such_key",
    );
}

const SECRET: &str = "a-system-secret-of-at-least-thirty-two-characters";

/// Runs `gatehouse ARGS` in a fresh data directory with `envs`; returns (exit code, stderr).
fn run_with(envs: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = gatehouse().command(dir.path());
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = run(&mut cmd);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        dir,
    )
}

#[test]
fn a_misspelt_variable_stops_a_production_server_with_a_suggestion() {
    let port = free_port();
    let (code, stderr, _dir) = run_with(
        &[
            ("GATEHOUSE_SYSTEM_SECRET", SECRET),
            ("GATEHOUSE_ISUER", "https://auth.example.com"),
            ("GATEHOUSE_PUBLIC_ADDR", &format!("127.0.0.1:{port}")),
        ],
        &["serve", "all"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "unknown setting GATEHOUSE_ISUER; did you mean GATEHOUSE_ISSUER?\n"
    );
    assert!(!is_listening(port));

    // Migrations and backups are stopped too: they read the same settings.
    let (code, stderr, _dir) = run_with(&[("GATEHOUSE_DATA_DRI", "/tmp/elsewhere")], &["migrate"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "unknown setting GATEHOUSE_DATA_DRI; did you mean GATEHOUSE_DATA_DIR?\n"
    );
}

#[test]
fn an_unknown_variable_without_a_close_name_gets_no_suggestion() {
    let (code, stderr, _dir) = run_with(
        &[
            ("GATEHOUSE_SYSTEM_SECRET", SECRET),
            ("GATEHOUSE_FLUX_CAPACITOR", "on"),
        ],
        &["serve", "all"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with("unknown setting GATEHOUSE_FLUX_CAPACITOR;")
            && !stderr.contains("did you mean"),
        "{stderr}"
    );
}

#[test]
fn a_misspelt_variable_is_only_a_warning_in_dev_mode() {
    let server = gatehouse()
        .server("all")
        .env("GATEHOUSE_ISUER", "http://127.0.0.1:1")
        .start();
    assert!(
        server
            .logs()
            .contains("unknown setting GATEHOUSE_ISUER; did you mean GATEHOUSE_ISSUER?"),
        "{}",
        server.logs()
    );
    // The admin CLI never reads the server's settings: a typo among them in the operator's shell
    // does not stop it (its own GATEHOUSE_ADMIN_URL and GATEHOUSE_ADMIN_TOKEN are known).
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = gatehouse().command(dir.path());
    cmd.args(["clients", "list"])
        .env(
            "GATEHOUSE_ADMIN_URL",
            format!("http://127.0.0.1:{}", server.admin),
        )
        .env("GATEHOUSE_ISUER", "https://auth.example.com");
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_unknown_file_key_is_named_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gatehouse.toml");
    std::fs::write(&file, "isuer = \"https://auth.example.com\"\n").unwrap();
    let (code, stderr, _data) = run_with(
        &[],
        &["--config", file.to_str().unwrap(), "serve", "all", "--dev"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "unknown key isuer in {}; did you mean issuer?\n",
            file.display()
        )
    );
}

#[test]
fn a_moved_public_listener_needs_an_issuer_outside_dev_mode() {
    let port = free_port();
    let (code, stderr, _dir) = run_with(
        &[("GATEHOUSE_SYSTEM_SECRET", SECRET)],
        &["serve", "all", "--public-addr", &format!("0.0.0.0:{port}")],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("GATEHOUSE_ISSUER is not set") && stderr.contains("--public-addr"),
        "{stderr}"
    );
    assert!(!is_listening(port));
}

#[tokio::test]
async fn in_dev_mode_the_issuer_follows_the_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let (public, admin, grpc) = (free_port(), free_port(), free_port());
    let mut cmd = gatehouse().command(dir.path());
    cmd.args(["serve", "all", "--dev"])
        .env("GATEHOUSE_PUBLIC_ADDR", format!("127.0.0.1:{public}"))
        .env("GATEHOUSE_ADMIN_ADDR", format!("127.0.0.1:{admin}"))
        .env("GATEHOUSE_GRPC_ADDR", format!("127.0.0.1:{grpc}"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _child = Killed(cmd.spawn().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !is_listening(public) {
        assert!(std::time::Instant::now() < deadline, "did not listen");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let base = format!("http://127.0.0.1:{public}");
    let discovery = gatehouse_testkit::e2e::discovery(&base).await;
    assert_eq!(discovery["issuer"], base.as_str());
}

/// A value that does not parse is blamed on where it was written, with what is expected, and no
/// Rust type names.
#[test]
fn a_bad_address_names_its_source_and_what_is_expected() {
    let expected = "expected HOST:PORT, e.g. 0.0.0.0:4444";
    let check = |stderr: &str, source: &str| {
        assert!(
            stderr.starts_with("configuration error: public_addr: \"localhost\" from ")
                && stderr.contains(source)
                && stderr.contains(expected),
            "{stderr}"
        );
        assert!(
            !stderr.contains("serde") && !stderr.contains("Map<") && !stderr.contains("::"),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    };
    let (code, stderr, _dir) = run_with(
        &[],
        &["serve", "all", "--dev", "--public-addr", "localhost"],
    );
    assert_eq!(code, Some(2));
    check(&stderr, "from flag --public-addr is not valid");
    assert!(!stderr.contains("GATEHOUSE_PUBLIC_ADDR"), "{stderr}");

    let (code, stderr, _dir) = run_with(
        &[("GATEHOUSE_PUBLIC_ADDR", "localhost")],
        &["serve", "all", "--dev"],
    );
    assert_eq!(code, Some(2));
    check(
        &stderr,
        "from environment variable GATEHOUSE_PUBLIC_ADDR is not valid",
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gatehouse.toml");
    std::fs::write(&file, "public_addr = \"localhost\"\n").unwrap();
    let (code, stderr, _data) = run_with(
        &[],
        &["--config", file.to_str().unwrap(), "serve", "all", "--dev"],
    );
    assert_eq!(code, Some(2));
    check(
        &stderr,
        &format!("from key public_addr in {} is not valid", file.display()),
    );
}

/// The cause of a failed connection, said once: not a pool's "timed out", not the same words
/// three times.
#[tokio::test]
async fn unreachable_stores_are_reported_with_their_cause_once() {
    let port = free_port();
    let (code, stderr, _dir) = run_with(
        &[(
            "DATABASE_URL",
            &format!("postgres://gatehouse@127.0.0.1:{port}/gatehouse"),
        )],
        &["migrate"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("connection refused at 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert_eq!(
        stderr.to_lowercase().matches("refused").count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("timed out"), "{stderr}");

    let listeners = [
        (
            "GATEHOUSE_PUBLIC_ADDR",
            format!("127.0.0.1:{}", free_port()),
        ),
        ("GATEHOUSE_ADMIN_ADDR", format!("127.0.0.1:{}", free_port())),
        ("GATEHOUSE_GRPC_ADDR", format!("127.0.0.1:{}", free_port())),
    ];
    let redis = format!("redis://127.0.0.1:{port}");
    let mut envs: Vec<(&str, &str)> = listeners.iter().map(|(k, v)| (*k, v.as_str())).collect();
    envs.push(("REDIS_URL", &redis));
    let (code, stderr, _dir) = run_with(&envs, &["serve", "all", "--dev"]);
    assert_eq!(code, Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains(&format!("connection refused at 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert_eq!(
        last.to_lowercase().matches("refused").count(),
        1,
        "{stderr}"
    );

    // A reachable server's own answer: the database does not exist.
    let Some(db) = gatehouse_testkit::fresh_postgres_database().await else {
        return gatehouse_testkit::skipped(
            "unreachable_stores_are_reported_with_their_cause_once",
            gatehouse_testkit::POSTGRES_URL_VAR,
        );
    };
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_path("/no_such_gatehouse_database");
    let (code, stderr, _dir) = run_with(&[("DATABASE_URL", url.as_str())], &["migrate"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("database \"no_such_gatehouse_database\" does not exist"),
        "{stderr}"
    );
    drop(db);
}

/// Ports are bound first: a port in use stops the start before the database is created,
/// migrated or a development secret written.
#[test]
fn a_port_in_use_is_reported_before_anything_is_written() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, stderr, dir) = run_with(
        &[("GATEHOUSE_PUBLIC_ADDR", &format!("127.0.0.1:{port}"))],
        &["serve", "all", "--dev"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr.lines().last(),
        Some(format!("port {port} is in use (GATEHOUSE_PUBLIC_ADDR=127.0.0.1:{port})").as_str()),
        "{stderr}"
    );
    for name in ["gatehouse.db", "system-secret"] {
        assert!(!dir.path().join(name).exists(), "{name} was written");
    }
    drop(taken);
}

#[test]
fn an_unknown_registration_grant_or_auth_method_names_the_key() {
    assert_config_failure(
        &[(
            "GATEHOUSE_REGISTRATION_ALLOWED_GRANT_TYPES",
            "authorization_code,password",
        )],
        &["serve", "all", "--dev"],
        "registration_allowed_grant_types",
    );
    // Unknown, and known but only for clients an operator registers.
    for method in [
        "client_secret_magic",
        "client_secret_jwt",
        "private_key_jwt",
    ] {
        assert_config_failure(
            &[("GATEHOUSE_REGISTRATION_ALLOWED_AUTH_METHODS", method)],
            &["serve", "all", "--dev"],
            "registration_allowed_auth_methods",
        );
    }
}

#[test]
fn external_ui_mode_needs_the_login_and_consent_urls() {
    assert_config_failure(
        &[
            ("GATEHOUSE_UI", "external"),
            (
                "GATEHOUSE_URLS_CONSENT",
                "https://login.example.com/consent",
            ),
        ],
        &["serve", "all", "--dev"],
        "urls_login",
    );
    assert_config_failure(
        &[
            ("GATEHOUSE_UI", "external"),
            ("GATEHOUSE_URLS_LOGIN", "https://login.example.com/login"),
        ],
        &["serve", "all", "--dev"],
        "urls_consent",
    );
    assert_config_failure(
        &[
            ("GATEHOUSE_UI", "external"),
            ("GATEHOUSE_URLS_LOGIN", "https://login.example.com/login"),
            ("GATEHOUSE_URLS_CONSENT", "login.example.com/consent"),
        ],
        &["serve", "all", "--dev"],
        "urls_consent",
    );
    assert_config_failure(
        &[("GATEHOUSE_UI", "hydra")],
        &["serve", "all", "--dev"],
        "ui",
    );
}

/// The challenge API accepts logins for any subject: in external UI mode the login process's
/// admin listener serves it, so off loopback it needs the admin token as the admin listener does.
#[test]
fn external_ui_mode_off_loopback_login_admin_listener_needs_a_token() {
    assert_config_failure(
        &[
            ("GATEHOUSE_UI", "external"),
            ("GATEHOUSE_URLS_LOGIN", "https://login.example.com/login"),
            (
                "GATEHOUSE_URLS_CONSENT",
                "https://login.example.com/consent",
            ),
            ("GATEHOUSE_TOKEN_GRPC_URL", "http://127.0.0.1:4446"),
            ("GATEHOUSE_LOGIN_ADMIN_ADDR", "0.0.0.0:4448"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
        ],
        &["serve", "login", "--dev"],
        "admin_token",
    );
}
