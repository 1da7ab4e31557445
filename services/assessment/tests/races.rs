//! Concurrent writes that decide a state for more than the record they change (issue 7 §3.5):
//! the last grading of a school under a policy that sends its results to county review by
//! itself (Ningxia's `auto_submit_school_results`, 《宁夏测评实施办法》
//! §五(一)2), and the last county approval of a batch (→ READY_FOR_AUDIT). Each write reads the
//! others before it commits; two at once must still see each other, on SQLite and PostgreSQL.
//! Every round fires both calls at once over real gRPC; the race shows in some of the rounds,
//! so each test runs many rounds and counts the misses.

mod support;

use support::{AssessmentClient, SIXIAN, Suite, YONGNING, grade, hand_in, select};
use tica_auth::Role;
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::common::v1 as common;
use tica_storage::Backend;

tica_testkit::backend_tests!(
    the_last_two_gradings_of_a_school_at_once_still_send_it_to_county_review,
    the_last_two_approvals_at_once_still_make_the_batch_ready_for_audit,
);

/// Rounds per test: schools graded, batches approved.
const ROUNDS: u16 = 30;

/// Ningxia's rule for an ordinary teacher under 50: exactly 3, at least one from B1–B10 ∪ C1–C7.
const CODES: [&str; 3] = ["A1", "B2", "C1"];

/// One Yongning school of the race: two teachers, each the other's school-level assessor (a
/// Ningxia school grades its own, 测评实施办法 五(一)2; nobody grades themselves).
struct School {
    code: String,
    teachers: [String; 2],
    assessors: [String; 2],
}

async fn the_last_two_gradings_of_a_school_at_once_still_send_it_to_county_review(
    backend: Backend,
) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let county = YONGNING.county.0;
    suite.register_county(&YONGNING).await;
    let mut schools = Vec::new();
    for i in 0..ROUNDS {
        let code = format!("{county}{:04}", i + 1);
        suite
            .register_school(county, &code, &format!("永宁县第{}小学", i + 1))
            .await;
        let mut teachers = Vec::new();
        for k in 0..2 {
            teachers.push(suite.register_teacher(county, &code, 2 * i + k + 1).await);
        }
        let assessors = suite.school_assessors(county, &code, &teachers).await;
        schools.push(School {
            code,
            teachers: teachers.try_into().unwrap(),
            assessors: assessors.try_into().unwrap(),
        });
    }
    let batch = suite.open_batch(county).await;
    let participant = |teacher: &str| format!("{batch}/participants/{teacher}");
    let mut office = suite.assessment("county-office", Role::CountyOffice, county, None);
    let graders = |s: &School| -> [AssessmentClient; 2] {
        // Teacher k is graded by the other teacher's assessor record.
        [1, 0].map(|other| {
            suite.assessment(
                &s.assessors[other],
                Role::Assessor,
                county,
                Some(s.code.as_str()),
            )
        })
    };
    let mut missed = Vec::new();
    for s in &schools {
        let [mut first, mut second] = graders(s);
        for (k, grader) in [&mut first, &mut second].into_iter().enumerate() {
            let p = participant(&s.teachers[k]);
            select(&mut office, &p, &CODES).await;
            for code in CODES {
                hand_in(&mut office, &p, code).await;
            }
            // All but the last submission graded one at a time.
            for code in &CODES[..2] {
                grade(grader, &s.assessors[1 - k], &p, code, common::Grade::Pass)
                    .await
                    .expect("graded");
            }
        }
        // The school's last two gradings, at once.
        let (p0, p1) = (participant(&s.teachers[0]), participant(&s.teachers[1]));
        let (a, b) = tokio::join!(
            grade(
                &mut first,
                &s.assessors[1],
                &p0,
                CODES[2],
                common::Grade::Pass
            ),
            grade(
                &mut second,
                &s.assessors[0],
                &p1,
                CODES[2],
                common::Grade::Pass
            ),
        );
        a.expect("the first of the last two gradings");
        b.expect("the second of the last two gradings");
        let result = office
            .get_school_result(pb::GetSchoolResultRequest {
                name: format!("{batch}/schoolResults/{}", s.code),
            })
            .await
            .expect("school result")
            .into_inner();
        assert_eq!(result.participants, 2);
        assert_eq!(
            result.graded, 2,
            "both participants of schools/{} are graded",
            s.code
        );
        if result.state != pb::SchoolResultState::InCountyReview as i32 {
            missed.push(s.code.clone());
        }
    }
    assert!(
        missed.is_empty(),
        "{} of {ROUNDS} schools stayed out of county review after their last two gradings ran at once: {missed:?}",
        missed.len()
    );
}

async fn the_last_two_approvals_at_once_still_make_the_batch_ready_for_audit(backend: Backend) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let county = SIXIAN.county.0;
    suite.register_county(&SIXIAN).await;
    // Two schools without teachers: their results go to county review at once.
    let schools = [format!("{county}0001"), format!("{county}0002")];
    for (i, code) in schools.iter().enumerate() {
        suite
            .register_school(county, code, &format!("泗县第{}小学", i + 1))
            .await;
    }
    let mut office = suite.assessment("county-office", Role::CountyOffice, county, None);
    let mut other = suite.assessment("county-office-2", Role::CountyOffice, county, None);
    let mut missed = Vec::new();
    // One batch (one year) per round, the same two schools in each.
    for year in 2030..2030 + i32::from(ROUNDS) {
        let batch = office
            .create_batch(pb::CreateBatchRequest {
                batch: Some(pb::Batch {
                    county: format!("jurisdictions/{county}"),
                    year,
                    display_name: format!("{year} 年能力提升工程2.0"),
                    schools: schools.iter().map(|s| format!("schools/{s}")).collect(),
                    ..Default::default()
                }),
            })
            .await
            .expect("batch created")
            .into_inner()
            .name;
        office
            .open_batch(pb::OpenBatchRequest {
                name: batch.clone(),
                open_date: None,
            })
            .await
            .expect("batch opened");
        let result = |school: &str| format!("{batch}/schoolResults/{school}");
        for school in &schools {
            office
                .submit_school_results(pb::SubmitSchoolResultsRequest {
                    name: result(school),
                    reason: String::new(),
                })
                .await
                .expect("results submitted");
        }
        let approval = |school: &str| pb::ApproveSchoolResultsRequest {
            name: result(school),
            review_round: String::new(),
            reason: "未抽中".into(),
        };
        // The batch's last two approvals, at once.
        let (a, b) = tokio::join!(
            office.approve_school_results(approval(&schools[0])),
            other.approve_school_results(approval(&schools[1])),
        );
        for approved in [a, b] {
            assert_eq!(
                approved.expect("approved").into_inner().state,
                pb::SchoolResultState::CountyApproved as i32
            );
        }
        let state = office
            .get_batch(pb::GetBatchRequest {
                name: batch.clone(),
            })
            .await
            .expect("batch")
            .into_inner()
            .state;
        if state != pb::BatchState::ReadyForAudit as i32 {
            missed.push(batch);
        }
    }
    assert!(
        missed.is_empty(),
        "{} of {ROUNDS} batches stayed OPEN after their last two approvals ran at once: {missed:?}",
        missed.len()
    );
}
