//! A county's year for the per-RPC test files (`rpc_*.rs`): a Sixian batch with two schools
//! and three teachers, a county-level assessor who teaches at a school outside the batch, and
//! the steps that drive the year (selections, hours, hand-ins, grades, the review chain).
//!
//! Declared from a test file with `#[path = "support/year.rs"] mod year;` next to `mod support;`.

#![allow(dead_code)]

use crate::support::{self, AssessmentClient, SIXIAN, Suite, YONGNING};
use tica_auth::Role;
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as roster;
use tica_storage::Backend;
use tica_testkit::errors::reason_of;
use tonic::{Code, Status};

/// 泗县.
pub const COUNTY: &str = "341324";
/// 泗县第一小学 (in the batch).
pub const SCHOOL_A: &str = "3413240001";
/// 泗县第二小学 (in the batch).
pub const SCHOOL_B: &str = "3413240002";
/// 泗县第三小学: registered, but not one of the batch's schools (the assessor teaches there).
pub const SCHOOL_C: &str = "3413240003";
/// 永宁县 (Ningxia preset, which has a province audit).
pub const NINGXIA_COUNTY: &str = "640121";
/// Sixian's rule: 合计不少于 20 学分 (《泗县实施意见》一; 附件2 §二(二)2) — B2 5 + C1 8 + C4 9.
pub const PICKS: [&str; 3] = ["B2", "C1", "C4"];

/// A Sixian batch for 2026 over schools A and B: `a1` and `a2` teach at A, `b1` at B. The
/// county-level assessor teaches at school C, so it is nobody's participant (Sixian lets county
/// assessors grade: 或委托县级培训团队, 《泗县实施意见》附件2 §四(二)4).
pub struct Year {
    pub suite: Suite,
    /// `batches/341324-2026`.
    pub batch: String,
    pub a1: String,
    pub a2: String,
    pub b1: String,
    /// The county-level assessor's id.
    pub assessor: String,
}

impl Year {
    /// The year with its batch OPEN, nothing selected.
    pub async fn open(backend: Backend) -> Option<Year> {
        let year = Year::draft(backend).await?;
        year.county()
            .open_batch(pb::OpenBatchRequest {
                name: year.batch.clone(),
                open_date: None,
            })
            .await
            .expect("batch opened");
        Some(year)
    }

    /// The year with its batch created over schools A and B, still DRAFT.
    pub async fn draft(backend: Backend) -> Option<Year> {
        let suite = Suite::start(backend).await?;
        suite.register_county(&SIXIAN).await;
        for (code, name) in [
            (SCHOOL_A, "泗县第一小学"),
            (SCHOOL_B, "泗县第二小学"),
            (SCHOOL_C, "泗县第三小学"),
        ] {
            suite.register_school(COUNTY, code, name).await;
        }
        let a1 = suite.register_teacher(COUNTY, SCHOOL_A, 1).await;
        let a2 = suite.register_teacher(COUNTY, SCHOOL_A, 2).await;
        let b1 = suite.register_teacher(COUNTY, SCHOOL_B, 3).await;
        let grader = suite.register_teacher(COUNTY, SCHOOL_C, 4).await;
        let assessor = suite
            .register_assessor(
                COUNTY,
                &grader,
                roster::AssessorLevel::County,
                &format!("jurisdictions/{COUNTY}"),
            )
            .await;
        let batch = suite
            .assessment("county-office", Role::CountyOffice, COUNTY, None)
            .create_batch(pb::CreateBatchRequest {
                batch: Some(pb::Batch {
                    county: format!("jurisdictions/{COUNTY}"),
                    year: 2026,
                    display_name: "泗县 2026 年能力提升工程2.0".into(),
                    schools: vec![format!("schools/{SCHOOL_A}"), format!("schools/{SCHOOL_B}")],
                    ..Default::default()
                }),
            })
            .await
            .expect("batch created")
            .into_inner()
            .name;
        Some(Year {
            suite,
            batch,
            a1,
            a2,
            b1,
            assessor,
        })
    }

    /// `batches/…/participants/{teacher}`.
    pub fn participant(&self, teacher: &str) -> String {
        format!("{}/participants/{teacher}", self.batch)
    }

    /// `batches/…/participants/{teacher}/submissions/{code}`.
    pub fn submission(&self, teacher: &str, code: &str) -> String {
        format!("{}/submissions/{code}", self.participant(teacher))
    }

    /// `batches/…/schoolResults/{school}`.
    pub fn school_result(&self, school: &str) -> String {
        format!("{}/schoolResults/{school}", self.batch)
    }

    /// The county office.
    pub fn county(&self) -> AssessmentClient {
        self.suite
            .assessment("county-office", Role::CountyOffice, COUNTY, None)
    }

    /// A school's office (its ICT team).
    pub fn school_office(&self, school: &str) -> AssessmentClient {
        self.suite.assessment(
            &format!("office-{school}"),
            Role::SchoolAdmin,
            COUNTY,
            Some(school),
        )
    }

    /// A teacher acting for themself.
    pub fn teacher(&self, number: &str, school: &str) -> AssessmentClient {
        self.suite
            .assessment(number, Role::Teacher, COUNTY, Some(school))
    }

    /// The county-level assessor.
    pub fn grader(&self) -> AssessmentClient {
        self.suite
            .assessment(&self.assessor, Role::Assessor, COUNTY, None)
    }

    /// Anhui's online training provider.
    pub fn provider(&self) -> AssessmentClient {
        self.suite
            .assessment("anhui-online", Role::TrainingProvider, "340000", None)
    }

    /// Every teacher with their school.
    pub fn everyone(&self) -> [(&str, &'static str); 3] {
        [
            (self.a1.as_str(), SCHOOL_A),
            (self.a2.as_str(), SCHOOL_A),
            (self.b1.as_str(), SCHOOL_B),
        ]
    }

    /// Selects [`PICKS`] for `teacher` as the county office.
    pub async fn select(&self, teacher: &str) {
        support::select(&mut self.county(), &self.participant(teacher), &PICKS).await;
    }

    /// Pushes 30 online and 30 practice hours for `teacher` (《泗县实施意见》一: 网络研修与实践
    /// 应用各 30 学时).
    pub async fn push_hours(&self, teacher: &str) {
        let results = self
            .provider()
            .batch_push_hours_records(pb::BatchPushHoursRecordsRequest {
                parent: "providers/anhui-online".into(),
                records: vec![
                    hours(teacher, pb::HoursKind::OnlineStudy, "online"),
                    hours(teacher, pb::HoursKind::Practice, "practice"),
                ],
            })
            .await
            .expect("hours pushed")
            .into_inner()
            .results;
        assert!(
            results
                .iter()
                .all(|r| r.outcome == pb::PushOutcome::Created as i32),
            "{results:?}"
        );
    }

    /// Hands in every pick of `teacher` as the county office.
    pub async fn hand_in_all(&self, teacher: &str) {
        let mut county = self.county();
        for code in PICKS {
            support::hand_in(&mut county, &self.participant(teacher), code).await;
        }
    }

    /// Grades `teacher`'s submission of `code` as the county assessor.
    pub async fn grade(&self, teacher: &str, code: &str, g: common::Grade) -> pb::Submission {
        support::grade(
            &mut self.grader(),
            &self.assessor,
            &self.participant(teacher),
            code,
            g,
        )
        .await
        .expect("graded")
    }

    /// Every teacher selects, completes the hours, hands in and passes every pick.
    pub async fn everyone_passes(&self) {
        for (t, _) in self.everyone() {
            self.select(t).await;
            self.push_hours(t).await;
            self.hand_in_all(t).await;
            for code in PICKS {
                self.grade(t, code, common::Grade::Pass).await;
            }
        }
    }

    /// Both schools' results sent to county review by their offices.
    pub async fn submit_results(&self) {
        for school in [SCHOOL_A, SCHOOL_B] {
            self.school_office(school)
                .submit_school_results(pb::SubmitSchoolResultsRequest {
                    name: self.school_result(school),
                    reason: "校本考核完成".into(),
                })
                .await
                .expect("results submitted");
        }
    }

    /// Both schools' results approved by the county: the batch becomes READY_FOR_AUDIT.
    pub async fn approve_results(&self) {
        for school in [SCHOOL_A, SCHOOL_B] {
            self.county()
                .approve_school_results(pb::ApproveSchoolResultsRequest {
                    name: self.school_result(school),
                    review_round: String::new(),
                    reason: "县级抽查通过".into(),
                })
                .await
                .expect("results approved");
        }
    }

    /// Everyone passes, both schools are approved, and the county certifies (Sixian has no
    /// province audit: the county accepts, 验收, 《安徽指导意见》§四(二)5).
    pub async fn certified(&self) {
        self.everyone_passes().await;
        self.submit_results().await;
        self.approve_results().await;
        self.county()
            .certify_batch(pb::CertifyBatchRequest {
                name: self.batch.clone(),
                review_round: String::new(),
                reason: "县级验收".into(),
            })
            .await
            .expect("batch certified");
    }

    /// The batch as the county office reads it.
    pub async fn batch(&self) -> pb::Batch {
        self.county()
            .get_batch(pb::GetBatchRequest {
                name: self.batch.clone(),
            })
            .await
            .expect("batch")
            .into_inner()
    }

    /// A participant as the county office reads it.
    pub async fn participant_record(&self, teacher: &str) -> pb::Participant {
        self.county()
            .get_participant(pb::GetParticipantRequest {
                name: self.participant(teacher),
            })
            .await
            .expect("participant")
            .into_inner()
    }

    /// A submission as the county office reads it.
    pub async fn submission_record(&self, teacher: &str, code: &str) -> pb::Submission {
        self.county()
            .get_submission(pb::GetSubmissionRequest {
                name: self.submission(teacher, code),
            })
            .await
            .expect("submission")
            .into_inner()
    }

    /// A school's results as the county office reads them.
    pub async fn school_result_record(&self, school: &str) -> pb::SchoolResult {
        self.county()
            .get_school_result(pb::GetSchoolResultRequest {
                name: self.school_result(school),
            })
            .await
            .expect("school result")
            .into_inner()
    }
}

/// 30 hours of `kind` for `teacher`, as `anhui-online` reports them (record `{teacher}-{what}`).
pub fn hours(teacher: &str, kind: pb::HoursKind, what: &str) -> pb::HoursRecord {
    pb::HoursRecord {
        name: format!("providers/anhui-online/hoursRecords/{teacher}-{what}"),
        teacher: format!("teachers/{teacher}"),
        kind: kind as i32,
        course_id: what.into(),
        course_title: "信息技术应用能力提升".into(),
        centihours: 3000,
        revision: 1,
        complete_time: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
        ..Default::default()
    }
}

/// A Yongning (Ningxia) batch for 2026 over one school without teachers, READY_FOR_AUDIT: the
/// Ningxia preset has a region and city audit (区市抽检, 《宁夏测评实施办法》§五(一)4), so the
/// batch waits for the province. Returns the suite and the batch's name.
pub async fn ningxia_ready_for_audit(backend: Backend) -> Option<(Suite, String)> {
    let suite = Suite::start(backend).await?;
    suite.register_county(&YONGNING).await;
    let school = format!("{NINGXIA_COUNTY}0001");
    suite
        .register_school(NINGXIA_COUNTY, &school, "永宁县第一小学")
        .await;
    let batch = suite.open_batch(NINGXIA_COUNTY).await;
    let mut county = suite.assessment("county-office", Role::CountyOffice, NINGXIA_COUNTY, None);
    let result = format!("{batch}/schoolResults/{school}");
    county
        .submit_school_results(pb::SubmitSchoolResultsRequest {
            name: result.clone(),
            reason: String::new(),
        })
        .await
        .expect("results submitted");
    county
        .approve_school_results(pb::ApproveSchoolResultsRequest {
            name: result,
            review_round: String::new(),
            reason: "未抽中".into(),
        })
        .await
        .expect("results approved");
    Some((suite, batch))
}

/// Asserts that `status` is `code`.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            status
        }
    }
}

/// Asserts that `result` is INVALID_ARGUMENT with a field violation on `field`.
#[track_caller]
pub fn refused_on_field<T: std::fmt::Debug>(result: Result<T, Status>, field: &str) -> Status {
    let status = refused(result, Code::InvalidArgument);
    let violations = tica_server::errors::field_violations(&status);
    assert!(
        violations.iter().any(|(f, _)| f == field),
        "expected a violation on {field}, got {violations:?} ({status:?})"
    );
    status
}

/// Asserts that `result` is the refusal of a stale etag (AIP-154): ABORTED, reason
/// ETAG_MISMATCH.
#[track_caller]
pub fn stale<T: std::fmt::Debug>(result: Result<T, Status>) -> Status {
    let status = refused(result, Code::Aborted);
    assert_eq!(reason_of(&status), "ETAG_MISMATCH");
    status
}

/// Asserts that `etag` has the shape AIP-154 asks for: a quoted (weak) validator.
#[track_caller]
pub fn well_formed(etag: &str) {
    assert!(
        etag.starts_with("W/\"") && etag.ends_with('"') && etag.len() > 5,
        "{etag:?}"
    );
}
