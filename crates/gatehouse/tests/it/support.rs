//! Starts the real `gatehouse` binary on free ports and talks to it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

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
    let mut cmd = Command::new(BIN);
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
}

impl ServerBuilder {
    pub fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.push((k.to_owned(), v.into()));
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
            .env("GATEHOUSE_ISSUER", format!("http://127.0.0.1:{public}"))
            .env("GATEHOUSE_PUBLIC_ADDR", format!("127.0.0.1:{public}"))
            .env("GATEHOUSE_ADMIN_ADDR", format!("127.0.0.1:{admin}"))
            .env("GATEHOUSE_GRPC_ADDR", format!("127.0.0.1:{grpc}"))
            .env("GATEHOUSE_LOGIN_ADDR", format!("127.0.0.1:{login}"))
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
