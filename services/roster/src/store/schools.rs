//! Schools.

use std::collections::HashMap;

use sqlx::FromRow;
use tica_domain::division::DivisionCode;
use tica_domain::{SchoolKind, ScopePath};
use tica_storage::{Database, is_unique_violation, with_db, with_write_tx};

use super::audit::AuditEntry;
use super::corrupt;
use crate::error::{Result, RosterError};
use crate::model::{IctPlan, IctPlanState, School};
use tica_storage::append_audit;

const COLUMNS: &str = "s.code, s.display_name, s.jurisdiction_code, s.path, s.kind, s.rural, \
    s.full_time_teacher_count, s.plan_theme, s.plan_summary, s.plan_document_uri, s.plan_state, \
    s.plan_review_comment, s.plan_review_micros, s.create_micros, s.update_micros, \
    (SELECT COUNT(*) FROM teachers t WHERE t.path = s.path) AS registered_teacher_count";

#[derive(FromRow)]
struct SchoolRow {
    code: String,
    display_name: String,
    jurisdiction_code: String,
    path: String,
    kind: String,
    rural: bool,
    full_time_teacher_count: i64,
    plan_theme: String,
    plan_summary: String,
    plan_document_uri: String,
    plan_state: String,
    plan_review_comment: String,
    plan_review_micros: Option<i64>,
    create_micros: i64,
    update_micros: i64,
    registered_teacher_count: i64,
}

impl TryFrom<SchoolRow> for School {
    type Error = RosterError;

    fn try_from(row: SchoolRow) -> Result<School> {
        Ok(School {
            jurisdiction: DivisionCode::parse(&row.jurisdiction_code)
                .map_err(|_| corrupt("division code", &row.jurisdiction_code))?,
            path: ScopePath::parse(&row.path).ok_or_else(|| corrupt("path", &row.path))?,
            kind: SchoolKind::from_label(&row.kind)
                .ok_or_else(|| corrupt("school kind", &row.kind))?,
            code: row.code,
            display_name: row.display_name,
            rural: row.rural,
            full_time_teacher_count: row.full_time_teacher_count,
            plan: IctPlan {
                theme: row.plan_theme,
                summary: row.plan_summary,
                document_uri: row.plan_document_uri,
                state: IctPlanState::from_key(&row.plan_state),
                review_comment: row.plan_review_comment,
                review_micros: row.plan_review_micros,
            },
            registered_teacher_count: row.registered_teacher_count,
            create_micros: row.create_micros,
            update_micros: row.update_micros,
        })
    }
}

/// One school.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.schools.get", db.operation.name = "roster.schools.get"))]
pub async fn get(db: &Database, code: &str) -> Result<Option<School>> {
    let row: Option<SchoolRow> = with_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM schools s WHERE s.code = $1")))
            .bind(code.to_owned())
            .fetch_optional(pool)
            .await?
    });
    row.map(School::try_from).transpose()
}

/// Filters for listing schools.
#[derive(Clone, Debug, Default)]
pub struct SchoolFilter {
    /// Only this kind.
    pub kind: Option<SchoolKind>,
    /// Only rural (true) or non-rural (false).
    pub rural: Option<bool>,
}

/// Schools inside `scope` matching `filter`, ordered by path, after path `after`; and how many
/// match in all.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.schools.list", db.operation.name = "roster.schools.list"))]
pub async fn list(
    db: &Database,
    scope: &ScopePath,
    filter: &SchoolFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<(Vec<School>, i64)> {
    let (lo, hi) = scope.range();
    let kind = filter.kind.map(|k| k.key().to_owned()).unwrap_or_default();
    let rural: i64 = match filter.rural {
        None => -1,
        Some(false) => 0,
        Some(true) => 1,
    };
    let condition = "s.path >= $1 AND s.path < $2 AND ($3 = '' OR s.kind = $3) \
        AND ($4 = -1 OR s.rural = ($4 = 1))";
    let (rows, total): (Vec<SchoolRow>, i64) = with_db!(db, pool => {
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM schools s WHERE {condition} AND s.path > $5 ORDER BY s.path LIMIT $6"
        )))
        .bind(lo.clone())
        .bind(hi.clone())
        .bind(kind.clone())
        .bind(rural)
        .bind(after.unwrap_or("").to_owned())
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM schools s WHERE {condition}")))
            .bind(lo)
            .bind(hi)
            .bind(kind)
            .bind(rural)
            .fetch_one(pool)
            .await?;
        (rows, total)
    });
    Ok((
        rows.into_iter()
            .map(School::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// Every school inside `scope` as code → (jurisdiction, path): the import's look-up table.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.schools.index", db.operation.name = "roster.schools.index"))]
pub async fn index(
    db: &Database,
    scope: &ScopePath,
) -> Result<HashMap<String, (DivisionCode, ScopePath)>> {
    let (lo, hi) = scope.range();
    let rows: Vec<(String, String, String)> = with_db!(db, pool => {
        sqlx::query_as("SELECT code, jurisdiction_code, path FROM schools WHERE path >= $1 AND path < $2")
            .bind(lo)
            .bind(hi)
            .fetch_all(pool)
            .await?
    });
    rows.into_iter()
        .map(|(code, jurisdiction, path)| {
            let j = DivisionCode::parse(&jurisdiction)
                .map_err(|_| corrupt("division code", &jurisdiction))?;
            let p = ScopePath::parse(&path).ok_or_else(|| corrupt("path", &path))?;
            Ok((code, (j, p)))
        })
        .collect()
}

pub(crate) const INSERT: &str = "INSERT INTO schools (code, display_name, jurisdiction_code, path, kind, rural, \
    full_time_teacher_count, plan_theme, plan_summary, plan_document_uri, plan_state, plan_review_comment, \
    plan_review_micros, create_micros, update_micros) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

/// Writes a school's mutable fields; `update_micros` always moves forward (to $12, or one past
/// the stored stamp when that is not later), so its etag changes with every write. An import
/// writes through it as it is; a single update adds [`GUARD`].
pub(crate) const UPDATE: &str = "UPDATE schools SET display_name = $2, kind = $3, rural = $4, \
    full_time_teacher_count = $5, plan_theme = $6, plan_summary = $7, plan_document_uri = $8, plan_state = $9, \
    plan_review_comment = $10, plan_review_micros = $11, \
    update_micros = CASE WHEN update_micros < $12 THEN $12 ELSE update_micros + 1 END WHERE code = $1";

/// [`UPDATE`]'s condition that the school is still as read (its `update_micros`, bound as $13).
const GUARD: &str = " AND update_micros = $13";

/// Binds a school to [`INSERT`].
macro_rules! bind_insert {
    ($query:expr, $s:expr) => {{
        let s: &$crate::model::School = $s;
        $query
            .bind(s.code.clone())
            .bind(s.display_name.clone())
            .bind(s.jurisdiction.to_string())
            .bind(s.path.as_str().to_owned())
            .bind(s.kind.key().to_owned())
            .bind(s.rural)
            .bind(s.full_time_teacher_count)
            .bind(s.plan.theme.clone())
            .bind(s.plan.summary.clone())
            .bind(s.plan.document_uri.clone())
            .bind(s.plan.state.key().to_owned())
            .bind(s.plan.review_comment.clone())
            .bind(s.plan.review_micros)
            .bind(s.create_micros)
            .bind(s.update_micros)
    }};
}
pub(crate) use bind_insert;

/// Binds a school to [`UPDATE`].
macro_rules! bind_update {
    ($query:expr, $s:expr) => {{
        let s: &$crate::model::School = $s;
        $query
            .bind(s.code.clone())
            .bind(s.display_name.clone())
            .bind(s.kind.key().to_owned())
            .bind(s.rural)
            .bind(s.full_time_teacher_count)
            .bind(s.plan.theme.clone())
            .bind(s.plan.summary.clone())
            .bind(s.plan.document_uri.clone())
            .bind(s.plan.state.key().to_owned())
            .bind(s.plan.review_comment.clone())
            .bind(s.plan.review_micros)
            .bind(s.update_micros)
    }};
}
pub(crate) use bind_update;

/// Inserts a school; ALREADY_EXISTS if the code is taken.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.schools.insert", db.operation.name = "roster.schools.insert"))]
pub async fn insert(db: &Database, school: &School, audit: &AuditEntry) -> Result<()> {
    let result: Result<()> = async {
        with_write_tx!(db, tx => {
            bind_insert!(sqlx::query(INSERT), school).execute(&mut *tx).await?;
            append_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
    .await;
    match result {
        Err(RosterError::Storage(e)) if is_unique_violation(&e) => Err(RosterError::AlreadyExists(
            format!("schools/{} already exists", school.code),
        )),
        other => other,
    }
}

/// Writes every mutable field of a school, if it is still as read (`update_micros` equal to
/// `loaded`); CONFLICT (ABORTED, to read again and retry) when another write came first.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.schools.update", db.operation.name = "roster.schools.update"))]
pub async fn update(db: &Database, school: &School, loaded: i64, audit: &AuditEntry) -> Result<()> {
    with_write_tx!(db, tx => {
        let done = bind_update!(sqlx::query(sqlx::AssertSqlSafe(format!("{UPDATE}{GUARD}"))), school)
            .bind(loaded)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(super::changed_meanwhile(&format!("schools/{}", school.code)));
        }
        append_audit!(tx, audit);
        tx.commit().await?;
    });
    Ok(())
}

/// Names of the schools inside `scope`, by code (for exports).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.schools.names", db.operation.name = "roster.schools.names"))]
pub async fn names(db: &Database, scope: &ScopePath) -> Result<HashMap<String, String>> {
    let (lo, hi) = scope.range();
    let rows: Vec<(String, String)> = with_db!(db, pool => {
        sqlx::query_as("SELECT code, display_name FROM schools WHERE path >= $1 AND path < $2")
            .bind(lo)
            .bind(hi)
            .fetch_all(pool)
            .await?
    });
    Ok(rows.into_iter().collect())
}
