//! `gatehouse registration-tokens create|list|revoke`: initial access tokens, which let a partner
//! register clients at `POST /oauth2/register` (RFC 7591) without an operator.
//!
//! `create` prints the token once; only its hash is stored, so a lost token is revoked and a new
//! one made.

use std::io::Write;
use std::time::Duration;

use clap::Subcommand;
use serde_json::{Map, Value, json};

use super::http::AdminApi;
use super::output::{emit, items, render, table, text};
use super::{AdminConnection, OutputFormat, batch_outcome, one_line};

#[derive(Debug, Subcommand)]
pub enum RegistrationTokensCommand {
    /// Make an initial access token and print it (this once).
    Create {
        /// How long it works, e.g. 7d or 12h; it does not expire when omitted.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        expires: Option<Duration>,
        /// How many clients it may register; any number when omitted.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        max_uses: Option<u32>,
    },
    /// List initial access tokens (never the tokens themselves).
    List,
    /// Revoke initial access tokens: they register no more clients (clients they registered stay).
    #[command(visible_alias = "delete")]
    Revoke {
        /// The tokens' ids, as `list` shows them.
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

/// Runs `gatehouse registration-tokens …`.
pub async fn run_registration_tokens(
    conn: &AdminConnection,
    cmd: RegistrationTokensCommand,
) -> anyhow::Result<()> {
    let api = AdminApi::new(conn).map_err(one_line)?;
    execute(&api, conn.format, cmd, &mut std::io::stdout())
        .await
        .map_err(one_line)
}

async fn execute(
    api: &AdminApi,
    format: OutputFormat,
    cmd: RegistrationTokensCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match cmd {
        RegistrationTokensCommand::Create { expires, max_uses } => {
            let body = create_body(expires, max_uses)?;
            let created = api
                .post(&["admin", "registration-tokens"], &[], &body)
                .await?;
            emit(
                out,
                &render(format, &created, |t| {
                    format!(
                        "Initial access token {} created. It is shown only now:\n{}\n",
                        text(t, "id"),
                        text(t, "token")
                    )
                }),
            )
        }
        RegistrationTokensCommand::List => {
            let all = api.get(&["admin", "registration-tokens"]).await?;
            emit(out, &render(format, &all, list_table))
        }
        RegistrationTokensCommand::Revoke { ids } => {
            let mut failures = Vec::new();
            for id in &ids {
                match api.delete(&["admin", "registration-tokens", id]).await {
                    Ok(()) => {
                        if !format.is_data() {
                            writeln!(out, "Initial access token {id} revoked.")?;
                        }
                    }
                    Err(e) => failures.push((id.clone(), e)),
                }
            }
            batch_outcome(failures, ids.len(), "tokens", "revoked")
        }
    }
}

fn create_body(expires: Option<Duration>, max_uses: Option<u32>) -> anyhow::Result<Value> {
    let mut body = Map::new();
    if let Some(expires) = expires {
        if expires.as_secs() == 0 {
            anyhow::bail!("--expires must be at least one second");
        }
        body.insert("expires_in".to_owned(), json!(expires.as_secs()));
    }
    if let Some(max_uses) = max_uses {
        body.insert("max_uses".to_owned(), json!(max_uses));
    }
    Ok(Value::Object(body))
}

fn list_table(tokens: &Value) -> String {
    let rows: Vec<Vec<String>> = items(tokens)
        .iter()
        .map(|t| {
            let max = t
                .get("max_uses")
                .and_then(Value::as_u64)
                .map_or_else(|| "unlimited".to_owned(), |n| n.to_string());
            vec![
                text(t, "id"),
                text(t, "created_at"),
                text(t, "expires_at"),
                format!("{}/{max}", text(t, "uses")),
            ]
        })
        .collect();
    table(&["ID", "CREATED AT", "EXPIRES AT", "USES"], &rows)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn create_sends_seconds_and_uses_only_when_given() {
        assert_eq!(create_body(None, None).unwrap(), json!({}));
        assert_eq!(
            create_body(Some(humantime::parse_duration("7d").unwrap()), Some(3)).unwrap(),
            json!({"expires_in": 604_800, "max_uses": 3})
        );
        assert!(create_body(Some(Duration::ZERO), None).is_err());
    }

    #[test]
    fn the_list_shows_uses_against_the_limit() {
        let listed = list_table(&json!([
            {"id": "a1", "created_at": "2026-01-01T00:00:00Z", "uses": 1, "max_uses": 5},
            {"id": "b2", "created_at": "2026-01-02T00:00:00Z", "expires_at": "2026-02-01T00:00:00Z", "uses": 0}
        ]));
        assert!(listed.contains("1/5"), "{listed}");
        assert!(listed.contains("0/unlimited"), "{listed}");
    }
}
