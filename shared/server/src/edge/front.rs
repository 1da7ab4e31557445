//! Serving the public HTTP front: one accept loop over hyper with the edge's guards.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use super::{ClientAddr, Edge, refused};
use crate::errors::{ErrorReason, Locale, Refusal, complete};

/// The Content-Security-Policy of a response that sets none: nothing may load, nothing may
/// frame it; forms post only to this origin. Pages that need styles or scripts set their own
/// (stricter, with hashes), which is kept.
pub const DEFAULT_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Idle and header timeout for connections from trusted proxies, at least: longer than
/// ingress-nginx keeps an idle upstream connection (60 s), so it never reuses one we close.
const PROXY_IDLE_TIMEOUT: Duration = Duration::from_secs(75);

/// The largest request head (request line and headers) hyper buffers: 64 KiB is generous for
/// these pages (no cookies) and bounds what 4,096 connections can pin in memory.
const MAX_HEAD_BYTES: usize = 64 << 10;

impl Edge {
    /// The public router with the edge's per-request guards, outermost first: default security
    /// headers on every response that lacks them; the client's address
    /// ([`ClientAddr`] and the [`super::ClientLimiter`] in the request's extensions) and its
    /// rate limit (429 with `Retry-After`); the body limit (413 on an oversized
    /// `Content-Length` before any body is read); the whole-request timeout (408).
    ///
    /// [`Edge::serve_http`] serves this; it is public for tests that drive a router without
    /// sockets (they must put a `ConnectInfo<SocketAddr>` in each request).
    pub fn guard(&self, router: Router) -> Router {
        // Served over TLS, browsers are told to keep to it (a year; RFC 6797).
        let router = if self.tls.is_some() {
            router.layer(SetResponseHeaderLayer::if_not_present(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            ))
        } else {
            router
        };
        router
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                self.config.request_timeout,
            ))
            .layer(RequestBodyLimitLayer::new(self.config.max_body_bytes))
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                admit_request,
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(DEFAULT_CSP),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("DENY"),
            ))
    }

    /// Serves `router` (guarded as [`Edge::guard`] says) on `listener` until `shutdown`
    /// completes; then stops accepting, closes the listener, and finishes the requests under
    /// way (idle keep-alive connections close at once) before returning.
    ///
    /// Per connection: a connection beyond the per-address cap (trusted proxies excepted) or the
    /// total cap is closed as soon as it is accepted; a connection must send a request's complete
    /// headers within the header timeout (also its idle timeout between requests), else it is
    /// closed. Handlers see `ConnectInfo<SocketAddr>` (the TCP peer) and [`ClientAddr`].
    pub async fn serve_http(
        &self,
        listener: TcpListener,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = self.guard(router);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let connections = Connections::new(
            self.config.max_connections_per_client,
            self.config.max_connections,
        );
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        accept_failed(error).await;
                        continue;
                    }
                },
            };
            let proxy = self.config.trusted_proxies.contains(peer.ip());
            let Some(admitted) = connections.admit(peer.ip(), proxy) else {
                // Dropped unanswered: a flood of connections costs us an accept and a close.
                drop(stream);
                continue;
            };
            self.serve_connection(stream, peer, proxy, &app, &graceful, admitted);
        }
        drop(listener);
        graceful.shutdown().await;
        Ok(())
    }

    fn serve_connection(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        proxy: bool,
        app: &Router,
        graceful: &hyper_util::server::graceful::GracefulShutdown,
        admitted: Admitted,
    ) {
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                tower::ServiceExt::oneshot(app.clone(), request)
            });
        let header_timeout = if proxy {
            self.config.header_timeout.max(PROXY_IDLE_TIMEOUT)
        } else {
            self.config.header_timeout
        };
        let mut http1 = hyper::server::conn::http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_buf_size(MAX_HEAD_BYTES)
            .keep_alive(true);
        let watcher = graceful.watcher();
        let tls = self.tls.clone();
        tokio::spawn(async move {
            let served = match tls {
                None => {
                    watcher
                        .watch(http1.serve_connection(TokioIo::new(stream), service))
                        .await
                }
                Some(super::HttpTls(acceptor)) => {
                    // The handshake has the same time as a request's headers: a client that
                    // opens a connection and says nothing holds it no longer over TLS.
                    let handshake = tokio::time::timeout(header_timeout, acceptor.accept(stream));
                    let Ok(Ok(stream)) = handshake.await else {
                        refused("http", "tls_handshake");
                        drop(admitted);
                        return;
                    };
                    watcher
                        .watch(http1.serve_connection(TokioIo::new(stream), service))
                        .await
                }
            };
            if let Err(error) = served {
                if error.is_timeout() {
                    refused("http", "header_timeout");
                }
                tracing::debug!(%error, "public HTTP connection ended with an error");
            }
            drop(admitted);
        });
    }
}

/// Accept errors are the client's (a connection reset before we took it) or the process's
/// (out of file descriptors): either way keep serving, pausing a moment on the latter so the
/// loop does not spin.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(%error, "accepting a public HTTP connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Who the client is, and whether it has budget left: the middleware inside the security
/// headers and outside the body limit.
async fn admit_request(State(edge): State<Edge>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let client = edge.config.trusted_proxies.client(peer, request.headers());
    request.extensions_mut().insert(ClientAddr(client));
    let program = reads_json(&request).then(|| {
        Locale::from_accept_language(
            request
                .headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        )
    });
    if let Some(limiter) = &edge.http {
        request.extensions_mut().insert(limiter.clone());
        if let Err(wait) = limiter.charge(client, 1) {
            refused("http", "rate_limited");
            return match program {
                Some(locale) => json_refusal(
                    Refusal::new(
                        ErrorReason::RateLimited,
                        "too many requests from this address; retry after the delay given",
                    )
                    .retry_after(wait),
                    None,
                    locale,
                ),
                None => too_many_requests(wait),
            };
        }
    }
    let response = next.run(request).await;
    let (reason, message) = match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            refused("http", "body_too_large");
            (
                ErrorReason::RequestTooLarge,
                format!(
                    "the request body is larger than the {} bytes accepted",
                    edge.config.max_body_bytes
                ),
            )
        }
        StatusCode::REQUEST_TIMEOUT => {
            refused("http", "request_timeout");
            (
                ErrorReason::DeadlineExceeded,
                format!(
                    "the request was not complete within {} s",
                    edge.config.request_timeout.as_secs()
                ),
            )
        }
        _ => return response,
    };
    match program {
        // The layers' own bare answers become JSON; a handler's JSON refusal stays as it is.
        Some(locale) if !is_json(&response) => json_refusal(
            Refusal::new(reason, message),
            Some(response.status()),
            locale,
        ),
        _ => response,
    }
}

/// Whether the request comes from a program that reads JSON: the JSON API (`/api/`), the token
/// endpoint (`/oauth/`), or a client that accepts JSON and not HTML. A browser's page request
/// accepts `text/html` and keeps getting pages.
fn reads_json(request: &Request) -> bool {
    let path = request.uri().path();
    if path.starts_with("/api/") || path.starts_with("/oauth/") {
        return true;
    }
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"))
}

/// An edge refusal as a program reads it (`crate::http_errors`), in the client's language.
fn json_refusal(refusal: Refusal, http: Option<StatusCode>, locale: Locale) -> Response {
    crate::http_errors::response(complete(refusal.into_status(), locale), http)
}

/// 429 with `Retry-After` (whole seconds, at least 1) and a short page in Chinese and English.
pub(crate) fn too_many_requests(wait: Duration) -> Response {
    let seconds = super::retry_after_seconds(wait);
    let body = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>请求过于频繁 Too many requests</title></head><body>\
         <h1>请求过于频繁，请稍后再试</h1>\
         <p>Too many requests: try again in {seconds} s. 请在 {seconds} 秒后重试。</p>\
         <p><a href=\"/\">返回首页 Back to the start page</a></p></body></html>"
    );
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::RETRY_AFTER, seconds.to_string()),
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}

/// Open connections, per client key and in all.
#[derive(Debug)]
struct Connections {
    per_client: usize,
    total: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; dropping it gives its place back.
#[derive(Debug)]
struct Admitted {
    connections: Arc<Connections>,
    key: Option<IpAddr>,
}

impl Connections {
    fn new(per_client: usize, total: usize) -> Arc<Connections> {
        Arc::new(Connections {
            per_client,
            total,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// A place for a connection from `peer`, unless the total or (for anyone but a trusted
    /// proxy) the address's share is taken.
    fn admit(self: &Arc<Self>, peer: IpAddr, proxy: bool) -> Option<Admitted> {
        let mut open = self.open.lock().expect("connection counts");
        let (total, per_client) = &mut *open;
        if *total >= self.total {
            refused("http", "connections_total");
            return None;
        }
        let key = (!proxy).then(|| super::limit::key(peer));
        if let Some(key) = key {
            let count = per_client.entry(key).or_insert(0);
            if *count >= self.per_client {
                refused("http", "connections_per_client");
                return None;
            }
            *count += 1;
        }
        *total += 1;
        Some(Admitted {
            connections: self.clone(),
            key,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock().expect("connection counts");
        let (total, per_client) = &mut *open;
        *total -= 1;
        if let Some(key) = self.key
            && let Some(count) = per_client.get_mut(&key)
        {
            *count -= 1;
            if *count == 0 {
                per_client.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_capped_per_address_and_in_all_and_proxies_only_in_all() {
        let connections = Connections::new(2, 4);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let first = connections.admit(a, false).unwrap();
        let _second = connections.admit(a, false).unwrap();
        assert!(connections.admit(a, false).is_none());
        drop(first);
        let _third = connections.admit(a, false).unwrap();
        let _other = connections.admit(b, false).unwrap();
        let _via = connections.admit(proxy, true).unwrap();
        assert!(connections.admit(proxy, true).is_none(), "4 in all");
        assert!(connections.admit(b, false).is_none());
    }
}
