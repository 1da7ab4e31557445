//! Errors as gRPC statuses: precise for bad input, generic for internal failures, and every
//! one with a `google.rpc.ErrorInfo` whose reason a program can act on
//! (`proto/tica/common/v1/errors.proto` is the table of reasons).

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation, StatusExt};

pub use tica_proto::tica::common::v1::ErrorReason;

pub use tica_auth::ERROR_DOMAIN;

/// How long a client should wait before retrying a call that lost a race or met an outage.
const RETRY_SOON: Duration = Duration::from_secs(1);

/// The name a reason travels under in `ErrorInfo.reason`: the enum value's name without its
/// `ERROR_REASON_` prefix, e.g. `CERTIFICATE_ALREADY_REVOKED`.
pub fn reason_name(reason: ErrorReason) -> &'static str {
    let name = reason.as_str_name();
    name.strip_prefix("ERROR_REASON_").unwrap_or(name)
}

/// The reason `ErrorInfo.reason` names, if TICA has it.
pub fn reason_named(name: &str) -> Option<ErrorReason> {
    ErrorReason::from_str_name(&format!("ERROR_REASON_{name}"))
        .filter(|r| *r != ErrorReason::Unspecified)
}

/// The gRPC code a reason always travels with (the brackets in `errors.proto`); `None` for
/// [`ErrorReason::Unclassified`], which keeps whatever code it was sent with.
pub fn reason_code(reason: ErrorReason) -> Option<Code> {
    use ErrorReason as R;
    Some(match reason {
        R::Unspecified | R::Unclassified => return None,
        R::InvalidFields => Code::InvalidArgument,
        R::ResourceNotFound => Code::NotFound,
        R::ResourceAlreadyExists => Code::AlreadyExists,
        R::PreconditionNotMet
        | R::BatchState
        | R::DeadlinePassed
        | R::SelectionRefused
        | R::EvidenceMissing
        | R::EvidenceFrozen
        | R::ExcellentQuotaUsed
        | R::ResultsLocked
        | R::HoursRevisionReused
        | R::CertificateAlreadyRevoked
        | R::CertificateRevoked
        | R::RunEnded
        | R::CursorNotInLog
        | R::ApiClientRevoked => Code::FailedPrecondition,
        R::OutsideScope | R::RoleNotAllowed => Code::PermissionDenied,
        R::ConcurrentChange | R::EtagMismatch => Code::Aborted,
        R::RateLimited => Code::ResourceExhausted,
        R::Unavailable => Code::Unavailable,
        R::Internal => Code::Internal,
        R::RequestTooLarge => Code::OutOfRange,
        R::MethodNotServed => Code::Unimplemented,
        R::DeadlineExceeded => Code::DeadlineExceeded,
        R::Cancelled => Code::Cancelled,
        R::TokenMissing | R::TokenExpired | R::TokenInvalid => Code::Unauthenticated,
    })
}

/// The reason for a status that came without one (the transport's own refusals).
pub fn generic_reason(code: Code) -> ErrorReason {
    use ErrorReason as R;
    match code {
        Code::InvalidArgument => R::InvalidFields,
        Code::NotFound => R::ResourceNotFound,
        Code::AlreadyExists => R::ResourceAlreadyExists,
        Code::FailedPrecondition => R::PreconditionNotMet,
        Code::PermissionDenied => R::OutsideScope,
        Code::Aborted => R::ConcurrentChange,
        Code::ResourceExhausted => R::RateLimited,
        Code::Unavailable => R::Unavailable,
        Code::Internal | Code::DataLoss => R::Internal,
        Code::OutOfRange => R::RequestTooLarge,
        Code::Unimplemented => R::MethodNotServed,
        Code::DeadlineExceeded => R::DeadlineExceeded,
        Code::Cancelled => R::Cancelled,
        Code::Unauthenticated => R::TokenInvalid,
        Code::Ok | Code::Unknown => R::Unclassified,
    }
}

/// A language TICA explains its refusals in (`google.rpc.LocalizedMessage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Locale {
    /// Simplified Chinese, the default.
    ZhCn,
    /// English.
    En,
}

impl Locale {
    /// The BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::En => "en",
        }
    }

    /// The first language of an `accept-language` value TICA speaks (quality weights are
    /// honoured); Chinese when it names none.
    pub fn from_accept_language(header: Option<&str>) -> Locale {
        let mut ranked: Vec<(f32, usize, Locale)> = Vec::new();
        for (position, item) in header.unwrap_or("").split(',').enumerate() {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let locale = match tag.split('-').next() {
                Some("zh") => Locale::ZhCn,
                Some("en") => Locale::En,
                _ => continue,
            };
            if quality > 0.0 {
                ranked.push((quality, position, locale));
            }
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.first().map_or(Locale::ZhCn, |r| r.2)
    }
}

/// What a reason means, for the person in front of the client, in `locale`.
pub fn explain(reason: ErrorReason, locale: Locale) -> &'static str {
    use ErrorReason as R;
    let (zh, en) = match reason {
        R::Unspecified | R::Unclassified => ("请求未能完成。", "The call could not be completed."),
        R::InvalidFields => (
            "请求中有字段不正确，请逐项修改后重试。",
            "Some fields of the request are wrong; correct each one and retry.",
        ),
        R::ResourceNotFound => (
            "所请求的对象不存在。",
            "The requested resource does not exist.",
        ),
        R::ResourceAlreadyExists => ("该对象已存在。", "The resource exists already."),
        R::PreconditionNotMet => (
            "当前状态不允许此操作。",
            "The resource's current state does not allow this.",
        ),
        R::OutsideScope => (
            "该对象不在您的管辖范围内。",
            "The resource is outside the area you act for.",
        ),
        R::ConcurrentChange => (
            "数据刚被他人修改，请重试。",
            "Someone else changed the data just now; retry.",
        ),
        R::EtagMismatch => (
            "您读取后该记录已被他人修改，未作任何更改。请重新读取，在最新内容上修改后再提交。",
            "Someone changed the resource after you read it; nothing was written. Read it again, redo your change on what it is now, and send that.",
        ),
        R::RateLimited => (
            "请求过于频繁，请稍后再试。",
            "Too many requests; try again later.",
        ),
        R::Unavailable => (
            "服务暂时不可用，请稍后重试。",
            "The service is unavailable for a moment; retry shortly.",
        ),
        R::Internal => (
            "系统内部错误，请将参考编号告知运维人员。",
            "An internal error; give the operators its reference.",
        ),
        R::RequestTooLarge => (
            "请求过大，请分批提交。",
            "The request is too large; send it in smaller parts.",
        ),
        R::MethodNotServed => (
            "此服务不提供该方法。",
            "This server does not serve that method.",
        ),
        R::DeadlineExceeded => ("请求超时。", "The call's deadline passed."),
        R::Cancelled => ("请求已取消。", "The call was cancelled."),
        R::TokenMissing => ("缺少访问令牌。", "The call needs a bearer token."),
        R::TokenExpired => (
            "访问令牌已过期，请重新获取。",
            "The token has expired; get a new one.",
        ),
        R::TokenInvalid => ("访问令牌无效。", "The token is not valid."),
        R::RoleNotAllowed => ("您的角色无权执行此操作。", "Your role may not do this."),
        R::ApiClientRevoked => (
            "该接入客户端已被注销。",
            "This API client has been revoked.",
        ),
        R::BatchState => (
            "该批次当前的状态不允许此操作。",
            "The batch's state does not allow this.",
        ),
        R::DeadlinePassed => ("已过截止日期。", "The deadline has passed."),
        R::SelectionRefused => (
            "选择已锁定或该教师已退出，不能更改。",
            "The selection is locked or the participant withdrawn.",
        ),
        R::EvidenceMissing => (
            "请先上传所需的佐证材料。",
            "Attach the required evidence first.",
        ),
        R::EvidenceFrozen => (
            "作品已提交，佐证材料不能再更改。",
            "The work is handed in; its evidence is frozen.",
        ),
        R::ExcellentQuotaUsed => (
            "本校“优秀”名额已用完。",
            "The school's quota of excellent grades is used up.",
        ),
        R::ResultsLocked => ("学校的考核结果已锁定。", "The school's results are locked."),
        R::HoursRevisionReused => (
            "该学时记录的版本号已用于其他内容，请使用更高的版本号。",
            "That revision of the hours record was stored with other content; send a higher revision.",
        ),
        R::CertificateAlreadyRevoked => (
            "该证书已撤销，撤销不可更改。",
            "The certificate is revoked already; revocation is final.",
        ),
        R::CertificateRevoked => (
            "该证书已撤销，不提供下载。",
            "The certificate was revoked: it is not offered for download.",
        ),
        R::RunEnded => (
            "该任务已结束，无需取消。",
            "The job has ended: there is nothing to cancel.",
        ),
        R::CursorNotInLog => (
            "游标指向本登记库没有的日志条目（登记库可能已从备份恢复），请以空游标重新同步。",
            "The cursor names a log entry this register does not hold (it may have been restored from a backup): mirror again from an empty cursor.",
        ),
    };
    match locale {
        Locale::ZhCn => zh,
        Locale::En => en,
    }
}

/// A refusal on its way to becoming a status: its reason, its message for developers, and the
/// details that apply.
#[derive(Debug)]
pub struct Refusal {
    reason: ErrorReason,
    code: Code,
    message: String,
    resource: Option<String>,
    retry_after: Option<Duration>,
    violations: Vec<FieldViolation>,
    reference: Option<String>,
}

impl Refusal {
    /// A refusal for `reason`, sent with the reason's own code.
    pub fn new(reason: ErrorReason, message: impl Into<String>) -> Refusal {
        Refusal {
            reason,
            code: reason_code(reason).unwrap_or(Code::Unknown),
            message: message.into(),
            resource: None,
            retry_after: None,
            violations: Vec::new(),
            reference: None,
        }
    }

    /// Names the resource concerned (`certificates/…`): a ResourceInfo, and ErrorInfo metadata
    /// `resource`.
    pub fn resource(mut self, name: impl Into<String>) -> Refusal {
        self.resource = Some(name.into());
        self
    }

    /// Tells the client to retry after `wait` (RetryInfo, metadata `retry_after_seconds`).
    pub fn retry_after(mut self, wait: Duration) -> Refusal {
        self.retry_after = Some(wait);
        self
    }

    /// The field violations of an INVALID_ARGUMENT (BadRequest).
    pub fn violations(mut self, violations: Vec<FieldViolation>) -> Refusal {
        self.violations = violations;
        self
    }

    /// The id operators find the cause under (metadata `reference`).
    pub fn reference(mut self, reference: impl Into<String>) -> Refusal {
        self.reference = Some(reference.into());
        self
    }

    /// The message for developers.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The reason.
    pub fn reason(&self) -> ErrorReason {
        self.reason
    }

    /// The status, its details encoded in `grpc-status-details-bin`.
    pub fn into_status(self) -> Status {
        let mut metadata = HashMap::new();
        let mut details = ErrorDetails::new();
        if let Some(resource) = &self.resource {
            metadata.insert("resource".to_owned(), resource.clone());
            let kind = resource
                .split_once('/')
                .map_or("", |(collection, _)| collection);
            details.set_resource_info(kind, resource.clone(), "", self.message.clone());
        }
        if let Some(reference) = &self.reference {
            metadata.insert("reference".to_owned(), reference.clone());
        }
        if let Some(wait) = self.retry_after {
            metadata.insert("retry_after_seconds".to_owned(), wait.as_secs().to_string());
            details.set_retry_info(Some(wait));
        }
        if self.code == Code::FailedPrecondition {
            details.set_precondition_failure(vec![PreconditionViolation::new(
                "STATE",
                self.resource.clone().unwrap_or_default(),
                self.message.clone(),
            )]);
        }
        if !self.violations.is_empty() {
            details.set_bad_request(self.violations);
        }
        details.set_error_info(reason_name(self.reason), ERROR_DOMAIN, metadata);
        Status::with_error_details(self.code, self.message, details)
    }
}

/// A refusal for `reason` with `message`, as a status.
pub fn refuse(reason: ErrorReason, message: impl Into<String>) -> Status {
    Refusal::new(reason, message).into_status()
}

/// `status` with an ErrorInfo (the code's generic reason when it has none) and a
/// LocalizedMessage in `locale` (when it has none): what every refusal leaving a TICA server
/// carries. Details it has already are kept.
pub fn complete(status: Status, locale: Locale) -> Status {
    if status.code() == Code::Ok {
        return status;
    }
    let mut details = status.get_error_details();
    let reason = match details.error_info() {
        Some(info) if info.domain == ERROR_DOMAIN => {
            reason_named(&info.reason).unwrap_or(ErrorReason::Unclassified)
        }
        Some(_) => ErrorReason::Unclassified,
        None => {
            let reason = generic_reason(status.code());
            details.set_error_info(reason_name(reason), ERROR_DOMAIN, HashMap::new());
            reason
        }
    };
    if details.localized_message().is_none() {
        details.set_localized_message(locale.tag(), explain(reason, locale));
    }
    Status::with_error_details_and_metadata(
        status.code(),
        status.message(),
        details,
        status.metadata().clone(),
    )
}

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
        Refusal::new(ErrorReason::InvalidFields, message)
            .violations(self.0)
            .into_status()
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
    let refusal = Refusal::new(
        ErrorReason::ResourceNotFound,
        format!("{resource} not found"),
    );
    // Only a resource name goes into the details, never a free-text description.
    if is_resource_name(resource) {
        refusal.resource(resource).into_status()
    } else {
        refusal.into_status()
    }
}

/// ALREADY_EXISTS naming the resource.
pub fn already_exists(resource: &str) -> Status {
    let refusal = Refusal::new(
        ErrorReason::ResourceAlreadyExists,
        format!("{resource} already exists"),
    );
    if is_resource_name(resource) {
        refusal.resource(resource).into_status()
    } else {
        refusal.into_status()
    }
}

/// FAILED_PRECONDITION with a message saying what must be true first.
pub fn failed_precondition(message: impl Into<String>) -> Status {
    refuse(ErrorReason::PreconditionNotMet, message)
}

/// Whether `text` is a resource name (`collection/id`, possibly nested), not a description.
fn is_resource_name(text: &str) -> bool {
    let mut parts = text.split('/');
    let well_formed = parts.clone().count() >= 2
        && parts.all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'))
        });
    well_formed && text.as_bytes()[0].is_ascii_lowercase()
}

/// INTERNAL: logs the cause in full with a reference, returns only the reference.
pub fn internal(cause: &dyn std::fmt::Display) -> Status {
    let reference = uuid::Uuid::new_v4().simple().to_string();
    let reference = &reference[..12];
    tracing::error!(error = %cause, reference, "internal error");
    Refusal::new(
        ErrorReason::Internal,
        format!("internal error (reference {reference}); the operators have the details"),
    )
    .reference(reference)
    .into_status()
}

/// UNAVAILABLE for a passing outage (`message` for the client), the cause logged with a
/// reference as [`internal`] does.
pub fn unavailable(cause: &dyn std::fmt::Display, message: &str) -> Status {
    let reference = uuid::Uuid::new_v4().simple().to_string();
    let reference = &reference[..12];
    tracing::warn!(error = %cause, reference, "unavailable");
    Refusal::new(
        ErrorReason::Unavailable,
        format!("{message} (reference {reference})"),
    )
    .reference(reference)
    .retry_after(RETRY_SOON)
    .into_status()
}

/// ABORTED: a concurrent change won; retry soon.
pub fn concurrent_change(message: impl Into<String>) -> Status {
    Refusal::new(ErrorReason::ConcurrentChange, message)
        .retry_after(RETRY_SOON)
        .into_status()
}

/// UNAVAILABLE for a passing outage the message already explains; retry soon.
pub fn retry_soon(message: impl Into<String>) -> Status {
    Refusal::new(ErrorReason::Unavailable, message)
        .retry_after(RETRY_SOON)
        .into_status()
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

    /// The table a client programs against is `errors.proto`: each reason there is sent with
    /// the code its comment names in brackets, and has an explanation in both languages.
    #[test]
    fn every_reason_travels_with_the_code_errors_proto_documents() {
        let proto = include_str!("../../../proto/tica/common/v1/errors.proto");
        let mut documented_code = None;
        let mut seen = 0;
        for line in proto.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("// [") {
                documented_code = rest.split_once(']').map(|(code, _)| code.to_owned());
            }
            let Some(name) = line.strip_prefix("ERROR_REASON_") else {
                continue;
            };
            let name = name.split_whitespace().next().unwrap();
            if name == "UNSPECIFIED" {
                continue;
            }
            let reason = reason_named(name).unwrap_or_else(|| panic!("{name} is not a reason"));
            assert_eq!(reason_name(reason), name);
            let documented = documented_code
                .take()
                .unwrap_or_else(|| panic!("{name}: no [CODE]"));
            let expected = reason_code(reason).map_or("the code sent".to_owned(), |code| {
                format!("{code:?}")
                    .chars()
                    .fold(String::new(), |mut out, c| {
                        if c.is_uppercase() && !out.is_empty() {
                            out.push('_');
                        }
                        out.push(c.to_ascii_uppercase());
                        out
                    })
            });
            assert_eq!(documented, expected, "{name}");
            assert!(!explain(reason, Locale::ZhCn).is_empty());
            assert!(explain(reason, Locale::En).is_ascii(), "{name}");
            seen += 1;
        }
        let defined = (1..1000)
            .filter(|n| ErrorReason::try_from(*n).is_ok())
            .count();
        assert_eq!(seen, defined, "every reason has its line in errors.proto");
    }

    #[test]
    fn the_reasons_the_auth_layer_sends_are_in_the_table() {
        for (status, name) in [
            (tica_auth::AuthError::Missing.into(), "TOKEN_MISSING"),
            (tica_auth::AuthError::Expired.into(), "TOKEN_EXPIRED"),
            (tica_auth::AuthError::Malformed.into(), "TOKEN_INVALID"),
            (
                tica_auth::refusal(Code::PermissionDenied, "ROLE_NOT_ALLOWED", "no"),
                "ROLE_NOT_ALLOWED",
            ),
        ] {
            let status: Status = status;
            let info = status.get_details_error_info().expect("an ErrorInfo");
            assert_eq!(info.reason, name);
            let reason = reason_named(name).expect("in errors.proto");
            assert_eq!(reason_code(reason), Some(status.code()), "{name}");
        }
    }

    #[test]
    fn a_caller_gets_the_first_language_it_accepts_that_tica_speaks() {
        assert_eq!(Locale::from_accept_language(None), Locale::ZhCn);
        assert_eq!(
            Locale::from_accept_language(Some("en-GB,en;q=0.8")),
            Locale::En
        );
        assert_eq!(
            Locale::from_accept_language(Some("fr, en;q=0.5")),
            Locale::En
        );
        assert_eq!(
            Locale::from_accept_language(Some("en;q=0.4, zh-Hans;q=0.9")),
            Locale::ZhCn
        );
        assert_eq!(Locale::from_accept_language(Some("de")), Locale::ZhCn);
        assert_eq!(Locale::from_accept_language(Some("en;q=0")), Locale::ZhCn);
    }

    #[test]
    fn a_refusal_names_its_resource_and_when_to_retry() {
        let status = Refusal::new(ErrorReason::ConcurrentChange, "lost a race")
            .resource("batches/640104-2026")
            .retry_after(Duration::from_secs(2))
            .into_status();
        assert_eq!(status.code(), Code::Aborted);
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, "CONCURRENT_CHANGE");
        assert_eq!(info.metadata["resource"], "batches/640104-2026");
        assert_eq!(info.metadata["retry_after_seconds"], "2");
        let resource = status.get_details_resource_info().unwrap();
        assert_eq!(resource.resource_type, "batches");
        assert_eq!(
            status.get_details_retry_info().unwrap().retry_delay,
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn a_description_is_never_taken_for_a_resource_name() {
        let status = not_found("a checkpoint of size 3");
        assert!(status.get_details_resource_info().is_none());
        let status = not_found("teachers/T001");
        assert_eq!(
            status.get_details_resource_info().unwrap().resource_name,
            "teachers/T001"
        );
    }

    #[test]
    fn internal_errors_return_a_reference_not_the_cause() {
        let status = internal(&"connection refused to 10.0.0.3 with password hunter2");
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
        assert!(status.message().contains("reference"));
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, "INTERNAL");
        assert!(status.message().contains(&info.metadata["reference"]));
    }
}
