//! Selections: which micro-competencies a participant takes, judged by the policy.

use tica_auth::Role;
use tica_domain::PersonRole;
use tica_domain::micro_competency::MICRO_COMPETENCIES;
use tica_domain::policy::{
    self as rules, LEADERSHIP_SUBMISSION_ID, PolicyRules, Preset, Profile, Verdict,
};
use tica_server::retry_conflicts;

use super::batches::category_of;
use super::rules::batch_rules;
use super::{Assessment, Ctx, denied, today};
use crate::error::{AssessmentError, Result};
use crate::model::*;
use crate::store::{self, Work, to_json};

/// A selection is stored only when the policy accepts it, for an enrolled participant whose
/// selection is not locked.
fn require_selectable(verdict: &Verdict, p: &ParticipantRecord) -> Result<()> {
    if !verdict.accepted {
        return Err(AssessmentError::Invalid(vec![(
            "micro_competencies".into(),
            verdict.message.clone(),
        )]));
    }
    if !p.enrolled {
        return Err(AssessmentError::refused(
            tica_server::errors::ErrorReason::SelectionRefused,
            "",
            "the participant is withdrawn",
        ));
    }
    if p.selection_state == SelectionState::Locked {
        return Err(AssessmentError::refused(
            tica_server::errors::ErrorReason::SelectionRefused,
            "",
            "the selection is locked",
        ));
    }
    Ok(())
}

/// What an accepted selection depends on.
struct SelectionFacts<'a> {
    today: time::Date,
    deadline: Option<time::Date>,
    open_date: Option<time::Date>,
    rules: &'a PolicyRules,
    /// The participant's submissions so far.
    existing: &'a [SubmissionRecord],
    actor: Actor,
    now: i64,
}

/// What an accepted selection changes.
struct Selection {
    /// The participant with its selection and recomputed counts.
    participant: ParticipantRecord,
    /// New DRAFT submissions and the submissions deleted.
    work: Work,
    /// The selected codes, canonical, in catalogue order.
    wanted: Vec<String>,
}

/// An accepted selection before the selection deadline: a DRAFT submission per new code (and
/// the principal's leadership assessment where the policy asks for it); a code dropped goes
/// only while its submission is an unsubmitted DRAFT of this batch.
fn decide_selection(
    mut p: ParticipantRecord,
    codes: &[String],
    verdict: &Verdict,
    facts: SelectionFacts,
) -> Result<Selection> {
    if let Some(deadline) = facts.deadline
        && facts.today > deadline
    {
        return Err(AssessmentError::refused(
            tica_server::errors::ErrorReason::DeadlinePassed,
            "",
            format!(
                "the selection deadline {} has passed",
                tica_server::proto_time::date_to_iso(deadline)
            ),
        ));
    }
    let rules = facts.rules;
    let mut wanted: Vec<String> = codes
        .iter()
        .filter_map(|c| rules::canonical_code(c))
        .map(str::to_owned)
        .collect();
    wanted.sort_by_key(|c| MICRO_COMPETENCIES.iter().position(|m| m.code == c));
    wanted.dedup();
    let mut expected = wanted.clone();
    let principal = p.roles.contains(&PersonRole::Principal);
    let leadership = rules
        .selection
        .as_ref()
        .is_some_and(|s| s.principal_leadership_assessment);
    if principal && leadership {
        expected.push(LEADERSHIP_SUBMISSION_ID.to_owned());
    }
    let existing = facts.existing;
    let mut work = Work::default();
    for s in existing.iter().filter(|s| !expected.contains(&s.code)) {
        if s.state != SubmissionState::Draft || s.carried_over {
            let code = &s.code;
            let message = format!(
                "{code} 已提交或已评定，不能移出 ({code} is submitted or graded and cannot be removed)"
            );
            return Err(AssessmentError::Invalid(vec![(
                "micro_competencies".into(),
                message,
            )]));
        }
        let key = (s.batch_id.clone(), s.teacher_number.clone(), s.code.clone());
        work.submissions_deleted.push(key);
    }
    let now = facts.now;
    let mut kept: Vec<SubmissionRecord> = existing
        .iter()
        .filter(|s| expected.contains(&s.code))
        .cloned()
        .collect();
    for code in &expected {
        if !existing.iter().any(|s| &s.code == code) {
            let s = SubmissionRecord {
                batch_id: p.batch_id.clone(),
                teacher_number: p.teacher_number.clone(),
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
    p.selection_state = SelectionState::Accepted;
    p.verdict_json = to_json(verdict);
    p.selection_info = Some(SelectionInfo {
        actor: facts.actor,
        micros: now,
    });
    super::recount::recompute(&mut p, &kept, rules, None, facts.open_date);
    Ok(Selection {
        participant: p,
        work,
        wanted,
    })
}

fn profile(p: &ParticipantRecord) -> Profile {
    Profile {
        birth_date: p.birth_date,
        category: category_of(p),
        roles: p.roles.clone(),
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
        let asked = (teacher, codes);
        retry_conflicts(|| self.selection_step(ctx, batch_id, asked, validate_only)).await
    }

    /// Reads the participant and its submissions, judges the selection, decides what it
    /// changes, commits (unless only validating).
    async fn selection_step(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        (teacher, codes): (&str, &[String]),
        validate_only: bool,
    ) -> Result<(ParticipantRecord, Verdict, BatchRecord)> {
        let (p, batch) = self.get_participant(ctx, batch_id, teacher).await?;
        let verdict = self.judge(&batch, &p, codes)?;
        require_selectable(&verdict, &p)?;
        self.require_open_school(&batch, &p.school_code).await?;
        let rules = batch_rules(&batch)?;
        let existing = store::submissions_of(&self.db, batch_id, teacher).await?;
        let facts = SelectionFacts {
            today: today(),
            deadline: batch.selection_deadline,
            open_date: batch.open_date,
            rules: &rules,
            existing: &existing,
            actor: ctx.actor(),
            now: tica_storage::now_micros(),
        };
        let Selection {
            mut participant,
            mut work,
            wanted,
        } = decide_selection(p, codes, &verdict, facts)?;
        if validate_only {
            return Ok((participant, verdict, batch));
        }
        let p = &mut participant;
        p.update_micros = next_micros(p.update_micros);
        work.audits.push(ctx.audit(
            "SubmitSelection",
            format!("{}/selection", super::participants::participant_name(p)),
            &p.path,
            serde_json::json!({ "micro_competencies": wanted, "case": verdict.case_id }),
        ));
        work.participants.push(participant.clone());
        self.commit(&work).await?;
        Ok((participant, verdict, batch))
    }

    /// The verdict stored with a participant's selection.
    pub fn stored_verdict(p: &ParticipantRecord) -> Option<Verdict> {
        serde_json::from_str(&p.verdict_json).ok()
    }
}
