//! Which roles may call which assessment method (enforced by the auth layer before any handler
//! runs; the logic then checks the resource's place in the tree and finer rules).

use tica_auth::{MethodPolicy, Role};

const EVERYONE: &[Role] = &Role::ALL;
const STAFF: &[Role] = &[
    Role::SchoolAdmin,
    Role::Assessor,
    Role::CountyOffice,
    Role::CityOffice,
    Role::ProvinceOffice,
    Role::Service,
];
const ADMINISTRATORS: &[Role] = &[
    Role::CountyOffice,
    Role::CityOffice,
    Role::ProvinceOffice,
    Role::Service,
];
const SCHOOL_AND_ABOVE: &[Role] = &[
    Role::SchoolAdmin,
    Role::CountyOffice,
    Role::CityOffice,
    Role::ProvinceOffice,
    Role::Service,
];
const TEACHER_OR_SCHOOL: &[Role] = &[
    Role::Teacher,
    Role::SchoolAdmin,
    Role::CountyOffice,
    Role::CityOffice,
    Role::ProvinceOffice,
];
const UPLOADERS: &[Role] = &[Role::Teacher, Role::SchoolAdmin];
const GRADERS: &[Role] = &[Role::Assessor];
const RETURNERS: &[Role] = &[
    Role::SchoolAdmin,
    Role::Assessor,
    Role::CountyOffice,
    Role::CityOffice,
    Role::ProvinceOffice,
];
const PROVIDERS: &[Role] = &[Role::Service, Role::SchoolAdmin];
const OFFICES: &[Role] = &[Role::CountyOffice, Role::CityOffice, Role::ProvinceOffice];
const PROVINCE: &[Role] = &[Role::ProvinceOffice, Role::Service];

/// The assessment service's access policy.
pub fn policy() -> MethodPolicy {
    MethodPolicy::new(crate::service::SERVICE_NAME)
        .allow("GetMicroCompetency", EVERYONE)
        .allow("ListMicroCompetencies", EVERYONE)
        .allow("ListPolicyPresets", EVERYONE)
        .allow("GetPolicy", EVERYONE)
        .allow("ListPolicies", EVERYONE)
        .allow("CreatePolicy", ADMINISTRATORS)
        .allow("UpdatePolicy", ADMINISTRATORS)
        .allow("GetPolicyVersion", EVERYONE)
        .allow("ListPolicyVersions", EVERYONE)
        .allow("GetEffectivePolicy", EVERYONE)
        .allow("GetBatch", EVERYONE)
        .allow("ListBatches", EVERYONE)
        .allow("CreateBatch", ADMINISTRATORS)
        .allow("UpdateBatch", ADMINISTRATORS)
        .allow("OpenBatch", ADMINISTRATORS)
        .allow("CarryOverParticipants", ADMINISTRATORS)
        .allow("BeginProvinceAudit", ADMINISTRATORS)
        .allow("CertifyBatch", ADMINISTRATORS)
        .allow("ReturnBatch", ADMINISTRATORS)
        .allow("GetParticipant", EVERYONE)
        .allow("ListParticipants", STAFF)
        .allow("EnrolParticipants", SCHOOL_AND_ABOVE)
        .allow("WithdrawParticipant", SCHOOL_AND_ABOVE)
        .allow("GetSelection", EVERYONE)
        .allow("CheckSelection", EVERYONE)
        .allow("SubmitSelection", TEACHER_OR_SCHOOL)
        .allow("BatchPushHoursRecords", PROVIDERS)
        .allow("GetHoursRecord", EVERYONE)
        .allow("ListHoursRecords", EVERYONE)
        .allow("UploadEvidence", UPLOADERS)
        .allow("GetEvidence", EVERYONE)
        .allow("ListEvidence", EVERYONE)
        .allow("DownloadEvidence", EVERYONE)
        .allow("DeleteEvidence", UPLOADERS)
        .allow("GetSubmission", EVERYONE)
        .allow("ListSubmissions", EVERYONE)
        .allow("SubmitSubmission", TEACHER_OR_SCHOOL)
        .allow("ReturnSubmission", RETURNERS)
        .allow("GradeSubmission", GRADERS)
        .allow("GetSchoolResult", STAFF)
        .allow("ListSchoolResults", STAFF)
        .allow("SubmitSchoolResults", SCHOOL_AND_ABOVE)
        .allow("ApproveSchoolResults", ADMINISTRATORS)
        .allow("ReturnSchoolResults", ADMINISTRATORS)
        .allow("RecordOfflineCheck", ADMINISTRATORS)
        .allow("WithdrawCertifiedResult", PROVINCE)
        .allow("GetProgress", STAFF)
        .allow("ListProgress", STAFF)
        .allow("ExportProgress", STAFF)
        .allow("GetPrincipalAppraisal", STAFF)
        .allow("ListMicroCompetencyProgress", STAFF)
        .allow("StreamCertifiedResults", ADMINISTRATORS)
        .allow("ListAuditEvents", OFFICES)
}
