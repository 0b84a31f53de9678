//! `gatehouse clients …`: OAuth 2.0 clients, with Hydra's flags and output.
//!
//! Flags map to RFC 7591 client metadata as Hydra maps them. A flag left out is left out of the
//! request, so the admin API applies its defaults (`grant_types` `authorization_code`, …). That
//! is also why `update` is a full replacement: it sends exactly what the flags say, as
//! Hydra's "specify all of the parameters" describes.

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use gatehouse_core::client::{AccessTokenStrategy, ClientId, TokenEndpointAuthMethod};
use gatehouse_core::protocol::{GrantType, ResponseType};
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::secret::SecretString;
use serde_json::{Map, Value, json};
use std::io::Write;

use super::http::AdminApi;
use super::output::{emit, fields, flag, items, json as to_json, render, table, text};
use super::{AdminConnection, OutputFormat, batch_outcome, input, one_line};

const SECRET_IN_FLAG_WARNING: &str = "You should not provide secrets using command line flags, the secret might leak to bash history and similar systems";
const STORE_SECRET_WARNING: &str = "Store the client secret safely now (e.g. in a secret manager): it is shown only this once and cannot be retrieved later.";

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a new OAuth 2.0 client.
    Create(Box<CreateArgs>),
    /// List every client (all pages).
    List,
    /// Show one client.
    Get {
        /// The client ID.
        id: String,
    },
    /// Replace a client's whole configuration with the one the flags describe.
    ///
    /// This is a full replacement: a flag left out resets that setting to its default, so pass
    /// every setting the client should keep. The secret is kept unless --secret or
    /// --secret-stdin is given; a public client made confidential gets a generated one.
    Update(Box<UpdateArgs>),
    /// Delete clients.
    Delete {
        /// The client IDs.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Import clients from JSON files in Hydra's format (an array of clients, or one client).
    ///
    /// Every file is read and checked before the first client is created.
    Import {
        /// Files to read; `-` reads standard input.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
    /// Generate a new client secret and print it once; the previous one keeps working for a grace period.
    RotateSecret {
        /// The client ID.
        id: String,
        /// How long the previous secret keeps working, e.g. 2h, 7d, or 0s for a leaked secret
        /// [default: the server's setting, one day unless configured].
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        grace: Option<std::time::Duration>,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The client ID to register (generated when left out).
    #[arg(long)]
    id: Option<String>,

    #[command(flatten)]
    secret: SecretArgs,

    #[command(flatten)]
    fields: ClientFields,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The client ID.
    id: String,

    #[command(flatten)]
    secret: SecretArgs,

    #[command(flatten)]
    fields: ClientFields,
}

/// A secret the operator chooses (at least 32 characters). Without one, `create` has the server
/// generate one and `update` keeps the current one.
#[derive(Debug, Default, Args)]
pub struct SecretArgs {
    /// Client secret to set. Prefer --secret-stdin: flags leak into shell history. On update it
    /// replaces the current secret at once; rotate-secret keeps the old one working for a while.
    #[arg(long, value_parser = input::secret_arg, conflicts_with = "secret_stdin")]
    secret: Option<SecretString>,

    /// Read the client secret from standard input.
    #[arg(long)]
    secret_stdin: bool,
}

impl SecretArgs {
    /// The chosen secret, if any; warns about one given as a flag, as Hydra does.
    fn resolve(self) -> anyhow::Result<Option<SecretString>> {
        if self.secret_stdin {
            return input::secret_from_stdin("client secret", "--secret-stdin").map(Some);
        }
        if self.secret.is_some() {
            eprintln!("{SECRET_IN_FLAG_WARNING}");
        }
        Ok(self.secret)
    }
}

/// The client settings `create` and `update` share. Lists take repeated flags or commas.
#[derive(Debug, Default, Args)]
pub struct ClientFields {
    /// Human-readable client name shown on the consent screen.
    #[arg(long, short = 'n')]
    name: Option<String>,

    /// Allowed redirect URIs.
    #[arg(
        long,
        short = 'c',
        value_delimiter = ',',
        value_name = "URI",
        alias = "redirect-uri"
    )]
    callbacks: Vec<String>,

    /// Allowed grant types [default on the server: authorization_code].
    #[arg(
        long,
        short = 'g',
        value_delimiter = ',',
        value_name = "TYPE",
        alias = "grant-type"
    )]
    grant_types: Vec<String>,

    /// Allowed response types [default on the server: code, with authorization_code].
    #[arg(
        long,
        short = 'r',
        value_delimiter = ',',
        value_name = "TYPE",
        alias = "response-type"
    )]
    response_types: Vec<String>,

    /// Scopes the client may request, separated by spaces or commas.
    #[arg(long, short = 'a', value_name = "SCOPES")]
    scope: Vec<String>,

    /// Audiences the client may request.
    #[arg(long, value_delimiter = ',', value_name = "AUDIENCE")]
    audience: Vec<String>,

    /// none (public client, PKCE), client_secret_basic or client_secret_post.
    #[arg(long, value_name = "METHOD", value_parser = parse_auth_method)]
    token_endpoint_auth_method: Option<String>,

    /// URL of the client's logo.
    #[arg(long, value_name = "URI")]
    logo_uri: Option<String>,

    /// URL of the client's home page.
    #[arg(long, value_name = "URI")]
    client_uri: Option<String>,

    /// URL of the client's privacy policy.
    #[arg(long, value_name = "URI")]
    policy_uri: Option<String>,

    /// URL of the client's terms of service.
    #[arg(long, value_name = "URI")]
    tos_uri: Option<String>,

    /// Allowed post-logout redirect URIs.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "URI",
        alias = "post-logout-callback"
    )]
    post_logout_callbacks: Vec<String>,

    /// Contacts for the client (e-mail addresses).
    #[arg(long, value_delimiter = ',', value_name = "CONTACT", alias = "contact")]
    contacts: Vec<String>,

    /// Skip the consent screen for this client (first-party applications only).
    #[arg(long)]
    skip_consent: bool,

    /// Access token format: opaque or jwt.
    #[arg(long, value_name = "STRATEGY", value_parser = parse_access_token_strategy)]
    access_token_strategy: Option<String>,

    /// Free-form JSON object stored with the client.
    #[arg(long, value_name = "JSON")]
    metadata: Option<String>,
}

pub(crate) fn parse_auth_method(s: &str) -> Result<String, String> {
    TokenEndpointAuthMethod::parse(s)
        .map(|m| m.as_str().to_owned())
        .ok_or_else(|| format!("use {}", TokenEndpointAuthMethod::names()))
}

fn parse_access_token_strategy(s: &str) -> Result<String, String> {
    AccessTokenStrategy::parse(s)
        .map(|m| m.as_str().to_owned())
        .ok_or_else(|| format!("use {}", AccessTokenStrategy::names()))
}

/// Runs `gatehouse clients …`.
pub async fn run_clients(conn: &AdminConnection, cmd: ClientsCommand) -> anyhow::Result<()> {
    let api = AdminApi::new(conn).map_err(one_line)?;
    execute(&api, conn.format, cmd, &mut std::io::stdout())
        .await
        .map_err(one_line)
}

pub(crate) async fn execute(
    api: &AdminApi,
    format: OutputFormat,
    cmd: ClientsCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match cmd {
        ClientsCommand::Create(args) => {
            let CreateArgs { id, secret, fields } = *args;
            let mut body = client_body(id.as_deref(), &fields)?;
            let secret = secret.resolve()?;
            if let Some(secret) = &secret {
                body.insert("client_secret".into(), secret.expose().into());
            }
            let created = api
                .post(&["admin", "clients"], &[], &Value::Object(body))
                .await?;
            let chosen = secret.is_some();
            emit(
                out,
                &render(format, &created, |c| created_message(c, chosen)),
            )?;
            warn_to_store_secret(&created, chosen);
            Ok(())
        }
        ClientsCommand::List => {
            let all = Value::Array(api.list(&["admin", "clients"], &[]).await?);
            emit(out, &render(format, &all, |v| list_table(items(v))))
        }
        ClientsCommand::Get { id } => {
            let client = api.get(&["admin", "clients", &id]).await?;
            emit(out, &render(format, &client, client_fields))
        }
        ClientsCommand::Update(args) => {
            let UpdateArgs { id, secret, fields } = *args;
            let mut body = client_body(Some(&id), &fields)?;
            let secret = secret.resolve()?;
            if let Some(secret) = &secret {
                body.insert("client_secret".into(), secret.expose().into());
            }
            let updated = api
                .put(&["admin", "clients", &id], &Value::Object(body))
                .await?;
            let chosen = secret.is_some();
            emit(
                out,
                &render(format, &updated, |c| updated_message(&id, c, chosen)),
            )?;
            warn_to_store_secret(&updated, chosen);
            Ok(())
        }
        ClientsCommand::Delete { ids } => {
            let mut failures = Vec::new();
            let mut deleted = Vec::new();
            for id in &ids {
                match api.delete(&["admin", "clients", id]).await {
                    Ok(()) if format == OutputFormat::Table => {
                        emit(out, &format!("{id} OAuth 2.0 Client deleted.\n"))?
                    }
                    Ok(()) => deleted.push(Value::from(id.as_str())),
                    Err(e) => failures.push((id.clone(), e)),
                }
            }
            if format == OutputFormat::Json {
                emit(out, &to_json(&Value::Array(deleted)))?;
            }
            batch_outcome(failures, ids.len(), "clients", "deleted")
        }
        ClientsCommand::Import { files } => super::import::import(api, format, &files, out).await,
        ClientsCommand::RotateSecret { id, grace } => {
            let grace = grace.map(|g| g.as_secs().to_string());
            let query: Vec<(&str, &str)> = grace
                .as_deref()
                .map(|g| ("grace_seconds", g))
                .into_iter()
                .collect();
            let rotated = api
                .post(&["admin", "clients", &id, "secret"], &query, &json!({}))
                .await?;
            if text(&rotated, "client_secret").is_empty() {
                bail!(
                    "the admin API rotated the secret of {id} but did not return it; rotate again to get one"
                );
            }
            emit(
                out,
                &render(format, &rotated, |c| created_message(c, false)),
            )?;
            warn_to_store_secret(&rotated, false);
            Ok(())
        }
    }
}

/// The request body for `create` and `update`: only what the flags set, checked before sending.
/// Every non-empty value of `flag` must name one of the protocol's values.
fn check_values<T>(
    flag: &str,
    what: &str,
    values: &[String],
    parse: fn(&str) -> Option<T>,
    names: fn() -> String,
) -> anyhow::Result<()> {
    for value in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        if parse(value).is_none() {
            bail!("{flag}: {what} {value:?} is not supported; use {}", names());
        }
    }
    Ok(())
}

pub(crate) fn client_body(
    id: Option<&str>,
    f: &ClientFields,
) -> anyhow::Result<Map<String, Value>> {
    let mut body = Map::new();
    if let Some(id) = id {
        if id.trim().is_empty() {
            bail!("the client ID is empty: give one, or leave --id out to have one generated");
        }
        ClientId::parse(id).map_err(|e| anyhow!("{id:?}: {e}"))?;
        body.insert("client_id".into(), id.into());
    }
    // The protocol values are checked here, so a typo fails before anything is sent.
    check_values(
        "--grant-types",
        "grant type",
        &f.grant_types,
        GrantType::parse,
        GrantType::names,
    )?;
    check_values(
        "--response-types",
        "response type",
        &f.response_types,
        ResponseType::parse,
        ResponseType::names,
    )?;
    if let Some(name) = &f.name {
        body.insert("client_name".into(), name.as_str().into());
    }
    for (key, values) in [
        ("redirect_uris", &f.callbacks),
        ("grant_types", &f.grant_types),
        ("response_types", &f.response_types),
        ("audience", &f.audience),
        ("post_logout_redirect_uris", &f.post_logout_callbacks),
        ("contacts", &f.contacts),
    ] {
        // Given but empty (`--response-types ""`) means an explicitly empty list.
        if !values.is_empty() {
            let list: Vec<Value> = values
                .iter()
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(Value::from)
                .collect();
            body.insert(key.into(), Value::Array(list));
        }
    }
    if !f.scope.is_empty() {
        // Hydra splits its scope flag on commas too; spaces are the OAuth separator.
        let joined = f
            .scope
            .iter()
            .flat_map(|s| s.split([',', ' ', '\t']))
            .collect::<Vec<_>>()
            .join(" ");
        let scopes = ScopeSet::parse(&joined).map_err(|e| anyhow!("--scope: {e}"))?;
        body.insert("scope".into(), scopes.to_string().into());
    }
    for (key, value) in [
        ("token_endpoint_auth_method", &f.token_endpoint_auth_method),
        ("logo_uri", &f.logo_uri),
        ("client_uri", &f.client_uri),
        ("policy_uri", &f.policy_uri),
        ("tos_uri", &f.tos_uri),
        ("access_token_strategy", &f.access_token_strategy),
    ] {
        if let Some(value) = value {
            body.insert(key.into(), value.trim().into());
        }
    }
    if f.skip_consent {
        body.insert("skip_consent".into(), true.into());
    }
    if let Some(raw) = &f.metadata {
        let parsed: Value = serde_json::from_str(raw)
            .map_err(|e| anyhow!("--metadata is not valid JSON ({e}): pass an object such as '{{\"team\":\"billing\"}}'"))?;
        if !parsed.is_object() {
            bail!("--metadata must be a JSON object such as '{{\"team\":\"billing\"}}'");
        }
        body.insert("metadata".into(), parsed);
    }
    Ok(body)
}

/// What `create` and `rotate-secret` print: the ID, and a secret the server generated.
fn created_message(client: &Value, chosen_secret: bool) -> String {
    let id = text(client, "client_id");
    format!(
        "OAuth 2.0 Client ID: {id}\n{}",
        new_secret_line(client, chosen_secret)
    )
}

/// What `update` prints; the server generates a secret when a public client becomes confidential.
fn updated_message(id: &str, client: &Value, chosen_secret: bool) -> String {
    format!(
        "{id} OAuth 2.0 Client updated.\n{}",
        new_secret_line(client, chosen_secret)
    )
}

/// `OAuth 2.0 Client Secret: …` for a secret the server generated and shows this once; empty
/// when there is none or the operator chose it (it is not echoed back).
pub(crate) fn new_secret_line(client: &Value, chosen_secret: bool) -> String {
    match text(client, "client_secret") {
        secret if secret.is_empty() || chosen_secret => String::new(),
        secret => format!("OAuth 2.0 Client Secret: {secret}\n"),
    }
}

/// After the output, so the warning follows the secret on a terminal.
pub(crate) fn warn_to_store_secret(client: &Value, chosen_secret: bool) {
    if !new_secret_line(client, chosen_secret).is_empty() {
        eprintln!("{STORE_SECRET_WARNING}");
    }
}

const LIST_HEADERS: [&str; 7] = [
    "CLIENT ID",
    "NAME",
    "RESPONSE TYPES",
    "SCOPE",
    "REDIRECT URIS",
    "GRANT TYPES",
    "TOKEN ENDPOINT AUTH METHOD",
];

/// Hydra's `clients list` table.
pub(crate) fn list_table(clients: &[Value]) -> String {
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|c| {
            [
                "client_id",
                "client_name",
                "response_types",
                "scope",
                "redirect_uris",
                "grant_types",
                "token_endpoint_auth_method",
            ]
            .iter()
            .map(|k| text(c, k))
            .collect()
        })
        .collect();
    table(&LIST_HEADERS, &rows)
}

fn client_fields(c: &Value) -> String {
    let metadata = match c.get("metadata") {
        Some(Value::Object(m)) if m.is_empty() => String::new(),
        Some(Value::Null) | None => String::new(),
        Some(m) => m.to_string(),
    };
    fields(&[
        ("CLIENT ID", text(c, "client_id")),
        ("NAME", text(c, "client_name")),
        ("REDIRECT URIS", text(c, "redirect_uris")),
        ("GRANT TYPES", text(c, "grant_types")),
        ("RESPONSE TYPES", text(c, "response_types")),
        ("SCOPE", text(c, "scope")),
        ("AUDIENCE", text(c, "audience")),
        (
            "TOKEN ENDPOINT AUTH METHOD",
            text(c, "token_endpoint_auth_method"),
        ),
        (
            "POST LOGOUT REDIRECT URIS",
            text(c, "post_logout_redirect_uris"),
        ),
        ("LOGO URI", text(c, "logo_uri")),
        ("CLIENT URI", text(c, "client_uri")),
        ("POLICY URI", text(c, "policy_uri")),
        ("TOS URI", text(c, "tos_uri")),
        ("CONTACTS", text(c, "contacts")),
        ("SKIP CONSENT", flag(c, "skip_consent")),
        ("ACCESS TOKEN STRATEGY", text(c, "access_token_strategy")),
        ("METADATA", metadata),
        ("CREATED AT", text(c, "created_at")),
        ("UPDATED AT", text(c, "updated_at")),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::cli::tests::{Top, parse};

    fn clients_cmd(line: &[&str]) -> ClientsCommand {
        match parse(line) {
            Ok(Top::Clients { cmd, .. }) => cmd,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn body_of(line: &[&str]) -> Value {
        match clients_cmd(line) {
            ClientsCommand::Create(a) => {
                Value::Object(client_body(a.id.as_deref(), &a.fields).unwrap())
            }
            ClientsCommand::Update(a) => {
                Value::Object(client_body(Some(&a.id), &a.fields).unwrap())
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hydras_create_command_works_verbatim() {
        let body = body_of(&[
            "clients",
            "--fake-tls-termination",
            "create",
            "--name",
            "Neon CLI",
            "--id",
            "neoncli",
            "--callbacks",
            "http://127.0.0.1/callback",
            "--grant-types",
            "authorization_code,refresh_token",
            "--scope",
            "openid offline offline_access urn:neoncloud:projects:create urn:neoncloud:projects:read urn:neoncloud:projects:update urn:neoncloud:projects:delete",
            "--token-endpoint-auth-method",
            "none",
        ]);
        assert_eq!(
            body,
            json!({
                "client_id": "neoncli",
                "client_name": "Neon CLI",
                "redirect_uris": ["http://127.0.0.1/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "scope": "openid offline offline_access urn:neoncloud:projects:create urn:neoncloud:projects:read urn:neoncloud:projects:update urn:neoncloud:projects:delete",
                "token_endpoint_auth_method": "none",
            })
        );
    }

    #[test]
    fn hydras_update_command_is_a_full_body_for_put() {
        let body = body_of(&[
            "clients",
            "--fake-tls-termination",
            "update",
            "neonclitest3",
            "--token-endpoint-auth-method",
            "none",
            "--grant-types",
            "authorization_code,refresh_token",
            "--scope",
            "openid offline",
            "--response-types",
            "code",
            "--name",
            "Neon CLI test 3",
            "--callbacks",
            "http://127.0.0.1:5555/callback",
        ]);
        assert_eq!(
            body,
            json!({
                "client_id": "neonclitest3",
                "client_name": "Neon CLI test 3",
                "redirect_uris": ["http://127.0.0.1:5555/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "scope": "openid offline",
                "token_endpoint_auth_method": "none",
            })
        );
    }

    #[test]
    fn lists_take_repeated_flags_and_commas() {
        let body = body_of(&[
            "clients",
            "create",
            "-c",
            "http://127.0.0.1/a,http://127.0.0.1/b",
            "--callbacks",
            "http://127.0.0.1/c",
            "-g",
            "authorization_code",
            "-g",
            "refresh_token",
            "--post-logout-callbacks",
            "https://app.example/bye,",
            "--redirect-uri",
            "http://127.0.0.1/d",
            "--scope",
            "openid,email",
            "-a",
            "profile  openid",
        ]);
        assert_eq!(
            body["redirect_uris"],
            json!([
                "http://127.0.0.1/a",
                "http://127.0.0.1/b",
                "http://127.0.0.1/c",
                "http://127.0.0.1/d"
            ])
        );
        assert_eq!(
            body["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(
            body["post_logout_redirect_uris"],
            json!(["https://app.example/bye"])
        );
        assert_eq!(body["scope"], "openid email profile");
    }

    #[test]
    fn explicitly_empty_list_is_sent_as_empty() {
        let body = body_of(&[
            "clients",
            "create",
            "--grant-types",
            "client_credentials",
            "--response-types",
            "",
        ]);
        assert_eq!(body["response_types"], json!([]));
    }

    #[test]
    fn optional_fields_map_to_rfc7591_names() {
        let body = body_of(&[
            "clients",
            "create",
            "--logo-uri",
            "https://app.example/logo.png",
            "--client-uri",
            "https://app.example",
            "--policy-uri",
            "https://app.example/privacy",
            "--tos-uri",
            "https://app.example/tos",
            "--skip-consent",
            "--access-token-strategy",
            "jwt",
            "--metadata",
            r#"{"team":"billing"}"#,
            "--audience",
            "https://api.example",
            "--contacts",
            "ops@app.example",
        ]);
        assert_eq!(
            body,
            json!({
                "logo_uri": "https://app.example/logo.png",
                "client_uri": "https://app.example",
                "policy_uri": "https://app.example/privacy",
                "tos_uri": "https://app.example/tos",
                "skip_consent": true,
                "access_token_strategy": "jwt",
                "metadata": {"team": "billing"},
                "audience": ["https://api.example"],
                "contacts": ["ops@app.example"],
            })
        );
    }

    #[test]
    fn bad_flags_fail_before_any_request() {
        let err = |line: &[&str]| match clients_cmd(line) {
            ClientsCommand::Create(a) => client_body(a.id.as_deref(), &a.fields)
                .unwrap_err()
                .to_string(),
            other => panic!("{other:?}"),
        };
        assert!(
            err(&["clients", "create", "--metadata", "{oops"])
                .starts_with("--metadata is not valid JSON")
        );
        assert!(
            err(&["clients", "create", "--metadata", "[1]"])
                .starts_with("--metadata must be a JSON object")
        );
        assert!(
            err(&["clients", "create", "--scope", "openid bad\"scope"])
                .starts_with("--scope: invalid scope token")
        );
        assert!(err(&["clients", "create", "--id", " "]).contains("client ID is empty"));
        assert!(
            err(&["clients", "create", "--id", "neon cli"])
                .contains("client_id must be 1 to 255 visible ASCII characters without spaces")
        );
        assert_eq!(
            err(&[
                "clients",
                "create",
                "--grant-types",
                "authorization_code,implicit"
            ]),
            "--grant-types: grant type \"implicit\" is not supported; use authorization_code, refresh_token or client_credentials"
        );
        assert_eq!(
            err(&["clients", "create", "--response-types", "token"]),
            "--response-types: response type \"token\" is not supported; use code"
        );
        assert!(
            parse(&["clients", "create", "--access-token-strategy", "macaroon"])
                .unwrap_err()
                .to_string()
                .contains("use opaque or jwt")
        );
        let clap_err = parse(&[
            "clients",
            "create",
            "--token-endpoint-auth-method",
            "private_key_jwt",
        ])
        .unwrap_err();
        assert!(
            clap_err
                .to_string()
                .contains("use none, client_secret_basic or client_secret_post")
        );
        assert!(parse(&["clients", "create", "--secret", "x", "--secret-stdin"]).is_err());
        assert!(parse(&["clients", "create", "--password", "x"]).is_err());
    }

    #[test]
    fn the_secret_flag_is_redacted_in_debug_output() {
        let cmd = clients_cmd(&[
            "clients",
            "create",
            "--secret",
            "very-secret-value-of-32-characters!",
        ]);
        assert!(!format!("{cmd:?}").contains("very-secret"));
    }

    #[test]
    fn list_table_has_hydras_columns() {
        let clients = [json!({
            "client_id": "neonclitest3",
            "client_name": "Neon CLI test 3",
            "response_types": ["code"],
            "scope": "openid offline",
            "redirect_uris": ["http://127.0.0.1:5555/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
            "created_at": "2025-01-01T00:00:00Z",
        })];
        let expected = "\
|  CLIENT ID   |      NAME       | RESPONSE TYPES |     SCOPE      |         REDIRECT URIS          |           GRANT TYPES            | TOKEN ENDPOINT AUTH METHOD |
|--------------|-----------------|----------------|----------------|--------------------------------|----------------------------------|----------------------------|
| neonclitest3 | Neon CLI test 3 | code           | openid offline | http://127.0.0.1:5555/callback | authorization_code,refresh_token | none                       |
";
        assert_eq!(list_table(&clients), expected);
    }

    #[test]
    fn create_prints_a_generated_secret_but_not_a_chosen_one() {
        let c = json!({"client_id": "neoncli", "client_secret": "gen"});
        assert_eq!(
            created_message(&c, false),
            "OAuth 2.0 Client ID: neoncli\nOAuth 2.0 Client Secret: gen\n"
        );
        assert_eq!(created_message(&c, true), "OAuth 2.0 Client ID: neoncli\n");
        let public = json!({"client_id": "pub"});
        assert_eq!(
            created_message(&public, false),
            "OAuth 2.0 Client ID: pub\n"
        );
        assert_eq!(
            updated_message("pub", &c, false),
            "pub OAuth 2.0 Client updated.\nOAuth 2.0 Client Secret: gen\n"
        );
    }
}
