//! A PgBouncer of the test's own in transaction pooling mode, in front of the Postgres named by
//! `GATEHOUSE_TEST_POSTGRES_URL`: Debian's `pgbouncer` on a free loopback port, its
//! configuration in a temp directory, killed when dropped.
//!
//! Its pools are small on purpose (2 server connections per database, handed out in turn:
//! `server_round_robin`), so a store's 10 client connections really share server connections
//! and consecutive transactions of one client land on different ones: whatever a client left
//! on a server connection outside a transaction is found by another client, and whatever it
//! expects to find there is gone. Starting one without the binary skips the test locally and
//! fails it in CI ([`crate::skipped`]).

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::{free_port, is_listening};

/// Server connections per database and user.
pub const POOL_SIZE: u32 = 2;
/// Debian's path of the binary (`/usr/sbin` is not on every user's `PATH`).
const DEBIAN_BINARY: &str = "/usr/sbin/pgbouncer";

/// A running PgBouncer.
pub struct PgBouncer {
    port: u16,
    child: Child,
    // Declared last: removed after the process is gone.
    dir: tempfile::TempDir,
}

/// The binary: `pgbouncer` on the `PATH`, else Debian's.
fn binary() -> Option<String> {
    ["pgbouncer", DEBIAN_BINARY]
        .into_iter()
        .find(|program| {
            Command::new(program)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(str::to_owned)
}

impl PgBouncer {
    /// Starts PgBouncer in front of the Postgres at `postgres_url` (any database of it: each
    /// database is passed through by name), as its user and password. `None` locally when the
    /// binary is missing.
    pub async fn start(test: &str, postgres_url: &str) -> Option<Self> {
        let Some(program) = binary() else {
            crate::skipped(test, "pgbouncer (Debian: apt-get install pgbouncer)");
            return None;
        };
        let target = url::Url::parse(postgres_url)
            .unwrap_or_else(|e| panic!("{} is not a URL: {e}", crate::POSTGRES_URL_VAR));
        let host = target.host_str().unwrap_or("127.0.0.1").to_owned();
        let port = target.port().unwrap_or(5432);
        let user = decode(target.username());
        let password = decode(target.password().unwrap_or_default());
        tokio::task::spawn_blocking(move || {
            Self::start_blocking(&program, &host, port, &user, &password)
        })
        .await
        .map(Some)
        .expect("starting PgBouncer")
    }

    fn start_blocking(
        program: &str,
        host: &str,
        server_port: u16,
        user: &str,
        password: &str,
    ) -> Self {
        let dir = crate::temp_dir();
        let port = free_port();
        let config = dir.path().join("pgbouncer.ini");
        let users = dir.path().join("users.txt");
        // Clients are trusted (loopback, the test's own); PgBouncer logs in to Postgres with the
        // auth file's password for the user.
        std::fs::write(
            &users,
            format!("\"{}\" \"{}\"\n", quote(user), quote(password)),
        )
        .expect("writing the PgBouncer auth file");
        std::fs::write(
            &config,
            format!(
                "[databases]\n\
                 * = host={host} port={server_port}\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {users}\n\
                 pool_mode = transaction\n\
                 default_pool_size = {POOL_SIZE}\n\
                 min_pool_size = 0\n\
                 reserve_pool_size = 0\n\
                 server_round_robin = 1\n\
                 max_client_conn = 500\n\
                 max_db_connections = 0\n\
                 server_check_delay = 0\n\
                 logfile = {log}\n",
                users = users.display(),
                log = dir.path().join("pgbouncer.log").display(),
            ),
        )
        .expect("writing the PgBouncer configuration");
        let mut command = Command::new(program);
        if running_as_root() {
            // PgBouncer refuses to run as root; `-u` makes it switch to that user, which must be
            // able to read the configuration and write the log.
            for path in [dir.path(), config.as_path(), users.as_path()] {
                let mode = if path.is_dir() { 0o777 } else { 0o644 };
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .expect("opening the PgBouncer directory to its user");
            }
            command.args(["-u", "nobody"]);
        }
        let child = command
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}"));
        let mut bouncer = Self { port, child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !is_listening(port) {
            if let Ok(Some(status)) = bouncer.child.try_wait() {
                panic!("PgBouncer exited ({status}): {}", bouncer.log());
            }
            assert!(
                Instant::now() < deadline,
                "PgBouncer did not listen on 127.0.0.1:{port} within 10 s: {}",
                bouncer.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        bouncer
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `database_url` (a URL of the Postgres behind it) through this PgBouncer: same user,
    /// password and database, its address, and `pgbouncer=true`, which tells Gatehouse it
    /// talks to a transaction pooler.
    pub fn url_for(&self, database_url: &str) -> String {
        let mut url = self.plain_url_for(database_url);
        url.push_str(if url.contains('?') { "&" } else { "?" });
        url.push_str("pgbouncer=true");
        url
    }

    /// [`PgBouncer::url_for`] without `pgbouncer=true`: as if the operator had not said that
    /// the URL names a transaction pooler.
    pub fn plain_url_for(&self, database_url: &str) -> String {
        let mut url = url::Url::parse(database_url).expect("a database URL");
        url.set_host(Some("127.0.0.1")).expect("a host");
        url.set_port(Some(self.port)).expect("a port");
        url.to_string()
    }

    /// What PgBouncer logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether this process runs as root: `/proc/self` belongs to the process's effective user.
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn decode(part: &str) -> String {
    // Form decoding is percent decoding plus `+` as a space, which a URL's user part does not
    // have: a `+` is kept by encoding it first.
    url::form_urlencoded::parse(format!("x={}", part.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A value inside the auth file's double quotes (a `"` is doubled).
fn quote(value: &str) -> String {
    value.replace('"', "\"\"")
}
