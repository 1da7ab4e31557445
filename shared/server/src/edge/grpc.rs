//! The edge on the gRPC server: every call learns its client; public methods are rate-limited.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tica_auth::PolicySet;
use tonic::transport::server::TcpConnectInfo;

use super::{ClientAddr, ClientLimiter, TrustedProxies, refused};

/// The layer [`crate::GrpcServer`] puts outside the auth layer: it puts the [`ClientAddr`] (and,
/// when limits are on, the [`ClientLimiter`]) in every call's extensions, and charges one unit
/// to the client of every call to a method its service's policy marks public, answering
/// RESOURCE_EXHAUSTED with a google.rpc.RetryInfo when the client's budget is spent. Calls to
/// other methods are never limited here: they carry a token, and in `tica serve` the services
/// call each other through this same port.
#[derive(Clone, Debug)]
pub struct GrpcEdgeLayer {
    proxies: TrustedProxies,
    limiter: Option<ClientLimiter>,
    policies: PolicySet,
}

impl GrpcEdgeLayer {
    /// Clients resolved through `proxies`, public methods of `policies` limited by `limiter`.
    pub fn new(
        proxies: TrustedProxies,
        limiter: Option<ClientLimiter>,
        policies: PolicySet,
    ) -> GrpcEdgeLayer {
        GrpcEdgeLayer {
            proxies,
            limiter,
            policies,
        }
    }
}

impl<S> tower::Layer<S> for GrpcEdgeLayer {
    type Service = GrpcEdge<S>;

    fn layer(&self, inner: S) -> GrpcEdge<S> {
        GrpcEdge {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`GrpcEdgeLayer`] wraps around a gRPC router.
#[derive(Clone, Debug)]
pub struct GrpcEdge<S> {
    inner: S,
    layer: GrpcEdgeLayer,
}

impl<S> GrpcEdge<S> {
    fn admit<B>(&self, request: &mut http::Request<B>) -> Result<(), tonic::Status> {
        let Some(peer) = request
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr)
        else {
            // Not over TCP (an in-memory transport in a test): nobody to tell apart.
            return Ok(());
        };
        let client: IpAddr = self.layer.proxies.client(peer.ip(), request.headers());
        request.extensions_mut().insert(ClientAddr(client));
        let Some(limiter) = &self.layer.limiter else {
            return Ok(());
        };
        request.extensions_mut().insert(limiter.clone());
        let public = request
            .uri()
            .path()
            .trim_start_matches('/')
            .split_once('/')
            .is_some_and(|(service, method)| self.layer.policies.is_public(service, method));
        if !public {
            return Ok(());
        }
        limiter.charge(client, 1).map_err(|wait| {
            refused("grpc", "rate_limited");
            super::resource_exhausted(wait)
        })
    }
}

impl<S, B> tower::Service<http::Request<B>> for GrpcEdge<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if let Err(status) = self.admit(&mut request) {
            return Box::pin(std::future::ready(Ok(status.into_http())));
        }
        // The clone is the one that was not polled ready; call the ready one (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(inner.call(request))
    }
}
