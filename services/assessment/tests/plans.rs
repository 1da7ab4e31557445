//! A teacher's hours records are read on every push (the recount), so that read must not grow
//! with the whole table. Issue 16's soak found PostgreSQL's generic plan for it (the one a
//! prepared statement settles on after five runs, the LIMIT unknown) walking the primary key
//! through every record and filtering by teacher: hours p99 rose from 1.3 s to 3.5 s in ten
//! minutes. Forced to the generic plan, the statement must read one teacher's range of
//! `hours_records_teacher`. On SQLite, the planner's choice is checked the same way.

use tica_assessment::store;
use tica_storage::{Backend, Pool};
use tica_testkit::TestDatabase;

tica_testkit::backend_tests!(
    a_teachers_hours_are_read_through_their_index_range_whatever_plan_is_cached,
);

const TEACHERS: i64 = 200;
const PER_TEACHER: i64 = 100;

async fn a_teachers_hours_are_read_through_their_index_range_whatever_plan_is_cached(
    backend: Backend,
) {
    let Some(test_db) = TestDatabase::new(backend) else {
        return;
    };
    let db = test_db
        .connect("assessment", tica_assessment::startup::MIGRATIONS)
        .await
        .unwrap();
    let sql = store::hours_records_sql(true, false);
    let plan = match db.pool() {
        Pool::Postgres(pool) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO hours_records SELECT 'provider-' || (i % 7), 'r' || i, \
                 't' || (i % {TEACHERS}), '640000/640100/640121', 'online', 'c', 'course', 100, 0, 0, \
                 0, 1, 0, 0, FALSE FROM generate_series(1, {}) AS i",
                TEACHERS * PER_TEACHER
            )))
            .execute(pool)
            .await
            .unwrap();
            sqlx::query("ANALYZE hours_records")
                .execute(pool)
                .await
                .unwrap();
            let mut conn = pool.acquire().await.unwrap();
            sqlx::query("SET plan_cache_mode = force_generic_plan")
                .execute(&mut *conn)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "PREPARE teacher_hours (text, text, text, text, text, bigint) AS {sql}"
            )))
            .execute(&mut *conn)
            .await
            .unwrap();
            let lines: Vec<(String,)> = sqlx::query_as(
                "EXPLAIN EXECUTE teacher_hours ('t7', '', '', '', '', 9223372036854775807)",
            )
            .fetch_all(&mut *conn)
            .await
            .unwrap();
            lines
                .into_iter()
                .map(|l| l.0)
                .collect::<Vec<_>>()
                .join("\n")
        }
        Pool::Sqlite(pool) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
                 INSERT INTO hours_records SELECT 'provider-' || (i % 7), 'r' || i, \
                 't' || (i % {TEACHERS}), '640000/640100/640121', 'online', 'c', 'course', 100, 0, 0, \
                 0, 1, 0, 0, 0 FROM n",
                TEACHERS * PER_TEACHER
            )))
            .execute(pool)
            .await
            .unwrap();
            sqlx::query("ANALYZE").execute(pool).await.unwrap();
            let rows: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .bind("t7")
                    .bind("")
                    .bind("")
                    .bind("")
                    .bind("")
                    .bind(i64::MAX)
                    .fetch_all(pool)
                    .await
                    .unwrap();
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
        }
    };
    assert!(
        plan.contains("hours_records_teacher"),
        "the teacher's index is used:\n{plan}"
    );
    assert!(
        !plan.contains("Seq Scan")
            && !plan
                .lines()
                .any(|l| l.trim_start().starts_with("SCAN hours_records")),
        "no scan of every record:\n{plan}"
    );
    assert!(
        !plan.contains("Sort") && !plan.contains("TEMP B-TREE"),
        "read in listing order, nothing sorted:\n{plan}"
    );
    if backend == Backend::Postgres {
        assert!(
            plan.contains("Index Cond") && plan.contains("teacher_number"),
            "the teacher bounds the index range:\n{plan}"
        );
    }
    db.close().await;
}
