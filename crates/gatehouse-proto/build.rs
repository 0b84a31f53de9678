//! Compiles `proto/**/*.proto` with protox (a pure-Rust protobuf compiler), so a fresh machine
//! needs no system `protoc`.

use protox::prost::Message as _;
use std::env;
use std::path::PathBuf;

/// Messages that carry a password, a bearer token, a code or passkey material. Their `Debug` is written by hand
/// (`src/redact.rs`) and prints `[redacted]` instead, so a stray `{:?}` cannot leak them.
const REDACTED_DEBUG: [&str; 25] = [
    ".gatehouse.token.v1.AuthorizationParams",
    ".gatehouse.token.v1.AuthenticateUserRequest",
    ".gatehouse.token.v1.IssueAuthorizationCodeResponse",
    ".gatehouse.token.v1.IntrospectRequest",
    ".gatehouse.token.v1.RevokeRequest",
    ".gatehouse.token.v1.IssueAuthorizationCodeRequest",
    ".gatehouse.token.v1.ValidateLogoutRequestRequest",
    ".gatehouse.token.v1.LookupDeviceAuthorizationRequest",
    ".gatehouse.token.v1.CompleteDeviceAuthorizationRequest",
    ".gatehouse.token.v1.RevealClientSecretResponse",
    ".gatehouse.token.v1.RotateClientSecretResponse",
    ".gatehouse.token.v1.PutLogoRequest",
    ".gatehouse.token.v1.GetLogoResponse",
    ".gatehouse.token.v1.InspectAccountLinkRequest",
    ".gatehouse.token.v1.ResetPasswordRequest",
    ".gatehouse.token.v1.VerifyEmailRequest",
    ".gatehouse.token.v1.RegisterUserRequest",
    ".gatehouse.token.v1.BeginTotpEnrolmentResponse",
    ".gatehouse.token.v1.ConfirmTotpEnrolmentRequest",
    ".gatehouse.token.v1.ConfirmTotpEnrolmentResponse",
    ".gatehouse.token.v1.VerifySecondFactorRequest",
    ".gatehouse.token.v1.RegenerateRecoveryCodesResponse",
    ".gatehouse.token.v1.FinishPasskeyRegistrationRequest",
    ".gatehouse.token.v1.FinishPasskeyRegistrationResponse",
    ".gatehouse.token.v1.FinishPasskeyAuthenticationRequest",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        root.join("gatehouse/token/v1/token.proto"),
        root.join("google/rpc/status.proto"),
    ];
    let fds = protox::compile(&files, [&root])?;
    // protox does not write the descriptor set itself; reflection needs it.
    std::fs::write(
        PathBuf::from(env::var("OUT_DIR")?).join("gatehouse_descriptor.bin"),
        fds.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .skip_debug(REDACTED_DEBUG)
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
