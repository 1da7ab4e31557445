//! Training hours pushed by providers' backends, idempotent per (provider, record id, revision).

use std::collections::{BTreeSet, HashMap};
use tica_domain::ScopePath;
use tica_domain::names::TeacherName;
use tica_server::retry_conflicts;

use tica_auth::Role;
use tica_domain::policy::{self as rules, HoursEntry, PolicyRules};

use super::recount::{hours_entries, recompute};
use super::rules::batch_rules;
use super::{Assessment, Ctx, denied, require_covers};
use crate::error::{AssessmentError, Result};
use crate::model::*;
use crate::roster::RosterTeacher;
use crate::store::{self, Work};

/// One record as a provider pushes it.
#[derive(Clone, Debug, Default)]
pub struct HoursPush {
    /// The provider's record id.
    pub record_id: String,
    /// `teachers/{number}` or empty.
    pub teacher: String,
    /// The resident ID number, when the teacher number is unknown (never stored).
    pub id_number: String,
    /// Kind key.
    pub kind: String,
    /// Course id.
    pub course_id: String,
    /// Course title.
    pub course_title: String,
    /// Centihours awarded when complete.
    pub centihours: i64,
    /// Minutes watched.
    pub watched_minutes: i64,
    /// Course length.
    pub course_minutes: i64,
    /// Completed (µs), when the provider says; `None`: stamped with the time it is stored.
    pub complete_micros: Option<i64>,
    /// Revision.
    pub revision: i64,
}

/// What a push did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// New.
    Created,
    /// A higher revision replaced it.
    Updated,
    /// Nothing changed.
    Unchanged,
    /// Refused.
    Rejected,
}

impl PushOutcome {
    /// The `outcome` label of `tica_assessment_hours_records_total`.
    pub fn key(self) -> &'static str {
        match self {
            PushOutcome::Created => "created",
            PushOutcome::Updated => "updated",
            PushOutcome::Unchanged => "unchanged",
            PushOutcome::Rejected => "rejected",
        }
    }
}

/// One record's result.
#[derive(Clone, Debug)]
pub struct PushedRecord {
    /// `providers/{p}/hoursRecords/{r}`.
    pub name: String,
    /// Outcome.
    pub outcome: PushOutcome,
    /// The stored record (unless rejected).
    pub record: Option<HoursRecordRow>,
    /// Why it was refused.
    pub error: String,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Whether `record` (as stored now) reached `batch` after it was certified: a certified batch's
/// counts are final (a recount skips it), so such a record counts for nothing there.
fn received_after_certification(batch: &BatchRecord, record: &HoursRecordRow) -> bool {
    batch.state == BatchState::Certified
        && batch
            .transitions
            .iter()
            .filter(|t| t.to == BatchState::Certified.key())
            .map(|t| t.micros)
            .max()
            .is_some_and(|certified| record.update_micros > certified)
}

/// Counted hours of one record under the rules of the teacher's batch: (counted, reason).
pub fn counted(
    record: &HoursRecordRow,
    rules: &tica_domain::policy::PolicyRules,
) -> (i64, Option<String>) {
    let Some(rule) = &rules.hours else {
        return (record.centihours, None);
    };
    let Some(kind) = super::keys::hours_kind_from_key(&record.kind) else {
        return (0, Some("unknown kind".into()));
    };
    let entry = HoursEntry {
        kind,
        centihours: record.centihours,
        watched_minutes: (record.course_minutes > 0).then_some(record.watched_minutes as u32),
        course_minutes: (record.course_minutes > 0).then_some(record.course_minutes as u32),
    };
    let count = rules::count_entry(rule, &entry);
    (count.counted_centihours, count.reason)
}

impl Assessment {
    /// Stores up to 1000 records of one provider; each succeeds or fails on its own. The
    /// provider is the caller's token subject (`providers/{subject}`), or `school-{code}` for
    /// hours a school's administrator awards.
    ///
    /// The records that pass their checks are stored in one transaction (with their audit
    /// entries), and the participants whose hours changed are recounted in chunks after it: a
    /// provider's nightly push of a county is a handful of commits, not two per record.
    pub async fn push_hours(
        &self,
        ctx: &Ctx,
        provider: &str,
        records: Vec<HoursPush>,
    ) -> Result<Vec<PushedRecord>> {
        let own = match ctx.caller.role {
            Role::TrainingProvider => ctx.caller.subject.clone(),
            Role::SchoolAdmin => {
                format!("school-{}", ctx.caller.school.clone().unwrap_or_default())
            }
            _ => {
                return Err(AssessmentError::PermissionDenied(
                    "hours are pushed by training providers and school offices".into(),
                ));
            }
        };
        if provider != own {
            // Another provider's records: a question of permission, not of a malformed field.
            return Err(AssessmentError::PermissionDenied(format!(
                "this token pushes hours as providers/{own} only"
            )));
        }
        if records.is_empty() || records.len() > 1000 {
            return Err(AssessmentError::invalid("records", "1 to 1000 records"));
        }
        let names: Vec<String> = records
            .iter()
            .map(|push| format!("providers/{provider}/hoursRecords/{}", push.record_id))
            .collect();
        let mut outcomes: Vec<Option<Result<(PushOutcome, HoursRecordRow)>>> =
            (0..records.len()).map(|_| None).collect();
        let mut ready = Vec::with_capacity(records.len());
        for (i, push) in records.iter().enumerate() {
            match check_push(push) {
                Ok(()) => ready.push(i),
                Err(e) => outcomes[i] = Some(Err(e)),
            }
        }
        let mut stored = Vec::with_capacity(ready.len());
        for (i, teacher) in self.push_teachers(ctx, &records, &ready).await? {
            match teacher {
                Ok(teacher) => stored.push((i, teacher)),
                Err(e) => outcomes[i] = Some(Err(e)),
            }
        }
        let step = || self.push_step(ctx, provider, &records, &stored);
        for (i, outcome) in retry_conflicts(step).await? {
            outcomes[i] = Some(outcome);
        }
        let mut touched: BTreeSet<String> = BTreeSet::new();
        let mut results = Vec::with_capacity(records.len());
        for (name, outcome) in names.into_iter().zip(outcomes) {
            let pushed = match outcome.expect("every record has an outcome") {
                Ok((outcome, record)) => {
                    // Unchanged ones too: the recount derives from what is stored, so it is
                    // idempotent, and the retry of a push whose records committed but whose
                    // recount lost its race must finish that recount.
                    touched.insert(record.teacher_number.clone());
                    PushedRecord {
                        name,
                        outcome,
                        record: Some(record),
                        error: String::new(),
                    }
                }
                Err(e) => PushedRecord {
                    name,
                    outcome: PushOutcome::Rejected,
                    record: None,
                    error: error_text(&e),
                },
            };
            let outcome = pushed.outcome.key();
            metrics::counter!("tica_assessment_hours_records_total", "outcome" => outcome)
                .increment(1);
            results.push(pushed);
        }
        let touched: Vec<String> = touched.into_iter().collect();
        for chunk in touched.chunks(REFRESH_CHUNK) {
            match self.refresh_hours_of(chunk).await {
                // A chunk of teachers keeps losing to gradings and other pushes of some of
                // them: one teacher a transaction then, each re-read on its own.
                Err(AssessmentError::Conflict(_)) => {
                    for teacher in chunk {
                        self.refresh_hours_of(std::slice::from_ref(teacher)).await?;
                    }
                }
                other => other?,
            }
        }
        Ok(results)
    }

    /// The teacher of each checked record (by index), or why it has none: one BatchGetTeachers
    /// for the records that name `teachers/{number}`, and a lookup per record for those that
    /// give an ID number. When the batch call is refused (one teacher missing or out of scope
    /// fails it whole), the records are looked up one by one, so only theirs are rejected.
    async fn push_teachers(
        &self,
        ctx: &Ctx,
        records: &[HoursPush],
        ready: &[usize],
    ) -> Result<Vec<(usize, Result<RosterTeacher>)>> {
        let numbers: Vec<String> = ready
            .iter()
            .filter_map(|&i| TeacherName::id_of(&records[i].teacher))
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // `complete`: the roster answered for every number, so one it left out is unknown to
        // this caller (Roster::teachers already asked again one by one); otherwise each record
        // asks for its own teacher and gets its own refusal.
        let (known, complete) = match self.roster.teachers(&ctx.token, &numbers).await {
            Ok(known) => (known, true),
            Err(
                AssessmentError::NotFound(_)
                | AssessmentError::PermissionDenied(_)
                | AssessmentError::Invalid(_),
            ) => (HashMap::new(), false),
            Err(e) => return Err(e),
        };
        let mut teachers = Vec::with_capacity(ready.len());
        for &i in ready {
            let push = &records[i];
            let teacher = match TeacherName::id_of(&push.teacher) {
                Some(number) => match known.get(number) {
                    Some(t) => Ok(t.clone()),
                    None if complete => Err(AssessmentError::NotFound(TeacherName::of(number))),
                    None => self.roster.teacher(&ctx.token, number).await,
                },
                None => self
                    .roster
                    .teacher_by_id_number(&ctx.token, &push.id_number)
                    .await
                    .and_then(|t| {
                        t.ok_or_else(|| {
                            AssessmentError::invalid(
                                "id_number",
                                "no teacher with this ID number is visible to this token",
                            )
                        })
                    }),
            };
            let teacher = teacher.and_then(|t| require_covers(&ctx.caller, &t.path()).map(|()| t));
            // A roster outage fails the call; anything else is this record's own.
            if let Err(e @ (AssessmentError::Internal(_) | AssessmentError::Storage(_))) = teacher {
                return Err(e);
            }
            teachers.push((i, teacher));
        }
        Ok(teachers)
    }

    /// Reads each record's stored version (or takes the one pushed earlier in this call),
    /// decides it with [`decide_push`], and commits the new and changed ones, with their audit
    /// entries, in one transaction (run under `retry_conflicts`: a lost race reads again).
    async fn push_step(
        &self,
        ctx: &Ctx,
        provider: &str,
        records: &[HoursPush],
        stored: &[(usize, RosterTeacher)],
    ) -> Result<Vec<(usize, Result<(PushOutcome, HoursRecordRow)>)>> {
        let mut current: HashMap<&str, Option<HoursRecordRow>> = HashMap::new();
        let mut written: HashMap<&str, usize> = HashMap::new();
        let mut work = Work::default();
        let mut outcomes = Vec::with_capacity(stored.len());
        for (i, teacher) in stored {
            let i = *i;
            let push = &records[i];
            let id = push.record_id.as_str();
            let existing = match current.get(id) {
                Some(r) => r.clone(),
                None => store::hours_record(&self.db, provider, id).await?,
            };
            let outcome = decide_push(provider, push, teacher, existing.as_ref());
            if let Ok((outcome, record)) = &outcome
                && *outcome != PushOutcome::Unchanged
            {
                work.audits.push(ctx.audit(
                    "BatchPushHoursRecords",
                    format!("providers/{provider}/hoursRecords/{}", record.record_id),
                    &record.path,
                    push_audit(record),
                ));
                // A record pushed twice in one call is written once, as it ends; its
                // `loaded` still names the stored version the write replaces.
                match written.get(id) {
                    Some(&slot) => work.hours[slot] = record.clone(),
                    None => {
                        written.insert(id, work.hours.len());
                        work.hours.push(record.clone());
                    }
                }
                current.insert(id, Some(record.clone()));
            } else {
                current.insert(id, existing);
            }
            outcomes.push((i, outcome));
        }
        if !work.hours.is_empty() {
            self.commit(&work).await?;
        }
        Ok(outcomes)
    }

    /// Re-evaluates the hours (and so the grade) of teachers' open enrolments, storing every
    /// changed participant in one transaction (a lost race reads them all again).
    pub(crate) async fn refresh_hours_of(&self, teachers: &[String]) -> Result<()> {
        retry_conflicts(|| self.refresh_step(teachers)).await
    }

    /// Reads the teachers' records, open enrolments and submissions, recomputes each
    /// enrolment, commits the ones that changed.
    async fn refresh_step(&self, teachers: &[String]) -> Result<()> {
        let mut batches: HashMap<String, Option<(BatchRecord, PolicyRules)>> = HashMap::new();
        let mut work = Work::default();
        for teacher in teachers {
            let records = self.all_hours_of(teacher).await?;
            for p in store::enrolments(&self.db, teacher).await? {
                if !batches.contains_key(&p.batch_id) {
                    let batch = self.stored_batch(&p.batch_id).await?;
                    let open = !matches!(batch.state, BatchState::Certified | BatchState::Draft);
                    let entry = if open {
                        let rules = batch_rules(&batch)?;
                        Some((batch, rules))
                    } else {
                        None
                    };
                    batches.insert(p.batch_id.clone(), entry);
                }
                let Some((batch, rules)) = &batches[&p.batch_id] else {
                    continue;
                };
                let submissions = store::submissions_of(&self.db, &p.batch_id, teacher).await?;
                let counts = Counts {
                    submissions: &submissions,
                    rules,
                    hours: &records,
                    open_date: batch.open_date,
                };
                work.participants.extend(decide_refresh(p, &counts));
            }
        }
        if work.participants.is_empty() {
            return Ok(());
        }
        self.commit(&work).await
    }

    async fn all_hours_of(&self, teacher: &str) -> Result<Vec<HoursRecordRow>> {
        store::hours_records(&self.db, teacher, "", "", &Default::default(), i64::MAX).await
    }

    /// One record, with what it counts in the teacher's current batch.
    pub async fn get_hours_record(
        &self,
        ctx: &Ctx,
        provider: &str,
        record: &str,
    ) -> Result<(
        HoursRecordRow,
        Option<ParticipantRecord>,
        (i64, Option<String>),
    )> {
        let missing =
            || AssessmentError::NotFound(format!("providers/{provider}/hoursRecords/{record}"));
        // A training provider reads its own records only; another's are not there for it
        // (decided from the name, before anything is read).
        if ctx.caller.role == Role::TrainingProvider && ctx.caller.subject != provider {
            return Err(missing());
        }
        let r = store::hours_record(&self.db, provider, record)
            .await?
            .ok_or_else(missing)?;
        if ctx.caller.role == Role::Teacher && ctx.caller.subject != r.teacher_number {
            return Err(denied(&ctx.caller));
        }
        if ctx.caller.role != Role::TrainingProvider {
            require_covers(&ctx.caller, &r.path)?;
        }
        let (participant, count) = self.count_in_current_batch(&r).await?;
        Ok((r, participant, count))
    }

    /// The participant a record counts towards (the teacher's newest open enrolment) and its
    /// count there.
    pub(crate) async fn count_in_current_batch(
        &self,
        r: &HoursRecordRow,
    ) -> Result<(Option<ParticipantRecord>, (i64, Option<String>))> {
        for p in store::enrolments(&self.db, &r.teacher_number).await? {
            let batch = self.stored_batch(&p.batch_id).await?;
            if batch.state == BatchState::Draft {
                continue;
            }
            if received_after_certification(&batch, r) {
                let reason = format!(
                    "received after batches/{} was certified: its hours are final",
                    batch.id
                );
                return Ok((Some(p), (0, Some(reason))));
            }
            let rules = batch_rules(&batch)?;
            let entries = hours_entries(&p, std::slice::from_ref(r), &rules, batch.open_date);
            if entries.is_empty() {
                return Ok((
                    Some(p),
                    (0, Some("completed before this batch opened".into())),
                ));
            }
            return Ok((Some(p), counted(r, &rules)));
        }
        Ok((None, (0, Some("the teacher is in no batch yet".into()))))
    }

    /// A page of the hours records under `parent` that the caller may read, and how many there
    /// are in all: a teacher reads their own; a training provider its own records (of any
    /// teacher); a school office also the hours it awards under `school-{code}`; everyone else
    /// the records inside their scope. The narrowing is part of the query, so pages are full and
    /// the total counts only what the caller may read.
    pub async fn list_hours_records(
        &self,
        ctx: &Ctx,
        parent: store::HoursParent,
        kind: Option<&str>,
        after: &(String, String),
        limit: i64,
    ) -> Result<(Vec<HoursRecordRow>, i64)> {
        let caller = &ctx.caller;
        let mut listing = store::HoursListing {
            parent,
            provider: String::new(),
            teacher: String::new(),
            kind: kind.unwrap_or("").to_owned(),
            range: caller.scope.range(),
        };
        match (&listing.parent, caller.role) {
            (store::HoursParent::Teacher(t), Role::Teacher) => {
                if caller.subject != *t {
                    return Err(denied(caller));
                }
                // Their own records, wherever they were pushed from.
                listing.range = ScopePath::everything().range();
            }
            (store::HoursParent::Provider(p), Role::TrainingProvider) if caller.subject != *p => {
                return Err(denied(caller));
            }
            (store::HoursParent::Provider(p), _) => {
                let own = (caller.role == Role::TrainingProvider && caller.subject == *p)
                    || caller
                        .school
                        .as_ref()
                        .is_some_and(|s| format!("school-{s}") == *p);
                if own {
                    listing.range = ScopePath::everything().range();
                }
            }
            (store::HoursParent::Batch(b), _) => {
                super::require_batch_scope(caller, b)?;
                if caller.role == Role::Teacher {
                    listing.teacher = caller.subject.clone();
                    listing.range = ScopePath::everything().range();
                }
            }
            (store::HoursParent::Teacher(_), _) => {}
        }
        if caller.role == Role::TrainingProvider {
            // A provider reads, of anyone's records, its own.
            listing.provider = caller.subject.clone();
            listing.range = ScopePath::everything().range();
        }
        let rows = store::list_hours_records(&self.db, &listing, after, limit).await?;
        let total = store::count_hours_records(&self.db, &listing).await?;
        Ok((rows, total))
    }

    /// Hours counted per kind for a participant, with requirements (for GetParticipant).
    pub fn hours_summary(p: &ParticipantRecord) -> HashMap<String, (i64, i64)> {
        p.hours
            .iter()
            .map(|h| (h.kind.clone(), (h.required, h.counted)))
            .collect()
    }
}

/// Teachers recounted per transaction after a push.
const REFRESH_CHUNK: usize = 250;

/// A record's own checks, before anything is looked up.
fn check_push(push: &HoursPush) -> Result<()> {
    if !valid_id(&push.record_id) {
        return Err(AssessmentError::invalid(
            "record_id",
            "1 to 64 of [0-9A-Za-z._-]",
        ));
    }
    if super::keys::hours_kind_from_key(&push.kind).is_none() {
        return Err(AssessmentError::invalid("kind", "required"));
    }
    if push.centihours <= 0 || push.centihours > 100_000 {
        return Err(AssessmentError::invalid(
            "centihours",
            "between 1 and 100000 (1000 学时)",
        ));
    }
    if push.watched_minutes < 0 || push.course_minutes < 0 {
        return Err(AssessmentError::invalid(
            "watched_minutes",
            "minutes are not negative",
        ));
    }
    if push.revision < 0
        || push.course_title.chars().count() > 200
        || push.course_id.chars().count() > 100
    {
        return Err(AssessmentError::invalid(
            "record",
            "revision ≥ 0, course title ≤ 200 and id ≤ 100 characters",
        ));
    }
    if TeacherName::id_of(&push.teacher).is_none() && push.id_number.is_empty() {
        return Err(AssessmentError::invalid(
            "teacher",
            "give `teachers/{number}` or `id_number`",
        ));
    }
    Ok(())
}

/// What a pushed record does to the stored one: a new record, a higher revision that replaces
/// it, the same revision again (unchanged when the content is the same, refused when not), or
/// a lower revision (unchanged: the stored one is newer).
/// What a participant's counts are made of.
struct Counts<'a> {
    submissions: &'a [SubmissionRecord],
    rules: &'a PolicyRules,
    hours: &'a [HoursRecordRow],
    open_date: Option<time::Date>,
}

/// The participant with its hours and grade recomputed, if that changes it.
fn decide_refresh(mut p: ParticipantRecord, counts: &Counts) -> Option<ParticipantRecord> {
    let before = p.clone();
    let hours = Some(counts.hours);
    recompute(
        &mut p,
        counts.submissions,
        counts.rules,
        hours,
        counts.open_date,
    );
    if p == before {
        return None;
    }
    p.update_micros = next_micros(p.update_micros);
    Some(p)
}

/// What the audit entry of a pushed record says.
fn push_audit(record: &HoursRecordRow) -> serde_json::Value {
    serde_json::json!({
        "teacher": format!("teachers/{}", record.teacher_number),
        "kind": record.kind,
        "centihours": record.centihours,
        "revision": record.revision,
    })
}

fn decide_push(
    provider: &str,
    push: &HoursPush,
    teacher: &RosterTeacher,
    existing: Option<&HoursRecordRow>,
) -> Result<(PushOutcome, HoursRecordRow)> {
    let now = tica_storage::now_micros();
    let mut record = HoursRecordRow {
        provider_id: provider.to_owned(),
        record_id: push.record_id.clone(),
        teacher_number: teacher.number.clone(),
        path: teacher.path(),
        kind: push.kind.clone(),
        course_id: push.course_id.trim().to_owned(),
        course_title: push.course_title.trim().to_owned(),
        centihours: push.centihours,
        watched_minutes: push.watched_minutes,
        course_minutes: push.course_minutes,
        complete_micros: push.complete_micros.unwrap_or(now),
        complete_time_stamped: push.complete_micros.is_none(),
        revision: push.revision,
        create_micros: now,
        update_micros: now,
        loaded: None,
    };
    let outcome = match existing {
        None => PushOutcome::Created,
        Some(old) if push.revision < old.revision => {
            return Ok((PushOutcome::Unchanged, old.clone()));
        }
        Some(old) if push.revision == old.revision => {
            let same = old.teacher_number == record.teacher_number
                && old.kind == record.kind
                && old.course_id == record.course_id
                && old.course_title == record.course_title
                && old.centihours == record.centihours
                && old.watched_minutes == record.watched_minutes
                && old.course_minutes == record.course_minutes
                && same_complete_time(old, &record);
            if same {
                return Ok((PushOutcome::Unchanged, old.clone()));
            }
            return Err(AssessmentError::refused(
                tica_server::errors::ErrorReason::HoursRevisionReused,
                "",
                format!(
                    "revision {} was stored with other content; send a higher revision to change it",
                    old.revision
                ),
            ));
        }
        Some(old) => {
            record.create_micros = old.create_micros;
            record.update_micros = next_micros(old.update_micros);
            record.loaded = old.loaded;
            PushOutcome::Updated
        }
    };
    Ok((outcome, record))
}

/// Whether a push of the same revision says the same about when the activity was completed.
/// A push without `complete_time` is stamped with the time it is stored: the stamp is the
/// service's, not the provider's content, so a retry of that push (again without one) is the
/// same, however much later it comes (issue 17 §4: a retry returns the first answer). A time
/// where the first push had none, or none where it had one, is other content.
fn same_complete_time(old: &HoursRecordRow, new: &HoursRecordRow) -> bool {
    old.complete_time_stamped == new.complete_time_stamped
        && (new.complete_time_stamped || old.complete_micros == new.complete_micros)
}

fn error_text(e: &AssessmentError) -> String {
    match e {
        AssessmentError::Invalid(v) => v
            .iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}
