//! Logs, traces and metrics.
//!
//! - Logs through `tracing`: filter from `GATEHOUSE_LOG` (or `RUST_LOG`), human or JSON lines.
//! - Traces over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces-specific variable) is
//!   set, with the standard `OTEL_*` variables (service name, resource attributes); off otherwise.
//!   The W3C trace context is read from incoming HTTP and gRPC requests and written into the
//!   login UI's gRPC calls, so one authorization is one trace across both services.
//! - Prometheus metrics, rendered at `/metrics` on the admin listener.
//!
//! Nothing that is logged or put on a span may contain a secret, password, code or token:
//! handlers record client ids and outcomes, never request bodies or credentials.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderMap;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, OnceLock, PoisonError, RwLock};
use std::time::Instant;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Flushes pending spans when dropped at process exit.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("warning: flushing traces failed: {e}");
        }
    }
}

/// Whether the standard OTLP variables ask for trace export.
fn otlp_configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|k| std::env::var(k).is_ok_and(|v| !v.trim().is_empty()))
        && std::env::var("OTEL_SDK_DISABLED")
            .map(|v| v != "true")
            .unwrap_or(true)
}

/// The crates that would log passkey material below info (see [`init`]).
const PASSKEY_LIBRARIES: [&str; 2] = ["webauthn_rs", "webauthn_rs_core"];

/// Sets up logging, and trace export when configured. Must run inside the tokio runtime (the
/// OTLP exporter is a tonic client). `service` names this process when `OTEL_SERVICE_NAME`
/// does not.
pub fn init(filter: Option<&str>, format: LogFormat, service: &'static str) -> TelemetryGuard {
    use std::io::IsTerminal as _;
    let mut filter = EnvFilter::try_new(filter.unwrap_or("info")).unwrap_or_else(|e| {
        eprintln!("warning: ignoring invalid log filter ({e}); using \"info\"");
        EnvFilter::new("info")
    });
    // webauthn-rs prints whole registrations, assertions and credentials (public keys, client
    // data, attestation) at debug and trace: capped at info whatever the filter says, so turning
    // the log up never writes passkey material. (An added directive replaces the filter's own
    // for the same target.)
    for quiet in PASSKEY_LIBRARIES {
        if let Ok(directive) = format!("{quiet}=info").parse() {
            filter = filter.add_directive(directive);
        }
    }
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let fmt: Box<dyn Layer<_> + Send + Sync> = match format {
        LogFormat::Human => fmt.boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
    };
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = otlp_configured().then(|| build_provider(service)).flatten();
    TRACE_EXPORT.store(provider.is_some(), Ordering::Relaxed);
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("gatehouse")));
    // A second init (tests running several commands in one process) is harmless; ignore it.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init();
    TelemetryGuard { provider }
}

fn build_provider(service: &'static str) -> Option<SdkTracerProvider> {
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("warning: trace export disabled: {e}");
            return None;
        }
    };
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name(service);
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    Some(provider)
}

/// How often recorded histogram samples are folded into their summaries.
const METRICS_UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The Prometheus recorder of this process, installed on first use, with its upkeep thread.
///
/// A recorder installed with `install_recorder` keeps every histogram sample in a buffer until
/// `run_upkeep` (or a scrape) drains it. Unscraped, that buffer grew by every request's durations
/// (about 2 MB a minute at 600 requests/s in the soak), so a thread of its own drains it, whatever
/// runtime the caller is on.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(
            || match recorder().and_then(PrometheusBuilder::install_recorder) {
                Ok(handle) => {
                    process_metrics().describe();
                    metrics::gauge!(
                        "gatehouse_build_info",
                        "version" => env!("CARGO_PKG_VERSION"),
                        "git_sha" => env!("BUILD_GIT_SHA")
                    )
                    .set(1.0);
                    let upkept = handle.clone();
                    let spawned = std::thread::Builder::new()
                        .name("metrics-upkeep".into())
                        .spawn(move || {
                            loop {
                                std::thread::sleep(METRICS_UPKEEP_EVERY);
                                upkept.run_upkeep();
                            }
                        });
                    if let Err(e) = spawned {
                        tracing::warn!(error = %e, "metrics upkeep thread not started");
                    }
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            },
        )
        .as_ref()
}

/// Buckets of request latencies (HTTP and gRPC): half a millisecond to ten seconds.
const REQUEST_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of store operations: a tenth of a millisecond (Redis on loopback) to seconds.
const STORE_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Latencies as histograms, not summaries: per-process quantiles cannot be combined across
/// replicas, bucket counts can (`histogram_quantile` over a fleet).
fn recorder() -> Result<PrometheusBuilder, metrics_exporter_prometheus::BuildError> {
    use metrics_exporter_prometheus::Matcher;
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("gatehouse_http_request_duration_seconds".into()),
            &REQUEST_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full("gatehouse_grpc_request_duration_seconds".into()),
            &REQUEST_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full("gatehouse_store_operation_duration_seconds".into()),
            &STORE_BUCKETS,
        )
}

/// The standard `process_*` metrics (CPU seconds, resident memory, open file descriptors, start
/// time…), read when `/metrics` is scraped.
fn process_metrics() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// `GET /metrics` in the Prometheus text format.
pub async fn metrics_endpoint() -> Response {
    let body = prometheus()
        .map(|handle| {
            process_metrics().collect();
            handle.render()
        })
        .unwrap_or_default();
    Response::builder()
        .header("content-type", "text/plain; version=0.0.4")
        .body(axum::body::Body::from(body))
        .unwrap_or_default()
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Writes the current span's trace context into gRPC metadata.
struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(&value),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// The hook the login UI's gRPC client runs on every call: it carries the trace context.
pub fn trace_context_hook() -> gatehouse_login::MetadataHook {
    gatehouse_login::MetadataHook(std::sync::Arc::new(|metadata| {
        let cx = tracing::Span::current().context();
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&cx, &mut MetadataInjector(metadata))
        });
    }))
}

/// A span per HTTP request, continuing the caller's trace when it sent one, plus request
/// metrics by listener, route template, method and status.
///
/// This runs on every request, including the cached discovery and JWKS documents, where it used
/// to be the largest cost (callgrind: a quarter of a discovery request in span field formatting,
/// a fifth in allocating and registering metric labels). So labels are `&'static str` and the
/// metric handles are looked up once per label set ([`HttpMetrics::get`]), and the span is at
/// `info` (continuing the caller's trace) only when traces are exported; otherwise it is a
/// `debug` span, there for `GATEHOUSE_LOG=debug`.
pub async fn http_layer(listener: &'static str, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| intern_route(p.as_str()));
    let method = method_label(request.method());
    let span = if TRACE_EXPORT.load(Ordering::Relaxed) {
        let span = tracing::info_span!("http", otel.name = %format!("{method} {route}"), http.route = %route, http.method = %method, http.status = tracing::field::Empty, listener);
        continue_trace(span, request.headers())
    } else {
        // Without trace export the span only gives log lines their request context; at the
        // default level it is disabled and costs nothing.
        tracing::debug_span!("http", http.route = %route, http.method = %method, http.status = tracing::field::Empty, listener)
    };
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.status", status);
    let metrics = HttpMetrics::get(listener, route, method, status);
    metrics.requests.increment(1);
    metrics.duration.record(started.elapsed().as_secs_f64());
    response
}

/// Makes `span` a child of the W3C trace context the caller sent, if any.
fn continue_trace(span: tracing::Span, headers: &HeaderMap) -> tracing::Span {
    let parent =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    let _ = span.set_parent(parent);
    span
}

/// Whether spans are exported over OTLP (set once by [`init`]).
static TRACE_EXPORT: AtomicBool = AtomicBool::new(false);

/// The metric handles of one (listener, route, method, status).
#[derive(Clone)]
struct HttpMetrics {
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

type HttpMetricsKey = (&'static str, &'static str, &'static str, u16);

impl HttpMetrics {
    /// The handles for this label set, registered with the recorder on first use. The set is
    /// bounded: listeners and methods are fixed, routes are the router's templates, statuses
    /// are three digits.
    fn get(listener: &'static str, route: &'static str, method: &'static str, status: u16) -> Self {
        static CACHE: LazyLock<RwLock<HashMap<HttpMetricsKey, HttpMetrics>>> =
            LazyLock::new(RwLock::default);
        let key = (listener, route, method, status);
        if let Some(found) = CACHE
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return found.clone();
        }
        let status = status_label(status);
        let handles = Self {
            requests: metrics::counter!("gatehouse_http_requests_total", "listener" => listener, "route" => route, "method" => method, "status" => status),
            duration: metrics::histogram!("gatehouse_http_request_duration_seconds", "listener" => listener, "route" => route, "method" => method),
        };
        CACHE
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_insert(handles)
            .clone()
    }
}

/// The route template as a `&'static str`. Templates come from the routers (a few dozen), so
/// the leaked strings are bounded and allocated once each.
fn intern_route(route: &str) -> &'static str {
    static ROUTES: LazyLock<RwLock<HashSet<&'static str>>> = LazyLock::new(RwLock::default);
    if let Some(found) = ROUTES
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(route)
    {
        return found;
    }
    let mut routes = ROUTES.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = routes.get(route) {
        return found;
    }
    let leaked: &'static str = Box::leak(route.into());
    routes.insert(leaked);
    leaked
}

/// The method as a label; extension methods share one label so a client cannot grow the
/// metric set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The status code's three digits as a `&'static str`.
fn status_label(status: u16) -> &'static str {
    static LABELS: LazyLock<Vec<String>> =
        LazyLock::new(|| (100..1000).map(|code: u16| code.to_string()).collect());
    status
        .checked_sub(100)
        .and_then(|i| LABELS.get(usize::from(i)))
        .map_or("other", String::as_str)
}

/// The gRPC server's per-call span (continuing the login UI's trace) and call metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcTelemetryLayer;

impl<S> tower::Layer<S> for GrpcTelemetryLayer {
    type Service = GrpcTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcTelemetry { inner }
    }
}

#[derive(Clone, Debug)]
pub struct GrpcTelemetry<S> {
    inner: S,
}

impl<S, B, RB> tower::Service<axum::http::Request<B>> for GrpcTelemetry<S>
where
    S: tower::Service<axum::http::Request<B>, Response = axum::http::Response<RB>> + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        // As for HTTP: an exported `info` span continuing the caller's trace, or a `debug` one.
        let span = if TRACE_EXPORT.load(Ordering::Relaxed) {
            let span = tracing::info_span!("grpc", otel.name = %method, rpc.system = "grpc", rpc.method = %method, rpc.grpc.status_code = tracing::field::Empty);
            continue_trace(span, request.headers())
        } else {
            tracing::debug_span!("grpc", rpc.method = %method, rpc.grpc.status_code = tracing::field::Empty)
        };
        let started = Instant::now();
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(
            async move {
                let result = future.await;
                // A unary error answer is trailers-only, so its grpc-status is in the headers; a
                // success carries it in the trailers, which this layer does not wait for.
                let code = match &result {
                    Ok(response) => response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("0")
                        .to_owned(),
                    Err(_) => "transport".to_owned(),
                };
                tracing::Span::current().record("rpc.grpc.status_code", code.as_str());
                let labels = [("method", method), ("code", code)];
                metrics::counter!("gatehouse_grpc_requests_total", &labels).increment(1);
                metrics::histogram!("gatehouse_grpc_request_duration_seconds", &labels[..1])
                    .record(started.elapsed().as_secs_f64());
                result
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded_and_exact() {
        assert_eq!(status_label(200), "200");
        assert_eq!(status_label(431), "431");
        assert_eq!(status_label(999), "999");
        assert_eq!(status_label(99), "other");
        assert_eq!(method_label(&Method::POST), "POST");
        let custom = Method::from_bytes(b"BREW").map(|m| method_label(&m));
        assert_eq!(custom.ok(), Some("other"));
        let first = intern_route("/oauth2/token");
        let second = intern_route(&String::from("/oauth2/token"));
        assert_eq!(first, "/oauth2/token");
        assert!(std::ptr::eq(first, second), "one allocation per template");
    }
}
