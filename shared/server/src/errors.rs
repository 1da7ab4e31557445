//! Errors as gRPC statuses: precise for bad input, generic for internal failures.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// Collects field violations, then becomes one INVALID_ARGUMENT status carrying a
/// google.rpc.BadRequest detail with every violation.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// No violations yet.
    pub fn new() -> Violations {
        Violations::default()
    }

    /// Records that `field` (a request path such as `teacher.id_number`) is wrong, and why.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Records a violation when `result` is an error.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
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

    /// `Ok(())` when empty, else the INVALID_ARGUMENT status.
    #[allow(clippy::result_large_err)]
    pub fn into_result(self) -> Result<(), Status> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.into_status())
        }
    }

    /// The INVALID_ARGUMENT status; its message lists the first violations for humans.
    pub fn into_status(self) -> Status {
        let mut message = String::from("invalid request: ");
        for (i, v) in self.0.iter().take(3).enumerate() {
            if i > 0 {
                message.push_str("; ");
            }
            message.push_str(&v.field);
            message.push_str(": ");
            message.push_str(&v.description);
        }
        if self.0.len() > 3 {
            message.push_str(&format!(" (and {} more)", self.0.len() - 3));
        }
        Status::with_error_details(
            Code::InvalidArgument,
            message,
            ErrorDetails::with_bad_request(self.0),
        )
    }
}

/// INVALID_ARGUMENT for one field.
pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Status {
    let mut v = Violations::new();
    v.add(field, description);
    v.into_status()
}

/// NOT_FOUND naming the resource.
pub fn not_found(resource: &str) -> Status {
    Status::not_found(format!("{resource} not found"))
}

/// ALREADY_EXISTS naming the resource.
pub fn already_exists(resource: &str) -> Status {
    Status::already_exists(format!("{resource} already exists"))
}

/// FAILED_PRECONDITION with a message saying what must be true first.
pub fn failed_precondition(message: impl Into<String>) -> Status {
    Status::failed_precondition(message)
}

/// INTERNAL: logs the cause in full with a reference, returns only the reference.
pub fn internal(cause: &dyn std::fmt::Display) -> Status {
    let reference = uuid::Uuid::new_v4().simple().to_string();
    let reference = &reference[..12];
    tracing::error!(error = %cause, reference, "internal error");
    Status::internal(format!(
        "internal error (reference {reference}); the operators have the details"
    ))
}

/// UNAVAILABLE for a passing outage (`message` for the client), the cause logged with a
/// reference as [`internal`] does.
pub fn unavailable(cause: &dyn std::fmt::Display, message: &str) -> Status {
    let reference = uuid::Uuid::new_v4().simple().to_string();
    let reference = &reference[..12];
    tracing::warn!(error = %cause, reference, "unavailable");
    Status::unavailable(format!("{message} (reference {reference})"))
}

/// The field violations of a status, for tests and clients.
pub fn field_violations(status: &Status) -> Vec<(String, String)> {
    status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_travel_as_bad_request_details() {
        let mut v = Violations::new();
        v.add("teacher.id_number", "bad check character");
        v.add("teacher.school", "required");
        let status = v.into_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            field_violations(&status),
            vec![
                (
                    "teacher.id_number".to_owned(),
                    "bad check character".to_owned()
                ),
                ("teacher.school".to_owned(), "required".to_owned())
            ]
        );
        assert!(
            status
                .message()
                .contains("teacher.id_number: bad check character")
        );
    }

    #[test]
    fn internal_errors_return_a_reference_not_the_cause() {
        let status = internal(&"connection refused to 10.0.0.3 with password hunter2");
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
        assert!(status.message().contains("reference"));
    }
}
