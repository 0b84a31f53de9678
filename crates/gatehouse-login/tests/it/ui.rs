//! The login UI under test: its router over a real token service (the test kit's gRPC harness)
//! on every backend pair, the seed it starts with (clients, scopes and users written straight
//! into the durable store), and the flows a browser ([`gatehouse_testkit::http::Browser`]) runs
//! through it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use gatehouse_core::ManualClock;
use gatehouse_core::client::{Client, ClientMetadata, TokenEndpointAuthMethod};
use gatehouse_core::protocol::{GrantType, ResponseType};
use gatehouse_core::registration::{client_secret_hasher, secret_hashes};
use gatehouse_core::scope::{ScopeDefinition, ScopeName, ScopeSet, default_catalogue};
use gatehouse_core::secret::SecretString;
use gatehouse_core::store::DurableStore;
use gatehouse_core::token_request::Form;
use gatehouse_login::{LoginConfig, LoginState, TokenServiceClient};
use gatehouse_testkit::BackendPair;
pub use gatehouse_testkit::fixtures::{PKCE_CHALLENGE as CHALLENGE, PKCE_VERIFIER as VERIFIER};
use gatehouse_testkit::fixtures::{cheap_password_params, random_system_secret};
use gatehouse_testkit::fixtures::{client_id, redirect_uri};
use gatehouse_testkit::grpc::TokenServer;
pub use gatehouse_testkit::http::{Browser, Page};
use gatehouse_token::issue::TokenResponse;
use gatehouse_token::password::hash_password;
use gatehouse_token::{TokenService, TokenSettings};
use url::Url;

pub const ISSUER: &str = "https://id.gatehouse.test";

/// The seed's public CLI client: PKCE, loopback redirect (any port), logo and links.
pub const CLI: &str = "neon-cli";
pub const CLI_REDIRECT: &str = "http://127.0.0.1:5555/callback";
pub const CLI_LOGOUT: &str = "http://127.0.0.1:5555/signed-out";
pub const CLI_LOGO: &str = "https://partner.example.com/logo.png";
/// A confidential client whose redirect URI has a query of its own.
pub const WEB: &str = "neon-web";
pub const WEB_SECRET: &str = "neon-web-secret-0123456789abcdef0123456789";
pub const WEB_REDIRECT: &str = "https://app.example.com/callback?tenant=acme";
/// A first-party client that skips consent.
pub const CONSOLE: &str = "neon-console";
pub const CONSOLE_REDIRECT: &str = "https://console.example.com/callback";

pub const ALICE: &str = "user-alice";
pub const ALICE_PASSWORD: &str = "correct horse battery staple";
pub const BOB: &str = "user-bob";
pub const BOB_PASSWORD: &str = "bob's password, disabled";
pub const CAROL: &str = "user-carol";
pub const CAROL_PASSWORD: &str = "carol's password";

/// A scope the CLI client may ask for that the scope catalogue does not describe.
pub const UNDESCRIBED_SCOPE: &str = "patreon";
/// The seed's scope string: technical scopes plus the four project scopes.
pub const SEED_SCOPE: &str = "openid offline offline_access urn:neoncloud:projects:create urn:neoncloud:projects:read urn:neoncloud:projects:update urn:neoncloud:projects:delete";
pub const PROJECT_SCOPES: [(&str, &str, &str); 4] = [
    (
        "urn:neoncloud:projects:create",
        "Create projects",
        "Create new projects in your Neon account.",
    ),
    (
        "urn:neoncloud:projects:read",
        "Read projects",
        "See your projects and their settings.",
    ),
    (
        "urn:neoncloud:projects:update",
        "Modify projects",
        "Change the settings of your projects.",
    ),
    (
        "urn:neoncloud:projects:delete",
        "Delete projects",
        "Delete projects from your account.",
    ),
];

/// One login UI over one token service (its gRPC server on a free port) on one backend pair.
pub struct Ui {
    pub name: String,
    pub service: Arc<TokenService>,
    pub router: Router,
    /// The external UI mode's admin API (Hydra's login/consent challenge API), unguarded.
    pub admin: Router,
    /// The login UI's clock (the token service uses the system clock).
    pub clock: Arc<ManualClock>,
    // Last, so the router's client is gone before the server and its stores are.
    _token: TokenServer,
}

impl Ui {
    async fn start(
        backends: BackendPair,
        configure: &dyn Fn(&mut LoginConfig),
        settings: &dyn Fn(&mut TokenSettings),
    ) -> Self {
        // A system secret of its own: Redis is shared between tests, and the keys of sessions
        // and failed-login counters are keyed hashes, so no two tests see each other's.
        let system_secret = random_system_secret("login-ui-test");
        seed(backends.durable.store.as_ref(), &system_secret).await;
        let mut token_settings = TokenSettings::for_issuer(ISSUER);
        settings(&mut token_settings);
        let short_lived = Arc::clone(&backends.short_lived.store);
        let token = TokenServer::start(backends, token_settings, system_secret.clone()).await;
        let client = TokenServiceClient::connect_lazy(&token.url, None).unwrap();
        let mut config = LoginConfig::new(ISSUER, SecretString::new(system_secret));
        configure(&mut config);
        let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
        let state = LoginState::new(client, short_lived, config, clock.clone());
        Self {
            name: token.name.clone(),
            service: Arc::clone(&token.service),
            admin: gatehouse_login::hydra_admin_router(state.clone()),
            router: gatehouse_login::router(state),
            clock,
            _token: token,
        }
    }

    /// A browser on this UI from the usual address.
    pub fn browser(&self) -> Browser<'_> {
        self.browser_from("203.0.113.7:40000")
    }

    /// A browser on this UI from `addr` (the per-IP rate limit keys on it).
    pub fn browser_from(&self, addr: &str) -> Browser<'_> {
        Browser::new(&self.router, self.name.clone(), addr)
    }

    pub fn store(&self) -> &dyn DurableStore {
        self.service.durable().as_ref()
    }

    /// Redeems a code for the public CLI client at the token endpoint, with the PKCE verifier.
    pub async fn redeem(&self, code: &str) -> TokenResponse {
        let form = Form::from_pairs([
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CLI_REDIRECT),
            ("client_id", CLI),
            ("code_verifier", VERIFIER),
        ])
        .unwrap();
        self.service
            .token(None, &form)
            .await
            .unwrap_or_else(|e| panic!("{}: {:?}", self.name, e.error))
    }

    /// A refresh with the CLI client: `Err(error code)` when refused.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse, String> {
        let form = Form::from_pairs([
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", CLI),
        ])
        .unwrap();
        self.service
            .token(None, &form)
            .await
            .map_err(|e| e.error.code.as_str().to_owned())
    }
}

/// One UI per configured backend; every durable and every short-lived backend appears at least
/// once (sqlite+memory, postgres+redis, an extra SQLite when needed).
pub async fn uis() -> Vec<Ui> {
    uis_with(|_| {}).await
}

pub async fn uis_with(configure: impl Fn(&mut LoginConfig)) -> Vec<Ui> {
    uis_configured(configure, |_| {}).await
}

/// UIs over token services with `settings` changed (e.g. the failed-login limits, which the
/// token service enforces).
pub async fn uis_with_token(settings: impl Fn(&mut TokenSettings)) -> Vec<Ui> {
    uis_configured(|_| {}, settings).await
}

async fn uis_configured(
    configure: impl Fn(&mut LoginConfig),
    settings: impl Fn(&mut TokenSettings),
) -> Vec<Ui> {
    let mut out = Vec::new();
    for backends in gatehouse_testkit::backend_pairs().await {
        out.push(Ui::start(backends, &configure, &settings).await);
    }
    out
}

async fn seed(store: &dyn DurableStore, system_secret: &str) {
    for scope in default_catalogue() {
        store.create_scope(&scope).await.unwrap();
    }
    for (name, label, description) in PROJECT_SCOPES {
        store
            .create_scope(&ScopeDefinition {
                name: ScopeName::parse(name).unwrap(),
                label: label.into(),
                description: description.into(),
                hidden: false,
                claims: Vec::new(),
            })
            .await
            .unwrap();
    }
    let now = gatehouse_testkit::fixtures::now();
    let cli = ClientMetadata {
        client_name: "Neon CLI".into(),
        redirect_uris: vec![redirect_uri("http://127.0.0.1/callback")],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        response_types: vec![ResponseType::Code],
        // `patreon` is allowed but not in the catalogue.
        scope: ScopeSet::parse(&format!("{SEED_SCOPE} profile email {UNDESCRIBED_SCOPE}")).unwrap(),
        token_endpoint_auth_method: TokenEndpointAuthMethod::None,
        logo_uri: CLI_LOGO.into(),
        client_uri: "https://partner.example.com".into(),
        policy_uri: "https://partner.example.com/privacy".into(),
        tos_uri: "https://partner.example.com/terms".into(),
        post_logout_redirect_uris: vec![redirect_uri(CLI_LOGOUT)],
        ..ClientMetadata::default()
    };
    let hasher = client_secret_hasher(system_secret.as_bytes());
    let clients = [
        Client {
            id: client_id(CLI),
            incarnation: gatehouse_core::client::Client::new_incarnation(),
            metadata: cli.clone(),
            secret: None,
            created_at: now,
            updated_at: now,
        },
        Client {
            id: client_id(WEB),
            incarnation: gatehouse_core::client::Client::new_incarnation(),
            metadata: ClientMetadata {
                client_name: "Neon Web".into(),
                redirect_uris: vec![redirect_uri(WEB_REDIRECT)],
                token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
                logo_uri: String::new(),
                tos_uri: String::new(),
                ..cli.clone()
            },
            secret: Some(secret_hashes(&SecretString::new(WEB_SECRET), &hasher)),
            created_at: now,
            updated_at: now,
        },
        Client {
            id: client_id(CONSOLE),
            incarnation: gatehouse_core::client::Client::new_incarnation(),
            metadata: ClientMetadata {
                client_name: "Neon Console".into(),
                redirect_uris: vec![redirect_uri(CONSOLE_REDIRECT)],
                skip_consent: true,
                ..cli
            },
            secret: None,
            created_at: now,
            updated_at: now,
        },
    ];
    for client in &clients {
        store.create_client(client).await.unwrap();
    }

    // Cheap argon2 parameters: the service verifies with the parameters in each hash.
    let hash = |pw: &str| hash_password(SecretString::new(pw), cheap_password_params(256));
    for (id, username, password, disabled) in [
        (ALICE, "alice", ALICE_PASSWORD, false),
        (BOB, "bob", BOB_PASSWORD, true),
        (CAROL, "carol", CAROL_PASSWORD, false),
    ] {
        let mut user = gatehouse_testkit::fixtures::user(id, username);
        user.password_hash = Some(hash(password).await.unwrap());
        user.disabled = disabled;
        store.create_user(&user).await.unwrap();
    }
}

/// An authorization request URL for the CLI client (PKCE, `state=xyz`) plus `extra` params.
pub fn cli_authorize(scope: &str, extra: &[(&str, &str)]) -> String {
    let mut url = Url::parse("http://ui.test/oauth2/auth").unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", CLI)
        .append_pair("redirect_uri", CLI_REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("state", "xyz")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .extend_pairs(extra);
    format!("/oauth2/auth?{}", url.query().unwrap())
}

/// What a browser does on the login UI: sign in, decide on consent, the whole flow.
#[allow(async_fn_in_trait)]
pub trait Flows {
    /// Authorization request → login page: answers the login page.
    async fn start(&mut self, authorize: &str) -> Page;
    /// Submits the login form of `page`.
    async fn login(&mut self, page: &Page, username: &str, password: &str, remember: bool) -> Page;
    /// Submits the consent form of `page` with `decision`.
    async fn decide(&mut self, page: &Page, decision: &str, remember: bool) -> Page;
    /// Authorize → login as alice → consent page.
    async fn reach_consent(&mut self, authorize: &str) -> Page;
    /// The whole flow for alice and the CLI client with `scope`, consent allowed (and
    /// remembered when asked): the callback's parameters.
    async fn authorize_alice(&mut self, scope: &str, remember: bool) -> HashMap<String, String>;
}

impl Flows for Browser<'_> {
    async fn start(&mut self, authorize: &str) -> Page {
        let reply = self.get(authorize).await;
        assert!(
            reply.location().starts_with("/ui/login?challenge="),
            "{}: {}",
            self.name(),
            reply.location()
        );
        let page = self.follow(&reply).await;
        page.assert_page(StatusCode::OK, self.name());
        page
    }

    async fn login(&mut self, page: &Page, username: &str, password: &str, remember: bool) -> Page {
        let csrf = page.field("csrf_token");
        let challenge = page
            .body
            .contains("name=\"challenge\"")
            .then(|| page.field("challenge"));
        let mut form = vec![
            ("csrf_token", csrf.as_str()),
            ("username", username),
            ("password", password),
        ];
        if let Some(c) = &challenge {
            form.push(("challenge", c.as_str()));
        }
        // The portal page to come back to, when the login page was reached from one.
        let back = page
            .body
            .contains("name=\"return\"")
            .then(|| page.field("return"));
        if let Some(back) = &back {
            form.push(("return", back.as_str()));
        }
        if remember {
            form.push(("remember", "1"));
        }
        self.post("/ui/login", &form).await
    }

    async fn decide(&mut self, page: &Page, decision: &str, remember: bool) -> Page {
        let csrf = page.form_field("consent-form", "csrf_token");
        let challenge = page.form_field("consent-form", "challenge");
        let mut form = vec![
            ("csrf_token", csrf.as_str()),
            ("challenge", challenge.as_str()),
            ("decision", decision),
        ];
        if remember {
            form.push(("remember", "1"));
        }
        self.post("/ui/consent", &form).await
    }

    async fn reach_consent(&mut self, authorize: &str) -> Page {
        let page = self.start(authorize).await;
        let after = self.login(&page, "alice", ALICE_PASSWORD, false).await;
        assert!(
            after.location().starts_with("/ui/consent?challenge="),
            "{}: {}",
            self.name(),
            after.location()
        );
        let consent = self.follow(&after).await;
        consent.assert_page(StatusCode::OK, self.name());
        consent
    }

    async fn authorize_alice(&mut self, scope: &str, remember: bool) -> HashMap<String, String> {
        let consent = self.reach_consent(&cli_authorize(scope, &[])).await;
        let reply = self.decide(&consent, "allow", remember).await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_REDIRECT, "{}", self.name());
        params
    }
}

/// Asserts that no link, image, form or button of `page` leads off this origin to something
/// containing `needle` (links on this origin, such as the language switcher's way back to the
/// page, may carry it in their query).
#[track_caller]
pub fn assert_not_linked(page: &Page, needle: &str, context: &str) {
    for attribute in ["href=\"", "src=\"", "action=\"", "formaction=\""] {
        for (at, _) in page.body.match_indices(attribute) {
            let value = page.body[at + attribute.len()..]
                .split('"')
                .next()
                .unwrap_or_default();
            let local = value.starts_with('/') && !value.starts_with("//");
            assert!(
                local || !value.contains(needle),
                "{context}: {value} is linked in {}",
                page.body
            );
        }
    }
}
