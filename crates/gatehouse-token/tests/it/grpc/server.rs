//! `GetServerInfo`, and the health and reflection services beside the token service on its
//! listener.

use super::{ISSUER, servers};

#[tokio::test]
async fn server_info_names_the_issuer() {
    for g in servers().await {
        assert_eq!(g.client.issuer().await.unwrap(), ISSUER, "{}", g.name);
    }
}

#[tokio::test]
async fn health_and_reflection_describe_the_listener() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

    for g in servers().await {
        let channel = g.server.channel().await;
        let mut health = HealthClient::new(channel.clone());
        let name = "gatehouse.token.v1.TokenService";
        let answer = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: name.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.status, ServingStatus::Serving as i32, "{}", g.name);

        let mut reflection = ServerReflectionClient::new(channel);
        let ask = |message| ServerReflectionRequest {
            host: String::new(),
            message_request: Some(message),
        };
        let requests = vec![
            ask(MessageRequest::ListServices(String::new())),
            ask(MessageRequest::FileContainingSymbol(name.into())),
        ];
        let mut answers = reflection
            .server_reflection_info(tonic::codegen::tokio_stream::iter(requests))
            .await
            .unwrap()
            .into_inner();
        let Some(ServerReflectionResponse {
            message_response: Some(MessageResponse::ListServicesResponse(list)),
            ..
        }) = answers.message().await.unwrap()
        else {
            panic!("{}: no service list", g.name)
        };
        let services: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
        for expected in [
            name,
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
        ] {
            assert!(
                services.contains(&expected),
                "{}: {expected} missing from {services:?}",
                g.name
            );
        }
        let Some(ServerReflectionResponse {
            message_response: Some(MessageResponse::FileDescriptorResponse(files)),
            ..
        }) = answers.message().await.unwrap()
        else {
            panic!("{}: no file descriptor for {name}", g.name)
        };
        assert!(!files.file_descriptor_proto.is_empty());
    }
}
