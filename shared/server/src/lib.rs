//! The gRPC server kit every TICA service shares.
//!
//! - [`GrpcServer`]: hosts one or more services with gRPC health checking, server reflection,
//!   the [`tica_auth::AuthLayer`], per-request tracing spans, and graceful shutdown.
//! - [`errors`]: the one mapping from service errors to `tonic::Status`, with google.rpc
//!   BadRequest field violations for invalid input; internal causes are logged, never returned.
//! - [`paging`]: opaque, filter-bound page tokens for keyset pagination.
//! - [`proto_time`]: timestamps and dates between storage, `time` and proto.
//! - [`names`]: parsing resource names such as `schools/{code}`.
//! - [`metrics`]: the Prometheus recorder, its `/metrics` text, and per-RPC call metrics.
//! - [`process`]: what every service binary shares: admin port, drain delay, migrate-only,
//!   running gRPC (and a public HTTP front) until SIGTERM.
//! - [`edge`]: the public edge: client addresses behind trusted proxies, per-client rate
//!   limits on the public HTTP front and the public gRPC methods, the public HTTP front's accept
//!   loop (timeouts, connection caps, body limit, security headers).
//! - [`tls`]: TLS on the gRPC port and the public front, mutual TLS between services, and
//!   plaintext only on loopback.
//! - [`kit`]: what every service's logic shares: the caller's [`Ctx`] (with the token it
//!   forwards and the audit entries it writes), [`retry_conflicts`] for lost races and
//!   [`check_request_id`] for safe retries (AIP-155).

#![deny(missing_docs)]

pub mod edge;
pub mod errors;
pub mod http_errors;
pub mod kit;
pub mod metrics;
pub mod names;
pub mod paging;
pub mod process;
pub mod proto_time;
mod serve;
pub mod service_error;
pub mod tls;

pub use errors::Violations;
pub use kit::{Ctx, check_request_id, retry_conflicts};
pub use serve::{GrpcServer, RunningServer, shutdown_signal};
pub use service_error::{Problems, ServiceError};

/// The audit trail's view of a caller.
pub fn actor(caller: &tica_auth::Caller) -> tica_storage::audit::Actor {
    tica_storage::audit::Actor {
        subject: caller.subject.clone(),
        role: caller.role.as_str().to_owned(),
        acting_for: caller.acting_for(),
    }
}

/// An audit trail entry as every service's `ListAuditEvents` shows it.
pub fn audit_to_proto(
    e: &tica_storage::audit::AuditEvent,
) -> tica_proto::tica::common::v1::AuditEvent {
    use tica_proto::tica::common::v1 as common;
    common::AuditEvent {
        name: format!("auditEvents/{}", e.id),
        create_time: Some(proto_time::timestamp(e.create_micros)),
        actor: Some(common::Actor {
            subject: e.actor_subject.clone(),
            role: e.actor_role.clone(),
            acting_for: e.acting_for.clone(),
        }),
        method: e.method.clone(),
        resource: e.resource.clone(),
        change_json: e.change_json.clone(),
    }
}

/// The compression the suite's servers accept and offer (RFC 1952 gzip; `grpc-encoding`).
pub const GZIP: tonic::codec::CompressionEncoding = tonic::codec::CompressionEncoding::Gzip;

/// The largest answer a server sends (a county's lists and exports, page by page).
pub const MAX_ENCODING: usize = 64 << 20;

/// A generated tonic server with the suite's transport settings: a request compressed with gzip
/// is accepted, an answer is gzip-compressed when the client accepts it (clients that do not
/// ask get plain answers, as the suite's own clients do), answers up to [`MAX_ENCODING`], and
/// requests up to `max_decoding` bytes (each service's own limit, documented in its proto).
#[macro_export]
macro_rules! transport_settings {
    ($server:expr, max_decoding = $max:expr) => {
        $server
            .accept_compressed($crate::GZIP)
            .send_compressed($crate::GZIP)
            .max_decoding_message_size($max)
            .max_encoding_message_size($crate::MAX_ENCODING)
    };
}
