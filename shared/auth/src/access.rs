//! Who may call what: the one role × RPC table of the whole suite.
//!
//! Every row names a fully-qualified RPC (`package.Service/Method`) and either the roles that
//! may call it or that it is public (no token). Each service's [`MethodPolicy`] is derived from
//! this table ([`policy`]), so there is no other list to keep in step, and a method missing from
//! the table is refused by [`crate::AuthLayer`] (fail closed). The layer decides by role only;
//! handlers then check the resource's place in the tree and finer rules (a teacher's own
//! records, a provider's own hours).
//!
//! Machines have least privilege:
//! - a training provider (`training_provider`, the token's subject its provider id) pushes and
//!   reads its own hours records, and resolves the teachers it pushes for (the assessment
//!   service asks the roster with the provider's own token); handlers keep it to its own
//!   records;
//! - the TICA services have no identity to grant: a service calling a peer forwards its
//!   caller's token (ARCHITECTURE.md, "who calls whom"), so what the sampling service may do on
//!   the assessment service is exactly what the office running the review may do there.

use crate::layer::MethodPolicy;
use crate::role::Role;

/// Who may call one RPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token (verification, the teachers' search, keys, log proofs).
    Public,
    /// These roles, with a token.
    Roles(&'static [Role]),
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `package.Service/Method`, e.g. `tica.roster.v1.RosterService/GetSchool`.
    pub rpc: &'static str,
    /// Who may call it.
    pub access: Access,
}

impl Rule {
    /// The service part of [`Rule::rpc`].
    pub fn service(&self) -> &'static str {
        self.rpc.split_once('/').map_or(self.rpc, |(s, _)| s)
    }

    /// The method part of [`Rule::rpc`].
    pub fn method(&self) -> &'static str {
        self.rpc.split_once('/').map_or("", |(_, m)| m)
    }

    /// Whether `role` may call it (public RPCs admit every caller).
    pub fn admits(&self, role: Role) -> bool {
        match self.access {
            Access::Public => true,
            Access::Roles(roles) => roles.contains(&role),
        }
    }
}

/// `tica.roster.v1.RosterService`.
pub const ROSTER: &str = "tica.roster.v1.RosterService";
/// `tica.assessment.v1.AssessmentService`.
pub const ASSESSMENT: &str = "tica.assessment.v1.AssessmentService";
/// `tica.sampling.v1.SamplingService`.
pub const SAMPLING: &str = "tica.sampling.v1.SamplingService";
/// `tica.certificate.v1.CertificateService`.
pub const CERTIFICATE: &str = "tica.certificate.v1.CertificateService";

use Role::{
    Assessor, CityOffice, CountyOffice, ProvinceOffice, SchoolAdmin, Teacher, TrainingProvider,
};

/// Every person.
const PEOPLE: &[Role] = &Role::PEOPLE;
const OFFICES: &[Role] = &Role::OFFICES;
const STAFF: &[Role] = &[
    SchoolAdmin,
    Assessor,
    CountyOffice,
    CityOffice,
    ProvinceOffice,
];
const SCHOOL_AND_ABOVE: &[Role] = &[SchoolAdmin, CountyOffice, CityOffice, ProvinceOffice];
const TEACHER_OR_SCHOOL: &[Role] = &[
    Teacher,
    SchoolAdmin,
    CountyOffice,
    CityOffice,
    ProvinceOffice,
];
const RETURNERS: &[Role] = STAFF;
const UPLOADERS: &[Role] = &[Teacher, SchoolAdmin];
const ASSESSORS: &[Role] = &[Assessor];
const PROVINCE: &[Role] = &[ProvinceOffice];
const REVIEW: &[Role] = &[CountyOffice, CityOffice, ProvinceOffice, Assessor];
const READERS: &[Role] = TEACHER_OR_SCHOOL;
/// Whoever pushes hours: a training provider, or a school entering its own school-based
/// training (校本研修).
const PROVIDERS: &[Role] = &[TrainingProvider, SchoolAdmin];
/// People, and the provider that pushes a teacher's hours: its own records only (checked by
/// the handler), and the teachers its records name, which the assessment service resolves with
/// the provider's own token (by number, or by ID number through ListTeachers, whose handler
/// refuses a provider any listing without an ID number).
const PEOPLE_AND_PROVIDER: &[Role] = &[
    Teacher,
    SchoolAdmin,
    Assessor,
    CountyOffice,
    CityOffice,
    ProvinceOffice,
    TrainingProvider,
];

const STAFF_AND_PROVIDER: &[Role] = &[
    SchoolAdmin,
    Assessor,
    CountyOffice,
    CityOffice,
    ProvinceOffice,
    TrainingProvider,
];

const fn roles(rpc: &'static str, roles: &'static [Role]) -> Rule {
    Rule {
        rpc,
        access: Access::Roles(roles),
    }
}

const fn public(rpc: &'static str) -> Rule {
    Rule {
        rpc,
        access: Access::Public,
    }
}

/// The whole table: every RPC of every TICA service, once.
pub const TABLE: &[Rule] = &[
    // tica.roster.v1.RosterService
    roles("tica.roster.v1.RosterService/GetJurisdiction", PEOPLE),
    roles("tica.roster.v1.RosterService/ListJurisdictions", PEOPLE),
    roles("tica.roster.v1.RosterService/CreateJurisdiction", OFFICES),
    roles("tica.roster.v1.RosterService/UpdateJurisdiction", OFFICES),
    roles("tica.roster.v1.RosterService/GetSchool", PEOPLE),
    roles("tica.roster.v1.RosterService/BatchGetSchools", PEOPLE),
    roles("tica.roster.v1.RosterService/ListSchools", STAFF),
    roles("tica.roster.v1.RosterService/CreateSchool", OFFICES),
    roles(
        "tica.roster.v1.RosterService/UpdateSchool",
        SCHOOL_AND_ABOVE,
    ),
    roles("tica.roster.v1.RosterService/ReviewSchoolIctPlan", OFFICES),
    roles("tica.roster.v1.RosterService/ImportSchools", OFFICES),
    roles("tica.roster.v1.RosterService/ExportSchools", STAFF),
    roles(
        "tica.roster.v1.RosterService/GetTeacher",
        PEOPLE_AND_PROVIDER,
    ),
    roles(
        "tica.roster.v1.RosterService/BatchGetTeachers",
        PEOPLE_AND_PROVIDER,
    ),
    roles(
        "tica.roster.v1.RosterService/ListTeachers",
        STAFF_AND_PROVIDER,
    ),
    roles(
        "tica.roster.v1.RosterService/CreateTeacher",
        SCHOOL_AND_ABOVE,
    ),
    roles(
        "tica.roster.v1.RosterService/UpdateTeacher",
        SCHOOL_AND_ABOVE,
    ),
    roles("tica.roster.v1.RosterService/MoveTeacher", OFFICES),
    roles(
        "tica.roster.v1.RosterService/ImportTeachers",
        SCHOOL_AND_ABOVE,
    ),
    roles(
        "tica.roster.v1.RosterService/ExportTeachers",
        SCHOOL_AND_ABOVE,
    ),
    roles(
        "tica.roster.v1.RosterService/ListTeacherIdentities",
        OFFICES,
    ),
    roles("tica.roster.v1.RosterService/GetTeam", STAFF),
    roles("tica.roster.v1.RosterService/ListTeams", STAFF),
    roles("tica.roster.v1.RosterService/CreateTeam", SCHOOL_AND_ABOVE),
    roles("tica.roster.v1.RosterService/UpdateTeam", SCHOOL_AND_ABOVE),
    roles("tica.roster.v1.RosterService/GetAssessor", STAFF),
    roles("tica.roster.v1.RosterService/ListAssessors", STAFF),
    roles("tica.roster.v1.RosterService/CreateAssessor", OFFICES),
    roles("tica.roster.v1.RosterService/UpdateAssessor", OFFICES),
    roles("tica.roster.v1.RosterService/CertifyAssessor", OFFICES),
    roles("tica.roster.v1.RosterService/RegisterAssessor", OFFICES),
    roles("tica.roster.v1.RosterService/ReprimandAssessor", OFFICES),
    roles("tica.roster.v1.RosterService/SuspendAssessor", OFFICES),
    roles("tica.roster.v1.RosterService/StrikeOffAssessor", OFFICES),
    // Machine clients are registered by offices only (the service checks the subtree and that
    // the client's role is no higher than the caller's own).
    roles("tica.roster.v1.RosterService/CreateApiClient", OFFICES),
    roles("tica.roster.v1.RosterService/GetApiClient", OFFICES),
    roles("tica.roster.v1.RosterService/ListApiClients", OFFICES),
    roles("tica.roster.v1.RosterService/RevokeApiClient", OFFICES),
    roles("tica.roster.v1.RosterService/ListAuditEvents", OFFICES),
    // tica.assessment.v1.AssessmentService
    roles(
        "tica.assessment.v1.AssessmentService/GetMicroCompetency",
        PEOPLE,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/ListMicroCompetencies",
        PEOPLE,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/ListPolicyPresets",
        PEOPLE,
    ),
    roles("tica.assessment.v1.AssessmentService/GetPolicy", PEOPLE),
    roles("tica.assessment.v1.AssessmentService/ListPolicies", PEOPLE),
    roles("tica.assessment.v1.AssessmentService/CreatePolicy", OFFICES),
    roles("tica.assessment.v1.AssessmentService/UpdatePolicy", OFFICES),
    roles(
        "tica.assessment.v1.AssessmentService/GetPolicyVersion",
        PEOPLE,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/ListPolicyVersions",
        PEOPLE,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/GetEffectivePolicy",
        PEOPLE,
    ),
    roles("tica.assessment.v1.AssessmentService/GetBatch", PEOPLE),
    roles("tica.assessment.v1.AssessmentService/ListBatches", PEOPLE),
    roles("tica.assessment.v1.AssessmentService/CreateBatch", OFFICES),
    roles("tica.assessment.v1.AssessmentService/UpdateBatch", OFFICES),
    roles("tica.assessment.v1.AssessmentService/OpenBatch", OFFICES),
    roles(
        "tica.assessment.v1.AssessmentService/CarryOverParticipants",
        OFFICES,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/BeginProvinceAudit",
        OFFICES,
    ),
    roles("tica.assessment.v1.AssessmentService/CertifyBatch", OFFICES),
    roles("tica.assessment.v1.AssessmentService/ReturnBatch", OFFICES),
    roles(
        "tica.assessment.v1.AssessmentService/GetParticipant",
        PEOPLE,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/ListParticipants",
        STAFF,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/EnrolParticipants",
        SCHOOL_AND_ABOVE,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/WithdrawParticipant",
        SCHOOL_AND_ABOVE,
    ),
    roles("tica.assessment.v1.AssessmentService/GetSelection", PEOPLE),
    roles(
        "tica.assessment.v1.AssessmentService/CheckSelection",
        PEOPLE,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/SubmitSelection",
        TEACHER_OR_SCHOOL,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/BatchPushHoursRecords",
        PROVIDERS,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/GetHoursRecord",
        PEOPLE_AND_PROVIDER,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/ListHoursRecords",
        PEOPLE_AND_PROVIDER,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/UploadEvidence",
        UPLOADERS,
    ),
    roles("tica.assessment.v1.AssessmentService/GetEvidence", PEOPLE),
    roles("tica.assessment.v1.AssessmentService/ListEvidence", PEOPLE),
    roles(
        "tica.assessment.v1.AssessmentService/DownloadEvidence",
        PEOPLE,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/DeleteEvidence",
        UPLOADERS,
    ),
    roles("tica.assessment.v1.AssessmentService/GetSubmission", PEOPLE),
    roles(
        "tica.assessment.v1.AssessmentService/ListSubmissions",
        PEOPLE,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/SubmitSubmission",
        TEACHER_OR_SCHOOL,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/ReturnSubmission",
        RETURNERS,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/GradeSubmission",
        ASSESSORS,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/GetSchoolResult",
        STAFF,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/ListSchoolResults",
        STAFF,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/SubmitSchoolResults",
        SCHOOL_AND_ABOVE,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/ApproveSchoolResults",
        OFFICES,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/ReturnSchoolResults",
        OFFICES,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/RecordOfflineCheck",
        OFFICES,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/WithdrawCertifiedResult",
        PROVINCE,
    ),
    roles("tica.assessment.v1.AssessmentService/GetProgress", STAFF),
    roles("tica.assessment.v1.AssessmentService/ListProgress", STAFF),
    roles("tica.assessment.v1.AssessmentService/ExportProgress", STAFF),
    roles(
        "tica.assessment.v1.AssessmentService/GetPrincipalAppraisal",
        STAFF,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/ListMicroCompetencyProgress",
        STAFF,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/StreamCertifiedResults",
        OFFICES,
    ),
    roles(
        "tica.assessment.v1.AssessmentService/ListAuditEvents",
        OFFICES,
    ),
    // tica.sampling.v1.SamplingService
    roles(
        "tica.sampling.v1.SamplingService/CreateReviewRound",
        OFFICES,
    ),
    roles("tica.sampling.v1.SamplingService/GetReviewRound", REVIEW),
    roles("tica.sampling.v1.SamplingService/ListReviewRounds", REVIEW),
    roles("tica.sampling.v1.SamplingService/FreezePopulation", OFFICES),
    roles("tica.sampling.v1.SamplingService/DrawSample", OFFICES),
    roles(
        "tica.sampling.v1.SamplingService/CancelReviewRound",
        OFFICES,
    ),
    roles("tica.sampling.v1.SamplingService/CloseReviewRound", OFFICES),
    roles("tica.sampling.v1.SamplingService/ListStrata", REVIEW),
    roles("tica.sampling.v1.SamplingService/GetDrawnItem", REVIEW),
    roles("tica.sampling.v1.SamplingService/ListDrawnItems", REVIEW),
    roles("tica.sampling.v1.SamplingService/AssignReviewers", OFFICES),
    roles(
        "tica.sampling.v1.SamplingService/ReassignDrawnItem",
        OFFICES,
    ),
    roles("tica.sampling.v1.SamplingService/GetRegrade", REVIEW),
    roles("tica.sampling.v1.SamplingService/ListRegrades", REVIEW),
    roles("tica.sampling.v1.SamplingService/SubmitRegrade", ASSESSORS),
    roles("tica.sampling.v1.SamplingService/GetReviewUnit", REVIEW),
    roles("tica.sampling.v1.SamplingService/ListReviewUnits", REVIEW),
    roles("tica.sampling.v1.SamplingService/DecideReviewUnit", OFFICES),
    roles(
        "tica.sampling.v1.SamplingService/ListUnitAgreements",
        OFFICES,
    ),
    roles(
        "tica.sampling.v1.SamplingService/ExportReviewRound",
        OFFICES,
    ),
    roles("tica.sampling.v1.SamplingService/ListAuditEvents", OFFICES),
    // tica.certificate.v1.CertificateService
    roles(
        "tica.certificate.v1.CertificateService/StartIssuanceRun",
        OFFICES,
    ),
    roles(
        "tica.certificate.v1.CertificateService/CancelIssuanceRun",
        OFFICES,
    ),
    roles(
        "tica.certificate.v1.CertificateService/GetIssuanceRun",
        OFFICES,
    ),
    roles(
        "tica.certificate.v1.CertificateService/ListIssuanceRuns",
        OFFICES,
    ),
    roles(
        "tica.certificate.v1.CertificateService/WatchIssuanceRun",
        OFFICES,
    ),
    roles(
        "tica.certificate.v1.CertificateService/ListParkedResults",
        OFFICES,
    ),
    roles(
        "tica.certificate.v1.CertificateService/GetCertificate",
        READERS,
    ),
    roles(
        "tica.certificate.v1.CertificateService/ListCertificates",
        READERS,
    ),
    public("tica.certificate.v1.CertificateService/SearchCertificates"),
    roles(
        "tica.certificate.v1.CertificateService/RevokeCertificate",
        OFFICES,
    ),
    roles(
        "tica.certificate.v1.CertificateService/DownloadCertificatePdf",
        READERS,
    ),
    roles(
        "tica.certificate.v1.CertificateService/GetCertificateCredential",
        READERS,
    ),
    roles(
        "tica.certificate.v1.CertificateService/CreateVerificationCode",
        &[Teacher],
    ),
    roles(
        "tica.certificate.v1.CertificateService/ListVerificationCodes",
        READERS,
    ),
    roles(
        "tica.certificate.v1.CertificateService/RevokeVerificationCode",
        READERS,
    ),
    public("tica.certificate.v1.CertificateService/VerifyWithCode"),
    roles(
        "tica.certificate.v1.CertificateService/CreateCertificateArchive",
        SCHOOL_AND_ABOVE,
    ),
    roles(
        "tica.certificate.v1.CertificateService/GetCertificateArchive",
        SCHOOL_AND_ABOVE,
    ),
    roles(
        "tica.certificate.v1.CertificateService/CancelCertificateArchive",
        SCHOOL_AND_ABOVE,
    ),
    roles(
        "tica.certificate.v1.CertificateService/ListCertificateArchives",
        SCHOOL_AND_ABOVE,
    ),
    roles(
        "tica.certificate.v1.CertificateService/WatchCertificateArchive",
        SCHOOL_AND_ABOVE,
    ),
    roles(
        "tica.certificate.v1.CertificateService/DownloadCertificateArchive",
        SCHOOL_AND_ABOVE,
    ),
    public("tica.certificate.v1.CertificateService/Verify"),
    public("tica.certificate.v1.CertificateService/BatchVerify"),
    public("tica.certificate.v1.CertificateService/ListSigningKeys"),
    public("tica.certificate.v1.CertificateService/GetLogCheckpoint"),
    public("tica.certificate.v1.CertificateService/GetInclusionProof"),
    public("tica.certificate.v1.CertificateService/GetConsistencyProof"),
    roles(
        "tica.certificate.v1.CertificateService/RecordDrawCommitment",
        OFFICES,
    ),
    public("tica.certificate.v1.CertificateService/GetRevocationList"),
    roles(
        "tica.certificate.v1.CertificateService/ListRegisterChanges",
        OFFICES,
    ),
    roles(
        "tica.certificate.v1.CertificateService/ListAuditEvents",
        OFFICES,
    ),
];

/// The row of `rpc` (`package.Service/Method`), if the table has one.
pub fn rule(rpc: &str) -> Option<&'static Rule> {
    TABLE.iter().find(|r| r.rpc == rpc)
}

/// The access policy of `service` (fully qualified), derived from [`TABLE`].
pub fn policy(service: &'static str) -> MethodPolicy {
    TABLE.iter().filter(|rule| rule.service() == service).fold(
        MethodPolicy::new(service),
        |policy, rule| match rule.access {
            Access::Public => policy.public(rule.method()),
            Access::Roles(roles) => policy.allow(rule.method(), roles),
        },
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_rpc_is_in_the_table_once_under_a_known_service() {
        let mut seen = BTreeSet::new();
        for rule in TABLE {
            assert!(seen.insert(rule.rpc), "{} twice", rule.rpc);
            assert!(
                [ROSTER, ASSESSMENT, SAMPLING, CERTIFICATE].contains(&rule.service()),
                "{}",
                rule.rpc
            );
            assert!(!rule.method().is_empty(), "{}", rule.rpc);
            if let Access::Roles(roles) = rule.access {
                assert!(!roles.is_empty(), "{} admits nobody", rule.rpc);
            }
        }
    }

    #[test]
    fn a_training_provider_reaches_its_hours_and_the_teachers_it_pushes_for_only() {
        let reached: BTreeSet<&str> = TABLE
            .iter()
            .filter(|r| r.access != Access::Public && r.admits(TrainingProvider))
            .map(|r| r.rpc)
            .collect();
        assert_eq!(
            reached,
            BTreeSet::from([
                "tica.assessment.v1.AssessmentService/BatchPushHoursRecords",
                "tica.assessment.v1.AssessmentService/GetHoursRecord",
                "tica.assessment.v1.AssessmentService/ListHoursRecords",
                "tica.roster.v1.RosterService/BatchGetTeachers",
                "tica.roster.v1.RosterService/GetTeacher",
                "tica.roster.v1.RosterService/ListTeachers",
            ])
        );
    }

    #[test]
    fn no_machine_renames_a_school_certifies_a_batch_or_approves_results() {
        for rpc in [
            "tica.roster.v1.RosterService/UpdateSchool",
            "tica.roster.v1.RosterService/CreateSchool",
            "tica.roster.v1.RosterService/ImportTeachers",
        ] {
            for role in Role::MACHINES {
                assert!(!rule(rpc).unwrap().admits(role), "{role} may call {rpc}");
            }
        }
        for rpc in [
            "tica.assessment.v1.AssessmentService/CertifyBatch",
            "tica.assessment.v1.AssessmentService/ApproveSchoolResults",
            "tica.assessment.v1.AssessmentService/WithdrawCertifiedResult",
            "tica.certificate.v1.CertificateService/StartIssuanceRun",
            "tica.certificate.v1.CertificateService/CancelIssuanceRun",
        ] {
            for role in Role::MACHINES {
                assert!(!rule(rpc).unwrap().admits(role), "{role} may call {rpc}");
            }
        }
    }

    #[test]
    fn each_services_policy_is_its_rows_of_the_table() {
        for service in [ROSTER, ASSESSMENT, SAMPLING, CERTIFICATE] {
            let policy = policy(service);
            let rows: Vec<&Rule> = TABLE.iter().filter(|r| r.service() == service).collect();
            assert_eq!(policy.methods().count(), rows.len(), "{service}");
            for rule in rows {
                match rule.access {
                    Access::Public => assert!(policy.is_public(rule.method())),
                    Access::Roles(roles) => {
                        assert_eq!(policy.roles(rule.method()), Some(roles), "{}", rule.rpc)
                    }
                }
            }
        }
    }
}
