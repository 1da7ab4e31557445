//! Selections: which micro-competencies a participant takes, judged by the policy.

use tica_auth::Role;
use tica_domain::PersonRole;
use tica_domain::policy::{self as rules, LEADERSHIP_SUBMISSION_ID, Preset, Profile, Verdict};
use tica_server::retry_conflicts;

use super::batches::{batch_rules, category_of};
use super::{Assessment, Ctx, denied, today};
use crate::error::{AssessmentError, Result};
use crate::model::*;
use crate::store::{self, Work, to_json};

fn profile(p: &ParticipantRecord) -> Profile {
    Profile {
        birth_date: p.birth_date,
        category: category_of(p),
        roles: p
            .roles
            .split(',')
            .filter_map(PersonRole::from_label)
            .collect(),
    }
}

impl Assessment {
    /// Judges `codes` for a participant without storing anything.
    pub async fn check_selection(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        codes: &[String],
    ) -> Result<(Verdict, BatchRecord)> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        let (p, batch) = self.get_participant(ctx, batch_id, teacher).await?;
        Ok((self.judge(&batch, &p, codes)?, batch))
    }

    fn judge(
        &self,
        batch: &BatchRecord,
        p: &ParticipantRecord,
        codes: &[String],
    ) -> Result<Verdict> {
        let rules = batch_rules(batch)?;
        let rule = rules.selection.as_ref().ok_or_else(|| {
            AssessmentError::FailedPrecondition("the batch's policy has no selection rule".into())
        })?;
        let reference = self.reference_date(batch)?;
        Ok(rules::evaluate_selection(
            rule,
            &profile(p),
            reference,
            codes,
            // The verdict's first words ("宁夏"): the preset of the county or its nearest ancestor.
            Preset::for_county(batch.county).map_or("", Preset::label_zh),
        ))
    }

    /// Stores a selection the policy accepts, creating a DRAFT submission per code (and the
    /// principal's leadership assessment where the policy asks for it).
    pub async fn submit_selection(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        codes: &[String],
        validate_only: bool,
    ) -> Result<(ParticipantRecord, Verdict, BatchRecord)> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        if !matches!(ctx.caller.role, Role::Teacher | Role::SchoolAdmin)
            && !ctx.caller.role.is_office()
        {
            return Err(denied(&ctx.caller));
        }
        retry_conflicts(|| async {
            let (mut p, batch) = self.get_participant(ctx, batch_id, teacher).await?;
            let verdict = self.judge(&batch, &p, codes)?;
            if !verdict.accepted {
                return Err(AssessmentError::Invalid(vec![("micro_competencies".into(), verdict.message.clone())]));
            }
            if !p.enrolled {
                return Err(AssessmentError::FailedPrecondition("the participant is withdrawn".into()));
            }
            if p.selection_state == "locked" {
                return Err(AssessmentError::FailedPrecondition("the selection is locked".into()));
            }
            self.require_open_school(&batch, &p.school_code).await?;
            if let Some(deadline) = batch.selection_deadline
                && today() > deadline
            {
                return Err(AssessmentError::FailedPrecondition(format!("the selection deadline {} has passed", tica_server::proto_time::date_to_iso(deadline))));
            }
            let rules = batch_rules(&batch)?;
            let mut wanted: Vec<String> = codes.iter().filter_map(|c| rules::canonical_code(c)).map(str::to_owned).collect();
            wanted.sort_by_key(|c| tica_domain::micro_competency::MICRO_COMPETENCIES.iter().position(|m| m.code == c));
            wanted.dedup();
            let mut expected = wanted.clone();
            let principal = p.roles.split(',').any(|r| r == PersonRole::Principal.key());
            if principal && rules.selection.as_ref().is_some_and(|s| s.principal_leadership_assessment) {
                expected.push(LEADERSHIP_SUBMISSION_ID.to_owned());
            }
            let existing = store::submissions_of(&self.db, batch_id, teacher).await?;
            let mut work = Work::default();
            for s in &existing {
                if !expected.contains(&s.code) {
                    if s.state != SubmissionState::Draft || s.carried_over {
                        return Err(AssessmentError::Invalid(vec![(
                            "micro_competencies".into(),
                            format!("{} 已提交或已评定，不能移出 ({} is submitted or graded and cannot be removed)", s.code, s.code),
                        )]));
                    }
                    work.submissions_deleted.push((s.batch_id.clone(), s.teacher_number.clone(), s.code.clone()));
                }
            }
            let now = tica_storage::now_micros();
            let mut kept: Vec<SubmissionRecord> = existing.iter().filter(|s| expected.contains(&s.code)).cloned().collect();
            for code in &expected {
                if !existing.iter().any(|s| &s.code == code) {
                    let s = SubmissionRecord {
                        batch_id: batch_id.to_owned(),
                        teacher_number: teacher.to_owned(),
                        code: code.clone(),
                        school_code: p.school_code.clone(),
                        path: p.path.clone(),
                        state: SubmissionState::Draft,
                        submit_micros: None,
                        grading: None,
                        history: Vec::new(),
                        return_reason: String::new(),
                        carried_over: false,
                        update_micros: now,
                        loaded: None,
                    };
                    kept.push(s.clone());
                    work.submissions.push(s);
                }
            }
            p.selection = wanted.clone();
            p.selection_state = "accepted".into();
            p.verdict_json = to_json(&verdict);
            p.selection_info = Some(SelectionInfo { actor: ctx.actor(), micros: now });
            super::grading::recompute(&mut p, &kept, &rules, None, batch.open_date);
            if validate_only {
                return Ok((p, verdict, batch));
            }
            p.update_micros = next_micros(p.update_micros);
            work.audits.push(ctx.audit(
                "SubmitSelection",
                format!("{}/selection", super::participants::participant_name(&p)),
                &p.path,
                serde_json::json!({ "micro_competencies": wanted, "case": verdict.case_id }),
            ));
            work.participants.push(p.clone());
            self.commit(&work).await?;
            Ok((p, verdict, batch))
        })
        .await
    }

    /// The verdict stored with a participant's selection.
    pub fn stored_verdict(p: &ParticipantRecord) -> Option<Verdict> {
        serde_json::from_str(&p.verdict_json).ok()
    }
}
