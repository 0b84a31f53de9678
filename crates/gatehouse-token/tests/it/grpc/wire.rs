//! What every RPC shares on the wire: errors travel as gRPC status codes with the OAuth error in
//! the standard details, and deadlines hold on the server and on the login UI's client.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::error::ErrorCode;
use gatehouse_core::secret::SecretString;
use gatehouse_login::SignIn;
use gatehouse_proto::status::{OAUTH_ERROR_TYPE_URL, oauth_from_status};
use gatehouse_proto::token::v1 as pb;
use gatehouse_token::grpc::{Callers, TokenGrpc};
use prost::Message as _;
use tonic::Code;

use super::{ALICE, ALICE_PASSWORD, cli_params, servers};

#[tokio::test]
async fn errors_travel_as_status_codes_with_oauth_details() {
    for g in servers().await {
        let mut raw = g.raw().await;
        let mut params = pb::AuthorizationParams::from(&cli_params("openid"));
        params.client_id = Some("no-such-client".into());
        let status = raw
            .validate_authorization_request(pb::ValidateAuthorizationRequestRequest {
                params: Some(params),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{}", g.name);
        let detail = oauth_from_status(&status);
        assert_eq!(
            (detail.error.as_str(), detail.redirectable),
            ("invalid_client", false)
        );
        assert_eq!(status.message(), detail.error_description);

        let params = pb::AuthorizationParams::from(&cli_params("openid admin"));
        let status = raw
            .validate_authorization_request(pb::ValidateAuthorizationRequestRequest {
                params: Some(params),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{}", g.name);
        assert_eq!(
            oauth_from_status(&status),
            pb::OAuthError {
                error: "invalid_scope".into(),
                error_description: "this client may not ask for these scopes: admin".into(),
                redirectable: true,
                redirect_uri: "http://127.0.0.1:5555/callback".into(),
                state: "xyz".into(),
            }
        );
        // The details are the standard google.rpc.Status, readable by any gRPC client.
        let rpc = gatehouse_proto::google::rpc::Status::decode(status.details()).unwrap();
        assert_eq!(rpc.code, Code::InvalidArgument as i32);
        assert_eq!(rpc.details[0].type_url, OAUTH_ERROR_TYPE_URL);

        let status = raw
            .get_user(pb::GetUserRequest {
                id: "user-nobody".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (status.code(), oauth_from_status(&status).error.as_str()),
            (Code::NotFound, "not_found"),
            "{}",
            g.name
        );

        let status = raw
            .issue_authorization_code(pb::IssueAuthorizationCodeRequest {
                subject: ALICE.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            (status.code(), oauth_from_status(&status).error.as_str()),
            (Code::InvalidArgument, "invalid_request")
        );
    }
}

/// A gRPC request frame as it travels: uncompressed flag, big-endian length, message.
fn grpc_frame(message: &impl prost::Message) -> Vec<u8> {
    let bytes = message.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend(u32::try_from(bytes.len()).unwrap().to_be_bytes());
    frame.extend(bytes);
    frame
}

#[tokio::test]
async fn the_server_stops_a_call_at_its_deadline_with_deadline_exceeded() {
    use tower::ServiceExt as _;

    for g in servers().await {
        // Straight to the service, so no client-side timer can answer first: an argon2
        // verification takes tens of milliseconds, the caller gave 5.
        let message = pb::AuthenticateUserRequest {
            username: "alice".into(),
            password: ALICE_PASSWORD.into(),
            client_ip: None,
        };
        let request = |timeout: &str| {
            axum::http::Request::builder()
                .method("POST")
                .uri("/gatehouse.token.v1.TokenService/AuthenticateUser")
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .header("grpc-timeout", timeout)
                .body(tonic::body::Body::new(axum::body::Body::from(grpc_frame(
                    &message,
                ))))
                .unwrap()
        };
        let server = TokenGrpc::new(Arc::clone(&g.service)).into_server(Callers::TrustedLink);
        let started = std::time::Instant::now();
        let response = server.clone().oneshot(request("5m")).await.unwrap();
        let status = tonic::Status::from_header_map(response.headers())
            .unwrap_or_else(|| panic!("{}: no grpc-status", g.name));
        assert_eq!(
            status.code(),
            Code::DeadlineExceeded,
            "{}: {status:?}",
            g.name
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{}: the call ran on",
            g.name
        );

        // With time enough, the same call succeeds (status in the trailers, not the headers).
        let response = server.oneshot(request("10S")).await.unwrap();
        assert!(
            tonic::Status::from_header_map(response.headers()).is_none(),
            "{}",
            g.name
        );
    }
}

#[tokio::test]
async fn the_login_client_gives_up_at_its_deadline_and_reads_it_as_retry_later() {
    for g in servers().await {
        let hasty = g.client.clone().with_deadline(Duration::from_millis(1));
        let e = hasty
            .authenticate_user("alice", &SecretString::new(ALICE_PASSWORD), "198.51.100.1")
            .await
            .unwrap_err();
        assert_eq!(
            e.code,
            ErrorCode::TemporarilyUnavailable,
            "{}: {e:?}",
            g.name
        );
        assert!(
            e.description.contains("Deadline expired"),
            "{}: {e:?}",
            g.name
        );
        assert_eq!(g.client.deadline(), gatehouse_login::DEFAULT_DEADLINE);
        assert!(
            matches!(
                g.client
                    .authenticate_user("alice", &SecretString::new(ALICE_PASSWORD), "198.51.100.1")
                    .await
                    .unwrap(),
                SignIn::Authenticated(..)
            ),
            "{}",
            g.name
        );
    }
}
