//! `gatehouse scopes …`: the scope catalogue the consent screen reads.
//!
//! `update` changes only the settings given: it reads the scope, applies the flags and writes
//! the whole scope back.

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use gatehouse_core::scope::{ScopeName, parse_claims};
use serde_json::{Map, Value};
use std::io::Write;

use super::http::AdminApi;
use super::output::{data, emit, fields, flag, items, render, table, text};
use super::{AdminConnection, OutputFormat, batch_outcome, one_line};

#[derive(Debug, Subcommand)]
pub enum ScopesCommand {
    /// Add a scope to the catalogue.
    Create {
        /// The scope token (RFC 6749 §3.3), e.g. urn:neoncloud:projects:read.
        name: String,
        #[command(flatten)]
        settings: CreateSettings,
    },
    /// List the catalogue.
    List,
    /// Show one scope.
    Get {
        /// The scope name.
        name: String,
    },
    /// Change a scope's label, description, visibility or custom claims; settings left out stay
    /// as they are.
    Update {
        /// The scope name.
        name: String,
        #[command(flatten)]
        changes: ScopeChanges,
    },
    /// Remove scopes from the catalogue.
    Delete {
        /// The scope names.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct CreateSettings {
    /// What the consent screen shows, e.g. "Read your projects".
    #[arg(long)]
    label: String,
    /// A longer explanation shown with the label.
    #[arg(long)]
    description: Option<String>,
    /// Never show this scope on the consent screen (technical scopes).
    #[arg(long)]
    hidden: bool,
    /// A custom claim the scope releases from the user's metadata into userinfo and the ID token
    /// (repeatable), e.g. --claim patreon. Never a claim the server sets (sub, iss, email, …).
    #[arg(long = "claim", value_name = "NAME")]
    claims: Vec<String>,
}

#[derive(Debug, Default, Args)]
pub struct ScopeChanges {
    /// New label.
    #[arg(long)]
    label: Option<String>,
    /// New description (`""` clears it).
    #[arg(long)]
    description: Option<String>,
    /// Hide the scope from the consent screen (`--hidden=false` shows it again).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    hidden: Option<bool>,
    /// The custom claims the scope releases (repeatable): replaces the scope's list.
    #[arg(long = "claim", value_name = "NAME", conflicts_with = "no_claims")]
    claims: Vec<String>,
    /// The scope releases no custom claims any more.
    #[arg(long)]
    no_claims: bool,
}

/// Runs `gatehouse scopes …`.
pub async fn run_scopes(conn: &AdminConnection, cmd: ScopesCommand) -> anyhow::Result<()> {
    let api = AdminApi::new(conn).map_err(one_line)?;
    execute(&api, conn.format, cmd, &mut std::io::stdout())
        .await
        .map_err(one_line)
}

pub(crate) async fn execute(
    api: &AdminApi,
    format: OutputFormat,
    cmd: ScopesCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match cmd {
        ScopesCommand::Create { name, settings } => {
            let body = create_body(&name, &settings)?;
            let created = api.post(&["admin", "scopes"], &[], &body).await?;
            emit(
                out,
                &render(format, &created, |s| {
                    format!("Scope {} created.\n", text(s, "name"))
                }),
            )
        }
        ScopesCommand::List => {
            let all = Value::Array(api.list(&["admin", "scopes"], &[]).await?);
            emit(out, &render(format, &all, |v| list_table(items(v))))
        }
        ScopesCommand::Get { name } => {
            let scope = api.get(&["admin", "scopes", &name]).await?;
            emit(out, &render(format, &scope, scope_fields))
        }
        ScopesCommand::Update { name, changes } => {
            if changes.label.is_none()
                && changes.description.is_none()
                && changes.hidden.is_none()
                && changes.claims.is_empty()
                && !changes.no_claims
            {
                bail!(
                    "nothing to update: pass --label, --description, --hidden[=false], --claim or --no-claims"
                );
            }
            if changes
                .label
                .as_deref()
                .is_some_and(|l| l.trim().is_empty())
            {
                bail!("--label is empty: the consent screen needs a label");
            }
            let current = api.get(&["admin", "scopes", &name]).await?;
            let body = apply_changes(&current, &changes)?;
            let updated = api.put(&["admin", "scopes", &name], &body).await?;
            emit(
                out,
                &render(format, &updated, |_| format!("Scope {name} updated.\n")),
            )
        }
        ScopesCommand::Delete { names } => {
            let mut failures = Vec::new();
            let mut deleted = Vec::new();
            for name in &names {
                match api.delete(&["admin", "scopes", name]).await {
                    Ok(()) if format == OutputFormat::Table => {
                        emit(out, &format!("Scope {name} deleted.\n"))?
                    }
                    Ok(()) => deleted.push(Value::from(name.as_str())),
                    Err(e) => failures.push((name.clone(), e)),
                }
            }
            if format.is_data() {
                emit(out, &data(format, &Value::Array(deleted)))?;
            }
            batch_outcome(failures, names.len(), "scopes", "deleted")
        }
    }
}

pub(crate) fn create_body(name: &str, s: &CreateSettings) -> anyhow::Result<Value> {
    let name = ScopeName::parse(name).map_err(|e| anyhow!("{e}"))?;
    if s.label.trim().is_empty() {
        bail!(
            "--label is empty: the consent screen needs a label, e.g. --label \"Read your projects\""
        );
    }
    let mut body = Map::new();
    body.insert("name".into(), name.as_str().into());
    body.insert("label".into(), s.label.as_str().into());
    body.insert(
        "description".into(),
        s.description.clone().unwrap_or_default().into(),
    );
    body.insert("hidden".into(), s.hidden.into());
    body.insert("claims".into(), checked_claims(&s.claims)?.into());
    Ok(Value::Object(body))
}

/// `--claim` values, checked as the admin API will (so a mistake is named before any request).
fn checked_claims(claims: &[String]) -> anyhow::Result<Vec<String>> {
    parse_claims(claims).map_err(|e| anyhow!("--claim: {e}"))
}

/// The full scope to PUT: the server's copy with the flags applied.
pub(crate) fn apply_changes(current: &Value, c: &ScopeChanges) -> anyhow::Result<Value> {
    let name = text(current, "name");
    if name.is_empty() {
        bail!("the admin API returned a scope without a name");
    }
    let mut body = Map::new();
    body.insert("name".into(), name.into());
    body.insert(
        "label".into(),
        c.label
            .clone()
            .unwrap_or_else(|| text(current, "label"))
            .into(),
    );
    body.insert(
        "description".into(),
        c.description
            .clone()
            .unwrap_or_else(|| text(current, "description"))
            .into(),
    );
    body.insert(
        "hidden".into(),
        c.hidden
            .unwrap_or_else(|| {
                current
                    .get("hidden")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            })
            .into(),
    );
    let claims: Vec<String> = if c.no_claims {
        Vec::new()
    } else if c.claims.is_empty() {
        current
            .get("claims")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        checked_claims(&c.claims)?
    };
    body.insert("claims".into(), claims.into());
    Ok(Value::Object(body))
}

/// A scope's custom claims, space-separated.
fn claims_of(s: &Value) -> String {
    s.get("claims")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn list_table(scopes: &[Value]) -> String {
    let rows: Vec<Vec<String>> = scopes
        .iter()
        .map(|s| {
            vec![
                text(s, "name"),
                text(s, "label"),
                text(s, "description"),
                flag(s, "hidden"),
                claims_of(s),
            ]
        })
        .collect();
    table(&["NAME", "LABEL", "DESCRIPTION", "HIDDEN", "CLAIMS"], &rows)
}

fn scope_fields(s: &Value) -> String {
    fields(&[
        ("NAME", text(s, "name")),
        ("LABEL", text(s, "label")),
        ("DESCRIPTION", text(s, "description")),
        ("HIDDEN", flag(s, "hidden")),
        ("CLAIMS", claims_of(s)),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::cli::tests::{Top, parse};
    use serde_json::json;

    fn scopes_cmd(line: &[&str]) -> ScopesCommand {
        match parse(line) {
            Ok(Top::Scopes { cmd, .. }) => cmd,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn create_builds_the_catalogue_entry() {
        let ScopesCommand::Create { name, settings } = scopes_cmd(&[
            "scopes",
            "create",
            "urn:neoncloud:projects:read",
            "--label",
            "Read your projects",
            "--hidden",
        ]) else {
            panic!("not create")
        };
        assert_eq!(
            create_body(&name, &settings).unwrap(),
            json!({"name": "urn:neoncloud:projects:read", "label": "Read your projects", "description": "", "hidden": true, "claims": []})
        );
        let ScopesCommand::Create { name, settings } = scopes_cmd(&[
            "scopes",
            "create",
            "patreon",
            "--label",
            "Your Patreon membership",
            "--claim",
            "patreon",
            "--claim",
            "neos:tier",
        ]) else {
            panic!("not create")
        };
        assert_eq!(
            create_body(&name, &settings).unwrap()["claims"],
            json!(["patreon", "neos:tier"])
        );
    }

    #[test]
    fn a_claim_the_server_sets_is_refused_before_any_request() {
        for reserved in ["sub", "iss", "email"] {
            let ScopesCommand::Create { name, settings } = scopes_cmd(&[
                "scopes", "create", "patreon", "--label", "P", "--claim", reserved,
            ]) else {
                panic!("not create")
            };
            let e = create_body(&name, &settings).unwrap_err().to_string();
            assert!(e.contains("--claim") && e.contains("server sets"), "{e}");
        }
    }

    #[test]
    fn update_replaces_keeps_or_clears_the_claims() {
        let current = json!({"name": "patreon", "label": "P", "description": "", "hidden": false, "claims": ["patreon"]});
        let changed = |line: &[&str]| match scopes_cmd(line) {
            ScopesCommand::Update { changes, .. } => apply_changes(&current, &changes).unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            changed(&["scopes", "update", "patreon", "--label", "Q"])["claims"],
            json!(["patreon"])
        );
        assert_eq!(
            changed(&[
                "scopes", "update", "patreon", "--claim", "tier", "--claim", "since"
            ])["claims"],
            json!(["tier", "since"])
        );
        assert_eq!(
            changed(&["scopes", "update", "patreon", "--no-claims"])["claims"],
            json!([])
        );
        assert!(parse(&["scopes", "update", "patreon", "--claim", "a", "--no-claims"]).is_err());
    }

    #[test]
    fn create_checks_name_and_label_first() {
        let body = |line: &[&str]| match scopes_cmd(line) {
            ScopesCommand::Create { name, settings } => {
                create_body(&name, &settings).map_err(|e| e.to_string())
            }
            other => panic!("{other:?}"),
        };
        assert!(
            body(&["scopes", "create", "bad\"name", "--label", "x"])
                .unwrap_err()
                .contains("invalid scope token")
        );
        assert!(
            body(&["scopes", "create", "ok", "--label", " "])
                .unwrap_err()
                .contains("--label is empty")
        );
        assert!(
            parse(&["scopes", "create", "ok"]).is_err(),
            "--label is required"
        );
    }

    #[test]
    fn update_keeps_what_the_flags_leave_out() {
        let current = json!({"name": "email", "label": "Your email address", "description": "d", "hidden": false});
        let ScopesCommand::Update { changes, .. } =
            scopes_cmd(&["scopes", "update", "email", "--hidden"])
        else {
            panic!()
        };
        assert_eq!(
            apply_changes(&current, &changes).unwrap(),
            json!({"name": "email", "label": "Your email address", "description": "d", "hidden": true, "claims": []})
        );
        let ScopesCommand::Update { changes, .. } = scopes_cmd(&[
            "scopes",
            "update",
            "--hidden=false",
            "email",
            "--description",
            "",
        ]) else {
            panic!()
        };
        assert_eq!(
            apply_changes(
                &json!({"name": "email", "label": "L", "hidden": true}),
                &changes
            )
            .unwrap(),
            json!({"name": "email", "label": "L", "description": "", "hidden": false, "claims": []})
        );
    }

    #[test]
    fn list_table_shows_visibility() {
        let out = list_table(&[
            json!({"name": "openid", "label": "Sign you in", "description": "", "hidden": true}),
            json!({"name": "patreon", "label": "P", "description": "", "hidden": false, "claims": ["patreon", "tier"]}),
        ]);
        assert_eq!(
            out.lines().nth(2),
            Some("| openid  | Sign you in |             | true   |              |")
        );
        assert!(out.contains("| patreon tier |"), "{out}");
    }
}
