//! What a refusal from another service means to the one that called it.

/// What kind of refusal an upstream answered: the gRPC codes grouped by what the caller can do
/// about them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// NOT_FOUND: the resource is missing (or outside the caller's scope, which upstream
    /// answers alike).
    NotFound,
    /// PERMISSION_DENIED or UNAUTHENTICATED: the forwarded token may not do this.
    PermissionDenied,
    /// INVALID_ARGUMENT: upstream refused a value the caller gave.
    InvalidArgument,
    /// FAILED_PRECONDITION or ALREADY_EXISTS: the upstream resource is not in a state that allows
    /// the call.
    FailedPrecondition,
    /// ABORTED: a concurrent change won upstream; the whole step may be retried.
    Conflict,
    /// UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED: upstream is out of reach or busy
    /// for a moment; the caller may retry.
    Unavailable,
    /// Anything else: a fault upstream, or a broken answer.
    Internal,
}

impl Refusal {
    /// The kind of refusal `code` is.
    pub fn of(code: tonic::Code) -> Refusal {
        use tonic::Code;
        match code {
            Code::NotFound => Refusal::NotFound,
            Code::PermissionDenied | Code::Unauthenticated => Refusal::PermissionDenied,
            Code::InvalidArgument => Refusal::InvalidArgument,
            Code::FailedPrecondition | Code::AlreadyExists => Refusal::FailedPrecondition,
            Code::Aborted => Refusal::Conflict,
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => {
                Refusal::Unavailable
            }
            _ => Refusal::Internal,
        }
    }
}

/// A call to another service that did not answer as asked.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct UpstreamError {
    /// What kind of refusal.
    pub refusal: Refusal,
    /// What was asked for, e.g. `batches/640104-2026` or "the teachers of 640104".
    pub what: String,
    /// Upstream's message (never a credential; upstream writes no personal data in messages).
    pub message: String,
}

impl UpstreamError {
    /// `status`, answered when asking for `what`.
    pub fn from_status(status: &tonic::Status, what: impl Into<String>) -> UpstreamError {
        UpstreamError {
            refusal: Refusal::of(status.code()),
            what: what.into(),
            message: status.message().to_owned(),
        }
    }

    /// An answer that broke the API's contract (a repeated page token, a missing field).
    pub fn broken(what: impl Into<String>, message: impl Into<String>) -> UpstreamError {
        UpstreamError {
            refusal: Refusal::Internal,
            what: what.into(),
            message: message.into(),
        }
    }
}

/// Reads a client call's outcome: the message, or an [`UpstreamError`] naming what was asked.
pub trait Upstream<T> {
    /// The answer's message, or the refusal when asking for `what`.
    fn upstream(self, what: &str) -> Result<T, UpstreamError>;
}

impl<T> Upstream<T> for Result<tonic::Response<T>, tonic::Status> {
    fn upstream(self, what: &str) -> Result<T, UpstreamError> {
        self.map(tonic::Response::into_inner)
            .map_err(|status| UpstreamError::from_status(&status, what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn every_code_a_caller_may_retry_reads_as_unavailable_or_conflict() {
        assert_eq!(Refusal::of(Code::Unavailable), Refusal::Unavailable);
        assert_eq!(Refusal::of(Code::DeadlineExceeded), Refusal::Unavailable);
        assert_eq!(Refusal::of(Code::ResourceExhausted), Refusal::Unavailable);
        assert_eq!(Refusal::of(Code::Aborted), Refusal::Conflict);
    }

    #[test]
    fn refusals_the_caller_caused_keep_their_meaning() {
        assert_eq!(Refusal::of(Code::NotFound), Refusal::NotFound);
        assert_eq!(
            Refusal::of(Code::Unauthenticated),
            Refusal::PermissionDenied
        );
        assert_eq!(
            Refusal::of(Code::PermissionDenied),
            Refusal::PermissionDenied
        );
        assert_eq!(Refusal::of(Code::InvalidArgument), Refusal::InvalidArgument);
        assert_eq!(
            Refusal::of(Code::AlreadyExists),
            Refusal::FailedPrecondition
        );
        assert_eq!(
            Refusal::of(Code::FailedPrecondition),
            Refusal::FailedPrecondition
        );
    }

    #[test]
    fn faults_upstream_read_as_internal() {
        for code in [
            Code::Internal,
            Code::Unknown,
            Code::DataLoss,
            Code::Unimplemented,
        ] {
            assert_eq!(Refusal::of(code), Refusal::Internal, "{code:?}");
        }
    }

    #[test]
    fn a_refusal_names_what_was_asked_and_keeps_upstreams_message() {
        let call: Result<tonic::Response<()>, _> =
            Err(tonic::Status::permission_denied("outside 640104"));
        let error = call.upstream("batches/640105-2026").unwrap_err();
        assert_eq!(error.refusal, Refusal::PermissionDenied);
        assert_eq!(error.to_string(), "batches/640105-2026: outside 640104");
    }
}
