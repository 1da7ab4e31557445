//! Prometheus metrics: the process-wide recorder, its text exposition, and the gRPC layer that
//! counts and times every call.
//!
//! [`install`] sets the global [`metrics`] recorder once per process; services record with the
//! `metrics::counter!` macros anywhere, and [`render`] gives the text an admin port's `/metrics`
//! serves. [`GrpcMetricsLayer`] records, per RPC:
//!
//! - `tica_grpc_server_requests_total{service,method,code}`: finished calls by gRPC status
//!   (`OK`, `INVALID_ARGUMENT`, …; a call the client abandoned counts as `CANCELLED`);
//! - `tica_grpc_server_request_duration_seconds{service,method}`: time to the end of the
//!   response stream;
//! - `tica_grpc_server_in_flight{service,method}`: calls started and not finished.
//!
//! Labels stay bounded: `service` and `method` are names from the compiled contracts (health,
//! reflection and `tica-proto`) of services the server hosts; any other path counts as
//! `unknown`, so a client cannot mint label values. Nothing personal is ever a label.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use prost::Message as _;

use crate::http_errors::CODE_NAMES;

/// Finished calls, by service, method and gRPC status code name.
pub const REQUESTS_TOTAL: &str = "tica_grpc_server_requests_total";
/// Seconds from a call's arrival to the end of its response stream.
pub const REQUEST_DURATION_SECONDS: &str = "tica_grpc_server_request_duration_seconds";
/// Calls started and not yet finished.
pub const IN_FLIGHT: &str = "tica_grpc_server_in_flight";
/// Requests and connections refused at the public edge (`crate::edge`), by `front` (`http`,
/// `grpc`) and `reason`.
pub const EDGE_REFUSED_TOTAL: &str = "tica_edge_refused_total";

/// The content type of [`render`]'s text: the Prometheus text exposition format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The label value for a path that is not a method of a hosted service.
pub const UNKNOWN: &str = "unknown";

/// Histogram buckets for every `…_seconds` metric: 1 ms to 30 s (a health check to a county's
/// issuance chunk).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Histograms buffer their samples until drained: drain at least this often even when nobody
/// scrapes, so memory stays flat.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder; later calls do nothing.
///
/// Safe to call from many servers and tests in one process. If some other recorder was
/// installed first, it keeps receiving the metrics and [`render`] shows none (logged once).
pub fn install() {
    handle();
}

/// The Prometheus text exposition (format 0.0.4) of every metric recorded in this process,
/// installing the recorder first if needed.
pub fn render() -> String {
    let handle = handle();
    // Publishes descriptions and drains histogram samples recorded since the last upkeep.
    handle.run_upkeep();
    handle.render()
}

fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
            .expect("the latency buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder was installed first: /metrics stays empty");
        }
        describe();
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "no metrics upkeep thread: histograms drain only on scrapes");
        }
        handle
    })
}

fn describe() {
    metrics::describe_counter!(
        REQUESTS_TOTAL,
        "gRPC calls finished, by service, method and status code"
    );
    metrics::describe_histogram!(
        REQUEST_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "time from a gRPC call's arrival to the end of its response stream"
    );
    metrics::describe_gauge!(IN_FLIGHT, "gRPC calls started and not yet finished");
    metrics::describe_counter!(
        EDGE_REFUSED_TOTAL,
        "requests and connections the public edge refused, by front and reason"
    );
}

const CODE_CANCELLED: usize = 1;
const CODE_UNKNOWN: usize = 2;

/// A `grpc-status` value as an index into [`CODE_NAMES`]; anything unreadable is `UNKNOWN`.
fn code_index(value: Option<&http::HeaderValue>) -> usize {
    value
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&code| code < CODE_NAMES.len())
        .unwrap_or(CODE_UNKNOWN)
}

/// Every gRPC service and method of the contracts compiled into this binary, each with its
/// metric handles, registered on first use (so a method never called has no series).
#[derive(Debug)]
struct Catalogue {
    services: Vec<ServiceEntry>,
    /// Paths that name no hosted service.
    unknown: MethodEntry,
}

#[derive(Debug)]
struct ServiceEntry {
    name: String,
    /// Sorted by name.
    methods: Vec<MethodEntry>,
    /// Paths of this service that name no method of it.
    unknown: MethodEntry,
}

#[derive(Debug)]
struct MethodEntry {
    name: String,
    handles: OnceLock<Handles>,
}

impl MethodEntry {
    fn new(name: String) -> MethodEntry {
        MethodEntry {
            name,
            handles: OnceLock::new(),
        }
    }
}

/// One method's metric handles: recording through them allocates nothing.
#[derive(Debug)]
struct Handles {
    service: &'static str,
    method: &'static str,
    in_flight: Gauge,
    duration: Histogram,
    /// One counter per status code, registered when that code first happens.
    finished: [OnceLock<Counter>; 17],
}

impl Handles {
    fn new(service: &'static str, method: &'static str) -> Handles {
        Handles {
            service,
            method,
            in_flight: metrics::gauge!(IN_FLIGHT, "service" => service, "method" => method),
            duration: metrics::histogram!(
                REQUEST_DURATION_SECONDS,
                "service" => service,
                "method" => method
            ),
            finished: Default::default(),
        }
    }

    fn finished(&self, code: usize) -> &Counter {
        self.finished[code].get_or_init(|| {
            metrics::counter!(
                REQUESTS_TOTAL,
                "service" => self.service,
                "method" => self.method,
                "code" => CODE_NAMES[code]
            )
        })
    }
}

static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();

fn catalogue() -> &'static Catalogue {
    CATALOGUE.get_or_init(|| {
        let sets: [&[u8]; 4] = [
            tica_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ];
        let mut services = Vec::new();
        for set in sets {
            let set = prost_types::FileDescriptorSet::decode(set)
                .expect("the descriptor sets compiled into this binary are valid");
            for file in set.file {
                let package = file.package();
                for service in &file.service {
                    let name = match package {
                        "" => service.name().to_owned(),
                        package => format!("{package}.{}", service.name()),
                    };
                    let mut methods: Vec<MethodEntry> = service
                        .method
                        .iter()
                        .map(|m| MethodEntry::new(m.name().to_owned()))
                        .collect();
                    methods.sort_by(|a, b| a.name.cmp(&b.name));
                    services.push(ServiceEntry {
                        name,
                        methods,
                        unknown: MethodEntry::new(UNKNOWN.to_owned()),
                    });
                }
            }
        }
        Catalogue {
            services,
            unknown: MethodEntry::new(UNKNOWN.to_owned()),
        }
    })
}

/// The services every [`crate::GrpcServer`] hosts besides its own.
const STANDARD_SERVICES: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// The tower layer recording every gRPC call's count, duration and status (see the module
/// docs for the metrics).
#[derive(Clone, Debug)]
pub struct GrpcMetricsLayer {
    hosted: Arc<[&'static ServiceEntry]>,
}

impl GrpcMetricsLayer {
    /// A layer for a server hosting `services` (full names such as `tica.roster.v1.RosterService`)
    /// plus health checking and reflection, which are always counted. Installs the recorder.
    ///
    /// A call to any other service counts under `service="unknown"`, and a call to a method its
    /// service's contract lacks under `method="unknown"`. A name missing from the contracts
    /// compiled into this binary cannot be labelled: its calls count as `unknown` too.
    pub fn new<'a>(services: impl IntoIterator<Item = &'a str>) -> GrpcMetricsLayer {
        install();
        let catalogue = catalogue();
        let mut hosted: Vec<&'static ServiceEntry> = Vec::new();
        for name in services.into_iter().chain(STANDARD_SERVICES) {
            match catalogue.services.iter().find(|s| s.name == name) {
                Some(entry) if !hosted.iter().any(|h| h.name == name) => hosted.push(entry),
                Some(_) => {}
                None => tracing::warn!(
                    service = name,
                    "not in the compiled contracts: its calls count as unknown"
                ),
            }
        }
        GrpcMetricsLayer {
            hosted: hosted.into(),
        }
    }
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetricsService<S>;

    fn layer(&self, inner: S) -> GrpcMetricsService<S> {
        GrpcMetricsService {
            inner,
            hosted: self.hosted.clone(),
        }
    }
}

/// The service [`GrpcMetricsLayer`] wraps around a gRPC router.
#[derive(Clone, Debug)]
pub struct GrpcMetricsService<S> {
    inner: S,
    hosted: Arc<[&'static ServiceEntry]>,
}

impl<S> GrpcMetricsService<S> {
    /// The handles for `path` (`/package.Service/Method`): only exact names of hosted services
    /// and their contracts' methods become labels.
    fn handles(&self, path: &str) -> &'static Handles {
        let catalogue = catalogue();
        let hosted = path
            .strip_prefix('/')
            .and_then(|p| p.split_once('/'))
            .and_then(|(service, method)| {
                let entry: &'static ServiceEntry =
                    self.hosted.iter().find(|s| s.name == service).copied()?;
                Some((entry, method))
            });
        let (service, entry) = match hosted {
            Some((service, method)) => {
                let entry = match service
                    .methods
                    .binary_search_by(|m| m.name.as_str().cmp(method))
                {
                    Ok(i) => &service.methods[i],
                    Err(_) => &service.unknown,
                };
                (service.name.as_str(), entry)
            }
            None => (UNKNOWN, &catalogue.unknown),
        };
        entry
            .handles
            .get_or_init(|| Handles::new(service, entry.name.as_str()))
    }
}

impl<S, B> tower::Service<http::Request<B>> for GrpcMetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Unpin,
{
    type Response = http::Response<MetricsBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let call = Call::start(self.handles(request.uri().path()));
        ResponseFuture {
            inner: self.inner.call(request),
            call,
        }
    }
}

/// A call being measured: recorded once, when it finishes, or as `CANCELLED` when dropped
/// before (the client went away, so the server dropped the handler or the response body).
#[derive(Debug, Default)]
struct Call {
    started: Option<(&'static Handles, Instant)>,
}

impl Call {
    fn start(handles: &'static Handles) -> Call {
        handles.in_flight.increment(1.0);
        Call {
            started: Some((handles, Instant::now())),
        }
    }

    fn finish(&mut self, code: usize) {
        if let Some((handles, started)) = self.started.take() {
            handles.in_flight.decrement(1.0);
            handles.duration.record(started.elapsed().as_secs_f64());
            handles.finished(code).increment(1);
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.finish(CODE_CANCELLED);
    }
}

/// The response future of [`GrpcMetricsService`].
#[derive(Debug)]
pub struct ResponseFuture<F> {
    inner: F,
    call: Call,
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<tonic::body::Body>, E>> + Unpin,
{
    type Output = Result<http::Response<MetricsBody>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let response = ready!(Pin::new(&mut this.inner).poll(cx));
        let mut call = std::mem::take(&mut this.call);
        Poll::Ready(match response {
            Ok(response) => {
                // A trailers-only response (an error before any message) is complete here.
                if let Some(status) = response.headers().get("grpc-status") {
                    call.finish(code_index(Some(status)));
                }
                Ok(response.map(|inner| MetricsBody { inner, call }))
            }
            Err(error) => {
                call.finish(CODE_UNKNOWN);
                Err(error)
            }
        })
    }
}

/// A response body that records its call when the trailers (the status) go out.
#[derive(Debug)]
pub struct MetricsBody {
    inner: tonic::body::Body,
    call: Call,
}

impl http_body::Body for MetricsBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.call.finish(code_index(trailers.get("grpc-status")));
                }
            }
            Poll::Ready(Some(Err(status))) => {
                this.call.finish(code_index_of(status.code()));
            }
            // The stream ended without a status: what a client reads as UNKNOWN.
            Poll::Ready(None) => this.call.finish(CODE_UNKNOWN),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn code_index_of(code: tonic::Code) -> usize {
    usize::try_from(i32::from(code))
        .ok()
        .filter(|&code| code < CODE_NAMES.len())
        .unwrap_or(CODE_UNKNOWN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_values_map_to_their_names_and_anything_else_to_unknown() {
        let value = |s: &'static str| http::HeaderValue::from_static(s);
        assert_eq!(CODE_NAMES[code_index(Some(&value("0")))], "OK");
        assert_eq!(CODE_NAMES[code_index(Some(&value("5")))], "NOT_FOUND");
        assert_eq!(
            CODE_NAMES[code_index(Some(&value("16")))],
            "UNAUTHENTICATED"
        );
        assert_eq!(CODE_NAMES[code_index(Some(&value("17")))], "UNKNOWN");
        assert_eq!(CODE_NAMES[code_index(Some(&value("-1")))], "UNKNOWN");
        assert_eq!(CODE_NAMES[code_index(None)], "UNKNOWN");
        assert_eq!(
            CODE_NAMES[code_index_of(tonic::Code::InvalidArgument)],
            "INVALID_ARGUMENT"
        );
    }

    #[test]
    fn the_catalogue_knows_every_contract_and_sorts_its_methods() {
        let catalogue = catalogue();
        let health = catalogue
            .services
            .iter()
            .find(|s| s.name == "grpc.health.v1.Health")
            .expect("health is compiled in");
        let names: Vec<&str> = health.methods.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["Check", "Watch"]);
        for name in STANDARD_SERVICES {
            assert!(catalogue.services.iter().any(|s| s.name == name), "{name}");
        }
        assert!(
            catalogue
                .services
                .iter()
                .any(|s| s.name.starts_with("tica.roster.v1."))
        );
    }
}
