//! Units under review: their agreement reports, decisions, and closing a round.

use std::collections::BTreeMap;
use tica_server::retry_conflicts;

use tica_domain::sampling::{Agreement, Verdict, agreement, verdict};

use super::{Ctx, Sampling, next_micros, not_found, precondition, require_state, transition};
use crate::error::{Result, SamplingError};
use crate::model::*;
use crate::store::{self, RegradeFilter, Work};
use crate::upstream::{BatchState, Change, OfflineOutcome, SchoolState, Step};

/// A unit with its figures.
#[derive(Clone, Debug)]
pub struct UnitReport {
    /// The unit.
    pub unit: UnitRecord,
    /// The plan of its batch.
    pub plan: Plan,
    /// Re-grades still pending.
    pub pending: i64,
    /// Percent, Wilson, κ, n over the submitted re-grades.
    pub figures: Agreement,
    /// Against the threshold.
    pub verdict: Verdict,
    /// (original, re-grade) → count.
    pub confusion: BTreeMap<(Grade, Grade), i64>,
}

impl UnitReport {
    /// What the criterion gives once every re-grade is in.
    pub fn computed(&self) -> Outcome {
        if !self.unit.drawn || self.pending > 0 || self.figures.n == 0 {
            Outcome::Undecided
        } else if self.verdict.passes {
            Outcome::Passed
        } else {
            Outcome::SentBack
        }
    }
}

impl Sampling {
    async fn report(&self, round: &RoundRecord, unit: UnitRecord) -> Result<UnitReport> {
        let plan = round
            .plan(&unit.batch)
            .cloned()
            .ok_or_else(|| SamplingError::Internal("a unit without a plan".into()))?;
        let regrades = store::all_regrades(
            &self.db,
            &RegradeFilter {
                round: round.id.clone(),
                unit: unit.unit.clone(),
                ..Default::default()
            },
        )
        .await?;
        let pairs: Vec<(Grade, Grade)> = regrades
            .iter()
            .filter_map(|r| r.grade.map(|g| (r.original, g)))
            .collect();
        let mut confusion = BTreeMap::new();
        for pair in &pairs {
            *confusion.entry(*pair).or_default() += 1;
        }
        let figures = agreement(
            &pairs
                .iter()
                .map(|(a, b)| (a.key(), b.key()))
                .collect::<Vec<_>>(),
        );
        let verdict = verdict(&figures, plan.threshold, plan.criterion, plan.comparison);
        Ok(UnitReport {
            pending: (regrades.len() - pairs.len()) as i64,
            unit,
            plan,
            figures,
            verdict,
            confusion,
        })
    }

    /// A unit's report.
    pub async fn unit(&self, ctx: &Ctx, round_id: &str, id: &str) -> Result<UnitReport> {
        let round = self.round(ctx, round_id).await?;
        super::require_office_over(ctx, &round)?;
        let unit = store::unit(&self.db, round_id, id)
            .await?
            .ok_or_else(|| not_found(format!("reviewRounds/{round_id}/units/{id}")))?;
        self.report(&round, unit).await
    }

    /// A round's units with their reports.
    pub async fn units(
        &self,
        ctx: &Ctx,
        round_id: &str,
        drawn_only: bool,
        outcome: Option<Outcome>,
        after: &str,
        limit: i64,
    ) -> Result<(Vec<UnitReport>, i64)> {
        let round = self.round(ctx, round_id).await?;
        super::require_office_over(ctx, &round)?;
        let (units, total) = store::units(
            &self.db,
            round_id,
            drawn_only,
            outcome.map(Outcome::key),
            after,
            limit,
        )
        .await?;
        let mut out = Vec::with_capacity(units.len());
        for u in units {
            out.push(self.report(&round, u).await?);
        }
        Ok((out, total))
    }

    /// Decides a drawn unit by its figures and carries the outcome to the assessment service.
    pub async fn decide(
        &self,
        ctx: &Ctx,
        round_id: &str,
        id: &str,
        reason: &str,
    ) -> Result<UnitReport> {
        if reason.trim().is_empty() {
            return Err(SamplingError::invalid(
                "reason",
                "say why, e.g. 复核一致率 92%，通过",
            ));
        }
        let round = self.own_round(ctx, round_id).await?;
        require_state(&round, &[RoundState::InReview], "deciding a unit")?;
        let unit = store::unit(&self.db, round_id, id)
            .await?
            .ok_or_else(|| not_found(format!("reviewRounds/{round_id}/units/{id}")))?;
        if !unit.drawn {
            return Err(precondition(format!(
                "{} had nothing drawn; it passes when the round closes",
                unit.unit
            )));
        }
        if unit.outcome != Outcome::Undecided {
            return Err(precondition(format!("{} is decided already", unit.unit)));
        }
        let report = self.report(&round, unit.clone()).await?;
        if report.pending > 0 {
            return Err(precondition(format!(
                "{} re-grade(s) of {} are still pending",
                report.pending, unit.unit
            )));
        }
        let outcome = report.computed();
        if outcome == Outcome::Undecided {
            return Err(precondition(format!(
                "{} has no re-grade to judge",
                unit.unit
            )));
        }
        let target = self
            .carry(ctx, &round, &unit, outcome, reason.trim())
            .await?;
        retry_conflicts(|| async {
            let read = self.own_round(ctx, round_id).await?;
            require_state(&read, &[RoundState::InReview], "deciding a unit")?;
            let mut unit = store::unit(&self.db, round_id, id)
                .await?
                .ok_or_else(|| not_found(format!("reviewRounds/{round_id}/units/{id}")))?;
            if unit.outcome != Outcome::Undecided {
                return Err(precondition(format!("{} was decided meanwhile", unit.unit)));
            }
            let mut round = read.clone();
            round.update_micros = next_micros(round.update_micros);
            unit.outcome = outcome;
            unit.decision = Some(Decision {
                outcome,
                actor: ctx.actor(),
                micros: round.update_micros,
                reason: reason.trim().to_owned(),
                target: target.clone(),
            });
            let audit = ctx.audit(
                "DecideReviewUnit",
                format!("reviewRounds/{round_id}/units/{id}"),
                &round.path,
                serde_json::json!({ "outcome": outcome.key(), "agreements": report.figures.agreeing,
                    "compared": report.figures.n, "target": target, "reason": reason.trim() }),
            );
            store::commit(
                &self.db,
                &Work {
                    round: Some((round, Some(read.update_micros))),
                    units: vec![unit],
                    audits: vec![audit],
                    ..Default::default()
                },
            )
            .await?;
            Ok(())
        })
        .await?;
        if outcome == Outcome::SentBack {
            metrics::counter!("tica_sampling_send_backs_total", "level" => round.level.key())
                .increment(1);
        }
        self.unit(ctx, round_id, id).await
    }

    /// Carries `outcome` of `unit` to the assessment service; the resource changed ("" when
    /// nothing moves yet, e.g. a county's online audit passed but its offline checks are due).
    async fn carry(
        &self,
        ctx: &Ctx,
        round: &RoundRecord,
        unit: &UnitRecord,
        outcome: Outcome,
        reason: &str,
    ) -> Result<String> {
        let name = round.name();
        let passed = matches!(outcome, Outcome::Passed | Outcome::PassedNotDrawn);
        let step = |change| Step {
            change,
            round: &name,
            reason,
        };
        let batch = unit.batch.as_str();
        if round.kind == Kind::OfflineCheck {
            let teachers = store::all_items(&self.db, &round.id).await?;
            for item in teachers
                .iter()
                .filter(|i| i.stage == Stage::Teacher && i.unit == unit.unit)
            {
                let check = if passed {
                    OfflineOutcome::Passed
                } else {
                    OfflineOutcome::Failed
                };
                let change = Change::OfflineCheck {
                    batch,
                    teacher: &item.teacher,
                    outcome: check,
                };
                self.upstream
                    .apply(
                        &ctx.token,
                        Step {
                            change,
                            round: &name,
                            reason,
                        },
                    )
                    .await?;
            }
        }
        let change = match (round.level, round.kind, passed) {
            (Level::CountyReview, Kind::OnlineRegrade, true) => Some(Change::ApproveSchool {
                batch,
                school: &unit.id,
            }),
            (Level::CountyReview, Kind::OnlineRegrade, false) => Some(Change::ReturnSchool {
                batch,
                school: &unit.id,
            }),
            (Level::CountyReview, Kind::OfflineCheck, _) => None,
            (Level::ProvinceAudit, _, false) => Some(Change::ReturnBatch { batch }),
            (Level::ProvinceAudit, kind, true) => {
                // 线上与线下测评都合格 (测评实施办法 五(三)): certify once both kinds passed.
                let other = match kind {
                    Kind::OnlineRegrade => Kind::OfflineCheck,
                    Kind::OfflineCheck => Kind::OnlineRegrade,
                };
                let other_needed = kind == Kind::OfflineCheck
                    || round.plan(batch).is_some_and(|p| p.offline_required);
                let other_passed = !other_needed || self.audit_passed(ctx, batch, other).await?;
                other_passed.then_some(Change::Certify { batch })
            }
        };
        let Some(change) = change else {
            return Ok(String::new());
        };
        let target = change.target();
        if !self.already_applied(ctx, &change).await? {
            self.upstream.apply(&ctx.token, step(change)).await?;
        }
        Ok(target)
    }

    /// Whether the assessment service is already where `change` would take it: a decision
    /// whose local commit failed after the upstream call went through is then simply retried.
    async fn already_applied(&self, ctx: &Ctx, change: &Change<'_>) -> Result<bool> {
        use {BatchState as B, SchoolState as S};
        Ok(match change {
            Change::ApproveSchool { batch, school } => {
                let state = self
                    .upstream
                    .school_state(&ctx.token, batch, school)
                    .await?;
                state == S::CountyApproved || state == S::Certified
            }
            Change::ReturnSchool { batch, school } => {
                self.upstream
                    .school_state(&ctx.token, batch, school)
                    .await?
                    == S::Returned
            }
            Change::Certify { batch } => {
                self.upstream.batch(&ctx.token, batch).await?.state == B::Certified
            }
            Change::ReturnBatch { batch } => {
                self.upstream.batch(&ctx.token, batch).await?.state == B::ReturnedToCounty
            }
            Change::BeginAudit { .. } | Change::OfflineCheck { .. } => false,
        })
    }

    /// Whether the latest audit decision of `kind` about `batch`'s county passed, and came after
    /// the batch last went back to its county (results returned and re-approved are audited
    /// afresh, whichever other batches those rounds covered).
    async fn audit_passed(&self, ctx: &Ctx, batch: &str, kind: Kind) -> Result<bool> {
        let filter = store::RoundFilter {
            batch: batch.to_owned(),
            level: Level::ProvinceAudit.key().to_owned(),
            kind: kind.key().to_owned(),
            state: String::new(),
        };
        let (rounds, _) = store::rounds_in(
            &self.db,
            &tica_domain::ScopePath::everything(),
            &filter,
            None,
            1000,
        )
        .await?;
        let returned = self
            .upstream
            .batch(&ctx.token, batch)
            .await?
            .last_returned_micros
            .unwrap_or(i64::MIN);
        let mut latest: Option<Decision> = None;
        for round in rounds
            .iter()
            .filter(|r| r.batches.iter().any(|b| b == batch))
        {
            let Some(plan) = round.plan(batch) else {
                continue;
            };
            if let Some(decision) = store::unit(&self.db, &round.id, &plan.county)
                .await?
                .and_then(|u| u.decision)
                && latest.as_ref().is_none_or(|l| decision.micros > l.micros)
            {
                latest = Some(decision);
            }
        }
        Ok(latest.is_some_and(|d| {
            d.micros > returned && matches!(d.outcome, Outcome::Passed | Outcome::PassedNotDrawn)
        }))
    }

    /// Closes a round once every drawn unit is decided; units with nothing drawn pass on.
    pub async fn close(&self, ctx: &Ctx, round_id: &str, reason: &str) -> Result<RoundRecord> {
        let reason = if reason.trim().is_empty() {
            "未抽中，按校本考核结果通过"
        } else {
            reason.trim()
        };
        let round = self.own_round(ctx, round_id).await?;
        require_state(&round, &[RoundState::InReview], "closing")?;
        let (units, _) = store::units(&self.db, round_id, false, None, "", i64::MAX).await?;
        if let Some(open) = units
            .iter()
            .find(|u| u.drawn && u.outcome == Outcome::Undecided)
        {
            return Err(precondition(format!(
                "{} is not decided yet: decide every drawn unit first",
                open.unit
            )));
        }
        let mut decided = Vec::new();
        for mut unit in units
            .into_iter()
            .filter(|u| !u.drawn && u.outcome == Outcome::Undecided)
        {
            let target = self
                .carry(ctx, &round, &unit, Outcome::PassedNotDrawn, reason)
                .await?;
            unit.outcome = Outcome::PassedNotDrawn;
            unit.decision = Some(Decision {
                outcome: Outcome::PassedNotDrawn,
                actor: ctx.actor(),
                micros: tica_storage::now_micros(),
                reason: reason.to_owned(),
                target,
            });
            decided.push(unit);
        }
        retry_conflicts(|| async {
            let read = self.own_round(ctx, round_id).await?;
            require_state(&read, &[RoundState::InReview], "closing")?;
            let mut round = read.clone();
            transition(ctx, &mut round, RoundState::Decided, reason);
            let audit = ctx.audit(
                "CloseReviewRound",
                round.name(),
                &round.path,
                serde_json::json!({ "passed_not_drawn": decided.len(), "reason": reason }),
            );
            store::commit(
                &self.db,
                &Work {
                    round: Some((round.clone(), Some(read.update_micros))),
                    units: decided.clone(),
                    audits: vec![audit],
                    ..Default::default()
                },
            )
            .await?;
            Ok(round)
        })
        .await
    }
}
