//! A caller reads and writes only inside its own jurisdiction's subtree: anything else is
//! PERMISSION_DENIED and leaves no trace in the data (issue 2, "Identity and access").
//!
//! The county office of 泗县 (341324) tries every RPC family on 砀山县 (341321), its neighbour in
//! the same city.

mod support;

use support::{TestApp, default_options, import};
use tica_auth::Role;
use tica_client::Roster as RosterClient;
use tica_client::files::Kind;
use tica_proto::prost_types::FieldMask;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as pb;
use tica_sample::{SampleRoster, SampleSpec, teachers_csv};
use tica_storage::Backend;
use tonic::Code;

tica_testkit::backend_tests!(
    a_county_office_cannot_read_or_change_another_countys_jurisdiction,
    a_county_office_cannot_read_or_change_another_countys_school,
    a_county_office_cannot_read_or_change_another_countys_teachers,
    a_county_office_cannot_import_into_or_export_from_another_county,
    an_import_by_another_county_confirms_and_names_nothing_registered_outside_it,
    creating_a_teacher_or_school_confirms_nothing_registered_in_another_county,
    a_county_office_cannot_read_or_change_another_countys_teams,
    a_county_office_cannot_read_or_change_another_countys_assessors,
    a_county_office_cannot_read_another_countys_audit_trail,
    roles_are_held_to_what_they_may_do,
    calls_without_a_valid_token_are_unauthenticated,
);

const MINE: &str = "341324";
const THEIRS: &str = "341321";

struct World {
    app: TestApp,
    sample: SampleRoster,
    my_school: String,
    their_school: String,
    my_teacher: String,
    their_teacher: String,
    their_team: String,
    their_assessor: String,
}

/// Refused without confirming anything about the other county: PERMISSION_DENIED naming only
/// the caller's own jurisdiction, or — for a record asked for by name — NOT_FOUND, word for
/// word what a missing record gets (issue 16, point 4).
fn denied<T: std::fmt::Debug>(result: Result<tonic::Response<T>, tonic::Status>, what: &str) {
    match result {
        Err(status) if status.code() == Code::PermissionDenied => assert!(
            !status
                .message()
                .contains(&format!("jurisdictions/{THEIRS}")),
            "{what} names the other county: {status:?}"
        ),
        Err(status) if status.code() == Code::NotFound => assert!(
            status.message().ends_with(" not found"),
            "{what} is not the missing record's answer: {status:?}"
        ),
        Err(status) => panic!("{what} should be refused, got {status:?}"),
        Ok(response) => panic!("{what} should be denied, got {response:?}"),
    }
}

async fn world(backend: Backend) -> Option<World> {
    let app = TestApp::spawn(backend).await?;
    let sample = SampleRoster::generate(SampleSpec {
        seed: 7,
        cities: 1,
        counties: 2,
        schools: 4,
        teachers: 40,
        with_numbers: true,
    });
    app.setup_sample(&sample).await;
    let mut province = app.office("340000");
    let result = import(
        &mut province,
        Kind::Teachers,
        "",
        sample.teachers_csv(),
        default_options(),
    )
    .await;
    assert!(result.report.committed, "{:?}", result.errors);
    let school_in = |county: &str| {
        sample
            .schools
            .iter()
            .find(|s| s.county.to_string() == county)
            .unwrap()
            .code
            .clone()
    };
    let (my_school, their_school) = (school_in(MINE), school_in(THEIRS));
    let teachers_of = |school: &str| {
        sample
            .teachers
            .iter()
            .filter(|t| t.school == school)
            .map(|t| t.number.clone())
            .collect::<Vec<_>>()
    };
    let theirs = teachers_of(&their_school);
    let team = province
        .create_team(pb::CreateTeamRequest {
            team: Some(pb::Team {
                kind: pb::TeamKind::SchoolIctManagement as i32,
                owner: format!("schools/{their_school}"),
                display_name: "信息化管理团队".into(),
                members: theirs[..3]
                    .iter()
                    .enumerate()
                    .map(|(i, n)| pb::TeamMember {
                        member: Some(pb::team_member::Member::Teacher(format!("teachers/{n}"))),
                        role: if i == 0 {
                            pb::TeamMemberRole::Leader
                        } else {
                            pb::TeamMemberRole::Member
                        } as i32,
                        duty: String::new(),
                    })
                    .collect(),
                ..Default::default()
            }),
        })
        .await
        .expect("the province creates the team")
        .into_inner();
    let assessor = province
        .create_assessor(pb::CreateAssessorRequest {
            assessor: Some(pb::Assessor {
                teacher: format!("teachers/{}", theirs[1]),
                level: pb::AssessorLevel::County as i32,
                registered_at: format!("jurisdictions/{THEIRS}"),
                ..Default::default()
            }),
        })
        .await
        .expect("the province nominates the assessor")
        .into_inner();
    Some(World {
        my_teacher: teachers_of(&my_school)[1].clone(),
        their_teacher: theirs[1].clone(),
        their_team: team.name,
        their_assessor: assessor.name,
        my_school,
        their_school,
        app,
        sample,
    })
}

impl World {
    fn me(&self) -> RosterClient {
        self.app.office(MINE)
    }

    /// Every audit event about the other county, as the province reads them.
    async fn their_audit_trail(&self) -> Vec<common::AuditEvent> {
        self.app
            .office("340000")
            .list_audit_events(pb::ListAuditEventsRequest {
                parent: format!("jurisdictions/{THEIRS}"),
                page_size: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .audit_events
    }

    async fn their_teacher(&self) -> pb::Teacher {
        self.app
            .office("340000")
            .get_teacher(pb::GetTeacherRequest {
                name: format!("teachers/{}", self.their_teacher),
            })
            .await
            .unwrap()
            .into_inner()
    }
}

async fn a_county_office_cannot_read_or_change_another_countys_jurisdiction(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let before = w.their_audit_trail().await;
    let mut me = w.me();
    denied(
        me.get_jurisdiction(pb::GetJurisdictionRequest {
            name: format!("jurisdictions/{THEIRS}"),
        })
        .await,
        "GetJurisdiction",
    );
    denied(
        me.list_jurisdictions(pb::ListJurisdictionsRequest {
            parent: "jurisdictions/341300".into(),
            ..Default::default()
        })
        .await,
        "ListJurisdictions of the city above",
    );
    let rename = pb::UpdateJurisdictionRequest {
        jurisdiction: Some(pb::Jurisdiction {
            name: format!("jurisdictions/{THEIRS}"),
            display_name: "改名".into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["display_name".into()],
        }),
    };
    denied(me.update_jurisdiction(rename).await, "UpdateJurisdiction");
    let create = pb::CreateJurisdictionRequest {
        jurisdiction: Some(pb::Jurisdiction {
            name: "jurisdictions/341322".into(),
            display_name: "萧县".into(),
            parent: "jurisdictions/341300".into(),
            ..Default::default()
        }),
    };
    denied(
        me.create_jurisdiction(create).await,
        "CreateJurisdiction beside mine",
    );
    // My own reads work.
    let own = me
        .get_jurisdiction(pb::GetJurisdictionRequest {
            name: format!("jurisdictions/{MINE}"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.display_name, "泗县");
    let listed = me
        .list_jurisdictions(pb::ListJurisdictionsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed
            .jurisdictions
            .iter()
            .map(|j| j.name.as_str())
            .collect::<Vec<_>>(),
        vec![format!("jurisdictions/{MINE}")]
    );
    assert_eq!(w.their_audit_trail().await, before, "no trace");
}

async fn a_county_office_cannot_read_or_change_another_countys_school(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let before = w.their_audit_trail().await;
    let mut me = w.me();
    let theirs = format!("schools/{}", w.their_school);
    denied(
        me.get_school(pb::GetSchoolRequest {
            name: theirs.clone(),
        })
        .await,
        "GetSchool",
    );
    denied(
        me.batch_get_schools(pb::BatchGetSchoolsRequest {
            names: vec![format!("schools/{}", w.my_school), theirs.clone()],
        })
        .await,
        "BatchGetSchools with one of theirs",
    );
    denied(
        me.list_schools(pb::ListSchoolsRequest {
            parent: format!("jurisdictions/{THEIRS}"),
            ..Default::default()
        })
        .await,
        "ListSchools",
    );
    let update = pb::UpdateSchoolRequest {
        school: Some(pb::School {
            name: theirs.clone(),
            display_name: "被改的名字".into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["display_name".into()],
        }),
    };
    denied(me.update_school(update).await, "UpdateSchool");
    let create = pb::CreateSchoolRequest {
        school: Some(pb::School {
            name: "schools/3413219999".into(),
            display_name: "新学校".into(),
            jurisdiction: format!("jurisdictions/{THEIRS}"),
            kind: pb::SchoolKind::Primary as i32,
            ..Default::default()
        }),
    };
    denied(me.create_school(create).await, "CreateSchool");
    denied(
        me.review_school_ict_plan(pb::ReviewSchoolIctPlanRequest {
            name: theirs.clone(),
            decision: pb::IctPlanDecision::File as i32,
            comment: String::new(),
        })
        .await,
        "ReviewSchoolIctPlan",
    );
    let mut province = w.app.office("340000");
    let school = province
        .get_school(pb::GetSchoolRequest { name: theirs })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(school.display_name, "被改的名字");
    assert_eq!(
        province
            .get_school(pb::GetSchoolRequest {
                name: "schools/3413219999".into()
            })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    // My own school is mine.
    me.get_school(pb::GetSchoolRequest {
        name: format!("schools/{}", w.my_school),
    })
    .await
    .expect("my school");
    let mine = me
        .list_schools(pb::ListSchoolsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        mine.schools
            .iter()
            .all(|s| s.jurisdiction == format!("jurisdictions/{MINE}"))
    );
    assert_eq!(w.their_audit_trail().await, before, "no trace");
}

async fn a_county_office_cannot_read_or_change_another_countys_teachers(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let before = w.their_audit_trail().await;
    let teacher_before = w.their_teacher().await;
    let mut me = w.me();
    let theirs = format!("teachers/{}", w.their_teacher);
    denied(
        me.get_teacher(pb::GetTeacherRequest {
            name: theirs.clone(),
        })
        .await,
        "GetTeacher",
    );
    denied(
        me.batch_get_teachers(pb::BatchGetTeachersRequest {
            names: vec![theirs.clone()],
        })
        .await,
        "BatchGetTeachers",
    );
    denied(
        me.list_teachers(pb::ListTeachersRequest {
            parent: format!("schools/{}", w.their_school),
            ..Default::default()
        })
        .await,
        "ListTeachers of their school",
    );
    denied(
        me.list_teachers(pb::ListTeachersRequest {
            parent: format!("jurisdictions/{THEIRS}"),
            ..Default::default()
        })
        .await,
        "ListTeachers of their county",
    );
    let found = me
        .list_teachers(pb::ListTeachersRequest {
            id_number: w
                .sample
                .teachers
                .iter()
                .find(|t| t.number == w.their_teacher)
                .unwrap()
                .id
                .as_str()
                .into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        found.teachers.is_empty(),
        "a look-up by ID number does not reach outside the caller's county"
    );
    let update = pb::UpdateTeacherRequest {
        teacher: Some(pb::Teacher {
            name: theirs.clone(),
            subject: "改".into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["subject".into()],
        }),
    };
    denied(me.update_teacher(update).await, "UpdateTeacher");
    let id = tica_domain::ResidentId::generate(THEIRS, time::macros::date!(1990 - 01 - 01), 777);
    let create = pb::CreateTeacherRequest {
        teacher: Some(pb::Teacher {
            display_name: "新人".into(),
            id_number: id.as_str().into(),
            school: format!("schools/{}", w.their_school),
            stage: pb::Stage::Primary as i32,
            category: pb::TeacherCategory::Ordinary as i32,
            ..Default::default()
        }),
        teacher_id: String::new(),
    };
    denied(
        me.create_teacher(create).await,
        "CreateTeacher at their school",
    );
    denied(
        me.move_teacher(pb::MoveTeacherRequest {
            name: theirs.clone(),
            school: format!("schools/{}", w.my_school),
            ..Default::default()
        })
        .await,
        "MoveTeacher of theirs to me",
    );
    // Their school is not there for me: moving my teacher to it gets the field violation a
    // school that does not exist gets, word for word.
    let to_theirs = me
        .move_teacher(pb::MoveTeacherRequest {
            name: format!("teachers/{}", w.my_teacher),
            school: format!("schools/{}", w.their_school),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let to_nowhere = me
        .move_teacher(pb::MoveTeacherRequest {
            name: format!("teachers/{}", w.my_teacher),
            school: "schools/3413249999".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(to_theirs.code(), Code::InvalidArgument, "{to_theirs:?}");
    assert_eq!(
        to_theirs.message().replace(&w.their_school, "?"),
        to_nowhere.message().replace("3413249999", "?"),
        "MoveTeacher tells their school from a missing one"
    );
    assert_eq!(w.their_teacher().await, teacher_before, "untouched");
    let mine = me
        .get_teacher(pb::GetTeacherRequest {
            name: format!("teachers/{}", w.my_teacher),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        mine.school,
        format!("schools/{}", w.my_school),
        "mine did not move"
    );
    assert_eq!(w.their_audit_trail().await, before, "no trace");
}

async fn a_county_office_cannot_import_into_or_export_from_another_county(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let before = w.their_audit_trail().await;
    let mut me = w.me();
    // Naming their county as the import's parent is refused outright.
    let rows: Vec<Vec<String>> = vec![];
    let outright = tica_client::files::import(
        &mut me,
        Kind::Teachers,
        &format!("jurisdictions/{THEIRS}"),
        default_options(),
        teachers_csv(&rows),
        |_| {},
    )
    .await;
    assert_eq!(outright.unwrap_err().code(), Code::PermissionDenied);
    // Rows for their school in my file are refused one by one; nothing is stored.
    let extra = SampleRoster::generate(SampleSpec {
        seed: 99,
        cities: 1,
        counties: 2,
        schools: 4,
        teachers: 8,
        with_numbers: false,
    });
    let mut rows = extra.teacher_rows();
    for (i, row) in rows.iter_mut().enumerate() {
        row[5] = if i % 2 == 0 {
            w.my_school.clone()
        } else {
            w.their_school.clone()
        };
    }
    let result = import(
        &mut me,
        Kind::Teachers,
        "",
        teachers_csv(&rows),
        default_options(),
    )
    .await;
    assert!(!result.report.committed);
    assert_eq!(result.errors.len(), 4);
    assert!(
        result
            .errors
            .iter()
            .all(|e| e.reason == common::RowErrorReason::UnknownSchool as i32),
        "their school is answered as one not registered: {:?}",
        result.errors
    );
    // Schools likewise.
    let school_csv = format!(
        "学校标识码,学校名称,所属区县代码,办学类型\n3413249998,我的新学校,{MINE},小学\n3413219998,他们的新学校,{THEIRS},小学\n"
    );
    let result = import(
        &mut me,
        Kind::Schools,
        "",
        school_csv.into_bytes(),
        default_options(),
    )
    .await;
    assert_eq!(
        result
            .errors
            .iter()
            .map(|e| (e.line, e.reason))
            .collect::<Vec<_>>(),
        vec![(3, common::RowErrorReason::OutOfScope as i32)]
    );
    assert!(!result.report.committed);
    // Exports of their county are refused.
    let export = tica_client::files::export(
        &mut me,
        Kind::Teachers,
        &format!("schools/{}", w.their_school),
        common::FileFormat::Csv,
        false,
    )
    .await;
    assert_eq!(export.unwrap_err().code(), Code::PermissionDenied);
    let export = tica_client::files::export(
        &mut me,
        Kind::Schools,
        &format!("jurisdictions/{THEIRS}"),
        common::FileFormat::Csv,
        false,
    )
    .await;
    assert_eq!(export.unwrap_err().code(), Code::PermissionDenied);
    // My own export holds only my teachers.
    let mine =
        tica_client::files::export(&mut me, Kind::Teachers, "", common::FileFormat::Csv, false)
            .await
            .unwrap();
    let text = String::from_utf8(mine.bytes).unwrap();
    assert!(!text.contains(&w.their_teacher));
    assert!(text.contains(&w.my_teacher));
    assert_eq!(w.their_audit_trail().await, before, "no trace");
}

async fn a_county_office_cannot_read_or_change_another_countys_teams(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let before = w.their_audit_trail().await;
    let mut me = w.me();
    denied(
        me.get_team(pb::GetTeamRequest {
            name: w.their_team.clone(),
        })
        .await,
        "GetTeam",
    );
    denied(
        me.list_teams(pb::ListTeamsRequest {
            parent: format!("schools/{}", w.their_school),
            ..Default::default()
        })
        .await,
        "ListTeams",
    );
    let update = pb::UpdateTeamRequest {
        team: Some(pb::Team {
            name: w.their_team.clone(),
            display_name: "改".into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["display_name".into()],
        }),
    };
    denied(me.update_team(update).await, "UpdateTeam");
    let create = pb::CreateTeamRequest {
        team: Some(pb::Team {
            kind: pb::TeamKind::Training as i32,
            owner: format!("jurisdictions/{THEIRS}"),
            display_name: "培训团队".into(),
            members: vec![pb::TeamMember {
                member: Some(pb::team_member::Member::External(pb::ExternalMember {
                    display_name: "专家".into(),
                    affiliation: "大学".into(),
                })),
                role: pb::TeamMemberRole::Leader as i32,
                duty: String::new(),
            }],
            ..Default::default()
        }),
    };
    denied(me.create_team(create).await, "CreateTeam for their county");
    let mine = me
        .list_teams(pb::ListTeamsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(mine.teams.is_empty(), "their team is not in my list");
    assert_eq!(w.their_audit_trail().await, before, "no trace");
}

async fn a_county_office_cannot_read_or_change_another_countys_assessors(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let before = w.their_audit_trail().await;
    let mut me = w.me();
    let name = w.their_assessor.clone();
    denied(
        me.get_assessor(pb::GetAssessorRequest { name: name.clone() })
            .await,
        "GetAssessor",
    );
    denied(
        me.list_assessors(pb::ListAssessorsRequest {
            parent: format!("jurisdictions/{THEIRS}"),
            ..Default::default()
        })
        .await,
        "ListAssessors",
    );
    let certification = pb::AssessorCertification {
        certificate_number: "CP-1".into(),
        exam_date: Some(tica_proto::google::r#type::Date {
            year: 2025,
            month: 5,
            day: 1,
        }),
        issued_by: "砀山县教育局".into(),
    };
    denied(
        me.certify_assessor(pb::CertifyAssessorRequest {
            name: name.clone(),
            certification: Some(certification),
        })
        .await,
        "CertifyAssessor",
    );
    denied(
        me.register_assessor(pb::RegisterAssessorRequest { name: name.clone() })
            .await,
        "RegisterAssessor",
    );
    denied(
        me.reprimand_assessor(pb::ReprimandAssessorRequest {
            name: name.clone(),
            reason: "x".into(),
        })
        .await,
        "ReprimandAssessor",
    );
    denied(
        me.suspend_assessor(pb::SuspendAssessorRequest {
            name: name.clone(),
            reason: "x".into(),
        })
        .await,
        "SuspendAssessor",
    );
    denied(
        me.strike_off_assessor(pb::StrikeOffAssessorRequest {
            name: name.clone(),
            reason: "x".into(),
        })
        .await,
        "StrikeOffAssessor",
    );
    let update = pb::UpdateAssessorRequest {
        assessor: Some(pb::Assessor {
            name: name.clone(),
            subjects: vec!["数学".into()],
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["subjects".into()],
        }),
    };
    denied(me.update_assessor(update).await, "UpdateAssessor");
    let create = pb::CreateAssessorRequest {
        assessor: Some(pb::Assessor {
            teacher: format!("teachers/{}", w.their_teacher),
            level: pb::AssessorLevel::School as i32,
            registered_at: format!("schools/{}", w.their_school),
            ..Default::default()
        }),
    };
    denied(me.create_assessor(create).await, "CreateAssessor");
    let a = w
        .app
        .office("340000")
        .get_assessor(pb::GetAssessorRequest { name })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.state, pb::AssessorState::Candidate as i32, "untouched");
    assert!(a.reprimands.is_empty());
    assert_eq!(w.their_audit_trail().await, before, "no trace");
}

async fn a_county_office_cannot_read_another_countys_audit_trail(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let mut me = w.me();
    denied(
        me.list_audit_events(pb::ListAuditEventsRequest {
            parent: format!("jurisdictions/{THEIRS}"),
            ..Default::default()
        })
        .await,
        "ListAuditEvents of their county",
    );
    let mine = me
        .list_audit_events(pb::ListAuditEventsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        !mine.audit_events.is_empty(),
        "my county's writes are there"
    );
    assert!(
        mine.audit_events
            .iter()
            .all(|e| !e.resource.contains(&w.their_school) && !e.resource.contains(THEIRS))
    );
    assert!(
        !w.their_audit_trail().await.is_empty(),
        "the province sees theirs"
    );
}

async fn roles_are_held_to_what_they_may_do(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let me = w
        .sample
        .teachers
        .iter()
        .find(|t| t.number == w.my_teacher)
        .unwrap();
    let colleague = w
        .sample
        .teachers
        .iter()
        .find(|t| t.school == me.school && t.number != me.number)
        .unwrap();
    // A teacher reads their own record, not a colleague's, and lists nothing.
    let token = w
        .app
        .token(Role::Teacher, MINE, Some(&me.school), &me.number);
    let mut teacher = w.app.client_with_token(&token);
    teacher
        .get_teacher(pb::GetTeacherRequest {
            name: format!("teachers/{}", me.number),
        })
        .await
        .expect("own record");
    denied(
        teacher
            .get_teacher(pb::GetTeacherRequest {
                name: format!("teachers/{}", colleague.number),
            })
            .await,
        "a colleague's record",
    );
    denied(
        teacher
            .list_teachers(pb::ListTeachersRequest::default())
            .await,
        "ListTeachers as a teacher",
    );
    // A school administrator manages its own school's teachers but cannot register schools or
    // read the audit trail.
    let mut admin = w.app.client(Role::SchoolAdmin, MINE, Some(&w.my_school));
    let page = admin
        .list_teachers(pb::ListTeachersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        page.teachers
            .iter()
            .all(|t| t.school == format!("schools/{}", w.my_school))
    );
    let other_school_here = w
        .sample
        .schools
        .iter()
        .find(|s| s.county.to_string() == MINE && s.code != w.my_school)
        .unwrap();
    denied(
        admin
            .get_school(pb::GetSchoolRequest {
                name: format!("schools/{}", other_school_here.code),
            })
            .await,
        "another school of the same county",
    );
    denied(
        admin
            .create_school(pb::CreateSchoolRequest {
                school: Some(pb::School {
                    name: "schools/3413240777".into(),
                    display_name: "x".into(),
                    jurisdiction: format!("jurisdictions/{MINE}"),
                    kind: 2,
                    ..Default::default()
                }),
            })
            .await,
        "CreateSchool as a school admin",
    );
    denied(
        admin
            .list_audit_events(pb::ListAuditEventsRequest::default())
            .await,
        "audit trail as a school admin",
    );
}

async fn calls_without_a_valid_token_are_unauthenticated(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let mut anonymous =
        tica_proto::tica::roster::v1::roster_service_client::RosterServiceClient::new(
            w.app.channel(),
        );
    let status = anonymous
        .get_school(pb::GetSchoolRequest {
            name: format!("schools/{}", w.my_school),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(
        status.message().contains("tica token mint"),
        "{}",
        status.message()
    );
    let mut forged = w
        .app
        .client_with_token("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.");
    assert_eq!(
        forged
            .get_school(pb::GetSchoolRequest {
                name: format!("schools/{}", w.my_school)
            })
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    // Health checking needs no token.
    let mut health = tonic_health::pb::health_client::HealthClient::new(w.app.channel());
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "tica.roster.v1.RosterService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        serving.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

/// Everything a row error says, but its line.
fn said(errors: &[common::RowError]) -> Vec<(String, i32, String)> {
    errors
        .iter()
        .map(|e| (e.column.clone(), e.reason, e.message.clone()))
        .collect()
}

/// Issue 16 §4: a dry run by 泗县 with a 砀山县 teacher's ID number answered "已登记为教师
/// 34132100030015", naming the teacher and so the school. The row must be refused (the number
/// is taken) with words that are the same whoever holds it, in every mode.
async fn an_import_by_another_county_confirms_and_names_nothing_registered_outside_it(
    backend: Backend,
) {
    let Some(w) = world(backend).await else {
        return;
    };
    let before = w.their_audit_trail().await;
    let mut me = w.me();
    let theirs: Vec<_> = w
        .sample
        .teachers
        .iter()
        .filter(|t| t.school == w.their_school)
        .take(2)
        .collect();
    let mine = w
        .sample
        .teachers
        .iter()
        .find(|t| t.number == w.my_teacher)
        .unwrap();
    // A new teacher at my school, carrying one of their ID numbers; no teacher number given, so
    // only the ID number can clash.
    let row_with = |id: &str| {
        let mut row = w.sample.teacher_row(mine);
        row[0] = String::new();
        row[1] = "新教师".into();
        row[2] = id.to_owned();
        // Sex and birth date are read from the ID number.
        row[3] = String::new();
        row[4] = String::new();
        row
    };
    let modes = [
        (
            "dry run",
            true,
            common::ImportMode::AllOrNothing,
            common::ExistingRecords::Reject,
        ),
        (
            "default",
            false,
            common::ImportMode::AllOrNothing,
            common::ExistingRecords::Reject,
        ),
        (
            "valid rows",
            false,
            common::ImportMode::ValidRows,
            common::ExistingRecords::Reject,
        ),
        (
            "update",
            false,
            common::ImportMode::AllOrNothing,
            common::ExistingRecords::Update,
        ),
        (
            "update dry run",
            true,
            common::ImportMode::ValidRows,
            common::ExistingRecords::Update,
        ),
    ];
    let mut answers = Vec::new();
    for (label, validate_only, mode, existing) in modes {
        for t in &theirs {
            let result = import(
                &mut me,
                Kind::Teachers,
                "",
                teachers_csv(&[row_with(t.id.as_str())]),
                common::ImportOptions {
                    validate_only,
                    mode: mode as i32,
                    existing: existing as i32,
                    ..default_options()
                },
            )
            .await;
            assert!(
                !result.report.committed || result.report.rows_created == 0,
                "{label}"
            );
            assert_eq!(result.errors.len(), 1, "{label}: {:?}", result.errors);
            let error = &result.errors[0];
            assert_eq!(
                error.reason,
                common::RowErrorReason::OutOfScope as i32,
                "{label}: {error:?}"
            );
            for secret in [t.number.as_str(), t.name.as_str(), t.school.as_str()] {
                assert!(
                    !error.message.contains(secret),
                    "{label}: {error:?} names {secret}"
                );
            }
            answers.push(said(&result.errors));
        }
    }
    answers.dedup();
    assert_eq!(
        answers.len(),
        1,
        "one answer whoever holds the number, in every mode: {answers:?}"
    );
    // A teacher number of theirs, given in my file, is answered the same way (and not named as
    // someone's).
    let mut row = row_with(
        tica_domain::ResidentId::generate(MINE, time::macros::date!(1991 - 02 - 03), 424).as_str(),
    );
    row[0] = theirs[0].number.clone();
    for validate_only in [true, false] {
        let result = import(
            &mut me,
            Kind::Teachers,
            "",
            teachers_csv(&[row.clone()]),
            common::ImportOptions {
                validate_only,
                ..default_options()
            },
        )
        .await;
        assert_eq!(
            result.errors.iter().map(|e| e.reason).collect::<Vec<_>>(),
            vec![common::RowErrorReason::OutOfScope as i32],
            "{:?}",
            result.errors
        );
        assert!(!result.errors[0].message.contains(&theirs[0].name));
    }
    // A school of theirs and a code registered nowhere get one answer.
    let mut at_theirs = row_with(
        tica_domain::ResidentId::generate(MINE, time::macros::date!(1991 - 02 - 03), 425).as_str(),
    );
    at_theirs[5] = w.their_school.clone();
    let mut at_none = at_theirs.clone();
    at_none[5] = format!("{}", w.their_school.parse::<u64>().unwrap() + 7_000);
    let mut answers = Vec::new();
    for row in [at_theirs, at_none] {
        let code = row[5].clone();
        let result = import(
            &mut me,
            Kind::Teachers,
            "",
            teachers_csv(&[row]),
            common::ImportOptions {
                validate_only: true,
                ..default_options()
            },
        )
        .await;
        answers.push(
            said(&result.errors)
                .into_iter()
                .map(|(c, r, m)| (c, r, m.replace(&code, "CODE")))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].len(), 1);
    // Their school's code in my school file: refused without saying whose it is.
    let school_csv = format!(
        "学校标识码,学校名称,所属区县代码,办学类型\n{},改个名字,{MINE},小学\n",
        w.their_school
    );
    for existing in [
        common::ExistingRecords::Reject,
        common::ExistingRecords::Update,
    ] {
        let result = import(
            &mut me,
            Kind::Schools,
            "",
            school_csv.clone().into_bytes(),
            common::ImportOptions {
                validate_only: true,
                existing: existing as i32,
                ..default_options()
            },
        )
        .await;
        assert_eq!(
            result.errors.iter().map(|e| e.reason).collect::<Vec<_>>(),
            vec![common::RowErrorReason::OutOfScope as i32],
            "{:?}",
            result.errors
        );
    }
    assert_eq!(w.their_audit_trail().await, before, "no trace");
}

/// CreateTeacher with a 砀山县 teacher's ID number answered ALREADY_EXISTS, and one at a school
/// code registered nowhere INVALID_ARGUMENT while theirs was PERMISSION_DENIED: both told 泗县
/// what 砀山县 holds. Whatever the caller may not see is PERMISSION_DENIED naming its own scope.
async fn creating_a_teacher_or_school_confirms_nothing_registered_in_another_county(
    backend: Backend,
) {
    let Some(w) = world(backend).await else {
        return;
    };
    let mut me = w.me();
    let theirs = w
        .sample
        .teachers
        .iter()
        .find(|t| t.number == w.their_teacher)
        .unwrap();
    let create = |id: &str, school: &str, number: &str| pb::CreateTeacherRequest {
        teacher: Some(pb::Teacher {
            display_name: "新人".into(),
            id_number: id.into(),
            school: format!("schools/{school}"),
            stage: pb::Stage::Primary as i32,
            category: pb::TeacherCategory::Ordinary as i32,
            ..Default::default()
        }),
        teacher_id: number.into(),
    };
    let fresh = tica_domain::ResidentId::generate(MINE, time::macros::date!(1990 - 01 - 01), 778);
    let nowhere = format!("{}", w.their_school.parse::<u64>().unwrap() + 7_000);
    for (what, request) in [
        (
            "their ID number",
            create(theirs.id.as_str(), &w.my_school, ""),
        ),
        (
            "their teacher number",
            create(fresh.as_str(), &w.my_school, &theirs.number),
        ),
        ("their school", create(fresh.as_str(), &w.their_school, "")),
        (
            "a school registered nowhere",
            create(fresh.as_str(), &nowhere, ""),
        ),
    ] {
        let status = me.create_teacher(request).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{what}: {status:?}");
        for secret in [&theirs.number, &theirs.name] {
            assert!(
                !status.message().contains(secret.as_str()),
                "{what}: {status:?}"
            );
        }
        assert!(
            status.message().contains(MINE),
            "{what} names my scope: {status:?}"
        );
    }
    // Their school's code under my county.
    let status = me
        .create_school(pb::CreateSchoolRequest {
            school: Some(pb::School {
                name: format!("schools/{}", w.their_school),
                display_name: "新学校".into(),
                jurisdiction: format!("jurisdictions/{MINE}"),
                kind: pb::SchoolKind::Primary as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // Inside my own county a clash is still named, to help the office.
    let mine = w
        .sample
        .teachers
        .iter()
        .find(|t| t.number == w.my_teacher)
        .unwrap();
    let status = me
        .create_teacher(create(mine.id.as_str(), &w.my_school, ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
}
