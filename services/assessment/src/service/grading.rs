//! Submissions (one per selected micro-competency) and their grading.

use std::collections::HashSet;
use tica_domain::names::AssessorName;
use tica_server::retry_conflicts;

use tica_auth::Role;
use tica_domain::eligibility::{self, GradedWork, GraderFacts};
use tica_domain::policy::{self as rules, GradingRule, PolicyRules};

use super::keys::evidence_kind_key;
use super::recount::recompute;
use super::rules::batch_rules;
use super::{Assessment, Ctx, Decision, denied, require_participant_access, today};
use crate::error::{AssessmentError, Problems, Result};
use crate::model::*;
use crate::roster::RosterAssessor;
use crate::store::{self, Work};

/// A submission's batch id, teacher number and micro-competency code.
type Key<'a> = (&'a str, &'a str, &'a str);

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
                result.transitions.push(super::transition(
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
        retry_conflicts(|| self.submit_step(ctx, (batch_id, teacher, code)))
            .await
            .inspect(|_| metrics::counter!("tica_assessment_submissions_total").increment(1))
    }

    /// Reads the submission and what handing it in depends on, decides, commits.
    async fn submit_step(
        &self,
        ctx: &Ctx,
        (batch_id, teacher, code): Key<'_>,
    ) -> Result<SubmissionRecord> {
        let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
        let p = self.participant_or_404(batch_id, teacher).await?;
        require_participant_access(&ctx.caller, &p)?;
        if !may_hand_in(ctx.caller.role) {
            return Err(denied(&ctx.caller));
        }
        let s = self.get_submission(ctx, batch_id, teacher, code).await?;
        require_draft(&s)?;
        self.require_open_school(&batch, &p.school_code).await?;
        let rules = batch_rules(&batch)?;
        let evidence = store::evidence_of(&self.db, batch_id, teacher).await?;
        let facts = HandIn {
            today: today(),
            deadline: batch.submission_deadline,
            rules: &rules,
            evidence: &evidence,
            now: tica_storage::now_micros(),
        };
        let decision = decide_hand_in(s, &facts)?;
        self.settle_decision(ctx, (&batch, p), "SubmitSubmission", decision)
            .await
    }

    /// Stores the submission a step decided on with its audit entry under `method` (see
    /// [`Assessment::settle`]).
    async fn settle_decision(
        &self,
        ctx: &Ctx,
        (batch, p): (&BatchRecord, ParticipantRecord),
        method: &str,
        decision: Decision<SubmissionRecord>,
    ) -> Result<SubmissionRecord> {
        let Decision { record: s, audit } = decision;
        let work = Work {
            audits: vec![ctx.audit(method, submission_name(&s), &s.path, audit)],
            ..Default::default()
        };
        self.settle(ctx, batch, p, vec![s.clone()], work).await?;
        Ok(s)
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
        retry_conflicts(|| self.return_step(ctx, (batch_id, teacher, code), reason)).await
    }

    /// Reads the submission, decides whether and how it goes back, commits.
    async fn return_step(
        &self,
        ctx: &Ctx,
        (batch_id, teacher, code): Key<'_>,
        reason: &str,
    ) -> Result<SubmissionRecord> {
        let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
        let p = self.participant_or_404(batch_id, teacher).await?;
        let s = self.get_submission(ctx, batch_id, teacher, code).await?;
        require_returnable(&s)?;
        self.require_open_school(&batch, &p.school_code).await?;
        let decision = decide_return(s, reason);
        self.settle_decision(ctx, (&batch, p), "ReturnSubmission", decision)
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
        let assessor_id = AssessorName::id_of(&request.assessor)
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
        let submission = (batch_id, teacher, code);
        retry_conflicts(|| self.grade_step(ctx, submission, &assessor, &request))
            .await
            .inspect(|s| {
                if let Some(g) = &s.grading {
                    metrics::counter!("tica_assessment_gradings_total", "grade" => g.grade.key())
                        .increment(1);
                }
            })
    }

    /// Reads the submission, the grader's standing and the evidence, decides who may grade and
    /// what the grade is, checks the school's excellent quota, commits.
    async fn grade_step(
        &self,
        ctx: &Ctx,
        (batch_id, teacher, code): Key<'_>,
        assessor: &RosterAssessor,
        request: &GradeRequest,
    ) -> Result<SubmissionRecord> {
        let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
        let p = self.participant_or_404(batch_id, teacher).await?;
        let s = self.get_submission(ctx, batch_id, teacher, code).await?;
        let rules = batch_rules(&batch)?;
        let grading = rules.grading.clone().unwrap_or_default();
        let grader = GraderFacts {
            id: &assessor.id,
            teacher_number: &assessor.teacher_number,
            level: assessor.level,
            registered_at: &assessor.registered_at,
            state: assessor.state,
            subjects: &assessor.subjects,
        };
        let work = GradedWork {
            teacher_number: teacher,
            school_code: &s.school_code,
            county: batch.county,
            subject: &p.subject,
        };
        decide_grader(&grader, &work, &grading, &s)?;
        self.require_open_school(&batch, &p.school_code).await?;
        let evidence = store::evidence_of(&self.db, batch_id, teacher).await?;
        let grade = decide_grade(&grading, request, &s, &evidence)?;
        if grade.grade == GradeKey::Excellent
            && let Some(quota) = self.excellent_quota(&grading, &p).await?
        {
            let excellent = self.excellent_teachers(&p, teacher).await?;
            decide_excellent_quota(quota, excellent)?;
        }
        let facts = Graded {
            grade,
            request,
            assessor: &assessor.id,
            now: tica_storage::now_micros(),
        };
        let decision = decide_graded(s, &facts);
        self.settle_decision(ctx, (&batch, p), "GradeSubmission", decision)
            .await
    }

    /// The school's excellent quota under `grading`, for its enrolled participants.
    async fn excellent_quota(
        &self,
        grading: &GradingRule,
        p: &ParticipantRecord,
    ) -> Result<Option<usize>> {
        let participants = store::participants_of(&self.db, &p.batch_id, &p.school_code).await?;
        let enrolled = participants.iter().filter(|o| o.enrolled).count();
        Ok(rules::excellent_quota(grading, enrolled))
    }

    /// How many other teachers at `p`'s school have an EXCELLENT submission.
    async fn excellent_teachers(&self, p: &ParticipantRecord, teacher: &str) -> Result<usize> {
        let graded = store::SubmissionFilter {
            state: "graded".into(),
            ..Default::default()
        };
        let (others, _) = store::submissions_in(
            &self.db,
            &p.batch_id,
            &p.path,
            &graded,
            &Default::default(),
            i64::MAX,
        )
        .await?;
        let excellent: HashSet<&str> = others
            .iter()
            .filter(|o| o.teacher_number != teacher)
            .filter(|o| {
                o.grading
                    .as_ref()
                    .is_some_and(|g| g.grade == GradeKey::Excellent)
            })
            .map(|o| o.teacher_number.as_str())
            .collect();
        Ok(excellent.len())
    }

    /// The batch takes changes and the school's results are unlocked.
    pub(crate) async fn require_open_school(
        &self,
        batch: &BatchRecord,
        school: &str,
    ) -> Result<()> {
        if !matches!(batch.state, BatchState::Open | BatchState::ReturnedToCounty) {
            return Err(AssessmentError::refused(
                tica_server::errors::ErrorReason::BatchState,
                "",
                format!("batches/{} is {}", batch.id, batch.state.key()),
            ));
        }
        let result = store::school_result(&self.db, &batch.id, school).await?;
        match result {
            Some(r) if r.state.unlocked() => Ok(()),
            Some(r) => Err(AssessmentError::refused(
                tica_server::errors::ErrorReason::ResultsLocked,
                "",
                format!("the school's results are {} and locked", r.state.key()),
            )),
            None => Err(AssessmentError::FailedPrecondition(format!(
                "schools/{school} is not in batches/{}",
                batch.id
            ))),
        }
    }
}

/// Who may hand a submission in: its teacher, the school or an office.
fn may_hand_in(role: Role) -> bool {
    matches!(role, Role::Teacher | Role::SchoolAdmin) || role.is_office()
}

/// Only a DRAFT is handed in.
fn require_draft(s: &SubmissionRecord) -> Result<()> {
    if s.state != SubmissionState::Draft {
        return Err(AssessmentError::FailedPrecondition(format!(
            "the submission is {}, not DRAFT",
            s.state.key()
        )));
    }
    Ok(())
}

/// What handing in a DRAFT depends on.
struct HandIn<'a> {
    today: time::Date,
    deadline: Option<time::Date>,
    rules: &'a PolicyRules,
    /// The participant's evidence (of every submission).
    evidence: &'a [EvidenceRecord],
    now: i64,
}

/// The evidence kinds the policy requires for micro-competency `code` that none of the
/// evidence attached to it has, sorted.
fn missing_evidence(rules: &PolicyRules, code: &str, evidence: &[EvidenceRecord]) -> Vec<String> {
    let attached: HashSet<&str> = evidence
        .iter()
        .filter(|e| e.codes.iter().any(|c| c == code))
        .map(|e| e.kind.as_str())
        .collect();
    let requirements = rules
        .evidence
        .as_ref()
        .map(|e| e.requirements.as_slice())
        .unwrap_or_default();
    let mut missing: Vec<String> = requirements
        .iter()
        .filter(|req| {
            req.micro_competencies.is_empty() || req.micro_competencies.iter().any(|c| c == code)
        })
        .flat_map(|req| &req.required_kinds)
        .map(|kind| evidence_kind_key(*kind))
        .filter(|key| !attached.contains(key))
        .map(str::to_owned)
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

/// DRAFT → SUBMITTED, before the submission deadline and with every evidence kind the policy
/// requires attached.
fn decide_hand_in(mut s: SubmissionRecord, facts: &HandIn) -> Result<Decision<SubmissionRecord>> {
    if let Some(deadline) = facts.deadline
        && facts.today > deadline
    {
        return Err(AssessmentError::refused(
            tica_server::errors::ErrorReason::DeadlinePassed,
            "",
            format!(
                "the submission deadline {} has passed",
                tica_server::proto_time::date_to_iso(deadline)
            ),
        ));
    }
    let missing = missing_evidence(facts.rules, &s.code, facts.evidence);
    if !missing.is_empty() {
        return Err(AssessmentError::refused(
            tica_server::errors::ErrorReason::EvidenceMissing,
            "",
            format!(
                "attach evidence of these kinds first: {}",
                missing.join(", ")
            ),
        ));
    }
    s.state = SubmissionState::Submitted;
    s.submit_micros = Some(facts.now);
    s.return_reason.clear();
    s.update_micros = next_micros(s.update_micros);
    Ok(Decision {
        record: s,
        audit: serde_json::json!({ "state": "submitted" }),
    })
}

/// A handed-in submission goes back; a DRAFT or a result carried over does not.
fn require_returnable(s: &SubmissionRecord) -> Result<()> {
    if s.state == SubmissionState::Draft {
        return Err(AssessmentError::FailedPrecondition(
            "the submission is already a DRAFT".into(),
        ));
    }
    require_not_carried_over(s)
}

fn require_not_carried_over(s: &SubmissionRecord) -> Result<()> {
    if s.carried_over {
        return Err(AssessmentError::FailedPrecondition(
            "a result carried over from an earlier batch stays as it is".into(),
        ));
    }
    Ok(())
}

/// → DRAFT with the reason for the teacher; its grading, if any, goes to the history.
fn decide_return(mut s: SubmissionRecord, reason: &str) -> Decision<SubmissionRecord> {
    if let Some(g) = s.grading.take() {
        s.history.push(g);
    }
    s.state = SubmissionState::Draft;
    s.return_reason = reason.trim().to_owned();
    s.update_micros = next_micros(s.update_micros);
    Decision {
        record: s,
        audit: serde_json::json!({ "reason": reason.trim() }),
    }
}

/// Who may grade (《宁夏测评实施办法》§七(二)): only a registered assessor; of the school, or of
/// the county where the policy lets it; never their own; in their subject. And only a
/// submitted submission, not one carried over from an earlier batch.
fn decide_grader(
    grader: &GraderFacts,
    work: &GradedWork,
    grading: &GradingRule,
    s: &SubmissionRecord,
) -> Result<()> {
    eligibility::may_grade(grader, work, grading)
        .map_err(|refusal| AssessmentError::PermissionDenied(refusal.to_string()))?;
    if !matches!(
        s.state,
        SubmissionState::Submitted | SubmissionState::Graded
    ) {
        return Err(AssessmentError::FailedPrecondition(
            "only a submitted submission is graded".into(),
        ));
    }
    require_not_carried_over(s)
}

/// A grade as the request and the rubric decide it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Grade {
    grade: GradeKey,
    total_points: u32,
}

/// The grade of a request: the rubric's when it decides one (a given grade must agree), else
/// the given one; evidence marked invalid (it must be this submission's) makes it FAIL
/// (《宁夏测评实施办法》§四2: evidence without the teacher's own image, or not surely made by
/// them, is invalid).
fn decide_grade(
    grading: &GradingRule,
    request: &GradeRequest,
    s: &SubmissionRecord,
    evidence: &[EvidenceRecord],
) -> Result<Grade> {
    let mut problems = Problems::new();
    for (i, invalid) in request.invalid_evidence.iter().enumerate() {
        let ours = evidence
            .iter()
            .any(|e| e.id == invalid.evidence && e.codes.contains(&s.code));
        if !ours {
            problems.add(
                format!("invalid_evidence[{i}].evidence"),
                "not evidence of this submission",
            );
        }
    }
    let scores = &request.rubric_scores;
    let from_rubric = problems
        .check("rubric_scores", rules::grade_from_rubric(grading, scores))
        .flatten();
    let total_points = match &grading.rubric {
        Some(r) if !scores.is_empty() => problems
            .check("rubric_scores", rules::score_rubric(r, scores))
            .unwrap_or(0),
        _ => 0,
    };
    let grade = match (from_rubric, request.grade) {
        (Some(g), Some(given)) if g != given => {
            let message = format!(
                "the rubric total gives {}; leave grade unset or give the same",
                g.key()
            );
            problems.add("grade", message);
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
        problems.add("grade", "evidence marked invalid makes the submission FAIL");
    }
    problems.finish()?;
    Ok(Grade {
        grade,
        total_points,
    })
}

/// Another EXCELLENT fits the school's quota only while fewer than `quota` other teachers have
/// one.
fn decide_excellent_quota(quota: usize, excellent_others: usize) -> Result<()> {
    if excellent_others >= quota {
        return Err(AssessmentError::refused(
            tica_server::errors::ErrorReason::ExcellentQuotaUsed,
            "",
            format!("the school's quota of {quota} excellent participants is used up"),
        ));
    }
    Ok(())
}

/// What a grading records.
struct Graded<'a> {
    grade: Grade,
    request: &'a GradeRequest,
    /// The assessor's id.
    assessor: &'a str,
    now: i64,
}

/// → GRADED with the new grading; the previous one, if any, goes to the history.
fn decide_graded(mut s: SubmissionRecord, facts: &Graded) -> Decision<SubmissionRecord> {
    let request = facts.request;
    if let Some(previous) = s.grading.take() {
        s.history.push(previous);
    }
    s.grading = Some(GradingRecord {
        grade: facts.grade.grade,
        rubric_scores: request.rubric_scores.clone(),
        total_points: facts.grade.total_points,
        invalid_evidence: request.invalid_evidence.clone(),
        comment: request.comment.trim().to_owned(),
        assessor: facts.assessor.to_owned(),
        micros: facts.now,
    });
    s.state = SubmissionState::Graded;
    s.update_micros = next_micros(s.update_micros);
    let audit = serde_json::json!({
        "grade": facts.grade.grade.key(),
        "invalid_evidence": request.invalid_evidence.len(),
        "assessor": format!("assessors/{}", facts.assessor),
    });
    Decision { record: s, audit }
}

/// A submission's resource name.
pub fn submission_name(s: &SubmissionRecord) -> String {
    format!(
        "batches/{}/participants/{}/submissions/{}",
        s.batch_id, s.teacher_number, s.code
    )
}

#[cfg(test)]
mod tests {
    use tica_domain::division::DivisionCode;
    use tica_domain::policy::{EvidenceKind, EvidenceRequirement, EvidenceRule};
    use tica_domain::{AssessorLevel, AssessorState, ScopePath};
    use tica_server::errors::ErrorReason;

    use super::*;

    fn submission(state: SubmissionState) -> SubmissionRecord {
        SubmissionRecord {
            batch_id: "b1".into(),
            teacher_number: "T1".into(),
            code: "A1".into(),
            school_code: "6401040001".into(),
            path: ScopePath::everything(),
            state,
            submit_micros: None,
            grading: None,
            history: Vec::new(),
            return_reason: String::new(),
            carried_over: false,
            update_micros: 1,
            loaded: None,
        }
    }

    fn evidence(id: &str, kind: &str, code: &str) -> EvidenceRecord {
        EvidenceRecord {
            id: id.into(),
            batch_id: "b1".into(),
            teacher_number: "T1".into(),
            path: ScopePath::everything(),
            codes: vec![code.into()],
            kind: kind.into(),
            file_name: String::new(),
            content_type: String::new(),
            size_bytes: 0,
            sha256: String::new(),
            duration_seconds: 0,
            description: String::new(),
            uploaded_by: Default::default(),
            object_key: String::new(),
            create_micros: 0,
        }
    }

    fn grader(teacher_number: &str) -> GraderFacts<'_> {
        GraderFacts {
            id: "a1",
            teacher_number,
            level: AssessorLevel::School,
            registered_at: "schools/6401040001",
            state: AssessorState::Registered,
            subjects: &[],
        }
    }

    fn work() -> GradedWork<'static> {
        GradedWork {
            teacher_number: "T1",
            school_code: "6401040001",
            county: DivisionCode::parse("640104").unwrap(),
            subject: "数学",
        }
    }

    fn request(grade: Option<GradeKey>) -> GradeRequest {
        GradeRequest {
            assessor: "assessors/a1".into(),
            grade,
            ..Default::default()
        }
    }

    fn is_precondition(r: Result<impl std::fmt::Debug>) -> bool {
        matches!(r, Err(e) if tica_server::errors::reason_code(e.reason())
            == Some(tonic::Code::FailedPrecondition))
    }

    #[test]
    fn a_registered_assessor_of_the_school_grades_a_submitted_submission() {
        let s = submission(SubmissionState::Submitted);
        let rule = GradingRule::default();
        assert!(decide_grader(&grader("T9"), &work(), &rule, &s).is_ok());
        let graded = submission(SubmissionState::Graded);
        assert!(decide_grader(&grader("T9"), &work(), &rule, &graded).is_ok());
    }

    /// 《宁夏测评实施办法》§七(二): never their own submission.
    #[test]
    fn an_assessor_never_grades_their_own_submission() {
        let s = submission(SubmissionState::Submitted);
        let r = decide_grader(&grader("T1"), &work(), &GradingRule::default(), &s);
        assert!(
            matches!(r, Err(AssessmentError::PermissionDenied(_))),
            "{r:?}"
        );
    }

    /// 《宁夏测评实施办法》§七(二): only a registered assessor.
    #[test]
    fn a_suspended_assessor_grades_nothing() {
        let s = submission(SubmissionState::Submitted);
        let mut g = grader("T9");
        g.state = AssessorState::Suspended;
        let r = decide_grader(&g, &work(), &GradingRule::default(), &s);
        assert!(
            matches!(r, Err(AssessmentError::PermissionDenied(_))),
            "{r:?}"
        );
    }

    #[test]
    fn only_a_submitted_submission_is_graded_and_never_one_carried_over() {
        let rule = GradingRule::default();
        let draft = submission(SubmissionState::Draft);
        assert!(is_precondition(decide_grader(
            &grader("T9"),
            &work(),
            &rule,
            &draft
        )));
        let mut carried = submission(SubmissionState::Submitted);
        carried.carried_over = true;
        assert!(is_precondition(decide_grader(
            &grader("T9"),
            &work(),
            &rule,
            &carried
        )));
    }

    #[test]
    fn without_a_rubric_the_given_grade_is_the_grade_and_one_is_required() {
        let s = submission(SubmissionState::Submitted);
        let rule = GradingRule::default();
        let grade = decide_grade(&rule, &request(Some(GradeKey::Pass)), &s, &[]).unwrap();
        assert_eq!(
            grade,
            Grade {
                grade: GradeKey::Pass,
                total_points: 0
            }
        );
        let r = decide_grade(&rule, &request(None), &s, &[]);
        assert!(matches!(r, Err(AssessmentError::Invalid(_))), "{r:?}");
    }

    /// 《宁夏测评实施办法》§四2: evidence marked invalid makes the submission FAIL.
    #[test]
    fn evidence_marked_invalid_makes_the_submission_fail() {
        let s = submission(SubmissionState::Submitted);
        let rule = GradingRule::default();
        let evidence = [evidence("e1", "video", "A1")];
        let mut asked = request(Some(GradeKey::Pass));
        asked.invalid_evidence = vec![InvalidEvidenceRecord {
            evidence: "e1".into(),
            reason: "not_own_image".into(),
            explanation: String::new(),
        }];
        let r = decide_grade(&rule, &asked, &s, &evidence);
        assert!(matches!(r, Err(AssessmentError::Invalid(_))), "{r:?}");
        asked.grade = Some(GradeKey::Fail);
        assert_eq!(
            decide_grade(&rule, &asked, &s, &evidence).unwrap().grade,
            GradeKey::Fail
        );
    }

    #[test]
    fn evidence_marked_invalid_must_be_evidence_of_this_submission() {
        let s = submission(SubmissionState::Submitted);
        let evidence = [evidence("e1", "video", "B2")];
        let mut asked = request(Some(GradeKey::Fail));
        asked.invalid_evidence = vec![InvalidEvidenceRecord {
            evidence: "e1".into(),
            reason: "not_own_image".into(),
            explanation: String::new(),
        }];
        let r = decide_grade(&GradingRule::default(), &asked, &s, &evidence);
        let Err(AssessmentError::Invalid(problems)) = r else {
            panic!("{r:?}");
        };
        assert_eq!(problems[0].0, "invalid_evidence[0].evidence");
    }

    #[test]
    fn an_excellent_fits_while_fewer_other_teachers_than_the_quota_have_one() {
        assert!(decide_excellent_quota(2, 1).is_ok());
        assert!(is_precondition(decide_excellent_quota(2, 2)));
        assert!(is_precondition(decide_excellent_quota(0, 0)));
    }

    #[test]
    fn grading_again_keeps_the_previous_grading_in_the_history() {
        let asked = request(Some(GradeKey::Pass));
        let facts = |grade| Graded {
            grade: Grade {
                grade,
                total_points: 0,
            },
            request: &asked,
            assessor: "a1",
            now: 7,
        };
        let once = decide_graded(
            submission(SubmissionState::Submitted),
            &facts(GradeKey::Fail),
        );
        let twice = decide_graded(once.record, &facts(GradeKey::Pass));
        let s = twice.record;
        assert_eq!(s.state, SubmissionState::Graded);
        assert_eq!(s.grading.as_ref().unwrap().grade, GradeKey::Pass);
        assert_eq!(s.history.len(), 1);
        assert_eq!(s.history[0].grade, GradeKey::Fail);
        let audit = serde_json::json!({
            "grade": "pass",
            "invalid_evidence": 0,
            "assessor": "assessors/a1",
        });
        assert_eq!(twice.audit, audit);
    }

    fn hand_in(rules: &PolicyRules, evidence: &[EvidenceRecord]) -> Result<SubmissionRecord> {
        let today = time::macros::date!(2026 - 05 - 01);
        let facts = HandIn {
            today,
            deadline: Some(today),
            rules,
            evidence,
            now: 9,
        };
        decide_hand_in(submission(SubmissionState::Draft), &facts).map(|d| d.record)
    }

    #[test]
    fn handing_in_needs_every_evidence_kind_the_policy_requires() {
        let rules = PolicyRules {
            evidence: Some(EvidenceRule {
                requirements: vec![EvidenceRequirement {
                    micro_competencies: vec![],
                    required_kinds: vec![EvidenceKind::Video, EvidenceKind::Reflection],
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = hand_in(&rules, &[evidence("e1", "video", "A1")]);
        let Err(refused) = r else {
            panic!("{r:?}");
        };
        assert_eq!(refused.reason(), ErrorReason::EvidenceMissing);
        assert_eq!(
            refused.to_string(),
            "attach evidence of these kinds first: reflection"
        );
        let both = [
            evidence("e1", "video", "A1"),
            evidence("e2", "reflection", "A1"),
        ];
        let s = hand_in(&rules, &both).unwrap();
        assert_eq!(s.state, SubmissionState::Submitted);
        assert_eq!(s.submit_micros, Some(9));
    }

    #[test]
    fn handing_in_after_the_submission_deadline_is_refused() {
        let facts = HandIn {
            today: time::macros::date!(2026 - 05 - 02),
            deadline: Some(time::macros::date!(2026 - 05 - 01)),
            rules: &PolicyRules::default(),
            evidence: &[],
            now: 9,
        };
        let r = decide_hand_in(submission(SubmissionState::Draft), &facts);
        assert!(is_precondition(r));
    }

    #[test]
    fn a_returned_submission_is_a_draft_again_and_its_grading_goes_to_the_history() {
        let mut s = submission(SubmissionState::Graded);
        s.grading = decide_graded(
            submission(SubmissionState::Submitted),
            &Graded {
                grade: Grade {
                    grade: GradeKey::Pass,
                    total_points: 0,
                },
                request: &request(None),
                assessor: "a1",
                now: 7,
            },
        )
        .record
        .grading;
        assert!(require_returnable(&s).is_ok());
        let returned = decide_return(s, "  补充反思  ").record;
        assert_eq!(returned.state, SubmissionState::Draft);
        assert_eq!(returned.return_reason, "补充反思");
        assert!(returned.grading.is_none());
        assert_eq!(returned.history.len(), 1);
        assert!(is_precondition(require_returnable(&returned)));
    }
}
