//! A school's results go to county review by themselves "as soon as its last submission is
//! graded" under Ningxia's `auto_submit_school_results` (《宁夏测评实施办法》
//! §五(一)2): the grading that completes the school sends them, and nothing else.
//! After the county returns a school, everyone is still graded, so a re-grade completes nothing
//! and the school sends its results itself when it has finished; a submission returned to its
//! teacher and graded again completes the school once more.

mod support;

use support::{AssessmentClient, Suite, YONGNING, grade, hand_in, select};
use tica_auth::Role;
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::common::v1 as common;
use tica_storage::Backend;

tica_testkit::backend_tests!(
    a_returned_school_is_not_sent_back_to_review_by_its_first_re_grade_but_by_its_office_or_its_last_grading,
);

/// Ningxia's rule for an ordinary teacher under 50: exactly 3, at least one from B1–B10 ∪ C1–C7.
const CODES: [&str; 3] = ["A1", "B2", "C1"];

async fn state(office: &mut AssessmentClient, result: &str) -> pb::SchoolResultState {
    let result = office
        .get_school_result(pb::GetSchoolResultRequest {
            name: result.to_owned(),
        })
        .await
        .expect("school result")
        .into_inner();
    pb::SchoolResultState::try_from(result.state).expect("a known state")
}

async fn send_back(office: &mut AssessmentClient, result: &str) {
    office
        .return_school_results(pb::ReturnSchoolResultsRequest {
            name: result.to_owned(),
            review_round: String::new(),
            reason: "抽查复评不一致，请重新评定".into(),
        })
        .await
        .expect("results returned");
}

async fn a_returned_school_is_not_sent_back_to_review_by_its_first_re_grade_but_by_its_office_or_its_last_grading(
    backend: Backend,
) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let county = YONGNING.county.0;
    suite.register_county(&YONGNING).await;
    let school = format!("{county}0001");
    suite
        .register_school(county, &school, "永宁县第一小学")
        .await;
    let teachers = [
        suite.register_teacher(county, &school, 1).await,
        suite.register_teacher(county, &school, 2).await,
    ];
    let assessors = suite.school_assessors(county, &school, &teachers).await;
    let batch = suite.open_batch(county).await;
    let result = format!("{batch}/schoolResults/{school}");
    let participant = |k: usize| format!("{batch}/participants/{}", teachers[k]);
    let mut office = suite.assessment("county-office", Role::CountyOffice, county, None);
    // Teacher k is graded by the other teacher's assessor record.
    let mut graders: Vec<AssessmentClient> = (0..2)
        .map(|k| {
            suite.assessment(
                &assessors[1 - k],
                Role::Assessor,
                county,
                Some(school.as_str()),
            )
        })
        .collect();
    for k in 0..2 {
        select(&mut office, &participant(k), &CODES).await;
        for code in CODES {
            hand_in(&mut office, &participant(k), code).await;
        }
    }
    for k in 0..2 {
        for code in CODES {
            assert_eq!(
                state(&mut office, &result).await,
                pb::SchoolResultState::Open,
                "an ungraded submission keeps the school open"
            );
            grade(
                &mut graders[k],
                &assessors[1 - k],
                &participant(k),
                code,
                common::Grade::Pass,
            )
            .await
            .expect("graded");
        }
    }
    assert_eq!(
        state(&mut office, &result).await,
        pb::SchoolResultState::InCountyReview,
        "the last grading sends the school"
    );

    // Returned: a re-grade completes nothing, and the school stays with the school.
    send_back(&mut office, &result).await;
    grade(
        &mut graders[0],
        &assessors[1],
        &participant(0),
        CODES[0],
        common::Grade::Excellent,
    )
    .await
    .expect("re-graded");
    assert_eq!(
        state(&mut office, &result).await,
        pb::SchoolResultState::Returned,
        "a re-grade of a returned school does not send it"
    );
    // The school's office sends it when it has finished.
    let mut school_office = suite.assessment(
        "school-office",
        Role::SchoolAdmin,
        county,
        Some(school.as_str()),
    );
    school_office
        .submit_school_results(pb::SubmitSchoolResultsRequest {
            name: result.clone(),
            reason: "已按复评意见重新评定".into(),
        })
        .await
        .expect("results sent");
    assert_eq!(
        state(&mut office, &result).await,
        pb::SchoolResultState::InCountyReview
    );

    // Returned again: a submission goes back to its teacher, who hands it in again, and its
    // grading is again the one that completes the school.
    send_back(&mut office, &result).await;
    let submission = format!("{}/submissions/{}", participant(1), CODES[2]);
    school_office
        .return_submission(pb::ReturnSubmissionRequest {
            name: submission,
            reason: "视频未出镜，请重新提交".into(),
        })
        .await
        .expect("submission returned");
    hand_in(&mut office, &participant(1), CODES[2]).await;
    assert_eq!(
        state(&mut office, &result).await,
        pb::SchoolResultState::Returned
    );
    grade(
        &mut graders[1],
        &assessors[0],
        &participant(1),
        CODES[2],
        common::Grade::Pass,
    )
    .await
    .expect("graded again");
    assert_eq!(
        state(&mut office, &result).await,
        pb::SchoolResultState::InCountyReview,
        "the grading that completes the school again sends it"
    );
}
