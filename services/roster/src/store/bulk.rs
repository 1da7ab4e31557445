//! Bulk writes for imports: many rows in one transaction.
//!
//! PostgreSQL receives teachers through `COPY … FROM STDIN (FORMAT binary)`, the fastest way in
//! (the server reads lengths instead of scanning every byte for tabs, newlines and escapes);
//! SQLite through prepared multi-row `INSERT`s of up to 1000 rows, the next batch's arguments
//! built while SQLite stores the last. Both run inside one transaction with the import's audit
//! entry: the file lands whole or not at all.

use std::collections::HashMap;

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
/// The page cache of the connection writing a large SQLite import, in KiB.
const SQLITE_IMPORT_CACHE_KIB: i64 = 256 << 10;
/// Bytes per COPY data message.
const COPY_CHUNK: usize = 1 << 20;

/// Why a bulk write stored nothing.
#[derive(Debug)]
pub enum BulkError {
    /// A unique key clashed with a registered record (a concurrent import, or the optimistic
    /// path finding what the pre-check skipped).
    Duplicate,
    /// The checks running beside the write refused the file ([`Verdict`]): nothing stored.
    Refused,
    /// Anything else.
    Other(RosterError),
}

/// Whether a write may commit. Either given from the start, or awaited from checks that run
/// beside the write: then the write waits for their answer before it commits (SQLite also stops
/// between batches once they refused; a PostgreSQL `COPY` runs to its end: aborting it half-sent
/// made the next import on the pool fail now and then under load, not yet understood). A
/// check that ends without answering refuses.
#[derive(Debug)]
pub struct Verdict {
    pending: Option<tokio::sync::oneshot::Receiver<bool>>,
    decided: Option<bool>,
}

impl Verdict {
    /// The write may commit.
    pub fn given() -> Verdict {
        Verdict {
            pending: None,
            decided: Some(true),
        }
    }

    /// The write commits only if `answer` receives `true`.
    pub fn awaited(answer: tokio::sync::oneshot::Receiver<bool>) -> Verdict {
        Verdict {
            pending: Some(answer),
            decided: None,
        }
    }

    /// Whether the checks refused already (without waiting for them).
    fn refused(&mut self) -> bool {
        use tokio::sync::oneshot::error::TryRecvError;
        if let Some(answer) = &mut self.pending {
            match answer.try_recv() {
                Ok(go) => self.decided = Some(go),
                Err(TryRecvError::Closed) => self.decided = Some(false),
                Err(TryRecvError::Empty) => return false,
            }
            self.pending = None;
        }
        self.decided == Some(false)
    }

    /// Waits for the checks: whether the write may commit.
    async fn granted(&mut self) -> bool {
        if let Some(answer) = self.pending.take() {
            self.decided = Some(answer.await.unwrap_or(false));
        }
        self.decided == Some(true)
    }
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

/// The binary COPY header: signature, flags (no OIDs), no header extension.
const COPY_BINARY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The binary COPY trailer: a tuple of -1 fields.
const COPY_BINARY_TRAILER: &[u8] = &(-1i16).to_be_bytes();

/// One field of a binary COPY tuple: its length, then its bytes (a `TEXT` column's are the
/// UTF-8 text, which the server still checks for encoding).
fn copy_field(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(&(value.len() as i32).to_be_bytes());
    out.extend_from_slice(value);
}

/// A date as the `YYYY-MM-DD` text the `TEXT` date columns hold, without allocating (the same
/// text as [`date_to_iso`] for years 0–9999, which is what it falls back to otherwise).
fn copy_date(out: &mut Vec<u8>, date: time::Date) {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        copy_field(out, date_to_iso(date).as_bytes());
        return;
    }
    let (year, month, day) = (
        year as u32,
        u8::from(date.month()) as u32,
        date.day() as u32,
    );
    let digit = |n: u32| b'0' + n as u8;
    copy_field(
        out,
        &[
            digit(year / 1000),
            digit(year / 100 % 10),
            digit(year / 10 % 10),
            digit(year % 10),
            b'-',
            digit(month / 10),
            digit(month % 10),
            b'-',
            digit(day / 10),
            digit(day % 10),
        ],
    );
}

/// One teacher as a binary COPY tuple, in the column order of the COPY statement.
fn copy_row(out: &mut Vec<u8>, t: &Teacher) {
    out.extend_from_slice(&14i16.to_be_bytes());
    copy_field(out, t.number.as_bytes());
    copy_field(out, t.display_name.as_bytes());
    copy_field(out, t.id_number.as_str().as_bytes());
    copy_date(out, t.id_number.birth_date());
    copy_field(out, t.id_number.sex().key().as_bytes());
    copy_field(out, t.school_code.as_bytes());
    copy_field(out, t.path.as_str().as_bytes());
    copy_field(out, t.stage.key().as_bytes());
    copy_field(out, t.subject.as_bytes());
    copy_field(out, t.category.key().as_bytes());
    // The roles as `roles_to_text` writes them, comma-separated, straight into the buffer.
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    for (i, role) in t.roles.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(role.key().as_bytes());
    }
    let len = (out.len() - at - 4) as i32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    copy_date(out, t.since);
    copy_field(out, &t.create_micros.to_be_bytes());
    copy_field(out, &t.update_micros.to_be_bytes());
}

/// Stores new teachers and changes to registered ones in one transaction, calling
/// `written(n)` as rows go in; commits only if `verdict` grants it.
#[tracing::instrument(name = "db", skip_all, fields(otel.name = "roster.bulk.write_teachers", db.operation.name = "roster.bulk.write_teachers"))]
pub async fn write_teachers(
    db: &Database,
    new: &[Teacher],
    changes: &[TeacherChange],
    audit: &AuditEntry,
    written: &(dyn Fn(i64) + Send + Sync),
    mut verdict: Verdict,
) -> Result<(), BulkError> {
    match db.pool() {
        Pool::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            if !new.is_empty() {
                let mut copy = tx
                    .copy_in_raw(
                        "COPY teachers (number, display_name, id_number, birth_date, sex, school_code, path, stage, \
                         subject, category, roles, since_date, create_micros, update_micros) FROM STDIN (FORMAT binary)",
                    )
                    .await?;
                let mut buffer = Vec::with_capacity(COPY_CHUNK + 4096);
                buffer.extend_from_slice(COPY_BINARY_HEADER);
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
                buffer.extend_from_slice(COPY_BINARY_TRAILER);
                if let Err(e) = copy.send(buffer.as_slice()).await {
                    let _ = copy.abort("client error").await;
                    return Err(e.into());
                }
                copy.finish().await?;
                written(new.len() as i64);
            }
            for change in changes {
                apply_change_pg(&mut tx, change).await?;
            }
            if !verdict.granted().await {
                return Err(BulkError::Refused);
            }
            append_audit!(tx, audit);
            tx.commit().await?;
        }
        Pool::Sqlite(pool) => {
            let mut conn = pool.acquire().await?;
            // A page cache that holds the indexes being built: with the default 2 MB, a large
            // import spills dirty pages to the log and reads them back all along. Memory only;
            // durability and the all-or-nothing commit are untouched. Restored afterwards, as
            // the connection goes back to the pool.
            let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
                .fetch_one(&mut *conn)
                .await?;
            if new.len() > SQLITE_BATCH {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "PRAGMA cache_size = -{}",
                    SQLITE_IMPORT_CACHE_KIB
                )))
                .execute(&mut *conn)
                .await?;
            }
            let result =
                write_teachers_sqlite(&mut conn, new, changes, audit, written, verdict).await;
            sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = {cache}")))
                .execute(&mut *conn)
                .await?;
            result?;
        }
    }
    Ok(())
}

/// The statement for a batch of `rows` teachers.
fn sqlite_insert(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO teachers (number, display_name, id_number, birth_date, sex, school_code, path, stage, \
         subject, category, roles, since_date, create_micros, update_micros) VALUES ",
    );
    // Anonymous `?` parameters: with numbered ones (`?NNN`) SQLite looks each name up in a
    // list as it binds, and 14,000 of them took minutes.
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ",(" });
        sql.push_str("?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    }
    sql
}

/// The arguments of one batch, in the order of [`sqlite_insert`].
fn sqlite_arguments(batch: &[Teacher]) -> sqlx::sqlite::SqliteArguments {
    use sqlx::Arguments as _;
    let mut args = sqlx::sqlite::SqliteArguments::default();
    args.reserve(batch.len() * 14, 0);
    let add = |value: std::result::Result<(), sqlx::error::BoxDynError>| {
        value.expect("text and integers always encode")
    };
    for t in batch {
        add(sqlx::Arguments::add(&mut args, t.number.as_str()));
        add(sqlx::Arguments::add(&mut args, t.display_name.as_str()));
        add(sqlx::Arguments::add(&mut args, t.id_number.as_str()));
        add(sqlx::Arguments::add(
            &mut args,
            date_to_iso(t.id_number.birth_date()),
        ));
        add(sqlx::Arguments::add(&mut args, t.id_number.sex().key()));
        add(sqlx::Arguments::add(&mut args, t.school_code.as_str()));
        add(sqlx::Arguments::add(&mut args, t.path.as_str()));
        add(sqlx::Arguments::add(&mut args, t.stage.key()));
        add(sqlx::Arguments::add(&mut args, t.subject.as_str()));
        add(sqlx::Arguments::add(&mut args, t.category.key()));
        add(sqlx::Arguments::add(&mut args, roles_to_text(&t.roles)));
        add(sqlx::Arguments::add(&mut args, date_to_iso(t.since)));
        add(sqlx::Arguments::add(&mut args, t.create_micros));
        add(sqlx::Arguments::add(&mut args, t.update_micros));
    }
    args
}

async fn write_teachers_sqlite(
    conn: &mut sqlx::SqliteConnection,
    new: &[Teacher],
    changes: &[TeacherChange],
    audit: &AuditEntry,
    written: &(dyn Fn(i64) + Send + Sync),
    mut verdict: Verdict,
) -> Result<(), BulkError> {
    use sqlx::Connection as _;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let full = sqlite_insert(SQLITE_BATCH);
    let mut batches = new.chunks(SQLITE_BATCH);
    let mut next = batches.next().map(|b| (b.len(), sqlite_arguments(b)));
    let mut done = 0usize;
    while let Some((rows, args)) = next.take() {
        let sql = if rows == SQLITE_BATCH {
            full.clone()
        } else {
            sqlite_insert(rows)
        };
        // SQLite stores this batch on its worker thread while this one builds the next.
        let (stored, following) = tokio::join!(
            sqlx::query_with(sqlx::AssertSqlSafe(sql), args).execute(&mut *tx),
            async { batches.next().map(|b| (b.len(), sqlite_arguments(b))) }
        );
        stored?;
        if verdict.refused() {
            return Err(BulkError::Refused);
        }
        done += rows;
        written(done as i64);
        next = following;
    }
    for change in changes {
        apply_change_sqlite(&mut tx, change).await?;
    }
    if !verdict.granted().await {
        return Err(BulkError::Refused);
    }
    append_audit!(tx, audit);
    tx.commit().await?;
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
    fn copy_dates_are_the_text_the_columns_hold() {
        for date in [
            time::macros::date!(1985 - 03 - 07),
            time::macros::date!(2026 - 12 - 31),
            time::macros::date!(0999 - 01 - 01),
            time::macros::date!(-0001 - 01 - 01),
        ] {
            let mut out = Vec::new();
            copy_date(&mut out, date);
            let iso = date_to_iso(date);
            assert_eq!(&out[..4], (iso.len() as i32).to_be_bytes());
            assert_eq!(&out[4..], iso.as_bytes());
        }
    }
}
