//! The roster's resources over real gRPC: rules, validation and history.

mod support;

use support::{TestApp, default_options, import};
use tica_auth::Role;
use tica_client::Roster as RosterClient;
use tica_client::files::Kind;
use tica_proto::google::r#type::Date;
use tica_proto::prost_types::FieldMask;
use tica_proto::tica::roster::v1 as pb;
use tica_sample::{SampleRoster, SampleSpec};
use tica_server::errors::field_violations;
use tica_storage::Backend;
use tica_testkit::errors::reason_of;
use tonic::Code;

tica_testkit::backend_tests!(
    jurisdictions_must_sit_where_gb_t_2260_puts_them,
    beijings_districts_sit_directly_under_the_municipality,
    a_new_school_is_validated_field_by_field,
    an_update_changes_only_the_fields_in_its_mask,
    a_county_files_or_returns_a_schools_ict_plan,
    a_teacher_with_a_bad_id_number_is_refused_with_a_field_violation,
    a_resident_id_number_is_registered_once,
    moving_a_teacher_keeps_their_number_and_history,
    a_school_ict_team_follows_the_provinces_size_rule,
    training_team_sizes_follow_the_owners_level_and_can_be_overridden,
    an_assessor_is_certified_registered_and_struck_off_in_order,
    every_write_is_audited_and_the_trail_cannot_be_rewritten,
    a_page_token_only_works_with_the_filters_it_was_issued_for,
    list_filters_narrow_the_teachers,
    two_offices_that_read_one_school_cannot_overwrite_each_other,
    racing_updates_with_one_etag_let_exactly_one_win,
    racing_updates_without_an_etag_both_land_and_lose_nothing,
    every_roster_resource_carries_an_etag_that_changes_with_each_write,
);

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

fn jurisdiction(code: &str, name: &str, parent: &str) -> pb::CreateJurisdictionRequest {
    pb::CreateJurisdictionRequest {
        jurisdiction: Some(pb::Jurisdiction {
            name: format!("jurisdictions/{code}"),
            display_name: name.into(),
            parent: if parent.is_empty() {
                String::new()
            } else {
                format!("jurisdictions/{parent}")
            },
            ..Default::default()
        }),
    }
}

async fn small(backend: Backend) -> Option<(TestApp, SampleRoster)> {
    let app = TestApp::spawn(backend).await?;
    let sample = SampleRoster::generate(SampleSpec {
        seed: 3,
        cities: 1,
        counties: 2,
        schools: 6,
        teachers: 60,
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
    Some((app, sample))
}

fn violations_of(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    field_violations(status)
        .into_iter()
        .map(|(field, _)| field)
        .collect()
}

async fn jurisdictions_must_sit_where_gb_t_2260_puts_them(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut province = app.office("340000");
    province
        .create_jurisdiction(jurisdiction("340000", "安徽省", ""))
        .await
        .unwrap();
    // A county must hang under its city, which must exist first.
    let status = province
        .create_jurisdiction(jurisdiction("341324", "泗县", "340000"))
        .await
        .unwrap_err();
    assert_eq!(violations_of(&status), vec!["jurisdiction.parent"]);
    assert!(status.message().contains("341300"), "{}", status.message());
    let status = province
        .create_jurisdiction(jurisdiction("341324", "泗县", "341300"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    let city = province
        .create_jurisdiction(jurisdiction("341300", "宿州市", "340000"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(city.level, pb::JurisdictionLevel::City as i32);
    let county = province
        .create_jurisdiction(jurisdiction("341324", "泗县", "341300"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(county.level, pb::JurisdictionLevel::County as i32);
    // Anhui's school team rule is inherited from the province preset.
    let rules = county
        .effective_team_rules
        .unwrap()
        .school_ict_management
        .unwrap();
    assert_eq!((rules.min, rules.max), (3, 5));
    let again = province
        .create_jurisdiction(jurisdiction("341324", "泗县", "341300"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    let bad = province
        .create_jurisdiction(jurisdiction("34132", "x", "341300"))
        .await
        .unwrap_err();
    assert_eq!(violations_of(&bad), vec!["jurisdiction.name"]);
    // Another province is not this office's to create.
    let other = province
        .create_jurisdiction(jurisdiction("640000", "宁夏回族自治区", ""))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied);
    let children = province
        .list_jurisdictions(pb::ListJurisdictionsRequest {
            parent: "jurisdictions/341300".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(children.jurisdictions.len(), 1);
    assert_eq!(children.total_size, 1);
}

async fn beijings_districts_sit_directly_under_the_municipality(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut beijing = app.office("110000");
    beijing
        .create_jurisdiction(jurisdiction("110000", "北京市", ""))
        .await
        .unwrap();
    let chaoyang = beijing
        .create_jurisdiction(jurisdiction("110105", "朝阳区", "110000"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(chaoyang.parent, "jurisdictions/110000");
    assert_eq!(chaoyang.level, pb::JurisdictionLevel::County as i32);
    let status = beijing
        .create_jurisdiction(jurisdiction("110100", "市辖区", "110000"))
        .await
        .unwrap_err();
    assert_eq!(violations_of(&status), vec!["jurisdiction.name"]);
    // The district's office sees its own subtree.
    let mut district = app.office("110105");
    district
        .get_jurisdiction(pb::GetJurisdictionRequest {
            name: "jurisdictions/110105".into(),
        })
        .await
        .unwrap();
}

async fn a_new_school_is_validated_field_by_field(backend: Backend) {
    let Some((app, _)) = small(backend).await else {
        return;
    };
    let mut county = app.office("341324");
    let status = county
        .create_school(pb::CreateSchoolRequest {
            school: Some(pb::School {
                name: "schools/bad code!".into(),
                display_name: "".into(),
                jurisdiction: "jurisdictions/341324".into(),
                kind: 0,
                full_time_teacher_count: -3,
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    let mut fields = violations_of(&status);
    fields.sort();
    assert_eq!(
        fields,
        vec!["school.full_time_teacher_count", "school.kind"]
    );
    let status = county
        .create_school(pb::CreateSchoolRequest {
            school: Some(pb::School {
                name: "schools/bad code!".into(),
                display_name: "".into(),
                jurisdiction: "jurisdictions/341324".into(),
                kind: pb::SchoolKind::Primary as i32,
                ict_plan: Some(pb::IctPlan {
                    document_uri: "ftp://x".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    let mut fields = violations_of(&status);
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "school.display_name",
            "school.ict_plan.document_uri",
            "school.name"
        ]
    );
    let created = county
        .create_school(pb::CreateSchoolRequest {
            school: Some(pb::School {
                name: "schools/3413240900".into(),
                display_name: "泗县实验幼儿园".into(),
                jurisdiction: "jurisdictions/341324".into(),
                kind: pb::SchoolKind::Kindergarten as i32,
                rural: false,
                full_time_teacher_count: 25,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.registered_teacher_count, 0);
    assert!(created.create_time.is_some());
}

async fn an_update_changes_only_the_fields_in_its_mask(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let mut county = app.office("341324");
    let name = format!("schools/{}", sample.schools[0].code);
    let before = county
        .get_school(pb::GetSchoolRequest { name: name.clone() })
        .await
        .unwrap()
        .into_inner();
    let updated = county
        .update_school(pb::UpdateSchoolRequest {
            school: Some(pb::School {
                name: name.clone(),
                display_name: "新名字".into(),
                rural: !before.rural,
                full_time_teacher_count: 999,
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.display_name, "新名字");
    assert_eq!(updated.rural, before.rural, "not in the mask, not changed");
    assert_eq!(
        updated.full_time_teacher_count,
        before.full_time_teacher_count
    );
    let empty = county
        .update_school(pb::UpdateSchoolRequest {
            school: Some(pb::School {
                name: name.clone(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(violations_of(&empty), vec!["update_mask"]);
    let unknown = county
        .update_school(pb::UpdateSchoolRequest {
            school: Some(pb::School {
                name,
                ..Default::default()
            }),
            update_mask: mask(&["jurisdiction"]),
        })
        .await
        .unwrap_err();
    assert_eq!(violations_of(&unknown), vec!["update_mask"]);
}

async fn a_county_files_or_returns_a_schools_ict_plan(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let school = sample
        .schools
        .iter()
        .find(|s| s.county.to_string() == "341324")
        .unwrap();
    let name = format!("schools/{}", school.code);
    let mut admin = app.client(Role::SchoolAdmin, "341324", Some(&school.code));
    let submitted = admin
        .update_school(pb::UpdateSchoolRequest {
            school: Some(pb::School {
                name: name.clone(),
                ict_plan: Some(pb::IctPlan {
                    research_theme: "基于数据的精准教学".into(),
                    summary: "三年规划".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            update_mask: mask(&["ict_plan"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        submitted.ict_plan.as_ref().unwrap().state,
        pb::IctPlanState::Submitted as i32
    );
    // The school cannot file its own plan.
    let own = admin
        .review_school_ict_plan(pb::ReviewSchoolIctPlanRequest {
            name: name.clone(),
            decision: pb::IctPlanDecision::File as i32,
            comment: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(own.code(), Code::PermissionDenied);
    let mut county = app.office("341324");
    let no_comment = county
        .review_school_ict_plan(pb::ReviewSchoolIctPlanRequest {
            name: name.clone(),
            decision: pb::IctPlanDecision::Return as i32,
            comment: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violations_of(&no_comment), vec!["comment"]);
    let returned = county
        .review_school_ict_plan(pb::ReviewSchoolIctPlanRequest {
            name: name.clone(),
            decision: pb::IctPlanDecision::Return as i32,
            comment: "补充研修计划".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let plan = returned.ict_plan.unwrap();
    assert_eq!(plan.state, pb::IctPlanState::Returned as i32);
    assert_eq!(plan.review_comment, "补充研修计划");
    let twice = county
        .review_school_ict_plan(pb::ReviewSchoolIctPlanRequest {
            name: name.clone(),
            decision: pb::IctPlanDecision::File as i32,
            comment: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        twice.code(),
        Code::FailedPrecondition,
        "only a submitted plan is reviewed"
    );
}

async fn a_teacher_with_a_bad_id_number_is_refused_with_a_field_violation(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let mut county = app.office("341324");
    let school = sample
        .schools
        .iter()
        .find(|s| s.county.to_string() == "341324")
        .unwrap();
    let good = tica_domain::ResidentId::generate("341324", time::macros::date!(1988 - 08 - 08), 31);
    let mut bad = good.as_str().to_owned();
    let last = bad.pop().unwrap();
    bad.push(if last == '0' { '1' } else { '0' });
    let request = |id: &str| pb::CreateTeacherRequest {
        teacher: Some(pb::Teacher {
            display_name: "赵喆".into(),
            id_number: id.into(),
            school: format!("schools/{}", school.code),
            stage: pb::Stage::Primary as i32,
            category: pb::TeacherCategory::Ordinary as i32,
            ..Default::default()
        }),
        teacher_id: String::new(),
    };
    let status = county.create_teacher(request(&bad)).await.unwrap_err();
    assert_eq!(violations_of(&status), vec!["teacher.id_number"]);
    let (_, message) = field_violations(&status).remove(0);
    assert!(
        !message.contains(&bad),
        "the message never repeats the number: {message}"
    );
    let created = county
        .create_teacher(request(good.as_str()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.id_number, good.masked());
    assert_eq!(
        created.birth_date,
        Some(Date {
            year: 1988,
            month: 8,
            day: 8
        })
    );
    assert_eq!(created.roles, vec![pb::PersonRole::Teacher as i32]);
}

async fn a_resident_id_number_is_registered_once(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let mut province = app.office("340000");
    let existing = &sample.teachers[0];
    let status = province
        .create_teacher(pb::CreateTeacherRequest {
            teacher: Some(pb::Teacher {
                display_name: "同一个人".into(),
                id_number: existing.id.as_str().into(),
                school: format!("schools/{}", sample.schools[1].code),
                stage: pb::Stage::Primary as i32,
                category: pb::TeacherCategory::Ordinary as i32,
                ..Default::default()
            }),
            teacher_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(!status.message().contains(existing.id.as_str()));
}

async fn moving_a_teacher_keeps_their_number_and_history(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let mut province = app.office("340000");
    let teacher = &sample.teachers[5];
    let name = format!("teachers/{}", teacher.number);
    let to = sample
        .schools
        .iter()
        .find(|s| s.code != teacher.school && s.county.to_string() != teacher.school[..6])
        .unwrap();
    let moved = province
        .move_teacher(pb::MoveTeacherRequest {
            name: name.clone(),
            school: format!("schools/{}", to.code),
            effective_date: Some(Date {
                year: 2099,
                month: 9,
                day: 1,
            }),
            reason: "交流轮岗".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.name, name, "the number never changes");
    assert_eq!(moved.school, format!("schools/{}", to.code));
    assert_eq!(moved.jurisdiction, format!("jurisdictions/{}", to.county));
    assert_eq!(moved.assignments.len(), 2);
    assert_eq!(
        moved.assignments[0].school,
        format!("schools/{}", teacher.school)
    );
    assert_eq!(
        moved.assignments[0].end_date,
        Some(Date {
            year: 2099,
            month: 8,
            day: 31
        })
    );
    assert_eq!(moved.assignments[0].end_reason, "交流轮岗");
    assert_eq!(
        moved.assignments[1].start_date,
        Some(Date {
            year: 2099,
            month: 9,
            day: 1
        })
    );
    // Read back, the history is there; a move to the same school is refused.
    let read = province
        .get_teacher(pb::GetTeacherRequest { name: name.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.assignments, moved.assignments);
    let same = province
        .move_teacher(pb::MoveTeacherRequest {
            name,
            school: format!("schools/{}", to.code),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations_of(&same), vec!["school"]);
    // The office of the county the teacher left sees the move in its audit trail.
    let left = app
        .office(&teacher.school[..6])
        .list_audit_events(pb::ListAuditEventsRequest {
            resource: format!("teachers/{}", teacher.number),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        left.audit_events
            .iter()
            .any(|e| e.method.ends_with("/MoveTeacher"))
    );
}

fn member(number: &str, leader: bool) -> pb::TeamMember {
    pb::TeamMember {
        member: Some(pb::team_member::Member::Teacher(format!(
            "teachers/{number}"
        ))),
        role: if leader {
            pb::TeamMemberRole::Leader
        } else {
            pb::TeamMemberRole::Member
        } as i32,
        duty: String::new(),
    }
}

async fn create_team(
    client: &mut RosterClient,
    kind: pb::TeamKind,
    owner: String,
    members: Vec<pb::TeamMember>,
) -> Result<pb::Team, tonic::Status> {
    client
        .create_team(pb::CreateTeamRequest {
            team: Some(pb::Team {
                kind: kind as i32,
                owner,
                display_name: "团队".into(),
                members,
                ..Default::default()
            }),
        })
        .await
        .map(|r| r.into_inner())
}

async fn a_school_ict_team_follows_the_provinces_size_rule(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let school = &sample.schools[0];
    let staff: Vec<&str> = sample
        .teachers
        .iter()
        .filter(|t| t.school == school.code)
        .map(|t| t.number.as_str())
        .collect();
    let principal = sample
        .teachers
        .iter()
        .find(|t| t.school == school.code && t.roles.contains("校长"))
        .unwrap();
    assert_eq!(principal.number, staff[0]);
    let mut admin = app.client(
        Role::SchoolAdmin,
        &school.county.to_string(),
        Some(&school.code),
    );
    let owner = format!("schools/{}", school.code);
    // Anhui: 3–5 people (《安徽指导意见》§三(一)2).
    let two = create_team(
        &mut admin,
        pb::TeamKind::SchoolIctManagement,
        owner.clone(),
        vec![member(staff[0], true), member(staff[1], false)],
    )
    .await
    .unwrap_err();
    assert_eq!(violations_of(&two), vec!["team.members"]);
    assert!(two.message().contains("3–5"), "{}", two.message());
    // The leader must be the principal (校长领衔).
    let not_principal = create_team(
        &mut admin,
        pb::TeamKind::SchoolIctManagement,
        owner.clone(),
        vec![
            member(staff[1], true),
            member(staff[0], false),
            member(staff[2], false),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(violations_of(&not_principal), vec!["team.members[0]"]);
    // A teacher of another school cannot sit on it.
    let outsider = sample
        .teachers
        .iter()
        .find(|t| t.school != school.code && t.school[..6] == school.code[..6])
        .unwrap();
    let outside = create_team(
        &mut admin,
        pb::TeamKind::SchoolIctManagement,
        owner.clone(),
        vec![
            member(staff[0], true),
            member(staff[1], false),
            member(&outsider.number, false),
        ],
    )
    .await;
    assert!(matches!(outside, Err(s) if s.code() == Code::InvalidArgument));
    let team = create_team(
        &mut admin,
        pb::TeamKind::SchoolIctManagement,
        owner.clone(),
        vec![
            member(staff[0], true),
            member(staff[1], false),
            member(staff[2], false),
        ],
    )
    .await
    .unwrap();
    assert_eq!(team.members.len(), 3);
    let second = create_team(
        &mut admin,
        pb::TeamKind::SchoolIctManagement,
        owner,
        vec![
            member(staff[0], true),
            member(staff[3], false),
            member(staff[4], false),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(
        second.code(),
        Code::AlreadyExists,
        "one ICT team per school"
    );
    // Growing it past 5 is refused; the team is unchanged.
    let six: Vec<pb::TeamMember> = staff[..6]
        .iter()
        .enumerate()
        .map(|(i, n)| member(n, i == 0))
        .collect();
    let grown = admin
        .update_team(pb::UpdateTeamRequest {
            team: Some(pb::Team {
                name: team.name.clone(),
                members: six,
                ..Default::default()
            }),
            update_mask: mask(&["members"]),
        })
        .await
        .unwrap_err();
    assert_eq!(grown.code(), Code::InvalidArgument);
    let read = admin
        .get_team(pb::GetTeamRequest { name: team.name })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.members.len(), 3);
}

async fn training_team_sizes_follow_the_owners_level_and_can_be_overridden(backend: Backend) {
    let Some((app, _)) = small(backend).await else {
        return;
    };
    let mut county = app.office("341324");
    let externals = |n: usize| -> Vec<pb::TeamMember> {
        (0..n)
            .map(|i| pb::TeamMember {
                member: Some(pb::team_member::Member::External(pb::ExternalMember {
                    display_name: format!("专家{i}"),
                    affiliation: "安徽师范大学".into(),
                })),
                role: if i == 0 {
                    pb::TeamMemberRole::Leader
                } else {
                    pb::TeamMemberRole::Member
                } as i32,
                duty: String::new(),
            })
            .collect()
    };
    // Anhui sets no county training team size: anything goes.
    create_team(
        &mut county,
        pb::TeamKind::Training,
        "jurisdictions/341324".into(),
        externals(2),
    )
    .await
    .unwrap();
    // The county adopts Ningxia's 8–10 for itself.
    county
        .update_jurisdiction(pb::UpdateJurisdictionRequest {
            jurisdiction: Some(pb::Jurisdiction {
                name: "jurisdictions/341324".into(),
                team_rules: Some(pb::TeamRules {
                    county_training: Some(pb::TeamSizeRange { min: 8, max: 10 }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            update_mask: mask(&["team_rules.county_training"]),
        })
        .await
        .unwrap();
    let status = create_team(
        &mut county,
        pb::TeamKind::Training,
        "jurisdictions/341324".into(),
        externals(2),
    )
    .await
    .unwrap_err();
    assert!(status.message().contains("8–10"), "{}", status.message());
    create_team(
        &mut county,
        pb::TeamKind::Training,
        "jurisdictions/341324".into(),
        externals(8),
    )
    .await
    .unwrap();
    let bad_rule = county
        .update_jurisdiction(pb::UpdateJurisdictionRequest {
            jurisdiction: Some(pb::Jurisdiction {
                name: "jurisdictions/341324".into(),
                team_rules: Some(pb::TeamRules {
                    county_training: Some(pb::TeamSizeRange { min: 9, max: 3 }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            update_mask: mask(&["team_rules.county_training"]),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_rule.code(), Code::InvalidArgument);
}

async fn an_assessor_is_certified_registered_and_struck_off_in_order(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let mut county = app.office("341324");
    let teacher = sample
        .teachers
        .iter()
        .find(|t| t.school.starts_with("341324"))
        .unwrap();
    let wrong_level = county
        .create_assessor(pb::CreateAssessorRequest {
            assessor: Some(pb::Assessor {
                teacher: format!("teachers/{}", teacher.number),
                level: pb::AssessorLevel::School as i32,
                registered_at: "jurisdictions/341324".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violations_of(&wrong_level), vec!["assessor.registered_at"]);
    let a = county
        .create_assessor(pb::CreateAssessorRequest {
            assessor: Some(pb::Assessor {
                teacher: format!("teachers/{}", teacher.number),
                level: pb::AssessorLevel::County as i32,
                registered_at: "jurisdictions/341324".into(),
                subjects: vec!["数学".into()],
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.state, pb::AssessorState::Candidate as i32);
    assert_eq!(a.display_name, teacher.name);
    let early = county
        .register_assessor(pb::RegisterAssessorRequest {
            name: a.name.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        early.code(),
        Code::FailedPrecondition,
        "a candidate is certified before registering"
    );
    let certified = county
        .certify_assessor(pb::CertifyAssessorRequest {
            name: a.name.clone(),
            certification: Some(pb::AssessorCertification {
                certificate_number: "SX-2022-017".into(),
                exam_date: Some(Date {
                    year: 2022,
                    month: 4,
                    day: 20,
                }),
                issued_by: "泗县教育局".into(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(certified.state, pb::AssessorState::Certified as i32);
    let registered = county
        .register_assessor(pb::RegisterAssessorRequest {
            name: a.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(registered.state, pb::AssessorState::Registered as i32);
    let reprimanded = county
        .reprimand_assessor(pb::ReprimandAssessorRequest {
            name: a.name.clone(),
            reason: "评分不客观".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reprimanded.reprimands.len(), 1);
    assert_eq!(reprimanded.state, pb::AssessorState::Registered as i32);
    let no_reason = county
        .suspend_assessor(pb::SuspendAssessorRequest {
            name: a.name.clone(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violations_of(&no_reason), vec!["reason"]);
    let struck = county
        .strike_off_assessor(pb::StrikeOffAssessorRequest {
            name: a.name.clone(),
            reason: "取消资格".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(struck.state, pb::AssessorState::StruckOff as i32);
    let after = county
        .register_assessor(pb::RegisterAssessorRequest {
            name: a.name.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        after.code(),
        Code::FailedPrecondition,
        "striking off is final"
    );
    // Struck off, the person may be nominated again at the same level.
    county
        .create_assessor(pb::CreateAssessorRequest {
            assessor: Some(pb::Assessor {
                teacher: format!("teachers/{}", teacher.number),
                level: pb::AssessorLevel::County as i32,
                registered_at: "jurisdictions/341324".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let listed = county
        .list_assessors(pb::ListAssessorsRequest {
            state: pb::AssessorState::StruckOff as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.assessors.len(), 1);
}

async fn every_write_is_audited_and_the_trail_cannot_be_rewritten(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let mut county = app.office("341324");
    let school = sample
        .schools
        .iter()
        .find(|s| s.county.to_string() == "341324")
        .unwrap();
    county
        .update_school(pb::UpdateSchoolRequest {
            school: Some(pb::School {
                name: format!("schools/{}", school.code),
                full_time_teacher_count: 80,
                ..Default::default()
            }),
            update_mask: mask(&["full_time_teacher_count"]),
        })
        .await
        .unwrap();
    let events = county
        .list_audit_events(pb::ListAuditEventsRequest {
            resource: format!("schools/{}", school.code),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .audit_events;
    let last = &events[0];
    assert!(last.method.ends_with("/UpdateSchool"));
    let actor = last.actor.as_ref().unwrap();
    assert_eq!(
        (actor.role.as_str(), actor.acting_for.as_str()),
        ("county_office", "jurisdictions/341324")
    );
    assert!(last.change_json.contains("full_time_teacher_count"));
    // Imports record the file's hash; no ID number appears anywhere in the trail.
    let all = app
        .office("340000")
        .list_audit_events(pb::ListAuditEventsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(all.audit_events.iter().any(|e| e.method.ends_with("/ImportTeachers") && e.change_json.contains("file_sha256")));
    for e in &all.audit_events {
        for t in &sample.teachers {
            assert!(!e.change_json.contains(t.id.as_str()));
        }
    }
    // The database itself refuses to change or delete the trail.
    let refused = tica_storage::with_db!(app.db, pool => {
        sqlx::query("UPDATE audit_events SET actor_subject = 'someone else'").execute(pool).await.map(|_| ())
    });
    assert!(refused.is_err(), "audit_events is append-only");
    let refused = tica_storage::with_db!(app.db, pool => {
        sqlx::query("DELETE FROM audit_events").execute(pool).await.map(|_| ())
    });
    assert!(refused.is_err(), "audit_events is append-only");
}

async fn a_page_token_only_works_with_the_filters_it_was_issued_for(backend: Backend) {
    let Some((app, _)) = small(backend).await else {
        return;
    };
    let mut province = app.office("340000");
    let first = province
        .list_teachers(pb::ListTeachersRequest {
            page_size: 10,
            stage: pb::Stage::Primary as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!first.next_page_token.is_empty());
    let changed = province
        .list_teachers(pb::ListTeachersRequest {
            page_size: 10,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations_of(&changed), vec!["page_token"]);
    let garbage = province
        .list_teachers(pb::ListTeachersRequest {
            page_token: "not-a-token".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations_of(&garbage), vec!["page_token"]);
    let next = province
        .list_teachers(pb::ListTeachersRequest {
            page_size: 10,
            stage: pb::Stage::Primary as i32,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(next.teachers.iter().all(|t| !first.teachers.contains(t)));
    assert_eq!(next.total_size, first.total_size);
}

async fn list_filters_narrow_the_teachers(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let mut province = app.office("340000");
    let principals = province
        .list_teachers(pb::ListTeachersRequest {
            role: pb::PersonRole::Principal as i32,
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        principals.teachers.len(),
        sample.schools.len(),
        "one principal per sample school"
    );
    let someone = &sample.teachers[17];
    let found = province
        .list_teachers(pb::ListTeachersRequest {
            id_number: someone.id.as_str().into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.teachers.len(), 1);
    assert_eq!(
        found.teachers[0].name,
        format!("teachers/{}", someone.number)
    );
    let school = &sample.schools[2];
    let at_school = province
        .list_teachers(pb::ListTeachersRequest {
            parent: format!("schools/{}", school.code),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(at_school.teachers.len(), school.teachers);
}

// ----------------------------------------------------------------------------------------------
// Etags (AIP-154)

/// A school of 泗县 (341324), by name.
fn sixian_school(sample: &SampleRoster) -> String {
    let school = sample
        .schools
        .iter()
        .find(|s| s.county.to_string() == "341324")
        .unwrap();
    format!("schools/{}", school.code)
}

async fn get_school(client: &mut RosterClient, name: &str) -> pb::School {
    client
        .get_school(pb::GetSchoolRequest { name: name.into() })
        .await
        .unwrap()
        .into_inner()
}

fn rename_school(name: &str, display_name: &str, etag: &str) -> pb::UpdateSchoolRequest {
    pb::UpdateSchoolRequest {
        school: Some(pb::School {
            name: name.into(),
            display_name: display_name.into(),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: mask(&["display_name"]),
    }
}

/// Asserts that `result` is the refusal of a stale etag: ABORTED, reason ETAG_MISMATCH, naming
/// the resource, with no RetryInfo (retrying the same request cannot succeed).
#[track_caller]
fn stale<T: std::fmt::Debug>(result: Result<T, tonic::Status>) {
    let status = result.expect_err("a stale etag is refused");
    assert_eq!(status.code(), Code::Aborted, "{status:?}");
    assert_eq!(reason_of(&status), "ETAG_MISMATCH");
    assert!(
        status.message().contains("changed since"),
        "{}",
        status.message()
    );
}

/// Asserts that `etag` has the shape AIP-154 asks for: a quoted (weak) validator.
#[track_caller]
fn well_formed(etag: &str) {
    assert!(
        etag.starts_with("W/\"") && etag.ends_with('"') && etag.len() > 5,
        "{etag:?}"
    );
}

async fn two_offices_that_read_one_school_cannot_overwrite_each_other(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let name = sixian_school(&sample);
    let mut county = app.office("341324");
    let mut province = app.office("340000");
    // Both offices read the school, with the same etag.
    let read_by_county = get_school(&mut county, &name).await;
    let read_by_province = get_school(&mut province, &name).await;
    well_formed(&read_by_county.etag);
    assert_eq!(read_by_county.etag, read_by_province.etag);
    // The county's update goes first: it lands and changes the etag.
    let first = county
        .update_school(rename_school(&name, "泗县第一中学", &read_by_county.etag))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.display_name, "泗县第一中学");
    assert_ne!(first.etag, read_by_county.etag);
    assert_eq!(
        get_school(&mut county, &name).await.etag,
        first.etag,
        "Get answers the etag Update returned"
    );
    // The province's, made on what it read before, is refused and writes nothing.
    stale(
        province
            .update_school(rename_school(&name, "泗县一中", &read_by_province.etag))
            .await,
    );
    let stored = get_school(&mut province, &name).await;
    assert_eq!(stored.display_name, "泗县第一中学", "the first writer's");
    assert_eq!(stored.etag, first.etag);
    let trail = province
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: "jurisdictions/341324".into(),
            resource: name.clone(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .audit_events;
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.method.ends_with("/UpdateSchool"))
            .count(),
        1,
        "the refused update left no audit entry"
    );
    // Re-read, the province's update lands; without an etag, an update is unconditional.
    let second = province
        .update_school(rename_school(&name, "泗县一中", &stored.etag))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.display_name, "泗县一中");
    let unconditional = county
        .update_school(rename_school(&name, "泗县第一中学", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unconditional.display_name, "泗县第一中学");
    assert_ne!(unconditional.etag, second.etag);
    assert_eq!(get_school(&mut province, &name).await, unconditional);
}

async fn racing_updates_with_one_etag_let_exactly_one_win(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let name = sixian_school(&sample);
    let read = get_school(&mut app.office("341324"), &name).await;
    let racers: Vec<_> = (0..4)
        .map(|i| {
            let mut client = if i % 2 == 0 {
                app.office("341324")
            } else {
                app.office("340000")
            };
            let request = rename_school(&name, &format!("泗县第{i}中学"), &read.etag);
            tokio::spawn(async move { client.update_school(request).await })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            Ok(school) => winners.push(school.into_inner()),
            Err(status) => stale::<()>(Err(status)),
        }
    }
    assert_eq!(winners.len(), 1, "one etag, one write");
    assert_eq!(
        get_school(&mut app.office("341324"), &name).await,
        winners[0]
    );
}

async fn racing_updates_without_an_etag_both_land_and_lose_nothing(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let name = sixian_school(&sample);
    let before = get_school(&mut app.office("341324"), &name).await;
    // Each writes a different field over the whole row: neither may undo the other's.
    let rename = {
        let mut client = app.office("341324");
        let request = rename_school(&name, "泗县实验学校", "");
        tokio::spawn(async move { client.update_school(request).await })
    };
    let recount = {
        let mut client = app.office("340000");
        let request = pb::UpdateSchoolRequest {
            school: Some(pb::School {
                name: name.clone(),
                full_time_teacher_count: before.full_time_teacher_count + 7,
                ..Default::default()
            }),
            update_mask: mask(&["full_time_teacher_count"]),
        };
        tokio::spawn(async move { client.update_school(request).await })
    };
    rename.await.unwrap().unwrap();
    recount.await.unwrap().unwrap();
    let after = get_school(&mut app.office("341324"), &name).await;
    assert_eq!(after.display_name, "泗县实验学校");
    assert_eq!(
        after.full_time_teacher_count,
        before.full_time_teacher_count + 7
    );
}

async fn every_roster_resource_carries_an_etag_that_changes_with_each_write(backend: Backend) {
    let Some((app, sample)) = small(backend).await else {
        return;
    };
    let mut county = app.office("341324");

    // Jurisdictions: Get, List, Update.
    let j = county
        .get_jurisdiction(pb::GetJurisdictionRequest {
            name: "jurisdictions/341324".into(),
        })
        .await
        .unwrap()
        .into_inner();
    well_formed(&j.etag);
    let listed = app
        .office("340000")
        .list_jurisdictions(pb::ListJurisdictionsRequest {
            parent: "jurisdictions/341300".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .jurisdictions;
    assert_eq!(
        listed.iter().find(|l| l.name == j.name).map(|l| &l.etag),
        Some(&j.etag)
    );
    let rename = |etag: &str| pb::UpdateJurisdictionRequest {
        jurisdiction: Some(pb::Jurisdiction {
            name: j.name.clone(),
            display_name: "泗县".into(),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: mask(&["display_name"]),
    };
    let renamed = county
        .update_jurisdiction(rename(&j.etag))
        .await
        .unwrap()
        .into_inner();
    well_formed(&renamed.etag);
    assert_ne!(renamed.etag, j.etag, "a write changes the etag");
    stale(county.update_jurisdiction(rename(&j.etag)).await);
    let created = app
        .office("340000")
        .create_jurisdiction(jurisdiction("341302", "埇桥区", "341300"))
        .await
        .unwrap()
        .into_inner();
    well_formed(&created.etag);

    // Schools: Create, Get, BatchGet, List, Update, and a plan review changes it too.
    let code = "3413249901";
    let school = county
        .create_school(pb::CreateSchoolRequest {
            school: Some(pb::School {
                name: format!("schools/{code}"),
                display_name: "泗县试验小学".into(),
                jurisdiction: "jurisdictions/341324".into(),
                kind: pb::SchoolKind::Primary as i32,
                ict_plan: Some(pb::IctPlan {
                    research_theme: "基于数据的精准教学".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    well_formed(&school.etag);
    assert_eq!(
        get_school(&mut county, &school.name).await.etag,
        school.etag
    );
    let batch = county
        .batch_get_schools(pb::BatchGetSchoolsRequest {
            names: vec![school.name.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .schools;
    assert_eq!(batch[0].etag, school.etag);
    let listed = county
        .list_schools(pb::ListSchoolsRequest {
            parent: "jurisdictions/341324".into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .schools;
    assert!(listed.iter().all(|s| s.etag.starts_with("W/")));
    assert_eq!(
        listed
            .iter()
            .find(|s| s.name == school.name)
            .map(|s| &s.etag),
        Some(&school.etag)
    );
    let reviewed = county
        .review_school_ict_plan(pb::ReviewSchoolIctPlanRequest {
            name: school.name.clone(),
            decision: pb::IctPlanDecision::File as i32,
            comment: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(reviewed.etag, school.etag, "any write changes it");
    stale(
        county
            .update_school(rename_school(&school.name, "泗县试验学校", &school.etag))
            .await,
    );

    // Teachers: Get, BatchGet, List, Update; a move changes it too.
    let teacher = sample
        .teachers
        .iter()
        .find(|t| t.school.starts_with("341324"))
        .unwrap();
    let name = format!("teachers/{}", teacher.number);
    let t = county
        .get_teacher(pb::GetTeacherRequest { name: name.clone() })
        .await
        .unwrap()
        .into_inner();
    well_formed(&t.etag);
    let batch = county
        .batch_get_teachers(pb::BatchGetTeachersRequest {
            names: vec![name.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .teachers;
    assert_eq!(batch[0].etag, t.etag);
    let listed = county
        .list_teachers(pb::ListTeachersRequest {
            parent: format!("schools/{}", teacher.school),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .teachers;
    assert_eq!(
        listed.iter().find(|l| l.name == name).map(|l| &l.etag),
        Some(&t.etag)
    );
    let subject = |etag: &str| pb::UpdateTeacherRequest {
        teacher: Some(pb::Teacher {
            name: name.clone(),
            subject: "信息技术".into(),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: mask(&["subject"]),
    };
    let updated = county
        .update_teacher(subject(&t.etag))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(updated.etag, t.etag);
    stale(county.update_teacher(subject(&t.etag)).await);
    let moved = county
        .move_teacher(pb::MoveTeacherRequest {
            name: name.clone(),
            school: format!("schools/{code}"),
            effective_date: Some(Date {
                year: 2099,
                month: 9,
                day: 1,
            }),
            reason: "调动".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(moved.etag, updated.etag, "a move changes it");
    stale(county.update_teacher(subject(&updated.etag)).await);
    county.update_teacher(subject(&moved.etag)).await.unwrap();

    // Teams: Create, Get, List, Update.
    let team = create_team(
        &mut county,
        pb::TeamKind::Training,
        "jurisdictions/341324".into(),
        vec![pb::TeamMember {
            member: Some(pb::team_member::Member::External(pb::ExternalMember {
                display_name: "专家".into(),
                affiliation: "安徽师范大学".into(),
            })),
            role: pb::TeamMemberRole::Leader as i32,
            duty: String::new(),
        }],
    )
    .await
    .unwrap();
    well_formed(&team.etag);
    let read = county
        .get_team(pb::GetTeamRequest {
            name: team.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.etag, team.etag);
    let listed = county
        .list_teams(pb::ListTeamsRequest {
            parent: "jurisdictions/341324".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .teams;
    assert_eq!(
        listed.iter().find(|l| l.name == team.name).map(|l| &l.etag),
        Some(&team.etag)
    );
    let retitle = |etag: &str| pb::UpdateTeamRequest {
        team: Some(pb::Team {
            name: team.name.clone(),
            display_name: "泗县培训团队".into(),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: mask(&["display_name"]),
    };
    let retitled = county
        .update_team(retitle(&team.etag))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(retitled.etag, team.etag);
    stale(county.update_team(retitle(&team.etag)).await);

    // Assessors: Create, Get, List, Update; a certification changes it too.
    let assessor = county
        .create_assessor(pb::CreateAssessorRequest {
            assessor: Some(pb::Assessor {
                teacher: name.clone(),
                level: pb::AssessorLevel::County as i32,
                registered_at: "jurisdictions/341324".into(),
                subjects: vec!["数学".into()],
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    well_formed(&assessor.etag);
    let read = county
        .get_assessor(pb::GetAssessorRequest {
            name: assessor.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.etag, assessor.etag);
    let listed = county
        .list_assessors(pb::ListAssessorsRequest {
            parent: "jurisdictions/341324".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .assessors;
    assert_eq!(
        listed
            .iter()
            .find(|l| l.name == assessor.name)
            .map(|l| &l.etag),
        Some(&assessor.etag)
    );
    let subjects = |etag: &str| pb::UpdateAssessorRequest {
        assessor: Some(pb::Assessor {
            name: assessor.name.clone(),
            subjects: vec!["数学".into(), "物理".into()],
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: mask(&["subjects"]),
    };
    let updated = county
        .update_assessor(subjects(&assessor.etag))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(updated.etag, assessor.etag);
    stale(county.update_assessor(subjects(&assessor.etag)).await);
    let certified = county
        .certify_assessor(pb::CertifyAssessorRequest {
            name: assessor.name.clone(),
            certification: Some(pb::AssessorCertification {
                certificate_number: "SX-2026-001".into(),
                exam_date: Some(Date {
                    year: 2026,
                    month: 4,
                    day: 20,
                }),
                issued_by: "泗县教育局".into(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(certified.etag, updated.etag, "a certification changes it");
    stale(county.update_assessor(subjects(&updated.etag)).await);
}
