//! Teachers and their assignment history.

use std::collections::HashMap;

use sqlx::FromRow;
use tica_domain::division::DivisionCode;
use tica_domain::person::parse_roles;
use tica_domain::{PersonRole, ResidentId, ScopePath, Stage, TeacherCategory};
use tica_server::proto_time::{date_from_iso, date_to_iso};
use tica_storage::{Database, is_unique_violation, with_db, with_write_tx};

use super::audit::AuditEntry;
use super::corrupt;
use crate::error::{Result, RosterError};
use crate::model::{PastAssignment, Teacher};
use tica_storage::append_audit;

const COLUMNS: &str = "t.number, t.display_name, t.id_number, t.school_code, s.jurisdiction_code, t.path, \
    t.stage, t.subject, t.category, t.roles, t.since_date, t.create_micros, t.update_micros";

#[derive(FromRow)]
pub(crate) struct TeacherRow {
    number: String,
    display_name: String,
    id_number: String,
    school_code: String,
    jurisdiction_code: String,
    path: String,
    stage: String,
    subject: String,
    category: String,
    roles: String,
    since_date: String,
    create_micros: i64,
    update_micros: i64,
}

/// Stored roles: comma-separated keys.
pub(crate) fn roles_to_text(roles: &[PersonRole]) -> String {
    roles.iter().map(|r| r.key()).collect::<Vec<_>>().join(",")
}

impl TeacherRow {
    fn into_teacher(self, history: Vec<PastAssignment>) -> Result<Teacher> {
        // Stored ID numbers were validated on the way in; re-check against a far-future day so
        // an old record never fails because of the date it is read on.
        let far_future = time::macros::date!(9999 - 12 - 31);
        Ok(Teacher {
            id_number: ResidentId::parse(&self.id_number, far_future)
                .map_err(|_| corrupt("resident ID number of", &self.number))?,
            jurisdiction: DivisionCode::parse(&self.jurisdiction_code)
                .map_err(|_| corrupt("division code", &self.jurisdiction_code))?,
            path: ScopePath::parse(&self.path).ok_or_else(|| corrupt("path", &self.path))?,
            stage: Stage::from_label(&self.stage).ok_or_else(|| corrupt("stage", &self.stage))?,
            category: TeacherCategory::from_label(&self.category)
                .ok_or_else(|| corrupt("category", &self.category))?,
            roles: parse_roles(&self.roles).map_err(|_| corrupt("roles", &self.roles))?,
            since: date_from_iso(&self.since_date)
                .ok_or_else(|| corrupt("date", &self.since_date))?,
            number: self.number,
            display_name: self.display_name,
            school_code: self.school_code,
            subject: self.subject,
            history,
            create_micros: self.create_micros,
            update_micros: self.update_micros,
        })
    }
}

#[derive(FromRow)]
struct AssignmentRow {
    teacher_number: String,
    school_code: String,
    start_date: String,
    end_date: String,
    end_reason: String,
}

impl TryFrom<AssignmentRow> for PastAssignment {
    type Error = RosterError;

    fn try_from(row: AssignmentRow) -> Result<PastAssignment> {
        Ok(PastAssignment {
            start: date_from_iso(&row.start_date)
                .ok_or_else(|| corrupt("date", &row.start_date))?,
            end: date_from_iso(&row.end_date).ok_or_else(|| corrupt("date", &row.end_date))?,
            school_code: row.school_code,
            end_reason: row.end_reason,
        })
    }
}

/// Loads the history of `rows` and builds teachers.
async fn with_history(db: &Database, rows: Vec<TeacherRow>) -> Result<Vec<Teacher>> {
    let mut histories: HashMap<String, Vec<PastAssignment>> = HashMap::new();
    for chunk in rows.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT teacher_number, school_code, start_date, end_date, end_reason FROM teacher_assignments \
             WHERE teacher_number IN ({}) ORDER BY teacher_number, seq",
            placeholders.join(", ")
        );
        let assignments: Vec<AssignmentRow> = with_db!(db, pool => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for row in chunk {
                query = query.bind(row.number.clone());
            }
            query.fetch_all(pool).await?
        });
        for a in assignments {
            let number = a.teacher_number.clone();
            histories
                .entry(number)
                .or_default()
                .push(PastAssignment::try_from(a)?);
        }
    }
    rows.into_iter()
        .map(|row| {
            let history = histories.remove(&row.number).unwrap_or_default();
            row.into_teacher(history)
        })
        .collect()
}

/// One teacher with history.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.teachers.get", db.operation.name = "roster.teachers.get"))]
pub async fn get(db: &Database, number: &str) -> Result<Option<Teacher>> {
    let row: Option<TeacherRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM teachers t JOIN schools s ON s.code = t.school_code WHERE t.number = $1"
        )))
        .bind(number.to_owned())
        .fetch_optional(pool)
        .await?
    });
    match row {
        Some(row) => Ok(with_history(db, vec![row]).await?.pop()),
        None => Ok(None),
    }
}

/// The teacher registered with `id_number`, if any.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.teachers.find_by_id_number", db.operation.name = "roster.teachers.find_by_id_number"))]
pub async fn find_by_id_number(db: &Database, id_number: &ResidentId) -> Result<Option<Teacher>> {
    let row: Option<TeacherRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM teachers t JOIN schools s ON s.code = t.school_code WHERE t.id_number = $1"
        )))
        .bind(id_number.as_str().to_owned())
        .fetch_optional(pool)
        .await?
    });
    match row {
        Some(row) => Ok(with_history(db, vec![row]).await?.pop()),
        None => Ok(None),
    }
}

/// Filters for listing teachers.
#[derive(Clone, Debug, Default)]
pub struct TeacherFilter {
    /// Only this stage.
    pub stage: Option<Stage>,
    /// Only this category.
    pub category: Option<TeacherCategory>,
    /// Only people with this role.
    pub role: Option<PersonRole>,
    /// Only this ID number.
    pub id_number: Option<ResidentId>,
}

/// Teachers inside `scope`, ordered by (path, number), after `after`; and the total.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.teachers.list", db.operation.name = "roster.teachers.list"))]
pub async fn list(
    db: &Database,
    scope: &ScopePath,
    filter: &TeacherFilter,
    after: Option<&(String, String)>,
    limit: i64,
) -> Result<(Vec<Teacher>, i64)> {
    let (lo, hi) = scope.range();
    let stage = filter.stage.map(|s| s.key().to_owned()).unwrap_or_default();
    let category = filter
        .category
        .map(|c| c.key().to_owned())
        .unwrap_or_default();
    let role = filter
        .role
        .map(|r| format!("%,{},%", r.key()))
        .unwrap_or_default();
    let id_number = filter
        .id_number
        .as_ref()
        .map(|i| i.as_str().to_owned())
        .unwrap_or_default();
    let (after_path, after_number) = after.cloned().unwrap_or_default();
    let condition = "t.path >= $1 AND t.path < $2 AND ($3 = '' OR t.stage = $3) AND ($4 = '' OR t.category = $4) \
        AND ($5 = '' OR (',' || t.roles || ',') LIKE $5) AND ($6 = '' OR t.id_number = $6)";
    let (rows, total): (Vec<TeacherRow>, i64) = with_db!(db, pool => {
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM teachers t JOIN schools s ON s.code = t.school_code \
             WHERE {condition} AND (t.path, t.number) > ($7, $8) ORDER BY t.path, t.number LIMIT $9"
        )))
        .bind(lo.clone())
        .bind(hi.clone())
        .bind(stage.clone())
        .bind(category.clone())
        .bind(role.clone())
        .bind(id_number.clone())
        .bind(after_path)
        .bind(after_number)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM teachers t WHERE {condition}")))
            .bind(lo)
            .bind(hi)
            .bind(stage)
            .bind(category)
            .bind(role)
            .bind(id_number)
            .fetch_one(pool)
            .await?;
        (rows, total)
    });
    Ok((with_history(db, rows).await?, total))
}

/// Teachers by number, in the order asked; missing numbers are absent from the map.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.teachers.get_many", db.operation.name = "roster.teachers.get_many"))]
pub async fn get_many(db: &Database, numbers: &[String]) -> Result<HashMap<String, Teacher>> {
    let mut found = HashMap::with_capacity(numbers.len());
    for chunk in numbers.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM teachers t JOIN schools s ON s.code = t.school_code WHERE t.number IN ({})",
            placeholders.join(", ")
        );
        let rows: Vec<TeacherRow> = with_db!(db, pool => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for number in chunk {
                query = query.bind(number.clone());
            }
            query.fetch_all(pool).await?
        });
        for teacher in with_history(db, rows).await? {
            found.insert(teacher.number.clone(), teacher);
        }
    }
    Ok(found)
}

pub(crate) const INSERT: &str = "INSERT INTO teachers (number, display_name, id_number, birth_date, sex, school_code, \
    path, stage, subject, category, roles, since_date, create_micros, update_micros) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

/// Binds a teacher to [`INSERT`].
macro_rules! bind_insert {
    ($query:expr, $t:expr) => {{
        let t: &$crate::model::Teacher = $t;
        $query
            .bind(t.number.clone())
            .bind(t.display_name.clone())
            .bind(t.id_number.as_str().to_owned())
            .bind(tica_server::proto_time::date_to_iso(
                t.id_number.birth_date(),
            ))
            .bind(t.id_number.sex().key().to_owned())
            .bind(t.school_code.clone())
            .bind(t.path.as_str().to_owned())
            .bind(t.stage.key().to_owned())
            .bind(t.subject.clone())
            .bind(t.category.key().to_owned())
            .bind($crate::store::teachers::roles_to_text(&t.roles))
            .bind(tica_server::proto_time::date_to_iso(t.since))
            .bind(t.create_micros)
            .bind(t.update_micros)
    }};
}

/// Writes a teacher's fields; `update_micros` always moves forward (to $13, or one past the
/// stored stamp when that is not later), so its etag changes with every write. An import writes
/// through it as it is; a single update adds [`GUARD`].
pub(crate) const UPDATE: &str = "UPDATE teachers SET display_name = $2, id_number = $3, birth_date = $4, sex = $5, \
    school_code = $6, path = $7, stage = $8, subject = $9, category = $10, roles = $11, since_date = $12, \
    update_micros = CASE WHEN update_micros < $13 THEN $13 ELSE update_micros + 1 END WHERE number = $1";

/// [`UPDATE`]'s condition that the teacher is still as read (its `update_micros`, bound as $14).
const GUARD: &str = " AND update_micros = $14";

/// Binds a teacher to [`UPDATE`].
macro_rules! bind_update {
    ($query:expr, $t:expr) => {{
        let t: &$crate::model::Teacher = $t;
        $query
            .bind(t.number.clone())
            .bind(t.display_name.clone())
            .bind(t.id_number.as_str().to_owned())
            .bind(tica_server::proto_time::date_to_iso(
                t.id_number.birth_date(),
            ))
            .bind(t.id_number.sex().key().to_owned())
            .bind(t.school_code.clone())
            .bind(t.path.as_str().to_owned())
            .bind(t.stage.key().to_owned())
            .bind(t.subject.clone())
            .bind(t.category.key().to_owned())
            .bind($crate::store::teachers::roles_to_text(&t.roles))
            .bind(tica_server::proto_time::date_to_iso(t.since))
            .bind(t.update_micros)
    }};
}
pub(crate) use bind_update;

pub(crate) const INSERT_ASSIGNMENT: &str = "INSERT INTO teacher_assignments \
    (teacher_number, seq, school_code, start_date, end_date, end_reason) \
    VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM teacher_assignments WHERE teacher_number = $1), $2, $3, $4, $5)";

/// Maps a unique violation on insert/update to ALREADY_EXISTS naming the clashing key.
fn clash(e: sqlx::Error, number: &str) -> RosterError {
    if is_unique_violation(&e) {
        let message = e.to_string();
        if message.contains("id_number") {
            RosterError::AlreadyExists(
                "a teacher with this resident ID number is already registered".into(),
            )
        } else {
            RosterError::AlreadyExists(format!("teachers/{number} already exists"))
        }
    } else {
        RosterError::Storage(e)
    }
}

/// Inserts a teacher (no history yet).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.teachers.insert", db.operation.name = "roster.teachers.insert"))]
pub async fn insert(db: &Database, teacher: &Teacher, audit: &AuditEntry) -> Result<()> {
    let result: Result<()> = async {
        with_write_tx!(db, tx => {
            bind_insert!(sqlx::query(INSERT), teacher).execute(&mut *tx).await?;
            append_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
    .await;
    match result {
        Err(RosterError::Storage(e)) => Err(clash(e, &teacher.number)),
        other => other,
    }
}

/// Writes a teacher's fields (not its history), if it is still as read (`update_micros` equal
/// to `loaded`); CONFLICT when another write came first.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.teachers.update", db.operation.name = "roster.teachers.update"))]
pub async fn update(
    db: &Database,
    teacher: &Teacher,
    loaded: i64,
    audit: &AuditEntry,
) -> Result<()> {
    let result: Result<()> = async {
        with_write_tx!(db, tx => {
            let done = bind_update!(sqlx::query(sqlx::AssertSqlSafe(format!("{UPDATE}{GUARD}"))), teacher)
                .bind(loaded)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() != 1 {
                return Err(super::changed_meanwhile(&format!("teachers/{}", teacher.number)));
            }
            append_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
    .await;
    match result {
        Err(RosterError::Storage(e)) => Err(clash(e, &teacher.number)),
        other => other,
    }
}

/// Moves `teacher` (already holding its new school, path and start) and records `ended` as a
/// past assignment, in one transaction, if the teacher is still as read (`update_micros` equal
/// to `loaded`); CONFLICT when another write came first.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.teachers.move_to", db.operation.name = "roster.teachers.move_to"))]
pub async fn move_to(
    db: &Database,
    teacher: &Teacher,
    loaded: i64,
    ended: &PastAssignment,
    audits: &[AuditEntry],
) -> Result<()> {
    with_write_tx!(db, tx => {
        let done = bind_update!(sqlx::query(sqlx::AssertSqlSafe(format!("{UPDATE}{GUARD}"))), teacher)
            .bind(loaded)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(super::changed_meanwhile(&format!("teachers/{}", teacher.number)));
        }
        sqlx::query(INSERT_ASSIGNMENT)
            .bind(teacher.number.clone())
            .bind(ended.school_code.clone())
            .bind(date_to_iso(ended.start))
            .bind(date_to_iso(ended.end))
            .bind(ended.end_reason.clone())
            .execute(&mut *tx)
            .await?;
        for audit in audits {
            append_audit!(tx, audit);
        }
        tx.commit().await?;
    });
    Ok(())
}

/// The highest 4-digit sequence already used in generated numbers `{school_code}NNNN`.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.teachers.max_generated_sequence", db.operation.name = "roster.teachers.max_generated_sequence"))]
pub async fn max_generated_sequence(db: &Database, school_code: &str) -> Result<u32> {
    let lo = format!("{school_code}0000");
    let hi = format!("{school_code}9999");
    let max: Option<String> = with_db!(db, pool => {
        sqlx::query_scalar("SELECT MAX(number) FROM teachers WHERE number >= $1 AND number <= $2 AND length(number) = $3")
            .bind(lo)
            .bind(hi)
            .bind((school_code.len() + 4) as i64)
            .fetch_one(pool)
            .await?
    });
    Ok(max
        .and_then(|n| {
            n.get(school_code.len()..)
                .and_then(|tail| tail.parse::<u32>().ok())
        })
        .unwrap_or(0))
}
