//! Refusals as JSON over HTTP: a gRPC status written as Google's REST APIs write a
//! `google.rpc.Status` (`{"error": {"code", "status", "message", "details": [{"@type": …}]}}`),
//! with the HTTP status Google maps its code to. One writer for every JSON answer the suite
//! gives over HTTP: the certificate service's JSON API, and the public edge's own refusals
//! (rate limit, body cap, timeout) to programs ([`crate::edge`]).

use std::collections::HashMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// `status` (already completed: [`crate::errors::complete`]) as a JSON answer: its HTTP status
/// is `http` when given (a refusal that happened before any message: 408, 413, 415), else the
/// code's; `Retry-After` in whole seconds when it carries a RetryInfo; never cached.
pub fn response(status: Status, http: Option<StatusCode>) -> Response {
    let http = http.unwrap_or_else(|| http_status(status.code()));
    let mut response = (
        http,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        error_body(&status, http).to_string(),
    )
        .into_response();
    if let Some(delay) = status.get_details_retry_info().and_then(|r| r.retry_delay) {
        let seconds = (delay.as_secs() + u64::from(delay.subsec_nanos() > 0)).max(1);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The HTTP status of a gRPC code, as Google's APIs map them
/// (<https://cloud.google.com/apis/design/errors#handling_errors>).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).expect("499 is a status code"),
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The name google.rpc.Code gives `code` (`INVALID_ARGUMENT`).
pub fn code_name(code: Code) -> &'static str {
    CODE_NAMES[code as usize]
}

/// Every google.rpc.Code name, indexed by code (metrics' labels, the OpenAPI document's enum).
pub const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

const TYPE_PREFIX: &str = "type.googleapis.com/google.rpc.";

/// The google.rpc.Status of `status` as Google's REST APIs write it, under `error`.
pub fn error_body(status: &Status, http: StatusCode) -> Value {
    json!({
        "error": {
            "code": http.as_u16(),
            "status": code_name(status.code()),
            "message": status.message(),
            "details": details(status),
        }
    })
}

/// The error details as proto3 JSON `Any`s (DebugInfo is never shown to the public).
pub fn details(status: &Status) -> Vec<Value> {
    let d = status.get_error_details();
    let mut out = Vec::new();
    let typed = |name: &str, mut body: Value| {
        body.as_object_mut().expect("an object").insert(
            "@type".into(),
            Value::String(format!("{TYPE_PREFIX}{name}")),
        );
        body
    };
    if let Some(info) = d.error_info() {
        let metadata: HashMap<&String, &String> = info.metadata.iter().collect();
        out.push(typed(
            "ErrorInfo",
            json!({"reason": info.reason, "domain": info.domain, "metadata": metadata}),
        ));
    }
    if let Some(m) = d.localized_message() {
        out.push(typed(
            "LocalizedMessage",
            json!({"locale": m.locale, "message": m.message}),
        ));
    }
    if let Some(delay) = d.retry_info().and_then(|r| r.retry_delay) {
        out.push(typed(
            "RetryInfo",
            json!({"retryDelay": duration_json(delay)}),
        ));
    }
    if let Some(bad) = d.bad_request() {
        let violations: Vec<Value> = bad
            .field_violations
            .iter()
            .map(|v| json!({"field": v.field, "description": v.description}))
            .collect();
        out.push(typed("BadRequest", json!({"fieldViolations": violations})));
    }
    if let Some(failure) = d.precondition_failure() {
        let violations: Vec<Value> = failure
            .violations
            .iter()
            .map(|v| json!({"type": v.r#type, "subject": v.subject, "description": v.description}))
            .collect();
        out.push(typed(
            "PreconditionFailure",
            json!({"violations": violations}),
        ));
    }
    if let Some(r) = d.resource_info() {
        out.push(typed(
            "ResourceInfo",
            json!({
                "resourceType": r.resource_type,
                "resourceName": r.resource_name,
                "owner": r.owner,
                "description": r.description,
            }),
        ));
    }
    if let Some(q) = d.quota_failure() {
        let violations: Vec<Value> = q
            .violations
            .iter()
            .map(|v| json!({"subject": v.subject, "description": v.description}))
            .collect();
        out.push(typed("QuotaFailure", json!({"violations": violations})));
    }
    if let Some(r) = d.request_info() {
        out.push(typed(
            "RequestInfo",
            json!({"requestId": r.request_id, "servingData": r.serving_data}),
        ));
    }
    if let Some(help) = d.help() {
        let links: Vec<Value> = help
            .links
            .iter()
            .map(|l| json!({"description": l.description, "url": l.url}))
            .collect();
        out.push(typed("Help", json!({"links": links})));
    }
    out
}

/// A google.protobuf.Duration in proto3 JSON: `"2s"`, `"1.500s"`.
pub fn duration_json(d: std::time::Duration) -> String {
    match d.subsec_nanos() {
        0 => format!("{}s", d.as_secs()),
        n if n % 1_000_000 == 0 => format!("{}.{:03}s", d.as_secs(), n / 1_000_000),
        n if n % 1_000 == 0 => format!("{}.{:06}s", d.as_secs(), n / 1_000),
        n => format!("{}.{n:09}s", d.as_secs()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_googles_http_statuses() {
        assert_eq!(http_status(Code::InvalidArgument), StatusCode::BAD_REQUEST);
        assert_eq!(http_status(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(
            http_status(Code::ResourceExhausted),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            http_status(Code::Unavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(http_status(Code::Cancelled).as_u16(), 499);
        for (i, name) in CODE_NAMES.iter().enumerate() {
            assert_eq!(code_name(Code::from_i32(i as i32)), *name);
        }
    }

    #[test]
    fn durations_are_written_as_proto3_json_does() {
        use std::time::Duration;
        assert_eq!(duration_json(Duration::from_secs(2)), "2s");
        assert_eq!(duration_json(Duration::from_millis(1500)), "1.500s");
        assert_eq!(duration_json(Duration::from_micros(1)), "0.000001s");
        assert_eq!(duration_json(Duration::from_nanos(1)), "0.000000001s");
    }
}
