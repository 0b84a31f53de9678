//! The token service's gRPC contract end to end: the real tonic server (with health and
//! reflection) on a free loopback port, over a `TokenService` on every backend pair (the test
//! kit's gRPC harness), driven by the login UI's `TokenServiceClient` and, where the wire itself
//! is the subject, by the generated client. One file per family of RPCs:
//!
//! - [`server`]: `GetServerInfo`, health and reflection on the listener.
//! - [`authorization`]: `ValidateAuthorizationRequest` and `IssueAuthorizationCode`.
//! - [`users`]: `AuthenticateUser` (with the failed-login lockout) and `GetUser`.
//! - [`consent`]: `RecordConsent`, `GetConsent`, `ListConsents`, `RevokeConsent`.
//! - [`introspection`]: `Introspect` and `Revoke`.
//! - [`session_claims`]: an external consent app's `session.id_token` / `session.access_token`
//!   claims, in the tokens of the code, of every refresh, and in introspection.
//! - [`partners`]: the partner portal's RPCs (registration requests, the one-time secret reveal,
//!   logos, the approval modes).
//! - [`wire`]: what every RPC shares on the wire: errors as status codes with OAuth details,
//!   deadlines on both ends.

mod authorization;
mod consent;
mod introspection;
mod partners;
mod server;
mod session_claims;
mod users;
mod wire;

use std::sync::Arc;

use gatehouse_core::authorize::AuthorizationParams;
use gatehouse_core::client::{Client, ClientMetadata, TokenEndpointAuthMethod};
use gatehouse_core::error::OAuthError;
use gatehouse_core::protocol::{GrantType, ResponseType};
use gatehouse_core::registration::{client_secret_hasher, secret_hashes};
use gatehouse_core::scope::{ScopeDefinition, ScopeName, ScopeSet, default_catalogue};
use gatehouse_core::secret::SecretString;
use gatehouse_core::store::DurableStore;
use gatehouse_core::token_request::Form;
use gatehouse_core::user::User;
use gatehouse_login::{AuthorizationContext, TokenServiceClient};
use gatehouse_proto::token::v1::token_service_client::TokenServiceClient as RawClient;
use gatehouse_testkit::fixtures::{
    PKCE_CHALLENGE as CHALLENGE, PKCE_VERIFIER as VERIFIER, random_system_secret,
};
use gatehouse_testkit::fixtures::{client_id, redirect_uri};
use gatehouse_testkit::grpc::TokenServer;
use gatehouse_token::password::{PasswordHashParams, hash_password};
use gatehouse_token::{TokenService, TokenSettings};

const ISSUER: &str = "https://id.gatehouse.test";
/// A confidential client (client_secret_basic) with a registered https redirect URI.
const WEB: &str = "neon-web";
const WEB_SECRET: &str = "neon-web-secret-0123456789abcdef0123456789";
const WEB_REDIRECT: &str = "https://app.example.com/callback";
/// A public client (PKCE, loopback redirect URI, any port).
const CLI: &str = "neon-cli";
const CLI_REDIRECT: &str = "http://127.0.0.1/callback";
const ALICE: &str = "user-alice";
const ALICE_PASSWORD: &str = "correct horse battery staple";
const BOB: &str = "user-bob";
const BOB_PASSWORD: &str = "bob's password, disabled";
const PROJECTS: &str = "urn:neoncloud:projects:read";

/// One gRPC server over one token service on one backend pair, and the login UI's client of it.
struct Grpc {
    name: String,
    service: Arc<TokenService>,
    client: TokenServiceClient,
    server: TokenServer,
}

impl Grpc {
    /// The generated client, for tests whose subject is the wire itself.
    async fn raw(&self) -> RawClient<tonic::transport::Channel> {
        self.server.raw_client().await
    }
}

/// One seeded server per backend pair (see `gatehouse_testkit::backend_pairs`).
async fn servers() -> Vec<Grpc> {
    servers_with(TokenSettings::for_issuer(ISSUER)).await
}

/// [`servers`] with other settings.
async fn servers_with(settings: TokenSettings) -> Vec<Grpc> {
    let mut out = Vec::new();
    for backends in gatehouse_testkit::backend_pairs().await {
        let system_secret = random_system_secret("grpc-test");
        seed(backends.durable.store.as_ref(), system_secret.as_bytes()).await;
        let server = TokenServer::start(backends, settings.clone(), system_secret).await;
        out.push(Grpc {
            name: server.name.clone(),
            service: Arc::clone(&server.service),
            client: TokenServiceClient::connect_lazy(&server.url, None).unwrap(),
            server,
        });
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
            claims: Vec::new(),
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
