//! `gatehouse backup` and `gatehouse restore` of the embedded database.

use std::path::Path;

use gatehouse_testkit::e2e::run;

use crate::gatehouse;

/// Runs `gatehouse ARGS` on the data directory `data_dir`; returns (exit code, stdout, stderr).
fn gatehouse_in(
    data_dir: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    let mut cmd = gatehouse().command(data_dir);
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = run(&mut cmd);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn create_client(server: &gatehouse_testkit::e2e::Server, id: &str) {
    server.admin_cli(
        &[
            "clients",
            "create",
            "--name",
            id,
            "--id",
            id,
            "--callbacks",
            "http://127.0.0.1:5555/callback",
            "--grant-types",
            "authorization_code,refresh_token",
            "--response-types",
            "code",
            "--scope",
            "openid offline",
            "--token-endpoint-auth-method",
            "none",
        ],
        None,
    );
}

/// A backup taken while the server runs holds what the write-ahead log still held; restored
/// into a fresh data directory (with the system secret kept beside it), a new server serves the
/// same clients. A restore is refused while a server has the database open.
#[test]
fn backup_while_serving_and_restore_into_a_fresh_data_dir() {
    let server = gatehouse().server("all").start();
    create_client(&server, "backed-up-one");
    create_client(&server, "backed-up-two");

    let keep = tempfile::tempdir().unwrap();
    let backup = keep.path().join("gatehouse-backup.db");
    let (code, stdout, stderr) = gatehouse_in(
        server.data_dir.path(),
        &["backup", "--out", backup.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("2 client(s)"), "{stdout}");
    assert!(stdout.contains("system secret"), "{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the backup is the owner's alone");
    }

    // A second backup to the same file is refused rather than overwriting it.
    let (code, _, stderr) = gatehouse_in(
        server.data_dir.path(),
        &["backup", "--out", backup.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("exists already"), "{stderr}");

    // The server still has its database open: restoring over it is refused, nothing changes.
    let (code, _, stderr) = gatehouse_in(
        server.data_dir.path(),
        &["restore", backup.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("stop every gatehouse"), "{stderr}");

    // The secret goes with the backup: keys and client-secret hashes depend on it.
    let fresh = tempfile::tempdir().unwrap();
    std::fs::copy(
        server.data_dir.path().join("system-secret"),
        fresh.path().join("system-secret"),
    )
    .unwrap();
    assert!(server.terminate().success());
    let (code, stdout, stderr) =
        gatehouse_in(fresh.path(), &["restore", backup.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("2 client(s)"), "{stdout}");

    let restored = gatehouse()
        .server("all")
        .env("GATEHOUSE_DATA_DIR", fresh.path().display().to_string())
        .start();
    let list = restored.admin_cli(&["clients", "list"], None);
    assert!(
        list.contains("backed-up-one") && list.contains("backed-up-two"),
        "{list}"
    );
    assert!(restored.terminate().success());
}

/// A file that is not a Gatehouse database is refused before anything is replaced; a good
/// backup replaces the database, which is kept beside it.
#[test]
fn restore_checks_the_file_and_keeps_the_database_it_replaces() {
    let data = tempfile::tempdir().unwrap();
    let (code, _, stderr) = gatehouse_in(data.path(), &["migrate"], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let db = data.path().join("gatehouse.db");
    let before = std::fs::read(&db).unwrap();

    let other = tempfile::tempdir().unwrap();
    let text = other.path().join("notes.txt");
    std::fs::write(
        &text,
        "not a database at all, but long enough to look like one\n".repeat(100),
    )
    .unwrap();
    let (code, _, stderr) = gatehouse_in(data.path(), &["restore", text.to_str().unwrap()], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("is not a Gatehouse backup"), "{stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), before, "nothing was replaced");

    let backup = other.path().join("good.db");
    let (code, _, stderr) = gatehouse_in(
        data.path(),
        &["backup", "--out", backup.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stdout, stderr) =
        gatehouse_in(data.path(), &["restore", backup.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let kept: Vec<_> = std::fs::read_dir(data.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("gatehouse.db.") && n.ends_with(".bak"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(stdout.contains(&kept[0]), "{stdout}");
    assert_eq!(
        std::fs::read(data.path().join(&kept[0])).unwrap(),
        before,
        "the replaced database is kept as it was"
    );
}

#[test]
fn backup_and_restore_of_postgres_point_to_its_own_tools() {
    let data = tempfile::tempdir().unwrap();
    let pg = [("DATABASE_URL", "postgres://gatehouse@127.0.0.1:1/gatehouse")];
    let (code, _, stderr) = gatehouse_in(data.path(), &["backup", "--out", "x.db"], &pg);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("pg_dump"), "{stderr}");
    let (code, _, stderr) = gatehouse_in(data.path(), &["restore", "x.db"], &pg);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("pg_restore"), "{stderr}");
}
