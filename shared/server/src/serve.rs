//! Hosting services: one gRPC server with health, reflection, auth and tracing.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tica_auth::{AuthLayer, MethodPolicy, PolicySet, TokenVerifier};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;
use tower_http::classify::GrpcFailureClass;
use tower_http::trace::TraceLayer;

use crate::edge::Edge;

/// Services to host, with their access policies.
#[derive(Debug)]
pub struct GrpcServer {
    routes: RoutesBuilder,
    policies: PolicySet,
    serving: Vec<&'static str>,
    not_serving: Vec<&'static str>,
    drain_delay: Duration,
    drain_timeout: Option<Duration>,
    edge: Edge,
    tls: Option<tonic::transport::ServerTlsConfig>,
}

impl Default for GrpcServer {
    fn default() -> Self {
        Self::new()
    }
}

/// A server running in the background (tests, `tica serve`).
#[derive(Debug)]
pub struct RunningServer {
    /// The address it listens on (port 0 resolved).
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl RunningServer {
    /// `http://{addr}`, for clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, drains in-flight calls, and waits for the server to finish.
    pub async fn shutdown(mut self) -> Result<(), tonic::transport::Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.handle.await {
            Ok(result) => result,
            Err(join) => panic!("gRPC server task failed: {join}"),
        }
    }
}

impl GrpcServer {
    /// No services yet.
    pub fn new() -> GrpcServer {
        GrpcServer {
            routes: RoutesBuilder::default(),
            policies: PolicySet::default(),
            serving: Vec::new(),
            not_serving: Vec::new(),
            drain_delay: Duration::ZERO,
            drain_timeout: None,
            edge: Edge::default(),
            tls: None,
        }
    }

    /// Once the listener has closed, wait at most `timeout` for the calls under way to finish,
    /// then return anyway: a long stream (a follower of `StreamCertifiedResults`, a health
    /// `Watch`) would otherwise hold the process up until Kubernetes kills it. Unset (the
    /// default here; the service binaries set `--shutdown-timeout`), the drain waits for every
    /// call. The connections still open are dropped when the runtime ends.
    pub fn drain_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.drain_timeout = timeout;
        self
    }

    /// After the shutdown signal, keep serving for `delay` while health reports NOT_SERVING, so
    /// load balancers (Kubernetes endpoints) stop sending new calls before the listener closes.
    pub fn drain_delay(&mut self, delay: Duration) -> &mut Self {
        self.drain_delay = delay;
        self
    }

    /// Resolves clients and limits public methods as `edge` says (by default: trusting no
    /// proxy, the default per-client rate; see [`crate::edge::EdgeConfig`]). Share one `Edge`
    /// with the public HTTP front of the same process so both trust the same proxies.
    pub fn edge(&mut self, edge: Edge) -> &mut Self {
        self.edge = edge;
        self
    }

    /// Serves TLS as `tls` says (see [`crate::tls::Tls::grpc`]); plaintext when `None`.
    pub fn tls(&mut self, tls: Option<tonic::transport::ServerTlsConfig>) -> &mut Self {
        self.tls = tls;
        self
    }

    /// Hosts `service`, reachable by the roles its `policy` admits; reported SERVING.
    pub fn add_service<S>(&mut self, service: S, policy: MethodPolicy) -> &mut Self
    where
        S: tower::Service<http::Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        assert_eq!(
            policy.service(),
            S::NAME,
            "a service's policy must name that service"
        );
        self.routes.add_service(service);
        self.policies = std::mem::take(&mut self.policies).with(policy);
        self.serving.push(S::NAME);
        self
    }

    /// Declares a service of the contract that this server does not implement yet: health
    /// reports it NOT_SERVING and its calls answer UNIMPLEMENTED (reflection still lists it).
    pub fn declare_not_serving(&mut self, service: &'static str) -> &mut Self {
        self.not_serving.push(service);
        self
    }

    /// Serves on `listener` until `shutdown` completes, then drains in-flight calls.
    pub async fn serve(
        self,
        listener: TcpListener,
        verifier: TokenVerifier,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), tonic::transport::Error> {
        let (health, health_service) = tonic_health::server::health_reporter();
        for name in &self.serving {
            health
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        for name in &self.not_serving {
            health
                .set_service_status(*name, ServingStatus::NotServing)
                .await;
        }
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tica_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .expect("the descriptor set compiled into tica-proto is valid");
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tica_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .expect("the descriptor set compiled into tica-proto is valid");

        let mut routes = self.routes;
        routes.add_service(health_service);
        routes.add_service(reflection_v1);
        routes.add_service(reflection_v1alpha);

        // `Server::tcp_nodelay` applies only to listeners tonic binds itself: set it on every
        // accepted socket, or Nagle and delayed ACKs hold each small reply for ~40 ms.
        let incoming = tokio_stream::StreamExt::map(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            |accepted| {
                if let Ok(socket) = &accepted {
                    let _ = socket.set_nodelay(true);
                }
                accepted
            },
        );
        let health_on_shutdown = health.clone();
        let serving = self.serving.clone();
        let drain_delay = self.drain_delay;
        let drain_timeout = self.drain_timeout;
        let (draining, drain_started) = oneshot::channel::<()>();
        let shutdown = async move {
            shutdown.await;
            // Tell load balancers first (every service, and the server as a whole: ""), give
            // them `drain_delay` to notice, then stop accepting and drain in-flight calls.
            for name in serving.into_iter().chain([""]) {
                health_on_shutdown
                    .set_service_status(name, ServingStatus::NotServing)
                    .await;
            }
            if !drain_delay.is_zero() {
                tracing::info!(
                    seconds = drain_delay.as_secs_f64(),
                    "shutting down: not serving, waiting before closing the listener"
                );
                tokio::time::sleep(drain_delay).await;
            }
            tracing::info!(
                timeout_seconds = drain_timeout.map(|t| t.as_secs_f64()),
                "shutting down: draining in-flight calls"
            );
            let _ = draining.send(());
        };
        // The drain's bound starts when the listener closes (after the delay above).
        let deadline = async move {
            match (drain_timeout, drain_started.await) {
                (Some(timeout), Ok(())) => tokio::time::sleep(timeout).await,
                _ => std::future::pending().await,
            }
        };

        // Every server has a recorder, so `/metrics` (admin port, `tica serve`) shows its calls.
        crate::metrics::install();
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = self.tls {
            builder = builder.tls_config(tls)?;
        }
        let cors = self.edge.cors_layer();
        let server = builder
            // gRPC-Web (HTTP/1.1 and HTTP/2) beside gRPC, for pages on other origins.
            .accept_http1(true)
            .tcp_nodelay(true)
            // The keepalive policy clients are told (docs/operations.md, "Transport").
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(20)))
            // HTTP/2's default 64 KiB windows throttle file uploads (a province's teachers are
            // ~100 MB) to a fraction of the link; larger windows let a stream fill it.
            .initial_stream_window_size(Some(4 << 20))
            .initial_connection_window_size(Some(8 << 20))
            // Outermost: CORS answers a page's preflight; gRPC-Web is translated to gRPC for
            // everything inside, and its answers back, refusals completed first.
            .layer(cors)
            .layer(tonic_web::GrpcWebLayer::new())
            // Every refusal, whoever made it, leaves with an ErrorInfo and a LocalizedMessage
            // (proto/tica/common/v1/errors.proto).
            .layer(crate::edge::CompleteRefusalsLayer)
            .layer(
                TraceLayer::new_for_grpc()
                    .make_span_with(make_span as fn(&http::Request<Body>) -> tracing::Span)
                    .on_request(())
                    .on_response(
                        tower_http::trace::DefaultOnResponse::new().level(tracing::Level::DEBUG),
                    )
                    .on_body_chunk(())
                    .on_eos(())
                    .on_failure(on_failure as fn(GrpcFailureClass, Duration, &tracing::Span)),
            )
            // Inside the span, outside auth: refused calls (UNAUTHENTICATED, PERMISSION_DENIED)
            // count too, and labels come only from the names of the services hosted here.
            .layer(crate::metrics::GrpcMetricsLayer::new(
                self.serving.iter().chain(&self.not_serving).copied(),
            ))
            // Outside auth: every call learns its `ClientAddr`, and a public method's caller
            // over budget is refused before its token (it has none) or its handler costs us.
            .layer(self.edge.grpc_layer(self.policies.clone()))
            .layer(AuthLayer::new(verifier, self.policies))
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(incoming, shutdown);
        tokio::select! {
            result = server => result,
            () = deadline => {
                let seconds = drain_timeout.map_or(0.0, |t| t.as_secs_f64());
                tracing::warn!(
                    timeout_seconds = seconds,
                    "shutting down: calls still open after the drain timeout; leaving them"
                );
                Ok(())
            }
        }
    }

    /// Binds `addr` (port 0 picks a free port) and serves in the background.
    pub async fn spawn(
        self,
        addr: SocketAddr,
        verifier: TokenVerifier,
    ) -> std::io::Result<RunningServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(self.serve(listener, verifier, async {
            let _ = stopped.await;
        }));
        Ok(RunningServer {
            addr,
            stop: Some(stop),
            handle,
        })
    }
}

/// One span per call, named after the method (never with request fields: they may hold
/// personal data), continuing the caller's trace when the request carries a `traceparent`.
fn make_span(request: &http::Request<Body>) -> tracing::Span {
    let path = request.uri().path();
    let (service, method) = tica_telemetry::propagation::split_path(path);
    let span = tracing::info_span!(
        "grpc",
        otel.name = path,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = tracing::field::Empty,
    );
    tica_telemetry::propagation::set_remote_parent(&span, request.headers());
    span
}

/// Client mistakes log at INFO, server faults at ERROR (tower-http's default logs every non-OK
/// status as an error, which buries real faults under refused inputs).
fn on_failure(class: GrpcFailureClass, latency: Duration, span: &tracing::Span) {
    let millis = latency.as_millis() as u64;
    match class {
        GrpcFailureClass::Status(status) => {
            let code = tonic::Code::from_i32(status.code_raw());
            span.record("rpc.grpc.status_code", status.code_raw());
            if is_server_fault(code) {
                span.record("otel.status_code", "error");
                tracing::error!(?code, millis, "call failed");
            } else {
                tracing::info!(?code, millis, "call refused");
            }
        }
        other => {
            span.record("otel.status_code", "error");
            tracing::error!(error = %other, millis, "call failed")
        }
    }
}

fn is_server_fault(code: tonic::Code) -> bool {
    matches!(
        code,
        tonic::Code::Internal
            | tonic::Code::Unknown
            | tonic::Code::DataLoss
            | tonic::Code::Unavailable
    )
}

/// Completes on SIGTERM (Kubernetes) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("received Ctrl-C"),
        _ = terminate => tracing::info!("received SIGTERM"),
    }
}
