//! The token service's gRPC contract end to end: the real tonic server (with health and
//! reflection) on a free loopback port, over a `TokenService` on every backend pair, driven by
//! the login UI's `TokenServiceClient` and, where the wire itself is the subject, by the
//! generated client.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::authorize::{AuthorizationParams, AuthorizeError};
use gatehouse_core::client::{Client, ClientMetadata, TokenEndpointAuthMethod};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::protocol::{GrantType, ResponseType};
use gatehouse_core::registration::{client_secret_hasher, secret_hashes};
use gatehouse_core::scope::{ScopeDefinition, ScopeName, ScopeSet, default_catalogue};
use gatehouse_core::secret::SecretString;
use gatehouse_core::token_request::Form;
use gatehouse_core::user::User;
use gatehouse_core::{SystemClock, store::DurableStore};
use gatehouse_login::{AuthorizationContext, SignIn, TokenServiceClient};
use gatehouse_proto::status::{OAUTH_ERROR_TYPE_URL, oauth_from_status};
use gatehouse_proto::token::v1 as pb;
use gatehouse_proto::token::v1::token_service_client::TokenServiceClient as RawClient;
use gatehouse_proto::token::v1::token_service_server::TokenServiceServer;
use gatehouse_testkit::fixtures::{client_id, redirect_uri};
use gatehouse_testkit::{DurableBackend, DurableKind, ShortLivedBackend, ShortLivedKind};
use gatehouse_token::grpc::{Callers, TokenGrpc, reflection_service};
use gatehouse_token::password::{PasswordHashParams, hash_password};
use gatehouse_token::{TokenService, TokenSettings};
use prost::Message as _;
use tokio::task::JoinHandle;
use tonic::Code;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

/// Each server gets a random system secret: Redis is shared between tests, and revocation cut-offs
/// are keyed by the user and client ids the tests share.
fn random_system_secret() -> String {
    format!("grpc-test-{}", gatehouse_core::secret::random_token(32))
}
const ISSUER: &str = "https://id.gatehouse.test";
/// A confidential client (client_secret_basic) with a registered https redirect URI.
const WEB: &str = "neon-web";
const WEB_SECRET: &str = "neon-web-secret-0123456789abcdef0123456789";
const WEB_REDIRECT: &str = "https://app.example.com/callback";
/// A public client (PKCE, loopback redirect URI, any port).
const CLI: &str = "neon-cli";
const CLI_REDIRECT: &str = "http://127.0.0.1/callback";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const ALICE: &str = "user-alice";
const ALICE_PASSWORD: &str = "correct horse battery staple";
const BOB: &str = "user-bob";
const BOB_PASSWORD: &str = "bob's password, disabled";
const PROJECTS: &str = "urn:neoncloud:projects:read";

/// One gRPC server over one token service on one backend pair.
struct Grpc {
    name: String,
    service: Arc<TokenService>,
    client: TokenServiceClient,
    url: String,
    server: JoinHandle<()>,
    // Last, so the stores are released before the backends delete their databases.
    _durable: DurableBackend,
    _short_lived: ShortLivedBackend,
}

impl Drop for Grpc {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Grpc {
    async fn start(durable: DurableBackend, short_lived: ShortLivedBackend) -> Self {
        let name = format!("{}+{}", durable.name(), short_lived.name());
        let system_secret = random_system_secret();
        seed(durable.store.as_ref(), system_secret.as_bytes()).await;
        let service = TokenService::start(
            TokenSettings::for_issuer(ISSUER),
            Arc::clone(&durable.store),
            Arc::clone(&short_lived.store),
            Arc::new(SystemClock),
            &[system_secret.as_bytes()],
        )
        .await
        .unwrap();
        let service = Arc::new(service);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter
            .set_serving::<TokenServiceServer<TokenGrpc>>()
            .await;
        let router = Server::builder()
            .add_service(health)
            .add_service(reflection_service().unwrap())
            .add_service(TokenGrpc::new(Arc::clone(&service)).into_server(Callers::TrustedLink));
        let server = tokio::spawn(async move {
            router
                .serve_with_incoming(TcpIncoming::from(listener))
                .await
                .unwrap();
        });
        let client = TokenServiceClient::connect_lazy(&url, None).unwrap();
        Self {
            name,
            service,
            client,
            url,
            server,
            _durable: durable,
            _short_lived: short_lived,
        }
    }

    async fn raw(&self) -> RawClient<tonic::transport::Channel> {
        RawClient::connect(self.url.clone()).await.unwrap()
    }
}

/// One server per configured backend; every durable and every short-lived backend appears at
/// least once (sqlite+memory, postgres+redis, an extra SQLite when needed).
async fn servers() -> Vec<Grpc> {
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
        out.push(Grpc::start(durable, short).await);
    }
    out
}

async fn seed(store: &dyn DurableStore, system_secret: &[u8]) {
    for scope in default_catalogue() {
        store.create_scope(&scope).await.unwrap();
    }
    store
        .create_scope(&ScopeDefinition {
            name: ScopeName::parse(PROJECTS).unwrap(),
            label: "Read your projects".into(),
            description: "See the projects in your Neon Cloud account.".into(),
            hidden: false,
        })
        .await
        .unwrap();

    let now = gatehouse_testkit::fixtures::now();
    let hasher = client_secret_hasher(system_secret);
    let metadata = ClientMetadata {
        client_name: "Neon Web".into(),
        redirect_uris: vec![redirect_uri(WEB_REDIRECT)],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        response_types: vec![ResponseType::Code],
        scope: ScopeSet::parse(&format!(
            "openid offline offline_access profile email {PROJECTS}"
        ))
        .unwrap(),
        logo_uri: "https://app.example.com/logo.png".into(),
        client_uri: "https://app.example.com".into(),
        policy_uri: "https://app.example.com/privacy".into(),
        token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        ..ClientMetadata::default()
    };
    let web = Client {
        id: client_id(WEB),
        incarnation: gatehouse_core::client::Client::new_incarnation(),
        metadata: metadata.clone(),
        secret: Some(secret_hashes(&SecretString::new(WEB_SECRET), &hasher)),
        created_at: now,
        updated_at: now,
    };
    let cli = Client {
        id: client_id(CLI),
        incarnation: gatehouse_core::client::Client::new_incarnation(),
        metadata: ClientMetadata {
            client_name: "Neon CLI".into(),
            redirect_uris: vec![redirect_uri(CLI_REDIRECT)],
            logo_uri: String::new(),
            client_uri: String::new(),
            policy_uri: String::new(),
            token_endpoint_auth_method: TokenEndpointAuthMethod::None,
            ..metadata
        },
        secret: None,
        created_at: now,
        updated_at: now,
    };
    store.create_client(&web).await.unwrap();
    store.create_client(&cli).await.unwrap();

    let hash = |pw: &str| hash_password(SecretString::new(pw), PasswordHashParams::default());
    let mut alice = gatehouse_testkit::fixtures::user(ALICE, "alice");
    alice.password_hash = Some(hash(ALICE_PASSWORD).await.unwrap());
    alice.picture = Some("https://pics.example.com/alice.png".into());
    let mut bob = gatehouse_testkit::fixtures::user(BOB, "bob");
    bob.password_hash = Some(hash(BOB_PASSWORD).await.unwrap());
    bob.disabled = true;
    let carol: User = gatehouse_testkit::fixtures::user("user-carol", "carol"); // no password set
    for user in [alice, bob, carol] {
        store.create_user(&user).await.unwrap();
    }
}

/// A public-client request for `scope`, with PKCE and `state=xyz`, to a loopback port.
fn cli_params(scope: &str) -> AuthorizationParams {
    AuthorizationParams {
        client_id: Some(CLI.into()),
        redirect_uri: Some("http://127.0.0.1:5555/callback".into()),
        response_type: Some("code".into()),
        scope: Some(scope.into()),
        state: Some("xyz".into()),
        code_challenge: Some(CHALLENGE.into()),
        code_challenge_method: Some("S256".into()),
        nonce: Some("n-0S6_WzA2Mj".into()),
        ..AuthorizationParams::default()
    }
}

async fn validated(g: &Grpc, scope: &str) -> AuthorizationContext {
    g.client
        .validate_authorization(&cli_params(scope))
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", g.name))
}

/// Issues a code for alice through gRPC and redeems it at the token endpoint (in-process).
async fn tokens_for_alice(g: &Grpc, scope: &str) -> gatehouse_token::issue::TokenResponse {
    let context = validated(g, scope).await;
    let code = g
        .client
        .issue_authorization_code(
            &context.request,
            ALICE,
            &context.request.scope,
            1_767_225_600,
            Some("session-1"),
        )
        .await
        .unwrap();
    redeem(g, code.expose())
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", g.name))
}

async fn redeem(g: &Grpc, code: &str) -> Result<gatehouse_token::issue::TokenResponse, OAuthError> {
    let form = Form::from_pairs([
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", "http://127.0.0.1:5555/callback"),
        ("client_id", CLI),
        ("code_verifier", VERIFIER),
    ])
    .unwrap();
    g.service.token(None, &form).await.map_err(|e| e.error)
}

#[tokio::test]
async fn server_info_names_the_issuer() {
    for g in servers().await {
        assert_eq!(g.client.issuer().await.unwrap(), ISSUER, "{}", g.name);
    }
}

#[tokio::test]
async fn a_valid_request_comes_back_complete_with_client_and_scope_labels() {
    for g in servers().await {
        let mut params = cli_params(&format!("openid offline {PROJECTS} profile"));
        params.prompt = Some("login consent".into());
        params.max_age = Some("300".into());
        params.login_hint = Some("alice".into());
        params.ui_locales = Some("de en".into());
        let context = g
            .client
            .validate_authorization(&params)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", g.name));
        let r = &context.request;
        assert_eq!(r.client_id, CLI, "{}", g.name);
        assert_eq!(r.redirect_uri, "http://127.0.0.1:5555/callback");
        assert!(r.redirect_uri_given);
        assert_eq!(
            r.scope.to_string(),
            format!("openid offline {PROJECTS} profile")
        );
        assert_eq!(r.state.as_deref(), Some("xyz"));
        assert_eq!(
            r.code_challenge.as_ref().map(|c| c.as_str()),
            Some(CHALLENGE)
        );
        assert_eq!(r.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
        assert!(r.prompt.login && r.prompt.consent && !r.prompt.none);
        assert_eq!(r.max_age, Some(300));
        assert_eq!(r.login_hint.as_deref(), Some("alice"));
        assert_eq!(r.ui_locales.as_deref(), Some("de en"));

        assert_eq!(context.client.client_id, CLI);
        assert_eq!(context.client.name, "Neon CLI");
        assert_eq!(context.client.logo_uri, None);

        let names: Vec<_> = context.scopes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["openid", "offline", PROJECTS, "profile"],
            "{}",
            g.name
        );
        let visible: Vec<_> = context.visible_scopes().map(|s| s.label.as_str()).collect();
        assert_eq!(
            visible,
            ["Read your projects", "Your name and profile picture"],
            "{}",
            g.name
        );

        let mut web = cli_params("openid email");
        web.client_id = Some(WEB.into());
        web.redirect_uri = None; // the only registered one is used
        let context = g.client.validate_authorization(&web).await.unwrap();
        assert_eq!(context.request.redirect_uri, WEB_REDIRECT);
        assert!(!context.request.redirect_uri_given);
        assert_eq!(
            context.client.logo_uri.as_deref(),
            Some("https://app.example.com/logo.png")
        );
        assert_eq!(
            context.client.client_uri.as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            context.client.policy_uri.as_deref(),
            Some("https://app.example.com/privacy")
        );
        assert_eq!(context.client.tos_uri, None);
        assert!(!context.client.skip_consent);
    }
}

#[tokio::test]
async fn unknown_client_and_unregistered_redirect_are_not_redirectable() {
    for g in servers().await {
        let mut params = cli_params("openid");
        params.client_id = Some("no-such-client".into());
        match g.client.validate_authorization(&params).await {
            Err(AuthorizeError::Untrusted(e)) => {
                assert_eq!(e.code, ErrorCode::InvalidClient, "{}", g.name)
            }
            other => panic!("{}: {other:?}", g.name),
        }
        let mut params = cli_params("openid");
        params.redirect_uri = Some("https://evil.example/cb".into());
        match g.client.validate_authorization(&params).await {
            Err(AuthorizeError::Untrusted(e)) => {
                assert_eq!(e.code, ErrorCode::InvalidRequest, "{}", g.name)
            }
            other => panic!("{}: {other:?}", g.name),
        }
    }
}

#[tokio::test]
async fn bad_scope_and_missing_pkce_redirect_with_state() {
    for g in servers().await {
        match g
            .client
            .validate_authorization(&cli_params("openid admin"))
            .await
        {
            Err(AuthorizeError::Redirect {
                redirect_uri,
                error,
                state,
            }) => {
                assert_eq!(redirect_uri, "http://127.0.0.1:5555/callback", "{}", g.name);
                assert_eq!(error.code, ErrorCode::InvalidScope);
                assert_eq!(state.as_deref(), Some("xyz"));
            }
            other => panic!("{}: {other:?}", g.name),
        }
        let mut params = cli_params("openid");
        params.code_challenge = None;
        params.code_challenge_method = None;
        params.state = None;
        match g.client.validate_authorization(&params).await {
            Err(AuthorizeError::Redirect {
                error, state: None, ..
            }) => assert_eq!(error.code, ErrorCode::InvalidRequest),
            other => panic!("{}: {other:?}", g.name),
        }
        let mut params = cli_params("openid");
        params.duplicate = Some("scope".into());
        assert!(
            matches!(
                g.client.validate_authorization(&params).await,
                Err(AuthorizeError::Redirect { .. })
            ),
            "{}",
            g.name
        );
    }
}

#[tokio::test]
async fn authenticate_user_answers_only_for_the_right_password_of_an_enabled_user() {
    for g in servers().await {
        let ok = g
            .client
            .authenticate_user("alice", &SecretString::new(ALICE_PASSWORD), "198.51.100.1")
            .await
            .unwrap();
        let SignIn::Authenticated(alice) = ok else {
            panic!("{}: alice refused: {ok:?}", g.name)
        };
        assert_eq!(
            (alice.id.as_str(), alice.username.as_str()),
            (ALICE, "alice")
        );
        assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
        assert!(alice.email_verified && !alice.disabled);
        assert_eq!(
            alice.picture.as_deref(),
            Some("https://pics.example.com/alice.png")
        );

        for (username, password) in [
            ("alice", "wrong"),
            ("nobody", ALICE_PASSWORD),
            ("bob", BOB_PASSWORD),
            ("carol", ""),
            ("", ""),
        ] {
            let answer = g
                .client
                .authenticate_user(username, &SecretString::new(password), "198.51.100.1")
                .await;
            assert_eq!(answer, Ok(SignIn::Refused), "{}: {username}", g.name);
        }
    }
}

/// Whoever asks, a public client's code carries an S256 challenge: a caller that skips the
/// authorization request's checks cannot mint a code a thief could redeem without the verifier.
#[tokio::test]
async fn issue_authorization_code_refuses_a_public_client_without_pkce() {
    for g in servers().await {
        let mut raw = g.raw().await;
        let request = |challenge: Option<&str>| pb::IssueAuthorizationCodeRequest {
            request: Some(pb::AuthorizationRequest {
                client_id: CLI.into(),
                redirect_uri: "http://127.0.0.1:5555/callback".into(),
                redirect_uri_given: true,
                scope: "openid".into(),
                code_challenge: challenge.map(str::to_owned),
                ..Default::default()
            }),
            subject: ALICE.into(),
            granted_scope: "openid".into(),
            auth_time: 1_767_225_600,
            session_id: None,
        };
        let status = raw
            .issue_authorization_code(request(None))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{}: {status:?}",
            g.name
        );
        let issued = raw
            .issue_authorization_code(request(Some(CHALLENGE)))
            .await
            .unwrap()
            .into_inner();
        assert!(issued.code.starts_with("gh_ac_"), "{}", g.name);
    }
}

/// The failed-login limits hold for any caller of AuthenticateUser, not only for the login UI:
/// a direct caller that guesses six times is locked out before the right password, and an
/// oversized password is refused before anything is hashed.
#[tokio::test]
async fn authenticate_user_enforces_the_lockout_for_any_caller() {
    for g in servers().await {
        let mut raw = g.raw().await;
        let attempt = |password: &str| pb::AuthenticateUserRequest {
            username: "alice".into(),
            password: password.into(),
            ..Default::default()
        };
        for i in 0..6 {
            let answer = raw
                .authenticate_user(attempt(&format!("guess-{i}")))
                .await
                .unwrap()
                .into_inner();
            assert!(answer.user.is_none(), "{}", g.name);
        }
        let answer = raw
            .authenticate_user(attempt(ALICE_PASSWORD))
            .await
            .unwrap()
            .into_inner();
        assert!(
            answer.user.is_none(),
            "{}: the right password was accepted after six failures",
            g.name
        );
        assert_eq!(answer.locked(), pb::Lockout::Username, "{}", g.name);
        let status = raw
            .authenticate_user(attempt(&"p".repeat(2_000)))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{}: {status:?}",
            g.name
        );
        // Past the message limit the transport refuses it before any handler runs.
        let status = raw
            .authenticate_user(attempt(&"p".repeat(70_000)))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::OutOfRange, "{}: {status:?}", g.name);
    }
}

#[tokio::test]
async fn get_user_finds_users_by_id_and_says_none_otherwise() {
    for g in servers().await {
        let bob = g
            .client
            .user(BOB)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{}: bob missing", g.name));
        assert_eq!(bob.username, "bob");
        assert!(bob.disabled);
        assert_eq!(bob.name.as_deref(), Some("User bob"));
        assert_eq!(g.client.user("user-nobody").await, Ok(None), "{}", g.name);
        let empty = g.client.user("").await;
        assert_eq!(
            empty.map_err(|e| e.code),
            Err(ErrorCode::InvalidRequest),
            "{}",
            g.name
        );
    }
}

#[tokio::test]
async fn an_issued_code_is_redeemed_once_at_the_token_endpoint() {
    for g in servers().await {
        let context = validated(&g, &format!("openid offline {PROJECTS}")).await;
        let granted = ScopeSet::parse(&format!("openid {PROJECTS}")).unwrap();
        let code = g
            .client
            .issue_authorization_code(&context.request, ALICE, &granted, 1_767_225_600, None)
            .await
            .unwrap();
        assert!(code.expose().starts_with("gh_ac_"), "{}", g.name);
        assert_eq!(format!("{code:?}"), "[redacted]");

        let tokens = redeem(&g, code.expose())
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", g.name));
        assert_eq!(
            tokens.scope.as_deref(),
            Some(format!("openid {PROJECTS}").as_str())
        );
        assert!(tokens.id_token.is_some());
        assert!(tokens.refresh_token.is_none(), "offline was not granted");
        let again = redeem(&g, code.expose()).await;
        assert_eq!(
            again.map(|_| ()).map_err(|e| e.code),
            Err(ErrorCode::InvalidGrant),
            "{}",
            g.name
        );
    }
}

#[tokio::test]
async fn issuing_a_code_rechecks_what_the_ui_sends_back() {
    for g in servers().await {
        let context = validated(&g, "openid profile").await;
        let more = ScopeSet::parse("openid profile email").unwrap();
        let wider = g
            .client
            .issue_authorization_code(&context.request, ALICE, &more, 0, None)
            .await;
        assert_eq!(
            wider.map(|_| ()).map_err(|e| e.code),
            Err(ErrorCode::InvalidScope),
            "{}",
            g.name
        );

        let mut tampered = context.request.clone();
        tampered.redirect_uri = redirect_uri("https://evil.example/cb");
        let r = g
            .client
            .issue_authorization_code(&tampered, ALICE, &context.request.scope, 0, None)
            .await;
        assert_eq!(
            r.map(|_| ()).map_err(|e| e.code),
            Err(ErrorCode::InvalidRequest),
            "{}",
            g.name
        );

        let mut tampered = context.request.clone();
        tampered.scope = ScopeSet::parse("openid admin").unwrap();
        let r = g
            .client
            .issue_authorization_code(
                &tampered,
                ALICE,
                &ScopeSet::parse("openid").unwrap(),
                0,
                None,
            )
            .await;
        assert_eq!(
            r.map(|_| ()).map_err(|e| e.code),
            Err(ErrorCode::InvalidScope),
            "{}",
            g.name
        );

        let r = g
            .client
            .issue_authorization_code(&context.request, BOB, &context.request.scope, 0, None)
            .await;
        assert_eq!(
            r.map(|_| ()).map_err(|e| e.code),
            Err(ErrorCode::AccessDenied),
            "{}: disabled user",
            g.name
        );
    }
}

#[tokio::test]
async fn consents_are_recorded_merged_listed_and_revoked_with_their_tokens() {
    for g in servers().await {
        assert_eq!(g.client.consent(ALICE, CLI).await, Ok(None), "{}", g.name);
        g.client
            .record_consent(ALICE, CLI, &ScopeSet::parse("openid profile").unwrap())
            .await
            .unwrap();
        let merged = g
            .client
            .record_consent(
                ALICE,
                CLI,
                &ScopeSet::parse(&format!("offline {PROJECTS}")).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            merged.scope.to_string(),
            format!("openid profile offline {PROJECTS}"),
            "{}",
            g.name
        );
        assert!(merged.expires_at.is_some_and(|e| e > merged.granted_at));
        assert_eq!(
            g.client.consent(ALICE, CLI).await.unwrap(),
            Some(merged.clone()),
            "{}",
            g.name
        );
        g.client
            .record_consent(ALICE, WEB, &ScopeSet::parse("openid email").unwrap())
            .await
            .unwrap();

        let mut apps = g.client.list_consents(ALICE).await.unwrap();
        apps.sort_by(|a, b| a.consent.client_id.cmp(&b.consent.client_id));
        assert_eq!(apps.len(), 2, "{}", g.name);
        let cli = &apps[0];
        assert_eq!(cli.consent, merged);
        assert_eq!(
            cli.client.as_ref().map(|c| c.name.as_str()),
            Some("Neon CLI")
        );
        let labels: Vec<_> = cli
            .scopes
            .iter()
            .filter(|s| !s.hidden)
            .map(|s| s.label.as_str())
            .collect();
        assert_eq!(
            labels,
            ["Your name and profile picture", "Read your projects"],
            "{}",
            g.name
        );
        assert_eq!(
            apps[1].client.as_ref().and_then(|c| c.logo_uri.as_deref()),
            Some("https://app.example.com/logo.png")
        );
        assert!(g.client.list_consents(BOB).await.unwrap().is_empty());

        let tokens = tokens_for_alice(&g, &format!("openid offline {PROJECTS}")).await;
        let refresh = tokens
            .refresh_token
            .clone()
            .unwrap_or_else(|| panic!("{}: no refresh token", g.name));
        assert!(g.client.introspect(&refresh, None).await.unwrap().active);
        assert!(
            g.client
                .introspect(&tokens.access_token, None)
                .await
                .unwrap()
                .active
        );

        assert_eq!(
            g.client.revoke_consent(ALICE, CLI).await,
            Ok(true),
            "{}",
            g.name
        );
        assert!(
            !g.client.introspect(&refresh, None).await.unwrap().active,
            "{}: refresh token survived",
            g.name
        );
        assert!(
            !g.client
                .introspect(&tokens.access_token, None)
                .await
                .unwrap()
                .active,
            "{}: access token survived",
            g.name
        );
        assert_eq!(g.client.consent(ALICE, CLI).await, Ok(None));
        assert_eq!(g.client.revoke_consent(ALICE, CLI).await, Ok(false));
        let left: Vec<_> = g
            .client
            .list_consents(ALICE)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.consent.client_id)
            .collect();
        assert_eq!(left, [WEB], "{}", g.name);

        let bad = g.client.record_consent("", CLI, &ScopeSet::default()).await;
        assert_eq!(
            bad.map(|_| ()).map_err(|e| e.code),
            Err(ErrorCode::InvalidRequest)
        );
    }
}

#[tokio::test]
async fn introspection_reports_rfc_7662_fields_and_revocation_is_per_client() {
    for g in servers().await {
        let tokens = tokens_for_alice(&g, &format!("openid offline {PROJECTS}")).await;
        let at = g
            .client
            .introspect(&tokens.access_token, Some("access_token"))
            .await
            .unwrap();
        assert!(at.active, "{}", g.name);
        assert_eq!(
            at.scope.as_deref(),
            Some(format!("openid offline {PROJECTS}").as_str())
        );
        assert_eq!(at.client_id.as_deref(), Some(CLI));
        assert_eq!(at.sub.as_deref(), Some(ALICE));
        assert_eq!(at.token_type.as_deref(), Some("Bearer"));
        assert_eq!(at.iss.as_deref(), Some(ISSUER));
        assert!(at.exp.zip(at.iat).is_some_and(|(exp, iat)| exp > iat));

        let refresh = tokens.refresh_token.clone().unwrap();
        let rt = g
            .client
            .introspect(&refresh, Some("refresh_token"))
            .await
            .unwrap();
        assert!(
            rt.active && rt.token_type.as_deref() == Some("refresh_token"),
            "{}: {rt:?}",
            g.name
        );

        let nothing = g
            .client
            .introspect("gh_at_not-a-token", None)
            .await
            .unwrap();
        assert_eq!(
            nothing,
            gatehouse_login::TokenIntrospection::default(),
            "{}",
            g.name
        );
        let empty = g.client.introspect("", None).await;
        assert_eq!(empty.map_err(|e| e.code), Err(ErrorCode::InvalidRequest));

        // Another client's revocation is ignored, and answers the same.
        g.client.revoke(&tokens.access_token, WEB).await.unwrap();
        assert!(
            g.client
                .introspect(&tokens.access_token, None)
                .await
                .unwrap()
                .active,
            "{}",
            g.name
        );
        g.client.revoke(&tokens.access_token, CLI).await.unwrap();
        assert!(
            !g.client
                .introspect(&tokens.access_token, None)
                .await
                .unwrap()
                .active,
            "{}",
            g.name
        );
        assert!(
            g.client.introspect(&refresh, None).await.unwrap().active,
            "revoking an access token leaves the refresh token"
        );
        g.client.revoke(&refresh, CLI).await.unwrap();
        assert!(
            !g.client.introspect(&refresh, None).await.unwrap().active,
            "{}",
            g.name
        );
        g.client.revoke("gh_rt_unknown", CLI).await.unwrap();
    }
}

#[tokio::test]
async fn errors_travel_as_status_codes_with_oauth_details() {
    for g in servers().await {
        let mut raw = g.raw().await;
        let mut params = pb::AuthorizationParams::from(&cli_params("openid"));
        params.client_id = Some("no-such-client".into());
        let status = raw
            .validate_authorization_request(pb::ValidateAuthorizationRequestRequest {
                params: Some(params),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{}", g.name);
        let detail = oauth_from_status(&status);
        assert_eq!(
            (detail.error.as_str(), detail.redirectable),
            ("invalid_client", false)
        );
        assert_eq!(status.message(), detail.error_description);

        let params = pb::AuthorizationParams::from(&cli_params("openid admin"));
        let status = raw
            .validate_authorization_request(pb::ValidateAuthorizationRequestRequest {
                params: Some(params),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{}", g.name);
        assert_eq!(
            oauth_from_status(&status),
            pb::OAuthError {
                error: "invalid_scope".into(),
                error_description: "the requested scope exceeds what this client may ask for"
                    .into(),
                redirectable: true,
                redirect_uri: "http://127.0.0.1:5555/callback".into(),
                state: "xyz".into(),
            }
        );
        // The details are the standard google.rpc.Status, readable by any gRPC client.
        let rpc = gatehouse_proto::google::rpc::Status::decode(status.details()).unwrap();
        assert_eq!(rpc.code, Code::InvalidArgument as i32);
        assert_eq!(rpc.details[0].type_url, OAUTH_ERROR_TYPE_URL);

        let status = raw
            .get_user(pb::GetUserRequest {
                id: "user-nobody".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (status.code(), oauth_from_status(&status).error.as_str()),
            (Code::NotFound, "not_found"),
            "{}",
            g.name
        );

        let status = raw
            .issue_authorization_code(pb::IssueAuthorizationCodeRequest {
                subject: ALICE.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            (status.code(), oauth_from_status(&status).error.as_str()),
            (Code::InvalidArgument, "invalid_request")
        );
    }
}

/// A gRPC request frame as it travels: uncompressed flag, big-endian length, message.
fn grpc_frame(message: &impl prost::Message) -> Vec<u8> {
    let bytes = message.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend(u32::try_from(bytes.len()).unwrap().to_be_bytes());
    frame.extend(bytes);
    frame
}

#[tokio::test]
async fn the_server_stops_a_call_at_its_deadline_with_deadline_exceeded() {
    use tower::ServiceExt as _;

    for g in servers().await {
        // Straight to the service, so no client-side timer can answer first: an argon2
        // verification takes tens of milliseconds, the caller gave 5.
        let message = pb::AuthenticateUserRequest {
            username: "alice".into(),
            password: ALICE_PASSWORD.into(),
            client_ip: None,
        };
        let request = |timeout: &str| {
            axum::http::Request::builder()
                .method("POST")
                .uri("/gatehouse.token.v1.TokenService/AuthenticateUser")
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .header("grpc-timeout", timeout)
                .body(tonic::body::Body::new(axum::body::Body::from(grpc_frame(
                    &message,
                ))))
                .unwrap()
        };
        let server = TokenGrpc::new(Arc::clone(&g.service)).into_server(Callers::TrustedLink);
        let started = std::time::Instant::now();
        let response = server.clone().oneshot(request("5m")).await.unwrap();
        let status = tonic::Status::from_header_map(response.headers())
            .unwrap_or_else(|| panic!("{}: no grpc-status", g.name));
        assert_eq!(
            status.code(),
            Code::DeadlineExceeded,
            "{}: {status:?}",
            g.name
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{}: the call ran on",
            g.name
        );

        // With time enough, the same call succeeds (status in the trailers, not the headers).
        let response = server.oneshot(request("10S")).await.unwrap();
        assert!(
            tonic::Status::from_header_map(response.headers()).is_none(),
            "{}",
            g.name
        );
    }
}

#[tokio::test]
async fn the_login_client_gives_up_at_its_deadline_and_reads_it_as_retry_later() {
    for g in servers().await {
        let hasty = g.client.clone().with_deadline(Duration::from_millis(1));
        let e = hasty
            .authenticate_user("alice", &SecretString::new(ALICE_PASSWORD), "198.51.100.1")
            .await
            .unwrap_err();
        assert_eq!(
            e.code,
            ErrorCode::TemporarilyUnavailable,
            "{}: {e:?}",
            g.name
        );
        assert!(
            e.description.contains("Deadline expired"),
            "{}: {e:?}",
            g.name
        );
        assert_eq!(g.client.deadline(), gatehouse_login::DEFAULT_DEADLINE);
        assert!(
            matches!(
                g.client
                    .authenticate_user("alice", &SecretString::new(ALICE_PASSWORD), "198.51.100.1")
                    .await
                    .unwrap(),
                SignIn::Authenticated(_)
            ),
            "{}",
            g.name
        );
    }
}

#[tokio::test]
async fn health_and_reflection_describe_the_listener() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

    for g in servers().await {
        let channel = tonic::transport::Endpoint::from_shared(g.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut health = HealthClient::new(channel.clone());
        let name = "gatehouse.token.v1.TokenService";
        let answer = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: name.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.status, ServingStatus::Serving as i32, "{}", g.name);

        let mut reflection = ServerReflectionClient::new(channel);
        let ask = |message| ServerReflectionRequest {
            host: String::new(),
            message_request: Some(message),
        };
        let requests = vec![
            ask(MessageRequest::ListServices(String::new())),
            ask(MessageRequest::FileContainingSymbol(name.into())),
        ];
        let mut answers = reflection
            .server_reflection_info(tonic::codegen::tokio_stream::iter(requests))
            .await
            .unwrap()
            .into_inner();
        let Some(ServerReflectionResponse {
            message_response: Some(MessageResponse::ListServicesResponse(list)),
            ..
        }) = answers.message().await.unwrap()
        else {
            panic!("{}: no service list", g.name)
        };
        let services: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
        for expected in [
            name,
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
        ] {
            assert!(
                services.contains(&expected),
                "{}: {expected} missing from {services:?}",
                g.name
            );
        }
        let Some(ServerReflectionResponse {
            message_response: Some(MessageResponse::FileDescriptorResponse(files)),
            ..
        }) = answers.message().await.unwrap()
        else {
            panic!("{}: no file descriptor for {name}", g.name)
        };
        assert!(!files.file_descriptor_proto.is_empty());
    }
}
