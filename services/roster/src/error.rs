//! The roster's error type: the shared [`tica_server::ServiceError`], with its one mapping to
//! gRPC statuses.

pub use tica_server::service_error::{Problems, Result, ServiceError as RosterError};
