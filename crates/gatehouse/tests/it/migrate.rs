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
