//! The anti-corruption layer: what the assessment service and the roster answer, decoded once
//! into the facts a review works with. Nothing past this module reads their protos: a state is
//! an enum, a name is an id, a policy's sampling rule is `tica_domain`'s.

use tica_domain::AssessorLevel;
use tica_domain::division::DivisionCode;
use tica_domain::names::{AssessorName, BatchName, JurisdictionName, SchoolName, TeacherName};
use tica_domain::policy::{
    AgreementCriterion, GradingRule, Ratio, ReviewStageRule, Rubric, RubricCriterion, SamplingRule,
    ThresholdComparison,
};
use tica_proto::tica::assessment::v1 as apb;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as rpb;

use crate::model::Grade;

/// A batch's state in the assessment service (BatchState).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchState {
    /// Being set up.
    Draft,
    /// Schools at work.
    Open,
    /// Every school approved by the county; awaiting the province's audit.
    ReadyForAudit,
    /// Frozen for the province's audit.
    InProvinceAudit,
    /// Sent back by the audit.
    ReturnedToCounty,
    /// Certified.
    Certified,
    /// A state this service does not know.
    Unspecified,
}

impl BatchState {
    /// The contract's name, as messages show it.
    pub fn name(self) -> &'static str {
        apb::BatchState::from(self).as_str_name()
    }

    fn from_proto(value: i32) -> BatchState {
        use apb::BatchState as S;
        match S::try_from(value) {
            Ok(S::Draft) => BatchState::Draft,
            Ok(S::Open) => BatchState::Open,
            Ok(S::ReadyForAudit) => BatchState::ReadyForAudit,
            Ok(S::InProvinceAudit) => BatchState::InProvinceAudit,
            Ok(S::ReturnedToCounty) => BatchState::ReturnedToCounty,
            Ok(S::Certified) => BatchState::Certified,
            Ok(S::Unspecified) | Err(_) => BatchState::Unspecified,
        }
    }
}

impl From<BatchState> for apb::BatchState {
    fn from(state: BatchState) -> apb::BatchState {
        use apb::BatchState as S;
        match state {
            BatchState::Draft => S::Draft,
            BatchState::Open => S::Open,
            BatchState::ReadyForAudit => S::ReadyForAudit,
            BatchState::InProvinceAudit => S::InProvinceAudit,
            BatchState::ReturnedToCounty => S::ReturnedToCounty,
            BatchState::Certified => S::Certified,
            BatchState::Unspecified => S::Unspecified,
        }
    }
}

/// A school's results in a batch (SchoolResultState).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchoolState {
    /// Graded by the school, not yet submitted.
    Open,
    /// Submitted; the county reviews them.
    InCountyReview,
    /// Approved by the county.
    CountyApproved,
    /// Sent back to the school.
    Returned,
    /// Certified with the batch.
    Certified,
    /// A state this service does not know.
    Unspecified,
}

impl SchoolState {
    pub(super) fn from_proto(value: i32) -> SchoolState {
        use apb::SchoolResultState as S;
        match S::try_from(value) {
            Ok(S::Open) => SchoolState::Open,
            Ok(S::InCountyReview) => SchoolState::InCountyReview,
            Ok(S::CountyApproved) => SchoolState::CountyApproved,
            Ok(S::Returned) => SchoolState::Returned,
            Ok(S::Certified) => SchoolState::Certified,
            Ok(S::Unspecified) | Err(_) => SchoolState::Unspecified,
        }
    }

    pub(super) fn to_proto(self) -> apb::SchoolResultState {
        use apb::SchoolResultState as S;
        match self {
            SchoolState::Open => S::Open,
            SchoolState::InCountyReview => S::InCountyReview,
            SchoolState::CountyApproved => S::CountyApproved,
            SchoolState::Returned => S::Returned,
            SchoolState::Certified => S::Certified,
            SchoolState::Unspecified => S::Unspecified,
        }
    }
}

/// An offline check's outcome as the assessment service records it (OfflineCheck).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfflineOutcome {
    /// Drawn, not visited yet.
    Pending,
    /// The visit confirmed the online grade.
    Passed,
    /// It did not.
    Failed,
}

impl From<OfflineOutcome> for apb::OfflineCheck {
    fn from(outcome: OfflineOutcome) -> apb::OfflineCheck {
        match outcome {
            OfflineOutcome::Pending => apb::OfflineCheck::Pending,
            OfflineOutcome::Passed => apb::OfflineCheck::Passed,
            OfflineOutcome::Failed => apb::OfflineCheck::Failed,
        }
    }
}

/// A batch as a review needs it.
#[derive(Clone, Debug)]
pub struct ReviewBatch {
    /// `{county}-{year}`.
    pub id: String,
    /// The county's code as named (checked where it is used).
    pub county: String,
    /// The school year it assesses.
    pub year: i32,
    /// State.
    pub state: BatchState,
    /// `policies/{code}/versions/{n}`, nearest first.
    pub policy_versions: Vec<String>,
    /// The pinned sampling rule; `None` when the batch pins none.
    pub sampling: Option<SamplingRule>,
    /// The pinned grading rule asks reviewers of the drawn teacher's subject.
    pub subject_match: bool,
    /// What of the pinned grading rule a re-grade follows: the rubric, and whether the grade
    /// comes from its total (the other fields are defaults).
    pub rubric_rule: GradingRule,
    /// When the batch last went back to its county (µs since the epoch).
    pub last_returned_micros: Option<i64>,
}

impl ReviewBatch {
    pub(super) fn from_proto(batch: apb::Batch) -> ReviewBatch {
        let rules = batch.effective_rules.as_ref();
        let last_returned_micros = batch
            .transitions
            .iter()
            .filter(|t| t.to_state == apb::BatchState::ReturnedToCounty as i32)
            .filter_map(|t| t.time.as_ref())
            .map(|t| t.seconds * 1_000_000 + i64::from(t.nanos / 1000))
            .max();
        ReviewBatch {
            id: BatchName::id_of(&batch.name)
                .unwrap_or(&batch.name)
                .to_owned(),
            county: JurisdictionName::id_of(&batch.county)
                .unwrap_or(&batch.county)
                .to_owned(),
            year: batch.year,
            state: BatchState::from_proto(batch.state),
            sampling: rules.and_then(|r| r.sampling.as_ref()).map(sampling_rule),
            subject_match: rules
                .and_then(|r| r.grading.as_ref())
                .is_some_and(|g| g.subject_match_required),
            rubric_rule: rules
                .and_then(|r| r.grading.as_ref())
                .map(rubric_rule)
                .unwrap_or_default(),
            last_returned_micros,
            policy_versions: batch.policy_versions,
        }
    }
}

fn ratio(r: Option<&common::Ratio>) -> Ratio {
    r.map(|r| {
        Ratio::new(
            u32::try_from(r.numerator).unwrap_or(0),
            u32::try_from(r.denominator).unwrap_or(0),
        )
    })
    .unwrap_or_default()
}

fn stage(rule: Option<&apb::ReviewStageRule>) -> ReviewStageRule {
    rule.map(|s| ReviewStageRule {
        enabled: s.enabled,
        school_rate: ratio(s.school_rate.as_ref()),
        teacher_rate: ratio(s.teacher_rate.as_ref()),
        minimum_per_stratum: s.minimum_per_stratum,
        source: s.source.clone(),
    })
    .unwrap_or_default()
}

/// A pinned sampling rule; an unknown criterion or comparison reads as the presets' default.
fn sampling_rule(rule: &apb::SamplingRule) -> SamplingRule {
    SamplingRule {
        county_review: stage(rule.county_review.as_ref()),
        province_audit: stage(rule.province_audit.as_ref()),
        offline_check: stage(rule.offline_check.as_ref()),
        agreement_threshold: ratio(rule.agreement_threshold.as_ref()),
        agreement_criterion: match common::AgreementCriterion::try_from(rule.agreement_criterion) {
            Ok(common::AgreementCriterion::WilsonLowerBound) => {
                AgreementCriterion::WilsonLowerBound
            }
            _ => AgreementCriterion::PointEstimate,
        },
        agreement_comparison: match common::ThresholdComparison::try_from(rule.agreement_comparison)
        {
            Ok(common::ThresholdComparison::MoreThan) => ThresholdComparison::MoreThan,
            _ => ThresholdComparison::AtLeast,
        },
    }
}

/// The rubric part of a pinned grading rule.
fn rubric_rule(g: &apb::GradingRule) -> GradingRule {
    GradingRule {
        rubric: g.rubric.as_ref().map(|r| Rubric {
            id: r.id.clone(),
            display_name: r.display_name.clone(),
            criteria: r
                .criteria
                .iter()
                .map(|c| RubricCriterion {
                    id: c.id.clone(),
                    section: c.section.clone(),
                    display_name: c.display_name.clone(),
                    max_points: c.max_points,
                })
                .collect(),
            total_points: r.total_points,
        }),
        grade_from_rubric: g.grade_from_rubric,
        pass_minimum_points: g.pass_minimum_points,
        excellent_minimum_points: g.excellent_minimum_points,
        ..GradingRule::default()
    }
}

/// A grade from its contract value (`tica.common.v1.Grade`); `None` when unspecified.
pub fn grade_from(value: i32) -> Option<Grade> {
    match common::Grade::try_from(value) {
        Ok(common::Grade::Fail) => Some(Grade::Fail),
        Ok(common::Grade::Pass) => Some(Grade::Pass),
        Ok(common::Grade::Excellent) => Some(Grade::Excellent),
        _ => None,
    }
}

/// A graded piece of work a re-grade may draw: a submission, or a teacher's online grade for
/// an offline check.
#[derive(Clone, Debug)]
pub struct GradedWork {
    /// School code.
    pub school: String,
    /// Teacher number.
    pub teacher: String,
    /// What is re-graded: the micro-competency code, `leadership` for a principal's leadership
    /// submission (which has none), `visit` for an offline check.
    pub code: String,
    /// `batches/{id}/submissions/{…}`; empty for an offline check.
    pub submission: String,
    /// The grade under review.
    pub grade: Grade,
}

impl GradedWork {
    /// A graded submission; `None` without a grade.
    pub(super) fn from_submission(s: apb::Submission) -> Option<GradedWork> {
        let grade = s.grading.as_ref().and_then(|g| grade_from(g.grade))?;
        Some(GradedWork {
            school: school_code(&s.school),
            teacher: teacher_number(&s.teacher),
            code: if s.micro_competency.is_empty() {
                "leadership".to_owned()
            } else {
                s.micro_competency
            },
            submission: s.name,
            grade,
        })
    }

    /// A participant's online grade, for a visit; `None` before it has one.
    pub(super) fn from_participant(p: apb::Participant) -> Option<GradedWork> {
        Some(GradedWork {
            grade: grade_from(p.online_grade)?,
            school: school_code(&p.school),
            teacher: teacher_number(&p.teacher),
            code: "visit".to_owned(),
            submission: String::new(),
        })
    }
}

/// A registered assessor as a review reads it.
#[derive(Clone, Debug)]
pub struct RegisteredAssessor {
    /// `assessors/{id}`, as callers name them in a pool.
    pub name: String,
    /// The id.
    pub id: String,
    /// The person's teacher number.
    pub teacher: String,
    /// Level; `None` for a level this service does not know.
    pub level: Option<AssessorLevel>,
    /// The jurisdiction registered at, when it is one.
    pub registered_at: Option<DivisionCode>,
    /// Subjects (empty: any).
    pub subjects: Vec<String>,
}

impl RegisteredAssessor {
    pub(super) fn from_proto(a: rpb::Assessor) -> RegisteredAssessor {
        let level = match rpb::AssessorLevel::try_from(a.level) {
            Ok(rpb::AssessorLevel::School) => Some(AssessorLevel::School),
            Ok(rpb::AssessorLevel::County) => Some(AssessorLevel::County),
            Ok(rpb::AssessorLevel::City) => Some(AssessorLevel::City),
            Ok(rpb::AssessorLevel::Province) => Some(AssessorLevel::Province),
            _ => None,
        };
        RegisteredAssessor {
            id: AssessorName::id_of(&a.name).unwrap_or(&a.name).to_owned(),
            teacher: teacher_number(&a.teacher),
            level,
            registered_at: JurisdictionName::code_of(&a.registered_at),
            subjects: a.subjects,
            name: a.name,
        }
    }
}

/// Where a teacher works and what they teach.
#[derive(Clone, Debug, Default)]
pub struct Placement {
    /// School code.
    pub school: String,
    /// Subject taught.
    pub subject: String,
}

/// The code in `schools/{code}` (the name itself when it is not one).
pub(super) fn school_code(name: &str) -> String {
    SchoolName::id_of(name).unwrap_or(name).to_owned()
}

fn teacher_number(name: &str) -> String {
    TeacherName::id_of(name).unwrap_or(name).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(state: apb::BatchState, rules: Option<apb::PolicyRules>) -> apb::Batch {
        apb::Batch {
            name: "batches/341324-2022".into(),
            county: "jurisdictions/341324".into(),
            year: 2022,
            state: state as i32,
            effective_rules: rules,
            ..Default::default()
        }
    }

    #[test]
    fn a_batch_reads_as_ids_an_enum_state_and_the_domains_sampling_rule() {
        let rules = apb::PolicyRules {
            sampling: Some(apb::SamplingRule {
                county_review: Some(apb::ReviewStageRule {
                    enabled: true,
                    school_rate: Some(common::Ratio {
                        numerator: 15,
                        denominator: 100,
                    }),
                    minimum_per_stratum: 1,
                    ..Default::default()
                }),
                agreement_criterion: common::AgreementCriterion::WilsonLowerBound as i32,
                ..Default::default()
            }),
            grading: Some(apb::GradingRule {
                subject_match_required: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        let b = ReviewBatch::from_proto(batch(apb::BatchState::ReadyForAudit, Some(rules)));
        assert_eq!(
            (b.id.as_str(), b.county.as_str(), b.year),
            ("341324-2022", "341324", 2022)
        );
        assert_eq!(b.state, BatchState::ReadyForAudit);
        assert_eq!(b.state.name(), "BATCH_STATE_READY_FOR_AUDIT");
        let rule = b.sampling.expect("pinned");
        assert!(rule.county_review.enabled);
        assert_eq!(rule.county_review.school_rate, Ratio::new(15, 100));
        // A stage the policy leaves out is a stage that does not take place.
        assert!(!rule.offline_check.enabled);
        assert_eq!(
            rule.agreement_criterion,
            AgreementCriterion::WilsonLowerBound
        );
        assert_eq!(rule.agreement_comparison, ThresholdComparison::AtLeast);
        assert!(b.subject_match);
    }

    #[test]
    fn a_batch_without_rules_or_with_an_unknown_state_says_so() {
        let mut proto = batch(apb::BatchState::Open, None);
        proto.state = 99;
        let b = ReviewBatch::from_proto(proto);
        assert!(b.sampling.is_none());
        assert!(!b.subject_match);
        assert_eq!(b.state, BatchState::Unspecified);
    }

    #[test]
    fn only_graded_work_is_drawn_and_leadership_has_its_own_code() {
        let graded = |code: &str, grade: common::Grade| apb::Submission {
            name: "batches/341324-2022/submissions/1".into(),
            teacher: "teachers/T1".into(),
            school: "schools/3413240001".into(),
            micro_competency: code.into(),
            grading: Some(apb::Grading {
                grade: grade as i32,
                ..Default::default()
            }),
            ..Default::default()
        };
        let w = GradedWork::from_submission(graded("A1", common::Grade::Pass)).unwrap();
        assert_eq!(
            (w.school.as_str(), w.teacher.as_str()),
            ("3413240001", "T1")
        );
        assert_eq!((w.code.as_str(), w.grade), ("A1", Grade::Pass));
        let lead = GradedWork::from_submission(graded("", common::Grade::Excellent)).unwrap();
        assert_eq!(lead.code, "leadership");
        assert!(GradedWork::from_submission(graded("A1", common::Grade::Unspecified)).is_none());
        let ungraded = apb::Participant {
            teacher: "teachers/T1".into(),
            ..Default::default()
        };
        assert!(GradedWork::from_participant(ungraded).is_none());
    }

    #[test]
    fn an_assessor_reads_with_a_domain_level_and_the_code_registered_at() {
        let a = RegisteredAssessor::from_proto(rpb::Assessor {
            name: "assessors/a1".into(),
            teacher: "teachers/T9".into(),
            level: rpb::AssessorLevel::City as i32,
            registered_at: "jurisdictions/341300".into(),
            ..Default::default()
        });
        assert_eq!((a.id.as_str(), a.teacher.as_str()), ("a1", "T9"));
        assert_eq!(a.level, Some(AssessorLevel::City));
        assert_eq!(
            a.registered_at.map(|c| c.to_string()),
            Some("341300".into())
        );
        let school = RegisteredAssessor::from_proto(rpb::Assessor {
            registered_at: "schools/3413240001".into(),
            level: 42,
            ..Default::default()
        });
        assert_eq!((school.level, school.registered_at), (None, None));
    }
}

/// An entry of the certificate service's transparency log, as a round records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedEntry {
    /// 0-based index.
    pub index: i64,
    /// SHA-256(0x00 ‖ entry), lowercase hex.
    pub leaf_hash: String,
    /// When the log recorded it (µs since the epoch).
    pub micros: i64,
}

impl LoggedEntry {
    /// From the certificate service's `LogEntry`.
    pub fn from_proto(entry: tica_proto::tica::certificate::v1::LogEntry) -> LoggedEntry {
        LoggedEntry {
            index: entry.index,
            leaf_hash: hex::encode(&entry.leaf_hash),
            micros: entry
                .time
                .map_or(0, |t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000),
        }
    }
}
