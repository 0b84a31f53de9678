//! `gatehouse clients import`: clients exported from Hydra (or written by hand) as JSON.
//!
//! A file holds Hydra's export (`{"items": [...]}`), an array of clients, or one client. Every
//! file is read and type-checked, then every client is validated by the admin API itself
//! (`POST /admin/clients?dry_run=true`: all of the registration rules, whether the ID is taken,
//! nothing written) before the first client is created, so an invalid client anywhere leaves
//! nothing imported. Fields Gatehouse does not keep are dropped with a warning naming the field
//! and the client.

use anyhow::{Context as _, anyhow, bail};
use gatehouse_core::scope::ScopeSet;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;

use super::OutputFormat;
use super::batch_outcome;
use super::clients::{OnConflict, View, id_lines, new_secret_line, parse_auth_method};
use super::http::{AdminApi, failure_status};
use super::output::{data, emit, text};

/// The message for a file that holds no clients in any of the accepted shapes.
const NO_CLIENTS: &str =
    "no clients found: expected an object with client_id, an array, or {items: […]}";

/// The fields the admin API keeps for a client (`ClientRequest`); anything else is dropped.
const KEPT_FIELDS: &[&str] = &[
    "client_id",
    "client_secret",
    "client_name",
    "redirect_uris",
    "grant_types",
    "response_types",
    "scope",
    "audience",
    "token_endpoint_auth_method",
    "logo_uri",
    "client_uri",
    "policy_uri",
    "tos_uri",
    "contacts",
    "post_logout_redirect_uris",
    "skip_consent",
    "access_token_strategy",
    "metadata",
    "allowed_cors_origins",
    "owner",
    "jwks_uri",
    "jwks",
    "token_endpoint_auth_signing_alg",
    "id_token_claims",
    "require_pushed_authorization_requests",
    "allowed_resources",
    "dpop_bound_access_tokens",
    "require_signed_request_object",
];

/// Fields of an export that record the exporting server's own bookkeeping rather than a
/// setting: the importing server sets them anew, so dropping them loses nothing and is not
/// reported.
const BOOKKEEPING_FIELDS: [&str; 3] = ["created_at", "updated_at", "client_secret_expires_at"];

/// The JSON types the admin API accepts for a client (`null` and `""` read as "not set"). The
/// server still checks the values; this catches what would fail for every client alike.
#[derive(serde::Deserialize)]
#[allow(dead_code, reason = "deserialized only to check the types")]
struct ImportShape {
    client_id: Option<String>,
    client_secret: Option<String>,
    client_name: Option<String>,
    redirect_uris: Option<Vec<String>>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    scope: Option<String>,
    audience: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    logo_uri: Option<String>,
    client_uri: Option<String>,
    policy_uri: Option<String>,
    tos_uri: Option<String>,
    contacts: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    skip_consent: Option<bool>,
    access_token_strategy: Option<String>,
    metadata: Option<Value>,
    allowed_cors_origins: Option<Vec<String>>,
    owner: Option<String>,
    jwks_uri: Option<String>,
    jwks: Option<Value>,
    token_endpoint_auth_signing_alg: Option<String>,
    id_token_claims: Option<String>,
    require_pushed_authorization_requests: Option<bool>,
    allowed_resources: Option<Vec<String>>,
    dpop_bound_access_tokens: Option<bool>,
    require_signed_request_object: Option<bool>,
}

fn check_import_shape(client: &Value) -> anyhow::Result<()> {
    let shape: ImportShape = serde_json::from_value(client.clone())?;
    if let Some(scope) = &shape.scope {
        ScopeSet::parse(scope)?;
    }
    if let Some(method) = shape
        .token_endpoint_auth_method
        .as_deref()
        .filter(|m| !m.is_empty())
    {
        parse_auth_method(method)
            .map_err(|hint| anyhow!("token_endpoint_auth_method {method:?}: {hint}"))?;
    }
    if let Some(strategy) = shape
        .access_token_strategy
        .as_deref()
        .filter(|s| !s.is_empty())
        && !matches!(strategy, "opaque" | "jwt")
    {
        bail!("access_token_strategy {strategy:?}: use opaque or jwt");
    }
    Ok(())
}

/// One client of an import, with where it came from for messages.
#[derive(Debug)]
pub(crate) struct ImportEntry {
    label: String,
    id: Option<String>,
    body: Value,
    brings_secret: bool,
    /// Fields with a value that the admin API does not keep, removed from `body`.
    dropped: Vec<String>,
}

/// Whether a value says nothing (`null`, `""`, `[]`, `{}`), as Hydra exports unset fields.
fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The clients of one file: Hydra's `{"items": [...]}`, an array, or one object with
/// `client_id`.
fn clients_of(name: &str, doc: Value) -> anyhow::Result<Vec<Value>> {
    match doc {
        Value::Array(list) => Ok(list),
        Value::Object(mut obj) => match obj.remove("items") {
            Some(Value::Array(list)) if !obj.contains_key("client_id") => Ok(list),
            Some(items) => {
                obj.insert("items".into(), items);
                if obj.contains_key("client_id") {
                    Ok(vec![Value::Object(obj)])
                } else {
                    bail!("{name}: {NO_CLIENTS}")
                }
            }
            None if obj.contains_key("client_id") => Ok(vec![Value::Object(obj)]),
            None => bail!("{name}: {NO_CLIENTS}"),
        },
        _ => bail!("{name}: {NO_CLIENTS}"),
    }
}

/// Reads and checks every file before anything is sent: a typo in the third client must not
/// leave the first two imported.
pub(crate) fn parse_import(sources: &[(String, String)]) -> anyhow::Result<Vec<ImportEntry>> {
    let mut entries = Vec::new();
    let mut first_seen: HashMap<String, String> = HashMap::new();
    for (name, content) in sources {
        let doc: Value = serde_json::from_str(content)
            .map_err(|e| anyhow!("{name}: not valid JSON ({e}); nothing was imported"))?;
        for (i, mut client) in clients_of(name, doc)?.into_iter().enumerate() {
            let id = client
                .get("client_id")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let label = match &id {
                Some(id) => format!("{name}: client {} ({id})", i + 1),
                None => format!("{name}: client {}", i + 1),
            };
            let Some(obj) = client.as_object_mut() else {
                bail!("{label} is not a JSON object; nothing was imported");
            };
            if obj
                .get("client_id")
                .is_some_and(|v| !v.is_null() && v.as_str().is_none_or(|s| s.trim().is_empty()))
            {
                bail!("{label}: client_id must be a non-empty string; nothing was imported");
            }
            // Hydra exports carry an empty secret: treat it as "generate one".
            if obj
                .get("client_secret")
                .is_some_and(|s| s.is_null() || s.as_str() == Some(""))
            {
                obj.remove("client_secret");
            }
            // Hydra exports `"jwks": {}` for a client without keys.
            if obj.get("jwks").is_some_and(is_empty_value) {
                obj.remove("jwks");
            }
            let mut dropped = Vec::new();
            obj.retain(|key, value| {
                let kept = KEPT_FIELDS.contains(&key.as_str());
                if !kept && !BOOKKEEPING_FIELDS.contains(&key.as_str()) && !is_empty_value(value) {
                    dropped.push(key.clone());
                }
                kept
            });
            check_import_shape(&client)
                .map_err(|e| anyhow!("{label} is not a valid client: {e}; nothing was imported"))?;
            if let Some(id) = &id
                && let Some(first) = first_seen.insert(id.clone(), label.clone())
            {
                bail!("client ID {id:?} appears twice ({first} and {label}); nothing was imported");
            }
            let brings_secret = client.get("client_secret").is_some();
            entries.push(ImportEntry {
                label,
                id,
                body: client,
                brings_secret,
                dropped,
            });
        }
    }
    Ok(entries)
}

/// What the import does with one client, decided before anything is written.
enum Plan {
    Create,
    Skip,
    Update,
}

fn read_sources(files: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    if files.iter().filter(|f| *f == "-").count() > 1 {
        bail!("`-` (standard input) can be given only once");
    }
    let mut sources = Vec::new();
    for file in files {
        let content = if file == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .context("reading clients from standard input")?;
            s
        } else {
            std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?
        };
        let name = if file == "-" {
            "stdin".to_owned()
        } else {
            file.clone()
        };
        sources.push((name, content));
    }
    Ok(sources)
}

pub(crate) async fn import(
    api: &AdminApi,
    view: View,
    files: &[String],
    dry_run: bool,
    on_conflict: OnConflict,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let format = view.format;
    let entries = parse_import(&read_sources(files)?)?;
    if entries.is_empty() {
        bail!("no clients to import: the files hold an empty list");
    }
    for entry in &entries {
        for field in &entry.dropped {
            eprintln!(
                "warning: {}: field {field:?} is not kept by Gatehouse and is dropped",
                entry.label
            );
        }
    }

    // Every client is validated by the server before the first is written.
    let total = entries.len();
    let mut planned = Vec::new();
    let mut previews = Vec::new();
    let mut refused = Vec::new();
    for entry in entries {
        let checked = api
            .post(&["admin", "clients"], &[("dry_run", "true")], &entry.body)
            .await;
        match checked {
            Ok(preview) => {
                previews.push(preview);
                planned.push((entry, Plan::Create));
            }
            Err(e) if failure_status(&e) == Some(StatusCode::CONFLICT) => match on_conflict {
                OnConflict::Fail => refused.push((entry.label, e)),
                OnConflict::Skip => planned.push((entry, Plan::Skip)),
                OnConflict::Update => planned.push((entry, Plan::Update)),
            },
            Err(e) => refused.push((entry.label, e)),
        }
    }
    if !refused.is_empty() {
        for (label, err) in &refused {
            eprintln!("error: {label}: {err:#}");
        }
        let hint = if refused
            .iter()
            .any(|(_, e)| failure_status(e) == Some(StatusCode::CONFLICT))
        {
            " (--on-conflict skip or update imports over existing clients)"
        } else {
            ""
        };
        bail!(
            "{} of {total} clients cannot be imported (see above){hint}; nothing was imported",
            refused.len()
        );
    }

    if dry_run {
        if format.is_data() && !view.quiet {
            return emit(out, &data(format, &Value::Array(previews)));
        }
        let mut report = String::new();
        for (entry, plan) in &planned {
            let id = entry.id.as_deref().unwrap_or("(generated ID)");
            report.push_str(&match (view.quiet, plan) {
                (true, Plan::Skip) => continue,
                (true, _) => format!("{id}\n"),
                (false, Plan::Create) => format!("Would import OAuth 2.0 Client {id}\n"),
                (false, Plan::Skip) => format!("Would skip existing OAuth 2.0 Client {id}\n"),
                (false, Plan::Update) => format!("Would update OAuth 2.0 Client {id}\n"),
            });
        }
        report.push_str(if view.quiet {
            ""
        } else {
            "Dry run: nothing was imported.\n"
        });
        return emit(out, &report);
    }

    let mut written = Vec::new();
    let mut failures = Vec::new();
    for (entry, plan) in planned {
        let result = match plan {
            Plan::Create => api.post(&["admin", "clients"], &[], &entry.body).await,
            Plan::Update => {
                let id = entry.id.as_deref().unwrap_or_default();
                api.put(&["admin", "clients", id], &entry.body).await
            }
            Plan::Skip => {
                if format == OutputFormat::Table && !view.quiet {
                    let id = entry.id.as_deref().unwrap_or_default();
                    emit(out, &format!("Skipped existing OAuth 2.0 Client {id}\n"))?;
                }
                continue;
            }
        };
        match result {
            Ok(client) if view.quiet => {
                emit(out, &id_lines(std::slice::from_ref(&client)))?;
                view.warn_about_secret(&client, entry.brings_secret);
            }
            Ok(client) if format == OutputFormat::Table => {
                let id = text(&client, "client_id");
                let verb = match plan {
                    Plan::Update => "Updated",
                    Plan::Create | Plan::Skip => "Imported",
                };
                let secret = new_secret_line(&client, entry.brings_secret);
                emit(out, &format!("{verb} OAuth 2.0 Client {id}\n{secret}"))?;
                view.warn_about_secret(&client, entry.brings_secret);
            }
            Ok(client) => written.push(client),
            Err(e) => failures.push((entry.label, e)),
        }
    }
    if format.is_data() && !view.quiet {
        emit(out, &data(format, &Value::Array(written)))?;
    }
    batch_outcome(failures, total, "clients", "imported")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn src(name: &str, content: &str) -> (String, String) {
        (name.to_owned(), content.to_owned())
    }

    #[test]
    fn import_accepts_hydra_exports_and_drops_empty_secrets() {
        let hydra = r#"[{"client_id":"a","client_name":"A","client_secret":"","redirect_uris":["http://127.0.0.1/cb"],
            "grant_types":["authorization_code"],"response_types":null,"scope":"openid","owner":"","jwks":{},
            "access_token_strategy":"","metadata":null,
            "token_endpoint_auth_method":"none","created_at":"2024-01-01T00:00:00Z"},
            {"client_id":"b","client_secret":"a-chosen-secret-that-is-long-enough"}]"#;
        let entries = parse_import(&[
            src("clients.json", hydra),
            src("one.json", r#"{"client_id":"c","client_name":"one"}"#),
            src(
                "export.json",
                r#"{"items":[{"client_id":"d"},{"client_name":"no id"}]}"#,
            ),
        ])
        .unwrap();
        assert_eq!(entries.len(), 5);
        assert!(entries[0].body.get("client_secret").is_none());
        assert!(!entries[0].brings_secret && entries[1].brings_secret);
        assert_eq!(entries[0].body["owner"], "");
        assert!(
            entries[0].body.get("jwks").is_none() && entries[0].body.get("created_at").is_none()
        );
        assert!(
            entries[0].dropped.is_empty(),
            "empty and bookkeeping fields are not reported"
        );
        assert_eq!(entries[2].label, "one.json: client 1 (c)");
        assert_eq!(entries[3].label, "export.json: client 1 (d)");
        assert_eq!(entries[4].label, "export.json: client 2");
    }

    #[test]
    fn fields_with_values_that_are_not_kept_are_dropped_and_named() {
        let entries = parse_import(&[src(
            "c.json",
            r#"[{"client_id":"a","jwks":{"keys":[{"kty":"RSA"}]},"subject_type":"pairwise","frontchannel_logout_uri":"","owner":"me"}]"#,
        )])
        .unwrap();
        assert_eq!(entries[0].dropped, ["subject_type"]);
        assert_eq!(
            entries[0].body,
            serde_json::json!({"client_id": "a", "owner": "me", "jwks": {"keys": [{"kty": "RSA"}]}})
        );
    }

    #[test]
    fn a_file_of_unknown_shape_is_refused() {
        for content in [
            r#"{"client_name":"x"}"#,
            r#""x""#,
            "3",
            r#"{"items":3}"#,
            "{}",
        ] {
            let err = parse_import(&[src("f.json", content)]).unwrap_err();
            assert_eq!(
                err.to_string(),
                "f.json: no clients found: expected an object with client_id, an array, or {items: […]}",
                "{content}"
            );
        }
    }

    #[test]
    fn import_rejects_the_whole_batch_on_any_bad_entry() {
        let err = |content: &str| {
            parse_import(&[
                src("ok.json", r#"[{"client_id":"ok"}]"#),
                src("f.json", content),
            ])
            .err()
            .unwrap()
            .to_string()
        };
        assert!(
            err(r#"[{"client_id":"x",}]"#)
                .starts_with("f.json: not valid JSON (trailing comma at line 1")
        );
        assert!(err(r#""x""#).contains("no clients found"));
        assert!(err(r#"[1]"#).contains("f.json: client 1 is not a JSON object"));
        assert!(
            err(r#"[{"client_id":"x","grant_types":"code"}]"#)
                .starts_with("f.json: client 1 (x) is not a valid client: invalid type")
        );
        assert!(err(r#"[{"client_id":5}]"#).contains("client_id must be a non-empty string"));
        assert!(err(r#"[{"client_id":"ok"}]"#).contains(
            r#"client ID "ok" appears twice (ok.json: client 1 (ok) and f.json: client 1 (ok))"#
        ));
        assert!(err(r#"[{"scope":"bad\"scope"}]"#).contains("invalid scope token"));
        assert!(
            err(r#"[{"token_endpoint_auth_method":"tls_client_auth"}]"#)
                .contains("use none, client_secret_basic")
        );
        assert!(err(r#"[{"access_token_strategy":"macaroon"}]"#).contains("use opaque or jwt"));
        for e in [err("{"), err("[1]")] {
            assert!(e.ends_with("nothing was imported"), "{e}");
        }
    }
}
