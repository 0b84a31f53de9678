//! `gatehouse users …`: end users who sign in on the login UI.
//!
//! Passwords come from a no-echo prompt or `--password-stdin`, never from a flag, and are read
//! before any request is sent. `update` changes only the settings given: it reads the user,
//! applies the flags and writes the whole user back.
//!
//! Every command that acts on one user takes its ID or its username: the argument is tried as
//! an ID first (`GET /admin/users/{id}`), then as a username (`GET /admin/users?username=`,
//! exact and case-insensitive, as sign-in compares usernames).
//!
//! Roles (`admin`, `reviewer`: what a user may do in the operator console) are set with
//! `create --role` and changed with `update --add-role/--remove-role`; the first administrator
//! of a new deployment is made with `gatehouse console bootstrap`.

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use gatehouse_core::secret::SecretString;
use gatehouse_core::user::{Role, Username, parse_metadata, parse_roles};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use std::io::Write;
use url::Url;

use super::http::{AdminApi, failure_status};
use super::input::new_password;
use super::output::{emit, fields, flag, items, render, table, text};
use super::{AdminConnection, OutputFormat, one_line};

/// `gatehouse users factors …`.
#[derive(Debug, Subcommand)]
pub enum FactorsCommand {
    /// List a user's second factors (never their secrets).
    List {
        /// The user's ID or username.
        #[arg(value_name = "USER")]
        id: String,
    },
    /// Remove one of a user's second factors; with the last one their recovery codes go too,
    /// and they sign in with their password alone (or enrol again where a second factor is
    /// required).
    Remove {
        /// The user's ID or username.
        #[arg(value_name = "USER")]
        id: String,
        /// The factor's ID, as `users factors list` shows it.
        #[arg(value_name = "FACTOR_ID")]
        factor_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user; asks for the password unless --password-stdin is given.
    Create(CreateUserArgs),
    /// List users (all pages).
    List {
        /// Only users whose username or email contains this text.
        #[arg(long)]
        search: Option<String>,
        /// Only users with this role: admin or reviewer.
        #[arg(long, value_name = "ROLE", value_parser = role_arg)]
        role: Option<Role>,
    },
    /// Show one user.
    #[command(visible_alias = "show")]
    Get {
        /// The user's ID or username.
        #[arg(value_name = "USER")]
        id: String,
    },
    /// Change a user's profile; settings left out stay as they are.
    Update {
        /// The user's ID or username.
        #[arg(value_name = "USER")]
        id: String,
        #[command(flatten)]
        changes: UserChanges,
    },
    /// Disable a user: they can no longer sign in, and their sessions and tokens end.
    Disable {
        /// The user's ID or username.
        #[arg(value_name = "USER")]
        id: String,
    },
    /// Enable a disabled user again; also lifts a failed-sign-in lock.
    Enable {
        /// The user's ID or username.
        #[arg(value_name = "USER")]
        id: String,
    },
    /// Set a user's password; asks for it unless --password-stdin is given. Every session and
    /// token of the user ends, and a failed-sign-in lock is lifted.
    SetPassword {
        /// The user's ID or username.
        #[arg(value_name = "USER")]
        id: String,
        /// Read the password from standard input instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Lift the lock that too many failed sign-ins placed on a user, so they can sign in now.
    ///
    /// Enabling a user and setting a password lift it too.
    Unlock {
        /// The user's ID or username.
        #[arg(value_name = "USER")]
        id: String,
    },
    /// Mail the user a single-use link to choose a new password (as "Forgot password?" does).
    ///
    /// Needs outgoing mail on the server (GATEHOUSE_SMTP_URL, or dev mode's .eml files) and an
    /// email address on the user. The current password keeps working until the link is used;
    /// using it ends the user's sessions and tokens (unless GATEHOUSE_RESET_ENDS_SESSIONS=false).
    PasswordReset {
        /// The user's ID or username.
        #[arg(value_name = "USER")]
        id: String,
    },
    /// Import users from a JSON-lines file: one user per line with the fields id (optional; keeps
    /// the subject), username, email, email_verified, name, picture, disabled, metadata, roles
    /// and password_hash (bcrypt, argon2id/argon2i, PBKDF2-SHA-256/512 as PHC, passlib or Django,
    /// scrypt as PHC or passlib).
    ///
    /// A user whose id or username exists is skipped, so importing a file again creates nothing.
    /// Prints created, skipped and invalid lines (with the reason); exits 1 when a line is
    /// invalid. The lines go to the admin API (`POST /admin/users/import`) in batches of at most
    /// 500; each batch is created in one transaction, so after a failure run the same command
    /// again.
    Import {
        /// The JSON-lines file ('-' for standard input), as `users export` writes it.
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
        /// Check every line and report what would be created, without creating anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Export every user as JSON lines, password hashes included, in the format `users import`
    /// reads.
    Export {
        /// Write to this file, created readable by its owner only (0600); without it, standard
        /// output.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<std::path::PathBuf>,
        /// Replace the --output file if it exists (it is left as is otherwise).
        #[arg(long, requires = "output")]
        force: bool,
    },
    /// A user's second factors (authenticator apps and passkeys): list them, or remove one for a
    /// user who lost their device and their recovery codes.
    #[command(subcommand)]
    Factors(FactorsCommand),
    /// Delete a user.
    Delete {
        /// The user's ID or username.
        #[arg(value_name = "USER")]
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    /// Sign-in name, unique regardless of case.
    #[arg(long)]
    username: String,
    /// Email address.
    #[arg(long)]
    email: Option<String>,
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// URL of the user's picture.
    #[arg(long, value_name = "URL")]
    picture: Option<String>,
    /// Mark the email address as verified.
    #[arg(long)]
    email_verified: bool,
    /// Read the password from standard input instead of asking.
    #[arg(long)]
    password_stdin: bool,
    /// A role in the operator console: admin (everything) or reviewer (registration requests
    /// only). Repeat it for both.
    #[arg(long = "role", value_name = "ROLE", value_parser = role_arg)]
    roles: Vec<Role>,
    #[command(flatten)]
    metadata: MetadataArgs,
}

/// A role name as the admin API knows it (`admin`, `reviewer`).
fn role_arg(s: &str) -> Result<Role, String> {
    Role::parse(s).map_err(|e| e.to_string())
}

/// `--metadata` / `--metadata-file`: the user's whole metadata object.
#[derive(Debug, Default, Args)]
pub struct MetadataArgs {
    /// The user's metadata: a JSON object of at most 16 KiB, e.g. '{"plan":"pro"}'. On update it
    /// replaces the whole object ('{}' clears it).
    #[arg(long, value_name = "JSON", conflicts_with = "metadata_file")]
    metadata: Option<String>,
    /// Like --metadata, read from a file ('-' for standard input).
    #[arg(long, value_name = "FILE")]
    metadata_file: Option<std::path::PathBuf>,
}

impl MetadataArgs {
    fn given(&self) -> bool {
        self.metadata.is_some() || self.metadata_file.is_some()
    }

    /// The metadata given, checked as the server will (a JSON object, at most 16 KiB).
    pub(crate) fn read(&self) -> anyhow::Result<Option<Value>> {
        let (flag, text) = match (&self.metadata, &self.metadata_file) {
            (Some(text), _) => ("--metadata", text.clone()),
            (None, Some(path)) if path.as_os_str() == "-" => {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .map_err(|e| anyhow!("--metadata-file -: {e}"))?;
                ("--metadata-file", text)
            }
            (None, Some(path)) => (
                "--metadata-file",
                std::fs::read_to_string(path)
                    .map_err(|e| anyhow!("--metadata-file {}: {e}", path.display()))?,
            ),
            (None, None) => return Ok(None),
        };
        let value: Value =
            serde_json::from_str(&text).map_err(|e| anyhow!("{flag}: not JSON: {e}"))?;
        if !value.is_object() {
            bail!("{flag}: metadata must be a JSON object");
        }
        let map = parse_metadata(value).map_err(|e| anyhow!("{flag}: {e}"))?;
        Ok(Some(Value::Object(map)))
    }
}

#[derive(Debug, Default, Args)]
pub struct UserChanges {
    /// New sign-in name.
    #[arg(long)]
    username: Option<String>,
    /// New email address (`""` removes it). A new address is unverified unless --email-verified is given.
    #[arg(long)]
    email: Option<String>,
    /// New display name (`""` removes it).
    #[arg(long)]
    name: Option<String>,
    /// New picture URL (`""` removes it).
    #[arg(long, value_name = "URL")]
    picture: Option<String>,
    /// Mark the email address verified (`--email-verified=false`: unverified).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    email_verified: Option<bool>,
    /// Give the user this role (admin or reviewer); repeat for both.
    #[arg(long = "add-role", value_name = "ROLE", value_parser = role_arg)]
    add_roles: Vec<Role>,
    /// Take this role from the user; repeat for both.
    #[arg(long = "remove-role", value_name = "ROLE", value_parser = role_arg)]
    remove_roles: Vec<Role>,
    #[command(flatten)]
    metadata: MetadataArgs,
}

/// Runs `gatehouse users …`.
pub async fn run_users(conn: &AdminConnection, cmd: UsersCommand) -> anyhow::Result<()> {
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

/// `password(from_stdin)` supplies new passwords: stdin or the prompt, or a fixed one in tests.
pub(crate) async fn execute(
    api: &AdminApi,
    format: OutputFormat,
    cmd: UsersCommand,
    out: &mut dyn Write,
    password: &mut dyn FnMut(bool) -> anyhow::Result<SecretString>,
) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::Create(args) => {
            let mut body = create_body(&args)?;
            let secret = password(args.password_stdin)?;
            body.insert("password".into(), secret.expose().into());
            let created = api
                .post(&["admin", "users"], &[], &Value::Object(body))
                .await?;
            emit(
                out,
                &render(format, &created, |u| {
                    format!(
                        "User {} created with ID {}.\n",
                        text(u, "username"),
                        text(u, "id")
                    )
                }),
            )
        }
        UsersCommand::List { search, role } => {
            let query: Vec<(&str, &str)> = search
                .as_deref()
                .map(|s| ("search", s))
                .into_iter()
                .chain(role.map(|r| ("role", r.as_str())))
                .collect();
            let all = Value::Array(api.list(&["admin", "users"], &query).await?);
            emit(out, &render(format, &all, |v| list_table(items(v))))
        }
        UsersCommand::Get { id } => {
            let user = find_user(api, &id).await?;
            emit(out, &render(format, &user, user_fields))
        }
        UsersCommand::Update { id, changes } => {
            check_changes(&changes)?;
            let metadata = changes.metadata.read()?;
            let current = find_user(api, &id).await?;
            let body = apply_changes(&current, &changes, metadata);
            let updated = api
                .put(&["admin", "users", &user_id(&current)?], &body)
                .await?;
            emit(
                out,
                &render(format, &updated, |_| format!("User {id} updated.\n")),
            )
        }
        UsersCommand::Disable { id } => set_disabled(api, format, &id, true, out).await,
        UsersCommand::Enable { id } => set_disabled(api, format, &id, false, out).await,
        UsersCommand::SetPassword { id, password_stdin } => {
            // Fail on a wrong user before asking for a password.
            let user_id = user_id(&find_user(api, &id).await?)?;
            let new = password(password_stdin)?;
            api.put(
                &["admin", "users", &user_id, "password"],
                &json!({ "password": new.expose() }),
            )
            .await?;
            let done = json!({ "id": user_id, "password_set": true });
            emit(
                out,
                &render(format, &done, |_| format!("Password of user {id} set.\n")),
            )
        }
        UsersCommand::Unlock { id } => {
            let user_id = user_id(&find_user(api, &id).await?)?;
            api.post(&["admin", "users", &user_id, "unlock"], &[], &json!({}))
                .await?;
            let done = json!({ "id": user_id, "unlocked": true });
            emit(
                out,
                &render(format, &done, |_| format!("User {id} unlocked.\n")),
            )
        }
        UsersCommand::PasswordReset { id } => {
            let user_id = user_id(&find_user(api, &id).await?)?;
            let sent = api
                .post(
                    &["admin", "users", &user_id, "password-reset"],
                    &[],
                    &json!({}),
                )
                .await?;
            emit(
                out,
                &render(format, &sent, |sent| {
                    let email = sent["email"].as_str().unwrap_or_default();
                    let minutes = sent["expires_in"].as_u64().unwrap_or_default().div_ceil(60);
                    format!(
                        "Password reset link for user {id} sent to {email}; it works for {minutes} minutes.\n"
                    )
                }),
            )
        }
        UsersCommand::Import { file, dry_run } => {
            super::user_import::import(api, format, &file, dry_run, out).await
        }
        UsersCommand::Export { output, force } => {
            super::user_import::export(api, format, output.as_deref(), force, out).await
        }
        UsersCommand::Factors(FactorsCommand::List { id }) => {
            let user_id = user_id(&find_user(api, &id).await?)?;
            let factors = api.get(&["admin", "users", &user_id, "factors"]).await?;
            emit(out, &render(format, &factors, |v| factors_table(items(v))))
        }
        UsersCommand::Factors(FactorsCommand::Remove { id, factor_id }) => {
            let user_id = user_id(&find_user(api, &id).await?)?;
            api.delete(&["admin", "users", &user_id, "factors", &factor_id])
                .await?;
            let done = json!({ "id": user_id, "factor_id": factor_id, "removed": true });
            emit(
                out,
                &render(format, &done, |_| {
                    format!("Factor {factor_id} of user {id} removed.\n")
                }),
            )
        }
        UsersCommand::Delete { id } => {
            let user_id = user_id(&find_user(api, &id).await?)?;
            api.delete(&["admin", "users", &user_id]).await?;
            emit(
                out,
                &render(format, &json!([user_id]), |_| {
                    format!("User {id} deleted.\n")
                }),
            )
        }
    }
}

/// The user whose ID or, failing that, whose username (case-insensitively) is `user`.
pub(crate) async fn find_user(api: &AdminApi, user: &str) -> anyhow::Result<Value> {
    let by_id = match api.get(&["admin", "users", user]).await {
        Ok(found) => return Ok(found),
        Err(e) if failure_status(&e) == Some(StatusCode::NOT_FOUND) => e,
        Err(e) => return Err(e),
    };
    let matches = api.list(&["admin", "users"], &[("username", user)]).await?;
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(by_id.context(format!("no user has the ID or username {user:?}"))),
        _ => bail!("more than one user matches the username {user:?}; use the user's ID"),
    }
}

fn user_id(user: &Value) -> anyhow::Result<String> {
    match text(user, "id") {
        id if id.is_empty() => bail!("the admin API answered a user without an id"),
        id => Ok(id),
    }
}

async fn set_disabled(
    api: &AdminApi,
    format: OutputFormat,
    id: &str,
    disabled: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let user_id = user_id(&find_user(api, id).await?)?;
    let user = api
        .patch(
            &["admin", "users", &user_id],
            &json!({ "disabled": disabled }),
        )
        .await?;
    let user = if user.is_null() {
        json!({ "id": user_id, "disabled": disabled })
    } else {
        user
    };
    let verb = if disabled { "disabled" } else { "enabled" };
    emit(
        out,
        &render(format, &user, |_| format!("User {id} {verb}.\n")),
    )
}

/// The POST body without the password, checked before the password is asked for.
pub(crate) fn create_body(a: &CreateUserArgs) -> anyhow::Result<Map<String, Value>> {
    let username = Username::parse(a.username.trim()).map_err(|e| anyhow!("--username: {e}"))?;
    let mut body = Map::new();
    body.insert("username".into(), username.as_str().into());
    if let Some(email) = non_empty(&a.email) {
        body.insert("email".into(), email.into());
    }
    body.insert("email_verified".into(), a.email_verified.into());
    if let Some(name) = non_empty(&a.name) {
        body.insert("name".into(), name.into());
    }
    if let Some(picture) = non_empty(&a.picture) {
        check_picture(&picture)?;
        body.insert("picture".into(), picture.into());
    }
    if a.email_verified && !body.contains_key("email") {
        bail!("--email-verified needs --email");
    }
    if let Some(metadata) = a.metadata.read()? {
        body.insert("metadata".into(), metadata);
    }
    if !a.roles.is_empty() {
        body.insert("roles".into(), roles_json(a.roles.clone()));
    }
    Ok(body)
}

/// Roles as the admin API takes them: sorted names without duplicates.
fn roles_json(roles: Vec<Role>) -> Value {
    Value::from(
        gatehouse_core::user::normalize_roles(roles)
            .into_iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>(),
    )
}

fn check_changes(c: &UserChanges) -> anyhow::Result<()> {
    if c.username.is_none()
        && c.email.is_none()
        && c.name.is_none()
        && c.picture.is_none()
        && c.email_verified.is_none()
        && !c.metadata.given()
        && c.add_roles.is_empty()
        && c.remove_roles.is_empty()
    {
        bail!(
            "nothing to update: pass --username, --email, --name, --picture, --email-verified[=false], --metadata, --add-role or --remove-role"
        );
    }
    if let Some(both) = c.add_roles.iter().find(|r| c.remove_roles.contains(r)) {
        bail!("--add-role {both} and --remove-role {both} contradict each other");
    }
    if let Some(username) = &c.username {
        Username::parse(username.trim()).map_err(|e| anyhow!("--username: {e}"))?;
    }
    if let Some(picture) = non_empty(&c.picture) {
        check_picture(&picture)?;
    }
    Ok(())
}

/// The full user to PUT: the server's copy with the flags applied; `metadata`, when given,
/// replaces the user's (else it is kept); `roles` are sent only when a role is added or removed
/// (the admin API keeps them otherwise).
pub(crate) fn apply_changes(current: &Value, c: &UserChanges, metadata: Option<Value>) -> Value {
    let keep_or = |change: &Option<String>, key: &str| -> Value {
        match change {
            Some(v) if v.trim().is_empty() => Value::Null,
            Some(v) => v.trim().into(),
            None => current.get(key).cloned().unwrap_or(Value::Null),
        }
    };
    let email = keep_or(&c.email, "email");
    let email_changed = email != current.get("email").cloned().unwrap_or(Value::Null);
    let was_verified = current
        .get("email_verified")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let email_verified =
        c.email_verified.unwrap_or(was_verified && !email_changed) && !email.is_null();
    let mut body = json!({
        "username": c.username.as_deref().map(str::trim).map(Value::from).unwrap_or_else(|| current.get("username").cloned().unwrap_or(Value::Null)),
        "email": email,
        "email_verified": email_verified,
        "name": keep_or(&c.name, "name"),
        "picture": keep_or(&c.picture, "picture"),
        "disabled": current.get("disabled").and_then(Value::as_bool).unwrap_or(false),
        "metadata": metadata.unwrap_or_else(|| current.get("metadata").cloned().unwrap_or(Value::Null)),
    });
    if !c.add_roles.is_empty() || !c.remove_roles.is_empty() {
        // Names the server sent that this CLI does not know are kept as they are: removing
        // or adding a known role never drops another.
        let names: Vec<&str> = current
            .get("roles")
            .and_then(Value::as_array)
            .map(|roles| roles.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let (known, unknown): (Vec<&str>, Vec<&str>) =
            names.into_iter().partition(|n| Role::parse(n).is_ok());
        let mut roles = parse_roles(known).unwrap_or_default();
        roles.retain(|r| !c.remove_roles.contains(r));
        roles.extend(c.add_roles.iter().copied());
        let mut roles = match roles_json(roles) {
            Value::Array(roles) => roles,
            _ => Vec::new(),
        };
        roles.extend(unknown.into_iter().map(Value::from));
        if let Some(object) = body.as_object_mut() {
            object.insert("roles".into(), Value::Array(roles));
        }
    }
    body
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn check_picture(picture: &str) -> anyhow::Result<()> {
    match Url::parse(picture) {
        Ok(u) if matches!(u.scheme(), "https" | "http") => Ok(()),
        _ => bail!("--picture {picture:?} is not an http(s) URL"),
    }
}

fn factors_table(factors: &[Value]) -> String {
    let rows: Vec<Vec<String>> = factors
        .iter()
        .map(|f| {
            vec![
                text(f, "id"),
                text(f, "kind"),
                text(f, "label"),
                flag(f, "confirmed"),
                text(f, "created_at"),
                text(f, "last_used_at"),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "KIND",
            "LABEL",
            "CONFIRMED",
            "CREATED AT",
            "LAST USED AT",
        ],
        &rows,
    )
}

fn list_table(users: &[Value]) -> String {
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                text(u, "id"),
                text(u, "username"),
                text(u, "email"),
                flag(u, "email_verified"),
                text(u, "name"),
                flag(u, "disabled"),
                text(u, "roles"),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "USERNAME",
            "EMAIL",
            "EMAIL VERIFIED",
            "NAME",
            "DISABLED",
            "ROLES",
        ],
        &rows,
    )
}

/// The metadata as compact JSON, empty for none.
fn metadata_text(u: &Value) -> String {
    match u.get("metadata") {
        Some(Value::Object(m)) if !m.is_empty() => Value::Object(m.clone()).to_string(),
        _ => String::new(),
    }
}

fn user_fields(u: &Value) -> String {
    fields(&[
        ("ID", text(u, "id")),
        ("USERNAME", text(u, "username")),
        ("EMAIL", text(u, "email")),
        ("EMAIL VERIFIED", flag(u, "email_verified")),
        ("NAME", text(u, "name")),
        ("PICTURE", text(u, "picture")),
        ("DISABLED", flag(u, "disabled")),
        ("ROLES", text(u, "roles")),
        ("METADATA", metadata_text(u)),
        ("CREATED AT", text(u, "created_at")),
        ("UPDATED AT", text(u, "updated_at")),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::cli::tests::{Top, parse};

    fn users_cmd(line: &[&str]) -> UsersCommand {
        match parse(line) {
            Ok(Top::Users { cmd, .. }) => cmd,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn create(line: &[&str]) -> Result<Value, String> {
        match users_cmd(line) {
            UsersCommand::Create(a) => create_body(&a)
                .map(Value::Object)
                .map_err(|e| e.to_string()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_body_never_holds_a_password_from_flags() {
        assert_eq!(
            create(&[
                "users",
                "create",
                "--username",
                "ann",
                "--email",
                "ann@example.com",
                "--email-verified",
                "--name",
                "Ann"
            ]),
            Ok(
                json!({"username": "ann", "email": "ann@example.com", "email_verified": true, "name": "Ann"})
            )
        );
        assert!(parse(&["users", "create", "--username", "ann", "--password", "x"]).is_err());
        assert!(parse(&["users", "set-password", "id", "--password", "x"]).is_err());
    }

    #[test]
    fn create_checks_flags_before_asking_for_a_password() {
        assert!(
            create(&["users", "create", "--username", "a b"])
                .unwrap_err()
                .starts_with("--username: invalid username")
        );
        assert!(
            create(&[
                "users",
                "create",
                "--username",
                "ann",
                "--picture",
                "javascript:alert(1)"
            ])
            .unwrap_err()
            .contains("--picture")
        );
        assert_eq!(
            create(&["users", "create", "--username", "ann", "--email-verified"]),
            Err("--email-verified needs --email".into())
        );
    }

    #[test]
    fn update_keeps_unchanged_fields_and_the_disabled_state() {
        let current = json!({"id": "u1", "username": "ann", "email": "ann@example.com", "email_verified": true,
            "name": "Ann", "picture": null, "disabled": true, "created_at": "x"});
        let UsersCommand::Update { changes, .. } =
            users_cmd(&["users", "update", "u1", "--name", "Ann B."])
        else {
            panic!()
        };
        assert_eq!(
            apply_changes(&current, &changes, None),
            json!({"username": "ann", "email": "ann@example.com", "email_verified": true, "name": "Ann B.", "picture": null, "disabled": true, "metadata": null})
        );
    }

    #[test]
    fn a_new_email_is_unverified_unless_said_otherwise() {
        let current =
            json!({"username": "ann", "email": "ann@example.com", "email_verified": true});
        let changed = |line: &[&str]| match users_cmd(line) {
            UsersCommand::Update { changes, .. } => apply_changes(&current, &changes, None),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            changed(&["users", "update", "u1", "--email", "new@example.com"])["email_verified"],
            false
        );
        assert_eq!(
            changed(&[
                "users",
                "update",
                "u1",
                "--email",
                "new@example.com",
                "--email-verified"
            ])["email_verified"],
            true
        );
        assert_eq!(
            changed(&["users", "update", "u1", "--email", "ann@example.com"])["email_verified"],
            true
        );
        let cleared = changed(&["users", "update", "u1", "--email", ""]);
        assert_eq!(
            (cleared["email"].clone(), cleared["email_verified"].clone()),
            (Value::Null, json!(false))
        );
        assert_eq!(
            changed(&["users", "update", "--email-verified=false", "u1"])["email_verified"],
            false
        );
    }

    #[test]
    fn metadata_comes_from_a_flag_or_a_file_and_is_checked_first() {
        assert_eq!(
            create(&[
                "users",
                "create",
                "--username",
                "ann",
                "--metadata",
                r#"{"plan":"pro"}"#
            ]),
            Ok(json!({"username": "ann", "email_verified": false, "metadata": {"plan": "pro"}}))
        );
        let file = std::env::temp_dir().join(format!("gh-metadata-{}.json", std::process::id()));
        std::fs::write(&file, r#"{"seats": 3}"#).unwrap();
        let path = file.to_str().unwrap();
        assert_eq!(
            create(&[
                "users",
                "create",
                "--username",
                "ann",
                "--metadata-file",
                path
            ]),
            Ok(json!({"username": "ann", "email_verified": false, "metadata": {"seats": 3}}))
        );
        std::fs::remove_file(&file).unwrap();
        assert_eq!(
            create(&["users", "create", "--username", "ann", "--metadata", "[1]"]),
            Err("--metadata: metadata must be a JSON object".into())
        );
        assert!(
            create(&["users", "create", "--username", "ann", "--metadata", "{"])
                .unwrap_err()
                .starts_with("--metadata: not JSON")
        );
        let big = format!(r#"{{"k":"{}"}}"#, "x".repeat(17 * 1024));
        assert!(
            create(&["users", "create", "--username", "ann", "--metadata", &big])
                .unwrap_err()
                .contains("at most 16384")
        );
        assert!(
            parse(&[
                "users",
                "create",
                "--username",
                "a",
                "--metadata",
                "{}",
                "--metadata-file",
                "f"
            ])
            .is_err()
        );
    }

    #[test]
    fn update_keeps_metadata_unless_given() {
        let current = json!({"username": "ann", "metadata": {"plan": "pro"}});
        let UsersCommand::Update { changes, .. } =
            users_cmd(&["users", "update", "u1", "--metadata", r#"{"plan":"free"}"#])
        else {
            panic!()
        };
        assert!(check_changes(&changes).is_ok());
        let metadata = changes.metadata.read().unwrap();
        assert_eq!(
            apply_changes(&current, &changes, metadata)["metadata"],
            json!({"plan": "free"})
        );
        let UsersCommand::Update { changes, .. } =
            users_cmd(&["users", "update", "u1", "--name", "Ann"])
        else {
            panic!()
        };
        assert_eq!(
            apply_changes(&current, &changes, None)["metadata"],
            json!({"plan": "pro"})
        );
    }

    #[test]
    fn update_needs_a_change() {
        let UsersCommand::Update { changes, .. } = users_cmd(&["users", "update", "u1"]) else {
            panic!()
        };
        assert!(
            check_changes(&changes)
                .unwrap_err()
                .to_string()
                .starts_with("nothing to update")
        );
    }

    #[test]
    fn list_accepts_search_and_role() {
        assert!(
            matches!(users_cmd(&["users", "list", "--search", "ann"]), UsersCommand::List { search: Some(s), role: None } if s == "ann")
        );
        assert!(matches!(
            users_cmd(&["users", "list", "--role", "reviewer"]),
            UsersCommand::List {
                role: Some(Role::Reviewer),
                ..
            }
        ));
        assert!(parse(&["users", "list", "--role", "root"]).is_err());
        assert!(matches!(
            users_cmd(&["users", "show", "ann"]),
            UsersCommand::Get { .. }
        ));
    }

    #[test]
    fn roles_are_given_by_name_repeatedly_and_checked_before_anything_is_sent() {
        assert_eq!(
            create(&[
                "users",
                "create",
                "--username",
                "ann",
                "--role",
                "reviewer",
                "--role",
                "admin",
                "--role",
                "admin"
            ]),
            Ok(json!({"username": "ann", "email_verified": false, "roles": ["admin", "reviewer"]}))
        );
        let refused = parse(&[
            "users",
            "create",
            "--username",
            "ann",
            "--role",
            "superuser",
        ]);
        let message = refused.unwrap_err().to_string();
        assert!(message.contains("unknown role \"superuser\""), "{message}");
        assert!(parse(&["users", "update", "ann", "--add-role", "Admin"]).is_err());
    }

    #[test]
    fn update_adds_and_removes_roles_and_keeps_the_others() {
        let current = json!({"username": "ann", "roles": ["reviewer", "future-role"]});
        let changed = |line: &[&str]| match users_cmd(line) {
            UsersCommand::Update { changes, .. } => {
                check_changes(&changes).map_err(|e| e.to_string())?;
                Ok::<_, String>(apply_changes(&current, &changes, None))
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            changed(&["users", "update", "ann", "--add-role", "admin"]).unwrap()["roles"],
            json!(["admin", "reviewer", "future-role"])
        );
        assert_eq!(
            changed(&["users", "update", "ann", "--remove-role", "reviewer"]).unwrap()["roles"],
            json!(["future-role"])
        );
        assert_eq!(
            changed(&[
                "users",
                "update",
                "ann",
                "--add-role",
                "admin",
                "--remove-role",
                "reviewer"
            ])
            .unwrap()["roles"],
            json!(["admin", "future-role"])
        );
        // Without a role flag the roles are not sent: the server keeps them.
        assert!(
            changed(&["users", "update", "ann", "--name", "Ann"])
                .unwrap()
                .get("roles")
                .is_none()
        );
        assert!(
            changed(&[
                "users",
                "update",
                "ann",
                "--add-role",
                "admin",
                "--remove-role",
                "admin"
            ])
            .unwrap_err()
            .contains("contradict")
        );
    }
}
