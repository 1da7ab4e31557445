//! Batches: a county's cohort for a year, from DRAFT through OPEN to CERTIFIED.

use std::collections::HashSet;
use tica_server::retry_conflicts;

use tica_auth::Role;
use tica_domain::division::{DivisionCode, JurisdictionLevel};
use tica_domain::{ScopePath, TeacherCategory};

use super::rules::batch_rules;
use super::{
    ADMINISTRATORS, Assessment, Ctx, Decision, Step, can_see, check_etag, denied, require_covers,
    require_role, today, transition,
};
use crate::error::{AssessmentError, Problems, Result};
use crate::model::*;
use crate::roster::RosterTeacher;
use crate::store::{self, Work, to_json};

/// A batch to create.
#[derive(Clone, Debug)]
pub struct NewBatch {
    /// County.
    pub county: DivisionCode,
    /// Year.
    pub year: i32,
    /// Name.
    pub display_name: String,
    /// School codes (empty: every school of the county, resolved when the batch opens).
    pub schools: Vec<String>,
    /// Deadlines.
    pub selection_deadline: Option<time::Date>,
    /// Deadlines.
    pub submission_deadline: Option<time::Date>,
    /// Deadlines.
    pub grading_deadline: Option<time::Date>,
    /// The date its certificates print (`None`: the day it is certified).
    pub certificate_date: Option<time::Date>,
}

/// Changes to a batch.
#[derive(Clone, Debug, Default)]
pub struct BatchUpdate {
    /// New name.
    pub display_name: Option<String>,
    /// New schools (DRAFT only).
    pub schools: Option<Vec<String>>,
    /// New deadline (`Some(None)` clears it).
    pub selection_deadline: Option<Option<time::Date>>,
    /// New deadline.
    pub submission_deadline: Option<Option<time::Date>>,
    /// New deadline.
    pub grading_deadline: Option<Option<time::Date>>,
    /// New certificate date (`Some(None)` clears it: the day of certification).
    pub certificate_date: Option<Option<time::Date>>,
    /// The etag the caller read (AIP-154): the update applies only if it is still current.
    pub etag: Option<String>,
}

/// A new participant from the roster's record of a teacher.
pub(crate) fn enrolment(
    batch: &BatchRecord,
    t: &RosterTeacher,
    carried_from: &str,
    now: i64,
) -> ParticipantRecord {
    ParticipantRecord {
        batch_id: batch.id.clone(),
        teacher_number: t.number.clone(),
        school_code: t.school.clone(),
        path: t.path(),
        enrolled: true,
        carried_over_from: carried_from.to_owned(),
        category: t.category.key().to_owned(),
        roles: t.roles.clone(),
        subject: t.subject.clone(),
        birth_date: t.birth_date,
        selection: Vec::new(),
        selection_state: SelectionState::None,
        verdict_json: String::new(),
        selection_info: None,
        hours: Vec::new(),
        counted_centihours: 0,
        hours_complete: false,
        submissions_expected: 0,
        submissions_submitted: 0,
        submissions_graded: 0,
        submissions_passed: 0,
        online_grade: None,
        offline_check: None,
        grade: None,
        grade_reasons: Vec::new(),
        certified: false,
        withdraw_reason: String::new(),
        create_micros: now,
        update_micros: now,
        loaded: None,
    }
}

/// A change to a batch: to the batch as the caller read it (its etag, when sent), a name of 1 to
/// 100 characters, schools only while DRAFT, deadlines in order.
fn decide_batch_update(
    mut batch: BatchRecord,
    update: &BatchUpdate,
    today: time::Date,
) -> Result<Decision<BatchRecord>> {
    check_etag(
        update.etag.as_deref(),
        &format!("batches/{}", batch.id),
        batch.update_micros,
    )?;
    let mut fields = Vec::new();
    let mut problems = Problems::new();
    if let Some(name) = &update.display_name {
        if name.trim().is_empty() || name.chars().count() > 100 {
            problems.add("batch.display_name", "1 to 100 characters");
        }
        batch.display_name = name.trim().to_owned();
        fields.push("display_name");
    }
    if let Some(schools) = &update.schools {
        if batch.state != BatchState::Draft {
            return Err(AssessmentError::FailedPrecondition(
                "schools can change only while the batch is DRAFT".into(),
            ));
        }
        batch.schools = schools.clone();
        fields.push("schools");
    }
    for (value, slot, field) in [
        (
            update.selection_deadline,
            &mut batch.selection_deadline,
            "selection_deadline",
        ),
        (
            update.submission_deadline,
            &mut batch.submission_deadline,
            "submission_deadline",
        ),
        (
            update.grading_deadline,
            &mut batch.grading_deadline,
            "grading_deadline",
        ),
    ] {
        if let Some(value) = value {
            *slot = value;
            fields.push(field);
        }
    }
    if let Some(date) = update.certificate_date {
        if batch.state == BatchState::Certified {
            return Err(AssessmentError::FailedPrecondition(format!(
                "batches/{} is certified: its certificates already carry their date",
                batch.id
            )));
        }
        if let Some(problem) = date.and_then(|d| certificate_date_problem(batch.year, d, today)) {
            problems.add("batch.certificate_date", problem);
        }
        batch.certificate_date = date;
        fields.push("certificate_date");
    }
    check_deadlines(&mut problems, &batch);
    problems.finish()?;
    batch.update_micros = next_micros(batch.update_micros);
    Ok(Decision {
        record: batch,
        audit: serde_json::json!({ "fields": fields }),
    })
}

/// Why `date` cannot be printed on the certificates of a batch of `year`, if it cannot: the
/// certificate records a decision about that year's work, so its date falls in that year or
/// later, and never after today (a date to come would print a decision not yet made).
fn certificate_date_problem(year: i32, date: time::Date, today: time::Date) -> Option<String> {
    if date.year() < year {
        Some(format!("{date} is before the batch's year {year}"))
    } else if date > today {
        Some(format!("{date} is after today ({today})"))
    } else {
        None
    }
}

/// A step along the batch's review chain, from one of the states it starts from: the batch
/// with its new state and the transition recorded.
fn decide_batch_move(
    batch: &BatchRecord,
    step: &Step<'_, BatchState>,
    transition: Transition,
) -> Result<Decision<BatchRecord>> {
    if !step.from.contains(&batch.state) {
        let allowed: Vec<&str> = step.from.iter().map(|s| s.key()).collect();
        return Err(AssessmentError::refused(
            tica_server::errors::ErrorReason::BatchState,
            "",
            format!(
                "batches/{} is {}; {} needs {}",
                batch.id,
                batch.state.key(),
                step.method,
                allowed.join(" or ")
            ),
        ));
    }
    let mut batch = batch.clone();
    let audit = serde_json::json!({
        "from": batch.state.key(),
        "to": step.to.key(),
        "reason": step.reason.trim(),
        "review_round": step.round,
    });
    batch.transitions.push(transition);
    batch.state = step.to;
    batch.update_micros = next_micros(batch.update_micros);
    Ok(Decision {
        record: batch,
        audit,
    })
}

fn check_deadlines(problems: &mut Problems, b: &BatchRecord) {
    if let (Some(s), Some(u)) = (b.selection_deadline, b.submission_deadline)
        && u < s
    {
        problems.add(
            "batch.submission_deadline",
            "must not be before the selection deadline",
        );
    }
    if let (Some(u), Some(g)) = (b.submission_deadline, b.grading_deadline)
        && g < u
    {
        problems.add(
            "batch.grading_deadline",
            "must not be before the submission deadline",
        );
    }
}

impl Assessment {
    /// One batch: visible inside the county and to the offices above it.
    pub async fn get_batch(&self, ctx: &Ctx, id: &str) -> Result<BatchRecord> {
        let batch = self.batch_or_404(&ctx.caller, id).await?;
        if !can_see(&ctx.caller, &batch.path) {
            return Err(denied(&ctx.caller));
        }
        Ok(batch)
    }

    /// Batches inside a jurisdiction's subtree (or the caller's county for school callers).
    pub async fn list_batches(
        &self,
        ctx: &Ctx,
        parent: Option<DivisionCode>,
        year: i32,
        state: Option<BatchState>,
        after: &(String, String),
        limit: i64,
    ) -> Result<(Vec<BatchRecord>, i64)> {
        let scope = match parent {
            Some(code) => {
                let path = ScopePath::for_jurisdiction(code);
                if !can_see(&ctx.caller, &path) {
                    return Err(denied(&ctx.caller));
                }
                path
            }
            // A school's caller sees its county's batches.
            None if ctx.caller.school.is_some() => {
                ScopePath::for_jurisdiction(ctx.caller.jurisdiction)
            }
            None => ctx.caller.scope.clone(),
        };
        store::batches_in(
            &self.db,
            &scope,
            i64::from(year),
            state.map(|s| s.key()).unwrap_or(""),
            after,
            limit,
        )
        .await
    }

    /// Creates a county's batch for a year, in DRAFT.
    pub async fn create_batch(&self, ctx: &Ctx, new: NewBatch) -> Result<BatchRecord> {
        require_role(&ctx.caller, ADMINISTRATORS, "create batches")?;
        let mut problems = Problems::new();
        if !matches!(
            new.county.level(),
            JurisdictionLevel::County | JurisdictionLevel::City
        ) {
            problems.add(
                "batch.county",
                "a batch belongs to a county (or a city without counties)",
            );
        }
        if !(2019..=2100).contains(&new.year) {
            problems.add("batch.year", "between 2019 and 2100");
        }
        if new.display_name.trim().is_empty() || new.display_name.chars().count() > 100 {
            problems.add("batch.display_name", "1 to 100 characters");
        }
        let mut seen = HashSet::new();
        for (i, s) in new.schools.iter().enumerate() {
            if !seen.insert(s) {
                problems.add(format!("batch.schools[{i}]"), "listed twice");
            }
        }
        if let Some(problem) = new
            .certificate_date
            .and_then(|d| certificate_date_problem(new.year, d, super::today()))
        {
            problems.add("batch.certificate_date", problem);
        }
        let now = tica_storage::now_micros();
        let batch = BatchRecord {
            id: format!("{}-{}", new.county, new.year),
            county: new.county,
            path: ScopePath::for_jurisdiction(new.county),
            year: new.year,
            display_name: new.display_name.trim().to_owned(),
            schools: new.schools,
            selection_deadline: new.selection_deadline,
            submission_deadline: new.submission_deadline,
            grading_deadline: new.grading_deadline,
            state: BatchState::Draft,
            open_date: None,
            policy_versions: Vec::new(),
            rules_json: "{}".into(),
            last_sequence: 0,
            certificate_date: new.certificate_date,
            transitions: Vec::new(),
            create_micros: now,
            update_micros: now,
            loaded: None,
        };
        check_deadlines(&mut problems, &batch);
        problems.finish()?;
        require_covers(&ctx.caller, &batch.path)?;
        self.check_schools(ctx, &batch).await?;
        let audit = ctx.audit(
            "CreateBatch",
            format!("batches/{}", batch.id),
            &batch.path,
            serde_json::json!({ "schools": batch.schools.len() }),
        );
        let work = Work {
            batches: vec![batch.clone()],
            audits: vec![audit],
            ..Default::default()
        };
        self.commit(&work).await.map_err(|e| match e {
            AssessmentError::AlreadyExists(_) => {
                AssessmentError::AlreadyExists(format!("batches/{} already exists", batch.id))
            }
            other => other,
        })?;
        Ok(batch)
    }

    /// Every listed school must exist and belong to the batch's county.
    async fn check_schools(&self, ctx: &Ctx, batch: &BatchRecord) -> Result<()> {
        let mut problems = Problems::new();
        for (i, code) in batch.schools.iter().enumerate() {
            match self.roster.school(&ctx.token, code).await {
                Ok(s) if batch.path.contains(&s.path()) => {}
                Ok(_) => problems.add(
                    format!("batch.schools[{i}]"),
                    format!("schools/{code} is not in jurisdictions/{}", batch.county),
                ),
                Err(AssessmentError::NotFound(_)) => problems.add(
                    format!("batch.schools[{i}]"),
                    format!("schools/{code}: no such school"),
                ),
                Err(e) => return Err(e),
            }
        }
        problems.finish()
    }

    /// Updates a batch.
    pub async fn update_batch(
        &self,
        ctx: &Ctx,
        id: &str,
        update: BatchUpdate,
    ) -> Result<BatchRecord> {
        require_role(&ctx.caller, ADMINISTRATORS, "change batches")?;
        retry_conflicts(|| self.update_batch_step(ctx, id, &update)).await
    }

    /// Reads the batch, decides the update, checks new schools with the roster, commits.
    async fn update_batch_step(
        &self,
        ctx: &Ctx,
        id: &str,
        update: &BatchUpdate,
    ) -> Result<BatchRecord> {
        let batch = self.batch_or_404(&ctx.caller, id).await?;
        require_covers(&ctx.caller, &batch.path)?;
        let Decision {
            record: batch,
            audit,
        } = decide_batch_update(batch, update, super::today())?;
        if update.schools.is_some() {
            self.check_schools(ctx, &batch).await?;
        }
        let audit = ctx.audit("UpdateBatch", format!("batches/{id}"), &batch.path, audit);
        self.commit(&Work {
            batches: vec![batch.clone()],
            audits: vec![audit],
            ..Default::default()
        })
        .await?;
        Ok(batch)
    }

    /// Opens a batch: pins the effective policy and enrols every teacher of its schools.
    pub async fn open_batch(
        &self,
        ctx: &Ctx,
        id: &str,
        open_date: Option<time::Date>,
    ) -> Result<BatchRecord> {
        require_role(&ctx.caller, ADMINISTRATORS, "open batches")?;
        let mut batch = self.batch_or_404(&ctx.caller, id).await?;
        require_covers(&ctx.caller, &batch.path)?;
        if batch.state != BatchState::Draft {
            return Err(AssessmentError::refused(
                tica_server::errors::ErrorReason::BatchState,
                "",
                format!("batches/{id} is {}, not DRAFT", batch.state.key()),
            ));
        }
        let effective = self.effective_at(batch.county).await?;
        let missing: Vec<&str> = ["hours", "selection", "grading"]
            .into_iter()
            .filter(|s| {
                effective
                    .sources
                    .iter()
                    .any(|(section, source)| section == s && source.is_none())
            })
            .collect();
        if !missing.is_empty() {
            return Err(AssessmentError::FailedPrecondition(format!(
                "no policy in force at jurisdictions/{} sets {}; {}",
                batch.county,
                missing.join(", "),
                "attach a policy (a preset will do) first"
            )));
        }
        if batch.schools.is_empty() {
            batch.schools = self
                .roster
                .schools_in(&ctx.token, batch.county)
                .await?
                .into_iter()
                .filter(|s| batch.path.contains(&s.path()))
                .map(|s| s.code)
                .collect();
        }
        let now = tica_storage::now_micros();
        let mut work = Work::default();
        for school in &batch.schools {
            let info = self.roster.school(&ctx.token, school).await?;
            work.school_results.push(SchoolResultRecord {
                batch_id: batch.id.clone(),
                school_code: school.clone(),
                path: info.path(),
                state: SchoolResultState::Open,
                transitions: Vec::new(),
                update_micros: now,
                loaded: None,
            });
            for teacher in self.roster.teachers_at(&ctx.token, school).await? {
                work.participants.push(enrolment(&batch, &teacher, "", now));
            }
        }
        let open = open_date.unwrap_or_else(today);
        batch.open_date = Some(open);
        batch.rules_json = to_json(&effective.rules);
        batch.policy_versions = effective.versions.clone();
        batch
            .transitions
            .push(transition(ctx, "draft", "open", "", ""));
        batch.state = BatchState::Open;
        batch.update_micros = next_micros(batch.update_micros);
        work.audits.push(ctx.audit(
            "OpenBatch",
            format!("batches/{id}"),
            &batch.path,
            serde_json::json!({
                "schools": batch.schools.len(),
                "participants": work.participants.len(),
                "policy_versions": batch.policy_versions,
            }),
        ));
        work.batches.push(batch.clone());
        self.commit(&work).await?;
        Ok(batch)
    }

    /// Enrols every participant of `source` who did not pass and now teaches at one of this
    /// batch's schools (兜底测评, 《宁夏实施方案》§三 第二、三阶段). Passed submissions
    /// and the selection come along when the policy keeps them. Returns (enrolled, skipped).
    pub async fn carry_over(
        &self,
        ctx: &Ctx,
        id: &str,
        source: &str,
    ) -> Result<(Vec<ParticipantRecord>, i64)> {
        require_role(&ctx.caller, ADMINISTRATORS, "carry participants over")?;
        let batch = self.batch_or_404(&ctx.caller, id).await?;
        require_covers(&ctx.caller, &batch.path)?;
        if batch.state != BatchState::Open {
            return Err(AssessmentError::refused(
                tica_server::errors::ErrorReason::BatchState,
                "",
                format!("batches/{id} must be OPEN"),
            ));
        }
        let from = self.batch_or_404(&ctx.caller, source).await?;
        if !can_see(&ctx.caller, &from.path) {
            return Err(denied(&ctx.caller));
        }
        if from.year >= batch.year {
            return Err(AssessmentError::invalid(
                "source_batch",
                "must be an earlier year's batch",
            ));
        }
        let rules = batch_rules(&batch)?;
        let carry = rules.carry_over.clone().unwrap_or_default();
        if !carry.enabled {
            return Err(AssessmentError::FailedPrecondition(
                "the policy does not carry teachers over".into(),
            ));
        }
        let candidates: Vec<ParticipantRecord> = store::participants_of(&self.db, source, "")
            .await?
            .into_iter()
            .filter(|p| {
                p.enrolled
                    && p.grade != Some(GradeKey::Pass)
                    && p.grade != Some(GradeKey::Excellent)
            })
            .collect();
        let numbers: Vec<String> = candidates
            .iter()
            .map(|p| p.teacher_number.clone())
            .collect();
        let now_teaching = self.roster.teachers(&ctx.token, &numbers).await?;
        let schools: HashSet<&String> = batch.schools.iter().collect();
        let now = tica_storage::now_micros();
        let mut work = Work::default();
        let mut enrolled = Vec::new();
        let mut skipped = 0i64;
        for old in &candidates {
            let Some(t) = now_teaching
                .get(&old.teacher_number)
                .filter(|t| schools.contains(&t.school))
            else {
                skipped += 1;
                continue;
            };
            if store::participant(&self.db, id, &t.number).await?.is_some() {
                skipped += 1;
                continue;
            }
            let mut p = enrolment(&batch, t, &format!("batches/{source}"), now);
            if carry.keep_passed_submissions && !old.selection.is_empty() {
                p.selection = old.selection.clone();
                p.selection_state = SelectionState::Accepted;
                p.verdict_json = old.verdict_json.clone();
                p.selection_info = old.selection_info.clone();
                for s in store::submissions_of(&self.db, source, &old.teacher_number).await? {
                    let passed = matches!(
                        s.grading.as_ref().map(|g| g.grade),
                        Some(GradeKey::Pass | GradeKey::Excellent)
                    );
                    work.submissions.push(SubmissionRecord {
                        batch_id: id.to_owned(),
                        teacher_number: t.number.clone(),
                        school_code: t.school.clone(),
                        path: t.path(),
                        state: if passed {
                            SubmissionState::Graded
                        } else {
                            SubmissionState::Draft
                        },
                        submit_micros: if passed { s.submit_micros } else { None },
                        grading: if passed { s.grading.clone() } else { None },
                        history: if passed {
                            s.history.clone()
                        } else {
                            Vec::new()
                        },
                        return_reason: String::new(),
                        carried_over: passed,
                        code: s.code,
                        update_micros: now,
                        loaded: None,
                    });
                }
                let mine: Vec<SubmissionRecord> = work
                    .submissions
                    .iter()
                    .filter(|s| s.teacher_number == t.number)
                    .cloned()
                    .collect();
                super::recount::recompute(&mut p, &mine, &rules, None, batch.open_date);
            }
            enrolled.push(p.clone());
            work.participants.push(p);
        }
        work.audits.push(ctx.audit(
            "CarryOverParticipants",
            format!("batches/{id}"),
            &batch.path,
            serde_json::json!({
                "source": format!("batches/{source}"),
                "enrolled": enrolled.len(),
                "skipped": skipped,
            }),
        ));
        self.commit(&work).await?;
        Ok((enrolled, skipped))
    }

    /// Changes a batch's state along the review chain.
    pub(crate) async fn move_batch(
        &self,
        ctx: &Ctx,
        id: &str,
        step: Step<'_, BatchState>,
        also: impl Fn(&BatchRecord, &mut Work) -> Result<()>,
    ) -> Result<BatchRecord> {
        retry_conflicts(|| self.move_batch_step(ctx, id, &step, &also)).await
    }

    /// Reads the batch, decides the move, adds what else it writes, commits.
    async fn move_batch_step(
        &self,
        ctx: &Ctx,
        id: &str,
        step: &Step<'_, BatchState>,
        also: &impl Fn(&BatchRecord, &mut Work) -> Result<()>,
    ) -> Result<BatchRecord> {
        let batch = self.batch_or_404(&ctx.caller, id).await?;
        require_covers(&ctx.caller, &batch.path)?;
        let moved = step.transition(ctx, batch.state.key(), step.to.key());
        let Decision {
            record: moved,
            audit,
        } = decide_batch_move(&batch, step, moved)?;
        let mut work = Work::default();
        also(&batch, &mut work)?;
        let audit = ctx.audit(step.method, format!("batches/{id}"), &moved.path, audit);
        work.audits.push(audit);
        work.batches.push(moved.clone());
        self.commit(&work).await?;
        Ok(moved)
    }

    /// READY_FOR_AUDIT → IN_PROVINCE_AUDIT (the sampling service, or a city/province office).
    pub async fn begin_province_audit(
        &self,
        ctx: &Ctx,
        id: &str,
        round: &str,
        reason: &str,
    ) -> Result<BatchRecord> {
        require_role(
            &ctx.caller,
            &[Role::CityOffice, Role::ProvinceOffice],
            "begin a province audit",
        )?;
        self.move_batch(
            ctx,
            id,
            Step {
                method: "BeginProvinceAudit",
                from: &[BatchState::ReadyForAudit],
                to: BatchState::InProvinceAudit,
                reason,
                round,
            },
            |_, _| Ok(()),
        )
        .await
    }

    /// IN_PROVINCE_AUDIT → RETURNED_TO_COUNTY: every school's results go back to county review.
    pub async fn return_batch(
        &self,
        ctx: &Ctx,
        id: &str,
        round: &str,
        reason: &str,
    ) -> Result<BatchRecord> {
        require_role(
            &ctx.caller,
            &[Role::CityOffice, Role::ProvinceOffice],
            "return a county's results",
        )?;
        if reason.trim().is_empty() {
            return Err(AssessmentError::invalid(
                "reason",
                "say why the results go back",
            ));
        }
        let schools =
            store::school_results_in(&self.db, id, &ScopePath::everything(), "", "", i64::MAX)
                .await?;
        self.move_batch(
            ctx,
            id,
            Step {
                method: "ReturnBatch",
                from: &[BatchState::InProvinceAudit],
                to: BatchState::ReturnedToCounty,
                reason,
                round,
            },
            |_, work| {
                for mut r in schools.clone() {
                    r.transitions.push(transition(
                        ctx,
                        r.state.key(),
                        "in_county_review",
                        reason,
                        round,
                    ));
                    r.state = SchoolResultState::InCountyReview;
                    r.update_micros = next_micros(r.update_micros);
                    work.school_results.push(r);
                }
                Ok(())
            },
        )
        .await
    }
}

/// A category key back as the domain enum.
pub(crate) fn category_of(p: &ParticipantRecord) -> TeacherCategory {
    TeacherCategory::from_label(&p.category).unwrap_or(TeacherCategory::Ordinary)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tica_server::errors::ErrorReason;

    pub(crate) fn batch(state: BatchState) -> BatchRecord {
        let county = DivisionCode::parse("640104").unwrap();
        BatchRecord {
            id: "b1".into(),
            county,
            path: ScopePath::for_jurisdiction(county),
            year: 2026,
            display_name: "2026".into(),
            schools: Vec::new(),
            selection_deadline: None,
            submission_deadline: None,
            grading_deadline: None,
            state,
            open_date: None,
            policy_versions: Vec::new(),
            rules_json: "{}".into(),
            last_sequence: 0,
            certificate_date: None,
            transitions: Vec::new(),
            create_micros: 1,
            update_micros: 1,
            loaded: None,
        }
    }

    pub(crate) fn moved(from: &str, to: &str) -> Transition {
        Transition {
            from: from.into(),
            to: to.into(),
            actor: Default::default(),
            micros: 5,
            reason: String::new(),
            review_round: String::new(),
        }
    }

    const BEGIN_AUDIT: Step<'static, BatchState> = Step {
        method: "BeginProvinceAudit",
        from: &[BatchState::ReadyForAudit],
        to: BatchState::InProvinceAudit,
        reason: " 抽检 ",
        round: "r1",
    };

    #[test]
    fn a_batch_moves_only_from_a_state_the_step_starts_from() {
        let t = moved("open", "in_province_audit");
        let r = decide_batch_move(&batch(BatchState::Open), &BEGIN_AUDIT, t);
        let Err(refused) = r else {
            panic!("{r:?}");
        };
        assert_eq!(refused.reason(), ErrorReason::BatchState);
        assert_eq!(
            refused.to_string(),
            "batches/b1 is open; BeginProvinceAudit needs ready_for_audit"
        );
    }

    #[test]
    fn a_batch_move_records_the_transition_and_says_from_where_to_where() {
        let t = moved("ready_for_audit", "in_province_audit");
        let d = decide_batch_move(&batch(BatchState::ReadyForAudit), &BEGIN_AUDIT, t).unwrap();
        assert_eq!(d.record.state, BatchState::InProvinceAudit);
        assert_eq!(d.record.transitions.len(), 1);
        assert!(d.record.update_micros > 1);
        let audit = serde_json::json!({
            "from": "ready_for_audit",
            "to": "in_province_audit",
            "reason": "抽检",
            "review_round": "r1",
        });
        assert_eq!(d.audit, audit);
    }

    #[test]
    fn schools_change_only_while_the_batch_is_a_draft() {
        let update = BatchUpdate {
            schools: Some(vec!["6401040001".into()]),
            ..Default::default()
        };
        let r = decide_batch_update(batch(BatchState::Open), &update, day(2026, 12, 7));
        assert!(
            matches!(&r, Err(e) if e.reason() == ErrorReason::PreconditionNotMet),
            "{r:?}"
        );
        let d = decide_batch_update(batch(BatchState::Draft), &update, day(2026, 12, 7)).unwrap();
        assert_eq!(d.record.schools, ["6401040001"]);
        assert_eq!(d.audit, serde_json::json!({ "fields": ["schools"] }));
    }

    fn day(year: i32, month: u8, day: u8) -> time::Date {
        time::Date::from_calendar_date(year, time::Month::try_from(month).unwrap(), day).unwrap()
    }

    #[test]
    fn a_certificate_date_falls_in_the_batchs_year_or_later_and_never_after_today() {
        let today = day(2026, 12, 7);
        let cases = [
            (day(2026, 12, 30), Some("after today")),
            (day(2025, 12, 31), Some("before the batch's year 2026")),
            (day(2026, 1, 1), None),
            (today, None),
        ];
        for (date, problem) in cases {
            let update = BatchUpdate {
                certificate_date: Some(Some(date)),
                ..Default::default()
            };
            let r = decide_batch_update(batch(BatchState::Open), &update, today);
            match problem {
                None => assert_eq!(r.unwrap().record.certificate_date, Some(date)),
                Some(why) => assert!(
                    matches!(&r, Err(AssessmentError::Invalid(p))
                        if p.iter().any(|(f, m)| f == "batch.certificate_date" && m.contains(why))),
                    "{date}: {r:?}"
                ),
            }
        }
    }

    #[test]
    fn a_certified_batch_keeps_the_date_its_certificates_carry() {
        let update = BatchUpdate {
            certificate_date: Some(Some(day(2026, 6, 1))),
            ..Default::default()
        };
        let r = decide_batch_update(batch(BatchState::Certified), &update, day(2026, 12, 7));
        assert!(
            matches!(&r, Err(AssessmentError::FailedPrecondition(_))),
            "{r:?}"
        );
    }

    #[test]
    fn a_batch_name_is_one_to_a_hundred_characters() {
        let update = BatchUpdate {
            display_name: Some("  ".into()),
            ..Default::default()
        };
        let r = decide_batch_update(batch(BatchState::Draft), &update, day(2026, 12, 7));
        assert!(matches!(r, Err(AssessmentError::Invalid(_))), "{r:?}");
    }
}
