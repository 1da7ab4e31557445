//! A service's refusal as the sentence the CLI prints: what it was doing (the error's context),
//! why in words a person can act on, the fields at fault, and the gRPC code for the record —
//! never tonic's debug form of a `Status` (`status: Unauthenticated, message: …, details: [..],
//! metadata: {..}`), whatever command met it.

use tonic_types::StatusExt;

/// `error` as one line: its contexts, outermost first, then the refusal (if a gRPC status is
/// in its chain) as a sentence.
pub fn explain(error: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for cause in error.chain() {
        if let Some(status) = cause.downcast_ref::<tonic::Status>() {
            parts.push(sentence(status));
            break;
        }
        parts.push(cause.to_string());
    }
    parts.join(": ")
}

/// Why a status refused, in words, ending with its code, e.g. `the token was not accepted
/// (expired): mint a fresh one … [UNAUTHENTICATED]`.
pub fn sentence(status: &tonic::Status) -> String {
    use tonic::Code;
    let message = status.message().trim();
    let said = if message.is_empty() {
        String::new()
    } else {
        format!(" ({message})")
    };
    let mut why = match status.code() {
        Code::Unauthenticated => format!(
            "the token was not accepted{said}: mint a fresh one (`tica token mint`) or check \
             TICA_TOKEN and --token"
        ),
        Code::PermissionDenied => {
            format!("your token may not do this{said}: it acts for another role or jurisdiction")
        }
        Code::NotFound => format!("not found{said}"),
        Code::Unavailable => format!(
            "the service is out of reach or shutting down{said}: check the address and try \
             again in a moment"
        ),
        Code::ResourceExhausted => format!("too many requests{said}: wait and try again"),
        Code::DeadlineExceeded => format!("the service took too long{said}: try again"),
        Code::Internal | Code::Unknown | Code::DataLoss => {
            format!("the service failed{said}: nothing you sent caused it; its log has the details")
        }
        _ if message.is_empty() => "refused".to_owned(),
        _ => message.to_owned(),
    };
    if let Ok(details) = status.check_error_details()
        && let Some(bad) = details.bad_request()
    {
        for v in &bad.field_violations {
            why.push_str(&format!("; {}: {}", v.field, v.description));
        }
    }
    format!(
        "{why} [{}]",
        tica_server::http_errors::code_name(status.code())
    )
}

#[cfg(test)]
mod tests {
    use anyhow::Context;
    use tonic_types::{ErrorDetails, StatusExt};

    use super::*;

    #[test]
    fn a_bad_token_reads_as_a_sentence_that_says_what_to_do() {
        let error = Err::<(), _>(tonic::Status::unauthenticated("the token has expired"))
            .context("ListTeachers")
            .unwrap_err();
        assert_eq!(
            explain(&error),
            "ListTeachers: the token was not accepted (the token has expired): mint a fresh one \
             (`tica token mint`) or check TICA_TOKEN and --token [UNAUTHENTICATED]"
        );
    }

    #[test]
    fn field_violations_are_named_and_no_debug_form_is_printed() {
        let mut details = ErrorDetails::new();
        details.add_bad_request_violation("teacher.id_number", "18 characters, check digit last");
        let status = tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "1 field is invalid",
            details,
        );
        let text = explain(&anyhow::Error::new(status).context("CreateTeacher"));
        assert_eq!(
            text,
            "CreateTeacher: 1 field is invalid; teacher.id_number: 18 characters, check digit \
             last [INVALID_ARGUMENT]"
        );
        assert!(
            !text.contains("metadata") && !text.contains("status:"),
            "{text}"
        );
    }

    #[test]
    fn an_error_without_a_status_prints_its_contexts_as_before() {
        let error = anyhow::anyhow!("no such file").context("reading teachers.csv");
        assert_eq!(explain(&error), "reading teachers.csv: no such file");
    }
}
