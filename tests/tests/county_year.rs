//! One county's year, end to end over the suite's gRPC API with scoped tokens: the roster a county
//! office registers, then selection → hours → evidence upload → school grading → results →
//! certification, as Sixian (泗县) runs it under its preset (《泗县实施意见》).

use std::collections::BTreeMap;

use calamine::Reader;

use tica_auth::Role;
use tica_e2e::{AssessmentClient, Cluster, select};
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as roster;
use tica_storage::Backend;
use tokio_stream::StreamExt;
use tonic::Code;

tica_testkit::backend_tests!(a_county_runs_its_year_through_the_api_to_certificates_that_verify,);

const PROVINCE: &str = "340000";
const COUNTY: &str = "341324";
const SCHOOL_A: &str = "3413240001";
const SCHOOL_B: &str = "3413240002";

/// The people of the scenario, by role in it.
struct People {
    /// School A: picks well, completes everything.
    diligent: String,
    /// School A: picks well, but the provider reports only half the hours.
    short_of_hours: String,
    /// School A: the school's own assessor, also a participant.
    assessor_teacher: String,
    /// School B: evidence that does not show the teacher.
    absent_on_video: String,
    /// School B: its assessor.
    assessor_b_teacher: String,
}

async fn a_county_runs_its_year_through_the_api_to_certificates_that_verify(backend: Backend) {
    let Some(cluster) = Cluster::start(backend).await else {
        return;
    };
    let people = register_roster(&cluster).await;
    let (assessor_a, assessor_b) = register_assessors(&cluster, &people).await;

    // The county sees the Sixian preset as its effective policy and opens its 2026 batch.
    let mut county = cluster.assessment("county", Role::CountyOffice, COUNTY, None);
    let effective = county
        .get_effective_policy(pb::GetEffectivePolicyRequest {
            jurisdiction: format!("jurisdictions/{COUNTY}"),
        })
        .await
        .unwrap()
        .into_inner();
    let rules = effective.rules.expect("rules");
    assert_eq!(
        rules.selection.as_ref().unwrap().cases[0]
            .requirement
            .as_ref()
            .unwrap()
            .min_credits,
        20,
        "Sixian: 合计不少于20学分"
    );
    let batch = county
        .create_batch(pb::CreateBatchRequest {
            batch: Some(pb::Batch {
                county: format!("jurisdictions/{COUNTY}"),
                year: 2026,
                display_name: "泗县 2026 年能力提升工程2.0".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(batch.name, format!("batches/{COUNTY}-2026"));
    let batch = county
        .open_batch(pb::OpenBatchRequest {
            name: batch.name.clone(),
            open_date: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(batch.state, pb::BatchState::Open as i32);
    assert!(!batch.policy_versions.is_empty(), "the policy is pinned");
    let everyone = [
        &people.diligent,
        &people.short_of_hours,
        &people.assessor_teacher,
        &people.absent_on_video,
        &people.assessor_b_teacher,
    ];
    assert_eq!(
        batch.participant_count, 5,
        "opening enrols every teacher of the batch's schools"
    );
    let twice = county
        .enrol_participants(pb::EnrolParticipantsRequest {
            batch: batch.name.clone(),
            teachers: vec![format!("teachers/{}", people.diligent)],
        })
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::InvalidArgument);
    assert!(twice.message().contains("enrolled already"), "{twice:?}");
    let participant = |n: &str| format!("{}/participants/{n}", batch.name);

    // Selections: a teacher's own pick is refused with a reason they can act on, then corrected;
    // the school office picks for others.
    let mut diligent = teacher(&cluster, &people.diligent, SCHOOL_A);
    let verdict = diligent
        .check_selection(pb::CheckSelectionRequest {
            participant: participant(&people.diligent),
            micro_competencies: vec!["A1".into(), "A5".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!verdict.accepted);
    assert_eq!(verdict.total_credits, 9);
    assert!(
        verdict.message.contains("不少于 20") && verdict.message.contains("已选 A1、A5"),
        "the refusal says what is needed and what was picked: {}",
        verdict.message
    );
    let refused = diligent
        .submit_selection(pb::SubmitSelectionRequest {
            name: format!("{}/selection", participant(&people.diligent)),
            micro_competencies: vec!["A1".into(), "A5".into()],
            validate_only: false,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let picks = ["B2", "C1", "C4"]; // 5 + 8 + 9 = 22 credits
    select(&mut diligent, &participant(&people.diligent), &picks).await;
    let mut office_a = cluster.assessment("office-a", Role::SchoolAdmin, COUNTY, Some(SCHOOL_A));
    let mut office_b = cluster.assessment("office-b", Role::SchoolAdmin, COUNTY, Some(SCHOOL_B));
    for n in [&people.short_of_hours, &people.assessor_teacher] {
        select(&mut office_a, &participant(n), &picks).await;
    }
    for n in [&people.absent_on_video, &people.assessor_b_teacher] {
        select(&mut office_b, &participant(n), &picks).await;
    }
    // Tokens are scoped: school B's office cannot touch school A's teachers.
    let outside = office_b
        .get_participant(pb::GetParticipantRequest {
            name: participant(&people.diligent),
        })
        .await
        .unwrap_err();
    assert_eq!(outside.code(), Code::PermissionDenied);

    // Hours: a training provider pushes 30 online + 30 practice hours for everyone but one, who
    // gets only the online half. Pushing the same records again changes nothing.
    let mut provider = cluster.assessment("anhui-online", Role::TrainingProvider, PROVINCE, None);
    let mut records = Vec::new();
    for n in everyone {
        records.push(tica_e2e::hours(n, pb::HoursKind::OnlineStudy, "online"));
        if *n != people.short_of_hours {
            records.push(tica_e2e::hours(n, pb::HoursKind::Practice, "practice"));
        }
    }
    let push = pb::BatchPushHoursRecordsRequest {
        parent: "providers/anhui-online".into(),
        records,
    };
    let first = provider
        .batch_push_hours_records(push.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(
        first
            .results
            .iter()
            .all(|r| r.outcome == pb::PushOutcome::Created as i32),
        "{:?}",
        first.results
    );
    let again = provider
        .batch_push_hours_records(push)
        .await
        .unwrap()
        .into_inner();
    assert!(
        again
            .results
            .iter()
            .all(|r| r.outcome == pb::PushOutcome::Unchanged as i32),
        "pushes are idempotent by the provider's record id"
    );
    let p = diligent
        .get_participant(pb::GetParticipantRequest {
            name: participant(&people.diligent),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(p.hours_complete);
    assert_eq!(p.counted_centihours, 6000);

    // Evidence: a design plan covering the three picks, streamed in chunks; an upload cut short
    // stores nothing.
    let plan = pdf_bytes(300_000);
    let cut = upload(
        &mut diligent,
        &participant(&people.diligent),
        &picks,
        &plan,
        Some(100_000),
    )
    .await
    .unwrap_err();
    assert_eq!(cut.code(), Code::InvalidArgument, "{cut:?}");
    assert_eq!(stored_files(&cluster), 0, "a partial upload stores nothing");
    let evidence = upload(
        &mut diligent,
        &participant(&people.diligent),
        &picks,
        &plan,
        None,
    )
    .await
    .unwrap();
    assert_eq!(evidence.size_bytes, plan.len() as i64);
    assert_eq!(evidence.sha256.len(), 64);
    assert_eq!(stored_files(&cluster), 1);
    let mut evidence_of = BTreeMap::new();
    evidence_of.insert(people.diligent.clone(), evidence.name.clone());
    for (n, school) in [
        (&people.short_of_hours, SCHOOL_A),
        (&people.assessor_teacher, SCHOOL_A),
        (&people.absent_on_video, SCHOOL_B),
        (&people.assessor_b_teacher, SCHOOL_B),
    ] {
        let mut own = teacher(&cluster, n, school);
        let e = upload(&mut own, &participant(n), &picks, &plan, None)
            .await
            .unwrap();
        evidence_of.insert(n.clone(), e.name);
    }
    for (n, school) in [
        (&people.diligent, SCHOOL_A),
        (&people.short_of_hours, SCHOOL_A),
        (&people.assessor_teacher, SCHOOL_A),
        (&people.absent_on_video, SCHOOL_B),
        (&people.assessor_b_teacher, SCHOOL_B),
    ] {
        let mut own = teacher(&cluster, n, school);
        for code in picks {
            own.submit_submission(pb::SubmitSubmissionRequest {
                name: format!("{}/submissions/{code}", participant(n)),
            })
            .await
            .unwrap();
        }
    }

    // School grading by each school's registered assessor; never their own work.
    let mut grader_a = cluster.assessment(&assessor_a, Role::Assessor, COUNTY, Some(SCHOOL_A));
    let mut grader_b = cluster.assessment(&assessor_b, Role::Assessor, COUNTY, Some(SCHOOL_B));
    let own = grade(
        &mut grader_a,
        &assessor_a,
        &participant(&people.assessor_teacher),
        "B2",
        common::Grade::Pass,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(own.code(), Code::PermissionDenied);
    assert!(own.message().contains("own submission"), "{own:?}");
    let wrong_school = grade(
        &mut grader_b,
        &assessor_b,
        &participant(&people.diligent),
        "B2",
        common::Grade::Pass,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(wrong_school.code(), Code::PermissionDenied);
    for n in [&people.diligent, &people.short_of_hours] {
        for code in picks {
            grade(
                &mut grader_a,
                &assessor_a,
                &participant(n),
                code,
                common::Grade::Pass,
                None,
            )
            .await
            .unwrap();
        }
    }
    for code in picks {
        grade(
            &mut grader_b,
            &assessor_b,
            &participant(&people.assessor_teacher),
            code,
            common::Grade::Pass,
            None,
        )
        .await
        .expect_err("school B's assessor is not registered at school A");
        let invalid = (code == "C1").then(|| evidence_of[&people.absent_on_video].clone());
        grade(
            &mut grader_b,
            &assessor_b,
            &participant(&people.absent_on_video),
            code,
            if invalid.is_some() {
                common::Grade::Fail
            } else {
                common::Grade::Pass
            },
            invalid,
        )
        .await
        .unwrap();
    }
    for code in picks {
        grade(
            &mut grader_a,
            &assessor_a,
            &participant(&people.assessor_b_teacher),
            code,
            common::Grade::Pass,
            None,
        )
        .await
        .expect_err("school A's assessor is not registered at school B");
    }

    // Results: a fail in hours or in any evidence fails the teacher.
    let result = |p: pb::Participant| (p.grade, p.grade_reasons);
    let diligent_result = result(
        county
            .get_participant(pb::GetParticipantRequest {
                name: participant(&people.diligent),
            })
            .await
            .unwrap()
            .into_inner(),
    );
    assert_eq!(diligent_result.0, common::Grade::Pass as i32);
    let (grade_short, reasons) = result(
        county
            .get_participant(pb::GetParticipantRequest {
                name: participant(&people.short_of_hours),
            })
            .await
            .unwrap()
            .into_inner(),
    );
    assert_eq!(grade_short, common::Grade::Fail as i32);
    assert!(
        reasons.iter().any(|r| r.contains("学时")),
        "the reason names the hours: {reasons:?}"
    );
    let (grade_absent, _) = result(
        county
            .get_participant(pb::GetParticipantRequest {
                name: participant(&people.absent_on_video),
            })
            .await
            .unwrap()
            .into_inner(),
    );
    assert_eq!(grade_absent, common::Grade::Fail as i32);

    // School A's results go to county review and lock; the county sends them back, which
    // reopens them; the school finishes grading and sends them again; the county approves.
    let result_a = format!("{}/schoolResults/{SCHOOL_A}", batch.name);
    let incomplete = office_a
        .submit_school_results(pb::SubmitSchoolResultsRequest {
            name: result_a.clone(),
            reason: "校本考核完成".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        incomplete.code(),
        Code::FailedPrecondition,
        "the school's own assessor's work is still ungraded: {incomplete:?}"
    );
    // The Sixian preset lets a county-level assessor grade (Anhui 附件1 四(二)4: 或委托县级培训团队):
    // a county registration of school B's assessor grades school A's assessor.
    let county_assessor = register_county_assessor(&cluster, &people.assessor_b_teacher).await;
    let mut county_grader = cluster.assessment(&county_assessor, Role::Assessor, COUNTY, None);
    for code in picks {
        grade(
            &mut county_grader,
            &county_assessor,
            &participant(&people.assessor_teacher),
            code,
            common::Grade::Excellent,
            None,
        )
        .await
        .unwrap();
    }
    let submitted = office_a
        .submit_school_results(pb::SubmitSchoolResultsRequest {
            name: result_a.clone(),
            reason: "校本考核完成".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        submitted.state,
        pb::SchoolResultState::InCountyReview as i32
    );
    assert_eq!(
        (
            submitted.participants,
            submitted.excellent,
            submitted.passed,
            submitted.failed
        ),
        (3, 1, 1, 1)
    );
    let locked = grade(
        &mut grader_a,
        &assessor_a,
        &participant(&people.diligent),
        "B2",
        common::Grade::Excellent,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        locked.code(),
        Code::FailedPrecondition,
        "results in county review are locked"
    );
    county
        .return_school_results(pb::ReturnSchoolResultsRequest {
            name: result_a.clone(),
            review_round: String::new(),
            reason: "抽查不一致".into(),
        })
        .await
        .unwrap();
    grade(
        &mut grader_a,
        &assessor_a,
        &participant(&people.diligent),
        "B2",
        common::Grade::Excellent,
        None,
    )
    .await
    .expect("a returned school grades again");
    for result in [
        &result_a,
        &format!("{}/schoolResults/{SCHOOL_B}", batch.name),
    ] {
        let office = if result.ends_with(SCHOOL_A) {
            &mut office_a
        } else {
            &mut office_b
        };
        let r = office
            .submit_school_results(pb::SubmitSchoolResultsRequest {
                name: result.clone(),
                reason: "校本考核完成".into(),
            })
            .await;
        if result.ends_with(SCHOOL_B) {
            // School B's own assessor has not been graded yet: the county assessor does it now.
            assert_eq!(r.unwrap_err().code(), Code::FailedPrecondition);
            for code in picks {
                grade(
                    &mut county_grader,
                    &county_assessor,
                    &participant(&people.assessor_b_teacher),
                    code,
                    common::Grade::Pass,
                    None,
                )
                .await
                .expect_err("a county assessor never grades their own submission either");
            }
            let grader_of_b = register_county_assessor(&cluster, &people.assessor_teacher).await;
            let mut other = cluster.assessment(&grader_of_b, Role::Assessor, COUNTY, None);
            for code in picks {
                grade(
                    &mut other,
                    &grader_of_b,
                    &participant(&people.assessor_b_teacher),
                    code,
                    common::Grade::Pass,
                    None,
                )
                .await
                .unwrap();
            }
            office
                .submit_school_results(pb::SubmitSchoolResultsRequest {
                    name: result.clone(),
                    reason: "校本考核完成".into(),
                })
                .await
                .unwrap();
        } else {
            r.unwrap();
        }
        let approved = county
            .approve_school_results(pb::ApproveSchoolResultsRequest {
                name: result.clone(),
                review_round: String::new(),
                reason: "县级抽查通过".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(approved.state, pb::SchoolResultState::CountyApproved as i32);
    }

    // Progress for the county, and the principal's appraisal figure for school A.
    let progress = county
        .get_progress(pb::GetProgressRequest {
            unit: format!("jurisdictions/{COUNTY}"),
            year: 2026,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            progress.participants,
            progress.selected,
            progress.hours_completed,
            progress.submitted,
            progress.graded,
            progress.passed,
            progress.excellent,
            progress.failed,
        ),
        (5, 5, 4, 5, 5, 3, 1, 2),
        "passed counts pass or excellent"
    );
    assert_eq!(progress.pass_permille, 600);
    assert_eq!(progress.schools_total, 2);
    // The county's workbook by school, as an office sends it upward.
    let workbook = export_progress(&mut county).await;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(workbook)).expect("an xlsx file");
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows[1][0], "单位代码", "Chinese headers: {:?}", rows[1]);
    assert!(
        rows.iter()
            .any(|r| r[0] == SCHOOL_A && r[1] == "泗县第一小学"),
        "{rows:?}"
    );
    assert!(rows.iter().any(|r| r[0] == SCHOOL_B), "{rows:?}");
    let appraisal = office_a
        .get_principal_appraisal(pb::GetPrincipalAppraisalRequest {
            school_result: result_a.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (appraisal.teachers_graded, appraisal.teachers_passed),
        (3, 2)
    );
    assert_eq!(appraisal.teacher_pass_permille, 667);

    // The county certifies (Sixian has no province audit) and the certified results stream out:
    // one per passed micro-competency of each teacher who passed.
    let certified = county
        .certify_batch(pb::CertifyBatchRequest {
            name: batch.name.clone(),
            review_round: String::new(),
            reason: "县级验收".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(certified.state, pb::BatchState::Certified as i32);
    let mut stream = county
        .stream_certified_results(pb::StreamCertifiedResultsRequest {
            batch: batch.name.clone(),
            after_sequence: 0,
            follow: false,
        })
        .await
        .unwrap()
        .into_inner();
    let mut results = Vec::new();
    while let Some(message) = stream.next().await {
        match message.unwrap().payload {
            Some(pb::stream_certified_results_response::Payload::Result(r)) => results.push(r),
            Some(pb::stream_certified_results_response::Payload::Header(_)) => {
                assert!(results.is_empty(), "the header comes first")
            }
            None => panic!("an empty message"),
        }
    }
    assert_eq!(
        results.len(),
        3 * 3,
        "three teachers passed, three codes each"
    );
    assert!(
        results
            .iter()
            .all(|r| r.teacher_id_number_masked.contains("**********")),
        "ID numbers leave masked"
    );
    assert!(
        results
            .iter()
            .any(|r| r.teacher == format!("teachers/{}", people.diligent)
                && r.micro_competency == "B2"
                && r.grade == common::Grade::Excellent as i32)
    );
    assert!(
        results.windows(2).all(|w| w[0].sequence < w[1].sequence),
        "sequence numbers increase"
    );

    // A teacher sees their own record and nobody else's.
    let mut nosy = teacher(&cluster, &people.short_of_hours, SCHOOL_A);
    let denied = nosy
        .get_participant(pb::GetParticipantRequest {
            name: participant(&people.diligent),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Certificates for the certified results: issued once, verified, revoked, proved.
    let holder = tica_e2e::certificates::Holder {
        number: people.diligent.clone(),
        name: "王芳".into(),
        id_number: resident_id(1).as_str().to_owned(),
        school: SCHOOL_A.into(),
    };
    tica_e2e::certificates::certificates_chapter(
        &cluster,
        &batch.name,
        COUNTY,
        results.len() as i64,
        &holder,
    )
    .await;
    cluster.stop().await;
}

/// The resident ID number of the county's teacher number `sequence`.
fn resident_id(sequence: u16) -> tica_domain::ResidentId {
    tica_domain::ResidentId::generate(
        COUNTY,
        time::Date::from_calendar_date(1985, time::Month::March, 1 + sequence as u8).unwrap(),
        sequence,
    )
}

/// Jurisdictions, two schools and five teachers, registered by the offices over gRPC.
async fn register_roster(cluster: &Cluster) -> People {
    let mut province = cluster.roster(Role::ProvinceOffice, PROVINCE);
    for (code, name, parent) in [
        (PROVINCE, "安徽省", ""),
        ("341300", "宿州市", "jurisdictions/340000"),
        (COUNTY, "泗县", "jurisdictions/341300"),
    ] {
        province
            .create_jurisdiction(roster::CreateJurisdictionRequest {
                jurisdiction: Some(roster::Jurisdiction {
                    name: format!("jurisdictions/{code}"),
                    display_name: name.into(),
                    parent: parent.into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
    }
    let mut county = cluster.roster(Role::CountyOffice, COUNTY);
    for (code, name, kind) in [
        (SCHOOL_A, "泗县第一小学", roster::SchoolKind::Primary),
        (
            SCHOOL_B,
            "泗县第二中学",
            roster::SchoolKind::JuniorSecondary,
        ),
    ] {
        county
            .create_school(roster::CreateSchoolRequest {
                school: Some(roster::School {
                    name: format!("schools/{code}"),
                    display_name: name.into(),
                    jurisdiction: format!("jurisdictions/{COUNTY}"),
                    kind: kind as i32,
                    rural: true,
                    full_time_teacher_count: 40,
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
    }
    let number = |sequence: u16, name: &str, school: &str| {
        let id = resident_id(sequence);
        let request = roster::CreateTeacherRequest {
            teacher: Some(roster::Teacher {
                display_name: name.into(),
                id_number: id.as_str().into(),
                school: format!("schools/{school}"),
                stage: roster::Stage::Primary as i32,
                subject: "数学".into(),
                category: roster::TeacherCategory::Ordinary as i32,
                ..Default::default()
            }),
            teacher_id: String::new(),
        };
        let mut county = county.clone();
        async move {
            let created = county.create_teacher(request).await.unwrap().into_inner();
            created.name.strip_prefix("teachers/").unwrap().to_owned()
        }
    };
    People {
        diligent: number(1, "王芳", SCHOOL_A).await,
        short_of_hours: number(2, "李强", SCHOOL_A).await,
        assessor_teacher: number(3, "张敏", SCHOOL_A).await,
        absent_on_video: number(4, "刘洋", SCHOOL_B).await,
        assessor_b_teacher: number(5, "陈静", SCHOOL_B).await,
    }
}

/// Registers a certified assessor as the county office and returns its id.
async fn register(
    cluster: &Cluster,
    teacher: &str,
    level: roster::AssessorLevel,
    at: &str,
) -> String {
    cluster
        .register_assessor((Role::CountyOffice, COUNTY), teacher, level, at)
        .await
}

/// School-level assessors of schools A and B.
async fn register_assessors(cluster: &Cluster, people: &People) -> (String, String) {
    let a = register(
        cluster,
        &people.assessor_teacher,
        roster::AssessorLevel::School,
        &format!("schools/{SCHOOL_A}"),
    )
    .await;
    let b = register(
        cluster,
        &people.assessor_b_teacher,
        roster::AssessorLevel::School,
        &format!("schools/{SCHOOL_B}"),
    )
    .await;
    (a, b)
}

/// A county-level registration of `teacher`.
async fn register_county_assessor(cluster: &Cluster, teacher: &str) -> String {
    register(
        cluster,
        teacher,
        roster::AssessorLevel::County,
        &format!("jurisdictions/{COUNTY}"),
    )
    .await
}

fn teacher(cluster: &Cluster, number: &str, school: &str) -> AssessmentClient {
    cluster.assessment(number, Role::Teacher, COUNTY, Some(school))
}

/// A PDF-looking file of `len` bytes.
fn pdf_bytes(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..len - bytes.len()).map(|i| (i % 251) as u8));
    bytes
}

/// Uploads `bytes` as a design plan for `codes` in 64 KiB chunks; with `stop_after`, ends the
/// stream after that many bytes (a connection dropped mid-upload, as the server sees it).
async fn upload(
    client: &mut AssessmentClient,
    participant: &str,
    codes: &[&str],
    bytes: &[u8],
    stop_after: Option<usize>,
) -> Result<pb::Evidence, tonic::Status> {
    let mut messages = vec![pb::UploadEvidenceRequest {
        parent: participant.into(),
        payload: Some(pb::upload_evidence_request::Payload::Evidence(
            pb::Evidence {
                micro_competencies: codes.iter().map(|c| c.to_string()).collect(),
                kind: pb::EvidenceKind::DesignPlan as i32,
                file_name: "应用设计方案.pdf".into(),
                content_type: "application/pdf".into(),
                size_bytes: bytes.len() as i64,
                description: "三个微能力的设计方案".into(),
                ..Default::default()
            },
        )),
    }];
    tica_e2e::upload_evidence(client, messages.remove(0), bytes, stop_after).await
}

async fn grade(
    client: &mut AssessmentClient,
    assessor: &str,
    participant: &str,
    code: &str,
    grade: common::Grade,
    invalid: Option<String>,
) -> Result<pb::Submission, tonic::Status> {
    client
        .grade_submission(pb::GradeSubmissionRequest {
            name: format!("{participant}/submissions/{code}"),
            assessor: format!("assessors/{assessor}"),
            grade: grade as i32,
            rubric_scores: Vec::new(),
            invalid_evidence: invalid
                .into_iter()
                .map(|evidence| common::InvalidEvidence {
                    evidence,
                    reason: common::InvalidEvidenceReason::TeacherNotShown as i32,
                    explanation: "视频中未出现教师本人".into(),
                })
                .collect(),
            comment: "符合要求".into(),
        })
        .await
        .map(|r| r.into_inner())
}

/// The county's progress workbook by school (xlsx), gathered from its stream.
async fn export_progress(county: &mut AssessmentClient) -> Vec<u8> {
    let mut stream = county
        .export_progress(pb::ExportProgressRequest {
            parent: format!("jurisdictions/{COUNTY}"),
            level: pb::ProgressLevel::School as i32,
            year: 2026,
            format: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(message) = stream.next().await {
        if let Some(pb::export_progress_response::Payload::Chunk(chunk)) = message.unwrap().payload
        {
            bytes.extend_from_slice(&chunk);
        }
    }
    bytes
}

/// Files under the suite's evidence directory (temporary files included).
fn stored_files(cluster: &Cluster) -> usize {
    fn count(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            count(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    count(&cluster.data_dir().join("evidence"))
}
