//! Each service keeps two migration trees, SQLite's and PostgreSQL's, written by hand. They must
//! build the same schema: every table, every column, every index with its columns in order, so a
//! query and a plan tested on one engine meet the same shape on the other (issue 19, point 5).
//! Both databases are migrated from scratch and their catalogues compared. Needs PostgreSQL
//! (`DATABASE_URL`); skipped without it unless `TICA_REQUIRE_POSTGRES=1`.

use std::collections::BTreeMap;

use tica_storage::sqlx;
use tica_storage::{Backend, Database, Migrations, Pool};
use tica_testkit::TestDatabase;

/// A schema: table → (columns, sorted), and index → (table, its columns in order, whether it
/// is partial: `WHERE …`; the predicates' texts differ by engine and are not compared).
#[derive(Debug, PartialEq)]
struct Schema {
    tables: BTreeMap<String, Vec<String>>,
    indexes: BTreeMap<String, (String, Vec<String>, bool)>,
}

#[test]
fn each_services_first_migration_creates_the_audit_table_tica_storage_defines() {
    let services: [(&str, Migrations); 4] = [
        ("roster", tica_roster::MIGRATIONS),
        ("assessment", tica_assessment::startup::MIGRATIONS),
        ("sampling", tica_sampling::startup::MIGRATIONS),
        ("certificate", tica_certificate::startup::MIGRATIONS),
    ];
    for (service, migrations) in services {
        for (engine, migrator, ddl) in [
            ("SQLite", migrations.sqlite, tica_storage::audit::SQLITE_DDL),
            (
                "PostgreSQL",
                migrations.postgres,
                tica_storage::audit::POSTGRES_DDL,
            ),
        ] {
            let first = migrator.iter().next().expect("a first migration");
            assert!(
                first.sql.as_str().contains(ddl.trim()),
                "{service}'s first {engine} migration does not create audit_events exactly as \
                 shared/storage/sql defines it"
            );
        }
    }
}

#[tokio::test]
async fn each_service_builds_the_same_tables_columns_and_indexes_on_sqlite_and_postgresql() {
    let services: [(&str, Migrations); 4] = [
        ("roster", tica_roster::MIGRATIONS),
        ("assessment", tica_assessment::startup::MIGRATIONS),
        ("sampling", tica_sampling::startup::MIGRATIONS),
        ("certificate", tica_certificate::startup::MIGRATIONS),
    ];
    let Some(postgres) = TestDatabase::new(Backend::Postgres) else {
        assert!(
            std::env::var("TICA_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "TICA_REQUIRE_POSTGRES=1 but DATABASE_URL is not set"
        );
        eprintln!("skipped: DATABASE_URL is not set");
        return;
    };
    for (service, migrations) in services {
        let sqlite = TestDatabase::new(Backend::Sqlite).unwrap();
        let lite = sqlite.connect(service, migrations).await.unwrap();
        let pg = postgres.connect(service, migrations).await.unwrap();
        let (a, b) = (schema(&lite).await, schema(&pg).await);
        assert!(!a.tables.is_empty(), "{service}: no tables");
        assert_eq!(
            a, b,
            "{service}: SQLite (left) and PostgreSQL (right) differ"
        );
        lite.close().await;
        pg.close().await;
    }
}

async fn schema(db: &Database) -> Schema {
    match db.pool() {
        Pool::Sqlite(pool) => {
            let names: Vec<(String,)> = sqlx::query_as(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_sqlx%' ESCAPE '\\'",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            let mut tables = BTreeMap::new();
            for (table,) in names {
                let columns: Vec<(String,)> =
                    sqlx::query_as("SELECT name FROM pragma_table_info($1)")
                        .bind(&table)
                        .fetch_all(pool)
                        .await
                        .unwrap();
                let mut columns: Vec<String> = columns.into_iter().map(|c| c.0).collect();
                columns.sort();
                tables.insert(table, columns);
            }
            // Indexes the migrations create (automatic ones for keys have no SQL).
            let named: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            let mut indexes = BTreeMap::new();
            for (index, table, sql) in named {
                let columns: Vec<(String,)> =
                    sqlx::query_as("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                        .bind(&index)
                        .fetch_all(pool)
                        .await
                        .unwrap();
                let partial = sql.to_uppercase().contains(" WHERE ");
                indexes.insert(
                    index,
                    (table, columns.into_iter().map(|c| c.0).collect(), partial),
                );
            }
            Schema { tables, indexes }
        }
        Pool::Postgres(pool) => {
            let columns: Vec<(String, String)> = sqlx::query_as(
                "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c \
                 JOIN information_schema.tables t ON t.table_schema = c.table_schema \
                 AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' \
                 WHERE c.table_schema = current_schema() AND c.table_name NOT LIKE '\\_sqlx%'",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (table, column) in columns {
                tables.entry(table).or_default().push(column);
            }
            for columns in tables.values_mut() {
                columns.sort();
            }
            // Indexes the migrations create: not those behind a primary key or unique constraint.
            let named: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT i.indexname::text, i.tablename::text, i.indexdef FROM pg_indexes i \
                 WHERE i.schemaname = current_schema() AND i.tablename NOT LIKE '\\_sqlx%' \
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
                 JOIN pg_namespace n ON n.oid = c.connamespace \
                 WHERE c.conname = i.indexname AND n.nspname = i.schemaname)",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            let mut indexes = BTreeMap::new();
            for (index, table, definition) in named {
                let partial = definition.contains(" WHERE ");
                indexes.insert(index, (table, index_columns(&definition), partial));
            }
            Schema { tables, indexes }
        }
    }
}

/// The columns of `CREATE INDEX … ON … USING btree (a, b COLLATE "C" DESC) [WHERE …]`, in
/// order: the parenthesis after `USING`, to its matching close.
fn index_columns(definition: &str) -> Vec<String> {
    let after = definition
        .split_once(" USING ")
        .map_or(definition, |(_, rest)| rest);
    let Some(open) = after.find('(') else {
        return Vec::new();
    };
    let mut depth = 0;
    let mut end = after.len();
    for (i, c) in after.char_indices().skip_while(|(i, _)| *i < open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            _ => {}
        }
    }
    after[open + 1..end]
        .split(',')
        .filter_map(|part| part.split_whitespace().next())
        .map(|column| column.trim_matches('"').to_owned())
        .collect()
}
