use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::role::Role;
use crate::token::TokenVerifier;

/// Which roles may call each method of one gRPC service.
#[derive(Clone, Debug)]
pub struct MethodPolicy {
    service: &'static str,
    methods: BTreeMap<&'static str, &'static [Role]>,
    public: std::collections::BTreeSet<&'static str>,
}

impl MethodPolicy {
    /// An empty policy for the fully-qualified service name, e.g. `tica.roster.v1.RosterService`.
    pub fn new(service: &'static str) -> MethodPolicy {
        MethodPolicy {
            service,
            methods: BTreeMap::new(),
            public: std::collections::BTreeSet::new(),
        }
    }

    /// Lets `roles` call `method` (its bare name, e.g. `GetSchool`).
    pub fn allow(mut self, method: &'static str, roles: &'static [Role]) -> MethodPolicy {
        self.methods.insert(method, roles);
        self
    }

    /// Lets anyone call `method` without a token (e.g. certificate verification for HR
    /// offices). Its handler gets no [`crate::Caller`].
    pub fn public(mut self, method: &'static str) -> MethodPolicy {
        self.public.insert(method);
        self
    }

    /// Whether `method` needs no token.
    pub fn is_public(&self, method: &str) -> bool {
        self.public.contains(method)
    }

    /// The service this policy is for.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The roles allowed to call `method`; `None` if the method is not in the policy.
    pub fn roles(&self, method: &str) -> Option<&'static [Role]> {
        self.methods.get(method).copied()
    }

    /// Every method named in the policy, public ones included.
    pub fn methods(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.methods.keys().chain(self.public.iter()).copied()
    }
}

/// The policies of every service a server hosts.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    services: Arc<BTreeMap<&'static str, MethodPolicy>>,
}

impl PolicySet {
    /// Adds a service's policy.
    pub fn with(mut self, policy: MethodPolicy) -> PolicySet {
        Arc::make_mut(&mut self.services).insert(policy.service, policy);
        self
    }

    /// Whether `service`'s `method` is served without a token (marked `public` in its policy;
    /// health and reflection are public by protocol and not counted here).
    pub fn is_public(&self, service: &str, method: &str) -> bool {
        self.services
            .get(service)
            .is_some_and(|policy| policy.is_public(method))
    }

    /// Decides a call to `path` (`/package.Service/Method`) by `role`.
    fn decide(&self, service: &str, method: &str, role: Role) -> Decision {
        match self.services.get(service) {
            // Not a service hosted here: let the router answer UNIMPLEMENTED.
            None => Decision::Allow,
            Some(policy) => match policy.roles(method) {
                // Fail closed: what the policy does not list is served to no one, which is
                // what UNIMPLEMENTED tells a client (a method from a newer contract, a typo).
                None => Decision::NotServed(format!(
                    "{service}/{method} is not served here (it is not in the access policy)"
                )),
                Some(roles) if roles.contains(&role) => Decision::Allow,
                Some(_) => Decision::Deny(format!("a {role} token may not call {method}")),
            },
        }
    }
}

enum Decision {
    Allow,
    Deny(String),
    NotServed(String),
}

/// Paths served without a token: health checking and reflection are public by protocol.
fn is_public(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.")
        || path.starts_with("/grpc.reflection.v1.")
        || path.starts_with("/grpc.reflection.v1alpha.")
}

/// The tower layer that authenticates every gRPC request and authorises its method by role.
///
/// On success the request's extensions hold a [`crate::Caller`]; on failure the client gets
/// UNAUTHENTICATED (no or bad token) or PERMISSION_DENIED (role not allowed) and the service is
/// never called.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    verifier: Arc<TokenVerifier>,
    policies: PolicySet,
}

impl AuthLayer {
    /// A layer verifying with `verifier` and deciding with `policies`.
    pub fn new(verifier: TokenVerifier, policies: PolicySet) -> AuthLayer {
        AuthLayer {
            verifier: Arc::new(verifier),
            policies,
        }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            verifier: self.verifier.clone(),
            policies: self.policies.clone(),
        }
    }
}

/// The service [`AuthLayer`] wraps around a gRPC router.
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    verifier: Arc<TokenVerifier>,
    policies: PolicySet,
}

impl<S> AuthService<S> {
    fn authorise<B>(&self, request: &mut http::Request<B>) -> Result<(), tonic::Status> {
        let path = request.uri().path();
        if is_public(path) {
            return Ok(());
        }
        let (service, method) = path
            .trim_start_matches('/')
            .split_once('/')
            .ok_or_else(|| tonic::Status::unimplemented("not a gRPC method path"))?;
        if self.policies.is_public(service, method) {
            return Ok(());
        }
        let header = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or(""));
        let caller = self.verifier.verify_header(header)?;
        match self.policies.decide(service, method, caller.role) {
            Decision::Allow => {}
            Decision::Deny(reason) => {
                tracing::info!(role = %caller.role, method, "call refused by role");
                return Err(crate::refusal(
                    tonic::Code::PermissionDenied,
                    "ROLE_NOT_ALLOWED",
                    reason,
                ));
            }
            Decision::NotServed(reason) => {
                return Err(crate::refusal(
                    tonic::Code::Unimplemented,
                    "METHOD_NOT_SERVED",
                    reason,
                ));
            }
        }
        let token = header.unwrap_or("").trim();
        let token = token
            .strip_prefix("Bearer ")
            .or_else(|| token.strip_prefix("bearer "))
            .unwrap_or(token);
        let token = crate::caller::BearerToken(token.trim().to_owned());
        request.extensions_mut().insert(token);
        request.extensions_mut().insert(caller);
        Ok(())
    }
}

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if let Err(status) = self.authorise(&mut request) {
            return Box::pin(std::future::ready(Ok(status.into_http())));
        }
        // The clone is the one that was not polled ready; call the ready one (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ_ONLY: &[Role] = &[Role::CountyOffice];

    #[test]
    fn a_method_missing_from_a_policy_is_refused() {
        let set = PolicySet::default().with(MethodPolicy::new("svc.S").allow("Get", READ_ONLY));
        assert!(matches!(
            set.decide("svc.S", "Get", Role::CountyOffice),
            Decision::Allow
        ));
        assert!(matches!(
            set.decide("svc.S", "Get", Role::Teacher),
            Decision::Deny(_)
        ));
        assert!(matches!(
            set.decide("svc.S", "Delete", Role::CountyOffice),
            Decision::NotServed(_)
        ));
        assert!(matches!(
            set.decide("other.T", "Any", Role::Teacher),
            Decision::Allow
        ));
    }

    /// The real layer over the real table: for every RPC and every role, a valid token of the
    /// role passes exactly when the table admits it; otherwise PERMISSION_DENIED. Public RPCs
    /// pass without a token; a method the table does not name is UNIMPLEMENTED to everyone.
    #[test]
    fn the_layer_admits_every_role_exactly_where_the_table_says_row_by_row() {
        use crate::access::{self, Access};
        use crate::keys::KeyPair;
        use crate::token::TokenSigner;
        use tica_domain::division::DivisionCode;

        let pair = KeyPair::generate();
        let signer = TokenSigner::new(&pair);
        let verifier =
            TokenVerifier::new(&BTreeMap::from([(pair.kid.clone(), pair.verifying_key())]));
        let policies = [
            access::ROSTER,
            access::ASSESSMENT,
            access::SAMPLING,
            access::CERTIFICATE,
        ]
        .into_iter()
        .fold(PolicySet::default(), |set, service| {
            set.with(access::policy(service))
        });
        let layer = AuthService {
            inner: (),
            verifier: Arc::new(verifier),
            policies,
        };
        let token = |role: Role| {
            let (jurisdiction, school) = match role {
                Role::Teacher | Role::SchoolAdmin => ("341324", Some("3413240001")),
                Role::Assessor | Role::CountyOffice => ("341324", None),
                Role::CityOffice => ("341300", None),
                _ => ("340000", None),
            };
            signer
                .mint(
                    "walker",
                    role,
                    DivisionCode::parse(jurisdiction).unwrap(),
                    school,
                    std::time::Duration::from_secs(60),
                )
                .unwrap()
        };
        let call = |rpc: &str, token: Option<&str>| {
            let mut builder = http::Request::builder().uri(format!("/{rpc}"));
            if let Some(token) = token {
                builder = builder.header("authorization", format!("Bearer {token}"));
            }
            let mut request = builder.body(()).unwrap();
            layer.authorise(&mut request)
        };
        for rule in access::TABLE {
            match rule.access {
                Access::Public => assert!(call(rule.rpc, None).is_ok(), "{}", rule.rpc),
                Access::Roles(_) => {
                    let anonymous = call(rule.rpc, None).unwrap_err();
                    assert_eq!(
                        anonymous.code(),
                        tonic::Code::Unauthenticated,
                        "{}",
                        rule.rpc
                    );
                    for role in Role::ALL {
                        let answer = call(rule.rpc, Some(&token(role)));
                        if rule.admits(role) {
                            assert!(answer.is_ok(), "{role} refused {}: {answer:?}", rule.rpc);
                        } else {
                            let refused = answer.expect_err(rule.rpc);
                            assert_eq!(
                                refused.code(),
                                tonic::Code::PermissionDenied,
                                "{role} on {}",
                                rule.rpc
                            );
                        }
                    }
                }
            }
        }
        // A method the table does not name is not served, to any role: UNIMPLEMENTED with the
        // reason METHOD_NOT_SERVED, as tonic answers a method it does not know.
        for role in Role::ALL {
            let refused = call(
                "tica.roster.v1.RosterService/DropEverything",
                Some(&token(role)),
            )
            .unwrap_err();
            assert_eq!(refused.code(), tonic::Code::Unimplemented, "{role}");
            use tonic_types::StatusExt;
            let info = refused.get_details_error_info().expect("an ErrorInfo");
            assert_eq!(info.reason, "METHOD_NOT_SERVED", "{role}");
            assert_eq!(info.domain, crate::ERROR_DOMAIN);
        }
    }

    #[test]
    fn health_and_reflection_need_no_token() {
        assert!(is_public("/grpc.health.v1.Health/Check"));
        assert!(is_public(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!is_public("/tica.roster.v1.RosterService/GetSchool"));
    }
}
