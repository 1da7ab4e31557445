//! Imports 1,000,000 generated teachers through the gRPC API and, in the same run, times the
//! database's own bulk loader taking the same data, interleaved, so the ratio is fair on a noisy
//! machine: `psql \copy` on PostgreSQL, the `sqlite3` shell's `.import --csv` on SQLite.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p tica-roster --bench import
//! cargo bench -p tica-roster --bench import        # SQLite (DATABASE_URL unset or sqlite:)
//! ```
//!
//! `TICA_BENCH_TEACHERS` changes the size, `TICA_BENCH_ROUNDS` the rounds (median reported).
//! Under `cargo test` (no `--bench` argument) it runs once with 2,000 teachers as a smoke test.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tica_auth::Role;
use tica_client::Roster as RosterClient;
use tica_client::files::{self as client, Kind};
use tica_proto::tica::common::v1 as common;
use tica_sample::{SampleRoster, SampleSpec};
use tica_server::GrpcServer;
use tica_storage::{Backend, Database, Pool, with_db};
use tica_testkit::TestDatabase;

#[path = "../tests/support/mod.rs"]
mod support;

struct Setup {
    client: RosterClient,
    db: Database,
    /// PostgreSQL: the bench's schema. SQLite: empty.
    schema: String,
    /// PostgreSQL: the URL. SQLite: the database file.
    url: String,
    _location: TestDatabase,
}

async fn setup(sample: &SampleRoster, backend: Backend) -> Setup {
    let location = TestDatabase::new(backend).expect("a database");
    let db = location
        .connect("roster", tica_roster::MIGRATIONS)
        .await
        .expect("database");
    let keys = tica_testkit::Keys::generate();
    let mut server = GrpcServer::new();
    // The benchmark measures speed on a million rows, past the deployment's upload cap.
    let settings = tica_roster::startup::ImportSettings {
        max_file_bytes: 1 << 30,
        ..Default::default()
    };
    tica_roster::startup::register_with(&mut server, db.clone(), &settings);
    let (server, channel) = tica_testkit::grpc::serve(server, keys.verifier()).await;
    std::mem::forget(server); // serves until the process exits
    let token = keys.mint("bench", Role::ProvinceOffice, "340000", None);
    let mut client = tica_client::roster(channel, &token);
    support::register_sample_jurisdictions(&mut client, sample).await;
    let schools = client::import(
        &mut client,
        Kind::Schools,
        "",
        options(),
        sample.schools_csv(),
        |_| {},
    )
    .await
    .unwrap();
    assert!(
        schools.report.committed,
        "{:?}",
        &schools.errors[..schools.errors.len().min(3)]
    );
    let (schema, url) = match backend {
        Backend::Postgres => (
            location.config("roster").schema.unwrap(),
            location.url.clone(),
        ),
        Backend::Sqlite => (
            String::new(),
            location
                .dir
                .as_ref()
                .unwrap()
                .join("roster.db")
                .display()
                .to_string(),
        ),
    };
    Setup {
        client,
        db,
        schema,
        url,
        _location: location,
    }
}

fn options() -> common::ImportOptions {
    common::ImportOptions {
        file_name: "bench.csv".into(),
        ..Default::default()
    }
}

async fn empty_teachers(db: &Database) {
    match db.pool() {
        Pool::Postgres(pool) => {
            sqlx::query("TRUNCATE teachers, teacher_assignments, assessors")
                .execute(pool)
                .await
                .unwrap();
        }
        Pool::Sqlite(pool) => {
            for statement in [
                "DELETE FROM teacher_assignments",
                "DELETE FROM assessors",
                "DELETE FROM teachers",
                // Back to a compact file with an empty log, like the reference's fresh copy.
                "VACUUM",
                "PRAGMA wal_checkpoint(TRUNCATE)",
            ] {
                sqlx::query(statement).execute(pool).await.unwrap();
            }
        }
    }
}

async fn sql(db: &Database, statement: &'static str) {
    with_db!(db, pool => {
        sqlx::query(statement).execute(pool).await.unwrap();
    });
}

/// `psql \copy` of `file` into `table` (in the bench's schema); returns the wall time.
fn psql_copy(
    url: &str,
    schema: &str,
    table: &str,
    columns: &str,
    file: &Path,
    header: bool,
) -> Duration {
    let command = format!(
        "\\copy {schema}.{table} ({columns}) FROM '{}' WITH (FORMAT csv{})",
        file.display(),
        if header { ", HEADER true" } else { "" }
    );
    let started = Instant::now();
    let out = Command::new("psql")
        .arg(url)
        .arg("-v")
        .arg("ON_ERROR_STOP=1")
        .arg("-qc")
        .arg(&command)
        .output()
        .expect("psql is installed");
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

/// Runs `sqlite3 file` on `script`; returns the wall time.
fn sqlite3(file: &Path, script: &str) -> Duration {
    use std::io::Write as _;
    let started = Instant::now();
    let mut child = Command::new("sqlite3")
        .arg("-bail")
        .arg(file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the sqlite3 shell is installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let elapsed = started.elapsed();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

/// The pragmas every roster connection runs with (`tica_storage`): the reference gets the same
/// durability (WAL, synchronous NORMAL) and the same foreign-key checks.
const SQLITE_SESSION: &str = "PRAGMA foreign_keys = ON;\nPRAGMA synchronous = NORMAL;\n";

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let backend = match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres:") || url.starts_with("postgresql:") => {
            Backend::Postgres
        }
        _ => Backend::Sqlite,
    };
    let teachers: usize = if bench {
        std::env::var("TICA_BENCH_TEACHERS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000)
    } else {
        2_000
    };
    let rounds: usize = if bench {
        std::env::var("TICA_BENCH_ROUNDS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(3)
    } else {
        1
    };
    let _telemetry = tica_telemetry::init("import-bench", tica_telemetry::LogFormat::Pretty);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match backend {
        Backend::Postgres => runtime.block_on(run_postgres(teachers, rounds)),
        Backend::Sqlite => runtime.block_on(run_sqlite(teachers, rounds)),
    }
}

fn generate(teachers: usize) -> (SampleRoster, Vec<u8>) {
    let started = Instant::now();
    let sample = SampleRoster::generate(SampleSpec {
        seed: 1,
        cities: 16,
        counties: 100,
        schools: 3000,
        teachers,
        with_numbers: true,
    });
    let csv = sample.teachers_csv();
    eprintln!(
        "generated {teachers} teachers ({:.1} MB CSV) in {:.1?}",
        csv.len() as f64 / 1e6,
        started.elapsed()
    );
    (sample, csv)
}

/// One timed `ImportTeachers` of `csv` that must create `teachers` rows.
async fn import_all(client: &mut RosterClient, csv: &[u8], teachers: usize) -> Duration {
    let t = Instant::now();
    let result = client::import(client, Kind::Teachers, "", options(), csv.to_vec(), |_| {})
        .await
        .unwrap();
    let elapsed = t.elapsed();
    assert!(
        result.report.committed && result.report.rows_created == teachers as i64,
        "{:?}",
        result.report
    );
    elapsed
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn print_summary(
    engine: &str,
    teachers: usize,
    rounds: usize,
    ours: Vec<Duration>,
    office: Vec<Duration>,
    table: Vec<Duration>,
    loader: &str,
) {
    let ratios: Vec<String> = ours
        .iter()
        .zip(&table)
        .map(|(o, t)| format!("{:.2}", o.as_secs_f64() / t.as_secs_f64()))
        .collect();
    let (ours, office, table) = (median(ours), median(office), median(table));
    println!(
        "\nimport of {teachers} teachers into {engine} (median of {rounds} rounds, interleaved; load {})",
        load()
    );
    println!(
        "  TICA ImportTeachers over gRPC (parse, check, write, commit)  {:>8.2} s",
        ours.as_secs_f64()
    );
    println!(
        "  {loader} of the same CSV into a plain text table {:>8.2} s   ratio {:.2}",
        office.as_secs_f64(),
        ours.as_secs_f64() / office.as_secs_f64()
    );
    println!(
        "  {loader} of the same rows into the teachers table {:>8.2} s   ratio {:.2} (per round: {})",
        table.as_secs_f64(),
        ours.as_secs_f64() / table.as_secs_f64(),
        ratios.join(", ")
    );
    println!(
        "  throughput: {:.0} teachers/s",
        teachers as f64 / ours.as_secs_f64()
    );
}

/// SQLite. References, each in a fresh copy of the database as it stood before the first
/// import (schools registered, no teachers), through the `sqlite3` shell with the service's
/// pragmas:
/// 1. `.import --csv` of the office's CSV into a table of its ten columns (text, no index);
/// 2. `.import --csv` of the same rows in the table's own layout (dumped after round 0, in the
///    order TICA stored them) into the `teachers` table: its primary key, unique ID-number index,
///    path index and school foreign key, in one transaction (the shell wraps `.import` in one).
async fn run_sqlite(teachers: usize, rounds: usize) {
    let (sample, csv) = generate(teachers);
    let mut s = setup(&sample, Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let office_csv = dir.path().join("teachers.csv");
    std::fs::write(&office_csv, &csv).unwrap();
    let base = dir.path().join("base.db");
    let copy = dir.path().join("reference.db");
    sql_owned(&s.db, format!("VACUUM INTO '{}'", base.display())).await;
    sqlite3(
        &base,
        "PRAGMA journal_mode = WAL;\nCREATE TABLE bench_office_csv (teacher_number TEXT, name TEXT, id_number TEXT, \
         sex TEXT, birth_date TEXT, school_code TEXT, stage TEXT, subject TEXT, category TEXT, roles TEXT);\n",
    );
    let fresh_copy = || {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", copy.display()));
        }
        std::fs::copy(&base, &copy).unwrap();
    };

    import_all(&mut s.client, &csv, teachers).await;
    let table_csv = dir.path().join("teachers-table.csv");
    let columns = "number, display_name, id_number, birth_date, sex, school_code, path, stage, subject, category, roles, since_date, create_micros, update_micros";
    let out = Command::new("sqlite3")
        .arg("-csv")
        .arg(&s.url)
        .arg(format!("SELECT {columns} FROM teachers ORDER BY rowid"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&table_csv, &out.stdout).unwrap();

    let (mut ours, mut office, mut table) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        empty_teachers(&s.db).await;
        ours.push(import_all(&mut s.client, &csv, teachers).await);

        fresh_copy();
        office.push(sqlite3(
            &copy,
            &format!(
                "{SQLITE_SESSION}.import --csv --skip 1 '{}' bench_office_csv\n",
                office_csv.display()
            ),
        ));

        fresh_copy();
        table.push(sqlite3(
            &copy,
            &format!(
                "{SQLITE_SESSION}.import --csv '{}' teachers\n",
                table_csv.display()
            ),
        ));
        let out = Command::new("sqlite3")
            .arg(&copy)
            .arg("SELECT COUNT(*) FROM teachers")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            teachers.to_string(),
            "the reference loaded every row"
        );
        eprintln!(
            "round {}: TICA import {:.2?}, sqlite3 .import office CSV {:.2?}, sqlite3 .import into teachers {:.2?} (load {})",
            round + 1,
            ours[round],
            office[round],
            table[round],
            load()
        );
    }
    print_summary(
        "SQLite",
        teachers,
        rounds,
        ours,
        office,
        table,
        "sqlite3 .import --csv",
    );
}

async fn sql_owned(db: &Database, statement: String) {
    with_db!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(statement)).execute(pool).await.unwrap();
    });
}

async fn run_postgres(teachers: usize, rounds: usize) {
    let (sample, csv) = generate(teachers);
    let mut s = setup(&sample, Backend::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let office_csv = dir.path().join("teachers.csv");
    std::fs::write(&office_csv, &csv).unwrap();

    // Reference 1: the office's CSV as it is, into a table of its columns (text, no indexes).
    sql(
        &s.db,
        "CREATE TABLE bench_office_csv (teacher_number TEXT, name TEXT, id_number TEXT, sex TEXT, birth_date TEXT, \
         school_code TEXT, stage TEXT, subject TEXT, category TEXT, roles TEXT)",
    )
    .await;
    let office_columns = "teacher_number, name, id_number, sex, birth_date, school_code, stage, subject, category, roles";

    // Reference 2: the same rows in the roster's own layout, into the roster's real teachers table
    // (its primary key, unique ID-number index, path index and school foreign key). Made by
    // running our import once and dumping the table, so the data are byte-identical.
    import_all(&mut s.client, &csv, teachers).await;
    let table_csv = dir.path().join("teachers-table.csv");
    let columns = "number, display_name, id_number, birth_date, sex, school_code, path, stage, subject, category, roles, since_date, create_micros, update_micros";
    let out = Command::new("psql")
        .arg(&s.url)
        .arg("-qc")
        .arg(format!(
            "\\copy {}.teachers ({columns}) TO '{}' WITH (FORMAT csv)",
            s.schema,
            table_csv.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (mut ours, mut office, mut table) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        empty_teachers(&s.db).await;
        ours.push(import_all(&mut s.client, &csv, teachers).await);

        sql(&s.db, "TRUNCATE bench_office_csv").await;
        office.push(psql_copy(
            &s.url,
            &s.schema,
            "bench_office_csv",
            office_columns,
            &office_csv,
            true,
        ));

        empty_teachers(&s.db).await;
        table.push(psql_copy(
            &s.url, &s.schema, "teachers", columns, &table_csv, false,
        ));
        eprintln!(
            "round {}: TICA import {:.2?}, psql \\copy office CSV {:.2?}, psql \\copy into teachers {:.2?} (load {})",
            round + 1,
            ours[round],
            office[round],
            table[round],
            load()
        );
    }
    print_summary(
        "PostgreSQL",
        teachers,
        rounds,
        ours,
        office,
        table,
        "psql \\copy          ",
    );
}
