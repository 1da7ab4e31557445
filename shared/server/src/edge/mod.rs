//! The public edge: what faces hostile visitors, one mechanism wherever it is served — the
//! per-service binary (`process::Servers::with_public_http`) and `tica serve` alike.
//!
//! - [`ClientAddr`]: who the client is, in every request's extensions (HTTP on the public front,
//!   and every gRPC call). The TCP peer, unless the peer is a trusted proxy
//!   ([`TrustedProxies`], `TICA_TRUSTED_PROXIES`): then the right-most `X-Forwarded-For` hop
//!   that is not itself trusted ([`TrustedProxies::client`]).
//! - [`ClientLimiter`]: a per-client GCRA budget. Every request of the public HTTP front costs a
//!   unit (429 with `Retry-After` and a page in Chinese and English when spent), and so does
//!   every call of a gRPC method a policy marks `public` (RESOURCE_EXHAUSTED with a
//!   google.rpc.RetryInfo). A handler charges more units itself (see [`ClientLimiter`]).
//! - [`Edge::serve_http`]: the public HTTP front's accept loop: a header read timeout
//!   (slowloris), a whole-request timeout, per-address and total connection caps applied at
//!   accept time, an oversized `Content-Length` answered 413 before any body is read, and
//!   default security headers (CSP, Referrer-Policy, nosniff, X-Frame-Options) on every response
//!   that does not set its own. Graceful: at shutdown it stops accepting and finishes the
//!   requests under way.
//! - [`EdgeConfig`]: the settings, `TICA_TRUSTED_PROXIES` and `TICA_PUBLIC_*`.
//!
//! *Invariants:* a client that is not a trusted proxy cannot choose its [`ClientAddr`] (a
//! forged `X-Forwarded-For` changes nothing); every route of the public router and every public
//! gRPC method is limited per client, and methods that need a token are not; nothing here
//! reads a body, logs a header or labels a metric with anything a client chose.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;

mod config;
mod front;
mod grpc;
mod limit;
mod proxies;
mod refusals;

pub use config::{CorsOrigins, EdgeConfig};
pub use front::DEFAULT_CSP;
pub use grpc::{GrpcEdge, GrpcEdgeLayer};
pub use limit::ClientLimiter;
pub use proxies::TrustedProxies;
pub use refusals::{CompleteRefusals, CompleteRefusalsLayer};

/// The client's address: the TCP peer, or the client a trusted proxy forwarded for (see the
/// module's documentation). In every public HTTP request's and every gRPC call's extensions:
/// `request.extensions().get::<ClientAddr>()` in a gRPC handler, an extractor in axum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The address.
    pub fn ip(&self) -> IpAddr {
        self.0
    }

    /// The client of a gRPC call, if it came over TCP.
    pub fn of<T>(request: &tonic::Request<T>) -> Option<ClientAddr> {
        request.extensions().get::<ClientAddr>().copied()
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The extractor: the address the edge resolved. A router served without the edge (a test, a
/// benchmark) falls back to the TCP peer (`ConnectInfo<SocketAddr>`), trusting no header.
impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(client) = parts.extensions.get::<ClientAddr>() {
            return Ok(*client);
        }
        // Through axum's own extractor, which also reads a `MockConnectInfo` (tests).
        match ConnectInfo::<SocketAddr>::from_request_parts(parts, state).await {
            Ok(ConnectInfo(peer)) => Ok(ClientAddr(peer.ip().to_canonical())),
            Err(_) => Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                "the client's address is unknown",
            )),
        }
    }
}

/// The public edge of one process: its settings and its limiters (one budget for the HTTP
/// front, another for the public gRPC methods). Cloning shares them.
#[derive(Clone, Debug)]
pub struct Edge {
    config: std::sync::Arc<EdgeConfig>,
    http: Option<ClientLimiter>,
    grpc: Option<ClientLimiter>,
    tls: Option<HttpTls>,
}

/// The public front's TLS acceptor (its `Debug` says only whether there is one).
#[derive(Clone)]
pub(crate) struct HttpTls(pub(crate) tokio_rustls::TlsAcceptor);

impl std::fmt::Debug for HttpTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpTls")
    }
}

impl Default for Edge {
    fn default() -> Edge {
        Edge::new(EdgeConfig::default())
    }
}

impl Edge {
    /// The edge `config` describes (limits off when its rate is 0).
    pub fn new(config: EdgeConfig) -> Edge {
        let limiter = || {
            let per_minute = std::num::NonZeroU32::new(config.rate_per_minute)?;
            let burst = std::num::NonZeroU32::new(config.burst).unwrap_or(per_minute);
            Some(ClientLimiter::new(per_minute, burst))
        };
        Edge {
            http: limiter(),
            grpc: limiter(),
            config: std::sync::Arc::new(config),
            tls: None,
        }
    }

    /// The public HTTP front serves TLS through `acceptor` (see
    /// [`crate::tls::Tls::http_acceptor`]); plaintext when `None`.
    pub fn with_tls(mut self, acceptor: Option<tokio_rustls::TlsAcceptor>) -> Edge {
        self.tls = acceptor.map(HttpTls);
        self
    }

    /// CORS for gRPC-Web calls from pages on other origins (`TICA_CORS_ALLOWED_ORIGINS`): the
    /// preflight is answered, and the gRPC headers a page must read (status, message, error
    /// details) are exposed to it. No credentials: a page sends a bearer token itself.
    pub fn cors_layer(&self) -> tower_http::cors::CorsLayer {
        use http::header::{ACCEPT_LANGUAGE, AUTHORIZATION, CONTENT_TYPE, HeaderName};
        use tower_http::cors::{AllowOrigin, CorsLayer};
        let origin = match &self.config.cors_allowed_origins {
            CorsOrigins::Any => AllowOrigin::any(),
            CorsOrigins::List(origins) => AllowOrigin::list(origins.iter().cloned()),
        };
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([http::Method::POST])
            .allow_headers([
                CONTENT_TYPE,
                AUTHORIZATION,
                ACCEPT_LANGUAGE,
                HeaderName::from_static("x-grpc-web"),
                HeaderName::from_static("x-user-agent"),
                HeaderName::from_static("grpc-timeout"),
                HeaderName::from_static("traceparent"),
            ])
            .expose_headers([
                HeaderName::from_static("grpc-status"),
                HeaderName::from_static("grpc-message"),
                HeaderName::from_static("grpc-status-details-bin"),
                HeaderName::from_static("retry-after"),
            ])
            .max_age(std::time::Duration::from_secs(600))
    }

    /// Its settings.
    pub fn config(&self) -> &EdgeConfig {
        &self.config
    }

    /// The budget of the public HTTP front's clients (`None`: no limit).
    pub fn http_limiter(&self) -> Option<&ClientLimiter> {
        self.http.as_ref()
    }

    /// The budget of the public gRPC methods' clients (`None`: no limit).
    pub fn grpc_limiter(&self) -> Option<&ClientLimiter> {
        self.grpc.as_ref()
    }

    /// The layer a gRPC server puts outside its auth layer, deciding public methods by
    /// `policies`.
    pub fn grpc_layer(&self, policies: tica_auth::PolicySet) -> GrpcEdgeLayer {
        GrpcEdgeLayer::new(
            self.config.trusted_proxies.clone(),
            self.grpc.clone(),
            policies,
        )
    }
}

/// RESOURCE_EXHAUSTED with a google.rpc.RetryInfo saying when to retry: what a gRPC handler
/// returns when [`ClientLimiter::charge`] refuses.
pub fn resource_exhausted(wait: Duration) -> tonic::Status {
    let seconds = retry_after_seconds(wait);
    crate::errors::Refusal::new(
        crate::errors::ErrorReason::RateLimited,
        format!("请求过于频繁，请稍后再试 too many requests: try again in {seconds} s"),
    )
    .retry_after(Duration::from_secs(seconds))
    .into_status()
}

/// A wait as whole seconds for `Retry-After`: rounded up, at least 1.
fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Counts a refusal at the edge (`tica_edge_refused_total`).
fn refused(front: &'static str, reason: &'static str) {
    metrics::counter!(crate::metrics::EDGE_REFUSED_TOTAL, "front" => front, "reason" => reason)
        .increment(1);
}

/// A positive number of seconds (`10`, `0.5`).
fn parse_positive_seconds(text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{text:?}: expected a positive number of seconds, e.g. 10"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_never_zero() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::from_millis(2001)), 3);
    }

    #[test]
    fn a_refusal_carries_retry_info() {
        let status = resource_exhausted(Duration::from_millis(1500));
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        let retry = status.get_details_retry_info().unwrap();
        assert_eq!(retry.retry_delay, Some(Duration::from_secs(2)));
    }
}
