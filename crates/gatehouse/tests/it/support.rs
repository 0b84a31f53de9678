//! Starts the real `gatehouse` binary on free ports and talks to it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test: this build's, or another one named by `GATEHOUSE_TEST_BIN` (e.g. an
/// earlier release's, to watch a new test fail on it).
pub fn bin() -> String {
    std::env::var("GATEHOUSE_TEST_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_gatehouse").to_owned())
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    l.local_addr().expect("local addr").port()
}

pub fn is_listening(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// A `gatehouse` command with a clean environment of its own (no inherited GATEHOUSE_*).
pub fn command(data_dir: &Path) -> Command {
    let mut cmd = Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("GATEHOUSE_") || k == "DATABASE_URL" || k == "REDIS_URL" {
            cmd.env_remove(k);
        }
    }
    cmd.env("GATEHOUSE_DATA_DIR", data_dir)
        .env("GATEHOUSE_LOG", "info,sqlx=warn");
    cmd
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .expect("running gatehouse")
}

/// A running `gatehouse serve …`, stopped (SIGKILL) on drop if the test did not stop it.
pub struct Server {
    child: Option<Child>,
    pub public: u16,
    pub admin: u16,
    pub grpc: u16,
    pub login: u16,
    pub data_dir: tempfile::TempDir,
    log: PathBuf,
}

pub struct ServerBuilder {
    role: &'static str,
    env: Vec<(String, String)>,
    /// Appended to the default issuer (`http://127.0.0.1:<public port>`).
    issuer_path: String,
}

impl ServerBuilder {
    pub fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.push((k.to_owned(), v.into()));
        self
    }

    /// An issuer with a path: `http://127.0.0.1:<public port><path>`.
    pub fn issuer_path(mut self, path: &str) -> Self {
        path.clone_into(&mut self.issuer_path);
        self
    }

    pub fn start(self) -> Server {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let (public, admin, grpc, login) = (free_port(), free_port(), free_port(), free_port());
        let log = data_dir.path().join("gatehouse.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = command(data_dir.path());
        cmd.args(["serve", self.role])
            .env("GATEHOUSE_DEV", "true")
            .env(
                "GATEHOUSE_ISSUER",
                format!("http://127.0.0.1:{public}{}", self.issuer_path),
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
        let mut server = Server {
            child: Some(child),
            public,
            admin,
            grpc,
            login,
            data_dir,
            log,
        };
        let port = if self.role == "login" { login } else { public };
        server.wait_listening(port);
        server
    }
}

impl Server {
    pub fn builder(role: &'static str) -> ServerBuilder {
        ServerBuilder {
            role,
            env: Vec::new(),
            issuer_path: String::new(),
        }
    }

    pub fn url(port: u16, path: &str) -> String {
        format!("http://127.0.0.1:{port}{path}")
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if is_listening(port) {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("gatehouse exited early with {status}:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "gatehouse did not listen on {port} within 30 s:\n{}",
            self.logs()
        );
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

/// Polls `url` until `check(status, body)` holds or `timeout` passes; returns the last answer.
pub async fn poll_until(
    url: &str,
    timeout: Duration,
    check: impl Fn(u16, &str) -> bool,
) -> (u16, String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let deadline = Instant::now() + timeout;
    loop {
        let answer = match client.get(url).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        };
        if check(answer.0, &answer.1) || Instant::now() >= deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn get(url: &str) -> (u16, String) {
    poll_until(url, Duration::ZERO, |_, _| true).await
}

/// A throwaway redis-server of the test's own on a free port, so the test can stop and restart
/// it without disturbing other tests.
pub struct OwnRedis {
    child: Option<Child>,
    pub port: u16,
}

impl OwnRedis {
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

/// Runs the operator CLI against the admin API on `admin_port`, `stdin` as its input, and
/// returns its standard output; panics (with its standard error) when it fails.
pub fn admin_cli(admin_port: u16, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write as _;
    let mut child = Command::new(bin())
        .args(args)
        .env_remove("GATEHOUSE_ADMIN_TOKEN")
        .env(
            "GATEHOUSE_ADMIN_URL",
            format!("http://127.0.0.1:{admin_port}"),
        )
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the CLI");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("writing stdin");
    }
    let out = child.wait_with_output().expect("CLI output");
    assert!(
        out.status.success(),
        "gatehouse {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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

pub const HIDDEN_SCOPES: [&str; 3] = ["openid", "offline", "offline_access"];

/// RFC 7636 Appendix B's verifier and its S256 challenge.
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

impl Partner {
    /// Registers the scopes, the client (`--token-endpoint-auth-method none`, loopback
    /// callback, optional logo) and the user through the CLI against `admin_port`.
    pub fn register(admin_port: u16, redirect_uri: &str, logo_uri: Option<&str>) -> Self {
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
            admin_cli(
                admin_port,
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
        let created = admin_cli(admin_port, &args, None);
        assert_eq!(created, "OAuth 2.0 Client ID: neoncli\n");
        admin_cli(
            admin_port,
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
    let answer = http
        .post(token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &partner.redirect_uri),
            ("client_id", partner.client_id),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .send()
        .await
        .expect("token request");
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
    let answer = http
        .get(userinfo_endpoint)
        .bearer_auth(access)
        .send()
        .await
        .expect("userinfo request");
    let status = answer.status();
    let claims: serde_json::Value = answer.json().await.expect("userinfo JSON");
    assert_eq!(status, 200, "{claims}");
    assert_eq!(claims["preferred_username"], partner.username, "{claims}");
    // A second redemption of the same code is refused (single use), and ends the grant.
    let again = http
        .post(token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &partner.redirect_uri),
            ("client_id", partner.client_id),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(again.status(), 400);

    let after = http
        .get(userinfo_endpoint)
        .bearer_auth(access)
        .send()
        .await
        .expect("userinfo request");
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
