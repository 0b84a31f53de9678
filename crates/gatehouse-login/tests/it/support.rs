//! A login UI over a token service per backend pair, a test browser that keeps cookies, and the
//! fixtures: clients, scopes and users written straight into the durable store.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use gatehouse_core::client::{Client, ClientMetadata, TokenEndpointAuthMethod};
use gatehouse_core::protocol::{GrantType, ResponseType};
use gatehouse_core::registration::{client_secret_hasher, secret_hashes};
use gatehouse_core::scope::{ScopeDefinition, ScopeName, ScopeSet, default_catalogue};
use gatehouse_core::secret::{SecretString, random_token};
use gatehouse_core::store::DurableStore;
use gatehouse_core::token_request::Form;
use gatehouse_core::{ManualClock, SystemClock};
use gatehouse_login::{LoginConfig, LoginState, TokenServiceClient};
use gatehouse_testkit::fixtures::{client_id, redirect_uri};
use gatehouse_testkit::{DurableBackend, DurableKind, ShortLivedBackend, ShortLivedKind};
use gatehouse_token::grpc::{Callers, TokenGrpc};
use gatehouse_token::issue::TokenResponse;
use gatehouse_token::password::{PasswordHashParams, hash_password};
use gatehouse_token::{TokenService, TokenSettings};
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tower::ServiceExt as _;
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

/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub const ALICE: &str = "user-alice";
pub const ALICE_PASSWORD: &str = "correct horse battery staple";
pub const BOB: &str = "user-bob";
pub const BOB_PASSWORD: &str = "bob's password, disabled";
pub const CAROL: &str = "user-carol";
pub const CAROL_PASSWORD: &str = "carol's password";

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
    /// The login UI's clock (the token service uses the system clock).
    pub clock: Arc<ManualClock>,
    server: JoinHandle<()>,
    // Last, so the stores are released before the backends delete their databases.
    _durable: DurableBackend,
    _short_lived: ShortLivedBackend,
}

impl Drop for Ui {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Ui {
    async fn start(
        durable: DurableBackend,
        short_lived: ShortLivedBackend,
        configure: &dyn Fn(&mut LoginConfig),
        settings: &dyn Fn(&mut TokenSettings),
    ) -> Self {
        let name = format!("{}+{}", durable.name(), short_lived.name());
        // A system secret of its own: Redis is shared between tests, and the keys of sessions
        // and failed-login counters are keyed hashes, so no two tests see each other's.
        let system_secret = format!("login-ui-test-{}", random_token(32));
        seed(durable.store.as_ref(), &system_secret).await;
        let mut token_settings = TokenSettings::for_issuer(ISSUER);
        settings(&mut token_settings);
        let service = Arc::new(
            TokenService::start(
                token_settings,
                Arc::clone(&durable.store),
                Arc::clone(&short_lived.store),
                Arc::new(SystemClock),
                &[system_secret.as_bytes()],
            )
            .await
            .unwrap(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let grpc = Server::builder()
            .add_service(TokenGrpc::new(Arc::clone(&service)).into_server(Callers::TrustedLink));
        let server = tokio::spawn(async move {
            grpc.serve_with_incoming(TcpIncoming::from(listener))
                .await
                .unwrap();
        });
        let token = TokenServiceClient::connect_lazy(&url, None).unwrap();
        let mut config = LoginConfig::new(ISSUER, SecretString::new(system_secret));
        configure(&mut config);
        let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
        let state = LoginState::new(token, Arc::clone(&short_lived.store), config, clock.clone());
        Self {
            name,
            service,
            router: gatehouse_login::router(state),
            clock,
            server,
            _durable: durable,
            _short_lived: short_lived,
        }
    }

    pub fn browser(&self) -> Browser<'_> {
        self.browser_from("203.0.113.7:40000")
    }

    pub fn browser_from(&self, addr: &str) -> Browser<'_> {
        Browser {
            ui: self,
            cookies: HashMap::new(),
            set_cookies: Vec::new(),
            addr: addr.parse().unwrap(),
            accept_language: None,
        }
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
    let mut durable = gatehouse_testkit::durable_backends().await;
    let short_lived = gatehouse_testkit::short_lived_backends().await;
    while durable.len() < short_lived.len() {
        durable.extend(gatehouse_testkit::durable_backend(DurableKind::Sqlite).await);
    }
    let mut short_lived = short_lived.into_iter();
    let mut out = Vec::new();
    for durable in durable {
        let short = match short_lived.next() {
            Some(short) => short,
            None => gatehouse_testkit::short_lived_backend(ShortLivedKind::Memory)
                .await
                .unwrap(),
        };
        out.push(Ui::start(durable, short, &configure, &settings).await);
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
        scope: ScopeSet::parse(&format!("{SEED_SCOPE} profile email")).unwrap(),
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
    let cheap = PasswordHashParams {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };
    let hash = |pw: &str| hash_password(SecretString::new(pw), cheap);
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

/// The answer to one request, body as text.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> &str {
        assert_eq!(
            self.status,
            StatusCode::SEE_OTHER,
            "expected a redirect: {}",
            self.body
        );
        self.header("location").expect("a Location header")
    }

    /// The query parameters of an absolute `Location` (a redirect to a client).
    pub fn redirect_params(&self) -> (String, HashMap<String, String>) {
        let url = Url::parse(self.location()).unwrap();
        let base = format!("{}://{}{}", url.scheme(), url.authority(), url.path());
        (base, url.query_pairs().into_owned().collect())
    }

    /// The value of the form field `name` in the page (hidden inputs and prefilled fields).
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no field {name} in: {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }

    /// The value of field `name` inside the form with id `form`.
    pub fn form_field(&self, form: &str, name: &str) -> String {
        let start = self
            .body
            .find(&format!("id=\"{form}\""))
            .unwrap_or_else(|| panic!("no form {form} in: {}", self.body));
        Reply {
            status: self.status,
            headers: HeaderMap::new(),
            body: self.body[start..].to_owned(),
        }
        .field(name)
    }

    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    #[track_caller]
    pub fn assert_page(&self, status: StatusCode, context: &str) {
        assert_eq!(self.status, status, "{context}: {}", self.body);
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("text/html")),
            "{context}: {:?}",
            self.headers
        );
        assert!(
            self.header("location").is_none(),
            "{context}: a page, not a redirect"
        );
    }
}

/// A browser: keeps cookies (by name; attributes are the tests' business), sends them back,
/// and connects from a fixed address (the per-IP rate limit keys on it).
pub struct Browser<'a> {
    ui: &'a Ui,
    cookies: HashMap<String, String>,
    /// Every `Set-Cookie` seen, in order.
    pub set_cookies: Vec<String>,
    addr: SocketAddr,
    pub accept_language: Option<String>,
}

impl Browser<'_> {
    pub async fn get(&mut self, uri: &str) -> Reply {
        self.send(Method::GET, uri, None).await
    }

    pub async fn post(&mut self, uri: &str, form: &[(&str, &str)]) -> Reply {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.send(Method::POST, uri, Some(body)).await
    }

    /// Follows a redirect within the login UI.
    pub async fn follow(&mut self, reply: &Reply) -> Reply {
        let location = reply.location().to_owned();
        assert!(
            location.starts_with('/'),
            "not a login UI redirect: {location}"
        );
        self.get(&location).await
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub fn forget_cookie(&mut self, name: &str) {
        self.cookies.remove(name);
    }

    async fn send(&mut self, method: Method, uri: &str, body: Option<String>) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(lang) = &self.accept_language {
            request = request.header(header::ACCEPT_LANGUAGE, lang);
        }
        let body = match body {
            Some(form) => {
                request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(form)
            }
            None => Body::empty(),
        };
        let mut request = request.body(body).unwrap();
        request.extensions_mut().insert(ConnectInfo(self.addr));
        let response = self.ui.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 4 * 1024 * 1024)
            .await
            .unwrap();
        let reply = Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        for set in reply.set_cookies() {
            self.set_cookies.push(set.to_owned());
            let Some((pair, attrs)) = set.split_once(';').or(Some((set, ""))) else {
                continue;
            };
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        reply
    }

    /// Authorization request → login page: answers the login page.
    pub async fn start(&mut self, authorize: &str) -> Reply {
        let reply = self.get(authorize).await;
        assert!(
            reply.location().starts_with("/ui/login?challenge="),
            "{}: {}",
            self.ui.name,
            reply.location()
        );
        let page = self.follow(&reply).await;
        page.assert_page(StatusCode::OK, &self.ui.name);
        page
    }

    /// Submits the login form of `page`.
    pub async fn login(
        &mut self,
        page: &Reply,
        username: &str,
        password: &str,
        remember: bool,
    ) -> Reply {
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
        if remember {
            form.push(("remember", "1"));
        }
        self.post("/ui/login", &form).await
    }

    /// Submits the consent form of `page` with `decision`.
    pub async fn decide(&mut self, page: &Reply, decision: &str, remember: bool) -> Reply {
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

    /// Authorize → login as alice → consent page.
    pub async fn reach_consent(&mut self, authorize: &str) -> Reply {
        let page = self.start(authorize).await;
        let after = self.login(&page, "alice", ALICE_PASSWORD, false).await;
        assert!(
            after.location().starts_with("/ui/consent?challenge="),
            "{}: {}",
            self.ui.name,
            after.location()
        );
        let consent = self.follow(&after).await;
        consent.assert_page(StatusCode::OK, &self.ui.name);
        consent
    }

    /// The whole flow for alice and the CLI client with `scope`, consent allowed (and
    /// remembered when asked): the callback's parameters.
    pub async fn authorize_alice(
        &mut self,
        scope: &str,
        remember: bool,
    ) -> HashMap<String, String> {
        let consent = self.reach_consent(&cli_authorize(scope, &[])).await;
        let reply = self.decide(&consent, "allow", remember).await;
        let (base, params) = reply.redirect_params();
        assert_eq!(base, CLI_REDIRECT, "{}", self.ui.name);
        params
    }
}
