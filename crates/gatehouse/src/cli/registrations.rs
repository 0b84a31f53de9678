//! `gatehouse registrations list|show|approve|reject|request-changes`: the reviewers' side of
//! partner onboarding, over `/admin/registration-requests`.
//!
//! Approving creates the partner's client exactly as requested; the partner sees its secret once
//! in the developer portal, so no secret is ever printed here.

use std::io::Write;

use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::http::AdminApi;
use super::output::{emit, fields, items, render, table, text};
use super::{AdminConnection, OutputFormat, one_line};

/// A request's status, as the admin API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFilter {
    Pending,
    Approved,
    Rejected,
    ChangesRequested,
}

impl StatusFilter {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::ChangesRequested => "changes_requested",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum RegistrationsCommand {
    /// List partners' registration requests, oldest first.
    List {
        /// Only requests in this status.
        #[arg(long, value_enum, value_name = "STATUS")]
        status: Option<StatusFilter>,
    },
    /// Show one request: the app as the partner described it and its review.
    Show {
        /// The request's id (`rr_…`), as `list` shows it.
        id: String,
    },
    /// Approve a pending request: its client is created as requested (the partner reveals the
    /// secret once in the developer portal).
    Approve {
        /// The request's id (`rr_…`).
        id: String,
    },
    /// Reject a pending request; the partner sees the reason.
    Reject {
        /// The request's id (`rr_…`).
        id: String,
        /// Why, for the partner.
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Ask the partner to change a pending request; they may edit and resubmit it.
    RequestChanges {
        /// The request's id (`rr_…`).
        id: String,
        /// What to change, for the partner.
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
}

/// Runs `gatehouse registrations …`.
pub async fn run_registrations(
    conn: &AdminConnection,
    cmd: RegistrationsCommand,
) -> anyhow::Result<()> {
    let api = AdminApi::new(conn).map_err(one_line)?;
    execute(&api, conn.format, cmd, &mut std::io::stdout())
        .await
        .map_err(one_line)
}

const PATH: &str = "registration-requests";

fn require_reason(reason: &str) -> anyhow::Result<()> {
    if reason.trim().is_empty() {
        anyhow::bail!("--reason must not be empty: the partner reads it");
    }
    Ok(())
}

async fn execute(
    api: &AdminApi,
    format: OutputFormat,
    cmd: RegistrationsCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match cmd {
        RegistrationsCommand::List { status } => {
            let query: Vec<(&str, &str)> =
                status.map(|s| ("status", s.as_str())).into_iter().collect();
            let all = Value::Array(api.list(&["admin", PATH], &query).await?);
            emit(out, &render(format, &all, list_table))
        }
        RegistrationsCommand::Show { id } => {
            let request = api.get(&["admin", PATH, &id]).await?;
            emit(out, &render(format, &request, show_fields))
        }
        RegistrationsCommand::Approve { id } => {
            let approved = api
                .post(&["admin", PATH, &id, "approve"], &[], &json!({}))
                .await?;
            emit(
                out,
                &render(format, &approved, |r| {
                    format!(
                        "Request {} approved: client {} created for {}. The partner reveals its secret once in the developer portal.\n",
                        text(r, "id"),
                        text(r, "client_id"),
                        owner(r)
                    )
                }),
            )
        }
        RegistrationsCommand::Reject { id, reason } => {
            require_reason(&reason)?;
            let rejected = api
                .post(
                    &["admin", PATH, &id, "reject"],
                    &[],
                    &json!({"reason": reason}),
                )
                .await?;
            emit(
                out,
                &render(format, &rejected, |r| {
                    format!("Request {} is now {}.\n", text(r, "id"), text(r, "status"))
                }),
            )
        }
        RegistrationsCommand::RequestChanges { id, reason } => {
            require_reason(&reason)?;
            let changed = api
                .post(
                    &["admin", PATH, &id, "request-changes"],
                    &[],
                    &json!({"reason": reason}),
                )
                .await?;
            emit(
                out,
                &render(format, &changed, |r| {
                    format!(
                        "Changes requested on {}; the partner may edit and resubmit it.\n",
                        text(r, "id")
                    )
                }),
            )
        }
    }
}

/// `username (id)`, or the id alone when the user is gone.
fn owner(request: &Value) -> String {
    let owner = request.get("owner").cloned().unwrap_or(Value::Null);
    match (text(&owner, "username"), text(&owner, "id")) {
        (name, id) if name.is_empty() => id,
        (name, id) => format!("{name} ({id})"),
    }
}

fn list_table(requests: &Value) -> String {
    let rows: Vec<Vec<String>> = items(requests)
        .iter()
        .map(|r| {
            let app = r.get("app").cloned().unwrap_or(Value::Null);
            vec![
                text(r, "id"),
                text(r, "status"),
                text(&app, "name"),
                owner(r),
                text(&app, "scopes"),
                text(r, "client_id"),
                text(r, "created_at"),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "STATUS",
            "APP",
            "OWNER",
            "SCOPES",
            "CLIENT ID",
            "CREATED AT",
        ],
        &rows,
    )
}

fn show_fields(r: &Value) -> String {
    let app = r.get("app").cloned().unwrap_or(Value::Null);
    let kind = if app.get("confidential").and_then(Value::as_bool) == Some(true) {
        "confidential (client_secret_basic)"
    } else {
        "public (PKCE)"
    };
    fields(&[
        ("ID", text(r, "id")),
        ("STATUS", text(r, "status")),
        ("OWNER", owner(r)),
        ("APP", text(&app, "name")),
        ("DESCRIPTION", text(&app, "description")),
        ("WEBSITE", text(&app, "website")),
        ("CONTACT", text(&app, "contact_name")),
        ("REASON", text(&app, "reason")),
        ("REDIRECT URIS", text(&app, "redirect_uris")),
        ("SCOPES", text(&app, "scopes")),
        ("CLIENT TYPE", kind.to_owned()),
        ("LOGO", text(&app, "logo_uri")),
        ("REVIEW REASON", text(r, "review_reason")),
        ("REVIEWED BY", text(r, "reviewed_by")),
        ("CLIENT ID", text(r, "client_id")),
        ("CREATED AT", text(r, "created_at")),
        ("UPDATED AT", text(r, "updated_at")),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> Value {
        json!({
            "id": "rr_1", "status": "pending",
            "owner": {"id": "user-1", "username": "alice"},
            "app": {"name": "Acme", "scopes": ["openid", "profile"], "confidential": false,
                    "redirect_uris": ["https://a.example/cb"]},
            "client_id": null, "created_at": "2026-01-01T00:00:00Z"
        })
    }

    #[test]
    fn the_list_names_the_app_and_its_owner() {
        let listed = list_table(&json!([sample()]));
        assert!(
            listed.contains("rr_1") && listed.contains("Acme"),
            "{listed}"
        );
        assert!(listed.contains("alice (user-1)"), "{listed}");
        assert!(listed.contains("openid,profile"), "{listed}");
    }

    #[test]
    fn show_says_what_kind_of_client_it_becomes() {
        let shown = show_fields(&sample());
        assert!(shown.contains("public (PKCE)"), "{shown}");
        assert!(shown.contains("https://a.example/cb"), "{shown}");
    }

    #[test]
    fn an_empty_reason_is_refused_before_any_request() {
        assert!(require_reason("  ").is_err());
        assert!(require_reason("duplicate").is_ok());
    }
}
