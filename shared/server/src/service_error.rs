//! One error type for the services' logic, and its one mapping to gRPC statuses.
//!
//! Each service names it after itself (`pub type ServiceError = ServiceError`).

use crate::errors::{self, ErrorReason};

/// The result type of a service's logic.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Everything a service's logic can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Bad input: one entry per field, as (request path, what is wrong).
    #[error("invalid request")]
    Invalid(Vec<(String, String)>),
    /// The resource does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The resource (or its unique key) exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// The resource is not in a state that allows the call.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Outside the caller's jurisdiction, or the caller's role may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// A concurrent change won; the caller may retry.
    #[error("{0}")]
    Conflict(String),
    /// The caller asked too often (rate limits against enumeration).
    #[error("{0}")]
    ResourceExhausted(String),
    /// Another service (or the database) is out of reach for a moment; the caller may retry.
    #[error("{0}")]
    Unavailable(String),
    /// The database failed.
    #[error("database error: {0}")]
    Storage(#[from] sqlx::Error),
    /// Anything else unexpected.
    #[error("{0}")]
    Internal(String),
    /// A refusal with a precise reason from `errors.proto`, which also fixes its code.
    #[error("{}", .0.message())]
    Refused(Box<errors::Refusal>),
}

impl From<tica_storage::StorageError> for ServiceError {
    fn from(error: tica_storage::StorageError) -> ServiceError {
        match error {
            tica_storage::StorageError::Sqlx(e) => ServiceError::Storage(e),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

/// The one reading of another service's refusal: what the caller could have caused keeps its
/// meaning (a missing or unreachable resource, a refused token, a value upstream would not
/// take, a state that does not allow the call, a lost race to retry, a moment's outage);
/// anything else is this suite's fault, logged and answered as INTERNAL.
impl From<tica_client::UpstreamError> for ServiceError {
    fn from(error: tica_client::UpstreamError) -> ServiceError {
        use tica_client::Refusal;
        match error.refusal {
            Refusal::NotFound => ServiceError::NotFound(error.what),
            Refusal::PermissionDenied => ServiceError::PermissionDenied(error.to_string()),
            Refusal::InvalidArgument | Refusal::FailedPrecondition => {
                ServiceError::FailedPrecondition(error.to_string())
            }
            Refusal::Conflict => ServiceError::Conflict(error.to_string()),
            Refusal::Unavailable => ServiceError::Unavailable(format!(
                "{} is unavailable for a moment; retry ({})",
                error.what, error.message
            )),
            Refusal::Internal => ServiceError::Internal(format!("asking for {error}")),
        }
    }
}

impl ServiceError {
    /// A refusal for `reason` (its code is the reason's own), concerning the resource
    /// `resource` (a resource name, e.g. `certificates/…`; empty for none).
    pub fn refused(
        reason: errors::ErrorReason,
        resource: impl Into<String>,
        message: impl Into<String>,
    ) -> ServiceError {
        let resource = resource.into();
        let refusal = errors::Refusal::new(reason, message);
        ServiceError::Refused(Box::new(if resource.is_empty() {
            refusal
        } else {
            refusal.resource(resource)
        }))
    }

    /// The reason this error travels under (`errors.proto`): a refusal's own, else its
    /// variant's generic one.
    pub fn reason(&self) -> ErrorReason {
        match self {
            ServiceError::Refused(refusal) => refusal.reason(),
            ServiceError::Invalid(_) => ErrorReason::InvalidFields,
            ServiceError::NotFound(_) => ErrorReason::ResourceNotFound,
            ServiceError::AlreadyExists(_) => ErrorReason::ResourceAlreadyExists,
            ServiceError::FailedPrecondition(_) => ErrorReason::PreconditionNotMet,
            ServiceError::PermissionDenied(_) => ErrorReason::OutsideScope,
            ServiceError::Conflict(_) => ErrorReason::ConcurrentChange,
            ServiceError::ResourceExhausted(_) => ErrorReason::RateLimited,
            ServiceError::Unavailable(_) => ErrorReason::Unavailable,
            ServiceError::Storage(e) if connection_lost(e) => ErrorReason::Unavailable,
            ServiceError::Storage(_) | ServiceError::Internal(_) => ErrorReason::Internal,
        }
    }

    /// An INVALID_ARGUMENT for one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ServiceError {
        ServiceError::Invalid(vec![(field.into(), message.into())])
    }
}

/// Collects field violations during validation.
#[derive(Debug, Default)]
pub struct Problems(Vec<(String, String)>);

impl Problems {
    /// None yet.
    pub fn new() -> Problems {
        Problems::default()
    }

    /// Records that `field` is wrong.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }

    /// Records the error of `result`, if any, and passes its value on.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: std::result::Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error.to_string());
                None
            }
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when empty, else [`ServiceError::Invalid`].
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Invalid(self.0))
        }
    }
}

/// Whether a storage error is the database being out of reach (a restart, a failover, a full
/// pool) rather than a fault of the call: the client should retry, so it gets UNAVAILABLE, the
/// code gRPC clients retry by default, not INTERNAL. SQLSTATE class 08 is "connection
/// exception"; 57P01–57P03 are the server shutting down or starting up.
pub fn connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(e) => e
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(error: ServiceError) -> tonic::Status {
        match error {
            ServiceError::Invalid(problems) => {
                let mut violations = errors::Violations::new();
                for (field, message) in problems {
                    violations.add(field, message);
                }
                violations.into_status()
            }
            ServiceError::NotFound(what) => errors::not_found(&what),
            ServiceError::AlreadyExists(message) => {
                errors::refuse(ErrorReason::ResourceAlreadyExists, message)
            }
            ServiceError::FailedPrecondition(message) => errors::failed_precondition(message),
            ServiceError::PermissionDenied(message) => {
                errors::refuse(ErrorReason::OutsideScope, message)
            }
            ServiceError::Conflict(message) => errors::concurrent_change(message),
            ServiceError::ResourceExhausted(message) => {
                errors::refuse(ErrorReason::RateLimited, message)
            }
            ServiceError::Unavailable(message) => errors::retry_soon(message),
            ServiceError::Storage(error) if connection_lost(&error) => {
                errors::unavailable(&error, "the database is unavailable for a moment; retry")
            }
            ServiceError::Storage(error) => errors::internal(&error),
            ServiceError::Internal(message) => errors::internal(&message),
            ServiceError::Refused(refusal) => refusal.into_status(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The soak's failover (issue 16): calls in flight when PostgreSQL restarted answered
    /// INTERNAL; a client only knows to retry UNAVAILABLE.
    #[test]
    fn a_database_out_of_reach_is_unavailable_and_a_real_fault_stays_internal() {
        for lost in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
        ] {
            let status = tonic::Status::from(ServiceError::Storage(lost));
            assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
            assert!(status.message().contains("retry"), "{status:?}");
        }
        let status = tonic::Status::from(ServiceError::Storage(sqlx::Error::RowNotFound));
        assert_eq!(status.code(), tonic::Code::Internal);
    }

    fn through(code: tonic::Code) -> tonic::Status {
        let refused = tica_client::UpstreamError::from_status(
            &tonic::Status::new(code, "upstream said so"),
            "batches/640104-2026",
        );
        tonic::Status::from(ServiceError::from(refused))
    }

    /// Issue 19, point 2: one reading of an upstream refusal for every service. Before, three
    /// copies disagreed: only one kept ABORTED retryable, and an upstream outage reached the
    /// caller as INTERNAL, which clients do not retry.
    #[test]
    fn an_upstream_outage_or_lost_race_stays_retryable_for_the_caller() {
        for code in [
            tonic::Code::Unavailable,
            tonic::Code::DeadlineExceeded,
            tonic::Code::ResourceExhausted,
        ] {
            assert_eq!(through(code).code(), tonic::Code::Unavailable, "{code:?}");
        }
        assert_eq!(through(tonic::Code::Aborted).code(), tonic::Code::Aborted);
    }

    #[test]
    fn an_upstream_refusal_the_caller_caused_keeps_its_meaning() {
        assert_eq!(through(tonic::Code::NotFound).code(), tonic::Code::NotFound);
        for code in [tonic::Code::PermissionDenied, tonic::Code::Unauthenticated] {
            let status = through(code);
            assert_eq!(status.code(), tonic::Code::PermissionDenied, "{code:?}");
            assert_eq!(status.message(), "batches/640104-2026: upstream said so");
        }
        for code in [
            tonic::Code::InvalidArgument,
            tonic::Code::FailedPrecondition,
        ] {
            assert_eq!(
                through(code).code(),
                tonic::Code::FailedPrecondition,
                "{code:?}"
            );
        }
    }

    #[test]
    fn a_fault_upstream_is_internal_and_its_message_is_not_passed_on() {
        let status = through(tonic::Code::Internal);
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(!status.message().contains("upstream said so"), "{status:?}");
    }
}
