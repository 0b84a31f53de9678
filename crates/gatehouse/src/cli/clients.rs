//! `gatehouse clients …`: OAuth 2.0 clients, with Hydra v2's flags and output.
//!
//! Flags map to RFC 7591 client metadata as Hydra maps them; Hydra 1.x's spellings
//! (`--callbacks`, `--grant-types`, `-c`, …) stay accepted as hidden aliases, so both
//! generations' command lines run unchanged. A flag left out is left out of the request: on
//! `create` the admin API applies its defaults (`grant_types` `authorization_code`, …); `update`
//! sends a JSON Patch (RFC 6902) of exactly the flags given, so everything else stays as it is.
//! `update --replace --file F` replaces the whole client instead.

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand};
use gatehouse_core::client::{
    AccessTokenStrategy, ClientId, IdTokenClaims, TokenEndpointAuthMethod,
};
use gatehouse_core::protocol::{GrantType, ResponseType};
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::secret::SecretString;
use serde_json::{Map, Value, json};
use std::io::Write;

use super::http::AdminApi;
use super::output::{data, emit, fields, flag, items, render, table, text};
use super::{AdminConnection, OutputFormat, batch_outcome, input, one_line};

const SECRET_IN_FLAG_WARNING: &str = "You should not provide secrets using command line flags, the secret might leak to bash history and similar systems";
const STORE_SECRET_WARNING: &str = "Store the client secret safely now (e.g. in a secret manager): it is shown only this once and cannot be retrieved later.";
const QUIET_SECRET_WARNING: &str = "The generated client secret was not printed (--quiet); use --format json to capture it, or `gatehouse clients rotate-secret ID --grace 0s` for a new one.";

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
    /// Change a client: only the settings given as flags change, the rest stays.
    ///
    /// The flags become a JSON Patch (RFC 6902) of the client, so `update ID --name X` renames
    /// the client and nothing else; a list flag replaces that whole list. The secret is kept
    /// unless --secret or --secret-stdin is given; a public client made confidential gets a
    /// generated one. With --replace --file F the client is replaced by the one in F instead
    /// (settings missing from F take their defaults; the secret is kept unless F sets one).
    Update(Box<UpdateArgs>),
    /// Delete clients.
    Delete {
        /// The client IDs.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Import clients from JSON files: Hydra's export (`{"items": [...]}`), an array of
    /// clients, or one client.
    ///
    /// Every client of every file is validated by the admin API before the first is created, so
    /// an invalid client leaves nothing imported. Fields Gatehouse does not keep are reported on
    /// standard error.
    Import(ImportArgs),
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

/// Output options of `gatehouse clients …`; accepted before or after the subcommand.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct ClientsOptions {
    /// Print only client IDs, one per line.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
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

    /// Replace the whole client with the one in --file (a PUT) instead of changing the settings
    /// given as flags.
    #[arg(long, requires = "file", conflicts_with = "ClientFields")]
    replace: bool,

    /// With --replace: a JSON client (the admin API's fields); `-` reads standard input.
    #[arg(long, value_name = "FILE", requires = "replace")]
    file: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to read; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,

    /// Validate every client and report what would be imported; create nothing.
    #[arg(long)]
    dry_run: bool,

    /// What to do with a client whose ID already exists: fail (the default, before anything is
    /// created), skip it, or update it (replaced by the file's client, keeping its secret
    /// unless the file sets one).
    #[arg(long, value_enum, default_value_t = OnConflict::Fail, value_name = "ACTION")]
    on_conflict: OnConflict,
}

/// `import --on-conflict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnConflict {
    Fail,
    Skip,
    Update,
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

/// The client settings `create` and `update` share, under Hydra v2's names (Hydra 1.x's
/// plural spellings are hidden aliases). Lists take repeated flags or commas.
#[derive(Debug, Default, Args)]
pub struct ClientFields {
    /// Human-readable client name shown on the consent screen.
    #[arg(long, short = 'n')]
    name: Option<String>,

    /// Allowed redirect URIs.
    #[arg(
        long = "redirect-uri",
        short = 'c',
        value_delimiter = ',',
        value_name = "URI",
        alias = "callbacks"
    )]
    redirect_uris: Vec<String>,

    /// Allowed grant types: authorization_code, refresh_token, client_credentials,
    /// urn:ietf:params:oauth:grant-type:device_code [default on the server: authorization_code].
    #[arg(
        long = "grant-type",
        short = 'g',
        value_delimiter = ',',
        value_name = "TYPE",
        alias = "grant-types"
    )]
    grant_types: Vec<String>,

    /// Allowed response types [default on the server: code, with authorization_code].
    #[arg(
        long = "response-type",
        short = 'r',
        value_delimiter = ',',
        value_name = "TYPE",
        alias = "response-types"
    )]
    response_types: Vec<String>,

    /// Scopes the client may request, separated by spaces or commas.
    #[arg(long, short = 'a', value_name = "SCOPES")]
    scope: Vec<String>,

    /// Audiences the client may request.
    #[arg(long, value_delimiter = ',', value_name = "AUDIENCE")]
    audience: Vec<String>,

    /// Browser origins (such as `https://app.example`) that may call the token endpoint from a web page.
    #[arg(
        long = "allowed-cors-origin",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    allowed_cors_origins: Vec<String>,

    /// RFC 8707 resource indicators (absolute URIs) the client may name with `resource`; its access tokens for them carry them as `aud`.
    #[arg(
        long = "allowed-resource",
        alias = "allowed-resources",
        value_delimiter = ',',
        value_name = "URI"
    )]
    allowed_resources: Vec<String>,

    /// Who the client belongs to (free text).
    #[arg(long)]
    owner: Option<String>,

    /// none (public client, PKCE), client_secret_basic, client_secret_post, client_secret_jwt
    /// or private_key_jwt (needs --jwks or --jwks-uri).
    #[arg(long, value_name = "METHOD", value_parser = parse_auth_method)]
    token_endpoint_auth_method: Option<String>,

    /// The only algorithm the client's private_key_jwt or client_secret_jwt assertions may use
    /// (e.g. ES256, RS256, EdDSA, HS256); "" accepts any that fits the method.
    #[arg(long, value_name = "ALG")]
    token_endpoint_auth_signing_alg: Option<String>,

    /// URL of the client's public keys (JWK Set), fetched over https.
    #[arg(long, value_name = "URI")]
    jwks_uri: Option<String>,

    /// The client's public keys inline: a JWK Set as JSON, or @FILE to read it from a file;
    /// "" removes them.
    #[arg(long, value_name = "JSON|@FILE")]
    jwks: Option<String>,

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
        long = "post-logout-callback",
        value_delimiter = ',',
        value_name = "URI",
        visible_alias = "post-logout-redirect-uri",
        alias = "post-logout-callbacks"
    )]
    post_logout_redirect_uris: Vec<String>,

    /// Contacts for the client (e-mail addresses).
    #[arg(
        long = "contact",
        value_delimiter = ',',
        value_name = "CONTACT",
        alias = "contacts"
    )]
    contacts: Vec<String>,

    /// Skip the consent screen for this client (first-party applications only);
    /// --skip-consent=false asks again.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    skip_consent: Option<bool>,

    /// Accept this client's authorization requests only when pushed to /oauth2/par first
    /// (RFC 9126); --require-pushed-authorization-requests=false lifts it.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    require_pushed_authorization_requests: Option<bool>,

    /// Require a DPoP proof with every token request of this client, so its access tokens are
    /// always bound to a key (RFC 9449); --dpop-bound-access-tokens=false lifts it.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    dpop_bound_access_tokens: Option<bool>,
    /// Accept this client's authorization requests only as a signed request object (request,
    /// RFC 9101); --require-signed-request-object=false lifts it.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    require_signed_request_object: Option<bool>,
    /// Require a second factor (TOTP or a recovery code) at every sign-in for this client;
    /// --require-mfa=false lifts it.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    require_mfa: Option<bool>,
    /// Switch the client off: everything it holds ends at once and it gets nothing new;
    /// --disabled=false switches it on again (what was ended stays ended).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    disabled: Option<bool>,

    /// Access token format: opaque or jwt.
    #[arg(long, value_name = "STRATEGY", value_parser = parse_access_token_strategy)]
    access_token_strategy: Option<String>,

    /// What ID tokens carry: minimal (the profile comes from /userinfo) or scopes (also the
    /// claims of the granted profile and email scopes).
    #[arg(long, value_name = "CLAIMS", value_parser = parse_id_token_claims)]
    id_token_claims: Option<String>,

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

fn parse_id_token_claims(s: &str) -> Result<String, String> {
    IdTokenClaims::parse(s)
        .map(|m| m.as_str().to_owned())
        .ok_or_else(|| format!("use {}", IdTokenClaims::names()))
}

/// Runs `gatehouse clients …`.
pub async fn run_clients(
    conn: &AdminConnection,
    options: ClientsOptions,
    cmd: ClientsCommand,
) -> anyhow::Result<()> {
    let api = AdminApi::new(conn).map_err(one_line)?;
    let view = View {
        format: conn.format,
        quiet: options.quiet,
    };
    execute(&api, view, cmd, &mut std::io::stdout())
        .await
        .map_err(one_line)
}

/// How a command prints clients: `--format`, or only their IDs with `--quiet`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View {
    pub format: OutputFormat,
    pub quiet: bool,
}

impl View {
    /// One client: its ID with --quiet, the data in a data format, else `table`'s text.
    pub(crate) fn client(&self, client: &Value, table: impl FnOnce(&Value) -> String) -> String {
        if self.quiet {
            return format!("{}\n", text(client, "client_id"));
        }
        render(self.format, client, table)
    }

    /// The store-the-secret warning (or, with --quiet, that it was not shown) after a secret
    /// the server generated.
    pub(crate) fn warn_about_secret(&self, client: &Value, chosen_secret: bool) {
        if new_secret_line(client, chosen_secret).is_empty() {
            return;
        }
        if self.quiet {
            eprintln!("{QUIET_SECRET_WARNING}");
        } else {
            eprintln!("{STORE_SECRET_WARNING}");
        }
    }
}

/// The IDs of `clients`, one per line (what --quiet prints for a list).
pub(crate) fn id_lines(clients: &[Value]) -> String {
    clients
        .iter()
        .map(|c| format!("{}\n", text(c, "client_id")))
        .collect()
}

pub(crate) async fn execute(
    api: &AdminApi,
    view: View,
    cmd: ClientsCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let format = view.format;
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
            emit(out, &view.client(&created, |c| created_message(c, chosen)))?;
            view.warn_about_secret(&created, chosen);
            Ok(())
        }
        ClientsCommand::List => {
            let all = api.list(&["admin", "clients"], &[]).await?;
            if view.quiet {
                return emit(out, &id_lines(&all));
            }
            let all = Value::Array(all);
            emit(out, &render(format, &all, |v| list_table(items(v))))
        }
        ClientsCommand::Get { id } => {
            let client = api.get(&["admin", "clients", &id]).await?;
            emit(out, &view.client(&client, client_fields))
        }
        ClientsCommand::Update(args) => {
            let UpdateArgs {
                id,
                secret,
                fields,
                replace,
                file,
            } = *args;
            if file.as_deref() == Some("-") && secret.secret_stdin {
                bail!(
                    "--file - and --secret-stdin both read standard input: put client_secret in the file instead"
                );
            }
            let replacement = match (replace, file) {
                (true, Some(file)) => Some(read_client_file(&file, &id)?),
                _ => None,
            };
            let patch = match &replacement {
                Some(_) => Vec::new(),
                None => update_patch(&fields)?,
            };
            let secret = secret.resolve()?;
            let updated = match replacement {
                Some(mut body) => {
                    if let Some(secret) = &secret {
                        body.insert("client_secret".into(), secret.expose().into());
                    }
                    api.put(&["admin", "clients", &id], &Value::Object(body))
                        .await?
                }
                None => {
                    let mut patch = patch;
                    if let Some(secret) = &secret {
                        patch.push(json!({"op": "add", "path": "/client_secret", "value": secret.expose()}));
                    }
                    if patch.is_empty() {
                        bail!(
                            "nothing to update: pass the settings to change (see `gatehouse clients update --help`), or --replace --file FILE"
                        );
                    }
                    api.json_patch(&["admin", "clients", &id], &Value::Array(patch))
                        .await?
                }
            };
            let chosen = secret.is_some();
            emit(
                out,
                &view.client(&updated, |c| updated_message(&id, c, chosen)),
            )?;
            view.warn_about_secret(&updated, chosen);
            Ok(())
        }
        ClientsCommand::Delete { ids } => {
            let mut failures = Vec::new();
            let mut deleted = Vec::new();
            for id in &ids {
                match api.delete(&["admin", "clients", id]).await {
                    Ok(()) if view.quiet => emit(out, &format!("{id}\n"))?,
                    Ok(()) if format == OutputFormat::Table => {
                        emit(out, &format!("{id} OAuth 2.0 Client deleted.\n"))?
                    }
                    Ok(()) => deleted.push(Value::from(id.as_str())),
                    Err(e) => failures.push((id.clone(), e)),
                }
            }
            if format.is_data() && !view.quiet {
                emit(out, &data(format, &Value::Array(deleted)))?;
            }
            batch_outcome(failures, ids.len(), "clients", "deleted")
        }
        ClientsCommand::Import(args) => {
            super::import::import(api, view, &args.files, args.dry_run, args.on_conflict, out).await
        }
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
            emit(out, &view.client(&rotated, |c| created_message(c, false)))?;
            view.warn_about_secret(&rotated, false);
            Ok(())
        }
    }
}

/// `update --replace --file F`: the client in F, whose `client_id` (if any) must be `id`.
fn read_client_file(file: &str, id: &str) -> anyhow::Result<Map<String, Value>> {
    let content = if file == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("reading the client from standard input")?;
        s
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?
    };
    let name = if file == "-" { "stdin" } else { file };
    let client: Value = serde_json::from_str(&content)
        .map_err(|e| anyhow!("{name}: not valid JSON ({e}); nothing was changed"))?;
    let Value::Object(mut client) = client else {
        bail!("{name}: expected one client as a JSON object; nothing was changed");
    };
    match client.get("client_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(found)) if found == id => {}
        Some(other) => {
            bail!("{name}: client_id {other} differs from {id:?}; a client's ID cannot be changed")
        }
    }
    client.insert("client_id".into(), id.into());
    Ok(client)
}

/// The JSON Patch (RFC 6902) of `update`: one `replace` per setting given as a flag.
pub(crate) fn update_patch(f: &ClientFields) -> anyhow::Result<Vec<Value>> {
    Ok(client_body(None, f)?
        .into_iter()
        .map(|(key, value)| json!({"op": "replace", "path": format!("/{key}"), "value": value}))
        .collect())
}

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

/// The request body for `create` (and the settings of `update`): only what the flags set,
/// checked before sending.
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
        "--grant-type",
        "grant type",
        &f.grant_types,
        GrantType::parse,
        GrantType::names,
    )?;
    check_values(
        "--response-type",
        "response type",
        &f.response_types,
        ResponseType::parse,
        ResponseType::names,
    )?;
    if let Some(name) = &f.name {
        body.insert("client_name".into(), name.as_str().into());
    }
    for (key, values) in [
        ("redirect_uris", &f.redirect_uris),
        ("grant_types", &f.grant_types),
        ("response_types", &f.response_types),
        ("audience", &f.audience),
        ("allowed_cors_origins", &f.allowed_cors_origins),
        ("allowed_resources", &f.allowed_resources),
        ("post_logout_redirect_uris", &f.post_logout_redirect_uris),
        ("contacts", &f.contacts),
    ] {
        // Given but empty (`--response-type ""`) means an explicitly empty list.
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
        ("owner", &f.owner),
        ("token_endpoint_auth_method", &f.token_endpoint_auth_method),
        ("jwks_uri", &f.jwks_uri),
        (
            "token_endpoint_auth_signing_alg",
            &f.token_endpoint_auth_signing_alg,
        ),
        ("logo_uri", &f.logo_uri),
        ("client_uri", &f.client_uri),
        ("policy_uri", &f.policy_uri),
        ("tos_uri", &f.tos_uri),
        ("access_token_strategy", &f.access_token_strategy),
        ("id_token_claims", &f.id_token_claims),
    ] {
        if let Some(value) = value {
            body.insert(key.into(), value.trim().into());
        }
    }
    if let Some(raw) = &f.jwks {
        body.insert("jwks".into(), jwks_flag(raw)?);
    }
    if let Some(skip) = f.skip_consent {
        body.insert("skip_consent".into(), skip.into());
    }
    if let Some(par) = f.require_pushed_authorization_requests {
        body.insert("require_pushed_authorization_requests".into(), par.into());
    }
    if let Some(dpop) = f.dpop_bound_access_tokens {
        body.insert("dpop_bound_access_tokens".into(), dpop.into());
    }
    if let Some(signed) = f.require_signed_request_object {
        body.insert("require_signed_request_object".into(), signed.into());
    }
    if let Some(mfa) = f.require_mfa {
        body.insert("require_mfa".into(), mfa.into());
    }
    if let Some(disabled) = f.disabled {
        body.insert("disabled".into(), disabled.into());
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

/// `--jwks`: a JWK Set as JSON, `@FILE`, or `""` (none).
fn jwks_flag(raw: &str) -> anyhow::Result<Value> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    let text = match raw.strip_prefix('@') {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| anyhow!("--jwks: cannot read {path}: {e}"))?
        }
        None => raw.to_owned(),
    };
    let parsed: Value = serde_json::from_str(&text).map_err(|e| {
        anyhow!("--jwks is not valid JSON ({e}): pass a JWK Set such as '{{\"keys\":[...]}}'")
    })?;
    if !parsed.is_object() {
        bail!("--jwks must be a JWK Set such as '{{\"keys\":[...]}}'");
    }
    Ok(parsed)
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

const LIST_HEADERS: [&str; 7] = [
    "CLIENT ID",
    "CLIENT SECRET",
    "GRANT TYPES",
    "RESPONSE TYPES",
    "SCOPE",
    "AUDIENCE",
    "REDIRECT URIS",
];

/// Hydra v2's client table. The secret column is filled only in an answer that carries a
/// secret, i.e. right after the server generated one; the admin API never returns it later.
pub(crate) fn list_table(clients: &[Value]) -> String {
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|c| {
            [
                "client_id",
                "client_secret",
                "grant_types",
                "response_types",
                "scope",
                "audience",
                "redirect_uris",
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
        ("ALLOWED RESOURCES", text(c, "allowed_resources")),
        ("OWNER", text(c, "owner")),
        (
            "TOKEN ENDPOINT AUTH METHOD",
            text(c, "token_endpoint_auth_method"),
        ),
        ("ALLOWED CORS ORIGINS", text(c, "allowed_cors_origins")),
        (
            "POST LOGOUT REDIRECT URIS",
            text(c, "post_logout_redirect_uris"),
        ),
        ("JWKS URI", text(c, "jwks_uri")),
        (
            "JWKS",
            c.get("jwks")
                .filter(|j| !j.is_null())
                .map(|j| format!("{} keys", j["keys"].as_array().map_or(0, Vec::len)))
                .unwrap_or_default(),
        ),
        (
            "AUTH SIGNING ALG",
            text(c, "token_endpoint_auth_signing_alg"),
        ),
        ("LOGO URI", text(c, "logo_uri")),
        ("CLIENT URI", text(c, "client_uri")),
        ("POLICY URI", text(c, "policy_uri")),
        ("TOS URI", text(c, "tos_uri")),
        ("CONTACTS", text(c, "contacts")),
        ("SKIP CONSENT", flag(c, "skip_consent")),
        ("ACCESS TOKEN STRATEGY", text(c, "access_token_strategy")),
        ("ID TOKEN CLAIMS", text(c, "id_token_claims")),
        (
            "REQUIRE PAR",
            flag(c, "require_pushed_authorization_requests"),
        ),
        ("DPOP BOUND", flag(c, "dpop_bound_access_tokens")),
        (
            "REQUIRE SIGNED REQUESTS",
            flag(c, "require_signed_request_object"),
        ),
        ("REQUIRE MFA", flag(c, "require_mfa")),
        ("DISABLED", flag(c, "disabled")),
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

    fn update_of(line: &[&str]) -> UpdateArgs {
        match clients_cmd(line) {
            ClientsCommand::Update(a) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hydras_update_command_patches_exactly_the_flags_given() {
        let args = update_of(&[
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
        assert_eq!(args.id, "neonclitest3");
        assert_eq!(
            Value::Array(update_patch(&args.fields).unwrap()),
            json!([
                {"op": "replace", "path": "/client_name", "value": "Neon CLI test 3"},
                {"op": "replace", "path": "/grant_types", "value": ["authorization_code", "refresh_token"]},
                {"op": "replace", "path": "/redirect_uris", "value": ["http://127.0.0.1:5555/callback"]},
                {"op": "replace", "path": "/response_types", "value": ["code"]},
                {"op": "replace", "path": "/scope", "value": "openid offline"},
                {"op": "replace", "path": "/token_endpoint_auth_method", "value": "none"},
            ])
        );
        let rename = update_of(&["clients", "update", "web", "--name", "X"]);
        assert_eq!(
            Value::Array(update_patch(&rename.fields).unwrap()),
            json!([{"op": "replace", "path": "/client_name", "value": "X"}])
        );
        let off = update_of(&["clients", "update", "web", "--skip-consent=false"]);
        assert_eq!(
            Value::Array(update_patch(&off.fields).unwrap()),
            json!([{"op": "replace", "path": "/skip_consent", "value": false}])
        );
        assert!(
            update_patch(&update_of(&["clients", "update", "web"]).fields)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn replace_needs_a_file_and_no_setting_flags() {
        let args = update_of(&["clients", "update", "web", "--replace", "--file", "-"]);
        assert!(args.replace && args.file.as_deref() == Some("-"));
        for line in [
            &["clients", "update", "web", "--replace"][..],
            &["clients", "update", "web", "--file", "c.json"][..],
            &[
                "clients",
                "update",
                "web",
                "--replace",
                "--file",
                "c.json",
                "--name",
                "X",
            ][..],
        ] {
            let err = parse(line).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{line:?}");
        }
    }

    #[test]
    fn hydra_v2_names_and_v1_aliases_set_the_same_fields() {
        let v2 = body_of(&[
            "clients",
            "create",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--grant-type",
            "authorization_code",
            "--response-type",
            "code",
            "--post-logout-callback",
            "https://app.example/bye",
            "--contact",
            "ops@app.example",
        ]);
        let v1 = body_of(&[
            "clients",
            "create",
            "--callbacks",
            "http://127.0.0.1/cb",
            "--grant-types",
            "authorization_code",
            "--response-types",
            "code",
            "--post-logout-callbacks",
            "https://app.example/bye",
            "--contacts",
            "ops@app.example",
        ]);
        let short = body_of(&[
            "clients",
            "create",
            "-c",
            "http://127.0.0.1/cb",
            "-g",
            "authorization_code",
            "-r",
            "code",
            "--post-logout-redirect-uri",
            "https://app.example/bye",
            "--contact",
            "ops@app.example",
        ]);
        assert_eq!(v2, v1);
        assert_eq!(v2, short);
        let new_fields = body_of(&[
            "clients",
            "create",
            "--allowed-cors-origin",
            "https://app.example,https://admin.example",
            "--owner",
            "billing team",
            "--jwks-uri",
            "https://app.example/jwks.json",
            "--id-token-claims",
            "scopes",
            "--require-pushed-authorization-requests",
            "--allowed-resource",
            "https://api.example/projects,urn:example:billing",
            "--allowed-resources",
            "https://api.example/users",
            "--dpop-bound-access-tokens",
        ]);
        assert_eq!(
            new_fields,
            json!({
                "allowed_cors_origins": ["https://app.example", "https://admin.example"],
                "allowed_resources": [
                    "https://api.example/projects",
                    "urn:example:billing",
                    "https://api.example/users"
                ],
                "owner": "billing team",
                "jwks_uri": "https://app.example/jwks.json",
                "id_token_claims": "scopes",
                "require_pushed_authorization_requests": true,
                "dpop_bound_access_tokens": true,
            })
        );
        assert_eq!(
            body_of(&["clients", "create", "--dpop-bound-access-tokens=false"]),
            json!({"dpop_bound_access_tokens": false})
        );
        assert_eq!(
            body_of(&[
                "clients",
                "create",
                "--require-pushed-authorization-requests=false"
            ]),
            json!({"require_pushed_authorization_requests": false})
        );
        assert!(
            parse(&["clients", "create", "--id-token-claims", "all"])
                .unwrap_err()
                .to_string()
                .contains("use minimal or scopes")
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
            "--grant-type: grant type \"implicit\" is not supported; use authorization_code, refresh_token, client_credentials or urn:ietf:params:oauth:grant-type:device_code"
        );
        assert_eq!(
            err(&["clients", "create", "--response-types", "token"]),
            "--response-type: response type \"token\" is not supported; use code"
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
            "tls_client_auth",
        ])
        .unwrap_err();
        assert!(
            clap_err
                .to_string()
                .contains(
                    "use none, client_secret_basic, client_secret_post, private_key_jwt or client_secret_jwt"
                )
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
    fn list_table_has_hydra_v2s_columns() {
        let clients = [
            json!({
                "client_id": "neonclitest3",
                "client_name": "Neon CLI test 3",
                "response_types": ["code"],
                "scope": "openid offline",
                "redirect_uris": ["http://127.0.0.1:5555/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "audience": [],
                "token_endpoint_auth_method": "none",
                "created_at": "2025-01-01T00:00:00Z",
            }),
            json!({
                "client_id": "backend",
                "client_secret": "just-generated",
                "grant_types": ["client_credentials"],
                "response_types": [],
                "scope": "urn:x:read",
                "audience": ["https://api.example"],
                "redirect_uris": [],
            }),
        ];
        let expected = "\
|  CLIENT ID   | CLIENT SECRET  |           GRANT TYPES            | RESPONSE TYPES |     SCOPE      |      AUDIENCE       |         REDIRECT URIS          |
|--------------|----------------|----------------------------------|----------------|----------------|---------------------|--------------------------------|
| neonclitest3 |                | authorization_code,refresh_token | code           | openid offline |                     | http://127.0.0.1:5555/callback |
| backend      | just-generated | client_credentials               |                | urn:x:read     | https://api.example |                                |
";
        assert_eq!(list_table(&clients), expected);
    }

    #[test]
    fn quiet_prints_only_ids() {
        let view = View {
            format: OutputFormat::Json,
            quiet: true,
        };
        let c = json!({"client_id": "web", "client_secret": "s"});
        assert_eq!(view.client(&c, |_| unreachable!()), "web\n");
        assert_eq!(id_lines(&[c, json!({"client_id": "api"})]), "web\napi\n");
        assert!(parse(&["clients", "list", "-q"]).is_ok());
        assert!(parse(&["clients", "--quiet", "get", "web"]).is_ok());
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
