use tica_domain::division::DivisionCode;
use tica_domain::scope::ScopePath;

use crate::role::Role;

/// The authenticated caller of a request, put in the request's extensions by [`crate::AuthLayer`].
///
/// Its `Debug` output holds no personal data (subjects are user or service ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's subject: a teacher number for teachers, a user or service id otherwise.
    pub subject: String,
    /// What the caller is.
    pub role: Role,
    /// The jurisdiction the caller acts for (for school roles, the school's county).
    pub jurisdiction: DivisionCode,
    /// The school the caller acts for (school roles, and school-level assessors).
    pub school: Option<String>,
    /// The subtree the caller may read and write.
    pub scope: ScopePath,
}

impl Caller {
    /// Builds a caller and its scope from token claims that were already verified.
    pub fn new(
        subject: String,
        role: Role,
        jurisdiction: DivisionCode,
        school: Option<String>,
    ) -> Caller {
        let scope = match &school {
            Some(code) => ScopePath::for_school(jurisdiction, code),
            None => ScopePath::for_jurisdiction(jurisdiction),
        };
        Caller {
            subject,
            role,
            jurisdiction,
            school,
            scope,
        }
    }

    /// The resource name the caller acts for: `schools/{code}` or `jurisdictions/{code}`.
    pub fn acting_for(&self) -> String {
        match &self.school {
            Some(code) => format!("schools/{code}"),
            None => format!("jurisdictions/{}", self.jurisdiction),
        }
    }

    /// Whether `path` lies inside the caller's subtree.
    pub fn covers(&self, path: &ScopePath) -> bool {
        self.scope.contains(path)
    }

    /// `Ok` if `path` lies inside the caller's subtree, else PERMISSION_DENIED. The message
    /// names the caller's own scope only, so it reveals nothing about the resource.
    #[allow(clippy::result_large_err)]
    pub fn require_covers(&self, path: &ScopePath) -> Result<(), tonic::Status> {
        if self.covers(path) {
            Ok(())
        } else {
            Err(self.denied())
        }
    }

    /// The PERMISSION_DENIED status for a resource outside the caller's scope.
    pub fn denied(&self) -> tonic::Status {
        crate::refusal(
            tonic::Code::PermissionDenied,
            "OUTSIDE_SCOPE",
            format!(
                "outside the jurisdiction this token acts for ({})",
                self.acting_for()
            ),
        )
    }
}

/// The caller of a tonic request, as [`crate::AuthLayer`] left it.
///
/// A request without one never passed the layer: that is a wiring bug, answered as
/// UNAUTHENTICATED rather than served.
#[allow(clippy::result_large_err)]
pub fn caller_from<T>(request: &tonic::Request<T>) -> Result<Caller, tonic::Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| tonic::Status::unauthenticated("no authenticated caller"))
}

/// The bearer token a request carried, for calls a service makes on the caller's behalf (it
/// forwards the caller's own authority, never more). `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(pub String);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(…)")
    }
}

/// The bearer token of a request that passed [`crate::AuthLayer`].
#[allow(clippy::result_large_err)]
pub fn bearer_from<T>(request: &tonic::Request<T>) -> Result<BearerToken, tonic::Status> {
    request
        .extensions()
        .get::<BearerToken>()
        .cloned()
        .ok_or_else(|| {
            crate::refusal(
                tonic::Code::Unauthenticated,
                "TOKEN_MISSING",
                "no bearer token",
            )
        })
}

/// Adds `authorization: Bearer <token>` to every call of a client (the services forward their
/// caller's own token this way, so that the callee decides what the caller may see).
#[derive(Clone, Debug)]
pub struct Bearer(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl Bearer {
    /// For `token`; an empty token sends no `authorization` at all (an anonymous call to the
    /// public methods).
    ///
    /// # Panics
    /// If `token` is not ASCII without control characters, which no JWT is: check input from
    /// people first.
    pub fn new(token: &str) -> Bearer {
        if token.is_empty() {
            return Bearer(None);
        }
        Bearer(Some(
            format!("Bearer {token}").parse().expect("a JWT is ASCII"),
        ))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}
