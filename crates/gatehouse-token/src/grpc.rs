//! The gRPC server of the token service (`gatehouse.token.v1.TokenService`).

use gatehouse_proto::token::v1::token_service_server::{TokenService, TokenServiceServer};
use gatehouse_proto::token::v1::{GetServerInfoRequest, GetServerInfoResponse};
use tonic::{Request, Response, Status};

/// Implementation of the token service's gRPC contract.
#[derive(Debug, Clone)]
pub struct TokenGrpc {
    issuer: String,
}

impl TokenGrpc {
    pub fn new(issuer: impl Into<String>) -> Self {
        Self { issuer: issuer.into() }
    }

    pub fn into_server(self) -> TokenServiceServer<Self> {
        TokenServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl TokenService for TokenGrpc {
    async fn get_server_info(&self, _request: Request<GetServerInfoRequest>) -> Result<Response<GetServerInfoResponse>, Status> {
        Ok(Response::new(GetServerInfoResponse { issuer: self.issuer.clone(), version: env!("CARGO_PKG_VERSION").to_owned() }))
    }
}
