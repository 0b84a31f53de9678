//! An admin router per backend combination, and a small client for it.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use gatehouse_core::ManualClock;
use gatehouse_core::registration::client_secret_hasher;
use gatehouse_core::secret::KeyedHasher;
use gatehouse_core::store::{DurableStore, ShortLivedStore};
use gatehouse_testkit::{DurableBackend, DurableKind, ShortLivedBackend, ShortLivedKind};
use gatehouse_token::admin::{AdminConfig, AdminState, router};
use gatehouse_token::revocation::Revocations;
use serde_json::Value;
use time::OffsetDateTime;
use tower::ServiceExt as _;

pub const SYSTEM_SECRET: &[u8] = b"test-system-secret-0123456789abcdef";

/// One admin API on one durable and one short-lived backend, with a clock the test moves.
pub struct Harness {
    pub name: String,
    /// The admin API's revocations (cut-offs keyed with [`SYSTEM_SECRET`]).
    pub revocations: Revocations,
    pub durable: DurableBackend,
    pub short_lived: ShortLivedBackend,
    pub clock: Arc<ManualClock>,
    pub hasher: KeyedHasher,
    pub router: Router,
}

/// The response of one call: status, headers and the JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub fn start_time() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap() // 2026-01-01T00:00:00Z
}

/// One harness per configured backend, with the default config. Every durable and every
/// short-lived backend appears at least once: they are paired (sqlite+memory, postgres+redis),
/// with an extra SQLite store when there are more short-lived backends than durable ones.
pub async fn harnesses() -> Vec<Harness> {
    harnesses_with(AdminConfig::default()).await
}

pub async fn harnesses_with(config: AdminConfig) -> Vec<Harness> {
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
        out.push(Harness::new(durable, short, config.clone()));
    }
    out
}

impl Harness {
    pub fn new(
        durable: DurableBackend,
        short_lived: ShortLivedBackend,
        config: AdminConfig,
    ) -> Self {
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
        );
        let name = format!("{}+{}", durable.name(), short_lived.name());
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

    pub async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(&json).unwrap())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        send(&self.router, request).await
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

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// Asserts an error answer's status and code, naming the backend and the case on failure.
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
