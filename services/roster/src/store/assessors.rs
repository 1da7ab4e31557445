//! Assessor registrations.

use sqlx::FromRow;
use tica_domain::{AssessorLevel, AssessorState, ScopePath};
use tica_server::proto_time::{date_from_iso, date_to_iso};
use tica_storage::{Database, is_unique_violation, with_db, with_write_tx};

use super::audit::AuditEntry;
use super::corrupt;
use super::teams::unit_from_name;
use crate::error::{Result, RosterError};
use crate::model::{Assessor, Certification};
use tica_storage::append_audit;

const COLUMNS: &str = "a.id, a.teacher_number, t.display_name, a.level, a.registered_at, a.path, a.subjects_json, \
    a.state, a.cert_number, a.cert_exam_date, a.cert_issued_by, a.reprimands_json, a.state_reason, \
    a.create_micros, a.update_micros";

/// Storage key of a level.
pub(crate) fn level_key(level: AssessorLevel) -> &'static str {
    level.key()
}

fn level_from_key(key: &str) -> Option<AssessorLevel> {
    [
        AssessorLevel::School,
        AssessorLevel::County,
        AssessorLevel::City,
        AssessorLevel::Province,
    ]
    .into_iter()
    .find(|l| l.key() == key)
}

/// Storage key of a state.
pub(crate) fn state_key(state: AssessorState) -> &'static str {
    state.key()
}

fn state_from_key(key: &str) -> Option<AssessorState> {
    [
        AssessorState::Candidate,
        AssessorState::Certified,
        AssessorState::Registered,
        AssessorState::Suspended,
        AssessorState::StruckOff,
    ]
    .into_iter()
    .find(|s| s.key() == key)
}

#[derive(FromRow)]
struct AssessorRow {
    id: String,
    teacher_number: String,
    display_name: String,
    level: String,
    registered_at: String,
    path: String,
    subjects_json: String,
    state: String,
    cert_number: Option<String>,
    cert_exam_date: Option<String>,
    cert_issued_by: Option<String>,
    reprimands_json: String,
    state_reason: String,
    create_micros: i64,
    update_micros: i64,
}

impl TryFrom<AssessorRow> for Assessor {
    type Error = RosterError;

    fn try_from(row: AssessorRow) -> Result<Assessor> {
        let certification = match (row.cert_number, row.cert_exam_date, row.cert_issued_by) {
            (Some(certificate_number), Some(date), Some(issued_by)) => Some(Certification {
                certificate_number,
                exam_date: date_from_iso(&date).ok_or_else(|| corrupt("date", &date))?,
                issued_by,
            }),
            _ => None,
        };
        Ok(Assessor {
            level: level_from_key(&row.level).ok_or_else(|| corrupt("level", &row.level))?,
            registered_at: unit_from_name(&row.registered_at)
                .ok_or_else(|| corrupt("unit", &row.registered_at))?,
            path: ScopePath::parse(&row.path).ok_or_else(|| corrupt("path", &row.path))?,
            subjects: serde_json::from_str(&row.subjects_json)
                .map_err(|_| corrupt("subjects of", &row.id))?,
            state: state_from_key(&row.state).ok_or_else(|| corrupt("state", &row.state))?,
            reprimands: serde_json::from_str(&row.reprimands_json)
                .map_err(|_| corrupt("reprimands of", &row.id))?,
            certification,
            id: row.id,
            teacher_number: row.teacher_number,
            display_name: row.display_name,
            state_reason: row.state_reason,
            create_micros: row.create_micros,
            update_micros: row.update_micros,
        })
    }
}

/// One assessor.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.assessors.get", db.operation.name = "roster.assessors.get"))]
pub async fn get(db: &Database, id: &str) -> Result<Option<Assessor>> {
    let row: Option<AssessorRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM assessors a JOIN teachers t ON t.number = a.teacher_number WHERE a.id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(pool)
        .await?
    });
    row.map(Assessor::try_from).transpose()
}

/// Filters for listing assessors.
#[derive(Clone, Debug, Default)]
pub struct AssessorFilter {
    /// Only this level.
    pub level: Option<AssessorLevel>,
    /// Only this state.
    pub state: Option<AssessorState>,
    /// Only this person.
    pub teacher_number: Option<String>,
}

/// Assessors registered inside `scope`, ordered by (path, id).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.assessors.list", db.operation.name = "roster.assessors.list"))]
pub async fn list(
    db: &Database,
    scope: &ScopePath,
    filter: &AssessorFilter,
    after: Option<&(String, String)>,
    limit: i64,
) -> Result<(Vec<Assessor>, i64)> {
    let (lo, hi) = scope.range();
    let level = filter
        .level
        .map(|l| level_key(l).to_owned())
        .unwrap_or_default();
    let state = filter
        .state
        .map(|s| state_key(s).to_owned())
        .unwrap_or_default();
    let teacher = filter.teacher_number.clone().unwrap_or_default();
    let (after_path, after_id) = after.cloned().unwrap_or_default();
    let condition = "a.path >= $1 AND a.path < $2 AND ($3 = '' OR a.level = $3) AND ($4 = '' OR a.state = $4) \
        AND ($5 = '' OR a.teacher_number = $5)";
    let (rows, total): (Vec<AssessorRow>, i64) = with_db!(db, pool => {
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM assessors a JOIN teachers t ON t.number = a.teacher_number \
             WHERE {condition} AND (a.path, a.id) > ($6, $7) ORDER BY a.path, a.id LIMIT $8"
        )))
        .bind(lo.clone())
        .bind(hi.clone())
        .bind(level.clone())
        .bind(state.clone())
        .bind(teacher.clone())
        .bind(after_path)
        .bind(after_id)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM assessors a WHERE {condition}")))
            .bind(lo)
            .bind(hi)
            .bind(level)
            .bind(state)
            .bind(teacher)
            .fetch_one(pool)
            .await?;
        (rows, total)
    });
    Ok((
        rows.into_iter()
            .map(Assessor::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// Inserts an assessor (`loaded` is `None`) or rewrites one still as read (`update_micros` equal
/// to `loaded`; CONFLICT when another write came first), with its audit entry.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.assessors.save", db.operation.name = "roster.assessors.save"))]
pub async fn save(
    db: &Database,
    a: &Assessor,
    loaded: Option<i64>,
    audit: &AuditEntry,
) -> Result<()> {
    let subjects = serde_json::to_string(&a.subjects).expect("subjects serialise");
    let reprimands = serde_json::to_string(&a.reprimands).expect("reprimands serialise");
    let cert = a.certification.as_ref();
    let sql = if loaded.is_none() {
        "INSERT INTO assessors (id, teacher_number, level, registered_at, path, subjects_json, state, cert_number, \
         cert_exam_date, cert_issued_by, reprimands_json, state_reason, create_micros, update_micros) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    } else {
        "UPDATE assessors SET teacher_number = $2, level = $3, registered_at = $4, path = $5, subjects_json = $6, \
         state = $7, cert_number = $8, cert_exam_date = $9, cert_issued_by = $10, reprimands_json = $11, \
         state_reason = $12, create_micros = $13, update_micros = $14 WHERE id = $1 AND update_micros = $15"
    };
    let result: Result<()> = async {
        with_write_tx!(db, tx => {
            let mut query = sqlx::query(sql)
                .bind(a.id.clone())
                .bind(a.teacher_number.clone())
                .bind(level_key(a.level).to_owned())
                .bind(a.registered_at.resource_name())
                .bind(a.path.as_str().to_owned())
                .bind(subjects.clone())
                .bind(state_key(a.state).to_owned())
                .bind(cert.map(|c| c.certificate_number.clone()))
                .bind(cert.map(|c| date_to_iso(c.exam_date)))
                .bind(cert.map(|c| c.issued_by.clone()))
                .bind(reprimands.clone())
                .bind(a.state_reason.clone())
                .bind(a.create_micros)
                .bind(a.update_micros);
            if let Some(loaded) = loaded {
                query = query.bind(loaded);
            }
            let done = query.execute(&mut *tx).await?;
            if done.rows_affected() != 1 {
                return Err(super::changed_meanwhile(&format!("assessors/{}", a.id)));
            }
            append_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
    .await;
    match result {
        Err(RosterError::Storage(e)) if is_unique_violation(&e) => {
            Err(RosterError::AlreadyExists(format!(
                "teachers/{} already holds a live {} assessor registration",
                a.teacher_number,
                level_key(a.level)
            )))
        }
        other => other,
    }
}
