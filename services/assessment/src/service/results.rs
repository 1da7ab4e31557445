//! School results along the review chain, certification, offline checks, withdrawals.

use std::collections::{BTreeMap, HashMap};
use tica_server::retry_conflicts;

use tica_auth::Role;
use tica_domain::micro_competency;
use tica_domain::policy::{self as rules, CertificateMode, PolicyRules};

use super::batches::{batch_rules, transition};
use super::stream::CertifiedPayload;
use super::{
    ADMINISTRATORS, Assessment, Ctx, Step, denied, require_covers, require_participant_access,
    require_role,
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
        let Step {
            method,
            from,
            to,
            reason,
            round,
        } = step;
        retry_conflicts(|| async {
            let mut batch = self.batch_or_404(&ctx.caller, batch_id).await?;
            let mut result = store::school_result(&self.db, batch_id, school)
                .await?
                .ok_or_else(|| AssessmentError::NotFound(format!("batches/{batch_id}/schoolResults/{school}")))?;
            require_covers(&ctx.caller, &result.path)?;
            if !from.contains(&result.state) {
                return Err(AssessmentError::FailedPrecondition(format!("the school's results are {}; {method} needs {}", result.state.key(), from.iter().map(|s| s.key()).collect::<Vec<_>>().join(" or "))));
            }
            if !matches!(batch.state, BatchState::Open | BatchState::ReturnedToCounty) {
                return Err(AssessmentError::FailedPrecondition(format!("batches/{batch_id} is {}", batch.state.key())));
            }
            let mut work = Work::default();
            if to == SchoolResultState::InCountyReview {
                let pending = store::participants_of(&self.db, batch_id, school).await?.into_iter().filter(|p| p.enrolled && p.grade.is_none()).count();
                if pending > 0 {
                    return Err(AssessmentError::FailedPrecondition(format!("{pending} participants of schools/{school} are not fully graded yet")));
                }
            }
            result.transitions.push(transition(ctx, result.state.key(), to.key(), reason, round));
            result.state = to;
            result.update_micros = next_micros(result.update_micros);
            work.audits.push(ctx.audit(
                method,
                format!("batches/{batch_id}/schoolResults/{school}"),
                &result.path,
                serde_json::json!({ "to": to.key(), "reason": reason.trim(), "review_round": round }),
            ));
            // When the last school passes county review the county is ready for the audit.
            // Whether this approval is the last depends on the other schools' results, which
            // this call does not write: two last approvals at once would each read the other
            // school as unapproved and leave the batch OPEN. So every approval writes the batch
            // — moved, or only touched (its `update_micros` bumped) — and concurrent approvals
            // conflict: the loser's commit fails the version check and `retry` reads again. The
            // batch was read above, before the other schools' results, so a batch read after the
            // winner's commit comes with results read after it too.
            if to == SchoolResultState::CountyApproved {
                let others = store::school_results_in(&self.db, batch_id, &ScopePath::everything(), "", "", i64::MAX).await?;
                if others.iter().all(|r| r.school_code == school || r.state == SchoolResultState::CountyApproved) {
                    batch.transitions.push(transition(ctx, batch.state.key(), "ready_for_audit", "every school passed county review", round));
                    batch.state = BatchState::ReadyForAudit;
                }
                batch.update_micros = next_micros(batch.update_micros);
                work.batches.push(batch);
            }
            work.school_results.push(result.clone());
            self.commit(&work).await?;
            Ok(result)
        })
        .await
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
        retry_conflicts(|| async {
            let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
            if batch.state == BatchState::Certified {
                return Err(AssessmentError::FailedPrecondition(
                    "the batch is certified".into(),
                ));
            }
            let mut p = self.participant_or_404(batch_id, teacher).await?;
            require_participant_access(&ctx.caller, &p)?;
            p.offline_check = Some(OfflineCheckRecord {
                outcome: outcome.into(),
                notes: reason.trim().into(),
                review_round: round.into(),
                actor: ctx.actor(),
                micros: tica_storage::now_micros(),
            });
            let submissions = store::submissions_of(&self.db, batch_id, teacher).await?;
            super::grading::recompute(
                &mut p,
                &submissions,
                &batch_rules(&batch)?,
                None,
                batch.open_date,
            );
            p.update_micros = next_micros(p.update_micros);
            let audit = ctx.audit(
                "RecordOfflineCheck",
                super::participants::participant_name(&p),
                &p.path,
                serde_json::json!({ "outcome": outcome, "review_round": round }),
            );
            self.commit(&Work {
                participants: vec![p.clone()],
                audits: vec![audit],
                ..Default::default()
            })
            .await?;
            Ok(p)
        })
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
        retry_conflicts(|| async {
            let mut b = self.stored_batch(id).await?;
            if b.last_sequence == sequence_start {
                b.last_sequence = sequence_start + events.len() as i64;
                b.update_micros = next_micros(b.update_micros);
                self.commit(&Work {
                    batches: vec![b],
                    ..Default::default()
                })
                .await?;
            }
            Ok(())
        })
        .await?;
        let _ = updated;
        self.stored_batch(id).await
    }

    /// Withdraws a certified result (a review overturned it): appends a WITHDRAWN event so that
    /// the certificate is revoked. Province office.
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
        retry_conflicts(|| async {
            let mut batch = self.batch_or_404(&ctx.caller, batch_id).await?;
            let mut p = self.participant_or_404(batch_id, teacher).await?;
            require_covers(&ctx.caller, &p.path)?;
            let key = format!(
                "{batch_id}/{teacher}/{}",
                if code.is_empty() { "level" } else { code }
            );
            let events = store::events_after(&self.db, batch_id, 0, i64::MAX).await?;
            let certified = events
                .iter()
                .find(|e| e.result_key == key && e.kind == "certified")
                .ok_or_else(|| AssessmentError::NotFound(format!("certified result {key}")))?;
            if events
                .iter()
                .any(|e| e.result_key == key && e.kind == "withdrawn")
            {
                return Err(AssessmentError::FailedPrecondition(format!(
                    "{key} is withdrawn already"
                )));
            }
            let mut payload: CertifiedPayload = serde_json::from_str(&certified.payload_json)
                .map_err(|_| AssessmentError::Internal("stored event does not parse".into()))?;
            payload.withdraw_reason = reason.trim().to_owned();
            batch.last_sequence += 1;
            batch.update_micros = next_micros(batch.update_micros);
            let event = CertifiedEventRecord {
                batch_id: batch_id.to_owned(),
                sequence: batch.last_sequence,
                kind: "withdrawn".into(),
                result_key: key.clone(),
                payload_json: to_json(&payload),
                event_micros: tica_storage::now_micros(),
            };
            if code.is_empty() {
                p.certified = false;
            }
            p.grade_reasons.push(format!("认证撤回：{}", reason.trim()));
            p.update_micros = next_micros(p.update_micros);
            let audit = ctx.audit(
                "WithdrawCertifiedResult",
                super::participants::participant_name(&p),
                &p.path,
                serde_json::json!({ "result": key, "reason": reason.trim() }),
            );
            self.commit(&Work {
                batches: vec![batch.clone()],
                participants: vec![p.clone()],
                events: vec![event],
                audits: vec![audit],
                ..Default::default()
            })
            .await?;
            Ok(p)
        })
        .await
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
                .filter(|p| p.roles.split(',').any(|r| r == "principal"))
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
                    !p.selection_state.is_empty()
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
