//! Grades: a teacher's from their hours and submissions, a school's or county's from its
//! members', the excellent quota, and a submission's from its rubric scores.

use super::rules::{
    Grade, GradePrecedence, GradingRule, Rubric, TeacherExcellentRule, ThresholdComparison,
    UnitGradeRule,
};

/// A teacher's result (Participant.online_grade, or the final grade with `extra_fail`).
///
/// FAIL when the hours are not complete, when any submission failed, or when `extra_fail` holds
/// (e.g. a failed offline check, 线上与线下测评都合格的，综合认定为合格,
/// 《宁夏测评实施办法》§五(三)) — "研修学习任务和应用成果佐证中有任何一项不合格
/// 的，则最终测评结果为不合格" (六(一)). Otherwise EXCELLENT as the rule's teacher_excellent says
/// (ALL_SUBMISSIONS: every one excellent; ANY_SUBMISSION: at least one; SHARE: the share of
/// excellent submissions reaches teacher_excellent_share, AT_LEAST, and never with the share
/// unset), else PASS. With no submissions at all the teacher cannot be excellent.
pub fn teacher_grade(
    rule: &GradingRule,
    hours_passed: bool,
    submissions: &[Grade],
    extra_fail: bool,
) -> Grade {
    if !hours_passed || extra_fail || submissions.contains(&Grade::Fail) {
        return Grade::Fail;
    }
    if submissions.is_empty() {
        return Grade::Pass;
    }
    let excellent = submissions
        .iter()
        .filter(|grade| **grade == Grade::Excellent)
        .count();
    let is_excellent = match rule.teacher_excellent {
        TeacherExcellentRule::AllSubmissions => excellent == submissions.len(),
        TeacherExcellentRule::AnySubmission => excellent > 0,
        TeacherExcellentRule::Share => rule.teacher_excellent_share.is_some_and(|share| {
            share.meets(
                excellent as u64,
                submissions.len() as u64,
                ThresholdComparison::AtLeast,
            )
        }),
    };
    if is_excellent {
        Grade::Excellent
    } else {
        Grade::Pass
    }
}

/// A school's grade from its graded, non-withdrawn participants, or a county's from its graded
/// schools (《宁夏测评实施办法》§六(二)(三)).
///
/// `None` when the rule is disabled or the unit has no members. Otherwise the excellent share
/// `excellent / members` and the fail share `failed / members` are compared with the rule's
/// thresholds (exactly, see [`super::Ratio::meets`]); when both are met the rule's precedence
/// decides (the presets: FAIL_WINS); when neither is, PASS.
pub fn unit_grade(
    rule: &UnitGradeRule,
    members: usize,
    excellent: usize,
    failed: usize,
) -> Option<Grade> {
    if !rule.enabled || members == 0 {
        return None;
    }
    let members = members as u64;
    let excellent_met =
        rule.excellent_share
            .meets(excellent as u64, members, rule.excellent_comparison);
    let fail_met = rule
        .fail_share
        .meets(failed as u64, members, rule.fail_comparison);
    Some(match (excellent_met, fail_met) {
        (true, true) => match rule.precedence {
            GradePrecedence::FailWins => Grade::Fail,
            GradePrecedence::ExcellentWins => Grade::Excellent,
        },
        (false, true) => Grade::Fail,
        (true, false) => Grade::Excellent,
        (false, false) => Grade::Pass,
    })
}

/// How many of a school's `participants` may be graded excellent: `participants × quota`
/// rounded as excellent_quota_rounding says (CEIL by default, so a school of 1–33 may have 1
/// under Beijing's 3/100 and a school of 0 none).
///
/// `None` when the rule sets no quota (or an invalid one with denominator 0).
pub fn excellent_quota(rule: &GradingRule, participants: usize) -> Option<usize> {
    let quota = rule.excellent_quota?;
    let count = rule.excellent_quota_rounding.divide(
        participants as u128 * u128::from(quota.numerator),
        u128::from(quota.denominator),
    )?;
    Some(usize::try_from(count).unwrap_or(usize::MAX))
}

/// The total of rubric scores `(criterion id, points)`, after checking that every id belongs to
/// the rubric, none is scored twice and no score exceeds its criterion's max_points. Criteria
/// left unscored count 0 here; every problem is in the error, joined by "；".
pub fn score_rubric(rubric: &Rubric, scores: &[(String, u32)]) -> Result<u32, String> {
    let mut problems = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut total: u64 = 0;
    for (id, points) in scores {
        if seen.contains(&id.as_str()) {
            problems.push(format!("评分项“{id}”重复"));
            continue;
        }
        seen.push(id);
        match rubric.criteria.iter().find(|criterion| criterion.id == *id) {
            None => problems.push(format!("量规“{}”中没有评分项“{id}”", rubric.id)),
            Some(criterion) => {
                let max = u32::try_from(criterion.max_points).unwrap_or(0);
                if *points > max {
                    problems.push(format!("评分项“{id}”满分 {max}，给了 {points}"));
                } else {
                    total += u64::from(*points);
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(u32::try_from(total).unwrap_or(u32::MAX))
    } else {
        Err(problems.join("；"))
    }
}

/// A submission's grade from its rubric scores (GradingRule.grade_from_rubric).
///
/// `Ok(None)` when the rule does not grade from the rubric (scores given anyway are still
/// checked against the rubric when there is one). Otherwise every criterion must be scored
/// exactly once within its max_points, and the total gives FAIL below pass_minimum_points,
/// EXCELLENT at or above excellent_minimum_points when that is above 0, PASS between. `Err`
/// names every problem (unknown or repeated criterion, too many points, unscored criterion,
/// no rubric).
pub fn grade_from_rubric(
    rule: &GradingRule,
    scores: &[(String, u32)],
) -> Result<Option<Grade>, String> {
    if !rule.grade_from_rubric {
        if let Some(rubric) = &rule.rubric
            && !scores.is_empty()
        {
            score_rubric(rubric, scores)?;
        }
        return Ok(None);
    }
    let Some(rubric) = &rule.rubric else {
        return Err("按量规定等级，但政策没有设置量规".to_string());
    };
    let checked = score_rubric(rubric, scores);
    let unscored: Vec<&str> = rubric
        .criteria
        .iter()
        .filter(|criterion| !scores.iter().any(|(id, _)| *id == criterion.id))
        .map(|criterion| criterion.id.as_str())
        .collect();
    let total = match (checked, unscored.is_empty()) {
        (Ok(total), true) => total,
        (Ok(_), false) => return Err(format!("评分项未打分：{}", unscored.join("、"))),
        (Err(problems), true) => return Err(problems),
        (Err(problems), false) => {
            return Err(format!("{problems}；评分项未打分：{}", unscored.join("、")));
        }
    };
    let total = i64::from(total);
    let grade = if total < i64::from(rule.pass_minimum_points) {
        Grade::Fail
    } else if rule.excellent_minimum_points > 0 && total >= i64::from(rule.excellent_minimum_points)
    {
        Grade::Excellent
    } else {
        Grade::Pass
    };
    Ok(Some(grade))
}
