//! Assigning the drawn teachers to reviewers, and the reviewers' blind re-grades.

use std::collections::{BTreeMap, HashMap};
use tica_server::retry_conflicts;

use tica_auth::Role;
use tica_domain::AssessorLevel;
use tica_domain::DivisionCode;
use tica_domain::eligibility::{self, ReviewReach, ReviewedItem, ReviewerFacts};

use super::{
    Ctx, Sampling, denied, next_micros, not_found, precondition, require_state, transition,
};
use crate::error::{Result, SamplingError};
use crate::model::*;
use crate::store::{self, ItemFilter, RegradeFilter, Work};
use crate::upstream::RegisteredAssessor;

/// An eligible reviewer.
#[derive(Clone, Debug)]
struct Reviewer {
    id: String,
    teacher: String,
    school: String,
    /// Subjects on the registration; empty means any.
    subjects: Vec<String>,
    /// Province assessors: anywhere; city and county assessors: within their city.
    reach: ReviewReach,
}

/// The outcome of AssignReviewers.
#[derive(Clone, Debug)]
pub struct Assignment {
    /// The round after.
    pub round: RoundRecord,
    /// Items assigned by this call.
    pub assigned: i64,
    /// Items left without an eligible assessor.
    pub unassigned: i64,
    /// (assessor id, open re-grades, items in this round), by id.
    pub loads: Vec<(String, i64, i64)>,
}

/// A reviewer's grade and notes.
#[derive(Clone, Debug, Default)]
pub struct RegradeInput {
    /// The grade.
    pub grade: Option<Grade>,
    /// Rubric scores.
    pub rubric_scores: Vec<(String, i32)>,
    /// (evidence, reason, explanation).
    pub invalid_evidence: Vec<(String, i32, String)>,
    /// Remarks.
    pub comment: String,
    /// ISO date of a visit.
    pub visit_date: String,
    /// The lesson observed.
    pub visited_lesson: String,
}

impl Reviewer {
    /// May review `item` ([`eligibility::may_review`]); `subject` is the drawn teacher's when
    /// the policy matches reviewers by subject.
    fn may_review(&self, item: &ItemRecord, subject: Option<&str>) -> bool {
        let reviewer = ReviewerFacts {
            teacher_number: &self.teacher,
            school_code: &self.school,
            subjects: &self.subjects,
            reach: self.reach,
        };
        let item = ReviewedItem {
            teacher_number: &item.teacher,
            school_code: &item.school,
            county: item
                .batch
                .split('-')
                .next()
                .and_then(|code| DivisionCode::parse(code).ok()),
            subject,
        };
        eligibility::may_review(&reviewer, &item).is_ok()
    }
}

impl Sampling {
    /// The subject each drawn teacher of `items` teaches, for batches whose policy matches
    /// reviewers by subject.
    async fn subjects_needed(
        &self,
        ctx: &Ctx,
        round: &RoundRecord,
        items: &[ItemRecord],
    ) -> Result<HashMap<String, String>> {
        let numbers: Vec<String> = items
            .iter()
            .filter(|i| {
                i.stage == Stage::Teacher && round.plan(&i.batch).is_some_and(|p| p.subject_match)
            })
            .map(|i| i.teacher.clone())
            .collect();
        if numbers.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self
            .upstream
            .schools_of(&ctx.token, &numbers)
            .await?
            .into_iter()
            .map(|(number, placement)| (number, placement.subject))
            .collect())
    }

    /// The assessors who may review `round`: REGISTERED at the reviewing level (county review:
    /// county assessors of the county; audit: province assessors and city assessors), with the
    /// school each works at; restricted to `pool` when given.
    async fn reviewers(
        &self,
        ctx: &Ctx,
        round: &RoundRecord,
        pool: &[String],
    ) -> Result<Vec<Reviewer>> {
        let registered = self
            .upstream
            .registered_assessors(&ctx.token, &round.scope_code)
            .await?;
        let level_ok = |a: &RegisteredAssessor| match round.level {
            Level::CountyReview => a.level == Some(AssessorLevel::County),
            Level::ProvinceAudit => {
                matches!(a.level, Some(AssessorLevel::Province | AssessorLevel::City))
            }
        };
        let eligible: Vec<&RegisteredAssessor> =
            registered.iter().filter(|a| level_ok(a)).collect();
        for (i, name) in pool.iter().enumerate() {
            if !eligible.iter().any(|a| &a.name == name) {
                return Err(SamplingError::invalid(
                    format!("assessors[{i}]"),
                    format!("{name} is not a REGISTERED assessor of this round's reviewing level"),
                ));
            }
        }
        let chosen: Vec<&RegisteredAssessor> = eligible
            .into_iter()
            .filter(|a| pool.is_empty() || pool.contains(&a.name))
            .collect();
        let numbers: Vec<String> = chosen.iter().map(|a| a.teacher.clone()).collect();
        let places = self.upstream.schools_of(&ctx.token, &numbers).await?;
        let mut out: Vec<Reviewer> = chosen
            .iter()
            .zip(numbers)
            .map(|(a, number)| Reviewer {
                id: a.id.clone(),
                school: places
                    .get(&number)
                    .map(|p| p.school.clone())
                    .unwrap_or_default(),
                subjects: a.subjects.clone(),
                teacher: number,
                reach: if a.level == Some(AssessorLevel::Province) {
                    ReviewReach::Anywhere
                } else {
                    a.registered_at
                        .map_or(ReviewReach::Nowhere, ReviewReach::WithinCityOf)
                },
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Assigns every unassigned teacher item to the eligible reviewer with the fewest open
    /// re-grades (ties by id): DRAWN → IN_REVIEW.
    pub async fn assign(&self, ctx: &Ctx, id: &str, pool: &[String]) -> Result<Assignment> {
        let round = self.own_round(ctx, id).await?;
        require_state(
            &round,
            &[RoundState::Drawn, RoundState::InReview],
            "assigning reviewers",
        )?;
        let reviewers = self.reviewers(ctx, &round, pool).await?;
        // Drawn items never change; only their assignment does, which the step below re-reads.
        let drawn = store::all_items(&self.db, id).await?;
        let subjects = self.subjects_needed(ctx, &round, &drawn).await?;
        if round.kind == Kind::OfflineCheck && round.state == RoundState::Drawn {
            // Again, in case the draw's own marking failed (it is idempotent).
            self.mark_visits_pending(ctx, &round, &drawn).await?;
        }
        retry_conflicts(|| async {
            let read = self.own_round(ctx, id).await?;
            require_state(
                &read,
                &[RoundState::Drawn, RoundState::InReview],
                "assigning reviewers",
            )?;
            let mut round = read.clone();
            let mut loads: BTreeMap<String, i64> =
                reviewers.iter().map(|r| (r.id.clone(), 0)).collect();
            for (assessor, open) in store::open_loads(&self.db).await? {
                if let Some(load) = loads.get_mut(&assessor) {
                    *load = open;
                }
            }
            let items = store::all_items(&self.db, id).await?;
            let regrades = store::all_regrades(
                &self.db,
                &RegradeFilter {
                    round: id.to_owned(),
                    ..Default::default()
                },
            )
            .await?;
            let mut in_round: HashMap<String, i64> = HashMap::new();
            for i in items.iter().filter(|i| !i.assessor.is_empty()) {
                *in_round.entry(i.assessor.clone()).or_default() += 1;
            }
            let micros = next_micros(round.update_micros);
            let mut work = Work::default();
            let mut unassigned = 0;
            for mut item in items
                .into_iter()
                .filter(|i| i.stage == Stage::Teacher && i.assessor.is_empty())
            {
                let Some(reviewer) = reviewers
                    .iter()
                    .filter(|r| {
                        r.may_review(&item, subjects.get(&item.teacher).map(String::as_str))
                    })
                    .min_by_key(|r| (loads[&r.id], r.id.clone()))
                else {
                    unassigned += 1;
                    continue;
                };
                let mut pending = 0;
                for mut r in regrades.iter().filter(|r| r.item == item.id).cloned() {
                    if r.state == RegradeState::Pending {
                        r.assessor = reviewer.id.clone();
                        pending += 1;
                        work.regrades.push(r);
                    }
                }
                *loads.get_mut(&reviewer.id).expect("a pool member") += pending;
                *in_round.entry(reviewer.id.clone()).or_default() += 1;
                item.history.push(AssignmentChange {
                    from: String::new(),
                    to: reviewer.id.clone(),
                    actor: ctx.actor(),
                    micros,
                    reason: "balanced by load".into(),
                });
                item.assessor = reviewer.id.clone();
                item.state = if pending > 0 {
                    ItemState::Assigned
                } else {
                    ItemState::Regraded
                };
                work.items.push(item);
            }
            if round.state == RoundState::Drawn {
                transition(ctx, &mut round, RoundState::InReview, "测评员分配");
            } else {
                round.update_micros = micros;
            }
            work.audits.push(ctx.audit(
                "AssignReviewers",
                round.name(),
                &round.path,
                serde_json::json!({ "assigned": work.items.len(), "unassigned": unassigned }),
            ));
            let assigned = work.items.len() as i64;
            work.round = Some((round.clone(), Some(read.update_micros)));
            store::commit(&self.db, &work).await?;
            Ok(Assignment {
                round,
                assigned,
                unassigned,
                loads: loads
                    .into_iter()
                    .map(|(id, open)| {
                        let n = in_round.get(&id).copied().unwrap_or(0);
                        (id, open, n)
                    })
                    .collect(),
            })
        })
        .await
    }

    /// Moves an item's pending re-grades to another eligible reviewer.
    pub async fn reassign(
        &self,
        ctx: &Ctx,
        round_id: &str,
        item_id: &str,
        to: &str,
        reason: &str,
    ) -> Result<ItemRecord> {
        if reason.trim().is_empty() {
            return Err(SamplingError::invalid(
                "reason",
                "say why the item changes hands, e.g. 测评员调换",
            ));
        }
        let round = self.own_round(ctx, round_id).await?;
        require_state(&round, &[RoundState::InReview], "reassigning")?;
        let reviewers = self.reviewers(ctx, &round, &[]).await?;
        let held = store::item(&self.db, round_id, item_id).await?;
        let subjects = self.subjects_needed(ctx, &round, held.as_slice()).await?;
        retry_conflicts(|| async {
            let read = self.own_round(ctx, round_id).await?;
            let mut item = self.item(ctx, &read, item_id).await?;
            let subject = subjects.get(&item.teacher).map(String::as_str);
            let pending: Vec<RegradeRecord> = store::all_regrades(
                &self.db,
                &RegradeFilter {
                    round: round_id.to_owned(),
                    item: item_id.to_owned(),
                    state: RegradeState::Pending.key().to_owned(),
                    ..Default::default()
                },
            )
            .await?;
            if item.stage != Stage::Teacher || pending.is_empty() {
                return Err(precondition(format!(
                    "{} has no pending re-grade to move",
                    item_name(&item)
                )));
            }
            let loads = store::open_loads(&self.db).await?;
            let candidates: Vec<&Reviewer> = reviewers
                .iter()
                .filter(|r| r.id != item.assessor && r.may_review(&item, subject))
                .collect();
            let reviewer = if to.is_empty() {
                candidates
                    .iter()
                    .min_by_key(|r| (loads.get(&r.id).copied().unwrap_or(0), r.id.clone()))
                    .copied()
                    .ok_or_else(|| precondition("no other eligible assessor is left; widen the pool"))?
            } else {
                candidates.iter().find(|r| r.id == to).copied().ok_or_else(|| {
                    SamplingError::invalid(
                        "assessor",
                        format!(
                            "assessors/{to} may not review {}: not REGISTERED at the reviewing level, from the school under review, or the current reviewer",
                            item_name(&item)
                        ),
                    )
                })?
            };
            let mut round = read.clone();
            round.update_micros = next_micros(round.update_micros);
            item.history.push(AssignmentChange {
                from: item.assessor.clone(),
                to: reviewer.id.clone(),
                actor: ctx.actor(),
                micros: round.update_micros,
                reason: reason.trim().to_owned(),
            });
            item.assessor = reviewer.id.clone();
            let moves = pending
                .into_iter()
                .map(|r| (r.round, r.item, r.code, reviewer.id.clone()))
                .collect();
            let audit = ctx.audit(
                "ReassignDrawnItem",
                item_name(&item),
                &round.path,
                serde_json::json!({ "to": reviewer.id, "reason": reason.trim() }),
            );
            store::commit(
                &self.db,
                &Work {
                    round: Some((round, Some(read.update_micros))),
                    items: vec![item.clone()],
                    moves,
                    audits: vec![audit],
                    ..Default::default()
                },
            )
            .await?;
            Ok(item)
        })
        .await
    }

    /// An item the caller may see: offices of the round, or the assessor it is assigned to.
    pub async fn item(&self, ctx: &Ctx, round: &RoundRecord, id: &str) -> Result<ItemRecord> {
        let item = store::item(&self.db, &round.id, id)
            .await?
            .ok_or_else(|| not_found(format!("reviewRounds/{}/items/{id}", round.id)))?;
        if ctx.caller.role == Role::Assessor && item.assessor != ctx.caller.subject {
            return Err(denied(format!(
                "{} is not assigned to you",
                item_name(&item)
            )));
        }
        if ctx.caller.role != Role::Assessor {
            super::require_office_over(ctx, round)?;
        }
        Ok(item)
    }

    /// A round's items; an assessor sees only theirs.
    pub async fn items(
        &self,
        ctx: &Ctx,
        id: &str,
        mut filter: ItemFilter,
        after: Option<(String, String, i64)>,
        limit: i64,
    ) -> Result<(Vec<ItemRecord>, i64)> {
        let round = self.round(ctx, id).await?;
        match ctx.caller.role {
            Role::Assessor => {
                if !filter.assessor.is_empty() && filter.assessor != ctx.caller.subject {
                    return Err(denied("an assessor lists only the items assigned to them"));
                }
                filter.assessor = ctx.caller.subject.clone();
            }
            role if role.is_office() => super::require_office_over(ctx, &round)?,
            _ => return Err(denied("offices and assessors list drawn items")),
        }
        store::items(&self.db, id, &filter, after, limit).await
    }

    /// A re-grade the caller may see; the assigned reviewer sees the original grade only once
    /// they have submitted (blind re-grading).
    pub async fn regrade(
        &self,
        ctx: &Ctx,
        round_id: &str,
        item: &str,
        code: &str,
    ) -> Result<RegradeRecord> {
        let round = self.round(ctx, round_id).await?;
        let r = store::regrade(&self.db, round_id, item, code)
            .await?
            .ok_or_else(|| {
                not_found(format!(
                    "reviewRounds/{round_id}/items/{item}/regrades/{code}"
                ))
            })?;
        self.check_regrade_access(ctx, &round, &r)?;
        Ok(r)
    }

    fn check_regrade_access(
        &self,
        ctx: &Ctx,
        round: &RoundRecord,
        r: &RegradeRecord,
    ) -> Result<()> {
        match ctx.caller.role {
            Role::Assessor if r.assessor == ctx.caller.subject => Ok(()),
            role if role.is_office() => super::require_office_over(ctx, round),
            _ => Err(denied(format!("{} is not assigned to you", r.name()))),
        }
    }

    /// Re-grades; an assessor sees only theirs.
    pub async fn regrades(
        &self,
        ctx: &Ctx,
        mut filter: RegradeFilter,
        after: Option<(String, i64, String, String)>,
        limit: i64,
    ) -> Result<(Vec<RegradeRecord>, i64)> {
        if ctx.caller.role == Role::Assessor {
            if !filter.assessor.is_empty() && filter.assessor != ctx.caller.subject {
                return Err(denied("an assessor lists only their own re-grades"));
            }
            filter.assessor = ctx.caller.subject.clone();
        } else if filter.round.is_empty() {
            return Err(SamplingError::invalid(
                "parent",
                "`reviewRounds/-` lists an assessor's own inbox; offices name a round",
            ));
        }
        if !filter.round.is_empty() {
            let round = self.round(ctx, &filter.round).await?;
            if ctx.caller.role != Role::Assessor {
                super::require_office_over(ctx, &round)?;
            }
        }
        store::regrades(&self.db, &filter, after, limit).await
    }

    /// Submits a blind re-grade: PENDING → SUBMITTED, final.
    pub async fn submit_regrade(
        &self,
        ctx: &Ctx,
        round_id: &str,
        item_id: &str,
        code: &str,
        input: &RegradeInput,
    ) -> Result<RegradeRecord> {
        if input.comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(SamplingError::invalid(
                "comment",
                format!("at most {MAX_COMMENT_CHARS} characters"),
            ));
        }
        retry_conflicts(|| async {
            let read = self.round(ctx, round_id).await?;
            let mut r = store::regrade(&self.db, round_id, item_id, code)
                .await?
                .ok_or_else(|| {
                    not_found(format!(
                        "reviewRounds/{round_id}/items/{item_id}/regrades/{code}"
                    ))
                })?;
            if ctx.caller.role != Role::Assessor || r.assessor != ctx.caller.subject {
                return Err(denied(format!(
                    "{} is assigned to another reviewer",
                    r.name()
                )));
            }
            require_state(&read, &[RoundState::InReview], "re-grading")?;
            if r.state != RegradeState::Pending {
                return Err(precondition(format!(
                    "{} was submitted already; it is final",
                    r.name()
                )));
            }
            let item = store::item(&self.db, round_id, item_id)
                .await?
                .ok_or_else(|| SamplingError::Internal(format!("{} has no item", r.name())))?;
            let rule = read
                .plan(&item.batch)
                .map(|p| p.rubric_rule.clone())
                .unwrap_or_default();
            let grade = decide_regrade_grade(&rule, input)?;
            if read.kind == Kind::OfflineCheck && input.visit_date.is_empty() {
                return Err(SamplingError::invalid(
                    "visit_date",
                    "an offline check records the day of the visit",
                ));
            }
            let micros = tica_storage::now_micros();
            r.state = RegradeState::Submitted;
            r.grade = Some(grade);
            r.agrees = grade == r.original;
            r.submit_micros = Some(micros);
            r.detail = RegradeDetail {
                rubric_scores: input.rubric_scores.clone(),
                invalid_evidence: input.invalid_evidence.clone(),
                comment: input.comment.trim().to_owned(),
                visit_date: input.visit_date.clone(),
                visited_lesson: input.visited_lesson.trim().to_owned(),
            };
            let work = Work {
                audits: vec![ctx.audit(
                    "SubmitRegrade",
                    r.name(),
                    &read.path,
                    serde_json::json!({ "grade": grade.key(), "agrees": r.agrees }),
                )],
                submissions: vec![r.clone()],
                ..Default::default()
            };
            store::commit(&self.db, &work).await?;
            Ok(r)
        })
        .await
        .inspect(|_| metrics::counter!("tica_sampling_reviews_submitted_total").increment(1))
    }
}

/// `reviewRounds/{round}/items/{item}`.
pub fn item_name(item: &ItemRecord) -> String {
    format!("reviewRounds/{}/items/{}", item.round, item.id)
}

/// The most a re-grade's remarks may hold, as a grader's (GradeSubmission).
const MAX_COMMENT_CHARS: usize = 2000;

/// A re-grade's grade under the rubric the batch pinned, as the school's grading is decided
/// (assessment `service/grading.rs`): scores must name the rubric's criteria within their
/// points; when the policy grades from the rubric total, the grade follows from it (a grade
/// given must agree), otherwise the grade is required.
fn decide_regrade_grade(
    rule: &tica_domain::policy::GradingRule,
    input: &RegradeInput,
) -> Result<Grade> {
    use tica_domain::policy::Grade as D;
    let mut scores = Vec::with_capacity(input.rubric_scores.len());
    for (i, (criterion, points)) in input.rubric_scores.iter().enumerate() {
        let points = u32::try_from(*points).map_err(|_| {
            SamplingError::invalid(format!("rubric_scores[{i}].points"), "0 or more")
        })?;
        scores.push((criterion.clone(), points));
    }
    if rule.rubric.is_none() && !scores.is_empty() {
        return Err(SamplingError::invalid(
            "rubric_scores",
            "the batch's policy has no rubric to score",
        ));
    }
    let from_rubric = tica_domain::policy::grades::grade_from_rubric(rule, &scores)
        .map_err(|problems| SamplingError::invalid("rubric_scores", problems))?
        .map(|g| match g {
            D::Fail => Grade::Fail,
            D::Pass => Grade::Pass,
            D::Excellent => Grade::Excellent,
        });
    match (from_rubric, input.grade) {
        (Some(g), Some(given)) if g != given => Err(SamplingError::invalid(
            "grade",
            format!(
                "the rubric total gives {}; leave grade unset or give the same",
                g.key()
            ),
        )),
        (Some(g), _) | (None, Some(g)) => Ok(g),
        (None, None) => Err(SamplingError::invalid(
            "grade",
            "give the re-grade: FAIL, PASS or EXCELLENT",
        )),
    }
}
