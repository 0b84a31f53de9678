//! The public OAuth/OIDC endpoints (`gatehouse_token::http`), driven in-process through their
//! routers on every configured backend pair.

mod claims;
mod client_assertion;
mod client_auth;
mod code;
mod cors;
mod device;
mod discovery;
mod dpop;
mod ending_access;
mod introspection;
mod jwt;
mod par;
mod refresh;
mod registration;
mod request_object;
mod resource;
mod revocation;
mod token_requests;
mod usage;
mod userinfo;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use gatehouse_core::authorize::AuthorizationParams;
use gatehouse_core::client::{
    AccessTokenStrategy, Client, ClientMetadata, TokenEndpointAuthMethod,
};
use gatehouse_core::protocol::{GrantType, ResponseType};
use gatehouse_core::registration::{client_secret_hasher, generate_client_secret, secret_hashes};
use gatehouse_core::scope::{ScopeDefinition, ScopeName};
use gatehouse_core::secret::SecretString;
use gatehouse_core::user::User;
use gatehouse_core::{Clock as _, ManualClock};
use gatehouse_testkit::fixtures::{cheap_password_params, now, random_system_secret};
use gatehouse_testkit::http::{Reply, basic, form, send};
use gatehouse_testkit::{BackendPair, backend_pairs};
use gatehouse_token::admin::{AdminConfig, seed_default_scopes};
use gatehouse_token::http::{admin_introspection_router, public_router};
use gatehouse_token::password::hash_password;
use gatehouse_token::{TokenService, TokenSettings};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;

pub const ISSUER: &str = "https://id.gatehouse.test";
pub const REDIRECT_URI: &str = "https://app.example.com/callback";
/// A PKCE pair: `CHALLENGE = BASE64URL(SHA256(VERIFIER))`.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K5dBgnWjhTtFNgFPmgFqn4SaNk";
pub const CHALLENGE: &str = "9Bx38MYE4gQnEJd4ghJMN3UNVdpTx7l4ydwLkV38pS0";
/// The user every code is issued for.
pub const SUBJECT: &str = "user-alice";

/// One token service with its routers on one durable and one short-lived backend.
pub struct Env {
    pub name: String,
    pub system_secret: Vec<u8>,
    pub clock: Arc<ManualClock>,
    pub service: Arc<TokenService>,
    pub public: Router,
    pub admin: Router,
    /// The whole admin listener as the binary mounts it (no admin token): clients, users, keys,
    /// introspection.
    pub admin_api: Router,
    // Last, so the stores are released before the backends delete their databases.
    _backends: BackendPair,
}

/// A registered client and the secret it authenticates with.
#[derive(Debug, Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
    pub method: TokenEndpointAuthMethod,
}

/// Asserts an RFC 6749 §5.2 error: status, code, a description, and no caching.
#[track_caller]
pub fn assert_oauth_error(reply: &Reply, status: StatusCode, code: &str, context: &str) {
    assert_eq!(reply.status, status, "{context}: {}", reply.body);
    assert_eq!(reply.body["error"], code, "{context}: {}", reply.body);
    assert!(
        reply.body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{context}: {}",
        reply.body
    );
    assert_no_store(reply, context);
}

#[track_caller]
pub fn assert_no_store(reply: &Reply, context: &str) {
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{context}");
    assert_eq!(reply.header("pragma"), Some("no-cache"), "{context}");
}

/// A mailer that writes `.eml` files into `dir` (as dev mode does), for tests that only need
/// mail to go somewhere they can read it back.
pub fn file_mailer(dir: &std::path::Path) -> Arc<gatehouse_mail::Mailer> {
    let settings = gatehouse_mail::MailSettings {
        smtp_url: None,
        from: None,
        dev_dir: Some(dir.to_owned()),
        brand: gatehouse_mail::Brand {
            product: "Gatehouse".into(),
            color: "#1f5fbf".into(),
            text_color: "#ffffff".into(),
        },
    };
    Arc::new(
        gatehouse_mail::Mailer::from_settings(&settings)
            .unwrap()
            .unwrap(),
    )
}

/// One environment per configured backend: SQLite+memory always, Postgres+Redis when set (an
/// extra SQLite store pairs with Redis when Postgres is not configured).
pub async fn envs() -> Vec<Env> {
    envs_with(|_| {}).await
}

pub async fn envs_with(configure: impl Fn(&mut TokenSettings)) -> Vec<Env> {
    let mut out = Vec::new();
    for backends in backend_pairs().await {
        let mut settings = TokenSettings::for_issuer(ISSUER);
        configure(&mut settings);
        out.push(Env::start(backends, settings).await);
    }
    out
}

pub fn metadata(method: TokenEndpointAuthMethod, grants: &[&str], scope: &str) -> ClientMetadata {
    ClientMetadata {
        client_name: "Test app".to_owned(),
        redirect_uris: vec![gatehouse_testkit::fixtures::redirect_uri(REDIRECT_URI)],
        grant_types: grants
            .iter()
            .map(|g| GrantType::parse(g).expect("a grant type"))
            .collect(),
        response_types: if grants.contains(&"authorization_code") {
            vec![ResponseType::Code]
        } else {
            Vec::new()
        },
        scope: gatehouse_testkit::fixtures::scopes(scope),
        token_endpoint_auth_method: method,
        ..ClientMetadata::default()
    }
}

impl Env {
    pub async fn start(backends: BackendPair, settings: TokenSettings) -> Self {
        let name = backends.name();
        let BackendPair {
            durable,
            short_lived,
        } = &backends;
        let clock = Arc::new(ManualClock::new(now()));
        seed_default_scopes(durable.store.as_ref()).await.unwrap();
        let project_scope = ScopeDefinition {
            name: ScopeName::parse("urn:neoncloud:projects:read").unwrap(),
            label: "Read your projects".to_owned(),
            description: String::new(),
            hidden: false,
            claims: Vec::new(),
        };
        durable.store.create_scope(&project_scope).await.unwrap();
        let system_secret = random_system_secret("oauth-test").into_bytes();
        let service = TokenService::start(
            settings,
            Arc::clone(&durable.store),
            Arc::clone(&short_lived.store),
            clock.clone(),
            &[system_secret.as_slice()],
        )
        .await
        .unwrap();
        let service = Arc::new(service);
        let env = Self {
            name,
            clock,
            admin_api: admin_api(&service, &system_secret),
            system_secret,
            public: public_router(Arc::clone(&service)),
            admin: admin_introspection_router(Arc::clone(&service)),
            service,
            _backends: backends,
        };
        env.user(SUBJECT, "alice").await;
        env
    }

    /// The service's now, in Unix seconds.
    pub fn unix(&self) -> i64 {
        self.clock.unix()
    }

    /// Registers a client directly in the store; a confidential one gets a generated secret.
    pub async fn client(&self, id: &str, metadata: ClientMetadata) -> TestClient {
        let secret = (metadata.token_endpoint_auth_method != TokenEndpointAuthMethod::None)
            .then(generate_client_secret);
        self.client_with_secret(id, metadata, secret.as_ref().map(SecretString::expose))
            .await
    }

    pub async fn client_with_secret(
        &self,
        id: &str,
        metadata: ClientMetadata,
        secret: Option<&str>,
    ) -> TestClient {
        let hasher = client_secret_hasher(&self.system_secret);
        let now = now();
        let method = metadata.token_endpoint_auth_method;
        let client = Client {
            id: gatehouse_testkit::fixtures::client_id(id),
            incarnation: gatehouse_core::client::Client::new_incarnation(),
            metadata,
            secret: secret.map(|s| secret_hashes(&SecretString::new(s), &hasher)),
            created_at: now,
            updated_at: now,
        };
        self.service.durable().create_client(&client).await.unwrap();
        TestClient {
            id: id.to_owned(),
            secret: secret.map(str::to_owned),
            method,
        }
    }

    /// A confidential `client_secret_basic` client with every grant and the usual scopes.
    pub async fn web_client(&self, id: &str) -> TestClient {
        let grants = ["authorization_code", "refresh_token", "client_credentials"];
        self.client(
            id,
            metadata(
                TokenEndpointAuthMethod::ClientSecretBasic,
                &grants,
                "openid offline profile email urn:neoncloud:projects:read",
            ),
        )
        .await
    }

    /// A public (`none`) client with the code and refresh grants.
    pub async fn public_client(&self, id: &str) -> TestClient {
        let grants = ["authorization_code", "refresh_token"];
        self.client(
            id,
            metadata(
                TokenEndpointAuthMethod::None,
                &grants,
                "openid offline offline_access profile email",
            ),
        )
        .await
    }

    /// A JWT-access-token client.
    pub async fn jwt_client(&self, id: &str) -> TestClient {
        let grants = ["authorization_code", "refresh_token", "client_credentials"];
        let mut m = metadata(
            TokenEndpointAuthMethod::ClientSecretBasic,
            &grants,
            "openid offline profile urn:neoncloud:projects:read",
        );
        m.access_token_strategy = AccessTokenStrategy::Jwt;
        self.client(id, m).await
    }

    /// A user with every profile claim set and a password (cheap argon2 parameters).
    pub async fn user(&self, id: &str, username: &str) -> User {
        let mut user = gatehouse_testkit::fixtures::user(id, username);
        user.picture = Some(format!("https://img.example.com/{username}.png"));
        user.password_hash = Some(
            hash_password(
                SecretString::new("correct horse battery"),
                cheap_password_params(64),
            )
            .await
            .unwrap(),
        );
        self.service.durable().create_user(&user).await.unwrap();
        user
    }

    /// The parameters of an authorization request with PKCE, as the login UI receives them.
    pub fn authorize(&self, client: &TestClient, scope: &str) -> AuthorizationParams {
        AuthorizationParams {
            client_id: Some(client.id.clone()),
            redirect_uri: Some(REDIRECT_URI.to_owned()),
            response_type: Some("code".to_owned()),
            scope: Some(scope.to_owned()),
            state: Some("state-1".to_owned()),
            code_challenge: Some(CHALLENGE.to_owned()),
            code_challenge_method: Some("S256".to_owned()),
            nonce: Some("nonce-1".to_owned()),
            ..AuthorizationParams::default()
        }
    }

    /// What the login UI does after login and consent: validate, then issue a code for all the
    /// requested scopes.
    pub async fn issue_code(&self, params: &AuthorizationParams, subject: &str) -> String {
        let context = self
            .service
            .validate_authorization(params)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", self.name));
        let auth_time = self.unix() - 30;
        self.service
            .issue_authorization_code(
                &context.request,
                subject,
                &context.request.scope,
                auth_time,
                None,
            )
            .await
            .unwrap()
    }

    pub async fn code(&self, client: &TestClient, scope: &str) -> String {
        self.issue_code(&self.authorize(client, scope), SUBJECT)
            .await
    }

    /// Exchanges a code with the usual redirect URI and verifier; panics unless it succeeds.
    pub async fn exchange(&self, client: &TestClient, code: &str) -> Reply {
        let reply = self.redeem(client, code, Some(VERIFIER)).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}: {}",
            self.name,
            reply.body
        );
        reply
    }

    /// A token request for `code` with the usual redirect URI and the given verifier.
    pub async fn redeem(&self, client: &TestClient, code: &str, verifier: Option<&str>) -> Reply {
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
        ];
        pairs.extend(verifier.map(|v| ("code_verifier", v)));
        self.as_client("/oauth2/token", client, &pairs).await
    }

    /// Code flow up to tokens.
    pub async fn tokens(&self, client: &TestClient, scope: &str) -> Reply {
        let code = self.code(client, scope).await;
        self.exchange(client, &code).await
    }

    pub async fn client_credentials(&self, client: &TestClient, scope: &str) -> Reply {
        self.as_client(
            "/oauth2/token",
            client,
            &[("grant_type", "client_credentials"), ("scope", scope)],
        )
        .await
    }

    /// POSTs a form to the public router, authenticating as `client` with its registered method.
    pub async fn as_client(
        &self,
        path: &str,
        client: &TestClient,
        pairs: &[(&str, &str)],
    ) -> Reply {
        let mut pairs = pairs.to_vec();
        let mut authorization = None;
        match (client.method, client.secret.as_deref()) {
            (TokenEndpointAuthMethod::ClientSecretBasic, Some(secret)) => {
                authorization = Some(basic(&client.id, secret))
            }
            (TokenEndpointAuthMethod::ClientSecretPost, Some(secret)) => {
                pairs.push(("client_id", &client.id));
                pairs.push(("client_secret", secret));
            }
            _ => pairs.push(("client_id", &client.id)),
        }
        self.post_form(&self.public, path, &form(&pairs), authorization.as_deref())
            .await
    }

    pub async fn post_form(
        &self,
        router: &Router,
        path: &str,
        body: &str,
        authorization: Option<&str>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(a) = authorization {
            request = request.header(header::AUTHORIZATION, a);
        }
        send(router, request.body(Body::from(body.to_owned())).unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        send(
            &self.public,
            Request::get(path).body(Body::empty()).unwrap(),
        )
        .await
    }

    /// Admin introspection of `token`.
    pub async fn admin_introspect(&self, token: &str) -> Reply {
        self.post_form(
            &self.admin,
            "/admin/oauth2/introspect",
            &form(&[("token", token)]),
            None,
        )
        .await
    }

    /// Whether the admin endpoint calls `token` active.
    pub async fn active(&self, token: &str) -> bool {
        let reply = self.admin_introspect(token).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}: {}",
            self.name,
            reply.body
        );
        reply.body["active"].as_bool().unwrap()
    }

    /// The published JWKS.
    pub async fn jwks(&self) -> JwkSet {
        let reply = self.get("/.well-known/jwks.json").await;
        assert_eq!(reply.status, StatusCode::OK);
        serde_json::from_value(reply.body).unwrap()
    }

    /// Verifies a JWT against the published JWKS (the key found by `kid`, the algorithm from the
    /// key) and returns its header and claims.
    pub async fn verify_jwt(&self, token: &str, audience: &str) -> (jsonwebtoken::Header, Value) {
        let header = jsonwebtoken::decode_header(token).unwrap();
        let jwks = self.jwks().await;
        let jwk = jwks
            .find(header.kid.as_deref().unwrap())
            .unwrap_or_else(|| panic!("{}: kid not published", self.name));
        let alg: jsonwebtoken::Algorithm = serde_json::from_value(
            serde_json::to_value(jwk.common.key_algorithm.unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(alg, header.alg);
        let mut validation = Validation::new(alg);
        validation.set_audience(&[audience]);
        validation.set_issuer(&[ISSUER]);
        let claims =
            jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
                .unwrap_or_else(|e| panic!("{}: {e}", self.name))
                .claims;
        (header, claims)
    }
}

/// The admin listener's routes, as `gatehouse serve` mounts them (no admin token).
fn admin_api(service: &Arc<TokenService>, system_secret: &[u8]) -> Router {
    gatehouse_token::admin::listener(
        Arc::clone(service),
        client_secret_hasher(system_secret),
        AdminConfig {
            password_hash: cheap_password_params(64),
            ..AdminConfig::default()
        },
        None,
    )
}

impl Env {
    /// One call to the admin listener; a JSON body is sent as `application/json`.
    pub async fn admin_call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json");
        let body = body.map_or_else(|| "{}".to_owned(), |b| b.to_string());
        send(&self.admin_api, request.body(Body::from(body)).unwrap()).await
    }

    /// The durable backend under the service, for tests that reach the database directly.
    pub fn durable_backend(&self) -> &gatehouse_testkit::DurableBackend {
        &self._backends.durable
    }

    /// A GET on the public router with `Authorization: Bearer <token>`.
    pub async fn get_bearer(&self, path: &str, token: &str) -> Reply {
        let request = Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        send(&self.public, request).await
    }
}
