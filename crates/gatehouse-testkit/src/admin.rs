//! The admin API harness: the token service's admin router (`gatehouse_token::admin::router`)
//! on a backend pair with a clock the test moves, driven in-process or served on a port (for the
//! real CLI), and the assertion for its error answers.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use gatehouse_core::ManualClock;
use gatehouse_core::registration::client_secret_hasher;
use gatehouse_core::secret::KeyedHasher;
use gatehouse_core::store::{DurableStore, ShortLivedStore};
use gatehouse_token::admin::{AdminConfig, AdminState, LoginLimitsAccess, router};
use gatehouse_token::revocation::Revocations;
use serde_json::Value;
use time::OffsetDateTime;

use crate::http::{Reply, send_json};
use crate::{BackendPair, DurableBackend, ShortLivedBackend};

/// The system secret every harness keys client secrets and revocations with.
pub const SYSTEM_SECRET: &[u8] = b"test-system-secret-0123456789abcdef";

/// Where every harness's clock starts: 2026-01-01T00:00:00Z.
pub fn start_time() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).expect("a valid timestamp")
}

/// One admin API on one durable and one short-lived backend, with a clock the test moves.
pub struct Harness {
    /// The backend pair, e.g. `postgres+redis`, for assertion messages.
    pub name: String,
    /// The admin API's revocations (cut-offs keyed with [`SYSTEM_SECRET`]).
    pub revocations: Revocations,
    pub durable: DurableBackend,
    pub short_lived: ShortLivedBackend,
    pub clock: Arc<ManualClock>,
    pub hasher: KeyedHasher,
    pub router: Router,
}

/// One harness per backend pair ([`crate::backend_pairs`]), with the default config.
pub async fn harnesses() -> Vec<Harness> {
    harnesses_with(AdminConfig::default()).await
}

/// One harness per backend pair with `config`.
pub async fn harnesses_with(config: AdminConfig) -> Vec<Harness> {
    crate::backend_pairs()
        .await
        .into_iter()
        .map(|pair| Harness::new(pair, config.clone()))
        .collect()
}

impl Harness {
    pub fn new(backends: BackendPair, config: AdminConfig) -> Self {
        let name = backends.name();
        let BackendPair {
            durable,
            short_lived,
        } = backends;
        let clock = Arc::new(ManualClock::new(start_time()));
        let hasher = client_secret_hasher(SYSTEM_SECRET);
        let revocations = Revocations::new(
            Arc::clone(&durable.store),
            Arc::clone(&short_lived.store),
            clock.clone(),
            SYSTEM_SECRET,
            std::time::Duration::from_secs(3600),
        );
        let state = AdminState::new(
            Arc::clone(&durable.store),
            revocations.clone(),
            clock.clone(),
            hasher.clone(),
            config,
        )
        .with_login_limits(LoginLimitsAccess {
            short_lived: Arc::clone(&short_lived.store),
            keys: KeyedHasher::new(SYSTEM_SECRET, gatehouse_core::lockout::KEY_PURPOSE),
            policy: gatehouse_core::lockout::LockoutPolicy::default(),
        });
        Self {
            name,
            revocations,
            durable,
            short_lived,
            clock,
            hasher,
            router: router(state),
        }
    }

    pub fn store(&self) -> &dyn DurableStore {
        self.durable.store.as_ref()
    }

    pub fn short(&self) -> &dyn ShortLivedStore {
        self.short_lived.store.as_ref()
    }

    /// One call; a JSON body is sent as `application/json`. The answer must be JSON (or empty).
    pub async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("a valid request"))
            .await
    }

    /// Sends a request as it is; the answer must be JSON (or empty).
    pub async fn send(&self, request: Request<Body>) -> Reply {
        send_json(&self.router, request).await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, None).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.call(Method::POST, uri, Some(body)).await
    }

    pub async fn put(&self, uri: &str, body: Value) -> Reply {
        self.call(Method::PUT, uri, Some(body)).await
    }

    pub async fn patch(&self, uri: &str, body: Value) -> Reply {
        self.call(Method::PATCH, uri, Some(body)).await
    }

    pub async fn delete(&self, uri: &str) -> Reply {
        self.call(Method::DELETE, uri, None).await
    }
}

/// Asserts an error answer's status and code, and that it describes itself, naming the backend
/// and the case on failure.
#[track_caller]
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str, context: &str) {
    assert_eq!(reply.status, status, "{context}: {:?}", reply.body);
    assert_eq!(reply.body["error"], code, "{context}: {:?}", reply.body);
    assert!(
        reply.body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{context}: {:?}",
        reply.body
    );
}
