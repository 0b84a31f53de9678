//! `gatehouse clients import`: clients exported from Hydra (or written by hand) as JSON.
//!
//! Every file is read and type-checked before the first client is sent, so a syntax error or a
//! wrongly typed field in the last client leaves nothing imported. The server then validates
//! each client on its own; those that it refuses are reported one by one and the command fails.

use anyhow::{Context as _, anyhow, bail};
use gatehouse_core::scope::ScopeSet;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;

use super::OutputFormat;
use super::batch_outcome;
use super::clients::{new_secret_line, parse_auth_method, warn_to_store_secret};
use super::http::AdminApi;
use super::output::{emit, json, text};

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
pub(crate) struct ImportEntry {
    label: String,
    body: Value,
    brings_secret: bool,
}

/// Reads and checks every file before anything is sent: a typo in the third client must not
/// leave the first two imported.
pub(crate) fn parse_import(sources: &[(String, String)]) -> anyhow::Result<Vec<ImportEntry>> {
    let mut entries = Vec::new();
    let mut first_seen: HashMap<String, String> = HashMap::new();
    for (name, content) in sources {
        let doc: Value = serde_json::from_str(content)
            .map_err(|e| anyhow!("{name}: not valid JSON ({e}); nothing was imported"))?;
        let list = match doc {
            Value::Array(list) => list,
            one @ Value::Object(_) => vec![one],
            _ => bail!(
                "{name}: expected a JSON array of clients or one client object; nothing was imported"
            ),
        };
        for (i, mut client) in list.into_iter().enumerate() {
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
                body: client,
                brings_secret,
            });
        }
    }
    Ok(entries)
}

pub(crate) async fn import(
    api: &AdminApi,
    format: OutputFormat,
    files: &[String],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
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
    let entries = parse_import(&sources)?;
    if entries.is_empty() {
        bail!("no clients to import: the files hold an empty list");
    }

    let total = entries.len();
    let mut created = Vec::new();
    let mut failures = Vec::new();
    for entry in entries {
        match api.post(&["admin", "clients"], &[], &entry.body).await {
            Ok(client) if format == OutputFormat::Table => {
                let id = text(&client, "client_id");
                let secret = new_secret_line(&client, entry.brings_secret);
                emit(out, &format!("Imported OAuth 2.0 Client {id}\n{secret}"))?;
                warn_to_store_secret(&client, entry.brings_secret);
            }
            Ok(client) => created.push(client),
            Err(e) => failures.push((entry.label, e)),
        }
    }
    if format == OutputFormat::Json {
        emit(out, &json(&Value::Array(created)))?;
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
            src("one.json", r#"{"client_name":"no id"}"#),
        ])
        .unwrap();
        assert_eq!(entries.len(), 3);
        assert!(entries[0].body.get("client_secret").is_none());
        assert!(!entries[0].brings_secret && entries[1].brings_secret);
        assert_eq!(entries[0].body["owner"], "");
        assert_eq!(entries[2].label, "one.json: client 1");
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
        assert!(err(r#""x""#).contains("expected a JSON array"));
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
            err(r#"[{"token_endpoint_auth_method":"private_key_jwt"}]"#)
                .contains("use none, client_secret_basic")
        );
        assert!(err(r#"[{"access_token_strategy":"macaroon"}]"#).contains("use opaque or jwt"));
        for e in [err("{"), err("[1]")] {
            assert!(e.ends_with("nothing was imported"), "{e}");
        }
    }
}
