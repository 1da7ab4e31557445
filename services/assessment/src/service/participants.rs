//! Participants: teachers enrolled in a batch.

use tica_auth::Role;
use tica_server::retry_conflicts;

use super::batches::enrolment;
use super::rules::batch_rules;
use super::{
    ADMINISTRATORS, Assessment, Ctx, Decision, denied, require_covers, require_participant_access,
};
use crate::error::{AssessmentError, Result};
use crate::model::*;
use crate::store::{self, ParticipantFilter, Work};

impl Assessment {
    /// One participant: the teacher themself, or inside the caller's subtree.
    pub async fn get_participant(
        &self,
        ctx: &Ctx,
        batch: &str,
        teacher: &str,
    ) -> Result<(ParticipantRecord, BatchRecord)> {
        super::require_batch_scope(&ctx.caller, batch)?;
        let b = self.batch_or_404(&ctx.caller, batch).await?;
        let p = self.participant_or_404(batch, teacher).await?;
        require_participant_access(&ctx.caller, &p)?;
        Ok((p, b))
    }

    /// Participants of a batch inside the caller's subtree (optionally one school).
    pub async fn list_participants(
        &self,
        ctx: &Ctx,
        batch: &str,
        school: Option<&str>,
        filter: &ParticipantFilter,
        after: &(String, String),
        limit: i64,
    ) -> Result<(Vec<ParticipantRecord>, i64, BatchRecord)> {
        super::require_batch_scope(&ctx.caller, batch)?;
        if ctx.caller.role == Role::Teacher {
            return Err(denied(&ctx.caller));
        }
        let b = self.get_batch(ctx, batch).await?;
        let scope = match school {
            Some(code) => {
                let result = store::school_result(&self.db, batch, code)
                    .await?
                    .ok_or_else(|| {
                        AssessmentError::invalid(
                            "school",
                            format!("schools/{code} is not in batches/{batch}"),
                        )
                    })?;
                require_covers(&ctx.caller, &result.path)?;
                result.path
            }
            None if ctx.caller.covers(&b.path) => b.path.clone(),
            None => ctx.caller.scope.clone(),
        };
        let (rows, total) =
            store::participants_in(&self.db, batch, &scope, filter, after, limit).await?;
        Ok((rows, total, b))
    }

    /// Enrols teachers who arrived after the batch opened.
    pub async fn enrol(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teachers: &[String],
    ) -> Result<Vec<ParticipantRecord>> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        if !matches!(ctx.caller.role, Role::SchoolAdmin)
            && !ADMINISTRATORS.contains(&ctx.caller.role)
        {
            return Err(denied(&ctx.caller));
        }
        if teachers.is_empty() || teachers.len() > 1000 {
            return Err(AssessmentError::invalid("teachers", "1 to 1000 teachers"));
        }
        let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
        if batch.state != BatchState::Open {
            return Err(AssessmentError::refused(
                tica_server::errors::ErrorReason::BatchState,
                "",
                format!("batches/{batch_id} must be OPEN"),
            ));
        }
        let found = self.roster.teachers(&ctx.token, teachers).await?;
        let now = tica_storage::now_micros();
        let mut problems = crate::error::Problems::new();
        let mut work = Work::default();
        for (i, number) in teachers.iter().enumerate() {
            let Some(t) = found.get(number) else {
                problems.add(
                    format!("teachers[{i}]"),
                    format!("teachers/{number}: not found"),
                );
                continue;
            };
            if !batch.schools.contains(&t.school) {
                problems.add(
                    format!("teachers[{i}]"),
                    format!(
                        "teachers/{number} teaches at schools/{}, which is not in this batch",
                        t.school
                    ),
                );
                continue;
            }
            require_covers(&ctx.caller, &t.path())?;
            if store::participant(&self.db, batch_id, number)
                .await?
                .is_some()
            {
                problems.add(
                    format!("teachers[{i}]"),
                    format!("teachers/{number} is enrolled already"),
                );
                continue;
            }
            work.participants.push(enrolment(&batch, t, "", now));
        }
        problems.finish()?;
        work.audits.push(ctx.audit(
            "EnrolParticipants",
            format!("batches/{batch_id}"),
            &batch.path,
            serde_json::json!({ "teachers": teachers }),
        ));
        self.commit(&work).await?;
        Ok(work.participants)
    }

    /// ENROLLED → WITHDRAWN: the participant counts in no rate.
    pub async fn withdraw(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        reason: &str,
    ) -> Result<ParticipantRecord> {
        super::require_batch_scope(&ctx.caller, batch_id)?;
        if !matches!(ctx.caller.role, Role::SchoolAdmin)
            && !ADMINISTRATORS.contains(&ctx.caller.role)
        {
            return Err(denied(&ctx.caller));
        }
        if reason.trim().is_empty() || reason.chars().count() > 500 {
            return Err(AssessmentError::invalid(
                "reason",
                "say why (at most 500 characters)",
            ));
        }
        retry_conflicts(|| self.withdraw_step(ctx, batch_id, teacher, reason)).await
    }

    /// Reads the participant, decides the withdrawal, commits.
    async fn withdraw_step(
        &self,
        ctx: &Ctx,
        batch_id: &str,
        teacher: &str,
        reason: &str,
    ) -> Result<ParticipantRecord> {
        let batch = self.batch_or_404(&ctx.caller, batch_id).await?;
        let p = self.participant_or_404(batch_id, teacher).await?;
        require_participant_access(&ctx.caller, &p)?;
        require_enrolled(&p)?;
        self.require_open_school(&batch, &p.school_code).await?;
        let decision = decide_withdrawal(p, reason);
        self.commit_participant(ctx, "WithdrawParticipant", decision)
            .await
    }

    /// The age rule's reference date for a batch.
    pub fn reference_date(&self, batch: &BatchRecord) -> Result<time::Date> {
        let rules = batch_rules(batch)?;
        let open = batch.open_date.unwrap_or_else(super::today);
        Ok(rules
            .selection
            .as_ref()
            .map(|s| s.reference_date_for(open))
            .unwrap_or(open))
    }
}

/// Only an enrolled participant is withdrawn.
fn require_enrolled(p: &ParticipantRecord) -> Result<()> {
    if !p.enrolled {
        return Err(AssessmentError::FailedPrecondition(
            "already withdrawn".into(),
        ));
    }
    Ok(())
}

/// ENROLLED → WITHDRAWN, with the reason.
fn decide_withdrawal(mut p: ParticipantRecord, reason: &str) -> Decision<ParticipantRecord> {
    p.enrolled = false;
    p.withdraw_reason = reason.trim().to_owned();
    p.update_micros = next_micros(p.update_micros);
    Decision {
        record: p,
        audit: serde_json::json!({ "reason": reason.trim() }),
    }
}

impl Assessment {
    /// Stores the participant a step decided on, with its audit entry under `method`.
    pub(crate) async fn commit_participant(
        &self,
        ctx: &Ctx,
        method: &str,
        decision: Decision<ParticipantRecord>,
    ) -> Result<ParticipantRecord> {
        let Decision { record: p, audit } = decision;
        self.commit(&Work {
            audits: vec![ctx.audit(method, participant_name(&p), &p.path, audit)],
            participants: vec![p.clone()],
            ..Default::default()
        })
        .await?;
        Ok(p)
    }
}

/// A participant's resource name.
pub fn participant_name(p: &ParticipantRecord) -> String {
    format!("batches/{}/participants/{}", p.batch_id, p.teacher_number)
}
