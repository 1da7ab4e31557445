//! Bulk writes for imports: many rows in one transaction.
//!
//! PostgreSQL receives teachers through `COPY … FROM STDIN` (text format), the fastest way in;
//! SQLite through multi-row `INSERT`s of up to 1000 rows. Both run inside one transaction with
//! the import's audit entry: the file lands whole or not at all.

use std::collections::HashMap;

use sqlx::QueryBuilder;
use tica_domain::ScopePath;
use tica_server::proto_time::date_to_iso;
use tica_storage::{Database, Pool, is_unique_violation, with_db};

use super::audit::AuditEntry;
use super::teachers::roles_to_text;
use crate::error::{Result, RosterError};
use crate::model::{PastAssignment, School, Teacher};
use tica_storage::append_audit;

/// Rows per multi-row INSERT on SQLite (14 columns × 1000 stays under its 32766 parameters).
const SQLITE_BATCH: usize = 1000;
/// Bytes per COPY data message.
const COPY_CHUNK: usize = 1 << 20;

/// Why a bulk write stored nothing.
#[derive(Debug)]
pub enum BulkError {
    /// A unique key clashed with a registered record (a concurrent import, or the optimistic
    /// path finding what the pre-check skipped).
    Duplicate,
    /// Anything else.
    Other(RosterError),
}

impl From<sqlx::Error> for BulkError {
    fn from(e: sqlx::Error) -> BulkError {
        if is_unique_violation(&e) {
            BulkError::Duplicate
        } else {
            BulkError::Other(RosterError::Storage(e))
        }
    }
}

impl From<RosterError> for BulkError {
    fn from(e: RosterError) -> BulkError {
        match e {
            RosterError::Storage(e) => e.into(),
            other => BulkError::Other(other),
        }
    }
}

/// An update an import applies to a registered teacher (with the ended assignment if the
/// school changed).
#[derive(Clone, Debug)]
pub struct TeacherChange {
    /// The teacher as it will be.
    pub teacher: Teacher,
    /// The assignment the move ends, if it moves.
    pub ended: Option<PastAssignment>,
}

/// Escapes a value for COPY's text format.
fn copy_escape(out: &mut Vec<u8>, value: &str) {
    for b in value.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

fn copy_row(out: &mut Vec<u8>, t: &Teacher) {
    let fields: [&str; 12] = [
        &t.number,
        &t.display_name,
        t.id_number.as_str(),
        &date_to_iso(t.id_number.birth_date()),
        t.id_number.sex().key(),
        &t.school_code,
        t.path.as_str(),
        t.stage.key(),
        &t.subject,
        t.category.key(),
        &roles_to_text(&t.roles),
        &date_to_iso(t.since),
    ];
    for field in fields {
        copy_escape(out, field);
        out.push(b'\t');
    }
    out.extend_from_slice(t.create_micros.to_string().as_bytes());
    out.push(b'\t');
    out.extend_from_slice(t.update_micros.to_string().as_bytes());
    out.push(b'\n');
}

/// Stores new teachers and changes to registered ones in one transaction, calling
/// `written(n)` as rows go in.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.bulk.write_teachers", db.operation.name = "roster.bulk.write_teachers"))]
pub async fn write_teachers(
    db: &Database,
    new: &[Teacher],
    changes: &[TeacherChange],
    audit: &AuditEntry,
    written: &(dyn Fn(i64) + Send + Sync),
) -> Result<(), BulkError> {
    match db.pool() {
        Pool::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            if !new.is_empty() {
                let mut copy = tx
                    .copy_in_raw(
                        "COPY teachers (number, display_name, id_number, birth_date, sex, school_code, path, stage, \
                         subject, category, roles, since_date, create_micros, update_micros) FROM STDIN (FORMAT text)",
                    )
                    .await?;
                let mut buffer = Vec::with_capacity(COPY_CHUNK + 4096);
                let mut sent = 0i64;
                for (i, teacher) in new.iter().enumerate() {
                    copy_row(&mut buffer, teacher);
                    if buffer.len() >= COPY_CHUNK {
                        if let Err(e) = copy.send(buffer.as_slice()).await {
                            let _ = copy.abort("client error").await;
                            return Err(e.into());
                        }
                        buffer.clear();
                        let done = i as i64 + 1;
                        if done - sent >= 50_000 {
                            written(done);
                            sent = done;
                        }
                    }
                }
                if !buffer.is_empty()
                    && let Err(e) = copy.send(buffer.as_slice()).await
                {
                    let _ = copy.abort("client error").await;
                    return Err(e.into());
                }
                copy.finish().await?;
                written(new.len() as i64);
            }
            for change in changes {
                apply_change_pg(&mut tx, change).await?;
            }
            append_audit!(tx, audit);
            tx.commit().await?;
        }
        Pool::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            for (batch_index, batch) in new.chunks(SQLITE_BATCH).enumerate() {
                let mut builder: QueryBuilder<sqlx::Sqlite> = QueryBuilder::new(
                    "INSERT INTO teachers (number, display_name, id_number, birth_date, sex, school_code, path, stage, \
                     subject, category, roles, since_date, create_micros, update_micros) ",
                );
                builder.push_values(batch, |mut row, t| {
                    row.push_bind(t.number.clone())
                        .push_bind(t.display_name.clone())
                        .push_bind(t.id_number.as_str().to_owned())
                        .push_bind(date_to_iso(t.id_number.birth_date()))
                        .push_bind(t.id_number.sex().key())
                        .push_bind(t.school_code.clone())
                        .push_bind(t.path.as_str().to_owned())
                        .push_bind(t.stage.key())
                        .push_bind(t.subject.clone())
                        .push_bind(t.category.key())
                        .push_bind(roles_to_text(&t.roles))
                        .push_bind(date_to_iso(t.since))
                        .push_bind(t.create_micros)
                        .push_bind(t.update_micros);
                });
                builder.build().execute(&mut *tx).await?;
                written(((batch_index + 1) * SQLITE_BATCH).min(new.len()) as i64);
            }
            for change in changes {
                apply_change_sqlite(&mut tx, change).await?;
            }
            append_audit!(tx, audit);
            tx.commit().await?;
        }
    }
    Ok(())
}

macro_rules! apply_change {
    ($name:ident, $db:ty) => {
        async fn $name(
            tx: &mut sqlx::Transaction<'_, $db>,
            change: &TeacherChange,
        ) -> Result<(), BulkError> {
            if let Some(ended) = &change.ended {
                sqlx::query(super::teachers::INSERT_ASSIGNMENT)
                    .bind(change.teacher.number.clone())
                    .bind(ended.school_code.clone())
                    .bind(date_to_iso(ended.start))
                    .bind(date_to_iso(ended.end))
                    .bind(ended.end_reason.clone())
                    .execute(&mut **tx)
                    .await?;
            }
            super::teachers::bind_update!(sqlx::query(super::teachers::UPDATE), &change.teacher)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }
    };
}
apply_change!(apply_change_pg, sqlx::Postgres);
apply_change!(apply_change_sqlite, sqlx::Sqlite);

/// Registered teachers among `id_numbers`: id number → (teacher number, path).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.bulk.teachers_by_id_number", db.operation.name = "roster.bulk.teachers_by_id_number"))]
pub async fn teachers_by_id_number(
    db: &Database,
    id_numbers: &[String],
) -> Result<HashMap<String, (String, String)>> {
    let mut found = HashMap::new();
    match db.pool() {
        Pool::Postgres(pool) => {
            for chunk in id_numbers.chunks(20_000) {
                let rows: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT id_number, number, path FROM teachers WHERE id_number = ANY($1)",
                )
                .bind(chunk.to_vec())
                .fetch_all(pool)
                .await?;
                found.extend(
                    rows.into_iter()
                        .map(|(id, number, path)| (id, (number, path))),
                );
            }
        }
        Pool::Sqlite(pool) => {
            for chunk in id_numbers.chunks(500) {
                let placeholders: Vec<String> =
                    (1..=chunk.len()).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "SELECT id_number, number, path FROM teachers WHERE id_number IN ({})",
                    placeholders.join(",")
                );
                let mut query =
                    sqlx::query_as::<_, (String, String, String)>(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    query = query.bind(id.clone());
                }
                let rows = query.fetch_all(pool).await?;
                found.extend(
                    rows.into_iter()
                        .map(|(id, number, path)| (id, (number, path))),
                );
            }
        }
    }
    Ok(found)
}

/// Registered teacher numbers among `numbers`: number → the teacher's path (so that the caller
/// can tell its own teachers from ones it may not see).
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.bulk.existing_teacher_numbers", db.operation.name = "roster.bulk.existing_teacher_numbers"))]
pub async fn existing_teacher_numbers(
    db: &Database,
    numbers: &[String],
) -> Result<HashMap<String, String>> {
    let mut found = HashMap::new();
    match db.pool() {
        Pool::Postgres(pool) => {
            for chunk in numbers.chunks(20_000) {
                let rows: Vec<(String, String)> =
                    sqlx::query_as("SELECT number, path FROM teachers WHERE number = ANY($1)")
                        .bind(chunk.to_vec())
                        .fetch_all(pool)
                        .await?;
                found.extend(rows);
            }
        }
        Pool::Sqlite(pool) => {
            for chunk in numbers.chunks(500) {
                let placeholders: Vec<String> =
                    (1..=chunk.len()).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "SELECT number, path FROM teachers WHERE number IN ({})",
                    placeholders.join(",")
                );
                let mut query = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql));
                for n in chunk {
                    query = query.bind(n.clone());
                }
                found.extend(query.fetch_all(pool).await?);
            }
        }
    }
    Ok(found)
}

/// Jurisdictions inside `scope`: code → path.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.bulk.jurisdictions_in", db.operation.name = "roster.bulk.jurisdictions_in"))]
pub async fn jurisdictions_in(db: &Database, scope: &ScopePath) -> Result<HashMap<String, String>> {
    let (lo, hi) = scope.range();
    let rows: Vec<(String, String)> = with_db!(db, pool => {
        sqlx::query_as("SELECT code, path FROM jurisdictions WHERE path >= $1 AND path < $2")
            .bind(lo)
            .bind(hi)
            .fetch_all(pool)
            .await?
    });
    Ok(rows.into_iter().collect())
}

/// Whether jurisdiction `code` is registered at all.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.bulk.jurisdiction_exists", db.operation.name = "roster.bulk.jurisdiction_exists"))]
pub async fn jurisdiction_exists(db: &Database, code: &str) -> Result<bool> {
    let n: i64 = with_db!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM jurisdictions WHERE code = $1").bind(code.to_owned()).fetch_one(pool).await?
    });
    Ok(n > 0)
}

/// Registered schools among `codes`, as code → school.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.bulk.schools_by_code", db.operation.name = "roster.bulk.schools_by_code"))]
pub async fn schools_by_code(db: &Database, codes: &[String]) -> Result<HashMap<String, School>> {
    let mut found = HashMap::new();
    for code in codes {
        if let Some(s) = super::schools::get(db, code).await? {
            found.insert(code.clone(), s);
        }
    }
    Ok(found)
}

/// Stores new schools and updated ones in one transaction.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.bulk.write_schools", db.operation.name = "roster.bulk.write_schools"))]
pub async fn write_schools(
    db: &Database,
    new: &[School],
    updated: &[School],
    audit: &AuditEntry,
) -> Result<(), BulkError> {
    tica_storage::with_write_tx!(db, tx => {
        for school in new {
            super::schools::bind_insert!(sqlx::query(super::schools::INSERT), school).execute(&mut *tx).await?;
        }
        for school in updated {
            super::schools::bind_update!(sqlx::query(super::schools::UPDATE), school).execute(&mut *tx).await?;
        }
        append_audit!(tx, audit);
        tx.commit().await?;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_its_separators() {
        let mut out = Vec::new();
        copy_escape(&mut out, "a\tb\\c\nd\re");
        assert_eq!(out, b"a\\tb\\\\c\\nd\\re");
    }
}
