//! `gatehouse users import|export` and `--metadata`: the real binary against a running server.

use gatehouse_testkit::cli::CliOutput;
use gatehouse_testkit::e2e::Server;
use serde_json::Value;

use crate::gatehouse;

fn cli(server: &Server, args: &[&str]) -> CliOutput {
    server.cli().run(args, None)
}

fn bcrypt_fixture() -> (String, String) {
    let fixtures = include_str!("../../../../tests/fixtures/password-hashes/hashes.jsonl");
    let line = fixtures
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|f| f["format"] == "bcrypt-2b")
        .unwrap();
    (
        line["password"].as_str().unwrap().to_owned(),
        line["hash"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn users_import_reports_lines_is_idempotent_and_exports_a_private_file_that_imports_elsewhere() {
    let server = gatehouse().server("all").start();
    let dir = tempfile::tempdir().unwrap();
    let (_, hash) = bcrypt_fixture();
    let good = format!(
        "{}\n\n{}\n",
        serde_json::json!({"id": "legacy-1", "username": "legacy", "password_hash": hash, "metadata": {"from": "hydra"}}),
        serde_json::json!({"username": "plain", "email": "plain@example.com", "email_verified": true}),
    );
    let with_bad = format!(
        "{good}{{not json\n{}\n{}\n",
        serde_json::json!({"username": "mallory", "roles": ["root"]}),
        serde_json::json!({"username": "cpu", "password_hash": "$2b$31$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"}),
    );
    let good_file = dir.path().join("good.jsonl");
    let bad_file = dir.path().join("bad.jsonl");
    std::fs::write(&good_file, &good).unwrap();
    std::fs::write(&bad_file, &with_bad).unwrap();
    let bad = bad_file.to_str().unwrap();
    let good_path = good_file.to_str().unwrap();

    // Invalid lines: listed with their file line numbers and reasons, and a non-zero exit.
    let dry = cli(&server, &["users", "import", bad, "--dry-run"]);
    assert!(!dry.status.success(), "{}", dry.stdout);
    assert!(dry.stderr.contains("3 invalid line(s)"), "{}", dry.stderr);
    assert!(dry.stdout.contains("would create"), "{}", dry.stdout);
    assert!(dry.stdout.contains("not JSON"), "{}", dry.stdout);
    assert!(
        dry.stdout.contains("unknown role \"root\""),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("cost 31"), "{}", dry.stdout);
    assert!(
        dry.stdout
            .contains("2 would create, 0 skipped, 3 invalid (dry run: nothing changed)."),
        "{}",
        dry.stdout
    );
    let report = cli(
        &server,
        &["users", "import", bad, "--dry-run", "--format", "json"],
    );
    let report: Value = serde_json::from_str(&report.stdout).unwrap();
    let lines: Vec<u64> = report["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [4, 5, 6], "{report}");
    assert_eq!(report["created"][1]["line"], 3, "{report}");
    let none = cli(&server, &["users", "get", "legacy"]);
    assert!(!none.status.success(), "a dry run created nothing");

    let done = cli(&server, &["users", "import", good_path]);
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stdout.contains("2 created, 0 skipped, 0 invalid."),
        "{}",
        done.stdout
    );
    let again = cli(&server, &["users", "import", good_path]);
    assert!(again.status.success(), "{}", again.stderr);
    assert!(
        again.stdout.contains("0 created, 2 skipped, 0 invalid."),
        "{}",
        again.stdout
    );

    let got = cli(&server, &["users", "get", "legacy", "--format", "json"]);
    let got: Value = serde_json::from_str(&got.stdout).unwrap();
    assert_eq!(got["id"], "legacy-1");
    assert_eq!(got["metadata"]["from"], "hydra");

    // Export: a 0600 file, not overwritten without --force.
    let export = dir.path().join("export.jsonl");
    let export_path = export.to_str().unwrap();
    let written = cli(&server, &["users", "export", "--output", export_path]);
    assert!(written.status.success(), "{}", written.stderr);
    assert!(
        written.stdout.starts_with("Exported 2 users to "),
        "{}",
        written.stdout
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&export).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let text = std::fs::read_to_string(&export).unwrap();
    assert!(text.contains(&hash), "{text}");
    let refused = cli(&server, &["users", "export", "--output", export_path]);
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    let forced = cli(
        &server,
        &["users", "export", "--output", export_path, "--force"],
    );
    assert!(forced.status.success(), "{}", forced.stderr);

    // On a fresh server the export imports as the same users.
    let fresh = gatehouse().server("all").start();
    let imported = cli(&fresh, &["users", "import", export_path]);
    assert!(imported.status.success(), "{}", imported.stderr);
    assert!(imported.stdout.contains("2 created"), "{}", imported.stdout);
    let got = cli(&fresh, &["users", "get", "legacy-1", "--format", "json"]);
    let got: Value = serde_json::from_str(&got.stdout).unwrap();
    assert_eq!(got["username"], "legacy");
}

#[test]
fn users_metadata_is_set_shown_and_replaced_from_the_cli() {
    let server = gatehouse().server("all").start();
    let created = server.cli().run(
        &[
            "users",
            "create",
            "--username",
            "meta",
            "--metadata",
            r#"{"plan":"pro"}"#,
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    assert!(created.status.success(), "{}", created.stderr);
    let shown = cli(&server, &["users", "get", "meta"]);
    assert!(
        shown.stdout.contains(r#"{"plan":"pro"}"#),
        "{}",
        shown.stdout
    );
    let renamed = cli(&server, &["users", "update", "meta", "--name", "Meta"]);
    assert!(renamed.status.success(), "{}", renamed.stderr);
    let kept = cli(&server, &["users", "get", "meta", "--format", "json"]);
    let kept: Value = serde_json::from_str(&kept.stdout).unwrap();
    assert_eq!(kept["metadata"], serde_json::json!({"plan": "pro"}));
    let replaced = cli(&server, &["users", "update", "meta", "--metadata", "{}"]);
    assert!(replaced.status.success(), "{}", replaced.stderr);
    let cleared = cli(&server, &["users", "get", "meta", "--format", "json"]);
    let cleared: Value = serde_json::from_str(&cleared.stdout).unwrap();
    assert_eq!(cleared["metadata"], serde_json::json!({}));
    let refused = cli(&server, &["users", "update", "meta", "--metadata", "[1]"]);
    assert!(!refused.status.success());
    assert!(
        refused.stderr.contains("metadata must be a JSON object"),
        "{}",
        refused.stderr
    );
}
