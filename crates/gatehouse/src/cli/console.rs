//! `gatehouse console bootstrap`: the first administrator of the operator console.
//!
//! A new deployment has no user who may sign into the console; this creates one, with the role
//! `admin`, through the admin API like every other command (so the change is in the audit log).
//! It never changes an existing user: for that, `gatehouse users update USER --add-role admin`
//! says plainly what it does.

use anyhow::bail;
use clap::Subcommand;
use gatehouse_core::secret::SecretString;
use gatehouse_core::user::Username;
use serde_json::json;
use std::io::Write;

use super::http::{AdminApi, failure_status};
use super::input::new_password;
use super::output::{emit, render, text};
use super::{AdminConnection, OutputFormat, one_line};

#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// Create the first administrator: a new user with the role admin, who can then sign into
    /// the operator console (/console on the admin listener). Asks for the password unless
    /// --password-stdin is given. Fails, changing nothing, when the username is taken.
    Bootstrap {
        /// Sign-in name of the new administrator.
        #[arg(long)]
        username: String,
        /// Read the password from standard input instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
}

pub async fn run_console(conn: &AdminConnection, cmd: ConsoleCommand) -> anyhow::Result<()> {
    let api = AdminApi::new(conn).map_err(one_line)?;
    execute(
        &api,
        conn.format,
        cmd,
        &mut std::io::stdout(),
        &mut new_password,
    )
    .await
    .map_err(one_line)
}

fn taken(username: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "a user named {username:?} already exists; nothing was changed. To make that user an administrator, run: gatehouse users update {username} --add-role admin"
    )
}

/// `password(from_stdin)` supplies the new password: stdin or the prompt, or a fixed one in
/// tests.
pub(crate) async fn execute(
    api: &AdminApi,
    format: OutputFormat,
    cmd: ConsoleCommand,
    out: &mut dyn Write,
    password: &mut dyn FnMut(bool) -> anyhow::Result<SecretString>,
) -> anyhow::Result<()> {
    match cmd {
        ConsoleCommand::Bootstrap {
            username,
            password_stdin,
        } => {
            let username =
                Username::parse(username.trim()).map_err(|e| anyhow::anyhow!("--username: {e}"))?;
            let name = username.as_str();
            // Checked before asking for a password, so a taken name costs the operator nothing.
            let existing = api.list(&["admin", "users"], &[("username", name)]).await?;
            if !existing.is_empty() {
                return Err(taken(name));
            }
            let secret = password(password_stdin)?;
            let body = json!({
                "username": name,
                "password": secret.expose(),
                "roles": ["admin"],
            });
            let created = match api.post(&["admin", "users"], &[], &body).await {
                Ok(created) => created,
                // Someone took the name between the check and the create.
                Err(e) if failure_status(&e) == Some(reqwest::StatusCode::CONFLICT) => {
                    return Err(taken(name));
                }
                Err(e) => return Err(e),
            };
            if text(&created, "id").is_empty() {
                bail!("the admin API answered the new user without an id");
            }
            emit(
                out,
                &render(format, &created, |u| {
                    format!(
                        "Administrator {} created with ID {}; sign in to the operator console at /console on the admin listener.\n",
                        text(u, "username"),
                        text(u, "id")
                    )
                }),
            )
        }
    }
}
