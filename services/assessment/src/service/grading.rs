//! Submissions (one per selected micro-competency), grading, and the recomputation of a
//! participant's counts and grade that every change to them ends with.

use std::collections::HashSet;
use tica_server::retry_conflicts;

use tica_auth::Role;
use tica_domain::eligibility::{self, GradedWork, GraderFacts};
use tica_domain::policy::{self as rules, EvidenceKind, HoursEntry, HoursKind, PolicyRules};

use super::batches::batch_rules;
use super::{Assessment, Ctx, denied, require_participant_access, today};
use crate::error::{AssessmentError, Problems, Result};
use crate::model::*;
use crate::store::{self, Work};

/// A grading, as an assessor submits it.
#[derive(Clone, Debug, Default)]
pub struct GradeRequest {
    /// `assessors/{id}` of the grader (their own).
    pub assessor: String,
    /// The grade, unless the rubric decides it.
    pub grade: Option<GradeKey>,
    /// Rubric scores.
    pub rubric_scores: Vec<(String, u32)>,
    /// Evidence marked invalid.
    pub invalid_evidence: Vec<InvalidEvidenceRecord>,
    /// Comment.
    pub comment: String,
}

/// Storage key of an hours kind.
pub(crate) fn hours_kind_key(kind: HoursKind) -> &'static str {
    match kind {
        HoursKind::OnlineStudy => "online_study",
        HoursKind::OnlineTest => "online_test",
        HoursKind::CaseStudy => "case_study",
        HoursKind::Practice => "practice",
        HoursKind::SchoolResearch => "school_research",
        HoursKind::SchoolAssessment => "school_assessment",
    }
}

/// An hours kind from its storage key.
pub(crate) fn hours_kind_from_key(key: &str) -> Option<HoursKind> {
    HoursKind::ALL
        .into_iter()
        .find(|k| hours_kind_key(*k) == key)
}

/// Storage key of an evidence kind.
pub(crate) fn evidence_kind_key(kind: EvidenceKind) -> &'static str {
    match kind {
        EvidenceKind::Video => "video",
        EvidenceKind::DesignPlan => "design_plan",
        EvidenceKind::Reflection => "reflection",
        EvidenceKind::Courseware => "courseware",
        EvidenceKind::Other => "other",
    }
}

/// An evidence kind from its storage key.
pub(crate) fn evidence_kind_from_key(key: &str) -> Option<EvidenceKind> {
    [
        EvidenceKind::Video,
        EvidenceKind::DesignPlan,
        EvidenceKind::Reflection,
        EvidenceKind::Courseware,
        EvidenceKind::Other,
    ]
    .into_iter()
    .find(|k| evidence_kind_key(*k) == key)
}

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
    let complete = !p.selection_state.is_empty()
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

impl Assessment {
    /// One submission.
    pub async fn get_submission(
        &self,
        ctx: &Ctx,
        batch: &str,
        teacher: &str,
        code: &str,
    ) -> Result<SubmissionRecord> {
        super::require_batch_scope(&ctx.caller, batch)?;
        let s = store::submission(&self.db, batch, teacher, code)
            .await?
            .ok_or_else(|| {
                AssessmentError::NotFound(format!(
                    "batches/{batch}/participants/{teacher}/submissions/{code}"
                ))
            })?;
        if ctx.caller.role == Role::Teacher && ctx.caller.subject != teacher {
            return Err(denied(&ctx.caller));
        }
        super::require_covers(&ctx.caller, &s.path)?;
        Ok(s)
    }

    /// Submissions of a batch (or of one participant) inside the caller's subtree.
    pub async fn list_submissions(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        school: Option<&str>,
        filter: &store::SubmissionFilter,
        after: &(String, String, String),
        limit: i64,
    ) -> Result<(Vec<SubmissionRecord>, i64)> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        let batch = self.get_batch(ctx, batch_id).await?;
        if ctx.caller.role == Role::Teacher && ctx.caller.subject != filter.teacher {
            return Err(denied(&ctx.caller));
        }
        if !filter.teacher.is_empty() {
            let p = self.participant_or_404(batch_id, &filter.teacher).await?;
            require_participant_access(&ctx.caller, &p)?;
        }
        let scope = match school {
            Some(code) => {
                let r = store::school_result(&self.db, batch_id, code)
                    .await?
                    .ok_or_else(|| {
                        AssessmentError::invalid(
                            "school",
                            format!("schools/{code} is not in batches/{batch_id}"),
                        )
                    })?;
                super::require_covers(&ctx.caller, &r.path)?;
                r.path
            }
            None if ctx.caller.covers(&batch.path) => batch.path.clone(),
            None => ctx.caller.scope.clone(),
        };
        store::submissions_in(&self.db, batch_id, &scope, filter, after, limit).await
    }

    /// Recomputes and stores what a change to `teacher`'s submissions implies, and applies the
    /// policy's automatic submission of a school whose last submission was just graded.
    async fn settle(
        &self,
        ctx: &Ctx,
        batch: &BatchRecord,
        mut p: ParticipantRecord,
        changed: Vec<SubmissionRecord>,
        mut work: Work,
    ) -> Result<()> {
        let rules = batch_rules(batch)?;
        let mut all = store::submissions_of(&self.db, &batch.id, &p.teacher_number).await?;
        for c in &changed {
            match all.iter_mut().find(|s| s.code == c.code) {
                Some(slot) => *slot = c.clone(),
                None => all.push(c.clone()),
            }
        }
        let was_graded = p.grade.is_some();
        recompute(&mut p, &all, &rules, None, batch.open_date);
        p.update_micros = next_micros(p.update_micros);
        let auto = rules
            .grading
            .as_ref()
            .is_some_and(|g| g.auto_submit_school_results);
        // Whether the school's participants are all graded depends on every participant, not
        // only on the one this call writes: two last gradings at one school, each reading the
        // other as ungraded before either commits, would both leave the school where it is.
        // So every change that makes a participant graded or ungraded also writes the school's
        // result — moved, or only touched (its `update_micros` bumped) — and concurrent ones
        // conflict: the loser's commit fails the version check and `retry` reads again. The
        // result is read before the participants, so a result read after the winner's commit
        // comes with participants read after it too. (A settle that changes no participant's
        // graded-ness cannot change the outcome and leaves the result alone, so hand-ins at one
        // school do not contend.)
        if auto
            && (was_graded || p.grade.is_some())
            && let Some(mut result) =
                store::school_result(&self.db, &batch.id, &p.school_code).await?
        {
            if !result.state.unlocked() {
                // Locked since the caller checked it: read again (and refuse then).
                return Err(AssessmentError::Conflict(
                    "the school's results changed meanwhile; retry".into(),
                ));
            }
            // "As soon as its last submission is graded": this call must complete the school
            // (its participant was not fully graded before). A re-grade at a school the county
            // returned completes nothing — everyone was graded already — so the school sends
            // its results itself when it has finished re-grading (SubmitSchoolResults).
            let others = store::participants_of(&self.db, &batch.id, &p.school_code).await?;
            let all_graded = !was_graded
                && p.grade.is_some()
                && others
                    .iter()
                    .filter(|o| o.enrolled && o.teacher_number != p.teacher_number)
                    .all(|o| o.grade.is_some());
            if all_graded {
                result.transitions.push(super::batches::transition(
                    ctx,
                    result.state.key(),
                    "in_county_review",
                    "所有成果已评定，自动进入县（区）复核",
                    "",
                ));
                result.state = SchoolResultState::InCountyReview;
            }
            result.update_micros = next_micros(result.update_micros);
            work.school_results.push(result);
        }
        work.participants.push(p);
        work.submissions.extend(changed);
        self.commit(&work).await
    }

    /// DRAFT → SUBMITTED: the evidence is frozen.
    pub async fn submit_submission(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        code: &str,
    ) -> Result<SubmissionRecord> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        retry_conflicts(|| async {
            let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
            let p = self.participant_or_404(batch_id, teacher).await?;
            require_participant_access(&ctx.caller, &p)?;
            if !matches!(ctx.caller.role, Role::Teacher | Role::SchoolAdmin)
                && !ctx.caller.role.is_office()
            {
                return Err(denied(&ctx.caller));
            }
            let mut s = self.get_submission(ctx, batch_id, teacher, code).await?;
            if s.state != SubmissionState::Draft {
                return Err(AssessmentError::FailedPrecondition(format!(
                    "the submission is {}, not DRAFT",
                    s.state.key()
                )));
            }
            self.require_open_school(&batch, &p.school_code).await?;
            if let Some(deadline) = batch.submission_deadline
                && today() > deadline
            {
                return Err(AssessmentError::FailedPrecondition(format!(
                    "the submission deadline {} has passed",
                    tica_server::proto_time::date_to_iso(deadline)
                )));
            }
            let rules = batch_rules(&batch)?;
            let evidence = store::evidence_of(&self.db, batch_id, teacher).await?;
            let attached: HashSet<&str> = evidence
                .iter()
                .filter(|e| e.codes.iter().any(|c| c == code))
                .map(|e| e.kind.as_str())
                .collect();
            let mut missing = Vec::new();
            for req in rules
                .evidence
                .as_ref()
                .map(|e| e.requirements.as_slice())
                .unwrap_or_default()
            {
                if req.micro_competencies.is_empty()
                    || req.micro_competencies.iter().any(|c| c == code)
                {
                    for kind in &req.required_kinds {
                        if !attached.contains(evidence_kind_key(*kind)) {
                            missing.push(evidence_kind_key(*kind));
                        }
                    }
                }
            }
            if !missing.is_empty() {
                missing.sort();
                missing.dedup();
                return Err(AssessmentError::FailedPrecondition(format!(
                    "attach evidence of these kinds first: {}",
                    missing.join(", ")
                )));
            }
            s.state = SubmissionState::Submitted;
            s.submit_micros = Some(tica_storage::now_micros());
            s.return_reason.clear();
            s.update_micros = next_micros(s.update_micros);
            let audit = ctx.audit(
                "SubmitSubmission",
                submission_name(&s),
                &s.path,
                serde_json::json!({ "state": "submitted" }),
            );
            self.settle(
                ctx,
                &batch,
                p,
                vec![s.clone()],
                Work {
                    audits: vec![audit],
                    ..Default::default()
                },
            )
            .await?;
            Ok(s)
        })
        .await
        .inspect(|_| metrics::counter!("tica_assessment_submissions_total").increment(1))
    }

    /// SUBMITTED or GRADED → DRAFT, with a reason for the teacher.
    pub async fn return_submission(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        code: &str,
        reason: &str,
    ) -> Result<SubmissionRecord> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        if reason.trim().is_empty() || reason.chars().count() > 500 {
            return Err(AssessmentError::invalid(
                "reason",
                "say what to change (at most 500 characters)",
            ));
        }
        if !matches!(ctx.caller.role, Role::SchoolAdmin | Role::Assessor)
            && !ctx.caller.role.is_office()
        {
            return Err(denied(&ctx.caller));
        }
        retry_conflicts(|| async {
            let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
            let p = self.participant_or_404(batch_id, teacher).await?;
            let mut s = self.get_submission(ctx, batch_id, teacher, code).await?;
            if s.state == SubmissionState::Draft {
                return Err(AssessmentError::FailedPrecondition(
                    "the submission is already a DRAFT".into(),
                ));
            }
            if s.carried_over {
                return Err(AssessmentError::FailedPrecondition(
                    "a result carried over from an earlier batch stays as it is".into(),
                ));
            }
            self.require_open_school(&batch, &p.school_code).await?;
            if let Some(g) = s.grading.take() {
                s.history.push(g);
            }
            s.state = SubmissionState::Draft;
            s.return_reason = reason.trim().to_owned();
            s.update_micros = next_micros(s.update_micros);
            let audit = ctx.audit(
                "ReturnSubmission",
                submission_name(&s),
                &s.path,
                serde_json::json!({ "reason": reason.trim() }),
            );
            self.settle(
                ctx,
                &batch,
                p,
                vec![s.clone()],
                Work {
                    audits: vec![audit],
                    ..Default::default()
                },
            )
            .await?;
            Ok(s)
        })
        .await
    }

    /// Grades a submission (SUBMITTED or GRADED → GRADED), by a registered assessor of the
    /// school's level — never the submission's own teacher.
    pub async fn grade_submission(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        code: &str,
        request: GradeRequest,
    ) -> Result<SubmissionRecord> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        if ctx.caller.role != Role::Assessor {
            return Err(AssessmentError::PermissionDenied(
                "only an assessor grades submissions".into(),
            ));
        }
        let assessor_id = request
            .assessor
            .strip_prefix("assessors/")
            .filter(|id| *id == ctx.caller.subject)
            .ok_or_else(|| {
                AssessmentError::invalid(
                    "assessor",
                    "must be `assessors/{id}` of the calling assessor (the token's subject)",
                )
            })?
            .to_owned();
        if request.comment.chars().count() > 2000 {
            return Err(AssessmentError::invalid(
                "comment",
                "at most 2000 characters",
            ));
        }
        let assessor = self.roster.assessor(&ctx.token, &assessor_id).await?;
        retry_conflicts(|| async {
            let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
            let p = self.participant_or_404(batch_id, teacher).await?;
            let mut s = self.get_submission(ctx, batch_id, teacher, code).await?;
            let rules = batch_rules(&batch)?;
            let grading = rules.grading.clone().unwrap_or_default();
            // Who may grade (《宁夏测评实施办法》§七(二): only a registered assessor;
            // of the school, or of the county where the policy lets it; never their own; in their subject).
            let grader = GraderFacts {
                id: &assessor_id,
                teacher_number: &assessor.teacher_number,
                level: assessor.level,
                registered_at: &assessor.registered_at,
                state: assessor.state,
                subjects: &assessor.subjects,
            };
            let work = GradedWork { teacher_number: teacher, school_code: &s.school_code, county: batch.county, subject: &p.subject };
            eligibility::may_grade(&grader, &work, &grading).map_err(|refusal| AssessmentError::PermissionDenied(refusal.to_string()))?;
            if !matches!(s.state, SubmissionState::Submitted | SubmissionState::Graded) {
                return Err(AssessmentError::FailedPrecondition("only a submitted submission is graded".into()));
            }
            if s.carried_over {
                return Err(AssessmentError::FailedPrecondition("a result carried over from an earlier batch stays as it is".into()));
            }
            self.require_open_school(&batch, &p.school_code).await?;
            // The grade.
            let mut problems = Problems::new();
            let evidence = store::evidence_of(&self.db, batch_id, teacher).await?;
            for (i, invalid) in request.invalid_evidence.iter().enumerate() {
                if !evidence.iter().any(|e| e.id == invalid.evidence && e.codes.iter().any(|c| c == code)) {
                    problems.add(format!("invalid_evidence[{i}].evidence"), "not evidence of this submission");
                }
            }
            let from_rubric = problems.check("rubric_scores", rules::grade_from_rubric(&grading, &request.rubric_scores)).flatten();
            let total_points = match &grading.rubric {
                Some(r) if !request.rubric_scores.is_empty() => problems.check("rubric_scores", rules::score_rubric(r, &request.rubric_scores)).unwrap_or(0),
                _ => 0,
            };
            let grade = match (from_rubric, request.grade) {
                (Some(g), Some(given)) if g != given => {
                    problems.add("grade", format!("the rubric total gives {}; leave grade unset or give the same", g.key()));
                    g
                }
                (Some(g), _) => g,
                (None, Some(g)) => g,
                (None, None) => {
                    problems.add("grade", "required");
                    GradeKey::Fail
                }
            };
            if !request.invalid_evidence.is_empty() && grade != GradeKey::Fail {
                // 凡提供的证据未包含教师本人影像的或不能确定是教师本人制作的，应视为无效证据 (测评实施办法 四2).
                problems.add("grade", "evidence marked invalid makes the submission FAIL");
            }
            problems.finish()?;
            if grade == GradeKey::Excellent
                && let Some(quota) = rules::excellent_quota(&grading, store::participants_of(&self.db, batch_id, &p.school_code).await?.iter().filter(|o| o.enrolled).count())
            {
                let (others, _) = store::submissions_in(
                    &self.db,
                    batch_id,
                    &p.path,
                    &store::SubmissionFilter { state: "graded".into(), ..Default::default() },
                    &Default::default(),
                    i64::MAX,
                )
                .await?;
                let excellent: HashSet<&str> = others
                    .iter()
                    .filter(|o| o.teacher_number != teacher && o.grading.as_ref().is_some_and(|g| g.grade == GradeKey::Excellent))
                    .map(|o| o.teacher_number.as_str())
                    .collect();
                if excellent.len() >= quota {
                    return Err(AssessmentError::FailedPrecondition(format!("the school's quota of {quota} excellent participants is used up")));
                }
            }
            if let Some(previous) = s.grading.take() {
                s.history.push(previous);
            }
            s.grading = Some(GradingRecord {
                grade,
                rubric_scores: request.rubric_scores.clone(),
                total_points,
                invalid_evidence: request.invalid_evidence.clone(),
                comment: request.comment.trim().to_owned(),
                assessor: assessor_id.clone(),
                micros: tica_storage::now_micros(),
            });
            s.state = SubmissionState::Graded;
            s.update_micros = next_micros(s.update_micros);
            let audit = ctx.audit(
                "GradeSubmission",
                submission_name(&s),
                &s.path,
                serde_json::json!({ "grade": grade.key(), "invalid_evidence": request.invalid_evidence.len(), "assessor": format!("assessors/{assessor_id}") }),
            );
            self.settle(ctx, &batch, p, vec![s.clone()], Work { audits: vec![audit], ..Default::default() }).await?;
            Ok(s)
        })
        .await
        .inspect(|s| {
            if let Some(g) = &s.grading {
                metrics::counter!("tica_assessment_gradings_total", "grade" => g.grade.key())
                    .increment(1);
            }
        })
    }

    /// The batch takes changes and the school's results are unlocked.
    pub(crate) async fn require_open_school(
        &self,
        batch: &BatchRecord,
        school: &str,
    ) -> Result<()> {
        if !matches!(batch.state, BatchState::Open | BatchState::ReturnedToCounty) {
            return Err(AssessmentError::FailedPrecondition(format!(
                "batches/{} is {}",
                batch.id,
                batch.state.key()
            )));
        }
        let result = store::school_result(&self.db, &batch.id, school).await?;
        match result {
            Some(r) if r.state.unlocked() => Ok(()),
            Some(r) => Err(AssessmentError::FailedPrecondition(format!(
                "the school's results are {} and locked",
                r.state.key()
            ))),
            None => Err(AssessmentError::FailedPrecondition(format!(
                "schools/{school} is not in batches/{}",
                batch.id
            ))),
        }
    }
}

/// A submission's resource name.
pub fn submission_name(s: &SubmissionRecord) -> String {
    format!(
        "batches/{}/participants/{}/submissions/{}",
        s.batch_id, s.teacher_number, s.code
    )
}
