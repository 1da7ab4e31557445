//! W3C trace context (`traceparent`, `tracestate`) across gRPC calls.
//!
//! Clients: [`TraceContextLayer`] wraps a channel so that every call opens a `grpc.client`
//! span (kind CLIENT) under the caller's current span and carries that span's context in the
//! request headers. Servers: [`extract`] reads the headers back, and the server's request span
//! takes the result as its parent (`tica_server` does this for every hosted service), so one
//! trace runs from the first caller through every service it reaches.
//!
//! With tracing off the context is empty and nothing is injected: the layer costs one
//! disabled span per call.

use std::task::{Context as TaskContext, Poll};

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A tonic channel whose calls carry the trace context.
pub type TracedChannel = TraceContext<tonic::transport::Channel>;

/// Wraps `channel` in [`TraceContext`].
pub fn traced(channel: tonic::transport::Channel) -> TracedChannel {
    TraceContext::new(channel)
}

/// Writes `cx` into `headers` as `traceparent` (and `tracestate`).
pub fn inject(cx: &Context, headers: &mut http::HeaderMap) {
    TraceContextPropagator::new().inject_context(cx, &mut HeaderInjector(headers));
}

/// The remote parent `headers` carry (an empty context when they carry none or garbage).
pub fn extract(headers: &http::HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Makes `span`'s parent the remote context in `headers`, if they carry one.
pub fn set_remote_parent(span: &tracing::Span, headers: &http::HeaderMap) {
    if headers.contains_key("traceparent") {
        // Fails only when tracing is off (no OpenTelemetry layer), when there is nothing to do.
        let _ = span.set_parent(extract(headers));
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The client half: a [`tower::Layer`] adding [`TraceContext`].
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceContextLayer;

impl<S> tower::Layer<S> for TraceContextLayer {
    type Service = TraceContext<S>;

    fn layer(&self, inner: S) -> TraceContext<S> {
        TraceContext::new(inner)
    }
}

/// A client service that opens a `grpc.client` span per call and sends its context.
#[derive(Clone, Debug)]
pub struct TraceContext<S> {
    inner: S,
}

impl<S> TraceContext<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> TraceContext<S> {
        TraceContext { inner }
    }
}

impl<S, B> tower::Service<http::Request<B>> for TraceContext<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tracing::instrument::Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let (service, method) = split_path(path);
        let span = tracing::info_span!(
            "grpc.client",
            otel.name = path,
            otel.kind = "client",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
        );
        inject(&span.context(), request.headers_mut());
        self.inner.call(request).instrument(span)
    }
}

/// `("pkg.Service", "Method")` of a gRPC path `/pkg.Service/Method`.
pub fn split_path(path: &str) -> (&str, &str) {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.split_once('/').unwrap_or((path, ""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceContextExt;

    #[test]
    fn a_traceparent_survives_injection_and_extraction() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            http::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        );
        let cx = extract(&headers);
        let span = cx.span();
        let remote = span.span_context();
        assert!(remote.is_remote() && remote.is_sampled());
        assert_eq!(
            remote.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let mut again = http::HeaderMap::new();
        inject(&cx, &mut again);
        assert_eq!(again.get("traceparent"), headers.get("traceparent"));
    }

    #[test]
    fn a_garbage_traceparent_gives_no_parent() {
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", http::HeaderValue::from_static("<script>"));
        assert!(!extract(&headers).span().span_context().is_valid());
    }

    #[test]
    fn grpc_paths_split_into_service_and_method() {
        assert_eq!(
            split_path("/tica.roster.v1.RosterService/GetTeacher"),
            ("tica.roster.v1.RosterService", "GetTeacher")
        );
        assert_eq!(split_path("/odd"), ("odd", ""));
    }
}
