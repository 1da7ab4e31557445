//! The recomputation of a participant's counts, hours and grade that every change to its
//! submissions or hours records ends with. Pure: the caller commits the result.

use tica_domain::policy::{self as rules, HoursEntry, HoursKind, PolicyRules};

use super::keys::{hours_kind_from_key, hours_kind_key};
use crate::model::*;

/// The hours entries of a participant's records (an earlier batch's hours count only if the
/// policy keeps them for carried-over teachers).
pub(crate) fn hours_entries(
    p: &ParticipantRecord,
    records: &[HoursRecordRow],
    rules: &PolicyRules,
    open_date: Option<time::Date>,
) -> Vec<HoursEntry> {
    let keep = rules.carry_over.as_ref().is_none_or(|c| c.keep_hours);
    let since = match (p.carried_over_from.is_empty(), keep, open_date) {
        (false, false, Some(open)) => {
            open.midnight()
                .assume_offset(tica_domain::time_zone::CHINA_OFFSET)
                .unix_timestamp()
                * 1_000_000
        }
        _ => i64::MIN,
    };
    records
        .iter()
        .filter(|r| r.complete_micros >= since)
        .filter_map(|r| {
            Some(HoursEntry {
                kind: hours_kind_from_key(&r.kind)?,
                centihours: r.centihours,
                watched_minutes: (r.course_minutes > 0).then_some(r.watched_minutes as u32),
                course_minutes: (r.course_minutes > 0).then_some(r.course_minutes as u32),
            })
        })
        .collect()
}

/// Brings a participant's running counts, hours and grade in line with its submissions (and,
/// when given, its hours records). Pure: the caller commits the result.
///
/// The grade is known once every expected submission is graded: FAIL if the hours fall short or
/// any submission failed (《宁夏测评实施办法》§六(一)), EXCELLENT per the
/// policy's teacher-excellent rule, else PASS; a failed offline check, when the policy requires
/// one, fails the final recognition (§五(三)).
pub(crate) fn recompute(
    p: &mut ParticipantRecord,
    submissions: &[SubmissionRecord],
    rules: &PolicyRules,
    hours: Option<&[HoursRecordRow]>,
    open_date: Option<time::Date>,
) {
    if let (Some(records), Some(rule)) = (hours, &rules.hours) {
        let outcome = rules::evaluate_hours(rule, &hours_entries(p, records, rules, open_date));
        p.hours = HoursKind::ALL
            .into_iter()
            .filter_map(|kind| {
                let required = rule
                    .requirements
                    .iter()
                    .filter(|r| r.kind == kind)
                    .map(|r| r.minimum_centihours)
                    .sum::<i64>();
                let counted = outcome.counted_by_kind.get(&kind).copied().unwrap_or(0);
                (required > 0 || counted > 0).then(|| HoursLine {
                    kind: hours_kind_key(kind).to_owned(),
                    required,
                    counted,
                })
            })
            .collect();
        p.counted_centihours = outcome.counted_total;
        p.hours_complete = outcome.passed;
    }
    let mine: Vec<&SubmissionRecord> = submissions
        .iter()
        .filter(|s| s.teacher_number == p.teacher_number && s.batch_id == p.batch_id)
        .collect();
    p.submissions_expected = mine.len() as i64;
    p.submissions_submitted = mine
        .iter()
        .filter(|s| s.state != SubmissionState::Draft)
        .count() as i64;
    let grades: Vec<GradeKey> = mine
        .iter()
        .filter(|s| s.state == SubmissionState::Graded)
        .filter_map(|s| s.grading.as_ref().map(|g| g.grade))
        .collect();
    p.submissions_graded = grades.len() as i64;
    p.submissions_passed = grades.iter().filter(|g| **g != GradeKey::Fail).count() as i64;
    let complete = p.selection_state.is_made()
        && p.submissions_expected > 0
        && p.submissions_graded == p.submissions_expected;
    let grading = rules.grading.clone().unwrap_or_default();
    p.online_grade =
        complete.then(|| rules::teacher_grade(&grading, p.hours_complete, &grades, false));
    let offline = p.offline_check.as_ref().map(|c| c.outcome.as_str());
    let offline_failed = grading.offline_check_required && offline == Some("failed");
    // A drawn but not yet visited participant has no final recognition yet (§五(三)).
    let offline_pending = grading.offline_check_required && offline == Some("pending");
    p.grade = match p.online_grade {
        _ if offline_pending => None,
        Some(_) if offline_failed => Some(GradeKey::Fail),
        other => other,
    };
    let mut reasons = Vec::new();
    if p.grade.is_some() {
        if !p.hours_complete {
            reasons.push(format!(
                "学时未达要求（已计 {} 学时）",
                rules::format_centihours(p.counted_centihours)
            ));
        }
        let mut failed: Vec<&str> = mine
            .iter()
            .filter(|s| {
                s.grading
                    .as_ref()
                    .is_some_and(|g| g.grade == GradeKey::Fail)
            })
            .map(|s| s.code.as_str())
            .collect();
        failed.sort();
        if !failed.is_empty() {
            reasons.push(format!("微能力不合格：{}", failed.join("、")));
        }
        if offline_failed {
            reasons.push("线下听课测评未通过".into());
        }
    }
    p.grade_reasons = reasons;
}
