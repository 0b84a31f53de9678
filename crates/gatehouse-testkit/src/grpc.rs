//! The gRPC harness: a real token service on a backend pair, its tonic server (the token
//! service API for trusted callers, health and reflection, as the binary serves them) on a free
//! loopback port of the test's runtime, and clients for it.
//!
//! The login UI's client (`gatehouse_login::TokenServiceClient::connect_lazy(&server.url, None)`)
//! is built by the tests that use it, so this crate does not depend on the login UI.

use std::sync::Arc;

use gatehouse_core::SystemClock;
use gatehouse_proto::token::v1::token_service_client::TokenServiceClient as RawClient;
use gatehouse_proto::token::v1::token_service_server::TokenServiceServer;
use gatehouse_token::grpc::{Callers, TokenGrpc, reflection_service};
use gatehouse_token::{TokenService, TokenSettings};
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};

use crate::BackendPair;

/// A token service on one backend pair and its gRPC server; the server stops when this is
/// dropped.
pub struct TokenServer {
    /// The backend pair, e.g. `sqlite+memory`, for assertion messages.
    pub name: String,
    pub service: Arc<TokenService>,
    /// The system secret the service was started with.
    pub system_secret: String,
    /// `http://127.0.0.1:<port>` of the gRPC server.
    pub url: String,
    task: JoinHandle<()>,
    // Last, so the stores are released before the backends delete their databases.
    _backends: BackendPair,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for TokenServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenServer")
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl TokenServer {
    /// The durable backend under the service, for tests that reach the database directly.
    pub fn durable_backend(&self) -> &crate::DurableBackend {
        &self._backends.durable
    }

    /// Starts a token service with `settings` on `backends` (the system clock, `system_secret`)
    /// and serves it. Seed the durable store first: the service reads the signing keys and
    /// catalogue as it starts.
    pub async fn start(
        backends: BackendPair,
        settings: TokenSettings,
        system_secret: String,
    ) -> Self {
        let name = backends.name();
        let service = TokenService::start(
            settings,
            Arc::clone(&backends.durable.store),
            Arc::clone(&backends.short_lived.store),
            Arc::new(SystemClock),
            &[system_secret.as_bytes()],
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: starting the token service: {e}"));
        let service = Arc::new(service);
        let (url, task) = serve(Arc::clone(&service)).await;
        Self {
            name,
            service,
            system_secret,
            url,
            task,
            _backends: backends,
        }
    }

    /// A connected channel to the server.
    pub async fn channel(&self) -> Channel {
        Endpoint::from_shared(self.url.clone())
            .expect("a valid URL")
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{}: connecting to {}: {e}", self.name, self.url))
    }

    /// The generated client, for tests whose subject is the wire itself.
    pub async fn raw_client(&self) -> RawClient<Channel> {
        RawClient::new(self.channel().await)
    }
}

/// Serves `service`'s gRPC API (trusted callers), health (`SERVING`) and reflection on a free
/// loopback port of the current runtime; returns the server's URL and its task.
pub async fn serve(service: Arc<TokenService>) -> (String, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<TokenServiceServer<TokenGrpc>>()
        .await;
    let router = Server::builder()
        .add_service(health)
        .add_service(reflection_service().expect("the reflection service"))
        .add_service(TokenGrpc::new(service).into_server(Callers::TrustedLink));
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
            .expect("serving gRPC");
    });
    (url, task)
}
