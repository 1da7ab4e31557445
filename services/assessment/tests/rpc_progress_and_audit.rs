//! Progress figures, the principal's appraisal, per-micro-competency popularity, and the audit
//! trail, RPC by RPC, over real gRPC on SQLite and PostgreSQL: each RPC's main success path
//! and its most important refusals. In a Sixian year (`support/year.rs`) where school A's two
//! teachers pass everything and school B's teacher has only selected.

mod support;
#[path = "support/year.rs"]
mod year;

use tica_auth::Role;
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::common::v1 as common;
use tica_storage::Backend;
use tokio_stream::StreamExt;
use tonic::Code;
use year::{COUNTY, PICKS, SCHOOL_A, SCHOOL_B, SCHOOL_C, Year, refused, refused_on_field};

tica_testkit::backend_tests!(
    // GetProgress
    a_county_and_a_school_read_their_own_progress_and_not_a_neighbours,
    // ListProgress
    progress_rows_are_listed_per_school_of_the_county_and_refused_to_a_teacher,
    // ExportProgress
    the_progress_exports_as_csv_with_a_row_per_school_and_only_within_scope,
    // GetPrincipalAppraisal
    a_principals_appraisal_gives_the_schools_pass_rates_to_its_office_only,
    // ListMicroCompetencyProgress
    popularity_counts_each_pick_and_is_refused_outside_the_callers_scope,
    // ListAuditEvents
    the_audit_trail_lists_writes_newest_first_to_offices_within_scope,
    a_refused_write_leaves_no_audit_entry,
);

/// The year: school A's teachers pass every pick with their hours; b1 has only selected.
async fn graded_year(backend: Backend) -> Option<Year> {
    let year = Year::open(backend).await?;
    for t in [&year.a1, &year.a2] {
        year.select(t).await;
        year.push_hours(t).await;
        year.hand_in_all(t).await;
        for code in PICKS {
            year.grade(t, code, common::Grade::Pass).await;
        }
    }
    year.select(&year.b1).await;
    Some(year)
}

fn unit(unit: &str) -> pb::GetProgressRequest {
    pb::GetProgressRequest {
        unit: unit.into(),
        year: 2026,
    }
}

fn of_schools(parent: &str) -> pb::ListProgressRequest {
    pb::ListProgressRequest {
        parent: parent.into(),
        level: pb::ProgressLevel::School as i32,
        year: 2026,
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// GetProgress

async fn a_county_and_a_school_read_their_own_progress_and_not_a_neighbours(backend: Backend) {
    let Some(year) = graded_year(backend).await else {
        return;
    };
    let county = year
        .county()
        .get_progress(unit(&format!("jurisdictions/{COUNTY}")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(county.level, pb::ProgressLevel::County as i32);
    assert_eq!(
        (
            county.participants,
            county.selected,
            county.graded,
            county.passed
        ),
        (3, 3, 2, 2)
    );
    // The pass rate is of those graded (passed / graded); b1 is not graded yet.
    assert_eq!(county.pass_permille, 1000);
    assert_eq!(county.graded_permille, 667, "2 of 3, rounded half up");
    let school = year
        .school_office(SCHOOL_A)
        .get_progress(unit(&format!("schools/{SCHOOL_A}")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(school.display_name, "泗县第一小学");
    assert_eq!((school.participants, school.passed), (2, 2));
    refused(
        year.school_office(SCHOOL_A)
            .get_progress(unit(&format!("jurisdictions/{COUNTY}")))
            .await,
        Code::PermissionDenied,
    );
    // The roster does not show school A's office another school.
    refused(
        year.school_office(SCHOOL_A)
            .get_progress(unit(&format!("schools/{SCHOOL_B}")))
            .await,
        Code::NotFound,
    );
    refused(
        year.teacher(&year.a1, SCHOOL_A)
            .get_progress(unit(&format!("schools/{SCHOOL_A}")))
            .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        year.county()
            .get_progress(unit(&format!("teachers/{}", year.a1)))
            .await,
        "unit",
    );
    refused(
        year.county().get_progress(unit("schools/3413249999")).await,
        Code::NotFound,
    );
}

// ---------------------------------------------------------------------------------------------
// ListProgress

async fn progress_rows_are_listed_per_school_of_the_county_and_refused_to_a_teacher(
    backend: Backend,
) {
    let Some(year) = graded_year(backend).await else {
        return;
    };
    let listed = year
        .county()
        .list_progress(of_schools(&format!("jurisdictions/{COUNTY}")))
        .await
        .unwrap()
        .into_inner();
    let rows: Vec<(&str, i64, i64)> = listed
        .rows
        .iter()
        .map(|r| (r.unit.as_str(), r.participants, r.passed))
        .collect();
    assert_eq!(
        rows,
        [("schools/3413240001", 2, 2), ("schools/3413240002", 1, 0)]
    );
    let total = listed.total.unwrap();
    assert_eq!((total.participants, total.passed), (3, 2));
    // The city office sees a row per county, in pages.
    let mut city = year
        .suite
        .assessment("city", Role::CityOffice, "341300", None);
    let counties = city
        .list_progress(pb::ListProgressRequest {
            level: pb::ProgressLevel::County as i32,
            page_size: 1,
            ..of_schools("jurisdictions/341300")
        })
        .await
        .unwrap()
        .into_inner();
    let rows: Vec<(&str, i64)> = counties
        .rows
        .iter()
        .map(|r| (r.unit.as_str(), r.participants))
        .collect();
    assert_eq!(rows, [("jurisdictions/341324", 3)]);
    assert_eq!(counties.total_size, 1);
    refused(
        year.teacher(&year.a1, SCHOOL_A)
            .list_progress(of_schools(""))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.school_office(SCHOOL_A)
            .list_progress(of_schools(&format!("jurisdictions/{COUNTY}")))
            .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        year.county()
            .list_progress(pb::ListProgressRequest {
                level: pb::ProgressLevel::Unspecified as i32,
                ..of_schools("")
            })
            .await,
        "level",
    );
}

// ---------------------------------------------------------------------------------------------
// ExportProgress

async fn export(
    client: &mut support::AssessmentClient,
    request: pb::ExportProgressRequest,
) -> Result<(common::ExportMetadata, Vec<u8>), tonic::Status> {
    let mut stream = client.export_progress(request).await?.into_inner();
    let mut metadata = None;
    let mut bytes = Vec::new();
    while let Some(message) = stream.next().await {
        match message?.payload {
            Some(pb::export_progress_response::Payload::Metadata(m)) => metadata = Some(m),
            Some(pb::export_progress_response::Payload::Chunk(c)) => bytes.extend(c),
            None => {}
        }
    }
    Ok((metadata.expect("metadata first"), bytes))
}

fn csv_export(parent: &str) -> pb::ExportProgressRequest {
    pb::ExportProgressRequest {
        parent: parent.into(),
        level: pb::ProgressLevel::School as i32,
        year: 2026,
        format: common::FileFormat::Csv as i32,
        ..Default::default()
    }
}

async fn the_progress_exports_as_csv_with_a_row_per_school_and_only_within_scope(backend: Backend) {
    let Some(year) = graded_year(backend).await else {
        return;
    };
    // 请用excel制表报送 (《安徽团队意见》附件3): here as CSV.
    let (metadata, bytes) = export(
        &mut year.county(),
        csv_export(&format!("jurisdictions/{COUNTY}")),
    )
    .await
    .unwrap();
    assert!(
        metadata.content_type.starts_with("text/csv"),
        "{metadata:?}"
    );
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "单位代码", "{headers:?}");
    let codes: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_owned()).collect();
    assert!(codes.contains(&SCHOOL_A.to_owned()), "{codes:?}");
    assert!(codes.contains(&SCHOOL_B.to_owned()), "{codes:?}");
    assert!(!codes.contains(&SCHOOL_C.to_owned()), "{codes:?}");
    refused(
        export(
            &mut year.teacher(&year.a1, SCHOOL_A),
            csv_export(&format!("schools/{SCHOOL_A}")),
        )
        .await,
        Code::PermissionDenied,
    );
    let mut neighbour = year
        .suite
        .assessment("office", Role::CountyOffice, "341323", None);
    refused(
        export(
            &mut neighbour,
            csv_export(&format!("jurisdictions/{COUNTY}")),
        )
        .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        export(
            &mut year.county(),
            pb::ExportProgressRequest {
                level: 0,
                ..csv_export("")
            },
        )
        .await,
        "level",
    );
}

// ---------------------------------------------------------------------------------------------
// GetPrincipalAppraisal

async fn a_principals_appraisal_gives_the_schools_pass_rates_to_its_office_only(backend: Backend) {
    let Some(year) = graded_year(backend).await else {
        return;
    };
    let appraisal = |school: &str| pb::GetPrincipalAppraisalRequest {
        school_result: year.school_result(school),
    };
    // 目标达成率 in the principal's appraisal (《泗县实施意见》§三 3).
    let a = year
        .school_office(SCHOOL_A)
        .get_principal_appraisal(appraisal(SCHOOL_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.school_result, year.school_result(SCHOOL_A));
    assert_eq!((a.teachers_graded, a.teachers_passed), (2, 2));
    assert_eq!(a.teacher_pass_permille, 1000);
    assert_eq!(
        (a.micro_competencies_graded, a.micro_competencies_passed),
        (6, 6)
    );
    assert_eq!((a.teachers_enrolled, a.teachers_reached_target), (2, 2));
    assert!(!a.r#final, "the results are still open");
    let b = year
        .county()
        .get_principal_appraisal(appraisal(SCHOOL_B))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((b.teachers_enrolled, b.teachers_reached_target), (1, 0));
    refused(
        year.school_office(SCHOOL_B)
            .get_principal_appraisal(appraisal(SCHOOL_A))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.teacher(&year.a1, SCHOOL_A)
            .get_principal_appraisal(appraisal(SCHOOL_A))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.county()
            .get_principal_appraisal(appraisal(SCHOOL_C))
            .await,
        Code::NotFound,
    );
    refused_on_field(
        year.county()
            .get_principal_appraisal(pb::GetPrincipalAppraisalRequest {
                school_result: format!("schools/{SCHOOL_A}"),
            })
            .await,
        "school_result",
    );
}

// ---------------------------------------------------------------------------------------------
// ListMicroCompetencyProgress

async fn popularity_counts_each_pick_and_is_refused_outside_the_callers_scope(backend: Backend) {
    let Some(year) = graded_year(backend).await else {
        return;
    };
    let request = |parent: &str| pb::ListMicroCompetencyProgressRequest {
        parent: parent.into(),
        year: 2026,
        ..Default::default()
    };
    let figures = year
        .county()
        .list_micro_competency_progress(request(&format!("jurisdictions/{COUNTY}")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(figures.participants, 3);
    let b2 = figures
        .micro_competencies
        .iter()
        .find(|m| m.code == "B2")
        .unwrap();
    assert_eq!((b2.selected, b2.submitted, b2.passed), (3, 2, 2));
    let a1 = figures
        .micro_competencies
        .iter()
        .find(|m| m.code == "A1")
        .unwrap();
    assert_eq!(a1.selected, 0);
    let from_b = year
        .school_office(SCHOOL_B)
        .list_micro_competency_progress(request(""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        from_b.participants, 1,
        "a school office sees its own school"
    );
    refused(
        year.teacher(&year.a1, SCHOOL_A)
            .list_micro_competency_progress(request(""))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.school_office(SCHOOL_B)
            .list_micro_competency_progress(request(&format!("jurisdictions/{COUNTY}")))
            .await,
        Code::PermissionDenied,
    );
    // The roster does not show school B's office another school.
    refused(
        year.school_office(SCHOOL_B)
            .list_micro_competency_progress(request(&format!("schools/{SCHOOL_A}")))
            .await,
        Code::NotFound,
    );
}

// ---------------------------------------------------------------------------------------------
// ListAuditEvents

async fn list_audit(
    client: &mut support::AssessmentClient,
    parent: &str,
    resource: &str,
) -> Result<Vec<common::AuditEvent>, tonic::Status> {
    client
        .list_audit_events(pb::ListAuditEventsRequest {
            parent: parent.into(),
            resource: resource.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().audit_events)
}

fn methods(events: &[common::AuditEvent]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.method.rsplit('/').next().unwrap())
        .collect()
}

async fn the_audit_trail_lists_writes_newest_first_to_offices_within_scope(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    year.select(&year.a1).await;
    let of_batch = list_audit(&mut year.county(), "", &year.batch)
        .await
        .unwrap();
    assert_eq!(
        methods(&of_batch),
        ["OpenBatch", "CreateBatch"],
        "newest first"
    );
    let opened = &of_batch[0];
    let actor = opened.actor.as_ref().unwrap();
    assert_eq!(
        (actor.subject.as_str(), actor.role.as_str()),
        ("county-office", "county_office")
    );
    // A school's trail: its teacher's selection.
    let of_school = list_audit(&mut year.county(), &format!("schools/{SCHOOL_A}"), "")
        .await
        .unwrap();
    assert_eq!(methods(&of_school), ["SubmitSelection"]);
    assert_eq!(
        of_school[0].resource,
        format!("{}/selection", year.participant(&year.a1))
    );
    // The province reads the county's trail; a page of one has a next page.
    let mut province = year
        .suite
        .assessment("province", Role::ProvinceOffice, "340000", None);
    let page = province
        .list_audit_events(pb::ListAuditEventsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.audit_events.len(), 1);
    assert!(!page.next_page_token.is_empty());
    // Offices only, within their scope.
    refused(
        list_audit(&mut year.school_office(SCHOOL_A), "", "").await,
        Code::PermissionDenied,
    );
    refused(
        list_audit(&mut year.teacher(&year.a1, SCHOOL_A), "", "").await,
        Code::PermissionDenied,
    );
    let mut neighbour = year
        .suite
        .assessment("office", Role::CountyOffice, "341323", None);
    refused(
        list_audit(&mut neighbour, &format!("jurisdictions/{COUNTY}"), "").await,
        Code::PermissionDenied,
    );
    assert!(
        list_audit(&mut neighbour, "", "").await.unwrap().is_empty(),
        "the neighbour's own trail has nothing of Sixian's"
    );
}

async fn a_refused_write_leaves_no_audit_entry(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let before = list_audit(&mut year.county(), "", "").await.unwrap();
    // A selection short of 20 credits, a withdrawal without a reason, a grading by an office.
    refused_on_field(
        year.county()
            .submit_selection(pb::SubmitSelectionRequest {
                name: format!("{}/selection", year.participant(&year.a1)),
                micro_competencies: vec!["A1".into()],
                validate_only: false,
            })
            .await,
        "micro_competencies",
    );
    refused_on_field(
        year.county()
            .withdraw_participant(pb::WithdrawParticipantRequest {
                name: year.participant(&year.a1),
                reason: String::new(),
            })
            .await,
        "reason",
    );
    refused(
        year.county()
            .open_batch(pb::OpenBatchRequest {
                name: year.batch.clone(),
                open_date: None,
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(
        list_audit(&mut year.county(), "", "").await.unwrap(),
        before
    );
}
