//! Submissions, school results, offline checks, certified results and their stream, RPC by
//! RPC, over real gRPC on SQLite and PostgreSQL: each RPC's main success path and its most
//! important refusals, and a refused write leaves the stored submission, result or participant
//! as it was. In a Sixian year (`support/year.rs`): the county's assessor grades (或委托县级培训
//! 团队, 《泗县实施意见》附件2 §四(二)4), the county reviews and certifies (no province audit),
//! one certificate per passed micro-competency (《泗县实施意见》附件2 §四(三)3).

mod support;
#[path = "support/year.rs"]
mod year;

use prost_types::FieldMask;
use tica_auth::Role;
use tica_proto::google::r#type::Date;
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::common::v1 as common;
use tica_storage::Backend;
use tokio_stream::StreamExt;
use tonic::Code;
use year::{PICKS, SCHOOL_A, SCHOOL_B, SCHOOL_C, Year, refused, refused_on_field};

tica_testkit::backend_tests!(
    // GetSubmission
    a_teacher_reads_their_own_submission_and_not_a_colleagues,
    // ListSubmissions
    submissions_are_listed_per_batch_school_participant_and_state_within_scope,
    // SubmitSubmission
    a_draft_is_handed_in_once_by_the_teacher_or_their_office_before_the_deadline,
    // ReturnSubmission
    a_returned_submission_goes_back_to_draft_with_the_reason_and_its_grading_in_the_history,
    a_return_without_a_reason_by_a_teacher_or_of_a_draft_changes_nothing,
    // GradeSubmission
    an_assessor_grades_a_handed_in_submission_and_a_refused_grading_changes_nothing,
    // GetSchoolResult
    a_school_office_reads_its_own_results_and_not_another_schools,
    // ListSchoolResults
    school_results_are_listed_by_state_within_the_callers_scope,
    // SubmitSchoolResults
    a_school_sends_its_results_to_review_only_when_everyone_is_graded,
    // ApproveSchoolResults
    the_county_approves_results_in_review_and_the_batch_becomes_ready_for_audit,
    // ReturnSchoolResults
    results_returned_for_regrading_unlock_and_say_why,
    // RecordOfflineCheck
    an_office_records_an_offline_check_and_a_school_office_cannot,
    in_ningxia_a_failed_offline_check_fails_the_final_recognition_and_a_pending_one_withholds_it,
    // WithdrawCertifiedResult
    the_province_withdraws_a_certified_result_once_and_the_stream_says_so,
    an_empty_micro_competency_withdraws_every_certified_result_of_the_participant,
    // StreamCertifiedResults
    certified_results_stream_in_sequence_and_resume_after_the_last_one_processed,
);

fn submit(name: String) -> pb::SubmitSubmissionRequest {
    pb::SubmitSubmissionRequest { name }
}

fn grading(year: &Year, teacher: &str, code: &str, g: common::Grade) -> pb::GradeSubmissionRequest {
    pb::GradeSubmissionRequest {
        name: year.submission(teacher, code),
        assessor: format!("assessors/{}", year.assessor),
        grade: g as i32,
        rubric_scores: Vec::new(),
        invalid_evidence: Vec::new(),
        comment: "符合要求".into(),
    }
}

async fn list_submissions(
    client: &mut support::AssessmentClient,
    request: pb::ListSubmissionsRequest,
) -> Result<Vec<String>, tonic::Status> {
    client.list_submissions(request).await.map(|r| {
        let mut names: Vec<String> = r
            .into_inner()
            .submissions
            .into_iter()
            .map(|s| s.name)
            .collect();
        names.sort();
        names
    })
}

/// The certified results of the batch after `after`, as the county office streams them.
async fn stream(
    year: &Year,
    after: i64,
) -> Result<(pb::CertifiedResultsHeader, Vec<pb::CertifiedResult>), tonic::Status> {
    let mut messages = year
        .county()
        .stream_certified_results(pb::StreamCertifiedResultsRequest {
            batch: year.batch.clone(),
            after_sequence: after,
            follow: false,
        })
        .await?
        .into_inner();
    let mut header = None;
    let mut results = Vec::new();
    while let Some(message) = messages.next().await {
        match message?.payload {
            Some(pb::stream_certified_results_response::Payload::Header(h)) => header = Some(h),
            Some(pb::stream_certified_results_response::Payload::Result(r)) => results.push(r),
            None => {}
        }
    }
    Ok((header.expect("a header first"), results))
}

// ---------------------------------------------------------------------------------------------
// GetSubmission

async fn a_teacher_reads_their_own_submission_and_not_a_colleagues(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    year.select(&year.a1).await;
    let get = |name: String| pb::GetSubmissionRequest { name };
    let own = year
        .teacher(&year.a1, SCHOOL_A)
        .get_submission(get(year.submission(&year.a1, "B2")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.micro_competency, "B2");
    assert_eq!(own.teacher, format!("teachers/{}", year.a1));
    assert_eq!(own.state, pb::SubmissionState::Draft as i32);
    refused(
        year.teacher(&year.a2, SCHOOL_A)
            .get_submission(get(year.submission(&year.a1, "B2")))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.school_office(SCHOOL_B)
            .get_submission(get(year.submission(&year.a1, "B2")))
            .await,
        Code::PermissionDenied,
    );
    // A1 was not selected: there is no such submission.
    refused(
        year.county()
            .get_submission(get(year.submission(&year.a1, "A1")))
            .await,
        Code::NotFound,
    );
    refused_on_field(
        year.county()
            .get_submission(get(year.participant(&year.a1)))
            .await,
        "name",
    );
}

// ---------------------------------------------------------------------------------------------
// ListSubmissions

async fn submissions_are_listed_per_batch_school_participant_and_state_within_scope(
    backend: Backend,
) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    for (t, _) in year.everyone() {
        year.select(t).await;
    }
    support::hand_in(&mut year.county(), &year.participant(&year.b1), "C1").await;
    let list = |parent: &str| pb::ListSubmissionsRequest {
        parent: parent.into(),
        ..Default::default()
    };
    let all = list_submissions(&mut year.county(), list(&year.batch))
        .await
        .unwrap();
    assert_eq!(all.len(), 9, "three teachers, three picks each");
    let of_b = list_submissions(
        &mut year.county(),
        pb::ListSubmissionsRequest {
            school: format!("schools/{SCHOOL_B}"),
            ..list(&year.batch)
        },
    )
    .await
    .unwrap();
    assert_eq!(of_b.len(), 3);
    let handed_in = list_submissions(
        &mut year.county(),
        pb::ListSubmissionsRequest {
            state: pb::SubmissionState::Submitted as i32,
            ..list(&year.batch)
        },
    )
    .await
    .unwrap();
    assert_eq!(handed_in, [year.submission(&year.b1, "C1")]);
    // What the county's assessor has to grade.
    let gradable = list_submissions(
        &mut year.grader(),
        pb::ListSubmissionsRequest {
            gradable_by_caller: true,
            ..list(&year.batch)
        },
    )
    .await
    .unwrap();
    assert_eq!(gradable, [year.submission(&year.b1, "C1")]);
    // A school office sees its own school's; a teacher, their own.
    let from_a = list_submissions(&mut year.school_office(SCHOOL_A), list(&year.batch))
        .await
        .unwrap();
    assert_eq!(from_a.len(), 6);
    let own = list_submissions(
        &mut year.teacher(&year.a1, SCHOOL_A),
        list(&year.participant(&year.a1)),
    )
    .await
    .unwrap();
    let mut expected: Vec<String> = PICKS.iter().map(|c| year.submission(&year.a1, c)).collect();
    expected.sort();
    assert_eq!(own, expected);
    refused(
        list_submissions(&mut year.teacher(&year.a1, SCHOOL_A), list(&year.batch)).await,
        Code::PermissionDenied,
    );
    refused(
        list_submissions(
            &mut year.school_office(SCHOOL_A),
            pb::ListSubmissionsRequest {
                school: format!("schools/{SCHOOL_B}"),
                ..list(&year.batch)
            },
        )
        .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        list_submissions(
            &mut year.county(),
            pb::ListSubmissionsRequest {
                school: format!("schools/{SCHOOL_C}"),
                ..list(&year.batch)
            },
        )
        .await,
        "school",
    );
}

// ---------------------------------------------------------------------------------------------
// SubmitSubmission

async fn a_draft_is_handed_in_once_by_the_teacher_or_their_office_before_the_deadline(
    backend: Backend,
) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    year.select(&year.a1).await;
    year.select(&year.b1).await;
    let before = year.submission_record(&year.a1, "B2").await;
    refused(
        year.grader()
            .submit_submission(submit(year.submission(&year.a1, "B2")))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.teacher(&year.a2, SCHOOL_A)
            .submit_submission(submit(year.submission(&year.a1, "B2")))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(year.submission_record(&year.a1, "B2").await, before);
    let handed_in = year
        .teacher(&year.a1, SCHOOL_A)
        .submit_submission(submit(year.submission(&year.a1, "B2")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(handed_in.state, pb::SubmissionState::Submitted as i32);
    assert!(handed_in.submit_time.is_some());
    refused(
        year.teacher(&year.a1, SCHOOL_A)
            .submit_submission(submit(year.submission(&year.a1, "B2")))
            .await,
        Code::FailedPrecondition,
    );
    year.school_office(SCHOOL_A)
        .submit_submission(submit(year.submission(&year.a1, "C1")))
        .await
        .unwrap();
    assert_eq!(
        year.participant_record(&year.a1)
            .await
            .submissions_submitted,
        2
    );
    // The county sets a submission deadline that has passed.
    year.county()
        .update_batch(pb::UpdateBatchRequest {
            batch: Some(pb::Batch {
                name: year.batch.clone(),
                submission_deadline: Some(Date {
                    year: 2026,
                    month: 1,
                    day: 31,
                }),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["submission_deadline".into()],
            }),
        })
        .await
        .unwrap();
    let late = refused(
        year.teacher(&year.b1, SCHOOL_B)
            .submit_submission(submit(year.submission(&year.b1, "B2")))
            .await,
        Code::FailedPrecondition,
    );
    assert!(late.message().contains("deadline"), "{late:?}");
    assert_eq!(
        year.submission_record(&year.b1, "B2").await.state,
        pb::SubmissionState::Draft as i32
    );
}

// ---------------------------------------------------------------------------------------------
// ReturnSubmission

async fn a_returned_submission_goes_back_to_draft_with_the_reason_and_its_grading_in_the_history(
    backend: Backend,
) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    year.select(&year.a1).await;
    year.hand_in_all(&year.a1).await;
    year.grade(&year.a1, "B2", common::Grade::Pass).await;
    // 发现问题，立即整改 (《泗县实施意见》附件3 十月).
    let returned = year
        .grader()
        .return_submission(pb::ReturnSubmissionRequest {
            name: year.submission(&year.a1, "B2"),
            reason: "课例视频缺少学生活动环节".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(returned.state, pb::SubmissionState::Draft as i32);
    assert_eq!(returned.return_reason, "课例视频缺少学生活动环节");
    assert!(returned.grading.is_none());
    assert_eq!(returned.grading_history.len(), 1);
    // The school office returns a submitted one too.
    let by_office = year
        .school_office(SCHOOL_A)
        .return_submission(pb::ReturnSubmissionRequest {
            name: year.submission(&year.a1, "C1"),
            reason: "请补充反思".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_office.state, pb::SubmissionState::Draft as i32);
    assert_eq!(
        year.participant_record(&year.a1)
            .await
            .submissions_submitted,
        1
    );
}

async fn a_return_without_a_reason_by_a_teacher_or_of_a_draft_changes_nothing(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    year.select(&year.a1).await;
    support::hand_in(&mut year.county(), &year.participant(&year.a1), "B2").await;
    let back = |code: &str, reason: &str| pb::ReturnSubmissionRequest {
        name: year.submission(&year.a1, code),
        reason: reason.into(),
    };
    let before = year.submission_record(&year.a1, "B2").await;
    refused_on_field(
        year.grader().return_submission(back("B2", "  ")).await,
        "reason",
    );
    refused(
        year.teacher(&year.a1, SCHOOL_A)
            .return_submission(back("B2", "我想改"))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.school_office(SCHOOL_B)
            .return_submission(back("B2", "请修改"))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(year.submission_record(&year.a1, "B2").await, before);
    refused(
        year.grader().return_submission(back("C1", "请修改")).await,
        Code::FailedPrecondition,
    );
}

// ---------------------------------------------------------------------------------------------
// GradeSubmission

async fn an_assessor_grades_a_handed_in_submission_and_a_refused_grading_changes_nothing(
    backend: Backend,
) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    year.select(&year.a1).await;
    support::hand_in(&mut year.county(), &year.participant(&year.a1), "B2").await;
    let before = year.submission_record(&year.a1, "B2").await;
    // Only an assessor grades (《宁夏测评实施办法》§七(二)).
    refused(
        year.county()
            .grade_submission(grading(&year, &year.a1, "B2", common::Grade::Pass))
            .await,
        Code::PermissionDenied,
    );
    // The assessor named must be the caller.
    let mut someone_else = grading(&year, &year.a1, "B2", common::Grade::Pass);
    someone_else.assessor = "assessors/someone-else".into();
    refused_on_field(
        year.grader().grade_submission(someone_else).await,
        "assessor",
    );
    // Only a handed-in submission is graded.
    refused(
        year.grader()
            .grade_submission(grading(&year, &year.a1, "C1", common::Grade::Pass))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(year.submission_record(&year.a1, "B2").await, before);
    let graded = year
        .grader()
        .grade_submission(grading(&year, &year.a1, "B2", common::Grade::Excellent))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(graded.state, pb::SubmissionState::Graded as i32);
    let g = graded.grading.unwrap();
    assert_eq!(g.grade, common::Grade::Excellent as i32);
    // Graded again (SUBMITTED or GRADED → GRADED): the earlier grading goes to the history.
    let regraded = year
        .grader()
        .grade_submission(grading(&year, &year.a1, "B2", common::Grade::Pass))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(regraded.grading.unwrap().grade, common::Grade::Pass as i32);
    assert_eq!(regraded.grading_history.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// GetSchoolResult

async fn a_school_office_reads_its_own_results_and_not_another_schools(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let get = |school: &str| pb::GetSchoolResultRequest {
        name: year.school_result(school),
    };
    let own = year
        .school_office(SCHOOL_A)
        .get_school_result(get(SCHOOL_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.school, format!("schools/{SCHOOL_A}"));
    assert_eq!(own.state, pb::SchoolResultState::Open as i32);
    assert_eq!(own.participants, 2);
    refused(
        year.school_office(SCHOOL_B)
            .get_school_result(get(SCHOOL_A))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.teacher(&year.a1, SCHOOL_A)
            .get_school_result(get(SCHOOL_A))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.county().get_school_result(get(SCHOOL_C)).await,
        Code::NotFound,
    );
}

// ---------------------------------------------------------------------------------------------
// ListSchoolResults

async fn school_results_are_listed_by_state_within_the_callers_scope(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    // School B's only teacher passes; B goes to county review, A stays open.
    year.select(&year.b1).await;
    year.push_hours(&year.b1).await;
    year.hand_in_all(&year.b1).await;
    for code in PICKS {
        year.grade(&year.b1, code, common::Grade::Pass).await;
    }
    year.school_office(SCHOOL_B)
        .submit_school_results(pb::SubmitSchoolResultsRequest {
            name: year.school_result(SCHOOL_B),
            reason: String::new(),
        })
        .await
        .unwrap();
    let list = |state: pb::SchoolResultState| pb::ListSchoolResultsRequest {
        parent: year.batch.clone(),
        state: state as i32,
        ..Default::default()
    };
    let names = |r: pb::ListSchoolResultsResponse| -> Vec<String> {
        r.school_results.into_iter().map(|s| s.school).collect()
    };
    let all = year
        .county()
        .list_school_results(list(pb::SchoolResultState::Unspecified))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        names(all),
        [format!("schools/{SCHOOL_A}"), format!("schools/{SCHOOL_B}")]
    );
    let in_review = year
        .county()
        .list_school_results(list(pb::SchoolResultState::InCountyReview))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(in_review), [format!("schools/{SCHOOL_B}")]);
    let from_a = year
        .school_office(SCHOOL_A)
        .list_school_results(list(pb::SchoolResultState::Unspecified))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(from_a), [format!("schools/{SCHOOL_A}")]);
    refused(
        year.teacher(&year.a1, SCHOOL_A)
            .list_school_results(list(pb::SchoolResultState::Unspecified))
            .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        year.county()
            .list_school_results(pb::ListSchoolResultsRequest {
                state: 99,
                ..list(pb::SchoolResultState::Unspecified)
            })
            .await,
        "state",
    );
}

// ---------------------------------------------------------------------------------------------
// SubmitSchoolResults

async fn a_school_sends_its_results_to_review_only_when_everyone_is_graded(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let send = || pb::SubmitSchoolResultsRequest {
        name: year.school_result(SCHOOL_B),
        reason: "校本考核完成".into(),
    };
    let before = year.school_result_record(SCHOOL_B).await;
    refused(
        year.school_office(SCHOOL_B)
            .submit_school_results(send())
            .await,
        Code::FailedPrecondition,
    );
    refused(
        year.teacher(&year.b1, SCHOOL_B)
            .submit_school_results(send())
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.school_office(SCHOOL_A)
            .submit_school_results(send())
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(year.school_result_record(SCHOOL_B).await, before);
    year.select(&year.b1).await;
    year.push_hours(&year.b1).await;
    year.hand_in_all(&year.b1).await;
    for code in PICKS {
        year.grade(&year.b1, code, common::Grade::Pass).await;
    }
    let sent = year
        .school_office(SCHOOL_B)
        .submit_school_results(send())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent.state, pb::SchoolResultState::InCountyReview as i32);
    assert_eq!((sent.participants, sent.passed), (1, 1));
    // The results are locked: no grading, and not sent twice.
    refused(
        support::grade(
            &mut year.grader(),
            &year.assessor,
            &year.participant(&year.b1),
            "B2",
            common::Grade::Excellent,
        )
        .await,
        Code::FailedPrecondition,
    );
    refused(
        year.school_office(SCHOOL_B)
            .submit_school_results(send())
            .await,
        Code::FailedPrecondition,
    );
    let before = year.participant_record(&year.b1).await;
    refused(
        year.school_office(SCHOOL_B)
            .withdraw_participant(pb::WithdrawParticipantRequest {
                name: year.participant(&year.b1),
                reason: "调出".into(),
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(year.participant_record(&year.b1).await, before);
}

// ---------------------------------------------------------------------------------------------
// ApproveSchoolResults

async fn the_county_approves_results_in_review_and_the_batch_becomes_ready_for_audit(
    backend: Backend,
) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let approve = |school: &str| pb::ApproveSchoolResultsRequest {
        name: year.school_result(school),
        review_round: "县级复核".into(),
        reason: "抽查一致".into(),
    };
    // Open results are not in review.
    refused(
        year.county()
            .approve_school_results(approve(SCHOOL_A))
            .await,
        Code::FailedPrecondition,
    );
    year.everyone_passes().await;
    year.submit_results().await;
    let before = year.school_result_record(SCHOOL_A).await;
    refused(
        year.school_office(SCHOOL_A)
            .approve_school_results(approve(SCHOOL_A))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(year.school_result_record(SCHOOL_A).await, before);
    let approved = year
        .county()
        .approve_school_results(approve(SCHOOL_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(approved.state, pb::SchoolResultState::CountyApproved as i32);
    assert_eq!(year.batch().await.state, pb::BatchState::Open as i32);
    year.county()
        .approve_school_results(approve(SCHOOL_B))
        .await
        .unwrap();
    assert_eq!(
        year.batch().await.state,
        pb::BatchState::ReadyForAudit as i32,
        "every school approved"
    );
}

// ---------------------------------------------------------------------------------------------
// ReturnSchoolResults

async fn results_returned_for_regrading_unlock_and_say_why(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let back = |reason: &str| pb::ReturnSchoolResultsRequest {
        name: year.school_result(SCHOOL_A),
        review_round: "县级复核".into(),
        reason: reason.into(),
    };
    refused(
        year.county()
            .return_school_results(back("抽查不一致"))
            .await,
        Code::FailedPrecondition,
    );
    year.everyone_passes().await;
    year.submit_results().await;
    let before = year.school_result_record(SCHOOL_A).await;
    // 一致率低于 80% 的返回学校重新评价 (《宁夏测评实施办法》§五(一)3): with a reason.
    refused_on_field(
        year.county().return_school_results(back(" ")).await,
        "reason",
    );
    refused(
        year.school_office(SCHOOL_A)
            .return_school_results(back("自行退回"))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(year.school_result_record(SCHOOL_A).await, before);
    let returned = year
        .county()
        .return_school_results(back("抽查不一致"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(returned.state, pb::SchoolResultState::Returned as i32);
    assert_eq!(returned.transitions.last().unwrap().reason, "抽查不一致");
    // Unlocked: the school grades again.
    year.grade(&year.a1, "B2", common::Grade::Excellent).await;
}

// ---------------------------------------------------------------------------------------------
// RecordOfflineCheck

async fn an_office_records_an_offline_check_and_a_school_office_cannot(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    let check = |outcome: pb::OfflineCheck| pb::RecordOfflineCheckRequest {
        participant: year.participant(&year.a1),
        outcome: outcome as i32,
        review_round: "推门听课".into(),
        reason: "课堂应用良好".into(),
    };
    let before = year.participant_record(&year.a1).await;
    refused(
        year.school_office(SCHOOL_A)
            .record_offline_check(check(pb::OfflineCheck::Passed))
            .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        year.county()
            .record_offline_check(check(pb::OfflineCheck::Unspecified))
            .await,
        "outcome",
    );
    assert_eq!(year.participant_record(&year.a1).await, before);
    // 推门听课 (《宁夏测评实施办法》§五(二)).
    let checked = year
        .county()
        .record_offline_check(check(pb::OfflineCheck::Passed))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.offline_check, pb::OfflineCheck::Passed as i32);
    // Sixian's policy (like Anhui's) requires no offline check: a failed one is recorded and
    // the grade stays as the online assessment made it.
    year.select(&year.b1).await;
    year.push_hours(&year.b1).await;
    year.hand_in_all(&year.b1).await;
    for code in PICKS {
        year.grade(&year.b1, code, common::Grade::Pass).await;
    }
    let failed = year
        .county()
        .record_offline_check(pb::RecordOfflineCheckRequest {
            participant: year.participant(&year.b1),
            ..check(pb::OfflineCheck::Failed)
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(failed.offline_check, pb::OfflineCheck::Failed as i32);
    assert_eq!(failed.grade, common::Grade::Pass as i32);
    let mut neighbour = year
        .suite
        .assessment("office", Role::CountyOffice, "341323", None);
    refused(
        neighbour
            .record_offline_check(check(pb::OfflineCheck::Failed))
            .await,
        Code::PermissionDenied,
    );
    refused(
        year.county()
            .record_offline_check(pb::RecordOfflineCheckRequest {
                participant: year.participant("34132419850301999X"),
                ..check(pb::OfflineCheck::Passed)
            })
            .await,
        Code::NotFound,
    );
}

/// A Yongning (Ningxia) school whose two teachers grade each other as its school-level
/// assessors (a Ningxia school grades its own, 《宁夏测评实施办法》§五(一)2; nobody grades
/// themselves), both passing online: three picks with one from B/C (§三(一)2) and 25 + 25
/// hours (《宁夏实施方案》§二(三)).
async fn in_ningxia_a_failed_offline_check_fails_the_final_recognition_and_a_pending_one_withholds_it(
    backend: Backend,
) {
    let Some(suite) = support::Suite::start(backend).await else {
        return;
    };
    let county = year::NINGXIA_COUNTY;
    let school = format!("{county}0001");
    suite.register_county(&support::YONGNING).await;
    suite
        .register_school(county, &school, "永宁县第一小学")
        .await;
    let teachers = [
        suite.register_teacher(county, &school, 1).await,
        suite.register_teacher(county, &school, 2).await,
    ];
    let assessors = suite.school_assessors(county, &school, &teachers).await;
    let batch = suite.open_batch(county).await;
    let participant = |t: &str| format!("{batch}/participants/{t}");
    let mut office = suite.assessment("county-office", Role::CountyOffice, county, None);
    let mut provider = suite.assessment("anhui-online", Role::TrainingProvider, "640000", None);
    let codes = ["A1", "B2", "C1"];
    for t in &teachers {
        support::select(&mut office, &participant(t), &codes).await;
        provider
            .batch_push_hours_records(pb::BatchPushHoursRecordsRequest {
                parent: "providers/anhui-online".into(),
                records: vec![
                    year::hours(t, pb::HoursKind::OnlineStudy, "online"),
                    year::hours(t, pb::HoursKind::Practice, "practice"),
                ],
            })
            .await
            .unwrap();
        for code in codes {
            support::hand_in(&mut office, &participant(t), code).await;
        }
    }
    for (k, t) in teachers.iter().enumerate() {
        let other = &assessors[1 - k];
        let mut grader = suite.assessment(other, Role::Assessor, county, Some(school.as_str()));
        for code in codes {
            support::grade(
                &mut grader,
                other,
                &participant(t),
                code,
                common::Grade::Pass,
            )
            .await
            .unwrap();
        }
    }
    let grade_of = |p: pb::Participant| p.grade;
    let get = |t: &str| pb::GetParticipantRequest {
        name: participant(t),
    };
    let first = office.get_participant(get(&teachers[0])).await.unwrap();
    assert_eq!(grade_of(first.into_inner()), common::Grade::Pass as i32);
    let check = |t: &str, outcome: pb::OfflineCheck| pb::RecordOfflineCheckRequest {
        participant: participant(t),
        outcome: outcome as i32,
        review_round: "2026-推门听课".into(),
        reason: "线下听课".into(),
    };
    // 线上线下测评均合格方可认定 (《宁夏测评实施办法》§五(三)).
    let failed = office
        .record_offline_check(check(&teachers[0], pb::OfflineCheck::Failed))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(failed.online_grade, common::Grade::Pass as i32);
    assert_eq!(failed.grade, common::Grade::Fail as i32);
    assert!(
        failed.grade_reasons.iter().any(|r| r.contains("线下")),
        "{:?}",
        failed.grade_reasons
    );
    // Drawn and not yet visited: no final recognition until the visit.
    let pending = office
        .record_offline_check(check(&teachers[1], pb::OfflineCheck::Pending))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pending.grade, common::Grade::Unspecified as i32);
    let passed = office
        .record_offline_check(check(&teachers[1], pb::OfflineCheck::Passed))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(passed.grade, common::Grade::Pass as i32);
    let first = office.get_participant(get(&teachers[0])).await.unwrap();
    assert_eq!(grade_of(first.into_inner()), common::Grade::Fail as i32);
}

// ---------------------------------------------------------------------------------------------
// WithdrawCertifiedResult

async fn the_province_withdraws_a_certified_result_once_and_the_stream_says_so(backend: Backend) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    year.certified().await;
    let withdraw = |code: &str, reason: &str| pb::WithdrawCertifiedResultRequest {
        participant: year.participant(&year.a1),
        micro_competency: code.into(),
        reason: reason.into(),
    };
    let mut province = year
        .suite
        .assessment("province", Role::ProvinceOffice, "340000", None);
    refused(
        year.county()
            .withdraw_certified_result(withdraw("B2", "材料造假"))
            .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        province
            .withdraw_certified_result(withdraw("B2", " "))
            .await,
        "reason",
    );
    refused(
        province
            .withdraw_certified_result(withdraw("A1", "材料造假"))
            .await,
        Code::NotFound,
    );
    assert_eq!(
        year.batch().await.last_certified_sequence,
        9,
        "nothing appended"
    );
    province
        .withdraw_certified_result(withdraw("B2", "材料造假"))
        .await
        .unwrap();
    refused(
        province
            .withdraw_certified_result(withdraw("B2", "材料造假"))
            .await,
        Code::FailedPrecondition,
    );
    // The batch is certified: no offline check changes it any more.
    refused(
        year.county()
            .record_offline_check(pb::RecordOfflineCheckRequest {
                participant: year.participant(&year.a2),
                outcome: pb::OfflineCheck::Failed as i32,
                review_round: String::new(),
                reason: "认定后听课".into(),
            })
            .await,
        Code::FailedPrecondition,
    );
    let (header, results) = stream(&year, 9).await.unwrap();
    assert_eq!(header.last_sequence, 10);
    assert_eq!(results.len(), 1);
    let withdrawn = &results[0];
    assert_eq!(withdrawn.sequence, 10);
    assert_eq!(
        withdrawn.kind,
        pb::CertifiedResultEventKind::Withdrawn as i32
    );
    assert_eq!(withdrawn.micro_competency, "B2");
    assert_eq!(withdrawn.withdraw_reason, "材料造假");
}

/// The contract: an empty `micro_competency` withdraws the level result and, under a policy that
/// certifies per micro-competency, every one of the participant's results. Sixian certifies each
/// passed micro-competency (《泗县实施意见》附件2 §四(三)3): B2, C1 and C4 per teacher. One is
/// withdrawn on its own first; the empty code withdraws the other two, each with its WITHDRAWN
/// event and audit entry as the single case has, and leaves the colleagues' results alone.
async fn an_empty_micro_competency_withdraws_every_certified_result_of_the_participant(
    backend: Backend,
) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    year.certified().await;
    let withdraw = |code: &str, reason: &str| pb::WithdrawCertifiedResultRequest {
        participant: year.participant(&year.a1),
        micro_competency: code.into(),
        reason: reason.into(),
    };
    let mut province = year
        .suite
        .assessment("province", Role::ProvinceOffice, "340000", None);
    province
        .withdraw_certified_result(withdraw("B2", "材料造假"))
        .await
        .unwrap();
    let participant = province
        .withdraw_certified_result(withdraw("", "成果均非本人完成"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(participant.name, year.participant(&year.a1));
    assert!(!participant.certified, "none of their results stands");
    assert_eq!(year.batch().await.last_certified_sequence, 12);
    let (_, results) = stream(&year, 10).await.unwrap();
    let mut withdrawn: Vec<(&str, &str, &str)> = results
        .iter()
        .map(|r| {
            assert_eq!(r.kind, pb::CertifiedResultEventKind::Withdrawn as i32);
            (
                r.teacher.as_str(),
                r.micro_competency.as_str(),
                r.withdraw_reason.as_str(),
            )
        })
        .collect();
    withdrawn.sort();
    let teacher = format!("teachers/{}", year.a1);
    assert_eq!(
        withdrawn,
        [
            (teacher.as_str(), "C1", "成果均非本人完成"),
            (teacher.as_str(), "C4", "成果均非本人完成"),
        ]
    );
    // Each withdrawal is audited as the single one is.
    let audited = province
        .list_audit_events(pb::ListAuditEventsRequest {
            resource: year.participant(&year.a1),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .audit_events;
    let mut changes: Vec<serde_json::Value> = audited
        .iter()
        .filter(|e| e.method.ends_with("/WithdrawCertifiedResult"))
        .map(|e| serde_json::from_str(&e.change_json).unwrap())
        .collect();
    changes.sort_by_key(|c| c["result"].as_str().unwrap().to_owned());
    let key = |code: &str| format!("341324-2026/{}/{code}", year.a1);
    assert_eq!(
        changes,
        [
            serde_json::json!({ "result": key("B2"), "reason": "材料造假" }),
            serde_json::json!({ "result": key("C1"), "reason": "成果均非本人完成" }),
            serde_json::json!({ "result": key("C4"), "reason": "成果均非本人完成" }),
        ]
    );
    // Nothing is left to withdraw; the colleagues keep theirs.
    refused(
        province
            .withdraw_certified_result(withdraw("", "成果均非本人完成"))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(year.batch().await.last_certified_sequence, 12);
    assert!(year.participant_record(&year.a2).await.certified);
}

// ---------------------------------------------------------------------------------------------
// StreamCertifiedResults

async fn certified_results_stream_in_sequence_and_resume_after_the_last_one_processed(
    backend: Backend,
) {
    let Some(year) = Year::open(backend).await else {
        return;
    };
    year.certified().await;
    let (header, results) = stream(&year, 0).await.unwrap();
    assert_eq!(header.batch_state, pb::BatchState::Certified as i32);
    assert_eq!(header.last_sequence, 9);
    let sequences: Vec<i64> = results.iter().map(|r| r.sequence).collect();
    assert_eq!(sequences, (1..=9).collect::<Vec<_>>());
    let first = &results[0];
    assert_eq!(first.kind, pb::CertifiedResultEventKind::Certified as i32);
    assert_eq!(first.issuing_authority, "泗县教育体育局");
    // The batch set no certificate date: its certificates print the day it was certified.
    let today = tica_domain::today_in_china(time::OffsetDateTime::now_utc());
    assert_eq!(
        first.certificate_date,
        Some(tica_proto::google::r#type::Date {
            year: today.year(),
            month: u8::from(today.month()).into(),
            day: today.day().into(),
        })
    );
    assert_eq!(
        first.certificate_mode,
        pb::CertificateMode::PerMicroCompetency as i32
    );
    // Resumed after 7: 8 and 9 only.
    let (_, rest) = stream(&year, 7).await.unwrap();
    let sequences: Vec<i64> = rest.iter().map(|r| r.sequence).collect();
    assert_eq!(sequences, [8, 9]);
    refused_on_field(stream(&year, -1).await, "after_sequence");
    // Only offices covering the county (and the certificate service) read the stream.
    for mut outsider in [
        year.school_office(SCHOOL_A),
        year.suite
            .assessment("office", Role::CountyOffice, "341323", None),
    ] {
        let status = outsider
            .stream_certified_results(pb::StreamCertifiedResultsRequest {
                batch: year.batch.clone(),
                after_sequence: 0,
                follow: false,
            })
            .await;
        refused(status.map(|_| ()), Code::PermissionDenied);
    }
}
