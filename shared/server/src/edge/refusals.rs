//! Every refusal leaving the gRPC server carries a `google.rpc.ErrorInfo` and a
//! `google.rpc.LocalizedMessage` (issue 17, point 3).
//!
//! The services' own refusals say their precise reason ([`crate::errors::Refusal`]); this layer,
//! outermost on the server, completes whatever left without one — the auth layer's, the rate
//! limiter's, tonic's own (an unknown method, a request over the size limit, a bad encoding) —
//! with the generic reason of its code, and explains each refusal in the caller's
//! `accept-language`. Both a trailers-only answer (every unary refusal) and the trailers ending a
//! stream are completed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::body::Body;

use crate::errors::{Locale, complete};

/// The layer [`crate::GrpcServer`] puts outermost.
#[derive(Clone, Copy, Debug, Default)]
pub struct CompleteRefusalsLayer;

impl<S> tower::Layer<S> for CompleteRefusalsLayer {
    type Service = CompleteRefusals<S>;

    fn layer(&self, inner: S) -> CompleteRefusals<S> {
        CompleteRefusals { inner }
    }
}

/// The service [`CompleteRefusalsLayer`] wraps around the server's stack.
#[derive(Clone, Debug)]
pub struct CompleteRefusals<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for CompleteRefusals<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send + 'static,
    S::Future: Send + 'static,
    R: HttpBody<Data = Bytes> + Send + 'static,
    R::Error: Into<tower::BoxError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let locale = Locale::from_accept_language(
            request
                .headers()
                .get(http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        );
        let answer = self.inner.call(request);
        Box::pin(async move { Ok(complete_response(answer.await?, locale)) })
    }
}

/// The response with its refusal completed, in its headers (trailers-only) or its trailers.
fn complete_response<R>(response: http::Response<R>, locale: Locale) -> http::Response<Body>
where
    R: HttpBody<Data = Bytes> + Send + 'static,
    R::Error: Into<tower::BoxError>,
{
    let (mut parts, body) = response.into_parts();
    if complete_headers(&mut parts.headers, locale) {
        return http::Response::from_parts(parts, Body::new(body));
    }
    let body = CompletingBody {
        inner: Box::pin(body),
        locale,
    };
    http::Response::from_parts(parts, Body::new(body))
}

/// Completes the refusal `headers` end with, if they hold a gRPC status; whether they did.
fn complete_headers(headers: &mut http::HeaderMap, locale: Locale) -> bool {
    // OK, every answer but a refusal: nothing to complete, and no `Status` built to say so.
    if headers
        .get("grpc-status")
        .is_some_and(|code| code.as_bytes() == b"0")
    {
        return true;
    }
    let Some(status) = tonic::Status::from_header_map(headers) else {
        return false;
    };
    if status.code() != tonic::Code::Ok {
        let completed = complete(status, locale);
        // The status came from these very headers, so it re-encodes into them.
        let _ = completed.add_header(headers);
    }
    true
}

/// A streamed answer whose trailers get the same completion.
struct CompletingBody<R> {
    inner: Pin<Box<R>>,
    locale: Locale,
}

impl<R: HttpBody<Data = Bytes>> HttpBody for CompletingBody<R> {
    type Data = Bytes;
    type Error = R::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, R::Error>>> {
        let locale = self.locale;
        self.inner.as_mut().poll_frame(cx).map(|frame| {
            frame.map(|frame| {
                frame.map(|frame| match frame.into_trailers() {
                    Ok(mut trailers) => {
                        complete_headers(&mut trailers, locale);
                        Frame::trailers(trailers)
                    }
                    Err(frame) => frame,
                })
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::{ERROR_DOMAIN, ErrorReason, refuse};
    use tonic_types::StatusExt;

    fn refusal_in(headers: &http::HeaderMap) -> tonic::Status {
        tonic::Status::from_header_map(headers).expect("a status")
    }

    #[test]
    fn a_bare_refusal_gets_the_generic_reason_of_its_code_and_an_explanation() {
        let mut headers = http::HeaderMap::new();
        tonic::Status::unimplemented("no such method")
            .add_header(&mut headers)
            .unwrap();
        assert!(complete_headers(&mut headers, Locale::En));
        let status = refusal_in(&headers);
        assert_eq!(status.code(), tonic::Code::Unimplemented);
        assert_eq!(status.message(), "no such method");
        let info = status.get_details_error_info().expect("an ErrorInfo");
        assert_eq!(info.reason, "METHOD_NOT_SERVED");
        assert_eq!(info.domain, ERROR_DOMAIN);
        let localized = status.get_details_localized_message().unwrap();
        assert_eq!(localized.locale, "en");
    }

    #[test]
    fn a_precise_reason_is_kept_and_explained_in_chinese_by_default() {
        let mut headers = http::HeaderMap::new();
        refuse(ErrorReason::CertificateAlreadyRevoked, "revoked already")
            .add_header(&mut headers)
            .unwrap();
        complete_headers(&mut headers, Locale::from_accept_language(None));
        let status = refusal_in(&headers);
        assert_eq!(
            status.get_details_error_info().unwrap().reason,
            "CERTIFICATE_ALREADY_REVOKED"
        );
        let localized = status.get_details_localized_message().unwrap();
        assert_eq!(localized.locale, "zh-CN");
        assert!(localized.message.contains("撤销"), "{localized:?}");
    }

    /// A stream that ends with `status` in its trailers.
    struct EndsWith(Option<http::HeaderMap>);

    impl HttpBody for EndsWith {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.take().map(|t| Ok(Frame::trailers(t))))
        }
    }

    #[tokio::test]
    async fn a_stream_that_fails_midway_ends_with_a_completed_refusal() {
        let mut trailers = http::HeaderMap::new();
        tonic::Status::aborted("lost a race")
            .add_header(&mut trailers)
            .unwrap();
        let response = http::Response::new(EndsWith(Some(trailers)));
        let mut body = complete_response(response, Locale::En).into_body();
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx))
            .await
            .unwrap()
            .unwrap();
        let status = refusal_in(frame.trailers_ref().expect("trailers"));
        assert_eq!(status.code(), tonic::Code::Aborted);
        assert_eq!(
            status.get_details_error_info().unwrap().reason,
            "CONCURRENT_CHANGE"
        );
        assert_eq!(status.get_details_localized_message().unwrap().locale, "en");
    }

    #[test]
    fn a_success_is_left_alone() {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", http::HeaderValue::from_static("0"));
        assert!(complete_headers(&mut headers, Locale::ZhCn));
        assert!(headers.get("grpc-status-details-bin").is_none());
    }
}
