//! The operator CLI: `gatehouse clients|scopes|users|keys|registration-tokens|registrations|audit|console …`.
//!
//! Every command talks to the admin REST API over HTTP, never to a database, so it works the same
//! against a remote server as against a local one and the admin API stays the one place that
//! validates and writes. Flags and output follow Ory Hydra's CLI, so the command lines operators
//! already use (`hydra clients create … / list / update …`) work with `gatehouse` in place of
//! `hydra`.
//!
//! Each command checks all of its flags (and reads any secret from stdin or the prompt) before
//! it sends a request, so a mistake in a flag never leaves anything half-written.

mod audit;
mod certs;
mod clients;
mod console;
mod help_markdown;
mod http;
mod import;
mod input;
mod keys;
mod output;
mod registration_tokens;
mod registrations;
mod scopes;
mod user_import;
mod users;

use clap::{Args, ValueEnum};
use gatehouse_core::secret::SecretString;

pub use audit::{AuditCommand, run_audit};
pub use certs::{CertsCommand, run_certs};
pub use clients::{ClientsCommand, ClientsOptions, run_clients};
pub use console::{ConsoleCommand, run_console};
pub use help_markdown::help_markdown;
pub use keys::{KeysCommand, run_keys};
pub use registration_tokens::{RegistrationTokensCommand, run_registration_tokens};
pub use registrations::{RegistrationsCommand, run_registrations};
pub use scopes::{ScopesCommand, run_scopes};
pub use users::{UsersCommand, run_users};

/// Where the admin API is and how to talk to it; accepted before or after the subcommand.
#[derive(Debug, Clone, Args)]
pub struct AdminConnection {
    /// Base URL of the admin API (the admin listener).
    #[arg(
        long,
        short = 'e',
        global = true,
        env = "GATEHOUSE_ADMIN_URL",
        default_value = "http://127.0.0.1:4445",
        value_name = "URL"
    )]
    pub endpoint: String,

    /// Bearer token for the admin API (required when it listens on a non-loopback address).
    #[arg(
        long,
        global = true,
        env = "GATEHOUSE_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = input::secret_arg
    )]
    pub token: Option<SecretString>,

    /// How to print results.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Table, value_name = "FORMAT")]
    pub format: OutputFormat,

    /// Accepted so Hydra 1.x command lines run unchanged; has no effect.
    #[arg(long, global = true, hide = true)]
    pub fake_tls_termination: bool,
}

/// Output format of every command, as Hydra v2 names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable tables and messages, as Hydra prints them.
    #[default]
    Table,
    /// The admin API's JSON on one line, for scripts.
    Json,
    /// The admin API's JSON, indented.
    JsonPretty,
    /// The admin API's JSON as YAML.
    Yaml,
}

impl OutputFormat {
    /// Whether the command prints data (JSON or YAML) rather than tables and messages.
    pub fn is_data(self) -> bool {
        self != Self::Table
    }
}

/// Collapses an error chain into one message, so `{}` and `{:#}` print the same single line.
fn one_line(err: anyhow::Error) -> anyhow::Error {
    let text = format!("{err:#}");
    anyhow::anyhow!(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The end of a command that acts on several items: each is tried, every failure is reported,
/// and the command fails if any did. A batch of one fails with that one error, unwrapped.
fn batch_outcome(
    mut failures: Vec<(String, anyhow::Error)>,
    total: usize,
    items: &str,
    verb: &str,
) -> anyhow::Result<()> {
    if total == 1
        && let Some((_, err)) = failures.pop()
    {
        return Err(err);
    }
    if failures.is_empty() {
        return Ok(());
    }
    for (label, err) in &failures {
        eprintln!("error: {label}: {}", one_line(anyhow::anyhow!("{err:#}")));
    }
    let failed = failures.len();
    anyhow::bail!(
        "{failed} of {total} {items} were not {verb} (see above); the other {} were",
        total - failed
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use clap::{CommandFactory, Parser, Subcommand};

    /// The shape `main.rs` gives the CLI.
    #[derive(Debug, Parser)]
    #[command(name = "gatehouse")]
    pub(crate) struct TestCli {
        #[command(subcommand)]
        pub cmd: Top,
    }

    #[derive(Debug, Subcommand)]
    pub(crate) enum Top {
        Clients {
            #[command(flatten)]
            conn: AdminConnection,
            #[command(flatten)]
            options: ClientsOptions,
            #[command(subcommand)]
            cmd: ClientsCommand,
        },
        Scopes {
            #[command(flatten)]
            conn: AdminConnection,
            #[command(subcommand)]
            cmd: ScopesCommand,
        },
        Users {
            #[command(flatten)]
            conn: AdminConnection,
            #[command(subcommand)]
            cmd: UsersCommand,
        },
    }

    pub(crate) fn parse(line: &[&str]) -> Result<Top, clap::Error> {
        TestCli::try_parse_from(std::iter::once("gatehouse").chain(line.iter().copied()))
            .map(|c| c.cmd)
    }

    #[test]
    fn command_definitions_are_consistent() {
        TestCli::command().debug_assert();
    }

    #[test]
    fn connection_flags_are_accepted_before_and_after_the_subcommand() {
        for line in [
            &[
                "clients",
                "--format",
                "json",
                "--endpoint",
                "http://admin:9",
                "list",
            ][..],
            &[
                "clients",
                "list",
                "--format",
                "json",
                "--endpoint",
                "http://admin:9",
            ][..],
            &[
                "clients",
                "--fake-tls-termination",
                "list",
                "--format=json",
                "-e",
                "http://admin:9",
            ][..],
        ] {
            match parse(line) {
                Ok(Top::Clients {
                    conn,
                    cmd: ClientsCommand::List,
                    ..
                }) => {
                    assert_eq!(conn.format, OutputFormat::Json);
                    assert_eq!(conn.endpoint, "http://admin:9");
                }
                other => panic!("{line:?} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn one_line_flattens_context_and_newlines() {
        let err = anyhow::anyhow!("inner\nproblem").context("outer");
        assert_eq!(one_line(err).to_string(), "outer: inner problem");
    }
}
