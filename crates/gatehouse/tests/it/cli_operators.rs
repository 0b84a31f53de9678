//! The operators' own commands on the real binary: `console bootstrap`, roles on `users`, and
//! `audit list`, whose entries name the CLI as the actor.

use gatehouse_testkit::cli::CliOutput;
use gatehouse_testkit::e2e::Server;
use serde_json::Value;

use crate::gatehouse;

fn run(server: &Server, args: &[&str], stdin: Option<&str>) -> CliOutput {
    server.cli().run(args, stdin)
}

fn json(o: &CliOutput) -> Value {
    assert!(o.success(), "{}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout))
}

#[test]
fn console_bootstrap_creates_the_first_admin_once_and_roles_change_by_flag() {
    let server = gatehouse().server("all").start();
    let password = "first-admin-password-1";
    let made = run(
        &server,
        &[
            "console",
            "bootstrap",
            "--username",
            "root-admin",
            "--password-stdin",
        ],
        Some(&format!("{password}\n")),
    );
    assert!(made.success(), "{}", made.stderr);
    assert!(
        made.stdout
            .starts_with("Administrator root-admin created with ID "),
        "{}",
        made.stdout
    );
    let shown = json(&run(
        &server,
        &["users", "show", "root-admin", "--format", "json"],
        None,
    ));
    assert_eq!(shown["roles"], serde_json::json!(["admin"]));

    // A taken username (compared as sign-in does) is never changed: the command says what to run.
    for name in ["root-admin", "ROOT-ADMIN"] {
        let again = run(
            &server,
            &[
                "console",
                "bootstrap",
                "--username",
                name,
                "--password-stdin",
            ],
            Some("another-password-2\n"),
        );
        assert_eq!(again.code(), Some(1), "{}", again.stdout);
        assert_eq!(again.stderr.lines().count(), 1, "{}", again.stderr);
        assert!(
            again
                .stderr
                .contains(&format!("gatehouse users update {name} --add-role admin")),
            "{}",
            again.stderr
        );
    }
    let plain = run(
        &server,
        &[
            "users",
            "create",
            "--username",
            "plain-user",
            "--password-stdin",
        ],
        Some("plain-password-3\n"),
    );
    assert!(plain.success(), "{}", plain.stderr);
    let refused = run(
        &server,
        &[
            "console",
            "bootstrap",
            "--username",
            "plain-user",
            "--password-stdin",
        ],
        Some("another-password-4\n"),
    );
    assert_eq!(refused.code(), Some(1));
    assert!(
        refused.stderr.contains("--add-role admin"),
        "{}",
        refused.stderr
    );
    let still = json(&run(
        &server,
        &["users", "show", "plain-user", "--format", "json"],
        None,
    ));
    assert_eq!(
        still["roles"],
        serde_json::json!([]),
        "bootstrap changed nothing"
    );

    // Roles by flag: create, list by role, add and remove.
    let reviewer = run(
        &server,
        &[
            "users",
            "create",
            "--username",
            "rita",
            "--role",
            "reviewer",
            "--password-stdin",
        ],
        Some("reviewer-password-5\n"),
    );
    assert!(reviewer.success(), "{}", reviewer.stderr);
    let reviewers = json(&run(
        &server,
        &["users", "list", "--role", "reviewer", "--format", "json"],
        None,
    ));
    let names: Vec<&str> = reviewers
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["rita"]);
    let updated = run(
        &server,
        &[
            "users",
            "update",
            "rita",
            "--add-role",
            "admin",
            "--remove-role",
            "reviewer",
        ],
        None,
    );
    assert!(updated.success(), "{}", updated.stderr);
    let rita = json(&run(
        &server,
        &["users", "show", "rita", "--format", "json"],
        None,
    ));
    assert_eq!(rita["roles"], serde_json::json!(["admin"]));
    let table = run(&server, &["users", "list"], None);
    assert!(table.stdout.contains("ROLES"), "{}", table.stdout);
    let bad = run(
        &server,
        &["users", "update", "rita", "--add-role", "owner"],
        None,
    );
    assert_ne!(bad.code(), Some(0));
    assert!(bad.stderr.contains("unknown role"), "{}", bad.stderr);

    // Everything above is in the audit log, by the CLI, without a password.
    let events = json(&run(&server, &["audit", "list", "--format", "json"], None));
    let events = events.as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["user.update", "user.create", "user.create", "user.create"]
    );
    for event in events {
        assert_eq!(event["actor"]["kind"], "cli", "{event}");
        assert!(
            event["actor"]["name"]
                .as_str()
                .unwrap()
                .starts_with("gatehouse-cli/"),
            "{event}"
        );
    }
    assert_eq!(events[3]["changes"]["password"], "[redacted]");
    assert_eq!(events[3]["changes"]["roles"], serde_json::json!(["admin"]));
    assert_eq!(events[0]["changes"]["roles"], serde_json::json!(["admin"]));
    let all = serde_json::to_string(events).unwrap();
    for secret in [password, "plain-password-3", "reviewer-password-5"] {
        assert!(!all.contains(secret), "{secret} in the audit log");
    }
    let newest = json(&run(
        &server,
        &[
            "audit",
            "list",
            "--action",
            "user.create",
            "--limit",
            "1",
            "--output",
            "json",
        ],
        None,
    ));
    assert_eq!(newest.as_array().unwrap().len(), 1);
    assert_eq!(newest[0]["target"]["id"], rita["id"]);
    let by_target = json(&run(
        &server,
        &[
            "audit",
            "list",
            "--target",
            rita["id"].as_str().unwrap(),
            "--output",
            "json",
        ],
        None,
    ));
    assert_eq!(by_target.as_array().unwrap().len(), 2);
    let table = run(&server, &["audit", "list", "--actor", "cli"], None);
    assert!(table.success(), "{}", table.stderr);
    assert!(
        table.stdout.contains("ACTION") && table.stdout.contains("user.update"),
        "{}",
        table.stdout
    );
    let bad = run(&server, &["audit", "list", "--since", "last tuesday"], None);
    assert_ne!(bad.code(), Some(0));
    assert!(bad.stderr.contains("RFC 3339"), "{}", bad.stderr);
}
