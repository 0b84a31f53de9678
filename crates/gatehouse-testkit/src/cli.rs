//! The CLI runner: runs the real `gatehouse` binary's operator commands (`clients|scopes|users|
//! keys …`) against an admin API, with standard input if the command reads one, and captures
//! what it printed and how it exited.
//!
//! The binary's path comes from the test ([`crate::e2e::Gatehouse`]); the admin API may be the
//! real binary's ([`crate::e2e::Server::cli`]) or a router the test serves itself
//! ([`crate::http::serve`]): then run the command with [`AdminCli::run_async`], so the test's
//! runtime keeps serving while the command waits for its answers.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};

/// The operator CLI pointed at one admin API (`GATEHOUSE_ADMIN_URL`, no admin token).
#[derive(Debug, Clone)]
pub struct AdminCli {
    bin: PathBuf,
    endpoint: String,
}

/// What one command printed and how it exited.
#[derive(Debug, Clone)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// The exit code (`None` when killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// `Ok(stdout)` on success; otherwise `Err` with the command's last error line, without its
    /// `error: ` prefix (the line that says why the command failed).
    pub fn result(&self) -> Result<String, String> {
        if self.success() {
            return Ok(self.stdout.clone());
        }
        let last = self
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        Err(last.strip_prefix("error: ").unwrap_or(last).to_owned())
    }
}

impl AdminCli {
    /// The CLI of the binary at `bin`, talking to the admin API at `endpoint` (a base URL).
    pub fn new(bin: impl Into<PathBuf>, endpoint: impl Into<String>) -> Self {
        Self {
            bin: bin.into(),
            endpoint: endpoint.into(),
        }
    }

    /// The admin API's base URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Runs `gatehouse <args>`, writing `stdin` (if any) to its standard input, and waits for it.
    /// Blocks the thread: in a test that serves the admin API itself, use [`Self::run_async`].
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        let mut child = Command::new(&self.bin)
            .args(args)
            .env_remove("GATEHOUSE_ADMIN_TOKEN")
            .env("GATEHOUSE_ADMIN_URL", &self.endpoint)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()));
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("writing stdin");
        }
        let out = child.wait_with_output().expect("CLI output");
        CliOutput {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// [`Self::run`] on a blocking thread, so the calling runtime goes on serving meanwhile.
    pub async fn run_async(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        let cli = self.clone();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let stdin = stdin.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli.run(&args, stdin.as_deref())
        })
        .await
        .expect("the CLI thread")
    }

    /// Runs the command and returns its standard output; panics (with its standard error) when
    /// it fails.
    pub fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.success(),
            "gatehouse {}: {}",
            args.join(" "),
            out.stderr
        );
        out.stdout
    }
}
