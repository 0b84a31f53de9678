//! The `gatehouse` binary: process entry, configuration and the operator CLI.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 bad configuration or usage (nothing listens).

mod cli;
mod config;
mod grpc_tls;
mod health;
mod ops;
mod serve;
mod shutdown;
mod system_secret;
mod telemetry;

use clap::{Args, CommandFactory as _, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{ConfigError, Role};

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Gatehouse: an OAuth 2.0 and OpenID Connect authorization server"
)]
struct Cli {
    /// TOML configuration file (keys as in docs/configuration.md).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the servers.
    Serve {
        #[command(subcommand)]
        role: ServeRole,
    },
    /// Apply database migrations (idempotent) and exit, or show them.
    Migrate {
        /// List every migration (version, description, applied or pending, applied at) and exit.
        #[arg(long, conflicts_with = "dry_run")]
        status: bool,
        /// Print the migrations that would be applied, without applying them.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Copy the embedded SQLite database to FILE: a consistent copy, taken while servers run.
    Backup {
        /// Where to write the copy (must not exist yet).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Replace the embedded SQLite database with a backup; the previous file is kept beside it.
    Restore {
        /// A file written by `gatehouse backup`.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Manage OAuth 2.0 clients through the admin API.
    Clients {
        #[command(flatten)]
        conn: cli::AdminConnection,
        #[command(flatten)]
        options: cli::ClientsOptions,
        #[command(subcommand)]
        cmd: cli::ClientsCommand,
    },
    /// Manage the scope catalogue through the admin API.
    Scopes {
        #[command(flatten)]
        conn: cli::AdminConnection,
        #[command(subcommand)]
        cmd: cli::ScopesCommand,
    },
    /// Manage users through the admin API.
    Users {
        #[command(flatten)]
        conn: cli::AdminConnection,
        #[command(subcommand)]
        cmd: cli::UsersCommand,
    },
    /// Signing keys: list them, or rotate to a new one (the old one stays published).
    Keys {
        #[command(flatten)]
        conn: cli::AdminConnection,
        #[command(subcommand)]
        cmd: cli::KeysCommand,
    },
    /// Initial access tokens for dynamic client registration (POST /oauth2/register).
    RegistrationTokens {
        #[command(flatten)]
        conn: cli::AdminConnection,
        #[command(subcommand)]
        cmd: cli::RegistrationTokensCommand,
    },
    /// The audit log: every change made through the admin API, the console or the CLI.
    Audit {
        #[command(flatten)]
        conn: cli::AdminConnection,
        #[command(subcommand)]
        cmd: cli::AuditCommand,
    },
    /// The operator console: create its first administrator.
    Console {
        #[command(flatten)]
        conn: cli::AdminConnection,
        #[command(subcommand)]
        cmd: cli::ConsoleCommand,
    },
    /// Partners' registration requests: list, show, approve, reject, request changes.
    Registrations {
        #[command(flatten)]
        conn: cli::AdminConnection,
        #[command(subcommand)]
        cmd: cli::RegistrationsCommand,
    },
    /// Certificates for the gRPC link between the login UI and the token service.
    Certs {
        #[command(subcommand)]
        cmd: cli::CertsCommand,
    },
    /// Print the command-line reference (docs/cli.md) as Markdown.
    #[command(hide = true)]
    HelpMarkdown,
}

#[derive(Subcommand)]
enum ServeRole {
    /// Token service and login UI in one process (public 4444, admin 4445, gRPC 4446).
    All(Overrides),
    /// The token service alone: public OAuth endpoints, admin API and gRPC.
    Token(Overrides),
    /// The login UI alone; reaches the token service at GATEHOUSE_TOKEN_GRPC_URL.
    Login(Overrides),
}

/// Flags override the file and the environment. Only flags that are given take part.
#[derive(Args, Default)]
struct Overrides {
    /// Public base URL, the `iss` of every token [env: GATEHOUSE_ISSUER]
    #[arg(long)]
    issuer: Option<String>,
    /// Public listener [env: GATEHOUSE_PUBLIC_ADDR]
    #[arg(long)]
    public_addr: Option<String>,
    /// Admin listener [env: GATEHOUSE_ADMIN_ADDR]
    #[arg(long)]
    admin_addr: Option<String>,
    /// gRPC listener [env: GATEHOUSE_GRPC_ADDR]
    #[arg(long)]
    grpc_addr: Option<String>,
    /// Login UI listener in `serve login` [env: GATEHOUSE_LOGIN_ADDR]
    #[arg(long)]
    login_addr: Option<String>,
    /// The token service's gRPC URL, for `serve login` [env: GATEHOUSE_TOKEN_GRPC_URL]
    #[arg(long)]
    token_grpc_url: Option<String>,
    /// postgres://… or sqlite://… (default: SQLite in the data directory) [env: DATABASE_URL]
    #[arg(long)]
    database_url: Option<String>,
    /// redis://…, redis+cluster://h1:port,h2:port or redis+sentinel://h1:port,…/master; rediss… for
    /// TLS (default: in-memory short-lived store) [env: REDIS_URL]
    #[arg(long)]
    redis_url: Option<String>,
    /// Directory of the embedded database and the dev-mode secret [env: GATEHOUSE_DATA_DIR]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Development mode: generates and persists a system secret if none is set [env: GATEHOUSE_DEV]
    #[arg(long)]
    dev: bool,
    /// Log line format [env: GATEHOUSE_LOG_FORMAT]
    #[arg(long)]
    log_format: Option<LogFormatArg>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Human,
    Json,
}

impl Overrides {
    fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = serde_json::Map::new();
        let mut put = |key: &str, value: Option<String>| {
            if let Some(v) = value {
                map.insert(key.to_owned(), serde_json::Value::String(v));
            }
        };
        put("issuer", self.issuer.clone());
        put("public_addr", self.public_addr.clone());
        put("admin_addr", self.admin_addr.clone());
        put("grpc_addr", self.grpc_addr.clone());
        put("login_addr", self.login_addr.clone());
        put("token_grpc_url", self.token_grpc_url.clone());
        put("database_url", self.database_url.clone());
        put("redis_url", self.redis_url.clone());
        put(
            "data_dir",
            self.data_dir.as_ref().map(|p| p.display().to_string()),
        );
        put(
            "log_format",
            self.log_format.map(|f| match f {
                LogFormatArg::Human => "human".to_owned(),
                LogFormatArg::Json => "json".to_owned(),
            }),
        );
        if self.dev {
            map.insert("dev".into(), serde_json::Value::Bool(true));
        }
        map
    }
}

/// Makes glibc serve every allocation of 4 MiB or more with its own `mmap`, given back to the
/// kernel on `free`.
///
/// Password verifications used to allocate one argon2 block of `memory_kib` (19 MiB by default)
/// each and free it some 40 ms later. glibc's default threshold is dynamic: after the first such
/// block is freed it rises to 19 MiB, so later blocks came from per-thread arena heaps, which
/// fragment and are kept. A login storm then left the process at 330 MB (the same binary with
/// this threshold fixed: 42 MB, back to 23 MB when idle). argon2 memory is now kept per hashing
/// slot (`gatehouse_token::password`), but an imported hash's larger memory cost is still
/// allocated per verification, as are other large buffers. Setting the threshold explicitly also
/// turns off its growth. Other C libraries and allocators do not need this.
fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called once, before any other thread
    // exists, and a failure (return value 0) leaves the default behaviour in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

fn main() -> ExitCode {
    return_large_blocks_to_the_os();
    let cli = Cli::parse();
    let (overrides, role) = match &cli.command {
        Command::Serve {
            role: ServeRole::All(o),
        } => (o, Role::All),
        Command::Serve {
            role: ServeRole::Token(o),
        } => (o, Role::Token),
        Command::Serve {
            role: ServeRole::Login(o),
        } => (o, Role::Login),
        Command::Migrate { overrides, .. }
        | Command::Backup { overrides, .. }
        | Command::Restore { overrides, .. } => (overrides, Role::OneShot),
        Command::Clients { .. }
        | Command::Scopes { .. }
        | Command::Users { .. }
        | Command::Keys { .. }
        | Command::RegistrationTokens { .. }
        | Command::Audit { .. }
        | Command::Console { .. }
        | Command::Registrations { .. } => return run_operator_cli(cli.command),
        Command::HelpMarkdown => {
            print!("{}", cli::help_markdown(Cli::command()));
            return ExitCode::SUCCESS;
        }
        Command::Certs { cmd } => {
            return match cli::run_certs(cmd) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(1)
                }
            };
        }
    };
    let loaded = config::load(cli.config.as_deref(), &overrides.to_map());
    // A misspelt variable must not leave a production server on a default it meant to change;
    // in development mode it is a warning. (The admin CLI commands above never get here: a
    // server's variables in the operator's shell are none of their business.)
    let dev = match &loaded {
        Ok(c) => c.dev,
        Err(_) => overrides.dev || std::env::var("GATEHOUSE_DEV").is_ok_and(|v| v.trim() == "true"),
    };
    let unknown = config::unknown_environment_keys();
    if !dev && !unknown.is_empty() {
        for setting in &unknown {
            eprintln!("{}", setting.message());
        }
        return ExitCode::from(2);
    }
    let config = match loaded.and_then(|c| c.validate(role)) {
        Ok(c) => c,
        Err(e) => return config_failure(&e),
    };
    let grpc_tls = match grpc_tls::load(&config, role) {
        Ok(tls) => tls,
        Err(e) => return config_failure(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let service_name = match role {
        Role::Token => "gatehouse-token",
        Role::Login => "gatehouse-login",
        Role::All | Role::OneShot => "gatehouse",
    };
    let result = runtime.block_on(async move {
        let _telemetry = telemetry::init(config.log.as_deref(), config.log_format, service_name);
        for setting in &unknown {
            tracing::warn!(variable = %setting.name, "{} (ignored in development mode)", setting.message());
        }
        match cli.command {
            Command::Serve { .. } => serve::run(config, role, grpc_tls).await,
            Command::Migrate {
                status, dry_run, ..
            } => {
                if status {
                    ops::migrate_status(&config).await
                } else if dry_run {
                    ops::migrate_dry_run(&config).await
                } else {
                    ops::migrate(&config).await
                }
            }
            Command::Backup { out, .. } => ops::backup(&config, &out).await,
            Command::Restore { file, .. } => ops::restore(&config, &file).await,
            Command::Clients { .. }
            | Command::Scopes { .. }
            | Command::Users { .. }
            | Command::Keys { .. }
            | Command::RegistrationTokens { .. }
            | Command::Audit { .. }
            | Command::Registrations { .. }
            | Command::Console { .. }
            | Command::Certs { .. }
            | Command::HelpMarkdown => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Refused before anything ran (a port in use, a backup of Postgres): a usage error.
        Err(e) if e.downcast_ref::<ConfigError>().is_some() => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `gatehouse clients|scopes|users …`: HTTP calls to the admin API; needs no configuration.
fn run_operator_cli(command: Command) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| {
            rt.block_on(async move {
                match command {
                    Command::Clients { conn, options, cmd } => {
                        cli::run_clients(&conn, options, cmd).await
                    }
                    Command::Scopes { conn, cmd } => cli::run_scopes(&conn, cmd).await,
                    Command::Users { conn, cmd } => cli::run_users(&conn, cmd).await,
                    Command::Keys { conn, cmd } => cli::run_keys(&conn, cmd).await,
                    Command::RegistrationTokens { conn, cmd } => {
                        cli::run_registration_tokens(&conn, cmd).await
                    }
                    Command::Audit { conn, cmd } => cli::run_audit(&conn, cmd).await,
                    Command::Console { conn, cmd } => cli::run_console(&conn, cmd).await,
                    Command::Registrations { conn, cmd } => {
                        cli::run_registrations(&conn, cmd).await
                    }
                    Command::Serve { .. }
                    | Command::Migrate { .. }
                    | Command::Backup { .. }
                    | Command::Restore { .. }
                    | Command::Certs { .. }
                    | Command::HelpMarkdown => Ok(()),
                }
            })
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn config_failure(e: &ConfigError) -> ExitCode {
    eprintln!("{e}");
    ExitCode::from(2)
}
