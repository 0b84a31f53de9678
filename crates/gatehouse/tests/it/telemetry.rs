//! Traces and metrics of a running Gatehouse: an in-process OTLP receiver sees the login UI's
//! HTTP span and the token service's gRPC span in one trace, and `/metrics` counts a flow.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse_testkit::e2e::Server;
use gatehouse_testkit::http::get;

use crate::gatehouse;

/// Every span received: (trace id hex, span name, service name).
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<(String, String, String)>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .and_then(|a| a.value.as_ref())
                .map(|v| format!("{:?}", v.value))
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for span in scope.spans {
                    let trace_id: String =
                        span.trace_id.iter().map(|b| format!("{b:02x}")).collect();
                    spans.push((trace_id, span.name, service.clone()));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

async fn start_receiver() -> (Receiver, u16) {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let service = TraceServiceServer::new(receiver.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
    });
    (receiver, port)
}

fn register_public_client(server: &Server) -> String {
    server.admin_cli(
        &[
            "clients",
            "create",
            "--id",
            "traced",
            "--callbacks",
            "http://127.0.0.1:5555/callback",
            "--scope",
            "openid profile",
            "--token-endpoint-auth-method",
            "none",
        ],
        None,
    );
    format!(
        "http://127.0.0.1:{}/oauth2/auth?client_id=traced&response_type=code&scope=openid&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        server.public
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn one_authorization_is_one_trace_across_the_login_ui_and_the_token_service() {
    let (receiver, port) = start_receiver().await;
    let server = gatehouse()
        .server("all")
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .start();
    let authorize = register_public_client(&server);

    // The caller's own trace: every span of this request must join it.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = client
        .get(&authorize)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_redirection() || answer.status().is_success(),
        "{}",
        answer.status()
    );

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let spans = receiver.0.lock().unwrap().clone();
        let in_trace: Vec<_> = spans.iter().filter(|(t, _, _)| t == trace_id).collect();
        let http = in_trace
            .iter()
            .any(|(_, name, _)| name.starts_with("GET /oauth2/auth"));
        let grpc = in_trace
            .iter()
            .any(|(_, name, _)| name.contains("TokenService/ValidateAuthorizationRequest"));
        if http && grpc {
            let leaked = spans
                .iter()
                .any(|(_, name, _)| name.contains("gh_at_") || name.contains("gh_ac_"));
            assert!(!leaked, "no token in span names");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "spans of one trace from the login UI and the token service; got {spans:?}\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_token_requests_logins_and_grpc_calls() {
    let server = gatehouse().server("all").start();
    let stdout = server.admin_cli(
        &[
            "clients",
            "create",
            "--id",
            "metered",
            "--grant-types",
            "client_credentials",
            "--scope",
            "urn:x:read",
        ],
        None,
    );
    let secret = stdout
        .lines()
        .find_map(|l| l.strip_prefix("OAuth 2.0 Client Secret: "))
        .unwrap()
        .to_owned();
    let http = reqwest::Client::new();
    let token = Server::url(server.public, "/oauth2/token");
    let ok = http
        .post(&token)
        .basic_auth("metered", Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let refused = http
        .post(&token)
        .basic_auth("metered", Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    // The login UI validates over gRPC.
    let authorize = register_public_client(&server);
    let _ = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&authorize)
        .send()
        .await
        .unwrap();

    let (status, metrics) = get(&Server::url(server.admin, "/metrics")).await;
    assert_eq!(status, 200);
    for expected in [
        r#"gatehouse_tokens_issued_total{grant_type="client_credentials",client_id="metered"} 1"#,
        r#"gatehouse_token_requests_refused_total{grant_type="client_credentials",error="invalid_client"} 1"#,
        r#"route="/oauth2/token""#,
        "gatehouse_http_request_duration_seconds",
        r#"gatehouse_grpc_requests_total{method="/gatehouse.token.v1.TokenService/ValidateAuthorizationRequest",code="0"}"#,
        r#"gatehouse_store_operations_total{store="memory",operation="put",outcome="ok"}"#,
        r#"gatehouse_store_operation_duration_seconds"#,
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in\n{metrics}"
        );
    }
    assert!(!metrics.contains(&secret), "no secret in metrics");
}

/// Latencies are Prometheus histograms (buckets a fleet can aggregate with
/// `histogram_quantile`), not per-process summaries; the standard process metrics and the build
/// are there too, on every process's `/metrics`.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_aggregatable_histograms_with_process_and_build_info() {
    let server = gatehouse().server("all").start();
    // Traffic for each histogram: HTTP, gRPC (the login UI validating), the stores.
    let authorize = register_public_client(&server);
    let _ = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&authorize)
        .send()
        .await
        .unwrap();
    let (status, metrics) = get(&Server::url(server.admin, "/metrics")).await;
    assert_eq!(status, 200);
    for histogram in [
        "gatehouse_http_request_duration_seconds",
        "gatehouse_grpc_request_duration_seconds",
        "gatehouse_store_operation_duration_seconds",
    ] {
        assert!(
            metrics.contains(&format!("# TYPE {histogram} histogram")),
            "{histogram} is not a histogram:\n{metrics}"
        );
        let bucket = format!("{histogram}_bucket{{");
        let buckets: Vec<&str> = metrics.lines().filter(|l| l.starts_with(&bucket)).collect();
        assert!(
            buckets.iter().any(|l| l.contains("le=\"0.001\""))
                && buckets.iter().any(|l| l.contains("le=\"1\""))
                && buckets.iter().any(|l| l.contains("le=\"+Inf\"")),
            "{histogram}: sub-millisecond to seconds buckets:\n{}",
            buckets.join("\n")
        );
        assert!(
            !metrics
                .lines()
                .any(|l| l.starts_with(histogram) && l.contains("quantile=")),
            "{histogram} still has summary quantiles"
        );
    }
    for process in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            metrics.lines().any(|l| l.starts_with(process)),
            "missing {process}"
        );
    }
    let build = metrics
        .lines()
        .find(|l| l.starts_with("gatehouse_build_info{"))
        .unwrap_or_else(|| panic!("no gatehouse_build_info in\n{metrics}"));
    assert!(
        build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION")))
            && build.contains("git_sha=\"")
            && build.ends_with(" 1"),
        "{build}"
    );
}
