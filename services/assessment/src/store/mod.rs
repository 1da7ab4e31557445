//! Every SQL statement of the assessment service.
//!
//! Reads return records; writes go through [`commit`], which stores a whole unit of work — new
//! and changed records of every kind plus their audit entries — in one transaction. Changed
//! records carry the `update_micros` they were read with, and an UPDATE only applies if the row
//! still has it: a concurrent change makes the whole commit fail with [`CommitError::Conflict`]
//! and the caller retries from a fresh read. That keeps running counts (a participant's graded
//! submissions, say) exact under concurrent graders on both databases without row locks.

mod rows;
mod write;

use tica_domain::ScopePath;
use tica_storage::{Database, with_db};

pub use rows::to_json;
pub use write::{CommitError, Work, commit};

use crate::error::Result;
use crate::model::*;
use rows::*;

/// The policy attached to `code`, if any.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.policy", db.operation.name = "assessment.policy"))]
pub async fn policy(db: &Database, code: &str) -> Result<Option<PolicyRecord>> {
    let row: Option<PolicyRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {POLICY_COLUMNS} FROM policies WHERE jurisdiction_code = $1")))
            .bind(code.to_owned())
            .fetch_optional(pool)
            .await?
    });
    row.map(PolicyRecord::try_from).transpose()
}

/// Policies attached inside `scope`, ordered by code, after `after`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.policies_in", db.operation.name = "assessment.policies_in"))]
pub async fn policies_in(
    db: &Database,
    scope: &ScopePath,
    after: &str,
    limit: i64,
) -> Result<Vec<PolicyRecord>> {
    let (lo, hi) = scope.range();
    let rows: Vec<PolicyRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {POLICY_COLUMNS} FROM policies WHERE path >= $1 AND path < $2 AND jurisdiction_code > $3 \
             ORDER BY jurisdiction_code LIMIT $4"
        )))
        .bind(lo)
        .bind(hi)
        .bind(after.to_owned())
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(PolicyRecord::try_from).collect()
}

/// One version of a policy.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.policy_version", db.operation.name = "assessment.policy_version"))]
pub async fn policy_version(
    db: &Database,
    code: &str,
    version: i64,
) -> Result<Option<PolicyVersionRecord>> {
    let row: Option<VersionRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM policy_versions WHERE jurisdiction_code = $1 AND version = $2"
        )))
        .bind(code.to_owned())
        .bind(version)
        .fetch_optional(pool)
        .await?
    });
    row.map(PolicyVersionRecord::try_from).transpose()
}

/// A policy's versions, newest first, below `before`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.policy_versions", db.operation.name = "assessment.policy_versions"))]
pub async fn policy_versions(
    db: &Database,
    code: &str,
    before: i64,
    limit: i64,
) -> Result<Vec<PolicyVersionRecord>> {
    let rows: Vec<VersionRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM policy_versions WHERE jurisdiction_code = $1 AND version < $2 \
             ORDER BY version DESC LIMIT $3"
        )))
        .bind(code.to_owned())
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter()
        .map(PolicyVersionRecord::try_from)
        .collect()
}

/// One batch.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.batch", db.operation.name = "assessment.batch"))]
pub async fn batch(db: &Database, id: &str) -> Result<Option<BatchRecord>> {
    let row: Option<BatchRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = $1")))
            .bind(id.to_owned())
            .fetch_optional(pool)
            .await?
    });
    row.map(BatchRecord::try_from).transpose()
}

/// Batches inside `scope` (by their county's path), optionally of one year and state.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.batches_in", db.operation.name = "assessment.batches_in"))]
pub async fn batches_in(
    db: &Database,
    scope: &ScopePath,
    year: i64,
    state: &str,
    after: &(String, String),
    limit: i64,
) -> Result<(Vec<BatchRecord>, i64)> {
    let (lo, hi) = scope.range();
    let condition =
        "path >= $1 AND path < $2 AND ($3 = 0 OR year = $3) AND ($4 = '' OR state = $4)";
    let (rows, total): (Vec<BatchRow>, i64) = with_db!(db, pool => {
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {BATCH_COLUMNS} FROM batches WHERE {condition} AND (path, id) > ($5, $6) ORDER BY path, id LIMIT $7"
        )))
        .bind(lo.clone())
        .bind(hi.clone())
        .bind(year)
        .bind(state.to_owned())
        .bind(after.0.clone())
        .bind(after.1.clone())
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM batches WHERE {condition}")))
            .bind(lo)
            .bind(hi)
            .bind(year)
            .bind(state.to_owned())
            .fetch_one(pool)
            .await?;
        (rows, total)
    });
    Ok((
        rows.into_iter()
            .map(BatchRecord::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// One participant.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.participant", db.operation.name = "assessment.participant"))]
pub async fn participant(
    db: &Database,
    batch: &str,
    teacher: &str,
) -> Result<Option<ParticipantRecord>> {
    let row: Option<ParticipantRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE batch_id = $1 AND teacher_number = $2"
        )))
        .bind(batch.to_owned())
        .bind(teacher.to_owned())
        .fetch_optional(pool)
        .await?
    });
    row.map(ParticipantRecord::try_from).transpose()
}

/// Filters for listing participants.
#[derive(Clone, Debug, Default)]
pub struct ParticipantFilter {
    /// Grade key, or empty.
    pub grade: String,
    /// "enrolled", "withdrawn" or empty.
    pub state: String,
}

/// Participants of a batch inside `scope`, ordered by (path, teacher).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.participants_in", db.operation.name = "assessment.participants_in"))]
pub async fn participants_in(
    db: &Database,
    batch: &str,
    scope: &ScopePath,
    filter: &ParticipantFilter,
    after: &(String, String),
    limit: i64,
) -> Result<(Vec<ParticipantRecord>, i64)> {
    let (lo, hi) = scope.range();
    let condition = "batch_id = $1 AND path >= $2 AND path < $3 AND ($4 = '' OR grade = $4) AND ($5 = '' OR state = $5)";
    let (rows, total): (Vec<ParticipantRow>, i64) = with_db!(db, pool => {
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE {condition} AND (path, teacher_number) > ($6, $7) \
             ORDER BY path, teacher_number LIMIT $8"
        )))
        .bind(batch.to_owned())
        .bind(lo.clone())
        .bind(hi.clone())
        .bind(filter.grade.clone())
        .bind(filter.state.clone())
        .bind(after.0.clone())
        .bind(after.1.clone())
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM participants WHERE {condition}")))
            .bind(batch.to_owned())
            .bind(lo)
            .bind(hi)
            .bind(filter.grade.clone())
            .bind(filter.state.clone())
            .fetch_one(pool)
            .await?;
        (rows, total)
    });
    Ok((
        rows.into_iter()
            .map(ParticipantRecord::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// Every participant of a batch at one school (or the whole batch with an empty school).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.participants_of", db.operation.name = "assessment.participants_of"))]
pub async fn participants_of(
    db: &Database,
    batch: &str,
    school: &str,
) -> Result<Vec<ParticipantRecord>> {
    // Two statements, not `($2 = '' OR school_code = $2)`: a disjunction on a parameter keeps
    // the planner off the (batch_id, school_code) index, and a grading at one school would scan
    // the county.
    let sql = if school.is_empty() {
        format!(
            "SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE batch_id = $1 ORDER BY path, teacher_number"
        )
    } else {
        format!(
            "SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE batch_id = $1 AND school_code = $2 \
             ORDER BY path, teacher_number"
        )
    };
    let rows: Vec<ParticipantRow> = with_db!(db, pool => {
        let query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(batch.to_owned());
        let query = if school.is_empty() { query } else { query.bind(school.to_owned()) };
        query.fetch_all(pool).await?
    });
    rows.into_iter().map(ParticipantRecord::try_from).collect()
}

/// Every enrolment of a teacher, newest batch year first.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.enrolments", db.operation.name = "assessment.enrolments"))]
pub async fn enrolments(db: &Database, teacher: &str) -> Result<Vec<ParticipantRecord>> {
    let rows: Vec<ParticipantRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM participants p JOIN batches b ON b.id = p.batch_id WHERE p.teacher_number = $1 \
             ORDER BY b.year DESC, p.batch_id DESC",
            PARTICIPANT_COLUMNS.split(", ").map(|c| format!("p.{c}")).collect::<Vec<_>>().join(", ")
        )))
        .bind(teacher.to_owned())
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(ParticipantRecord::try_from).collect()
}

/// One hours record.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.hours_record", db.operation.name = "assessment.hours_record"))]
pub async fn hours_record(
    db: &Database,
    provider: &str,
    record: &str,
) -> Result<Option<HoursRecordRow>> {
    let row: Option<HoursRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {HOURS_COLUMNS} FROM hours_records WHERE provider_id = $1 AND record_id = $2"
        )))
        .bind(provider.to_owned())
        .bind(record.to_owned())
        .fetch_optional(pool)
        .await?
    });
    row.map(HoursRecordRow::try_from).transpose()
}

/// Hours records of one teacher, or of one provider, ordered by (provider, record).
/// The statement [`hours_records`] runs: `$1` teacher, `$2` provider, `$3` kind, `$4`/`$5`
/// the page's last (provider, record), `$6` the limit. A teacher's records are a range of
/// `hours_records_teacher (teacher_number, provider_id, record_id)` in listing order, whatever
/// plan the engine caches (`tests/plans.rs`).
pub fn hours_records_sql(teacher: bool, provider: bool) -> String {
    let key = match (teacher, provider) {
        (true, _) => "teacher_number = $1 AND ($2 = '' OR provider_id = $2)",
        (false, true) => "provider_id = $2 AND $1 = ''",
        (false, false) => "$1 = '' AND $2 = ''",
    };
    format!(
        "SELECT {HOURS_COLUMNS} FROM hours_records WHERE {key} \
         AND ($3 = '' OR kind = $3) AND (provider_id, record_id) > ($4, $5) ORDER BY provider_id, record_id LIMIT $6"
    )
}

#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.hours_records", db.operation.name = "assessment.hours_records"))]
pub async fn hours_records(
    db: &Database,
    teacher: &str,
    provider: &str,
    kind: &str,
    after: &(String, String),
    limit: i64,
) -> Result<Vec<HoursRecordRow>> {
    // The given key leads as a plain equality, so the planner takes its index (a teacher's
    // records through `hours_records_teacher`, a provider's through the primary key) instead of
    // scanning every record: recounting a teacher's hours must not grow with the county.
    let sql = hours_records_sql(!teacher.is_empty(), !provider.is_empty());
    let rows: Vec<HoursRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(teacher.to_owned())
        .bind(provider.to_owned())
        .bind(kind.to_owned())
        .bind(after.0.clone())
        .bind(after.1.clone())
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(HoursRecordRow::try_from).collect()
}

/// What a ListHoursRecords call may see: records of one teacher, one provider or one batch's
/// participants, narrowed to a provider, a teacher, a kind and a range of scope paths (the
/// caller's), so that a page and its total count only what the caller may read.
#[derive(Clone, Debug)]
pub struct HoursListing {
    /// Whose records.
    pub parent: HoursParent,
    /// Only this provider's ("" for any).
    pub provider: String,
    /// Only this teacher's ("" for any).
    pub teacher: String,
    /// Only this kind ("" for any).
    pub kind: String,
    /// Paths `lo <= path < hi` (`ScopePath::range`).
    pub range: (String, String),
}

/// The records a listing is of.
#[derive(Clone, Debug)]
pub enum HoursParent {
    /// A teacher's (a participant's).
    Teacher(String),
    /// A provider's.
    Provider(String),
    /// The participants' of a batch.
    Batch(String),
}

/// The WHERE clause of a listing: the parent's key leads as a plain equality (or a batch's
/// participants), so the engine takes its index whatever plan it caches; `$1` the key, `$2`
/// provider, `$3` teacher, `$4` kind, `$5`/`$6` the path range.
fn hours_listing_where(parent: &HoursParent) -> String {
    let key = match parent {
        HoursParent::Teacher(_) => "teacher_number = $1",
        HoursParent::Provider(_) => "provider_id = $1",
        HoursParent::Batch(_) => {
            "teacher_number IN (SELECT teacher_number FROM participants WHERE batch_id = $1)"
        }
    };
    format!(
        "{key} AND ($2 = '' OR provider_id = $2) AND ($3 = '' OR teacher_number = $3) \
         AND ($4 = '' OR kind = $4) AND path >= $5 AND path < $6"
    )
}

impl HoursListing {
    fn key(&self) -> String {
        match &self.parent {
            HoursParent::Teacher(k) | HoursParent::Provider(k) | HoursParent::Batch(k) => k.clone(),
        }
    }
}

/// A page of a listing, by (provider, record) after `after`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.list_hours_records", db.operation.name = "assessment.list_hours_records"))]
pub async fn list_hours_records(
    db: &Database,
    listing: &HoursListing,
    after: &(String, String),
    limit: i64,
) -> Result<Vec<HoursRecordRow>> {
    let sql = format!(
        "SELECT {HOURS_COLUMNS} FROM hours_records WHERE {} \
         AND (provider_id, record_id) > ($7, $8) ORDER BY provider_id, record_id LIMIT $9",
        hours_listing_where(&listing.parent)
    );
    let rows: Vec<HoursRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(listing.key())
        .bind(listing.provider.clone())
        .bind(listing.teacher.clone())
        .bind(listing.kind.clone())
        .bind(listing.range.0.clone())
        .bind(listing.range.1.clone())
        .bind(after.0.clone())
        .bind(after.1.clone())
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(HoursRecordRow::try_from).collect()
}

/// How many records a listing holds in all.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.count_hours_records", db.operation.name = "assessment.count_hours_records"))]
pub async fn count_hours_records(db: &Database, listing: &HoursListing) -> Result<i64> {
    let sql = format!(
        "SELECT COUNT(*) FROM hours_records WHERE {}",
        hours_listing_where(&listing.parent)
    );
    let count: i64 = with_db!(db, pool => {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
        .bind(listing.key())
        .bind(listing.provider.clone())
        .bind(listing.teacher.clone())
        .bind(listing.kind.clone())
        .bind(listing.range.0.clone())
        .bind(listing.range.1.clone())
        .fetch_one(pool)
        .await?
    });
    Ok(count)
}

/// One evidence file.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.evidence", db.operation.name = "assessment.evidence"))]
pub async fn evidence(db: &Database, id: &str) -> Result<Option<EvidenceRecord>> {
    let row: Option<EvidenceRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE id = $1")))
            .bind(id.to_owned())
            .fetch_optional(pool)
            .await?
    });
    row.map(EvidenceRecord::try_from).transpose()
}

/// A participant's evidence files, oldest first.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.evidence_of", db.operation.name = "assessment.evidence_of"))]
pub async fn evidence_of(db: &Database, batch: &str, teacher: &str) -> Result<Vec<EvidenceRecord>> {
    let rows: Vec<EvidenceRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE batch_id = $1 AND teacher_number = $2 ORDER BY create_micros, id"
        )))
        .bind(batch.to_owned())
        .bind(teacher.to_owned())
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(EvidenceRecord::try_from).collect()
}

/// One submission.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.submission", db.operation.name = "assessment.submission"))]
pub async fn submission(
    db: &Database,
    batch: &str,
    teacher: &str,
    code: &str,
) -> Result<Option<SubmissionRecord>> {
    let row: Option<SubmissionRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE batch_id = $1 AND teacher_number = $2 AND code = $3"
        )))
        .bind(batch.to_owned())
        .bind(teacher.to_owned())
        .bind(code.to_owned())
        .fetch_optional(pool)
        .await?
    });
    row.map(SubmissionRecord::try_from).transpose()
}

/// Filters for listing submissions.
#[derive(Clone, Debug, Default)]
pub struct SubmissionFilter {
    /// Only this teacher.
    pub teacher: String,
    /// State key, or empty.
    pub state: String,
    /// Code, or empty.
    pub code: String,
}

/// Submissions of a batch inside `scope`, ordered by (path, teacher, code).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.submissions_in", db.operation.name = "assessment.submissions_in"))]
pub async fn submissions_in(
    db: &Database,
    batch: &str,
    scope: &ScopePath,
    filter: &SubmissionFilter,
    after: &(String, String, String),
    limit: i64,
) -> Result<(Vec<SubmissionRecord>, i64)> {
    let (lo, hi) = scope.range();
    let condition = "batch_id = $1 AND path >= $2 AND path < $3 AND ($4 = '' OR teacher_number = $4) \
        AND ($5 = '' OR state = $5) AND ($6 = '' OR code = $6)";
    let (rows, total): (Vec<SubmissionRow>, i64) = with_db!(db, pool => {
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE {condition} AND (path, teacher_number, code) > ($7, $8, $9) \
             ORDER BY path, teacher_number, code LIMIT $10"
        )))
        .bind(batch.to_owned())
        .bind(lo.clone())
        .bind(hi.clone())
        .bind(filter.teacher.clone())
        .bind(filter.state.clone())
        .bind(filter.code.clone())
        .bind(after.0.clone())
        .bind(after.1.clone())
        .bind(after.2.clone())
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM submissions WHERE {condition}")))
            .bind(batch.to_owned())
            .bind(lo)
            .bind(hi)
            .bind(filter.teacher.clone())
            .bind(filter.state.clone())
            .bind(filter.code.clone())
            .fetch_one(pool)
            .await?;
        (rows, total)
    });
    Ok((
        rows.into_iter()
            .map(SubmissionRecord::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// Every submission of a participant, by code: a primary-key prefix, not a scan of the batch
/// (every hand-in and grading settles through this, so it must not grow with the county).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.submissions_of", db.operation.name = "assessment.submissions_of"))]
pub async fn submissions_of(
    db: &Database,
    batch: &str,
    teacher: &str,
) -> Result<Vec<SubmissionRecord>> {
    let rows: Vec<SubmissionRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE batch_id = $1 AND teacher_number = $2 ORDER BY code"
        )))
        .bind(batch.to_owned())
        .bind(teacher.to_owned())
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(SubmissionRecord::try_from).collect()
}

/// One school's results.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.school_result", db.operation.name = "assessment.school_result"))]
pub async fn school_result(
    db: &Database,
    batch: &str,
    school: &str,
) -> Result<Option<SchoolResultRecord>> {
    let row: Option<SchoolResultRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SCHOOL_RESULT_COLUMNS} FROM school_results WHERE batch_id = $1 AND school_code = $2"
        )))
        .bind(batch.to_owned())
        .bind(school.to_owned())
        .fetch_optional(pool)
        .await?
    });
    row.map(SchoolResultRecord::try_from).transpose()
}

/// School results of a batch inside `scope`, ordered by path.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.school_results_in", db.operation.name = "assessment.school_results_in"))]
pub async fn school_results_in(
    db: &Database,
    batch: &str,
    scope: &ScopePath,
    state: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<SchoolResultRecord>> {
    let (lo, hi) = scope.range();
    let rows: Vec<SchoolResultRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SCHOOL_RESULT_COLUMNS} FROM school_results WHERE batch_id = $1 AND path >= $2 AND path < $3 \
             AND ($4 = '' OR state = $4) AND path > $5 ORDER BY path LIMIT $6"
        )))
        .bind(batch.to_owned())
        .bind(lo)
        .bind(hi)
        .bind(state.to_owned())
        .bind(after.to_owned())
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(SchoolResultRecord::try_from).collect()
}

/// Certified-results events of a batch after `after`, in sequence order.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.events_after", db.operation.name = "assessment.events_after"))]
pub async fn events_after(
    db: &Database,
    batch: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<CertifiedEventRecord>> {
    let rows: Vec<EventRow> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT batch_id, sequence, kind, result_key, payload_json, event_micros FROM certified_results \
             WHERE batch_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3",
        )
        .bind(batch.to_owned())
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    Ok(rows.into_iter().map(CertifiedEventRecord::from).collect())
}

/// Whether an event with this key and kind exists.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.event_exists", db.operation.name = "assessment.event_exists"))]
pub async fn event_exists(db: &Database, result_key: &str, kind: &str) -> Result<bool> {
    let n: i64 = with_db!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM certified_results WHERE result_key = $1 AND kind = $2")
            .bind(result_key.to_owned())
            .bind(kind.to_owned())
            .fetch_one(pool)
            .await?
    });
    Ok(n > 0)
}

/// Per-school sums over the participants of the batches of `year` inside `scope` — the roll-up
/// every progress figure is built from. One grouped scan over the participants' path index.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct SchoolSums {
    /// School path.
    pub path: String,
    /// Batch.
    pub batch_id: String,
    /// Enrolled participants.
    pub participants: i64,
    /// With an accepted selection.
    pub selected: i64,
    /// Hours rule met.
    pub hours_completed: i64,
    /// All expected submissions handed in.
    pub submitted: i64,
    /// Final grade known.
    pub graded: i64,
    /// Graded pass or excellent.
    pub passed: i64,
    /// Graded excellent.
    pub excellent: i64,
    /// Graded fail.
    pub failed: i64,
    /// Submissions expected.
    pub submissions_expected: i64,
    /// Submissions handed in.
    pub submissions_submitted: i64,
    /// Submissions graded.
    pub submissions_graded: i64,
    /// Submissions passed.
    pub submissions_passed: i64,
}

/// The roll-up's one statement: a grouped aggregate over the participants in a path range
/// (`$1 <= path < $2`), for a year (`$3`, 0 for all) and batch (`$4`, empty for all).
pub const SCHOOL_SUMS_SQL: &str = "SELECT p.path AS path, p.batch_id AS batch_id, \
                COUNT(*) AS participants, \
                CAST(SUM(CASE WHEN p.selection_state <> '' THEN 1 ELSE 0 END) AS BIGINT) AS selected, \
                CAST(SUM(CASE WHEN p.hours_complete THEN 1 ELSE 0 END) AS BIGINT) AS hours_completed, \
                CAST(SUM(CASE WHEN p.submissions_expected > 0 AND p.submissions_submitted >= p.submissions_expected THEN 1 ELSE 0 END) AS BIGINT) AS submitted, \
                CAST(SUM(CASE WHEN p.grade <> '' THEN 1 ELSE 0 END) AS BIGINT) AS graded, \
                CAST(SUM(CASE WHEN p.grade IN ('pass', 'excellent') THEN 1 ELSE 0 END) AS BIGINT) AS passed, \
                CAST(SUM(CASE WHEN p.grade = 'excellent' THEN 1 ELSE 0 END) AS BIGINT) AS excellent, \
                CAST(SUM(CASE WHEN p.grade = 'fail' THEN 1 ELSE 0 END) AS BIGINT) AS failed, \
                CAST(SUM(p.submissions_expected) AS BIGINT) AS submissions_expected, \
                CAST(SUM(p.submissions_submitted) AS BIGINT) AS submissions_submitted, \
                CAST(SUM(p.submissions_graded) AS BIGINT) AS submissions_graded, \
                CAST(SUM(p.submissions_passed) AS BIGINT) AS submissions_passed \
             FROM participants p JOIN batches b ON b.id = p.batch_id \
             WHERE p.path >= $1 AND p.path < $2 AND ($3 = 0 OR b.year = $3) AND ($4 = '' OR p.batch_id = $4) AND p.state = 'enrolled' \
             GROUP BY p.path, p.batch_id ORDER BY p.path";

/// [`SchoolSums`] for every school inside `scope` with participants in batches of `year`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.school_sums", db.operation.name = "assessment.school_sums"))]
pub async fn school_sums(
    db: &Database,
    scope: &ScopePath,
    year: i64,
    batch: &str,
) -> Result<Vec<SchoolSums>> {
    let (lo, hi) = scope.range();
    let rows: Vec<SchoolSums> = with_db!(db, pool => {
        sqlx::query_as(SCHOOL_SUMS_SQL)
        .bind(lo)
        .bind(hi)
        .bind(year)
        .bind(batch.to_owned())
        .fetch_all(pool)
        .await?
    });
    Ok(rows)
}

/// Per-micro-competency sums over the submissions of enrolled participants inside `scope`
/// (leadership excluded): selected (one row per selected code), handed in, graded, passed,
/// excellent.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct CodeSums {
    /// The micro-competency code.
    pub code: String,
    /// Participants whose selection includes it.
    pub selected: i64,
    /// Handed in (submitted or graded).
    pub submitted: i64,
    /// Graded.
    pub graded: i64,
    /// Graded pass or excellent.
    pub passed: i64,
    /// Graded excellent.
    pub excellent: i64,
}

/// The popularity statement: submissions grouped by code in a path range (`$1 <= path < $2`),
/// for a year (`$3`, 0 for all) and batch (`$4`, empty for all), enrolled participants only.
/// `grade` is the column migration 0002 added (the current grading's key).
pub const CODE_SUMS_SQL: &str = "SELECT s.code AS code, \
                COUNT(*) AS selected, \
                CAST(SUM(CASE WHEN s.state IN ('submitted', 'graded') THEN 1 ELSE 0 END) AS BIGINT) AS submitted, \
                CAST(SUM(CASE WHEN s.state = 'graded' THEN 1 ELSE 0 END) AS BIGINT) AS graded, \
                CAST(SUM(CASE WHEN s.state = 'graded' AND s.grade IN ('pass', 'excellent') THEN 1 ELSE 0 END) AS BIGINT) AS passed, \
                CAST(SUM(CASE WHEN s.state = 'graded' AND s.grade = 'excellent' THEN 1 ELSE 0 END) AS BIGINT) AS excellent \
             FROM submissions s \
             JOIN participants p ON p.batch_id = s.batch_id AND p.teacher_number = s.teacher_number \
             JOIN batches b ON b.id = s.batch_id \
             WHERE s.path >= $1 AND s.path < $2 AND ($3 = 0 OR b.year = $3) AND ($4 = '' OR s.batch_id = $4) \
               AND p.state = 'enrolled' AND s.code <> 'leadership' \
             GROUP BY s.code ORDER BY s.code";

/// [`CodeSums`] for every code selected inside `scope` (codes nobody selected are absent).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.code_sums", db.operation.name = "assessment.code_sums"))]
pub async fn code_sums(
    db: &Database,
    scope: &ScopePath,
    year: i64,
    batch: &str,
) -> Result<Vec<CodeSums>> {
    let (lo, hi) = scope.range();
    let rows: Vec<CodeSums> = with_db!(db, pool => {
        sqlx::query_as(CODE_SUMS_SQL)
        .bind(lo)
        .bind(hi)
        .bind(year)
        .bind(batch.to_owned())
        .fetch_all(pool)
        .await?
    });
    Ok(rows)
}

/// The results state of every school inside `scope` in the batches of `year` (0: all), as
/// `(batch id, batch year, school path, state key)`, ordered by path then year.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "assessment.school_result_states", db.operation.name = "assessment.school_result_states"))]
pub async fn school_result_states(
    db: &Database,
    scope: &ScopePath,
    year: i64,
) -> Result<Vec<(String, i64, String, String)>> {
    let (lo, hi) = scope.range();
    let rows: Vec<(String, i64, String, String)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT r.batch_id, CAST(b.year AS BIGINT), r.path, r.state FROM school_results r \
             JOIN batches b ON b.id = r.batch_id \
             WHERE r.path >= $1 AND r.path < $2 AND ($3 = 0 OR b.year = $3) ORDER BY r.path, b.year",
        )
        .bind(lo)
        .bind(hi)
        .bind(year)
        .fetch_all(pool)
        .await?
    });
    Ok(rows)
}
