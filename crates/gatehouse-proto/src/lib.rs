//! Gatehouse's gRPC contracts: the code generated from `proto/` (tonic + prost), and the mapping
//! between those messages and the domain types of `gatehouse-core` that the server
//! (`gatehouse-token`) and the client (`gatehouse-login`) share, so both sides agree by
//! construction.
//!
//! - [`status`]: OAuth errors ⇄ gRPC status codes with typed details, in one place.
//! - [`convert`]: authorization requests, scopes and consents ⇄ their messages.

pub mod convert;
mod redact;
pub mod status;

#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]
pub mod token {
    pub mod v1 {
        tonic::include_proto!("gatehouse.token.v1");
    }
}

/// The standard gRPC error model (`google.rpc.Status`), whose details carry an
/// [`token::v1::OAuthError`].
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]
pub mod google {
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

/// The encoded file descriptor set of every Gatehouse proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("gatehouse_descriptor");
