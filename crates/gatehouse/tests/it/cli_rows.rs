//! The operator CLI with invalid fields: each failure is one line on standard error with exit
//! code 1 (2 for a usage error), and the database rows are exactly as before, read raw after
//! every single failure.

use sqlx::Row as _;

use crate::gatehouse;

/// Every row of the operator-managed tables, as text.
async fn rows(pool: &sqlx::SqlitePool) -> String {
    let mut out = String::new();
    for (table, select) in [
        (
            "clients",
            "SELECT quote(id) || '|' || quote(metadata) || '|' || quote(secret_hash) || '|' || quote(updated_at) FROM clients ORDER BY id",
        ),
        (
            "users",
            "SELECT quote(id) || '|' || quote(username) || '|' || quote(email) || '|' || quote(password_hash) || '|' || quote(updated_at) FROM users ORDER BY id",
        ),
        (
            "scopes",
            "SELECT quote(name) || '|' || quote(label) || '|' || quote(description) || '|' || quote(hidden) FROM scopes ORDER BY name",
        ),
    ] {
        let found = sqlx::query(select).fetch_all(pool).await;
        let found = found.unwrap_or_else(|e| panic!("{table}: {e}"));
        for row in found {
            out.push_str(&format!("{table}: {}\n", row.get::<String, _>(0)));
        }
    }
    out
}

#[tokio::test]
async fn invalid_fields_fail_in_one_line_and_leave_every_row_as_it_was() {
    let server = gatehouse().server("all").start();
    let cli = server.cli();
    cli.ok(
        &[
            "clients",
            "create",
            "--id",
            "kept",
            "--callbacks",
            "https://app.example.com/cb",
        ],
        None,
    );
    cli.ok(
        &["users", "create", "--username", "kept", "--password-stdin"],
        Some("a good long password\n"),
    );
    let db = server.data_dir.path().join("gatehouse.db");
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&db))
        .await
        .unwrap();
    let before = rows(&pool).await;
    assert!(before.contains("'kept'"), "{before}");

    let create = |extra: &[&'static str]| {
        let mut args = vec!["clients", "create", "--id", "bad"];
        args.extend_from_slice(extra);
        args
    };
    let cases: Vec<(&str, Vec<&str>, Option<&str>)> = vec![
        (
            "javascript: callback",
            create(&["--callbacks", "javascript:alert(1)"]),
            None,
        ),
        (
            "data: callback",
            create(&["--callbacks", "data:text/html,hi"]),
            None,
        ),
        (
            "callback with user info",
            create(&["--callbacks", "https://u:p@app.example.com/cb"]),
            None,
        ),
        (
            "callback with a fragment",
            create(&["--callbacks", "https://app.example.com/cb#x"]),
            None,
        ),
        (
            "plain http callback",
            create(&["--callbacks", "http://app.example.com/cb"]),
            None,
        ),
        (
            "implicit grant",
            create(&[
                "--callbacks",
                "https://app.example.com/cb",
                "--grant-types",
                "implicit",
            ]),
            None,
        ),
        (
            "token response type",
            create(&[
                "--callbacks",
                "https://app.example.com/cb",
                "--response-types",
                "token",
            ]),
            None,
        ),
        (
            "unknown auth method",
            create(&[
                "--callbacks",
                "https://app.example.com/cb",
                "--token-endpoint-auth-method",
                "private_key_jwt_typo",
            ]),
            None,
        ),
        (
            "scope with a quote",
            create(&[
                "--callbacks",
                "https://app.example.com/cb",
                "--scope",
                "openid bad\"scope",
            ]),
            None,
        ),
        (
            "javascript: logo",
            create(&[
                "--callbacks",
                "https://app.example.com/cb",
                "--logo-uri",
                "javascript:alert(1)",
            ]),
            None,
        ),
        (
            "client id taken",
            vec![
                "clients",
                "create",
                "--id",
                "kept",
                "--callbacks",
                "https://other.example.com/cb",
            ],
            None,
        ),
        (
            "update to a data: callback",
            vec![
                "clients",
                "update",
                "kept",
                "--callbacks",
                "data:text/html,hi",
            ],
            None,
        ),
        (
            "user: short password",
            vec!["users", "create", "--username", "other", "--password-stdin"],
            Some("short\n"),
        ),
        (
            "user: username with a space",
            vec![
                "users",
                "create",
                "--username",
                "two words",
                "--password-stdin",
            ],
            Some("a good long password\n"),
        ),
        (
            "user: email without @",
            vec![
                "users",
                "create",
                "--username",
                "other",
                "--email",
                "other.example.com",
            ],
            None,
        ),
        (
            "user: username taken",
            vec!["users", "create", "--username", "KEPT"],
            None,
        ),
        (
            "scope: space in the name",
            vec!["scopes", "create", "two words", "--label", "x"],
            None,
        ),
        (
            "scope: blank label",
            vec!["scopes", "create", "projects", "--label", " "],
            None,
        ),
        (
            "scope: technical scope deleted",
            vec!["scopes", "delete", "openid"],
            None,
        ),
    ];
    for (case, args, stdin) in cases {
        let out = cli.run(&args, stdin);
        let err = &out.stderr;
        assert!(
            matches!(out.code(), Some(1 | 2)),
            "{case}: {:?}\nstdout: {}\nstderr: {err}",
            out.status,
            out.stdout
        );
        if out.code() == Some(1) {
            assert_eq!(
                err.lines().filter(|l| !l.trim().is_empty()).count(),
                1,
                "{case}: {err}"
            );
        }
        let after = rows(&pool).await;
        assert_eq!(after, before, "{case}: rows changed");
    }
    pool.close().await;
    server.terminate();
}
