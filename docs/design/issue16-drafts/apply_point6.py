import re,sys
R='/work/wt-authz/'
def sub(p,a,b,count=1):
    s=open(R+p).read()
    if a not in s: sys.exit(f"missing in {p}: {a[:80]!r}")
    s=s.replace(a,b,count); open(R+p,'w').write(s)
# role.rs
sub('shared/auth/src/role.rs','''    /// Another system's backend (a training provider, an HR system, a TICA service).
    Service,
}''','''    /// A training provider's backend; the token's subject is its provider id. It pushes and
    /// reads its own hours records, nothing else.
    TrainingProvider,
    /// The assessment service acting as itself: what it calls on the roster.
    AssessmentService,
    /// The sampling service acting as itself: what it calls on the assessment service and the
    /// roster.
    SamplingService,
    /// The certificate service acting as itself: what it calls on the assessment service and
    /// the roster.
    CertificateService,
}''')
sub('shared/auth/src/role.rs','''    pub const ALL: [Role; 7] = [
        Role::Teacher,
        Role::SchoolAdmin,
        Role::Assessor,
        Role::CountyOffice,
        Role::CityOffice,
        Role::ProvinceOffice,
        Role::Service,
    ];
''','''    pub const ALL: [Role; 10] = [
        Role::Teacher,
        Role::SchoolAdmin,
        Role::Assessor,
        Role::CountyOffice,
        Role::CityOffice,
        Role::ProvinceOffice,
        Role::TrainingProvider,
        Role::AssessmentService,
        Role::SamplingService,
        Role::CertificateService,
    ];

    /// The roles of people.
    pub const PEOPLE: [Role; 6] = [
        Role::Teacher,
        Role::SchoolAdmin,
        Role::Assessor,
        Role::CountyOffice,
        Role::CityOffice,
        Role::ProvinceOffice,
    ];

    /// The roles of machines: a training provider and each service's own identity.
    pub const MACHINES: [Role; 4] = [
        Role::TrainingProvider,
        Role::AssessmentService,
        Role::SamplingService,
        Role::CertificateService,
    ];
''')
sub('shared/auth/src/role.rs','''            Role::Service => "service",''','''            Role::TrainingProvider => "training_provider",
            Role::AssessmentService => "assessment_service",
            Role::SamplingService => "sampling_service",
            Role::CertificateService => "certificate_service",''')
sub('shared/auth/src/role.rs','''    /// Whether this role is an education office.''','''    /// Whether this role is a machine's (it never acts for a school).
    pub fn is_machine(self) -> bool {
        Role::MACHINES.contains(&self)
    }

    /// Whether this role is an education office.''')
sub('shared/auth/src/role.rs','''        assert!("superuser".parse::<Role>().is_err());''','''        assert!("superuser".parse::<Role>().is_err());
        assert!(
            "service".parse::<Role>().is_err(),
            "the catch-all machine role is gone"
        );
        assert_eq!(
            "sampling-service".parse::<Role>().unwrap(),
            Role::SamplingService
        );''')
# token.rs: machines name no school
sub('shared/auth/src/token.rs','''    if role.requires_school() && claims.school.is_none() {''','''    if role.is_machine() && claims.school.is_some() {
        return Err(AuthError::Claims(format!(
            "a {role} does not act for a school"
        )));
    }
    if role.requires_school() && claims.school.is_none() {''')
# lib.rs
sub('shared/auth/src/lib.rs','''mod caller;''','''pub mod access;
mod caller;''')
sub('shared/auth/src/lib.rs','''//! Invariants:''','''//! [`access::TABLE`] is the one role × RPC table of the suite; every service's policy is
//! derived from it.
//!
//! Invariants:''')
# service policies
for svc, name in [('roster','crate::SERVICE_NAME'),('assessment','crate::service::SERVICE_NAME'),('sampling','crate::service::SERVICE_NAME'),('certificate','crate::service::SERVICE_NAME')]:
    p=f'services/{svc}/src/policy.rs'
    open(R+p,'w').write(f'''//! The {svc} service's access policy: its rows of the suite's one role × RPC table,
//! [`tica_auth::access::TABLE`] (enforced by the auth layer before any handler runs; the logic
//! then checks the resource's place in the tree and finer rules).

use tica_auth::MethodPolicy;

/// The {svc} service's access policy.
pub fn policy() -> MethodPolicy {{
    tica_auth::access::policy({name})
}}
''')
# assessment handlers
sub('services/assessment/src/service/mod.rs','''/// The offices and services that administer.
pub(crate) const ADMINISTRATORS: &[Role] = &[
    Role::CountyOffice,
    Role::CityOffice,
    Role::ProvinceOffice,
    Role::Service,
];''','''/// The offices, which administer.
pub(crate) const ADMINISTRATORS: &[Role] = &[Role::CountyOffice, Role::CityOffice, Role::ProvinceOffice];''')
s=open(R+'services/assessment/src/service/batches.rs').read()
s=s.replace('&[Role::Service, Role::CityOffice, Role::ProvinceOffice]','&[Role::SamplingService, Role::CityOffice, Role::ProvinceOffice]')
open(R+'services/assessment/src/service/batches.rs','w').write(s)
s=open(R+'services/assessment/src/service/results.rs').read()
s=s.replace('&[Role::ProvinceOffice, Role::Service]','&[Role::ProvinceOffice]')
s=s.replace('                Role::Service,\n','                Role::SamplingService,\n')
open(R+'services/assessment/src/service/results.rs','w').write(s)
sub('services/assessment/src/service/stream.rs','ctx.caller.role == Role::Service','ctx.caller.role == Role::CertificateService')
h='services/assessment/src/service/hours.rs'
sub(h,'''                Role::Service => ctx.caller.subject.clone(),''','''                Role::TrainingProvider => ctx.caller.subject.clone(),''')
sub(h,'''"hours are pushed by training providers (service tokens) and school offices"''','''"hours are pushed by training providers and school offices"''')
sub(h,'''        if ctx.caller.role == Role::Teacher && ctx.caller.subject != r.teacher_number {
            return Err(denied(&ctx.caller));
        }
        if !(ctx.caller.role == Role::Service && ctx.caller.subject == provider) {''','''        if ctx.caller.role == Role::Teacher && ctx.caller.subject != r.teacher_number {
            return Err(denied(&ctx.caller));
        }
        // A training provider reads its own records only: another's is not there for it.
        if ctx.caller.role == Role::TrainingProvider && ctx.caller.subject != provider {
            return Err(AssessmentError::NotFound(format!(
                "providers/{provider}/hoursRecords/{record}"
            )));
        }
        if ctx.caller.role != Role::TrainingProvider {''')
sub(h,'''                Ok(rows
                    .into_iter()
                    .filter(|r| {
                        ctx.caller.covers(&r.path) || ctx.caller.subject == r.teacher_number
                    })
                    .collect())''','''                let provider_only = (ctx.caller.role == Role::TrainingProvider)
                    .then_some(ctx.caller.subject.as_str());
                Ok(rows
                    .into_iter()
                    .filter(|r| {
                        ctx.caller.covers(&r.path) || ctx.caller.subject == r.teacher_number
                    })
                    .filter(|r| provider_only.is_none_or(|p| r.provider_id == p))
                    .collect())''')
sub(h,'''                let own = (ctx.caller.role == Role::Service && ctx.caller.subject == p)''','''                if ctx.caller.role == Role::TrainingProvider && ctx.caller.subject != p {
                    return Err(denied(&ctx.caller));
                }
                let own = (ctx.caller.role == Role::TrainingProvider && ctx.caller.subject == p)''')
# tests and demo
for p in ['tests/tests/hours_and_evidence.rs','tests/tests/county_year.rs','tests/tests/review_chain.rs','services/tica/src/demo/year.rs','shared/server/tests/edge.rs']:
    s=open(R+p).read(); s=s.replace('Role::Service','Role::TrainingProvider'); open(R+p,'w').write(s)
sub('services/tica/src/token.rs','''    /// teacher, school_admin, assessor, county_office, city_office, province_office or service.''','''    /// teacher, school_admin, assessor, county_office, city_office, province_office,
    /// training_provider (subject: the provider id), or a service's own identity:
    /// assessment_service, sampling_service, certificate_service.''')
sub('tests/src/lib.rs','''    /// The suite's data directory (databases, keys, evidence).''','''    /// The signer of the suite's tokens (tests forge claims with it).
    pub fn signer(&self) -> &TokenSigner {
        &self.signer
    }

    /// The suite's data directory (databases, keys, evidence).''')
print("ok")
