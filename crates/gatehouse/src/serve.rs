//! `gatehouse serve all|token|login`: opens the stores, binds the listeners and runs the servers
//! until a shutdown signal.
//!
//! | role  | public (4444)            | admin (4445)      | gRPC (4446)            | login (4447) |
//! |-------|--------------------------|-------------------|------------------------|--------------|
//! | all   | OAuth endpoints + login UI | admin API       | token service          | -            |
//! | token | OAuth endpoints          | admin API         | token service          | -            |
//! | login | -                        | -                 | -                      | login UI     |
//!
//! Even in `all`, the login UI reaches the token service through the gRPC listener, so the
//! one-process and split deployments exercise the same code path.

use anyhow::Context as _;
use axum::Router;
use gatehouse_core::SystemClock;
use gatehouse_core::client::AccessTokenStrategy;
use gatehouse_core::registration::RegistrationPolicy;
use gatehouse_core::secret::SecretString;
use gatehouse_core::store::{DurableStore, ShortLivedStore};
use gatehouse_jose::SigningAlgorithm;
use gatehouse_login::TokenServiceClient;
use gatehouse_token::admin::{
    AdminConfig, BrowserGuard, client_secret_hasher, refuse_browsers, require_admin_token,
    seed_default_scopes,
};
use gatehouse_token::grpc::{Callers, TokenGrpc};
use gatehouse_token::settings::RegistrationSettings;
use gatehouse_token::{TokenService, TokenSettings};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::config::{Config, ConfigError, Role};
use crate::grpc_tls::GrpcTls;
use crate::health::{Dependency, Readiness};
use crate::shutdown::Shutdown;
use crate::system_secret;
use crate::telemetry;

/// How often the gRPC health service re-checks the stores it reports on.
const GRPC_HEALTH_INTERVAL: Duration = Duration::from_secs(2);

/// How often the janitor runs.
const JANITOR_INTERVAL: Duration = Duration::from_secs(60);
/// How often usage counts (tokens issued and sign-ins per client) are written: what the console
/// shows lags this much at most.
const USAGE_INTERVAL: Duration = Duration::from_secs(10);

/// The listeners of a role, bound before anything else happens.
enum Listeners {
    Token {
        public: TcpListener,
        admin: TcpListener,
        grpc: TcpListener,
    },
    Login {
        login: TcpListener,
        admin: TcpListener,
    },
}

impl Listeners {
    /// Binds every port of `role`: a port in use stops the start before migrations run, keys
    /// are generated or a dev-mode secret is written.
    async fn bind(config: &Config, role: Role) -> anyhow::Result<Self> {
        Ok(match role {
            Role::All | Role::Token => Self::Token {
                public: bind(config, "public_addr", config.public_addr, "public").await?,
                admin: bind(config, "admin_addr", config.admin_addr, "admin").await?,
                grpc: bind(config, "grpc_addr", config.grpc_addr, "gRPC").await?,
            },
            Role::Login => Self::Login {
                login: bind(config, "login_addr", config.login_addr, "login").await?,
                admin: bind(
                    config,
                    "login_admin_addr",
                    config.login_admin_addr,
                    "login admin",
                )
                .await?,
            },
            Role::OneShot => anyhow::bail!("serve needs a role: all, token or login"),
        })
    }
}

pub async fn run(config: Config, role: Role, grpc_tls: GrpcTls) -> anyhow::Result<()> {
    let listeners = Listeners::bind(&config, role).await?;
    let system_secret = system_secret::resolve(&config)?;
    if config.grpc_insecure {
        tracing::warn!(
            grpc_addr = %config.grpc_addr,
            "GATEHOUSE_GRPC_INSECURE is set: the gRPC link carries passwords and tokens without TLS and trusts every caller; only behind a service mesh that does mutual TLS"
        );
    }
    if let Some(warning) = config.auth_code_ttl_warning() {
        tracing::warn!("{warning}");
    }
    // Installed before anything counts, so no early increment is lost.
    telemetry::prometheus();
    let shutdown = Shutdown::on_signals(config.shutdown_delay);
    let short_lived: Arc<dyn ShortLivedStore> = Arc::new(gatehouse_store::MeteredShortLived(
        gatehouse_store::connect_short_lived(config.redis_url.as_deref())
            .await
            .context("REDIS_URL")?,
    ));
    let mut servers: JoinSet<anyhow::Result<()>> = JoinSet::new();
    let mut urls = Vec::new();
    // The token service, whose last usage counts are written once every server has stopped.
    let mut counting: Option<Arc<TokenService>> = None;

    match listeners {
        Listeners::Token {
            public,
            admin,
            grpc,
        } => {
            let durable = open_durable(&config).await?;
            let service = Arc::new(
                start_token_service(
                    &config,
                    &system_secret,
                    durable.clone(),
                    short_lived.clone(),
                )
                .await?,
            );
            let grpc_addr = grpc.local_addr()?;

            let readiness = Readiness::new(
                vec![
                    Dependency::Durable(durable.clone()),
                    Dependency::ShortLived(short_lived.clone()),
                ],
                shutdown.clone(),
            );
            let mut external_api = None;
            let mut public_app = crate::health::router(readiness.clone())
                .merge(gatehouse_token::http::public_router(service.clone()));
            if role == Role::All {
                let token_url = config
                    .token_grpc_url
                    .clone()
                    .unwrap_or_else(|| local_grpc_url(grpc_addr, grpc_tls.server.is_some()));
                let token_service =
                    TokenServiceClient::connect_lazy(&token_url, grpc_tls.client.as_ref())?
                        .with_metadata_hook(telemetry::trace_context_hook());
                let login =
                    login_state(&config, &system_secret, token_service, short_lived.clone());
                if let Some(hydra) = hydra_api(&config, &login) {
                    external_api = Some(hydra);
                }
                public_app = public_app.merge(gatehouse_login::router(login));
            }
            let api = admin_api(&config, &system_secret, &service);
            let console = console(&config, &system_secret, &service, &api, &short_lived)?;
            let mut admin_app = crate::health::router(readiness)
                .merge(gatehouse_token::admin::protect(
                    api,
                    config.admin_token.clone().map(SecretString::new),
                ))
                .merge(console);
            if let Some(hydra) = external_api {
                admin_app = admin_app.merge(hydra);
            }
            let admin_app =
                admin_app.route("/metrics", axum::routing::get(telemetry::metrics_endpoint));

            urls.push(format!("public  {}", http_url(public.local_addr()?)));
            urls.push(format!("admin   {}", http_url(admin.local_addr()?)));
            urls.push(format!("console {}", config.console_url()?));
            urls.push(format!(
                "gRPC    {}{}",
                http_url(grpc_addr),
                if grpc_tls.server.is_some() {
                    " (mutual TLS)"
                } else {
                    ""
                }
            ));
            servers.spawn(serve_http(public, "public", public_app, shutdown.clone()));
            servers.spawn(serve_http(admin, "admin", admin_app, shutdown.clone()));
            servers.spawn(serve_grpc(
                grpc,
                service.clone(),
                grpc_tls.server.clone(),
                durable,
                short_lived,
                shutdown.clone(),
            ));
            tokio::spawn(usage_writer(service.clone(), shutdown.clone()));
            counting = Some(service.clone());
            tokio::spawn(janitor(service));
        }
        Listeners::Login {
            login: listener,
            admin,
        } => {
            let token_url = config
                .token_grpc_url
                .clone()
                .context("GATEHOUSE_TOKEN_GRPC_URL is required")?;
            let token_service =
                TokenServiceClient::connect_lazy(&token_url, grpc_tls.client.as_ref())?
                    .with_metadata_hook(telemetry::trace_context_hook());
            let readiness = readiness_of_login(&short_lived, &token_service, &shutdown);
            let login = login_state(&config, &system_secret, token_service, short_lived.clone());
            let mut admin_app = crate::health::router(readiness.clone())
                .route("/metrics", axum::routing::get(telemetry::metrics_endpoint));
            if let Some(hydra) = hydra_api(&config, &login) {
                admin_app = admin_app.merge(hydra);
            }
            let app = crate::health::router(readiness).merge(gatehouse_login::router(login));
            urls.push(format!("login   {}", http_url(listener.local_addr()?)));
            urls.push(format!("metrics {}", http_url(admin.local_addr()?)));
            servers.spawn(serve_http(listener, "login", app, shutdown.clone()));
            servers.spawn(serve_http(
                admin,
                "login-admin",
                admin_app,
                shutdown.clone(),
            ));
        }
    }

    println!(
        "Gatehouse {} is running (issuer {})",
        env!("CARGO_PKG_VERSION"),
        config.issuer
    );
    for line in &urls {
        println!("  {line}");
    }
    tracing::info!(issuer = %config.issuer, listeners = ?urls, "gatehouse started");

    // Once shutdown begins, in-flight requests get `shutdown_grace` to finish.
    let grace = config.shutdown_grace;
    let deadline = async {
        shutdown.clone().wait().await;
        tokio::time::sleep(grace).await;
    };
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            joined = servers.join_next() => match joined {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => return Err(e),
                Some(Err(e)) => return Err(anyhow::anyhow!("a server task failed: {e}")),
            },
            () = &mut deadline => {
                tracing::warn!(grace_secs = grace.as_secs(), "grace period over; closing remaining connections");
                servers.abort_all();
                break;
            }
        }
    }
    if let Some(service) = counting
        && let Err(e) = service.flush_usage().await
    {
        tracing::warn!(error = %e, "writing the last usage counts failed; they are lost");
    }
    tracing::info!("gatehouse stopped");
    Ok(())
}

/// Writes the token service's per-client usage counts every [`USAGE_INTERVAL`] until shutdown
/// begins (the serve loop writes the last ones once the servers have stopped).
async fn usage_writer(service: Arc<TokenService>, shutdown: Shutdown) {
    let mut ticks = tokio::time::interval(USAGE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stopping = shutdown.wait();
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if let Err(e) = service.flush_usage().await {
                    tracing::warn!(error = %e, "writing usage counts failed; kept for the next try");
                }
            }
            () = &mut stopping => return,
        }
    }
}

async fn open_durable(config: &Config) -> anyhow::Result<Arc<dyn DurableStore>> {
    let url = config.effective_database_url();
    if config.database_url.is_none() {
        gatehouse_store::create_private_dir_all(&config.data_dir).with_context(|| {
            format!("creating the data directory {}", config.data_dir.display())
        })?;
    }
    let (store, applied) =
        gatehouse_store::open_durable(&url, &config.pool_settings(), config.auto_migrate).await?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(Arc::new(gatehouse_store::MeteredDurable(store)))
}

/// The login UI's state: it reaches the token service over gRPC and keeps its challenges,
/// sessions and rate-limit counters in the short-lived store.
fn login_state(
    config: &Config,
    system_secret: &SecretString,
    token_service: TokenServiceClient,
    short_lived: Arc<dyn ShortLivedStore>,
) -> gatehouse_login::LoginState {
    gatehouse_login::LoginState::new(
        token_service,
        short_lived,
        config.login_config(system_secret),
        Arc::new(SystemClock),
    )
}

fn readiness_of_login(
    short_lived: &Arc<dyn ShortLivedStore>,
    token_service: &TokenServiceClient,
    shutdown: &Shutdown,
) -> Readiness {
    Readiness::new(
        vec![
            Dependency::ShortLived(short_lived.clone()),
            Dependency::TokenService(Box::new(token_service.clone())),
        ],
        shutdown.clone(),
    )
}

/// End users' accounts: the mailer (logged, never its URL) and the password-reset rules.
fn account_settings(config: &Config) -> anyhow::Result<gatehouse_token::accounts::AccountSettings> {
    let mailer = config.mailer()?.map(Arc::new);
    match &mailer {
        Some(mailer) => tracing::info!(transport = %mailer.describe(), "outgoing mail"),
        None => tracing::info!(
            "no outgoing mail (GATEHOUSE_SMTP_URL is not set): password reset by email is off"
        ),
    }
    Ok(gatehouse_token::accounts::AccountSettings {
        mailer,
        ttl_password_reset: config.ttl_password_reset,
        reset_ends_sessions: config.reset_ends_sessions,
        self_registration: config.self_registration,
    })
}

/// The token service over the stores, with its signing keys loaded (generated on first start).
async fn start_token_service(
    config: &Config,
    system_secret: &SecretString,
    durable: Arc<dyn DurableStore>,
    short_lived: Arc<dyn ShortLivedStore>,
) -> anyhow::Result<TokenService> {
    let seeded = seed_default_scopes(durable.as_ref())
        .await
        .context("seeding the default scope catalogue")?;
    if seeded > 0 {
        tracing::info!(seeded, "default scopes added to the catalogue");
    }
    let settings = TokenSettings {
        issuer: config.issuer.clone(),
        ttl_auth_code: config.ttl_auth_code,
        ttl_access_token: config.ttl_access_token,
        ttl_id_token: config.ttl_id_token,
        ttl_refresh_token: config.ttl_refresh_token,
        ttl_consent: config.ttl_consent,
        ttl_device_code: config.ttl_device_code,
        access_token_strategy: if config.access_token_strategy == "jwt" {
            AccessTokenStrategy::Jwt
        } else {
            AccessTokenStrategy::Opaque
        },
        id_token_algorithm: SigningAlgorithm::parse(&config.id_token_alg)?,
        access_token_algorithm: SigningAlgorithm::parse(&config.access_token_alg)?,
        require_pkce: config.require_pkce,
        require_par: config.require_par,
        dpop_require_nonce: config.dpop_require_nonce,
        allow_http_jwks_uri: config.dev,
        lockout: config.lockout(),
        mfa: config.mfa()?,
        registration: RegistrationSettings {
            open: config.open_registration,
            policy: config.registration_policy()?,
            redirect_policy: RegistrationPolicy {
                allow_insecure_redirect_uris: config.allow_insecure_redirect_uris,
            },
        },
        partners: gatehouse_token::partners::PartnerSettings {
            approval: config.partner_approval()?,
            secret_rotation_grace: config.client_secret_rotation_grace,
        },
        accounts: account_settings(config)?,
        ..TokenSettings::for_issuer(config.issuer.clone())
    };
    let previous: Vec<String> = config
        .system_secret_previous
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let mut secrets: Vec<&[u8]> = vec![system_secret.expose().as_bytes()];
    secrets.extend(previous.iter().map(|s| s.as_bytes()));
    TokenService::start(settings, durable, short_lived, Arc::new(SystemClock), &secrets)
        .await
        .context("starting the token service (if the system secret changed, list the old one in GATEHOUSE_SYSTEM_SECRET_PREVIOUS)")
}

/// The admin listener's API, without the browser guard and admin token (the listener adds
/// them with `admin::protect`; the console calls it as it is, in process).
fn admin_api(config: &Config, system_secret: &SecretString, service: &Arc<TokenService>) -> Router {
    gatehouse_token::admin::routes(
        service.clone(),
        client_secret_hasher(system_secret.expose().as_bytes()),
        AdminConfig {
            secret_rotation_grace: config.client_secret_rotation_grace,
            allow_insecure_redirect_uris: config.allow_insecure_redirect_uris,
            ..AdminConfig::default()
        },
    )
}

/// The operator console at `GATEHOUSE_CONSOLE_URL`'s path on the admin listener, outside the
/// admin token and browser guard (it has its own session, CSRF and origin checks). It calls the
/// admin API and the public token endpoint in process; it registers its own OIDC client before
/// the first sign-in.
fn console(
    config: &Config,
    system_secret: &SecretString,
    service: &Arc<TokenService>,
    admin_api: &Router,
    short_lived: &Arc<dyn ShortLivedStore>,
) -> anyhow::Result<Router> {
    let url = config.console_url()?;
    let issuer = url::Url::parse(&config.issuer).context("GATEHOUSE_ISSUER")?;
    let state = gatehouse_console::ConsoleState::new(
        admin_api.clone(),
        gatehouse_token::http::public_router(service.clone()),
        short_lived.clone(),
        gatehouse_console::ConsoleConfig {
            url,
            issuer,
            branding: config.login_config(system_secret).branding,
            session_ttl: gatehouse_console::ConsoleConfig::DEFAULT_SESSION_TTL,
        },
        system_secret.expose().as_bytes(),
    );
    Ok(gatehouse_console::router(state))
}

/// External UI mode: Hydra's login/consent challenge API, behind the admin listener's browser
/// guard and admin token (the same layers as the admin API). `None` with the built-in UI.
fn hydra_api(config: &Config, login: &gatehouse_login::LoginState) -> Option<Router> {
    login.external()?;
    let api = gatehouse_login::hydra_admin_router(login.clone()).layer(
        axum::middleware::from_fn_with_state(
            BrowserGuard {
                token_required: config.admin_token.is_some(),
                bodyless_put_delete: true,
            },
            refuse_browsers,
        ),
    );
    Some(match &config.admin_token {
        Some(token) => api.layer(require_admin_token(SecretString::new(token.clone()))),
        None => api,
    })
}

/// Periodic upkeep: expired refresh tokens leave the database in small batches (never a long
/// lock), signing keys are re-read (a rotation on another replica takes effect here), and keys
/// retired longer ago than any token they signed are deleted.
async fn janitor(service: Arc<TokenService>) {
    let mut ticks = tokio::time::interval(JANITOR_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = service.clock().now();
        loop {
            match service
                .durable()
                .purge_expired_refresh_tokens(now, 500)
                .await
            {
                Ok(500) => tokio::task::yield_now().await,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "purging expired refresh tokens failed");
                    break;
                }
            }
        }
        if let Err(e) = service.purge_retired_keys().await {
            tracing::warn!(error = %e, "purging retired signing keys failed");
        }
        if let Err(e) = service.reload_keys().await {
            tracing::warn!(error = %e, "reloading signing keys failed");
        }
    }
}

/// Binds the listener of `key`. A port in use is a configuration error (exit 2) naming the
/// setting the address came from.
async fn bind(
    config: &Config,
    key: &str,
    addr: SocketAddr,
    name: &str,
) -> anyhow::Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(listener),
        Err(e) => {
            let setting = config.origins.of(key).assignment(key, &addr.to_string());
            if e.kind() == std::io::ErrorKind::AddrInUse {
                Err(
                    ConfigError::plain(key, format!("port {} is in use ({setting})", addr.port()))
                        .into(),
                )
            } else {
                Err(anyhow::anyhow!(
                    "cannot bind the {name} listener to {addr} ({setting}): {e}"
                ))
            }
        }
    }
}

fn http_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// The URL the in-process login UI uses to reach the gRPC listener (a wildcard bind is reached
/// over loopback). With TLS it is `https://localhost:<port>`: the name the server certificate
/// must carry (`gatehouse certs grpc` always includes it).
fn local_grpc_url(addr: SocketAddr, tls: bool) -> String {
    if tls {
        return format!("https://localhost:{}", addr.port());
    }
    let host = if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    };
    http_url(host)
}

async fn serve_http(
    listener: TcpListener,
    name: &'static str,
    app: Router,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let app = app.layer(axum::middleware::from_fn(move |request, next| {
        telemetry::http_layer(name, request, next)
    }));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.wait())
    .await
    .context("HTTP server failed")
}

/// The token service's gRPC listener. With `tls` it takes only mutual TLS and each caller's
/// certificate role decides what it may call; without, the link itself is trusted (loopback, or
/// a mesh with `GATEHOUSE_GRPC_INSECURE`).
async fn serve_grpc(
    listener: TcpListener,
    service: Arc<TokenService>,
    tls: Option<tonic::transport::ServerTlsConfig>,
    durable: Arc<dyn DurableStore>,
    short_lived: Arc<dyn ShortLivedStore>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    use gatehouse_proto::token::v1::token_service_server::TokenServiceServer;

    let (reporter, health_service) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<TokenServiceServer<TokenGrpc>>()
        .await;
    let readiness = Readiness::new(
        vec![
            Dependency::Durable(durable),
            Dependency::ShortLived(short_lived),
        ],
        shutdown.clone(),
    );
    // The gRPC health service reports what `/health/ready` would: the stores, and NOT_SERVING at
    // once when draining begins.
    let draining = shutdown.clone();
    let watcher = tokio::spawn(async move {
        loop {
            let serving = !readiness.draining() && readiness.failures().await.is_empty();
            let status = if serving {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            reporter.set_service_status("", status).await;
            reporter
                .set_service_status(
                    <TokenServiceServer<TokenGrpc> as tonic::server::NamedService>::NAME,
                    status,
                )
                .await;
            if readiness.draining() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(GRPC_HEALTH_INTERVAL) => {}
                () = draining.clone().draining() => {}
            }
        }
    });
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(gatehouse_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("building gRPC reflection")?;
    let callers = if tls.is_some() {
        Callers::Certificates
    } else {
        Callers::TrustedLink
    };
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .context("setting up the gRPC listener's TLS")?;
    }
    let result = builder
        .layer(telemetry::GrpcTelemetryLayer)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(TokenGrpc::new(service).into_server(callers))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown.wait(),
        )
        .await
        .context("gRPC server failed");
    watcher.abort();
    result
}
