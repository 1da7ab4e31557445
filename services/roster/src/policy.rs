//! Which roles may call which roster method. The tower auth layer enforces this table before
//! any handler runs; handlers then check the resource's place in the tree.

use tica_auth::{MethodPolicy, Role};

const EVERYONE: &[Role] = &Role::ALL;
const ALL_BUT_TEACHERS: &[Role] = &[
    Role::SchoolAdmin,
    Role::Assessor,
    Role::CountyOffice,
    Role::CityOffice,
    Role::ProvinceOffice,
    Role::Service,
];
const OFFICES: &[Role] = &[
    Role::CountyOffice,
    Role::CityOffice,
    Role::ProvinceOffice,
    Role::Service,
];
const SCHOOL_WRITERS: &[Role] = &[
    Role::SchoolAdmin,
    Role::CountyOffice,
    Role::CityOffice,
    Role::ProvinceOffice,
    Role::Service,
];
const AUDIT_READERS: &[Role] = &[Role::CountyOffice, Role::CityOffice, Role::ProvinceOffice];

/// The roster's access policy.
pub fn policy() -> MethodPolicy {
    MethodPolicy::new(crate::SERVICE_NAME)
        .allow("GetJurisdiction", EVERYONE)
        .allow("ListJurisdictions", EVERYONE)
        .allow("CreateJurisdiction", OFFICES)
        .allow("UpdateJurisdiction", OFFICES)
        .allow("GetSchool", EVERYONE)
        .allow("BatchGetSchools", EVERYONE)
        .allow("ListSchools", ALL_BUT_TEACHERS)
        .allow("CreateSchool", OFFICES)
        .allow("UpdateSchool", SCHOOL_WRITERS)
        .allow("ReviewSchoolIctPlan", OFFICES)
        .allow("ImportSchools", OFFICES)
        .allow("ExportSchools", ALL_BUT_TEACHERS)
        .allow("GetTeacher", EVERYONE)
        .allow("BatchGetTeachers", EVERYONE)
        .allow("ListTeachers", ALL_BUT_TEACHERS)
        .allow("CreateTeacher", SCHOOL_WRITERS)
        .allow("UpdateTeacher", SCHOOL_WRITERS)
        .allow("MoveTeacher", OFFICES)
        .allow("ImportTeachers", SCHOOL_WRITERS)
        .allow("ExportTeachers", SCHOOL_WRITERS)
        .allow("GetTeam", ALL_BUT_TEACHERS)
        .allow("ListTeams", ALL_BUT_TEACHERS)
        .allow("CreateTeam", SCHOOL_WRITERS)
        .allow("UpdateTeam", SCHOOL_WRITERS)
        .allow("GetAssessor", ALL_BUT_TEACHERS)
        .allow("ListAssessors", ALL_BUT_TEACHERS)
        .allow("CreateAssessor", OFFICES)
        .allow("UpdateAssessor", OFFICES)
        .allow("CertifyAssessor", OFFICES)
        .allow("RegisterAssessor", OFFICES)
        .allow("ReprimandAssessor", OFFICES)
        .allow("SuspendAssessor", OFFICES)
        .allow("StrikeOffAssessor", OFFICES)
        .allow("ListAuditEvents", AUDIT_READERS)
}
