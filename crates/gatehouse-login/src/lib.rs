//! Gatehouse's login and consent web UI.
//!
//! It holds no signing key and mints nothing: every code and token comes from the token service,
//! which it reaches over gRPC only ([`TokenServiceClient`]), even when both run in one process.

use gatehouse_proto::token::v1::GetServerInfoRequest;
use gatehouse_proto::token::v1::token_service_client::TokenServiceClient as GeneratedClient;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// The login UI's handle on the token service.
#[derive(Debug, Clone)]
pub struct TokenServiceClient {
    inner: GeneratedClient<Channel>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenServiceError {
    #[error("invalid token service URL {0:?}")]
    InvalidUrl(String),
    #[error("token service unreachable: {0}")]
    Unreachable(String),
}

impl TokenServiceClient {
    /// Connects lazily: the first call opens the channel, and a lost connection is re-opened by
    /// the next call, so the UI survives a restart of the token service.
    pub fn connect_lazy(url: &str) -> Result<Self, TokenServiceError> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|_| TokenServiceError::InvalidUrl(url.to_owned()))?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        Ok(Self { inner: GeneratedClient::new(endpoint.connect_lazy()) })
    }

    /// The issuer the token service mints for; also the login UI's readiness probe.
    pub async fn issuer(&self) -> Result<String, TokenServiceError> {
        let mut client = self.inner.clone();
        let info = client
            .get_server_info(GetServerInfoRequest {})
            .await
            .map_err(|status| TokenServiceError::Unreachable(status.message().to_owned()))?;
        Ok(info.into_inner().issuer)
    }
}

/// The login UI's HTTP routes. Mounted on the public listener in `serve all` and on the login
/// listener in `serve login`.
pub fn router(token_service: TokenServiceClient) -> axum::Router {
    // The authorization endpoint, login, consent and account pages are mounted here as they land;
    // the client is kept in the router's state so each page reaches the token service over gRPC.
    axum::Router::new().with_state(token_service)
}
