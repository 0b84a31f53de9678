//! The real `gatehouse` binary, end to end: the binary under test, its commands with a clean
//! environment, `gatehouse serve …` on free ports (stopped gracefully or killed), a Redis of
//! the test's own to stop and pause, and the partner a seed registers through the CLI with the
//! flows it runs.
//!
//! The binary's path is the test crate's to give: Cargo tells only the `gatehouse` crate's own
//! tests where it built the binary (`env!("CARGO_BIN_EXE_gatehouse")`), so those tests build a
//! [`Gatehouse`] from it; `GATEHOUSE_TEST_BIN` overrides it (e.g. an earlier release's binary,
//! to watch a new test fail on it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cli::AdminCli;
use crate::fixtures::{PKCE_CHALLENGE, PKCE_VERIFIER};
use crate::http::{free_port, get, is_listening, poll_until};

/// The environment variable that names another binary to test than this build's.
pub const TEST_BIN_VAR: &str = "GATEHOUSE_TEST_BIN";

/// The binary under test.
#[derive(Debug, Clone)]
pub struct Gatehouse {
    path: PathBuf,
}

impl Gatehouse {
    /// The binary Cargo built at `built` (pass `env!("CARGO_BIN_EXE_gatehouse")`), or the one
    /// `GATEHOUSE_TEST_BIN` names.
    pub fn new(built: impl Into<PathBuf>) -> Self {
        let path = std::env::var_os(TEST_BIN_VAR)
            .filter(|p| !p.is_empty())
            .map_or_else(|| built.into(), PathBuf::from);
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A `gatehouse` command with a clean environment of its own (no inherited `GATEHOUSE_*`,
    /// `DATABASE_URL` or `REDIS_URL`), its data in `data_dir` and `info` logging.
    pub fn command(&self, data_dir: &Path) -> Command {
        let mut cmd = Command::new(&self.path);
        for (k, _) in std::env::vars() {
            if k.starts_with("GATEHOUSE_") || k == "DATABASE_URL" || k == "REDIS_URL" {
                cmd.env_remove(k);
            }
        }
        cmd.env("GATEHOUSE_DATA_DIR", data_dir)
            .env("GATEHOUSE_LOG", "info,sqlx=warn");
        cmd
    }

    /// A `gatehouse serve <role>` to configure and start.
    pub fn server(&self, role: &'static str) -> ServerBuilder {
        ServerBuilder {
            bin: self.clone(),
            role,
            env: Vec::new(),
            issuer_path: String::new(),
            issuer_host: "127.0.0.1",
        }
    }

    /// The operator CLI against the admin API at `endpoint`.
    pub fn cli(&self, endpoint: impl Into<String>) -> AdminCli {
        AdminCli::new(&self.path, endpoint)
    }
}

/// Runs `cmd` with no standard input and waits for its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .expect("running gatehouse")
}

/// A running `gatehouse serve …` on free loopback ports, with its data and log in a temporary
/// directory; stopped (SIGKILL) on drop if the test did not stop it.
pub struct Server {
    bin: Gatehouse,
    child: Option<Child>,
    pub public: u16,
    pub admin: u16,
    pub grpc: u16,
    pub login: u16,
    pub data_dir: tempfile::TempDir,
    log: PathBuf,
}

/// A `gatehouse serve <role>` to start: development mode, an issuer on its public port, every
/// listener on a free loopback port, a 5 s shutdown grace.
pub struct ServerBuilder {
    bin: Gatehouse,
    role: &'static str,
    env: Vec<(String, String)>,
    /// Appended to the default issuer (`http://127.0.0.1:<public port>`).
    issuer_path: String,
    /// The issuer's host: `127.0.0.1`, or `localhost` where an IP address will not do (a
    /// WebAuthn RP ID is a domain). The listeners stay on 127.0.0.1 either way.
    issuer_host: &'static str,
}

impl ServerBuilder {
    /// Sets an environment variable of the server (after the defaults, so it overrides them).
    pub fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.push((k.to_owned(), v.into()));
        self
    }

    /// An issuer with a path: `http://127.0.0.1:<public port><path>`.
    pub fn issuer_path(mut self, path: &str) -> Self {
        path.clone_into(&mut self.issuer_path);
        self
    }

    /// An issuer on `http://<host>:<public port>` (e.g. `localhost`, which passkeys need)
    /// instead of `http://127.0.0.1:<public port>`.
    pub fn issuer_host(mut self, host: &'static str) -> Self {
        self.issuer_host = host;
        self
    }

    /// Starts the server and waits until it listens (its public port, or the login port for
    /// `serve login`); panics with its log when it exits or does not listen within 30 s.
    ///
    /// A free port is only free when it is picked: another process (a test's Redis node, another
    /// server) may take it before the server binds it. A server that exits at once because one
    /// of its ports is in use is started again on other ports, up to [`START_ATTEMPTS`] times.
    pub fn start(self) -> Server {
        for attempt in 1..=START_ATTEMPTS {
            let mut server = self.spawn();
            let port = if self.role == "login" {
                server.login
            } else {
                server.public
            };
            match server.wait_listening(port) {
                Ok(()) => return server,
                Err(logs) if attempt < START_ATTEMPTS && logs.contains(" is in use") => {}
                Err(logs) => panic!("{logs}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    fn spawn(&self) -> Server {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let (public, admin, grpc, login) = (free_port(), free_port(), free_port(), free_port());
        let log = data_dir.path().join("gatehouse.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = self.bin.command(data_dir.path());
        cmd.args(["serve", self.role])
            .env("GATEHOUSE_DEV", "true")
            .env(
                "GATEHOUSE_ISSUER",
                format!("http://{}:{public}{}", self.issuer_host, self.issuer_path),
            )
            .env("GATEHOUSE_PUBLIC_ADDR", format!("127.0.0.1:{public}"))
            .env("GATEHOUSE_ADMIN_ADDR", format!("127.0.0.1:{admin}"))
            .env("GATEHOUSE_GRPC_ADDR", format!("127.0.0.1:{grpc}"))
            .env("GATEHOUSE_LOGIN_ADDR", format!("127.0.0.1:{login}"))
            .env(
                "GATEHOUSE_LOGIN_ADMIN_ADDR",
                format!("127.0.0.1:{}", free_port()),
            )
            .env("GATEHOUSE_SHUTDOWN_GRACE", "5s")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawning gatehouse");
        Server {
            bin: self.bin.clone(),
            child: Some(child),
            public,
            admin,
            grpc,
            login,
            data_dir,
            log,
        }
    }
}

/// How many times [`ServerBuilder::start`] tries when a picked port was taken meanwhile.
const START_ATTEMPTS: u32 = 5;

impl Server {
    /// The operator CLI against this server's admin API.
    pub fn cli(&self) -> AdminCli {
        self.bin.cli(Self::url(self.admin, ""))
    }

    /// Runs the operator CLI against this server's admin API, `stdin` as its input, and returns
    /// its standard output; panics (with its standard error) when it fails.
    pub fn admin_cli(&self, args: &[&str], stdin: Option<&str>) -> String {
        self.cli().ok(args, stdin)
    }

    pub fn url(port: u16, path: &str) -> String {
        format!("http://127.0.0.1:{port}{path}")
    }

    /// Everything the server logged so far (standard output and error).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `/health/ready` on `port` (one of this server's listeners) until it answers
    /// `want`, and returns the body; panics with the server's log when it does not within
    /// `within`.
    pub async fn readiness_becomes(&self, port: u16, want: u16, within: Duration) -> String {
        let (status, body) =
            poll_until(&Self::url(port, "/health/ready"), within, |s, _| s == want).await;
        assert_eq!(
            status,
            want,
            "readiness on {port} did not turn {want} within {within:?}: {body}\n{}",
            self.logs()
        );
        body
    }

    /// Waits until the server listens on `port`; the failure (with the server's log) when it
    /// exits first or does not listen within 30 s.
    fn wait_listening(&mut self, port: u16) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if is_listening(port) {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!(
                    "gatehouse exited early with {status}:\n{}",
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "gatehouse did not listen on {port} within 30 s:\n{}",
            self.logs()
        ))
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        self.sigterm_and_wait()
    }

    /// Sends SIGTERM, waits for the exit status and returns it with everything the process
    /// logged (the log goes with the data directory once the server is dropped).
    pub fn terminate_with_logs(mut self) -> (ExitStatus, String) {
        let status = self.sigterm_and_wait();
        (status, self.logs())
    }

    fn sigterm_and_wait(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success(), "could not signal gatehouse");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "gatehouse did not exit within 15 s of SIGTERM:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A throwaway redis-server of the test's own on a free port, so the test can stop and restart
/// it without disturbing other tests.
pub struct OwnRedis {
    child: Option<Child>,
    pub port: u16,
}

impl OwnRedis {
    /// Starts `redis-server` (Debian package redis-server) on `port` and waits until it listens.
    pub fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed to run the Redis fault test (Debian package redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !is_listening(port) {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child: Some(child),
            port,
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing is answered. A hung store.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (SIGCONT), with everything it held.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("redis-server is running");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal} redis-server");
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The seed's partner: a public PKCE client like `neoncli`, its two project scopes in the
/// catalogue, and a user to sign in with.
pub struct Partner {
    pub client_id: &'static str,
    pub redirect_uri: String,
    pub username: &'static str,
    pub password: &'static str,
    /// What the authorization request asks for: hidden technical scopes and visible ones.
    pub scope: &'static str,
    /// The scopes the consent page lists (the others are hidden).
    pub visible: [&'static str; 3],
}

/// The technical scopes the consent page does not list.
pub const HIDDEN_SCOPES: [&str; 3] = ["openid", "offline", "offline_access"];

impl Partner {
    /// Registers the scopes, the client (`--token-endpoint-auth-method none`, loopback
    /// callback, optional logo) and the user through the CLI against `server`'s admin API.
    pub fn register(server: &Server, redirect_uri: &str, logo_uri: Option<&str>) -> Self {
        let cli = server.cli();
        let partner = Self {
            client_id: "neoncli",
            redirect_uri: redirect_uri.to_owned(),
            username: "alice",
            password: "correct horse battery staple",
            scope: "openid offline offline_access profile urn:neoncloud:projects:read urn:neoncloud:projects:create",
            visible: [
                "profile",
                "urn:neoncloud:projects:read",
                "urn:neoncloud:projects:create",
            ],
        };
        for (name, label, description) in [
            (
                "urn:neoncloud:projects:read",
                "Read your projects",
                "See your projects and their settings.",
            ),
            (
                "urn:neoncloud:projects:create",
                "Create projects",
                "Create new projects in your Neon account.",
            ),
        ] {
            cli.ok(
                &[
                    "scopes",
                    "create",
                    name,
                    "--label",
                    label,
                    "--description",
                    description,
                ],
                None,
            );
        }
        let mut args = vec![
            "clients",
            "create",
            "--name",
            "Neon CLI",
            "--id",
            partner.client_id,
            "--callbacks",
            redirect_uri,
            "--grant-types",
            "authorization_code,refresh_token",
            "--response-types",
            "code",
            "--scope",
            partner.scope,
            "--token-endpoint-auth-method",
            "none",
            "--client-uri",
            "https://neon.example/cli",
            "--policy-uri",
            "https://neon.example/privacy",
            "--tos-uri",
            "https://neon.example/terms",
        ];
        if let Some(logo) = logo_uri {
            args.extend(["--logo-uri", logo]);
        }
        let created = cli.ok(&args, None);
        assert_eq!(created, "OAuth 2.0 Client ID: neoncli\n");
        cli.ok(
            &[
                "users",
                "create",
                "--username",
                partner.username,
                "--name",
                "Alice Example",
                "--email",
                "alice@example.com",
                "--email-verified",
                "--password-stdin",
            ],
            Some(&format!("{}\n", partner.password)),
        );
        partner
    }

    /// The authorization request's query string (PKCE S256, `state`, `nonce`).
    pub fn authorization_query(&self, state: &str) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", self.client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", self.scope)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("state", state)
            .append_pair("nonce", "n-0S6_WzA2Mj")
            .append_pair("code_challenge", PKCE_CHALLENGE)
            .append_pair("code_challenge_method", "S256")
            .finish()
    }
}

/// The discovery document at `base`.
pub async fn discovery(base: &str) -> serde_json::Value {
    let (status, body) = get(&format!("{base}/.well-known/openid-configuration")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("discovery JSON")
}

/// Redeems `code` at `token_endpoint` as the public client (PKCE, no secret), checks the
/// response and calls `userinfo_endpoint` with the access token; returns the userinfo claims.
pub async fn redeem_and_call_userinfo(
    partner: &Partner,
    token_endpoint: &str,
    userinfo_endpoint: &str,
    code: &str,
) -> serde_json::Value {
    let http = reqwest::Client::new();
    let redeem = || {
        http.post(token_endpoint)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &partner.redirect_uri),
                ("client_id", partner.client_id),
                ("code_verifier", PKCE_VERIFIER),
            ])
            .send()
    };
    let userinfo = |access: &str| http.get(userinfo_endpoint).bearer_auth(access).send();
    let answer = redeem().await.expect("token request");
    let status = answer.status();
    let tokens: serde_json::Value = answer.json().await.expect("token JSON");
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer", "{tokens}");
    for field in ["access_token", "refresh_token", "id_token"] {
        assert!(
            tokens[field].as_str().is_some_and(|t| !t.is_empty()),
            "{field} missing: {tokens}"
        );
    }
    let access = tokens["access_token"].as_str().unwrap_or_default();
    let answer = userinfo(access).await.expect("userinfo request");
    let status = answer.status();
    let claims: serde_json::Value = answer.json().await.expect("userinfo JSON");
    assert_eq!(status, 200, "{claims}");
    assert_eq!(claims["preferred_username"], partner.username, "{claims}");
    // A second redemption of the same code is refused (single use), and ends the grant.
    let again = redeem().await.expect("token request");
    assert_eq!(again.status(), 400);

    let after = userinfo(access).await.expect("userinfo request");
    assert_eq!(
        after.status(),
        401,
        "a replayed code revokes its access token"
    );
    claims
}

/// Splits a space-separated scope string into a sorted list.
pub fn scope_set(scope: &str) -> Vec<String> {
    let mut scopes: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
    scopes.sort();
    scopes
}
