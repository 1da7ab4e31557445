//! School results along the review chain, certification, offline checks, withdrawals.

use std::collections::{BTreeMap, HashMap};
use tica_server::retry_conflicts;

use tica_auth::Role;
use tica_domain::micro_competency;
use tica_domain::policy::{self as rules, CertificateMode, PolicyRules};

use super::rules::batch_rules;
use super::stream::CertifiedPayload;
use super::transition;
use super::{
    ADMINISTRATORS, Assessment, Ctx, Decision, Step, denied, require_covers,
    require_participant_access, require_role,
};
use crate::error::{AssessmentError, Result};
use crate::model::*;
use crate::store::{self, SchoolSums, Work, to_json};
use tica_domain::ScopePath;

/// What a principal's appraisal uses (《宁夏测评实施办法》§三(二)1).
#[derive(Clone, Debug, Default)]
pub struct Appraisal {
    /// The principals' teacher numbers.
    pub principals: Vec<String>,
    /// Teachers with a final grade.
    pub teachers_graded: i64,
    /// Of those, passed or excellent.
    pub teachers_passed: i64,
    /// Submissions graded.
    pub micro_competencies_graded: i64,
    /// Of those, passed.
    pub micro_competencies_passed: i64,
    /// Teachers enrolled.
    pub teachers_enrolled: i64,
    /// Teachers whose selection is accepted and every submission handed in.
    pub teachers_reached_target: i64,
    /// The school's grade, when known.
    pub school_grade: Option<GradeKey>,
    /// Whether the figures are final (the school's results are locked).
    pub is_final: bool,
}

/// A school's counts and grade in a batch.
#[derive(Clone, Debug, Default)]
pub struct SchoolFigures {
    /// Sums over its participants.
    pub sums: SchoolSums,
    /// Grade, once every participant is graded.
    pub grade: Option<GradeKey>,
    /// Why.
    pub explanation: String,
    /// Excellent places left under the policy's quota.
    pub quota_remaining: Option<i64>,
}

/// The unit grade of `sums` under `rule`, with an explanation, once all members are graded.
pub(crate) fn unit_grade(
    rule: Option<&rules::UnitGradeRule>,
    members: i64,
    graded: i64,
    excellent: i64,
    failed: i64,
) -> (Option<GradeKey>, String) {
    let Some(rule) = rule.filter(|r| r.enabled) else {
        return (None, String::new());
    };
    if members == 0 || graded < members {
        return (None, format!("{graded}/{members} 已评定"));
    }
    let grade = rules::unit_grade(rule, members as usize, excellent as usize, failed as usize);
    let explanation = format!(
        "优秀 {excellent}/{members}（标准 {}）；不合格 {failed}/{members}（标准 {}）",
        rule.excellent_share.display(),
        rule.fail_share.display()
    );
    (grade, explanation)
}

impl Assessment {
    /// A school's figures in a batch.
    pub(crate) async fn school_figures(
        &self,
        batch: &BatchRecord,
        rules: &PolicyRules,
        school: &SchoolResultRecord,
    ) -> Result<SchoolFigures> {
        let sums = store::school_sums(&self.db, &school.path, 0, &batch.id)
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        let (grade, explanation) = unit_grade(
            rules.school_grade.as_ref(),
            sums.participants,
            sums.graded,
            sums.excellent,
            sums.failed,
        );
        let quota_remaining = rules
            .grading
            .as_ref()
            .and_then(|g| rules::excellent_quota(g, sums.participants as usize))
            .map(|q| q as i64 - sums.excellent);
        Ok(SchoolFigures {
            sums,
            grade,
            explanation,
            quota_remaining,
        })
    }

    /// One school's results.
    pub async fn get_school_result(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        school: &str,
    ) -> Result<(SchoolResultRecord, SchoolFigures)> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
        let result = store::school_result(&self.db, batch_id, school)
            .await?
            .ok_or_else(|| {
                AssessmentError::NotFound(format!("batches/{batch_id}/schoolResults/{school}"))
            })?;
        if ctx.caller.role == Role::Teacher {
            return Err(denied(&ctx.caller));
        }
        require_covers(&ctx.caller, &result.path)?;
        let figures = self
            .school_figures(&batch, &batch_rules(&batch)?, &result)
            .await?;
        Ok((result, figures))
    }

    /// `result`'s figures, for a result the caller has just read or changed (access already
    /// checked).
    pub async fn with_figures(
        &self,
        result: SchoolResultRecord,
    ) -> Result<(SchoolResultRecord, SchoolFigures)> {
        let batch = self.stored_batch(&result.batch_id).await?;
        let figures = self
            .school_figures(&batch, &batch_rules(&batch)?, &result)
            .await?;
        Ok((result, figures))
    }

    /// The school results of a batch inside the caller's subtree.
    pub async fn list_school_results(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        state: Option<SchoolResultState>,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(SchoolResultRecord, SchoolFigures)>> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        if ctx.caller.role == Role::Teacher {
            return Err(denied(&ctx.caller));
        }
        let batch = self.get_batch(ctx, batch_id).await?;
        let rules = batch_rules(&batch)?;
        let scope = if ctx.caller.covers(&batch.path) {
            batch.path.clone()
        } else {
            ctx.caller.scope.clone()
        };
        let results = store::school_results_in(
            &self.db,
            batch_id,
            &scope,
            state.map(|s| s.key()).unwrap_or(""),
            after,
            limit,
        )
        .await?;
        let sums: HashMap<String, SchoolSums> = store::school_sums(&self.db, &scope, 0, batch_id)
            .await?
            .into_iter()
            .map(|s| (s.path.clone(), s))
            .collect();
        Ok(results
            .into_iter()
            .map(|r| {
                let s = sums.get(r.path.as_str()).cloned().unwrap_or_default();
                let (grade, explanation) = unit_grade(
                    rules.school_grade.as_ref(),
                    s.participants,
                    s.graded,
                    s.excellent,
                    s.failed,
                );
                let quota_remaining = rules
                    .grading
                    .as_ref()
                    .and_then(|g| rules::excellent_quota(g, s.participants as usize))
                    .map(|q| q as i64 - s.excellent);
                (
                    r,
                    SchoolFigures {
                        sums: s,
                        grade,
                        explanation,
                        quota_remaining,
                    },
                )
            })
            .collect())
    }

    async fn move_school(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        school: &str,
        step: Step<'_, SchoolResultState>,
    ) -> Result<SchoolResultRecord> {
        retry_conflicts(|| self.move_school_step(ctx, batch_id, school, &step)).await
    }

    /// Reads the school's result, the batch and what the move depends on, decides, commits.
    async fn move_school_step(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        school: &str,
        step: &Step<'_, SchoolResultState>,
    ) -> Result<SchoolResultRecord> {
        let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
        let name = format!("batches/{batch_id}/schoolResults/{school}");
        let result = store::school_result(&self.db, batch_id, school)
            .await?
            .ok_or_else(|| AssessmentError::NotFound(name.clone()))?;
        require_covers(&ctx.caller, &result.path)?;
        require_school_move(&result, &batch, step)?;
        let mut work = Work::default();
        if step.to == SchoolResultState::InCountyReview {
            let participants = store::participants_of(&self.db, batch_id, school).await?;
            require_all_graded(&participants, school)?;
        }
        let moved = step.transition(ctx, result.state.key(), step.to.key());
        let Decision {
            record: result,
            audit,
        } = decide_school_move(result, step, moved);
        work.audits
            .push(ctx.audit(step.method, name, &result.path, audit));
        // When the last school passes county review the county is ready for the audit.
        // Whether this approval is the last depends on the other schools' results, which
        // this call does not write: two last approvals at once would each read the other
        // school as unapproved and leave the batch OPEN. So every approval writes the batch
        // — moved, or only touched (its `update_micros` bumped) — and concurrent approvals
        // conflict: the loser's commit fails the version check and `retry` reads again. The
        // batch was read above, before the other schools' results, so a batch read after the
        // winner's commit comes with results read after it too.
        if step.to == SchoolResultState::CountyApproved {
            let everything = ScopePath::everything();
            let others =
                store::school_results_in(&self.db, batch_id, &everything, "", "", i64::MAX).await?;
            let reason = "every school passed county review";
            let ready = transition(
                ctx,
                batch.state.key(),
                "ready_for_audit",
                reason,
                step.round,
            );
            work.batches
                .push(decide_county_ready(batch, &others, school, ready));
        }
        work.school_results.push(result.clone());
        self.commit(&work).await?;
        Ok(result)
    }

    /// OPEN or RETURNED → IN_COUNTY_REVIEW: every participant must be graded; the results lock.
    pub async fn submit_school_results(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        school: &str,
        reason: &str,
    ) -> Result<SchoolResultRecord> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        if !matches!(ctx.caller.role, Role::SchoolAdmin)
            && !ADMINISTRATORS.contains(&ctx.caller.role)
        {
            return Err(denied(&ctx.caller));
        }
        self.move_school(
            ctx,
            batch_id,
            school,
            Step {
                method: "SubmitSchoolResults",
                from: &[SchoolResultState::Open, SchoolResultState::Returned],
                to: SchoolResultState::InCountyReview,
                reason,
                round: "",
            },
        )
        .await
    }

    /// IN_COUNTY_REVIEW → COUNTY_APPROVED (the sampling service after a passed review, or the
    /// county office).
    pub async fn approve_school_results(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        school: &str,
        round: &str,
        reason: &str,
    ) -> Result<SchoolResultRecord> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        require_role(
            &ctx.caller,
            &[Role::CountyOffice, Role::CityOffice, Role::ProvinceOffice],
            "approve school results",
        )?;
        self.move_school(
            ctx,
            batch_id,
            school,
            Step {
                method: "ApproveSchoolResults",
                from: &[SchoolResultState::InCountyReview],
                to: SchoolResultState::CountyApproved,
                reason,
                round,
            },
        )
        .await
    }

    /// IN_COUNTY_REVIEW → RETURNED: back to the school for re-grading (返回学校重新评价,
    /// 《宁夏测评实施办法》§五(一)3).
    pub async fn return_school_results(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        school: &str,
        round: &str,
        reason: &str,
    ) -> Result<SchoolResultRecord> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        require_role(
            &ctx.caller,
            &[Role::CountyOffice, Role::CityOffice, Role::ProvinceOffice],
            "return school results",
        )?;
        if reason.trim().is_empty() {
            return Err(AssessmentError::invalid(
                "reason",
                "say why the results go back",
            ));
        }
        self.move_school(
            ctx,
            batch_id,
            school,
            Step {
                method: "ReturnSchoolResults",
                from: &[SchoolResultState::InCountyReview],
                to: SchoolResultState::Returned,
                reason,
                round,
            },
        )
        .await
    }

    /// Records a drawn participant's offline check.
    pub async fn record_offline_check(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        outcome: &str,
        round: &str,
        reason: &str,
    ) -> Result<ParticipantRecord> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        require_role(
            &ctx.caller,
            &[Role::CountyOffice, Role::CityOffice, Role::ProvinceOffice],
            "record offline checks",
        )?;
        if !matches!(outcome, "pending" | "passed" | "failed") {
            return Err(AssessmentError::invalid(
                "outcome",
                "PENDING, PASSED or FAILED",
            ));
        }
        let check = (outcome, round, reason);
        retry_conflicts(|| self.offline_check_step(ctx, batch_id, teacher, check)).await
    }

    /// Reads the participant and its submissions, decides what the check makes of its grade,
    /// commits.
    async fn offline_check_step(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        (outcome, round, reason): (&str, &str, &str),
    ) -> Result<ParticipantRecord> {
        let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
        if batch.state == BatchState::Certified {
            return Err(AssessmentError::refused(
                tica_server::errors::ErrorReason::BatchState,
                "",
                "the batch is certified",
            ));
        }
        let p = self.participant_or_404(batch_id, teacher).await?;
        require_participant_access(&ctx.caller, &p)?;
        let check = OfflineCheckRecord {
            outcome: outcome.into(),
            notes: reason.trim().into(),
            review_round: round.into(),
            actor: ctx.actor(),
            micros: tica_storage::now_micros(),
        };
        let submissions = store::submissions_of(&self.db, batch_id, teacher).await?;
        let rules = batch_rules(&batch)?;
        let decision = decide_offline_check(p, check, &submissions, &rules, batch.open_date);
        self.commit_participant(ctx, "RecordOfflineCheck", decision)
            .await
    }

    /// Certifies a county's results and appends one certified-results event per certificate
    /// the policy gives: per passed micro-competency, or one level certificate per passed
    /// teacher.
    pub async fn certify_batch(
        &self,
        ctx: &Ctx,
        id: &str,
        round: &str,
        reason: &str,
    ) -> Result<BatchRecord> {
        require_role(
            &ctx.caller,
            &[Role::CountyOffice, Role::CityOffice, Role::ProvinceOffice],
            "certify results",
        )?;
        let batch = self.batch_or_404(&ctx.caller, id).await?;
        require_covers(&ctx.caller, &batch.path)?;
        let rules = batch_rules(&batch)?;
        let audit_needed = rules
            .sampling
            .as_ref()
            .is_some_and(|s| s.province_audit.enabled);
        let from: &[BatchState] = if audit_needed {
            &[BatchState::InProvinceAudit]
        } else {
            &[BatchState::InProvinceAudit, BatchState::ReadyForAudit]
        };
        if ctx.caller.role == Role::CountyOffice && audit_needed {
            return Err(AssessmentError::PermissionDenied(
                "the policy has a province audit: the province (or its sampling service) certifies"
                    .into(),
            ));
        }
        let participants = store::participants_of(&self.db, id, "").await?;
        if let Some(p) = participants
            .iter()
            .find(|p| p.enrolled && p.grade.is_none())
        {
            return Err(AssessmentError::FailedPrecondition(format!(
                "teachers/{} has no final grade yet",
                p.teacher_number
            )));
        }
        let passed: Vec<&ParticipantRecord> = participants
            .iter()
            .filter(|p| p.enrolled && matches!(p.grade, Some(GradeKey::Pass | GradeKey::Excellent)))
            .collect();
        let numbers: Vec<String> = passed.iter().map(|p| p.teacher_number.clone()).collect();
        let people = self.roster.teachers(&ctx.token, &numbers).await?;
        let county_name = self
            .roster
            .jurisdiction_name(&ctx.token, batch.county)
            .await?;
        let mut school_names: BTreeMap<String, String> = BTreeMap::new();
        for s in &batch.schools {
            school_names.insert(
                s.clone(),
                self.roster.school(&ctx.token, s).await?.display_name,
            );
        }
        let certificate = rules.certificate.clone().unwrap_or_default();
        let mode = certificate.mode;
        let now = tica_storage::now_micros();
        // What the certificates print: the office's acceptance date, else today (issue 21).
        let certificate_date = tica_server::proto_time::date_to_iso(
            batch.certificate_date.unwrap_or_else(super::today),
        );
        let mut events: Vec<(String, CertifiedPayload)> = Vec::new();
        for p in &passed {
            let person = people.get(&p.teacher_number).ok_or_else(|| {
                AssessmentError::Internal(format!(
                    "the roster did not return teachers/{}",
                    p.teacher_number
                ))
            })?;
            let base = CertifiedPayload {
                batch: format!("batches/{id}"),
                year: batch.year,
                teacher: format!("teachers/{}", p.teacher_number),
                teacher_display_name: person.display_name.clone(),
                teacher_id_number_masked: person.id_number_masked.clone(),
                school: format!("schools/{}", p.school_code),
                school_display_name: school_names
                    .get(&p.school_code)
                    .cloned()
                    .unwrap_or_default(),
                county: format!("jurisdictions/{}", batch.county),
                county_display_name: county_name.clone(),
                certificate_mode: mode
                    .map(|m| {
                        match m {
                            CertificateMode::PerMicroCompetency => "per_micro_competency",
                            CertificateMode::Level => "level",
                        }
                        .to_owned()
                    })
                    .unwrap_or_default(),
                grade: p.grade.map(|g| g.key().to_owned()).unwrap_or_default(),
                counted_centihours: p.counted_centihours,
                issuing_authority: certificate.issuing_authority.clone(),
                issuing_jurisdiction: certificate.issuing_jurisdiction.clone(),
                certificate_title: certificate.title.clone(),
                policy_versions: batch.policy_versions.clone(),
                certificate_date: certificate_date.clone(),
                ..Default::default()
            };
            match mode {
                Some(CertificateMode::PerMicroCompetency) => {
                    for s in store::submissions_of(&self.db, id, &p.teacher_number).await? {
                        let Some(g) = s.grading.as_ref().filter(|g| g.grade != GradeKey::Fail)
                        else {
                            continue;
                        };
                        let Some(mc) = micro_competency::by_code(&s.code) else {
                            continue;
                        };
                        let mut payload = base.clone();
                        payload.micro_competency = mc.code.to_owned();
                        payload.micro_competency_display_name = mc.name_zh.to_owned();
                        payload.grade = g.grade.key().to_owned();
                        payload.credits = i32::from(mc.credits);
                        events.push((format!("{id}/{}/{}", p.teacher_number, mc.code), payload));
                    }
                }
                Some(CertificateMode::Level) => {
                    events.push((format!("{id}/{}/level", p.teacher_number), base))
                }
                None => {}
            }
        }
        let schools =
            store::school_results_in(&self.db, id, &ScopePath::everything(), "", "", i64::MAX)
                .await?;
        let sequence_start = batch.last_sequence;
        let certified_numbers: std::collections::HashSet<String> =
            numbers.iter().cloned().collect();
        let updated = self
            .move_batch(
                ctx,
                id,
                Step {
                    method: "CertifyBatch",
                    from,
                    to: BatchState::Certified,
                    reason,
                    round,
                },
                |b, work| {
                    if b.last_sequence != sequence_start {
                        return Err(AssessmentError::Conflict(
                            "events were appended meanwhile; retry".into(),
                        ));
                    }
                    for (sequence, (key, payload)) in (b.last_sequence + 1..).zip(&events) {
                        work.events.push(CertifiedEventRecord {
                            batch_id: id.to_owned(),
                            sequence,
                            kind: "certified".into(),
                            result_key: key.clone(),
                            payload_json: to_json(payload),
                            event_micros: now,
                        });
                    }
                    for r in &schools {
                        let mut r = r.clone();
                        r.transitions.push(transition(
                            ctx,
                            r.state.key(),
                            "certified",
                            reason,
                            round,
                        ));
                        r.state = SchoolResultState::Certified;
                        r.update_micros = next_micros(r.update_micros);
                        work.school_results.push(r);
                    }
                    for p in &participants {
                        if certified_numbers.contains(&p.teacher_number) {
                            let mut p = p.clone();
                            p.certified = true;
                            p.update_micros = next_micros(p.update_micros);
                            work.participants.push(p);
                        }
                    }
                    Ok(())
                },
            )
            .await?;
        // The batch's own record carries the new last sequence.
        let last = sequence_start + events.len() as i64;
        retry_conflicts(|| self.last_sequence_step(id, sequence_start, last)).await?;
        let _ = updated;
        self.stored_batch(id).await
    }

    /// Withdraws a certified result (a review overturned it), or with `code` empty every one of
    /// the participant's results still standing: appends a WITHDRAWN event per result so that its
    /// certificate is revoked, all in one transaction. Province office.
    pub async fn withdraw_certified_result(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        code: &str,
        reason: &str,
    ) -> Result<ParticipantRecord> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        require_role(
            &ctx.caller,
            &[Role::ProvinceOffice],
            "withdraw certified results",
        )?;
        if reason.trim().is_empty() {
            return Err(AssessmentError::invalid("reason", "say why"));
        }
        let result = (teacher, code);
        retry_conflicts(|| self.withdraw_result_step(ctx, batch_id, result, reason)).await
    }

    /// Reads the batch's events and the participant, decides the withdrawal, commits.
    async fn withdraw_result_step(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        (teacher, code): (&str, &str),
        reason: &str,
    ) -> Result<ParticipantRecord> {
        let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
        let p = self.participant_or_404(batch_id, teacher).await?;
        require_covers(&ctx.caller, &p.path)?;
        let events = store::events_after(&self.db, batch_id, 0, i64::MAX).await?;
        let now = tica_storage::now_micros();
        let withdrawn = decide_result_withdrawal(batch, p, &events, (code, reason), now)?;
        let ResultWithdrawal {
            batch,
            events,
            participant: p,
            audits,
        } = withdrawn;
        let name = super::participants::participant_name(&p);
        let audits = audits
            .into_iter()
            .map(|audit| ctx.audit("WithdrawCertifiedResult", name.clone(), &p.path, audit))
            .collect();
        self.commit(&Work {
            batches: vec![batch],
            participants: vec![p.clone()],
            events,
            audits,
            ..Default::default()
        })
        .await?;
        Ok(p)
    }

    /// Stores the batch's new last sequence, unless another certification moved it meanwhile.
    async fn last_sequence_step(&self, id: &str, start: i64, last: i64) -> Result<()> {
        let mut b = self.stored_batch(id).await?;
        if b.last_sequence == start {
            b.last_sequence = last;
            b.update_micros = next_micros(b.update_micros);
            self.commit(&Work {
                batches: vec![b],
                ..Default::default()
            })
            .await?;
        }
        Ok(())
    }

    /// The figures of a school a principal's appraisal uses.
    pub async fn principal_appraisal(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        school: &str,
    ) -> Result<Appraisal> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        let (result, figures) = self.get_school_result(ctx, batch_id, school).await?;
        let participants = store::participants_of(&self.db, batch_id, school).await?;
        let enrolled: Vec<&ParticipantRecord> =
            participants.iter().filter(|p| p.enrolled).collect();
        Ok(Appraisal {
            principals: enrolled
                .iter()
                .filter(|p| p.roles.contains(&tica_domain::PersonRole::Principal))
                .map(|p| p.teacher_number.clone())
                .collect(),
            teachers_graded: figures.sums.graded,
            teachers_passed: figures.sums.passed,
            micro_competencies_graded: figures.sums.submissions_graded,
            micro_competencies_passed: figures.sums.submissions_passed,
            teachers_enrolled: enrolled.len() as i64,
            teachers_reached_target: enrolled
                .iter()
                .filter(|p| {
                    p.selection_state.is_made()
                        && p.submissions_expected > 0
                        && p.submissions_submitted >= p.submissions_expected
                })
                .count() as i64,
            school_grade: figures.grade,
            is_final: !result.state.unlocked(),
        })
    }
}

/// A batch's totals for its resource.
#[derive(Clone, Debug, Default)]
pub struct BatchFigures {
    /// Enrolled participants.
    pub participants: i64,
    /// Schools: total, excellent, passed, failed.
    pub schools: [i64; 4],
    /// The county's grade, when the policy grades counties and every school is graded.
    pub county_grade: Option<GradeKey>,
    /// Why.
    pub explanation: String,
}

impl Assessment {
    /// A batch's participant count, school grades and county grade.
    pub async fn batch_figures(&self, batch: &BatchRecord) -> Result<BatchFigures> {
        let rules = batch_rules(batch)?;
        let sums = store::school_sums(&self.db, &batch.path, 0, &batch.id).await?;
        let mut figures = BatchFigures::default();
        for s in &sums {
            figures.participants += s.participants;
            figures.schools[0] += 1;
            match unit_grade(
                rules.school_grade.as_ref(),
                s.participants,
                s.graded,
                s.excellent,
                s.failed,
            )
            .0
            {
                Some(GradeKey::Excellent) => figures.schools[1] += 1,
                Some(GradeKey::Pass) => figures.schools[2] += 1,
                Some(GradeKey::Fail) => figures.schools[3] += 1,
                None => {}
            }
        }
        let graded = figures.schools[1] + figures.schools[2] + figures.schools[3];
        let (grade, explanation) = unit_grade(
            rules.county_grade.as_ref(),
            figures.schools[0],
            graded,
            figures.schools[1],
            figures.schools[3],
        );
        figures.county_grade = grade;
        figures.explanation = explanation;
        Ok(figures)
    }
}

/// A school's results move only from one of the step's states, and only while the batch takes
/// changes.
fn require_school_move(
    result: &SchoolResultRecord,
    batch: &BatchRecord,
    step: &Step<'_, SchoolResultState>,
) -> Result<()> {
    if !step.from.contains(&result.state) {
        let allowed: Vec<&str> = step.from.iter().map(|s| s.key()).collect();
        return Err(AssessmentError::refused(
            tica_server::errors::ErrorReason::ResultsLocked,
            "",
            format!(
                "the school's results are {}; {} needs {}",
                result.state.key(),
                step.method,
                allowed.join(" or ")
            ),
        ));
    }
    if !matches!(batch.state, BatchState::Open | BatchState::ReturnedToCounty) {
        return Err(AssessmentError::refused(
            tica_server::errors::ErrorReason::BatchState,
            "",
            format!("batches/{} is {}", batch.id, batch.state.key()),
        ));
    }
    Ok(())
}

/// A school goes to county review only when every enrolled participant has a grade.
fn require_all_graded(participants: &[ParticipantRecord], school: &str) -> Result<()> {
    let pending = participants
        .iter()
        .filter(|p| p.enrolled && p.grade.is_none())
        .count();
    if pending > 0 {
        return Err(AssessmentError::FailedPrecondition(format!(
            "{pending} participants of schools/{school} are not fully graded yet"
        )));
    }
    Ok(())
}

/// The school's results in the step's new state, with the transition recorded.
fn decide_school_move(
    mut result: SchoolResultRecord,
    step: &Step<'_, SchoolResultState>,
    transition: Transition,
) -> Decision<SchoolResultRecord> {
    result.transitions.push(transition);
    result.state = step.to;
    result.update_micros = next_micros(result.update_micros);
    let audit = serde_json::json!({
        "to": step.to.key(),
        "reason": step.reason.trim(),
        "review_round": step.round,
    });
    Decision {
        record: result,
        audit,
    }
}

/// The batch once `school` passed county review: READY_FOR_AUDIT when every other school has
/// too, else only touched (so that two last approvals at once conflict).
fn decide_county_ready(
    mut batch: BatchRecord,
    results: &[SchoolResultRecord],
    school: &str,
    transition: Transition,
) -> BatchRecord {
    let all_approved = results
        .iter()
        .all(|r| r.school_code == school || r.state == SchoolResultState::CountyApproved);
    if all_approved {
        batch.transitions.push(transition);
        batch.state = BatchState::ReadyForAudit;
    }
    batch.update_micros = next_micros(batch.update_micros);
    batch
}

/// The participant with its offline check recorded and its grade recomputed (a failed check
/// fails the final recognition where the policy requires one, §五(三)).
fn decide_offline_check(
    mut p: ParticipantRecord,
    check: OfflineCheckRecord,
    submissions: &[SubmissionRecord],
    rules: &PolicyRules,
    open_date: Option<time::Date>,
) -> Decision<ParticipantRecord> {
    let audit = serde_json::json!({
        "outcome": check.outcome,
        "review_round": check.review_round,
    });
    p.offline_check = Some(check);
    super::recount::recompute(&mut p, submissions, rules, None, open_date);
    p.update_micros = next_micros(p.update_micros);
    Decision { record: p, audit }
}

/// What withdrawing certified results writes.
struct ResultWithdrawal {
    /// The batch, with the last event's sequence as its last.
    batch: BatchRecord,
    /// One WITHDRAWN event per result, in the order the results were certified.
    events: Vec<CertifiedEventRecord>,
    /// The participant, with the withdrawal among its grade's reasons.
    participant: ParticipantRecord,
    /// One audit entry per result, as for a single one: `{result, reason}`.
    audits: Vec<serde_json::Value>,
}

/// Withdraws certified results of a participant: the result of `code`, or with `code` empty
/// every result of the participant still standing — the level result, or under a policy that
/// certifies per micro-competency each of their micro-competencies (the contract on
/// WithdrawCertifiedResultRequest). Each must have been certified; what is withdrawn already is
/// refused for a code and skipped for the whole, which is refused only when nothing stands. A
/// WITHDRAWN event carrying the reason follows per result; the participant stays certified while
/// one of their results does.
fn decide_result_withdrawal(
    mut batch: BatchRecord,
    mut p: ParticipantRecord,
    events: &[CertifiedEventRecord],
    (code, reason): (&str, &str),
    now: i64,
) -> Result<ResultWithdrawal> {
    let prefix = format!("{}/{}/", batch.id, p.teacher_number);
    let withdrawn: std::collections::HashSet<&str> = events
        .iter()
        .filter(|e| e.kind == "withdrawn")
        .map(|e| e.result_key.as_str())
        .collect();
    let certified: Vec<&CertifiedEventRecord> = events
        .iter()
        .filter(|e| e.kind == "certified" && e.result_key.starts_with(&prefix))
        .collect();
    let chosen: Vec<&CertifiedEventRecord> = if code.is_empty() {
        if certified.is_empty() {
            return Err(AssessmentError::NotFound(format!(
                "certified results of {prefix}*"
            )));
        }
        let standing: Vec<_> = certified
            .iter()
            .copied()
            .filter(|e| !withdrawn.contains(e.result_key.as_str()))
            .collect();
        if standing.is_empty() {
            return Err(AssessmentError::FailedPrecondition(format!(
                "every certified result of {prefix}* is withdrawn already"
            )));
        }
        standing
    } else {
        let key = format!("{prefix}{code}");
        let one = certified
            .iter()
            .copied()
            .find(|e| e.result_key == key)
            .ok_or_else(|| AssessmentError::NotFound(format!("certified result {key}")))?;
        if withdrawn.contains(key.as_str()) {
            return Err(AssessmentError::FailedPrecondition(format!(
                "{key} is withdrawn already"
            )));
        }
        vec![one]
    };
    let reason = reason.trim();
    let mut out = Vec::with_capacity(chosen.len());
    let mut audits = Vec::with_capacity(chosen.len());
    for certified in &chosen {
        let mut payload: CertifiedPayload = serde_json::from_str(&certified.payload_json)
            .map_err(|_| AssessmentError::Internal("stored event does not parse".into()))?;
        payload.withdraw_reason = reason.to_owned();
        batch.last_sequence += 1;
        out.push(CertifiedEventRecord {
            batch_id: batch.id.clone(),
            sequence: batch.last_sequence,
            kind: "withdrawn".into(),
            result_key: certified.result_key.clone(),
            payload_json: to_json(&payload),
            event_micros: now,
        });
        audits.push(serde_json::json!({ "result": certified.result_key, "reason": reason }));
    }
    batch.update_micros = next_micros(batch.update_micros);
    let standing = certified.iter().any(|e| {
        !withdrawn.contains(e.result_key.as_str())
            && !chosen.iter().any(|c| c.result_key == e.result_key)
    });
    if code.is_empty() || !standing {
        p.certified = false;
    }
    p.grade_reasons.push(format!("认证撤回：{reason}"));
    p.update_micros = next_micros(p.update_micros);
    Ok(ResultWithdrawal {
        batch,
        events: out,
        participant: p,
        audits,
    })
}

#[cfg(test)]
mod tests {
    use super::super::batches::tests::{batch, moved};
    use super::*;
    use tica_server::errors::ErrorReason;

    fn result(school: &str, state: SchoolResultState) -> SchoolResultRecord {
        SchoolResultRecord {
            batch_id: "b1".into(),
            school_code: school.into(),
            path: ScopePath::everything(),
            state,
            transitions: Vec::new(),
            update_micros: 1,
            loaded: None,
        }
    }

    fn certified_participant(teacher: &str) -> ParticipantRecord {
        let county = tica_domain::division::DivisionCode::parse("640104").unwrap();
        let t = crate::roster::RosterTeacher {
            number: teacher.into(),
            display_name: String::new(),
            id_number_masked: String::new(),
            school: "6401040001".into(),
            jurisdiction: county,
            birth_date: time::macros::date!(1980 - 01 - 01),
            category: tica_domain::TeacherCategory::Ordinary,
            roles: Vec::new(),
            subject: String::new(),
        };
        let mut p = super::super::batches::enrolment(&batch(BatchState::Certified), &t, "", 1);
        p.certified = true;
        p
    }

    fn event(sequence: i64, kind: &str, key: &str) -> CertifiedEventRecord {
        CertifiedEventRecord {
            batch_id: "b1".into(),
            sequence,
            kind: kind.into(),
            result_key: key.into(),
            payload_json: to_json(&CertifiedPayload::default()),
            event_micros: 1,
        }
    }

    #[test]
    fn an_empty_code_withdraws_the_level_result_under_a_level_policy_and_only_the_participants() {
        let mut b = batch(BatchState::Certified);
        b.last_sequence = 2;
        let events = [
            event(1, "certified", "b1/t1/level"),
            event(2, "certified", "b1/t2/level"),
        ];
        let w = decide_result_withdrawal(b, certified_participant("t1"), &events, ("", "造假"), 5)
            .unwrap();
        let keys: Vec<(i64, &str, &str)> = w
            .events
            .iter()
            .map(|e| (e.sequence, e.kind.as_str(), e.result_key.as_str()))
            .collect();
        assert_eq!(keys, [(3, "withdrawn", "b1/t1/level")]);
        assert_eq!(w.batch.last_sequence, 3);
        assert!(!w.participant.certified);
        assert_eq!(
            w.audits,
            [serde_json::json!({ "result": "b1/t1/level", "reason": "造假" })]
        );
    }

    #[test]
    fn a_participant_stays_certified_until_their_last_result_is_withdrawn() {
        let mut b = batch(BatchState::Certified);
        b.last_sequence = 3;
        let events = [
            event(1, "certified", "b1/t1/B2"),
            event(2, "certified", "b1/t1/C1"),
            event(3, "withdrawn", "b1/t1/B2"),
        ];
        let p = certified_participant("t1");
        let w =
            decide_result_withdrawal(b.clone(), p.clone(), &events[..2], ("B2", "x"), 5).unwrap();
        assert!(w.participant.certified, "C1 stands");
        let w = decide_result_withdrawal(b.clone(), p.clone(), &events, ("C1", "x"), 5).unwrap();
        assert!(!w.participant.certified, "nothing stands");
        // Nothing of theirs was certified: NOT_FOUND; everything withdrawn: FAILED_PRECONDITION.
        let none = decide_result_withdrawal(
            b.clone(),
            certified_participant("t9"),
            &events,
            ("", "x"),
            5,
        );
        assert!(
            matches!(none, Err(AssessmentError::NotFound(_))),
            "{:?}",
            none.err()
        );
        let mut all = events.to_vec();
        all.push(event(4, "withdrawn", "b1/t1/C1"));
        let done = decide_result_withdrawal(b, p, &all, ("", "x"), 5);
        assert!(
            matches!(done, Err(AssessmentError::FailedPrecondition(_))),
            "{:?}",
            done.err()
        );
    }

    #[test]
    fn the_last_school_through_county_review_makes_the_batch_ready_for_audit() {
        let results = [
            result("s1", SchoolResultState::InCountyReview),
            result("s2", SchoolResultState::CountyApproved),
        ];
        let t = moved("open", "ready_for_audit");
        let b = decide_county_ready(batch(BatchState::Open), &results, "s1", t.clone());
        assert_eq!(b.state, BatchState::ReadyForAudit);
        assert_eq!(b.transitions, [t]);
    }

    #[test]
    fn an_approval_before_the_last_only_touches_the_batch() {
        let results = [
            result("s1", SchoolResultState::InCountyReview),
            result("s2", SchoolResultState::InCountyReview),
        ];
        let t = moved("open", "ready_for_audit");
        let b = decide_county_ready(batch(BatchState::Open), &results, "s1", t);
        assert_eq!(b.state, BatchState::Open);
        assert!(b.transitions.is_empty());
        assert!(
            b.update_micros > 1,
            "touched, so that concurrent approvals conflict"
        );
    }

    #[test]
    fn a_school_moves_only_from_the_steps_states_and_while_the_batch_takes_changes() {
        let step = Step {
            method: "ApproveSchoolResults",
            from: &[SchoolResultState::InCountyReview],
            to: SchoolResultState::CountyApproved,
            reason: "",
            round: "",
        };
        let open = batch(BatchState::Open);
        let approved = result("s1", SchoolResultState::CountyApproved);
        let Err(refused) = require_school_move(&approved, &open, &step) else {
            panic!("an approved school is approved again");
        };
        assert_eq!(refused.reason(), ErrorReason::ResultsLocked);
        assert_eq!(
            refused.to_string(),
            "the school's results are county_approved; ApproveSchoolResults needs in_county_review"
        );
        let in_review = result("s1", SchoolResultState::InCountyReview);
        assert!(require_school_move(&in_review, &open, &step).is_ok());
        let certified = batch(BatchState::Certified);
        assert!(require_school_move(&in_review, &certified, &step).is_err());
    }
}
