//! Code generated from `proto/` (tonic + prost). Nothing hand-written lives here.

#![allow(clippy::all, clippy::pedantic, clippy::unwrap_used, clippy::expect_used)]

pub mod token {
    pub mod v1 {
        tonic::include_proto!("gatehouse.token.v1");
    }
}

/// The encoded file descriptor set of every Gatehouse proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("gatehouse_descriptor");
