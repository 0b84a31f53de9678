//! A real SMTP server for the mail tests: `aiosmtpd` (PyPI, pinned in
//! `tests/mail/requirements.txt`, installed by `scripts/test`) on a free loopback port, writing
//! each message it receives into a Maildir the test reads back, parsed as MIME ([`Mail`]).
//!
//! Starting it fails the test, loudly, when `python3` or `aiosmtpd` is missing: a mail test
//! never passes by sending nowhere.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::http::{free_port, is_listening};

/// `python3 -m aiosmtpd` on `127.0.0.1:<port>`, Mailbox handler into a directory of its own.
pub struct SmtpSink {
    pub port: u16,
    maildir: tempfile::TempDir,
    child: Child,
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: String,
    pub subject: String,
    /// The `text/plain` part, decoded.
    pub text: String,
    /// The `text/html` part, decoded.
    pub html: String,
    /// The whole message as received (headers and encoded parts).
    pub raw: String,
}

impl Mail {
    /// The first `http(s)` URL in the text part whose path contains `path`.
    pub fn link(&self, path: &str) -> Option<String> {
        self.text
            .split_whitespace()
            .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
            .find(|w| w.contains(path))
            .map(str::to_owned)
    }
}

impl SmtpSink {
    /// Starts the server and waits until it accepts connections.
    pub async fn start() -> Self {
        let maildir = tempfile::tempdir().expect("a temporary Maildir");
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            // A path that does not exist yet: Python's Maildir creates its subdirectories only
            // when it creates the directory itself.
            .arg(maildir.path().join("box"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting the SMTP test server (python3 -m aiosmtpd) failed: {e}; install it with `python3 -m pip install -r tests/mail/requirements.txt`")
            });
        let mut sink = Self {
            port,
            maildir,
            child,
        };
        for _ in 0..200 {
            if is_listening(port) {
                return sink;
            }
            if let Ok(Some(status)) = sink.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = sink.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                panic!(
                    "the SMTP test server exited ({status}): {stderr}\ninstall it with `python3 -m pip install -r tests/mail/requirements.txt`"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the SMTP test server did not listen on 127.0.0.1:{port} within 10 s");
    }

    /// `smtp://127.0.0.1:<port>` (plain SMTP: it is loopback).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        read_maildir(&self.maildir.path().join("box").join("new"))
    }

    /// The messages to `to` received so far.
    pub fn messages_to(&self, to: &str) -> Vec<Mail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.contains(to))
            .collect()
    }

    /// Waits (up to 15 s) until `count` messages to `to` arrived; answers them, oldest first.
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<Mail> {
        for _ in 0..300 {
            let found = self.messages_to(to);
            if found.len() >= count {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {count} message(s) to {to} within 15 s; the server has: {:#?}",
            self.messages()
                .iter()
                .map(|m| (&m.to, &m.subject))
                .collect::<Vec<_>>()
        );
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_maildir(dir: &Path) -> Vec<Mail> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((modified, e.path()))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|(_, path)| std::fs::read(path).ok())
        .filter_map(|raw| parse(&raw))
        .collect()
}

/// A message parsed as MIME; `None` for one that does not parse (the test then sees it missing).
pub fn parse(raw: &[u8]) -> Option<Mail> {
    use mailparse::MailHeaderMap as _;
    let parsed = mailparse::parse_mail(raw).ok()?;
    let header = |name: &str| parsed.headers.get_first_value(name).unwrap_or_default();
    let mut text = String::new();
    let mut html = String::new();
    let mut parts = vec![&parsed];
    while let Some(part) = parts.pop() {
        match part.ctype.mimetype.as_str() {
            "text/plain" => text = part.get_body().unwrap_or_default(),
            "text/html" => html = part.get_body().unwrap_or_default(),
            _ => parts.extend(part.subparts.iter()),
        }
    }
    Some(Mail {
        from: header("From"),
        to: header("To"),
        subject: header("Subject"),
        text,
        html,
        raw: String::from_utf8_lossy(raw).into_owned(),
    })
}
