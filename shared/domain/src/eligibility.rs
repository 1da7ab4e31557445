//! Who may grade a submission and who may review a drawn teacher, over the plain facts the
//! services gather (the roster's registration, the batch, the submission, the drawn item).
//!
//! 《宁夏测评实施办法》§五(一)2–4: schools grade their own teachers' work
//! (以学科为单位), the county's assessors review a drawn share of it (县（区）复核), and the region's
//! and cities' assessors audit a drawn share of each county (自治区级与市级抽测); §七(二): only a
//! registered assessor grades (完成登记注册后方可开展相关工作).

use crate::assessor::{AssessorLevel, AssessorState};
use crate::division::DivisionCode;
use crate::policy::GradingRule;

/// The assessor who would grade, as the roster registers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraderFacts<'a> {
    /// The assessor's id (`assessors/{id}` names them in a refusal).
    pub id: &'a str,
    /// The assessor's own teacher number.
    pub teacher_number: &'a str,
    /// The level they are registered at.
    pub level: AssessorLevel,
    /// Where they are registered: `schools/{code}` or `jurisdictions/{code}`.
    pub registered_at: &'a str,
    /// Their state.
    pub state: AssessorState,
    /// The subjects on their registration; empty means any.
    pub subjects: &'a [String],
}

/// The submission to be graded: whose it is, where and in which subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradedWork<'a> {
    /// The teacher number of the submission's teacher.
    pub teacher_number: &'a str,
    /// The code of the school the submission was made at.
    pub school_code: &'a str,
    /// The county of the batch.
    pub county: DivisionCode,
    /// The subject the teacher teaches.
    pub subject: &'a str,
}

/// Why an assessor may not grade a submission; the text is the service's PERMISSION_DENIED
/// message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GradingRefusal {
    /// Not (or no longer) registered.
    #[error("assessors/{assessor} is not registered (it is {state})")]
    NotRegistered {
        /// The assessor's id.
        assessor: String,
        /// Their state.
        state: AssessorState,
    },
    /// Registered elsewhere or at another level.
    #[error("assessors/{assessor} is not a school-level assessor of schools/{school}")]
    NotOfTheSchool {
        /// The assessor's id.
        assessor: String,
        /// The submission's school code.
        school: String,
    },
    /// The assessor is the submission's own teacher.
    #[error("an assessor never grades their own submission")]
    OwnSubmission,
    /// The policy matches subjects and the teacher's is not on the registration.
    #[error("assessors/{assessor} does not assess {subject}")]
    OtherSubject {
        /// The assessor's id.
        assessor: String,
        /// The teacher's subject.
        subject: String,
    },
}

/// Whether `grader` may grade `work` under `rule`, the first refusal otherwise, checked in this
/// order:
///
/// 1. registered (《宁夏测评实施办法》§七(二), [`AssessorState::may_grade`]);
/// 2. a school-level assessor of the submission's school, or — when the policy lets county
///    assessors grade for a school (或委托县级培训团队, 《安徽指导意见》
///    §四(二)4) — a county-level assessor of the batch's county;
/// 3. never the submission's own teacher;
/// 4. when the policy asks for it (以学科为单位, 《宁夏测评实施办法》§五(一)2), the teacher's
///    subject is on the registration, or the registration lists none.
pub fn may_grade(
    grader: &GraderFacts<'_>,
    work: &GradedWork<'_>,
    rule: &GradingRule,
) -> Result<(), GradingRefusal> {
    if !grader.state.may_grade() {
        return Err(GradingRefusal::NotRegistered {
            assessor: grader.id.to_owned(),
            state: grader.state,
        });
    }
    let at = |prefix: &str, code: &str| {
        grader
            .registered_at
            .strip_prefix(prefix)
            .is_some_and(|unit| unit == code)
    };
    let of_the_school = grader.level == AssessorLevel::School && at("schools/", work.school_code);
    let of_the_county = rule.county_assessors_may_grade
        && grader.level == AssessorLevel::County
        && at("jurisdictions/", work.county.as_str());
    if !(of_the_school || of_the_county) {
        return Err(GradingRefusal::NotOfTheSchool {
            assessor: grader.id.to_owned(),
            school: work.school_code.to_owned(),
        });
    }
    if grader.teacher_number == work.teacher_number {
        return Err(GradingRefusal::OwnSubmission);
    }
    if rule.subject_match_required
        && !grader.subjects.is_empty()
        && !grader.subjects.iter().any(|s| s == work.subject)
    {
        return Err(GradingRefusal::OtherSubject {
            assessor: grader.id.to_owned(),
            subject: work.subject.to_owned(),
        });
    }
    Ok(())
}

/// Where a reviewer may review: a province assessor anywhere in the province's rounds, a city
/// or county assessor only within the city of their registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewReach {
    /// Any county (a province-level assessor).
    Anywhere,
    /// Counties of the same city as this code: the same province and city parts, the code's
    /// first four digits (a district of a municipality reaches the municipality's districts).
    WithinCityOf(DivisionCode),
    /// No county: the registration names no usable jurisdiction.
    Nowhere,
}

impl ReviewReach {
    /// Whether `county` lies within reach; an unknown county only for [`ReviewReach::Anywhere`].
    pub fn reaches(self, county: Option<DivisionCode>) -> bool {
        match self {
            ReviewReach::Anywhere => true,
            ReviewReach::WithinCityOf(home) => county.is_some_and(|county| {
                county.province_part() == home.province_part()
                    && county.city_part() == home.city_part()
            }),
            ReviewReach::Nowhere => false,
        }
    }
}

/// A registered assessor of the reviewing level who would review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewerFacts<'a> {
    /// Their own teacher number.
    pub teacher_number: &'a str,
    /// The code of the school they work at ("" when the roster knows none).
    pub school_code: &'a str,
    /// The subjects on their registration; empty means any.
    pub subjects: &'a [String],
    /// Where they may review.
    pub reach: ReviewReach,
}

/// A drawn teacher to be reviewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewedItem<'a> {
    /// The drawn teacher's number.
    pub teacher_number: &'a str,
    /// The code of their school, the school under review.
    pub school_code: &'a str,
    /// The county of their batch, when the batch's id names one.
    pub county: Option<DivisionCode>,
    /// The drawn teacher's subject, when the policy matches reviewers by subject
    /// (`subject_match_required`); `None` otherwise.
    pub subject: Option<&'a str>,
}

/// Why a reviewer may not review an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReviewRefusal {
    /// The reviewer works at the school under review.
    #[error("a reviewer never reviews the school they work at")]
    OwnSchool,
    /// The reviewer is the drawn teacher.
    #[error("a reviewer never reviews themselves")]
    Themselves,
    /// The item's county lies outside the reviewer's reach.
    #[error("the county lies outside the reviewer's city")]
    OutOfReach,
    /// The drawn teacher's subject is not on the registration.
    #[error("the drawn teacher's subject is not on the reviewer's registration")]
    OtherSubject,
}

/// Whether `reviewer` may review `item`, the first refusal otherwise: never from the school
/// under review, never the item's own teacher, a city (or county) assessor only within their
/// city (《宁夏测评实施办法》§五(一)3–4: the county's assessors review the
/// county, the region's and the cities' audit it), and, when the policy asks for it, only in a
/// subject on their registration (or any, when it lists none).
pub fn may_review(
    reviewer: &ReviewerFacts<'_>,
    item: &ReviewedItem<'_>,
) -> Result<(), ReviewRefusal> {
    if reviewer.school_code == item.school_code {
        return Err(ReviewRefusal::OwnSchool);
    }
    if reviewer.teacher_number == item.teacher_number {
        return Err(ReviewRefusal::Themselves);
    }
    if !reviewer.reach.reaches(item.county) {
        return Err(ReviewRefusal::OutOfReach);
    }
    if let Some(subject) = item.subject
        && !reviewer.subjects.is_empty()
        && !reviewer.subjects.iter().any(|s| s == subject)
    {
        return Err(ReviewRefusal::OtherSubject);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> DivisionCode {
        DivisionCode::parse(s).unwrap()
    }

    fn none() -> Vec<String> {
        Vec::new()
    }

    fn subjects(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    // -----------------------------------------------------------------------------------------
    // Who may grade

    const SCHOOL: &str = "34132400001";

    fn grader<'a>(subjects: &'a [String]) -> GraderFacts<'a> {
        GraderFacts {
            id: "a1",
            teacher_number: "T2",
            level: AssessorLevel::School,
            registered_at: "schools/34132400001",
            state: AssessorState::Registered,
            subjects,
        }
    }

    fn work() -> GradedWork<'static> {
        GradedWork {
            teacher_number: "T1",
            school_code: SCHOOL,
            county: code("341324"),
            subject: "数学",
        }
    }

    fn rule(county_assessors_may_grade: bool, subject_match_required: bool) -> GradingRule {
        GradingRule {
            county_assessors_may_grade,
            subject_match_required,
            ..GradingRule::default()
        }
    }

    #[test]
    fn a_registered_school_assessor_of_the_school_may_grade_a_colleague() {
        let no = none();
        assert_eq!(may_grade(&grader(&no), &work(), &rule(false, true)), Ok(()));
    }

    #[test]
    fn only_a_registered_assessor_may_grade_and_the_refusal_names_the_state() {
        // 《宁夏测评实施办法》§七(二): 完成登记注册后方可开展相关工作.
        let no = none();
        for state in AssessorState::ALL {
            let facts = GraderFacts {
                state,
                ..grader(&no)
            };
            let verdict = may_grade(&facts, &work(), &rule(false, false));
            assert_eq!(verdict.is_ok(), state.may_grade(), "{state}");
            if let Err(refusal) = verdict {
                assert_eq!(
                    refusal.to_string(),
                    format!("assessors/a1 is not registered (it is {})", state.key())
                );
            }
        }
    }

    #[test]
    fn an_assessor_of_another_school_or_level_is_refused_with_the_schools_name() {
        let no = none();
        let refused = |level, registered_at| {
            let facts = GraderFacts {
                level,
                registered_at,
                ..grader(&no)
            };
            may_grade(&facts, &work(), &rule(false, false))
                .unwrap_err()
                .to_string()
        };
        let message = "assessors/a1 is not a school-level assessor of schools/34132400001";
        for (level, at) in [
            (AssessorLevel::School, "schools/34132400002"),
            (AssessorLevel::School, "34132400001"),
            (AssessorLevel::County, "schools/34132400001"),
            (AssessorLevel::County, "jurisdictions/341324"),
            (AssessorLevel::City, "jurisdictions/341300"),
            (AssessorLevel::Province, "jurisdictions/340000"),
        ] {
            assert_eq!(refused(level, at), message, "{level:?} {at}");
        }
    }

    #[test]
    fn a_county_assessor_of_the_batchs_county_grades_only_where_the_policy_lets_them() {
        // 或委托县级培训团队 (《安徽指导意见》§四(二)4).
        let no = none();
        let county = GraderFacts {
            level: AssessorLevel::County,
            registered_at: "jurisdictions/341324",
            ..grader(&no)
        };
        assert_eq!(may_grade(&county, &work(), &rule(true, false)), Ok(()));
        assert!(matches!(
            may_grade(&county, &work(), &rule(false, false)),
            Err(GradingRefusal::NotOfTheSchool { .. })
        ));
        let elsewhere = GraderFacts {
            registered_at: "jurisdictions/341321",
            ..county
        };
        assert!(matches!(
            may_grade(&elsewhere, &work(), &rule(true, false)),
            Err(GradingRefusal::NotOfTheSchool { .. })
        ));
    }

    #[test]
    fn an_assessor_never_grades_their_own_submission() {
        let no = none();
        let own = GraderFacts {
            teacher_number: "T1",
            ..grader(&no)
        };
        let refusal = may_grade(&own, &work(), &rule(true, true)).unwrap_err();
        assert_eq!(refusal, GradingRefusal::OwnSubmission);
        assert_eq!(
            refusal.to_string(),
            "an assessor never grades their own submission"
        );
    }

    #[test]
    fn subjects_are_matched_only_when_the_policy_asks_and_the_registration_lists_some() {
        // 以学科为单位 (《宁夏测评实施办法》§五(一)2).
        let chinese = subjects(&["语文"]);
        let refusal = may_grade(&grader(&chinese), &work(), &rule(false, true)).unwrap_err();
        assert_eq!(refusal.to_string(), "assessors/a1 does not assess 数学");
        assert_eq!(
            may_grade(&grader(&chinese), &work(), &rule(false, false)),
            Ok(())
        );
        let both = subjects(&["语文", "数学"]);
        assert_eq!(
            may_grade(&grader(&both), &work(), &rule(false, true)),
            Ok(())
        );
        let no = none();
        assert_eq!(may_grade(&grader(&no), &work(), &rule(false, true)), Ok(()));
    }

    #[test]
    fn the_first_refusal_is_the_one_given() {
        let chinese = subjects(&["语文"]);
        let everything_wrong = GraderFacts {
            teacher_number: "T1",
            registered_at: "schools/other",
            state: AssessorState::Suspended,
            ..grader(&chinese)
        };
        let refusal = may_grade(&everything_wrong, &work(), &rule(false, true)).unwrap_err();
        assert!(matches!(refusal, GradingRefusal::NotRegistered { .. }));
        let registered = GraderFacts {
            state: AssessorState::Registered,
            ..everything_wrong
        };
        let refusal = may_grade(&registered, &work(), &rule(false, true)).unwrap_err();
        assert!(matches!(refusal, GradingRefusal::NotOfTheSchool { .. }));
        let at_the_school = GraderFacts {
            registered_at: "schools/34132400001",
            ..registered
        };
        let refusal = may_grade(&at_the_school, &work(), &rule(false, true)).unwrap_err();
        assert_eq!(refusal, GradingRefusal::OwnSubmission);
    }

    // -----------------------------------------------------------------------------------------
    // Who may review

    fn reviewer<'a>(subjects: &'a [String], reach: ReviewReach) -> ReviewerFacts<'a> {
        ReviewerFacts {
            teacher_number: "R1",
            school_code: "34132100001",
            subjects,
            reach,
        }
    }

    fn item(county: &str, subject: Option<&'static str>) -> ReviewedItem<'static> {
        ReviewedItem {
            teacher_number: "T1",
            school_code: SCHOOL,
            county: DivisionCode::parse(county).ok(),
            subject,
        }
    }

    #[test]
    fn a_province_assessor_reaches_every_county() {
        let no = none();
        let province = reviewer(&no, ReviewReach::Anywhere);
        for county in ["341324", "640121", "110105", "not-a-code"] {
            assert_eq!(
                may_review(&province, &item(county, None)),
                Ok(()),
                "{county}"
            );
        }
    }

    #[test]
    fn a_city_or_county_assessor_reaches_the_counties_of_their_city_only() {
        // 自治区级与市级抽测 (《宁夏测评实施办法》§五(一)4): a city's
        // assessors audit its own counties; the first four digits are province and city.
        let no = none();
        let table = [
            ("341300", "341324", true),
            ("341300", "341321", true),
            ("341321", "341324", true),
            ("341300", "341200", false),
            ("341300", "340100", false),
            ("341300", "341424", false),
            ("640100", "641324", false),
            ("110105", "110101", true),
            ("110105", "120101", false),
        ];
        for (home, county, reached) in table {
            let r = reviewer(&no, ReviewReach::WithinCityOf(code(home)));
            let verdict = may_review(&r, &item(county, None));
            assert_eq!(verdict.is_ok(), reached, "{home} → {county}");
            if !reached {
                assert_eq!(verdict, Err(ReviewRefusal::OutOfReach));
            }
        }
    }

    #[test]
    fn a_reviewer_without_a_usable_registration_or_an_item_without_a_county_is_out_of_reach() {
        let no = none();
        assert_eq!(
            may_review(&reviewer(&no, ReviewReach::Nowhere), &item("341324", None)),
            Err(ReviewRefusal::OutOfReach)
        );
        assert_eq!(
            may_review(
                &reviewer(&no, ReviewReach::WithinCityOf(code("341300"))),
                &item("3413xx", None)
            ),
            Err(ReviewRefusal::OutOfReach)
        );
    }

    #[test]
    fn a_reviewer_never_reviews_their_own_school_or_themselves() {
        let no = none();
        let at_the_school = ReviewerFacts {
            school_code: SCHOOL,
            ..reviewer(&no, ReviewReach::Anywhere)
        };
        assert_eq!(
            may_review(&at_the_school, &item("341324", None)),
            Err(ReviewRefusal::OwnSchool)
        );
        let themselves = ReviewerFacts {
            teacher_number: "T1",
            ..reviewer(&no, ReviewReach::Anywhere)
        };
        assert_eq!(
            may_review(&themselves, &item("341324", None)),
            Err(ReviewRefusal::Themselves)
        );
    }

    #[test]
    fn a_subject_is_matched_only_when_the_item_carries_one_and_the_registration_lists_some() {
        let chinese = subjects(&["语文"]);
        let r = reviewer(&chinese, ReviewReach::Anywhere);
        assert_eq!(
            may_review(&r, &item("341324", Some("数学"))),
            Err(ReviewRefusal::OtherSubject)
        );
        assert_eq!(may_review(&r, &item("341324", Some("语文"))), Ok(()));
        assert_eq!(may_review(&r, &item("341324", None)), Ok(()));
        let no = none();
        let any = reviewer(&no, ReviewReach::Anywhere);
        assert_eq!(may_review(&any, &item("341324", Some("数学"))), Ok(()));
    }
}
