//! The JSON face of the public methods, for agencies and pages that cannot speak gRPC (issue 17
//! §6): each route takes its request as proto3 JSON and answers as proto3 JSON, through the very
//! handler the gRPC method runs ([`CertificateGrpc`]), anonymous like it.
//!
//! Routes ([`ROUTES`], from which the router and the OpenAPI document are both built):
//! `POST /api/v1/certificates:verify` (Verify) · `POST /api/v1/certificates:batchVerify`
//! (BatchVerify) · `GET /api/v1/signingKeys` (ListSigningKeys) · `GET /api/v1/log/checkpoint`
//! (GetLogCheckpoint, `?treeSize=`) · `GET /api/openapi.json` (the document,
//! [`super::openapi`]).
//!
//! - **JSON**: the canonical proto3 mapping ([`prost_reflect`] over `tica_proto`'s descriptor
//!   set): lowerCamelCase names (the proto names are accepted too), enums by name, 64-bit
//!   integers as strings, bytes as base64, Timestamps in RFC 3339; fields at their default are
//!   left out of answers. A POST body must say `Content-Type: application/json`; a field the
//!   message does not have is refused (proto3 JSON lets parsers choose; refusing catches a
//!   client's typo instead of verifying nothing). A GET takes the request's scalar fields as
//!   query parameters.
//! - **Errors**: the gRPC status the handler returns, completed as every gRPC refusal is
//!   (ErrorInfo, LocalizedMessage in the caller's `Accept-Language`), as Google's REST APIs
//!   return it: `{"error":{"code":<HTTP>,"status":"INVALID_ARGUMENT","message":…,"details":[
//!   {"@type":"type.googleapis.com/google.rpc.ErrorInfo",…},…]}}`, with the HTTP status of the
//!   code ([`tica_server::http_errors::http_status`]) and `Retry-After` when the status carries a RetryInfo.
//! - **Edge**: these routes sit behind the public HTTP front's edge like the pages: its
//!   per-client rate limit (a BatchVerify also pays one unit per 50 items beyond the first 50,
//!   as over gRPC), body limit and security headers. Unlike the pages they answer CORS, from the
//!   origins `TICA_CORS_ALLOWED_ORIGINS` allows, with the gRPC port's own CORS layer
//!   ([`tica_server::edge::Edge::cors_layer`]) opened to GET; no credentials.

use std::future::Future;
use std::sync::LazyLock;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use prost::Message;
use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, Kind, MethodDescriptor};
use serde_json::{Map, Value};
use tica_proto::tica::certificate::v1::certificate_service_server::CertificateService;
use tica_server::edge::{ClientAddr, ClientLimiter, CorsOrigins, Edge, EdgeConfig};
use tica_server::errors::{Locale, Violations, complete};
use tica_server::http_errors;
use tonic::Status;

use crate::grpc::CertificateGrpc;
use crate::service::Certificates;

/// The gRPC service every route calls a method of.
pub const SERVICE: &str = "tica.certificate.v1.CertificateService";

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// One JSON route: an HTTP method and path for a unary gRPC method of [`SERVICE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// GET (the request's fields as query parameters) or POST (the request as the body).
    pub method: RouteMethod,
    /// The path (AIP-136 custom methods: `collection:verb`).
    pub path: &'static str,
    /// The gRPC method's name in [`SERVICE`].
    pub rpc: &'static str,
}

/// How a route takes its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteMethod {
    /// Query parameters.
    Get,
    /// A JSON body.
    Post,
}

impl RouteMethod {
    /// The HTTP method, lowercase as OpenAPI writes it.
    pub fn name(self) -> &'static str {
        match self {
            RouteMethod::Get => "get",
            RouteMethod::Post => "post",
        }
    }
}

/// Every JSON route. The router and the OpenAPI document are both made from this table.
pub const ROUTES: &[Route] = &[
    Route {
        method: RouteMethod::Post,
        path: "/api/v1/certificates:verify",
        rpc: "Verify",
    },
    Route {
        method: RouteMethod::Post,
        path: "/api/v1/certificates:batchVerify",
        rpc: "BatchVerify",
    },
    Route {
        method: RouteMethod::Get,
        path: "/api/v1/signingKeys",
        rpc: "ListSigningKeys",
    },
    Route {
        method: RouteMethod::Get,
        path: "/api/v1/log/checkpoint",
        rpc: "GetLogCheckpoint",
    },
];

/// Every TICA proto, with its comments, for the JSON mapping and the OpenAPI document.
pub(crate) static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(tica_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set compiled into tica-proto is valid")
});

/// The descriptor of `rpc` in [`SERVICE`].
pub(crate) fn method(rpc: &str) -> MethodDescriptor {
    POOL.get_service_by_name(SERVICE)
        .and_then(|s| s.methods().find(|m| m.name() == rpc))
        .unwrap_or_else(|| panic!("{SERVICE} has no method {rpc}"))
}

/// The JSON routes and the OpenAPI document, answering CORS for `origins`.
pub fn router(svc: Certificates, origins: &CorsOrigins) -> Router {
    let cors = Edge::new(EdgeConfig {
        cors_allowed_origins: origins.clone(),
        ..EdgeConfig::default()
    })
    .cors_layer()
    .allow_methods([Method::GET, Method::POST]);
    let mut router = Router::new();
    for route in ROUTES {
        // Resolved now: a route naming a method the service lacks fails at start, not per call.
        let _ = method(route.rpc);
        let filter = match route.method {
            RouteMethod::Get => MethodFilter::GET,
            RouteMethod::Post => MethodFilter::POST,
        };
        router = router.route(
            route.path,
            on(
                filter,
                move |State(grpc): State<CertificateGrpc>, request: Request| {
                    answer(grpc, route, request)
                },
            ),
        );
    }
    router
        .route(OPENAPI_PATH, axum::routing::get(openapi))
        .layer(cors)
        .with_state(CertificateGrpc::new(svc))
}

async fn openapi() -> Response {
    static DOCUMENT: LazyLock<Vec<u8>> = LazyLock::new(|| {
        serde_json::to_vec_pretty(&super::openapi::document()).expect("a JSON value serializes")
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        DOCUMENT.as_slice(),
    )
        .into_response()
}

/// One call: the request read as `route`'s input message, the gRPC handler's answer as JSON, or
/// its refusal as a google.rpc.Status.
async fn answer(grpc: CertificateGrpc, route: &'static Route, request: Request) -> Response {
    let locale = Locale::from_accept_language(
        request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    match call(&grpc, route, request).await {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(refusal) => refusal.into_response(locale),
    }
}

/// A refusal and the HTTP status it leaves with (the code's unless the request never got as
/// far as a message: 413, 415).
struct Refused {
    status: Status,
    http: Option<StatusCode>,
}

impl From<Status> for Refused {
    fn from(status: Status) -> Refused {
        Refused { status, http: None }
    }
}

impl Refused {
    fn into_response(self, locale: Locale) -> Response {
        http_errors::response(complete(self.status, locale), self.http)
    }
}

async fn call(grpc: &CertificateGrpc, route: &Route, request: Request) -> Result<Vec<u8>, Refused> {
    let descriptor = method(route.rpc);
    let (mut parts, body) = request.into_parts();
    let client = ClientAddr::from_request_parts(&mut parts, &()).await.ok();
    let limiter = parts.extensions.get::<ClientLimiter>().cloned();
    let input = match route.method {
        RouteMethod::Get => {
            let object = query_object(&descriptor.input(), &parts.uri)?;
            from_json(&descriptor.input(), object.to_string().as_bytes())?
        }
        RouteMethod::Post => {
            json_content_type(&parts.headers)?;
            let request = Request::from_parts(parts, body);
            let bytes = Bytes::from_request(request, &())
                .await
                .map_err(|rejection| {
                    let http = rejection.status();
                    Refused {
                        status: too_large_or_unreadable(http),
                        http: Some(http),
                    }
                })?;
            from_json(&descriptor.input(), &bytes)?
        }
    };
    let context = Extensions { client, limiter };
    let output = match route.rpc {
        "Verify" => unary(&input, context, |r| grpc.verify(r)).await?,
        "BatchVerify" => unary(&input, context, |r| grpc.batch_verify(r)).await?,
        "ListSigningKeys" => unary(&input, context, |r| grpc.list_signing_keys(r)).await?,
        "GetLogCheckpoint" => unary(&input, context, |r| grpc.get_log_checkpoint(r)).await?,
        other => return Err(Status::unimplemented(format!("{other} has no JSON route")).into()),
    };
    let answer = DynamicMessage::decode(descriptor.output(), output.as_slice())
        .map_err(|e| Status::internal(format!("re-reading the answer: {e}")))?;
    serde_json::to_vec(&answer)
        .map_err(|e| Status::internal(format!("writing the answer as JSON: {e}")).into())
}

/// What a gRPC handler reads from a call's extensions: who the client is and its budget (the
/// public HTTP front's, which BatchVerify charges per 50 items).
struct Extensions {
    client: Option<ClientAddr>,
    limiter: Option<ClientLimiter>,
}

/// Calls a gRPC handler with `input` as its typed request.
async fn unary<Req, Res, F, Fut>(
    input: &DynamicMessage,
    context: Extensions,
    handler: F,
) -> Result<Vec<u8>, Status>
where
    Req: Message + Default,
    Res: Message,
    F: FnOnce(tonic::Request<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
{
    let message = Req::decode(input.encode_to_vec().as_slice())
        .map_err(|e| Status::internal(format!("re-reading the request: {e}")))?;
    let mut request = tonic::Request::new(message);
    if let Some(client) = context.client {
        request.extensions_mut().insert(client);
    }
    if let Some(limiter) = context.limiter {
        request.extensions_mut().insert(limiter);
    }
    Ok(handler(request).await?.into_inner().encode_to_vec())
}

/// 415 unless the body says it is JSON (UTF-8, the only encoding proto3 JSON has).
fn json_content_type(headers: &axum::http::HeaderMap) -> Result<(), Refused> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut parts = value.split(';').map(str::trim);
    let essence = parts.next().unwrap_or("");
    let utf8 = parts.all(|p| match p.split_once('=') {
        Some((name, charset)) if name.trim().eq_ignore_ascii_case("charset") => charset
            .trim()
            .trim_matches('"')
            .eq_ignore_ascii_case("utf-8"),
        _ => true,
    });
    if essence.eq_ignore_ascii_case("application/json") && utf8 {
        return Ok(());
    }
    Err(Refused {
        status: tica_server::errors::invalid(
            "Content-Type",
            "send the request as `Content-Type: application/json` (UTF-8)",
        ),
        http: Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
    })
}

fn too_large_or_unreadable(http: StatusCode) -> Status {
    if http == StatusCode::PAYLOAD_TOO_LARGE {
        tica_server::errors::refuse(
            tica_server::errors::ErrorReason::RequestTooLarge,
            "the request body is too large (at most 2 MiB; a PDF at most 1 MiB)",
        )
    } else {
        tica_server::errors::invalid("", "the request body could not be read")
    }
}

/// The message `bytes` hold as proto3 JSON; INVALID_ARGUMENT naming the field otherwise.
fn from_json(
    descriptor: &prost_reflect::MessageDescriptor,
    bytes: &[u8],
) -> Result<DynamicMessage, Status> {
    let options = DeserializeOptions::new().deny_unknown_fields(true);
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let mut track = serde_path_to_error::Track::new();
    let parsed = DynamicMessage::deserialize_with_options(
        descriptor.clone(),
        serde_path_to_error::Deserializer::new(&mut json, &mut track),
        &options,
    );
    let message = match parsed {
        Ok(message) => message,
        Err(error) => {
            let text = error.to_string();
            let mut field = match track.path().to_string() {
                root if root == "." => String::new(),
                path => path,
            };
            // An unknown field is refused before the tracker enters it: name it from the error.
            if let Some(name) = text
                .strip_prefix("unrecognized field name '")
                .and_then(|rest| rest.split_once('\''))
                .map(|(name, _)| name)
            {
                field = if field.is_empty() {
                    name.to_owned()
                } else {
                    format!("{field}.{name}")
                };
            }
            let description = format!("not a {} in proto3 JSON: {text}", descriptor.name());
            if field.is_empty() {
                return Err(tica_server::errors::refuse(
                    tica_server::errors::ErrorReason::InvalidFields,
                    format!("the body is {description}"),
                ));
            }
            let mut violations = Violations::new();
            violations.add(field, description);
            return Err(violations.into_status());
        }
    };
    json.end().map_err(|error| {
        tica_server::errors::refuse(
            tica_server::errors::ErrorReason::InvalidFields,
            format!("the body holds more than one JSON value: {error}"),
        )
    })?;
    Ok(message)
}

/// A GET's query parameters as the JSON object of the request they name: each parameter a
/// scalar field by its JSON or proto name, given once.
fn query_object(
    descriptor: &prost_reflect::MessageDescriptor,
    uri: &axum::http::Uri,
) -> Result<Value, Status> {
    let mut object = Map::new();
    let mut violations = Violations::new();
    for (name, value) in form_pairs(uri)? {
        let field = descriptor
            .get_field_by_json_name(&name)
            .or_else(|| descriptor.get_field_by_name(&name));
        let Some(field) = field.filter(|f| !f.is_list() && !f.is_map()) else {
            violations.add(name, "not a query parameter of this route");
            continue;
        };
        let key = field.json_name().to_owned();
        if object.contains_key(&key) {
            violations.add(name, "given more than once");
            continue;
        }
        let value = match field.kind() {
            Kind::Bool => match value.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    violations.add(name, "true or false");
                    continue;
                }
            },
            Kind::Message(_) => {
                violations.add(name, "not a query parameter of this route");
                continue;
            }
            // Proto3 JSON takes every number (and enum name) as a string too.
            _ => Value::String(value),
        };
        object.insert(key, value);
    }
    violations.into_result()?;
    Ok(Value::Object(object))
}

/// The query's `application/x-www-form-urlencoded` pairs, percent-decoded.
fn form_pairs(uri: &axum::http::Uri) -> Result<Vec<(String, String)>, Status> {
    if uri.query().is_none() {
        return Ok(Vec::new());
    }
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| tica_server::errors::invalid("", format!("the query string: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_names_a_unary_method_of_the_service() {
        for route in ROUTES {
            let m = method(route.rpc);
            assert!(
                !m.is_client_streaming() && !m.is_server_streaming(),
                "{route:?}"
            );
        }
    }
}
