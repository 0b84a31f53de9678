//! `gatehouse migrate` is idempotent on both SQL backends.

use gatehouse_testkit::e2e::run;

use crate::gatehouse;

fn migrate_twice(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let mut cmd = gatehouse().command(dir.path());
        cmd.arg("migrate");
        if let Some(url) = database_url {
            cmd.env("DATABASE_URL", url);
        }
        let out = run(&mut cmd);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "migrate failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(stdout);
    }
    assert!(
        !outputs[0].starts_with("0 "),
        "first run applies migrations: {}",
        outputs[0]
    );
    assert!(
        outputs[1].starts_with("0 migration(s) applied"),
        "second run is a no-op: {}",
        outputs[1]
    );
}

#[test]
fn migrate_twice_on_embedded_sqlite() {
    migrate_twice(None);
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_twice_on_postgres() {
    let Some(db) = gatehouse_testkit::fresh_postgres_database().await else {
        return gatehouse_testkit::skipped(
            "migrate_twice_on_postgres",
            gatehouse_testkit::POSTGRES_URL_VAR,
        );
    };
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || migrate_twice(Some(&url)))
        .await
        .unwrap();
    drop(db);
}

/// `migrate --dry-run` and `migrate --status` change nothing; after `migrate`, the status shows
/// each migration applied with its time.
fn status_and_dry_run(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let gatehouse_run = |args: &[&str]| {
        let mut cmd = gatehouse().command(dir.path());
        cmd.args(args);
        if let Some(url) = database_url {
            cmd.env("DATABASE_URL", url);
        }
        let out = run(&mut cmd);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let known = gatehouse_store::migrator(gatehouse_store::SqlBackend::Sqlite)
        .migrations
        .len();

    let dry = gatehouse_run(&["migrate", "--dry-run"]);
    assert!(
        dry.starts_with(&format!(
            "{known} migration(s) would be applied (nothing was changed):\n"
        )),
        "{dry}"
    );
    assert!(dry.contains("     1  init\n"), "{dry}");
    let status = gatehouse_run(&["migrate", "--status"]);
    assert!(status.starts_with("VERSION  DESCRIPTION"), "{status}");
    assert!(
        status.ends_with(&format!("0 applied, {known} pending\n")),
        "{status}"
    );
    if database_url.is_none() {
        assert!(
            !dir.path().join("gatehouse.db").exists(),
            "neither --dry-run nor --status creates the database"
        );
    }
    assert!(
        gatehouse_run(&["migrate", "--dry-run"]).starts_with(&format!("{known} migration(s)")),
        "the dry run applied nothing"
    );

    gatehouse_run(&["migrate"]);
    let status = gatehouse_run(&["migrate", "--status"]);
    assert!(
        status.ends_with(&format!("{known} applied, 0 pending\n")),
        "{status}"
    );
    let init = status
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap();
    assert!(
        init.contains("init") && init.contains("applied"),
        "{status}"
    );
    let year = time::OffsetDateTime::now_utc().year().to_string();
    assert!(
        init.trim_end().ends_with(|c: char| c.is_ascii_digit()) && init.contains(&year),
        "applied-at shown: {status}"
    );
    assert_eq!(
        gatehouse_run(&["migrate", "--dry-run"]),
        "0 migration(s) would be applied; the database schema is up to date\n"
    );
}

#[test]
fn migrate_status_and_dry_run_on_embedded_sqlite() {
    status_and_dry_run(None);
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_status_and_dry_run_on_postgres() {
    let Some(db) = gatehouse_testkit::fresh_postgres_database().await else {
        return gatehouse_testkit::skipped(
            "migrate_status_and_dry_run_on_postgres",
            gatehouse_testkit::POSTGRES_URL_VAR,
        );
    };
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || status_and_dry_run(Some(&url)))
        .await
        .unwrap();
    drop(db);
}
