//! Health endpoints with Hydra's paths, mounted on every HTTP listener of the process:
//! `/health/alive` (the process answers) and `/health/ready` (every store it depends on answers;
//! otherwise 503 naming what is down; 503 `draining` once a shutdown has begun).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use gatehouse_core::store::{DurableStore, ShortLivedStore};
use gatehouse_login::TokenServiceClient;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::shutdown::Shutdown;

/// How long one dependency may take to answer before it counts as down. Load balancers probe
/// often; a hung dependency must not hang the probe.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One thing readiness depends on.
#[derive(Clone)]
pub enum Dependency {
    Durable(Arc<dyn DurableStore>),
    ShortLived(Arc<dyn ShortLivedStore>),
    TokenService(Box<TokenServiceClient>),
}

impl Dependency {
    fn name(&self) -> &'static str {
        match self {
            Self::Durable(s) => s.backend(),
            Self::ShortLived(s) => s.backend(),
            Self::TokenService(_) => "token-service",
        }
    }

    async fn check(&self) -> Result<(), String> {
        let result = match self {
            Self::Durable(s) => tokio::time::timeout(CHECK_TIMEOUT, s.ping())
                .await
                .map(|r| r.map_err(|e| e.to_string())),
            Self::ShortLived(s) => tokio::time::timeout(CHECK_TIMEOUT, s.ping())
                .await
                .map(|r| r.map_err(|e| e.to_string())),
            // Reachable with our credentials, and ready by its own account (its stores).
            Self::TokenService(c) => {
                tokio::time::timeout(CHECK_TIMEOUT, async {
                    c.issuer().await.map_err(|e| e.to_string())?;
                    match c.serving().await {
                        Ok(true) => Ok(()),
                        Ok(false) => {
                            Err("the token service is not ready (its stores, or draining)"
                                .to_owned())
                        }
                        Err(e) => Err(e.to_string()),
                    }
                })
                .await
            }
        };
        result.unwrap_or_else(|_| Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())))
    }
}

/// Everything the process needs to serve; checked concurrently. Once a shutdown has begun the
/// answer is 503 `draining`, whatever the dependencies say.
#[derive(Clone)]
pub struct Readiness {
    dependencies: Vec<Dependency>,
    shutdown: Shutdown,
}

impl Readiness {
    pub fn new(dependencies: Vec<Dependency>, shutdown: Shutdown) -> Self {
        Self {
            dependencies,
            shutdown,
        }
    }

    /// Whether the process is shutting down.
    pub fn draining(&self) -> bool {
        self.shutdown.is_draining()
    }

    /// Names of the dependencies that are down, with why.
    pub async fn failures(&self) -> BTreeMap<&'static str, String> {
        let mut set = tokio::task::JoinSet::new();
        for dep in &self.dependencies {
            let dep = dep.clone();
            set.spawn(async move { (dep.name(), dep.check().await) });
        }
        let mut down = BTreeMap::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((name, Err(why))) => {
                    down.insert(name, why);
                }
                Ok((_, Ok(()))) => {}
                Err(e) => {
                    down.insert("health-check", e.to_string());
                }
            }
        }
        down
    }
}

pub fn router(readiness: Readiness) -> Router {
    Router::new()
        .route("/health/alive", get(alive))
        .route("/health/ready", get(ready))
        .with_state(readiness)
}

async fn alive() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(readiness): State<Readiness>) -> Response {
    if readiness.draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining" })),
        )
            .into_response();
    }
    let down = readiness.failures().await;
    if down.is_empty() {
        Json(json!({ "status": "ok" })).into_response()
    } else {
        tracing::warn!(?down, "readiness check failed");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "errors": down })),
        )
            .into_response()
    }
}
