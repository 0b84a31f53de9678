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
