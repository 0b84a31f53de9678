//! `gatehouse audit list`: the audit log, newest first (`GET /admin/audit-events`).

use anyhow::bail;
use clap::{Subcommand, ValueEnum};
use serde_json::Value;
use std::io::Write;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::http::AdminApi;
use super::output::{emit, items, render, table, text};
use super::{AdminConnection, OutputFormat, one_line};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events, newest first: who changed what, when, and which fields (secrets as
    /// `[redacted]`).
    List {
        /// Only events by this actor: a kind (user, admin_token, cli, loopback), a user id or
        /// a username.
        #[arg(long, value_name = "ACTOR")]
        actor: Option<String>,
        /// Only events on this target: a kind (client, user, scope, key, …) or an id (client
        /// id, user id, scope name, …).
        #[arg(long, value_name = "TARGET")]
        target: Option<String>,
        /// Only this action (client.create), or every action under a prefix ending in *
        /// (client.*).
        #[arg(long, value_name = "ACTION")]
        action: Option<String>,
        /// Only events at or after this RFC 3339 instant (e.g. 2026-01-31T00:00:00Z).
        #[arg(long, value_name = "TIME", value_parser = instant)]
        since: Option<String>,
        /// Only events at or before this RFC 3339 instant.
        #[arg(long, value_name = "TIME", value_parser = instant)]
        until: Option<String>,
        /// At most this many events (the newest); all when omitted.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
        /// json or table; overrides --format for this command.
        #[arg(long, value_enum, value_name = "FORMAT")]
        output: Option<AuditOutput>,
    },
}

/// `--output` of `audit list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditOutput {
    /// The admin API's JSON on one line.
    Json,
    /// One line per event.
    Table,
}

/// An RFC 3339 instant, checked before anything is sent.
fn instant(s: &str) -> Result<String, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|_| s.to_owned())
        .map_err(|_| format!("{s:?} is not an RFC 3339 instant such as 2026-01-31T12:00:00Z"))
}

pub async fn run_audit(conn: &AdminConnection, cmd: AuditCommand) -> anyhow::Result<()> {
    let api = AdminApi::new(conn).map_err(one_line)?;
    execute(&api, conn.format, cmd, &mut std::io::stdout())
        .await
        .map_err(one_line)
}

pub(crate) async fn execute(
    api: &AdminApi,
    format: OutputFormat,
    cmd: AuditCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let AuditCommand::List {
        actor,
        target,
        action,
        since,
        until,
        limit,
        output,
    } = cmd;
    if let (Some(since), Some(until)) = (&since, &until)
        && let (Ok(a), Ok(b)) = (
            OffsetDateTime::parse(since, &Rfc3339),
            OffsetDateTime::parse(until, &Rfc3339),
        )
        && a > b
    {
        bail!("--since {since} is after --until {until}: no event can match");
    }
    let page_size = limit.map(|n| n.min(500).to_string());
    let query: Vec<(&str, &str)> = [
        ("actor", actor.as_deref()),
        ("target", target.as_deref()),
        ("action", action.as_deref()),
        ("since", since.as_deref()),
        ("until", until.as_deref()),
        ("page_size", page_size.as_deref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let limit = limit.map(|n| n as usize);
    let events = api
        .list_at_most(&["admin", "audit-events"], &query, limit)
        .await?;
    let format = match output {
        Some(AuditOutput::Json) => OutputFormat::Json,
        Some(AuditOutput::Table) => OutputFormat::Table,
        None => format,
    };
    emit(out, &render(format, &Value::Array(events), events_table))
}

fn events_table(events: &Value) -> String {
    let rows: Vec<Vec<String>> = items(events)
        .iter()
        .map(|e| {
            let actor = e.get("actor").cloned().unwrap_or(Value::Null);
            let who = match (text(&actor, "name"), text(&actor, "id")) {
                (name, _) if !name.is_empty() => format!("{} {name}", text(&actor, "kind")),
                (_, id) if !id.is_empty() => format!("{} {id}", text(&actor, "kind")),
                _ => text(&actor, "kind"),
            };
            let target = e.get("target").cloned().unwrap_or(Value::Null);
            let changes = match e.get("changes") {
                Some(Value::Object(m)) if !m.is_empty() => Value::Object(m.clone()).to_string(),
                _ => String::new(),
            };
            vec![
                text(e, "at"),
                who,
                text(e, "action"),
                text(&target, "kind"),
                text(&target, "id"),
                changes,
            ]
        })
        .collect();
    table(
        &["AT", "ACTOR", "ACTION", "TARGET", "TARGET ID", "CHANGES"],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: AuditCommand,
    }

    fn parse(line: &[&str]) -> Result<AuditCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("audit").chain(line.iter().copied())).map(|c| c.cmd)
    }

    #[test]
    fn filters_are_checked_before_anything_is_sent() {
        let parsed = parse(&[
            "list",
            "--actor",
            "alice",
            "--action",
            "client.*",
            "--since",
            "2026-01-01T00:00:00Z",
            "--limit",
            "5",
            "--output",
            "json",
        ])
        .unwrap();
        let AuditCommand::List {
            actor,
            action,
            since,
            limit,
            output,
            ..
        } = parsed;
        assert_eq!(actor.as_deref(), Some("alice"));
        assert_eq!(action.as_deref(), Some("client.*"));
        assert_eq!(since.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(limit, Some(5));
        assert_eq!(output, Some(AuditOutput::Json));
        assert!(parse(&["list", "--since", "yesterday"]).is_err());
        assert!(parse(&["list", "--limit", "0"]).is_err());
        assert!(parse(&["list", "--output", "yaml"]).is_err());
    }

    #[test]
    fn the_table_names_actor_action_target_and_changes() {
        let events = serde_json::json!([{
            "id": "e1", "at": "2026-01-01T00:00:00Z",
            "actor": {"kind": "user", "id": "u1", "name": "alice"},
            "action": "client.create",
            "target": {"kind": "client", "id": "neon"},
            "changes": {"client_secret": "[redacted]"}
        }]);
        let table = events_table(&events);
        for part in [
            "user alice",
            "client.create",
            "neon",
            "[redacted]",
            "TARGET ID",
        ] {
            assert!(table.contains(part), "{part} in {table}");
        }
    }
}
